import doctest

import keras
import numpy as np
import pytest

from keras_apps.transfer import CheckpointReport, checkpoint, load_from_checkpoint


def _model(classes, width=4, seed=0):
    keras.utils.set_random_seed(seed)
    backbone = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(width, 3, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.Conv2D(4, 3, name="conv2"),
        ],
        name="backbone",
    )
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    x = keras.layers.Dense(6, name="neck")(x)
    outputs = keras.layers.Dense(classes, name="head")(x)
    return keras.Model(inputs, outputs)


def _inner(model, name):
    return model.get_layer("backbone").get_layer(name)


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5"])
def test_loads_matching_layers_and_reports_the_rest(tmp_path, suffix):
    source = _model(5, seed=1)
    # Non-trivial BN statistics must travel too.
    _inner(source, "bn1").moving_mean.assign(np.arange(4, dtype="float32"))
    path = str(tmp_path / f"old{suffix}")
    if suffix == ".keras":
        source.save(path)
    else:
        source.save_weights(path)
    target = _model(3, seed=2)
    head_before = [w.copy() for w in target.get_layer("head").get_weights()]
    report = load_from_checkpoint(target, path)
    assert isinstance(report, CheckpointReport)
    assert sorted(report.loaded) == ["bn1", "conv1", "conv2", "neck"]
    assert list(report.skipped) == ["head"]
    assert report.skipped["head"].startswith("shape mismatch")
    assert "(6, 3)" in report.skipped["head"] and "(6, 5)" in report.skipped["head"]
    assert report.unused == ["head"]
    for name in ("conv1", "bn1", "conv2"):
        for a, b in zip(
            _inner(source, name).get_weights(),
            _inner(target, name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(
        source.get_layer("neck").get_weights(),
        target.get_layer("neck").get_weights(),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(head_before, target.get_layer("head").get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert "skipped head: shape mismatch" in str(report)


def test_missing_and_resized_layers(tmp_path):
    source = _model(3, width=8, seed=1)
    path = str(tmp_path / "old.weights.h5")
    source.save_weights(path)
    target = _model(3, width=4, seed=2)
    inputs = keras.Input((3,))
    extra = keras.Model(inputs, keras.layers.Dense(2, name="brand_new")(inputs))
    conv1_before = _inner(target, "conv1").get_weights()[0].copy()
    report = load_from_checkpoint(target, path)
    assert sorted(report.skipped) == ["bn1", "conv1", "conv2"]
    assert all(r.startswith("shape mismatch") for r in report.skipped.values())
    np.testing.assert_array_equal(
        conv1_before, _inner(target, "conv1").get_weights()[0]
    )
    assert sorted(report.loaded) == ["head", "neck"]
    report = load_from_checkpoint(extra, path)
    assert report.loaded == []
    assert report.skipped == {
        "brand_new": "missing: no layer of that name in the checkpoint"
    }


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.keras"):
        load_from_checkpoint(_model(2), str(tmp_path / "nothere.keras"))
    bad = tmp_path / "weights.npz"
    bad.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"'.keras' or '.weights.h5'.*weights.npz"):
        load_from_checkpoint(_model(2), str(bad))
    with pytest.raises(ValueError, match="Expected a built model"):
        load_from_checkpoint(keras.Sequential([keras.layers.Dense(2)]), str(bad))


def test_docstring_examples():
    result = doctest.testmod(checkpoint)
    assert result.attempted > 0 and result.failed == 0
