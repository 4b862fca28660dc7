"""feature_maps and layer lookup inside nested models."""

import keras
import numpy as np
import pytest

from keras_apps.visualize import feature_maps


def test_layers_inside_a_nested_backbone_by_name_and_path(vis):
    model = vis.small_cnn()
    images = np.random.default_rng(0).random((7, 12, 12, 3)).astype("float32")
    backbone = model.get_layer("backbone")
    direct = keras.Model(backbone.inputs, backbone.get_layer("conv1").output)
    expected = np.asarray(direct.predict_on_batch(images))
    np.testing.assert_allclose(
        feature_maps(model, "conv1", images), expected, rtol=1e-5, atol=1e-6
    )
    maps = feature_maps(
        model, ["backbone/conv1", "backbone", "head"], images, batch_size=3
    )
    np.testing.assert_allclose(maps["backbone/conv1"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        maps["backbone"],
        np.asarray(backbone.predict_on_batch(images)),
        rtol=1e-5,
        atol=1e-6,
    )
    np.testing.assert_allclose(
        maps["head"], np.asarray(model.predict_on_batch(images)), rtol=1e-5, atol=1e-6
    )


def test_sequential_models_nested_twice():
    inner = keras.Sequential(
        [keras.Input((6, 6, 4)), keras.layers.Conv2D(2, 3, name="deep")], name="inner"
    )
    middle = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="first"), inner],
        name="middle",
    )
    model = keras.Sequential([keras.Input((8, 8, 1)), middle, keras.layers.Flatten()])
    images = np.random.default_rng(0).random((3, 8, 8, 1)).astype("float32")
    out = feature_maps(model, "middle/inner/deep", images)
    np.testing.assert_allclose(
        out, np.asarray(middle.predict_on_batch(images)), rtol=1e-5, atol=1e-6
    )


def test_bad_and_ambiguous_names(vis):
    model = vis.small_cnn()
    with pytest.raises(ValueError, match=r"Layers \(nested ones as 'model/layer'\)"):
        feature_maps(model, "nope", np.zeros((1, 12, 12, 3)))
    twin = keras.Sequential(
        [keras.Input((3, 3, 6)), keras.layers.Conv2D(2, 1, name="conv1")], name="twin"
    )
    outer = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            model.get_layer("backbone"),
            keras.layers.Conv2D(6, 3),
            twin,
        ]
    )
    with pytest.raises(ValueError, match="ambiguous.*'backbone/conv1', 'twin/conv1'"):
        feature_maps(outer, "conv1", np.zeros((1, 12, 12, 3)))
    assert feature_maps(outer, "twin/conv1", np.zeros((1, 12, 12, 3))).shape[-1] == 2
    # An exact path wins over names found deeper.
    top = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            model.get_layer("backbone"),
            keras.layers.Conv2D(1, 1, name="conv1"),
        ]
    )
    assert feature_maps(top, "conv1", np.zeros((1, 12, 12, 3))).shape[-1] == 1
    with pytest.raises(ValueError, match="layer name or a non-empty list"):
        feature_maps(model, [], np.zeros((1, 12, 12, 3)))


def test_subclassed_models_are_refused_clearly():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = keras.layers.Conv2D(2, 3)

        def call(self, x):
            return self.conv(x)

    net = Net()
    net(np.zeros((1, 8, 8, 1)))
    with pytest.raises(ValueError, match="subclassed model"):
        feature_maps(net, "conv", np.zeros((1, 8, 8, 1)))
