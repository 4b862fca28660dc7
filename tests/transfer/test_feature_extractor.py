"""feature_extractor: named layers of a backbone or model as a dict of outputs."""

from __future__ import annotations

import importlib

import keras
import numpy as np
import pytest

from keras_apps.transfer import feature_extractor, preset_layers
from keras_apps.transfer.feature_extractor import PRESET_LAYERS


def test_vgg19_preset_has_the_papers_layers_and_preprocessing_inside():
    extractor = feature_extractor("vgg19", weights=None)
    content, style = preset_layers("vgg19")
    assert list(extractor.output) == list(content) + list(style)
    assert "vgg19_preprocessing" in [layer.name for layer in extractor.layers]
    # Only what the layers need is kept: block 5 stops at block5_conv1.
    names = [layer.name for layer in extractor.layers]
    assert "block5_conv1" in names and "block5_conv2" not in names
    images = np.random.default_rng(0).uniform(0, 255, (1, 40, 48, 3))
    outputs = extractor(images.astype("float32"))
    assert tuple(outputs["block1_conv1"].shape) == (1, 40, 48, 64)
    assert tuple(outputs["block4_conv2"].shape) == (1, 5, 6, 512)


def test_vgg16_preset_is_johnsons():
    assert PRESET_LAYERS["vgg16"]["content"] == ("block2_conv2",)
    extractor = feature_extractor("vgg16", weights=None, input_shape=(32, 32, 3))
    assert set(extractor.output) == {
        "block1_conv2",
        "block2_conv2",
        "block3_conv3",
        "block4_conv3",
    }


def _classifier() -> keras.Model:
    inputs = keras.Input((16, 16, 3))
    backbone_in = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, name="inner_conv")(backbone_in)
    backbone = keras.Model(backbone_in, x, name="backbone")
    y = keras.layers.Rescaling(1 / 255.0, name="scale")(inputs)
    y = backbone(y)
    y = keras.layers.GlobalAveragePooling2D(name="pool")(y)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(y))


def test_layers_inside_a_nested_backbone():
    model = _classifier()
    extractor = feature_extractor(model, ["inner_conv", "scale"])
    images = np.random.default_rng(0).uniform(0, 255, (2, 16, 16, 3)).astype("float32")
    outputs = extractor(images)
    backbone = model.get_layer("backbone")
    expected = backbone(images / 255.0)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs["inner_conv"]),
        keras.ops.convert_to_numpy(expected),
        rtol=1e-5,
        atol=1e-6,
    )


def test_unknown_layer_lists_the_layers():
    with pytest.raises(ValueError, match=r"No layer named 'nope'.*'head'.*inner_conv"):
        feature_extractor(_classifier(), ["nope"])
    with pytest.raises(ValueError, match="Pass `layers`"):
        feature_extractor(_classifier())
    with pytest.raises(ValueError, match="presets"):
        preset_layers("resnet50")
    with pytest.raises(ValueError, match="Pass `layers`"):
        feature_extractor("resnet50", weights=None)


def test_missing_weights_raise_weights_unavailable(monkeypatch):
    # load_backbone's own tests run the real download with the network
    # closed; here it is enough that the error comes through unchanged.
    from keras_apps.transfer.backbones import WeightsUnavailableError

    calls = []

    def offline(name, input_shape, weights):
        calls.append((name, input_shape, weights))
        raise WeightsUnavailableError("Could not download the ImageNet weights")

    monkeypatch.setattr(
        importlib.import_module("keras_apps.transfer.feature_extractor"),
        "load_backbone",
        offline,
    )
    with pytest.raises(WeightsUnavailableError, match="Could not download"):
        feature_extractor("vgg19")
    assert calls == [("vgg19", (None, None, 3), "imagenet")]
