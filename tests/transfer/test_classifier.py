import doctest

import keras
import numpy as np
import pytest

from keras_apps.testing.test_case import run_export_test, run_model_saving_test
from keras_apps.transfer import build_classifier, classifier, unfreeze


def _backbone():
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, name="conv"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(),
        ],
        name="backbone",
    )


def _data(n=16):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((n, 8, 8, 3)) * 3 + 2).astype("float32")
    y = rng.integers(0, 3, n)
    return x, y


@pytest.mark.parametrize("pooling", ["avg", "max", "flatten", None])
def test_output_shape_and_layers(pooling):
    model = build_classifier(_backbone(), num_classes=3, pooling=pooling)
    assert model.output_shape == (None, 3)
    assert model.get_layer("head").units == 3
    out = model(_data(2)[0])
    np.testing.assert_allclose(np.sum(np.array(out), axis=1), 1.0, rtol=1e-5)


def test_frozen_backbone_keeps_batchnorm_stats_and_weights_during_fit():
    backbone = _backbone()
    model = build_classifier(backbone, num_classes=3, dropout=0.0)
    assert len(model.trainable_weights) == 2  # only the head
    bn = backbone.get_layer("bn")
    before = [w.copy() for w in backbone.get_weights()]
    head_before = model.get_layer("head").get_weights()[0].copy()
    model.compile(
        optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"
    )
    model.fit(*_data(), epochs=2, batch_size=8, verbose=0)
    for a, b in zip(before, backbone.get_weights(), strict=True):
        assert np.array_equal(a, b)
    np.testing.assert_array_equal(np.array(bn.moving_mean), 0.0)
    np.testing.assert_array_equal(np.array(bn.moving_variance), 1.0)
    assert not np.allclose(head_before, model.get_layer("head").get_weights()[0])
    # Unfrozen for fine-tuning with `unfreeze`, BatchNormalization stays
    # frozen and therefore in inference mode.
    assert unfreeze(backbone) == ["conv"]
    model.compile(
        optimizer=keras.optimizers.SGD(0.01), loss="sparse_categorical_crossentropy"
    )
    model.fit(*_data(), epochs=1, batch_size=8, verbose=0)
    np.testing.assert_array_equal(np.array(bn.moving_mean), 0.0)


def test_trained_backbone_updates_batchnorm_stats():
    backbone = _backbone()
    model = build_classifier(backbone, num_classes=3, train_backbone=True)
    assert backbone.trainable
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(*_data(), epochs=1, batch_size=8, verbose=0)
    assert not np.allclose(np.array(backbone.get_layer("bn").moving_mean), 0.0)


def test_head_on_feature_vectors_matches_numpy():
    backbone = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4)], name="b")
    model = build_classifier(backbone, 2, dropout=0.0, activation=None)
    x = np.random.default_rng(1).standard_normal((3, 5)).astype("float32")
    w1, b1 = backbone.layers[-1].get_weights()
    w2, b2 = model.get_layer("head").get_weights()
    np.testing.assert_allclose(model(x), (x @ w1 + b1) @ w2 + b2, rtol=1e-5, atol=1e-6)


def test_errors():
    with pytest.raises(ValueError, match="num_classes.*Received: 0"):
        build_classifier(_backbone(), 0)
    with pytest.raises(ValueError, match="pooling.*'mean'"):
        build_classifier(_backbone(), 2, pooling="mean")
    with pytest.raises(ValueError, match=r"dropout.*1.5"):
        build_classifier(_backbone(), 2, dropout=1.5)
    with pytest.raises(ValueError, match="Keras model or layer"):
        build_classifier("resnet", 2)
    with pytest.raises(ValueError, match="one known input shape"):
        build_classifier(keras.layers.Dense(3), 2)


def test_saving(tmp_path):
    model = build_classifier(_backbone(), 3)
    x = _data(2)[0]
    loaded = run_model_saving_test(model, x, directory=str(tmp_path))
    assert [w.path for w in loaded.trainable_weights] == ["head/kernel", "head/bias"]


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    model = build_classifier(_backbone(), 3)
    run_export_test(model, _data(2)[0], directory=str(tmp_path))


def test_docstring_examples():
    result = doctest.testmod(classifier)
    assert result.attempted > 0 and result.failed == 0


def test_train_backbone_unfreezes_layers_frozen_inside_a_trainable_model():
    backbone = _backbone()
    backbone.get_layer("conv").trainable = False
    assert backbone.trainable
    model = build_classifier(backbone, 3, train_backbone=True)
    paths = sorted(w.path for w in model.trainable_weights)
    assert paths == sorted(
        [
            "backbone/conv/kernel",
            "backbone/conv/bias",
            "backbone/bn/gamma",
            "backbone/bn/beta",
            "head/kernel",
            "head/bias",
        ]
    )
