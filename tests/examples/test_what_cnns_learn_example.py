import importlib.util
import os

import keras
import numpy as np
import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "what_cnns_learn.py"
)


def _load_example():
    spec = importlib.util.spec_from_file_location("what_cnns_learn", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


FIGURES = ("zeiler_fergus", "activation_maximization", "inversions", "grad_cam")


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="activation maximization and Grad-CAM")
def test_quick_run_writes_every_figure(tmp_path):
    example = _load_example()
    report = example.main(["--quick", "--quiet", "--output", str(tmp_path)])
    # One epoch on 600 digits already beats chance (0.1) by far.
    assert report["accuracy"] > 0.3
    assert report["layers"] == ["features/conv1", "features/conv2", "features/conv3"]
    assert report["receptive_fields"] == {"conv1": 3, "conv2": 8, "conv3": 18}
    for name in FIGURES:
        assert os.path.getsize(tmp_path / f"{name}.png") > 5000, name
    for values in report["top_values"].values():
        assert values.shape == (9, 9) and np.all(np.diff(values, axis=1) <= 0)
    assert set(report["content_loss"]) == {"conv1", "conv3"}


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="activation maximization and Grad-CAM")
def test_model_option_runs_on_a_saved_model_with_rgb_inputs(tmp_path):
    example = _load_example()
    layers = keras.layers
    inner = keras.Sequential(
        [keras.Input((16, 16, 3)), layers.Conv2D(4, 3, activation="relu", name="c1")],
        name="body",
    )
    model = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            inner,
            layers.GlobalAveragePooling2D(),
            layers.Dense(3),
        ]
    )
    path = str(tmp_path / "user.keras")
    model.save(path)
    report = example.main(
        [
            "--model",
            path,
            "--quick",
            "--quiet",
            "--output",
            str(tmp_path / "out"),
            "--scale",
            "255",
        ]
    )
    assert report["layers"] == ["body/c1"] and report["accuracy"] is None
    for name in FIGURES:
        assert os.path.exists(tmp_path / "out" / f"{name}.png"), name


def test_helpers_of_the_example():
    example = _load_example()
    images, labels = example.load_digits(size=16, channels=3)
    assert images.shape == (1797, 16, 16, 3) and labels.shape == (1797,)
    assert 0.0 <= images.min() and images.max() <= 1.0
    model = example.build_model()
    assert example.conv_layer_paths(model) == [
        "features/conv1",
        "features/conv2",
        "features/conv3",
    ]
