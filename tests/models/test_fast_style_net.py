"""FastStyleNet: shapes, model.fit with StyleContentLoss, .keras, export."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_apps.losses import StyleContentLoss
from keras_apps.models import FastStyleNet
from keras_apps.testing.test_case import run_model_saving_test, run_serialization_test

SMALL = {"filters": (4, 8, 8), "residual_blocks": 1, "outer_kernel_size": 3}


def _images(n: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, height, width, 3)).astype("float32")


@pytest.mark.parametrize("upsampling", ["nearest", "transpose"])
@pytest.mark.parametrize("size", [(16, 16), (18, 23)])
def test_keeps_the_input_size_and_the_pixel_range(upsampling, size):
    net = FastStyleNet(upsampling=upsampling, **SMALL)
    out = keras.ops.convert_to_numpy(net(_images(2, *size)))
    assert out.shape == (2, *size, 3)
    assert out.min() >= 0.0 and out.max() <= 255.0


def test_default_network_is_johnsons():
    net = FastStyleNet()
    names = [layer.name for layer in net.layers]
    assert sum(n.startswith("res") and n.endswith("_add") for n in names) == 5
    assert net.get_layer("conv1").kernel_size == (9, 9)
    assert net.get_layer("down2").filters == 128
    norm = net.get_layer("conv1_in")
    # One group per channel: instance normalization.
    assert isinstance(norm, keras.layers.GroupNormalization) and norm.groups == 32


@pytest.mark.slow
def test_fit_one_step_with_style_content_loss():
    inputs = keras.Input((None, None, 3))
    a = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="a")(
        inputs / 255.0
    )
    extractor = keras.Model(inputs, {"a": a})
    loss = StyleContentLoss(
        extractor, _images(1, 16, 16, seed=5)[0], ["a"], ["a"], normalization="johnson"
    )
    net = FastStyleNet(**SMALL)
    # One step: on JAX one compiled step costs less than compiling every op
    # eagerly; TensorFlow traces without XLA.
    jit = keras.backend.backend() == "jax"
    net.compile(keras.optimizers.Adam(1e-2), loss=loss, jit_compile=jit)
    images = _images(2, 16, 16)
    before = [np.array(w) for w in net.trainable_weights]
    history = net.fit(images, images, batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    changed = [
        not np.array_equal(b, np.array(w))
        for b, w in zip(before, net.trainable_weights, strict=True)
    ]
    assert all(changed)


def test_serialization_and_keras_round_trip(tmp_path):
    net = FastStyleNet(**SMALL)
    revived = run_serialization_test(net)
    assert revived.count_params() == net.count_params()
    run_model_saving_test(net, _images(1, 12, 20), atol=1e-4, directory=str(tmp_path))


def test_dtype_policy_reaches_the_layers():
    net = FastStyleNet(dtype="bfloat16", **SMALL)
    assert net.get_layer("conv1").dtype_policy.name == "bfloat16"
    assert (
        FastStyleNet.from_config(net.get_config())
        .get_layer("res1_conv1")
        .dtype_policy.name
        == "bfloat16"
    )


@pytest.mark.parametrize("size", [(16, 16), (18, 23)])
def test_residual_output_starts_as_the_identity(size):
    net = FastStyleNet(residual_output=True, **SMALL)
    images = _images(2, *size)
    images[0, 0, 0] = (0.0, 255.0, 128.0)
    out = keras.ops.convert_to_numpy(net(images))
    assert out.shape == images.shape
    # atanh(x / 127.5 - 1) is clipped 1% short of +-1: 0 and 255 come back
    # as 1.275 and 253.7, every other level exactly.
    np.testing.assert_allclose(out, np.clip(images, 1.275, 253.725), atol=1e-2)


def test_residual_output_adds_the_change_in_tanh_logit_space(tmp_path):
    net = FastStyleNet(residual_output=True, **SMALL)
    kernel, bias = net.get_layer("to_rgb").weights
    bias.assign(np.array([0.5, -0.5, 0.0], "float32"))
    images = _images(1, 12, 12, seed=3)
    scaled = np.clip(images / 127.5 - 1.0, -0.99, 0.99)
    expected = 127.5 * (1.0 + np.tanh(np.arctanh(scaled) + [0.5, -0.5, 0.0]))
    out = keras.ops.convert_to_numpy(net(images))
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-3)
    assert out.min() >= 0.0 and out.max() <= 255.0
    revived = run_serialization_test(net)
    assert revived.residual_output is True
    assert revived.get_config()["residual_output"] is True
    run_model_saving_test(net, images, atol=1e-3, directory=str(tmp_path))


@pytest.mark.parametrize("upsampling", ["nearest", "transpose"])
def test_upsampling_without_instance_normalization(upsampling, tmp_path):
    net = FastStyleNet(
        residual_output=True,
        upsampling_normalization=False,
        upsampling=upsampling,
        **SMALL,
    )
    names = [layer.name for layer in net.layers]
    assert "conv1_in" in names and "res1_conv2_in" in names
    assert "up1_in" not in names and "up2_in" not in names
    assert "up1_relu" in names and "up2_relu" in names
    # Two GroupNormalizations (gamma, beta of 8 and 4 channels) fewer.
    with_norm = FastStyleNet(residual_output=True, upsampling=upsampling, **SMALL)
    assert with_norm.count_params() - net.count_params() == 2 * (8 + 4)
    images = _images(2, 18, 23)
    # Still the identity before training.
    out = keras.ops.convert_to_numpy(net(images))
    np.testing.assert_allclose(out, np.clip(images, 1.275, 253.725), atol=1e-2)
    revived = run_serialization_test(net)
    assert revived.get_config()["upsampling_normalization"] is False
    assert "up1_in" not in [layer.name for layer in revived.layers]
    kernel, bias = net.get_layer("to_rgb").weights
    bias.assign(np.array([0.3, -0.2, 0.1], "float32"))
    run_model_saving_test(net, images, atol=1e-3, directory=str(tmp_path))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"filters": (4, 8)}, "filters"),
        ({"residual_blocks": 0}, "residual_blocks"),
        ({"upsampling": "bilinear"}, "upsampling"),
        ({"residual_output": "yes"}, "residual_output"),
        ({"upsampling_normalization": 1}, "upsampling_normalization"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FastStyleNet(**kwargs)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export_uint8_and_bytes_signatures_with_strength(tmp_path):
    import tensorflow as tf

    from keras_apps.export import export_for_serving
    from keras_apps.export.image_to_image import (
        IMAGE_BYTES_TO_IMAGE_SIGNATURE,
        IMAGE_TO_IMAGE_SIGNATURE,
        IMAGE_TO_IMAGE_STRENGTH_SIGNATURE,
    )

    net = FastStyleNet(**SMALL)
    result = export_for_serving(net, tmp_path / "style", image_to_image=True)
    assert set(result.validation) >= {
        IMAGE_TO_IMAGE_SIGNATURE,
        IMAGE_TO_IMAGE_STRENGTH_SIGNATURE,
        IMAGE_BYTES_TO_IMAGE_SIGNATURE,
    }
    info = result.signatures[IMAGE_TO_IMAGE_STRENGTH_SIGNATURE]
    assert info.inputs["images"].dtype == "uint8"
    assert info.inputs["strength"].dtype == "float32"
    assert info.outputs["images"].dtype == "uint8"
    reloaded = tf.saved_model.load(result.path)
    pixels = np.random.default_rng(0).integers(0, 256, (1, 20, 28, 3), dtype=np.uint8)
    styled = reloaded.signatures[IMAGE_TO_IMAGE_SIGNATURE](images=pixels)["images"]
    expected = np.round(np.clip(keras.ops.convert_to_numpy(net(pixels)), 0, 255))
    assert styled.dtype == tf.uint8 and styled.shape == (1, 20, 28, 3)
    assert np.max(np.abs(styled.numpy().astype(int) - expected.astype(int))) <= 1
    blend = reloaded.signatures[IMAGE_TO_IMAGE_STRENGTH_SIGNATURE]
    untouched = blend(images=pixels, strength=tf.constant(0.0))["images"].numpy()
    np.testing.assert_array_equal(untouched, pixels)
    full = blend(images=pixels, strength=tf.constant(1.0))["images"].numpy()
    np.testing.assert_array_equal(full, styled.numpy())
    encoded = tf.constant([tf.io.encode_png(pixels[0]).numpy()])
    decoded = reloaded.signatures[IMAGE_BYTES_TO_IMAGE_SIGNATURE](image_bytes=encoded)
    np.testing.assert_array_equal(decoded["images"].numpy(), styled.numpy())
