"""The image signatures against the float path, on real photos."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from skimage import data

from keras_apps.export import export_for_serving
from keras_apps.export.signatures import plan_inputs

SIZE = 16


def _photo(channels: int) -> np.ndarray:
    """A 16x16 crop of a real photo (skimage's astronaut), uint8."""
    rgb = data.astronaut()[100:164:4, 180:244:4]
    assert rgb.shape == (SIZE, SIZE, 3)
    if channels == 1:
        return np.asarray(Image.fromarray(rgb).convert("L"))[..., None]
    return rgb


def _encode(pixels: np.ndarray, fmt: str, **kwargs) -> bytes:
    image = Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture(scope="module", params=[3, 1], ids=["rgb", "gray"])
def exported(request, tmp_path_factory, make_image_model):
    keras.backend.clear_session()
    model = make_image_model(channels=request.param, size=SIZE)
    base = str(tmp_path_factory.mktemp("image") / "model")
    result = export_for_serving(model, base, image_bytes_signature=True)
    return request.param, model, tf.saved_model.load(result.path), result


def _float_path(reloaded, pixels):
    batch = tf.constant(np.asarray(pixels, "float32")[None])
    return reloaded.signatures["serving_default"](pixels=batch)["scores"].numpy()


def test_signature_keys(exported):
    channels, _, _, result = exported
    info = result.signatures
    assert info["serving_image_bytes"].inputs["image_bytes"].dtype == "string"
    assert info["serving_image_bytes"].inputs["image_bytes"].shape == (None,)
    assert info["serving_image_uint8"].inputs["images"].shape == (
        None,
        None,
        None,
        channels,
    )
    for name in ("serving_default", "serving_image_bytes", "serving_image_uint8"):
        assert sorted(info[name].outputs) == ["scores"]


def test_png_bytes_equal_the_float_path(exported):
    channels, model, reloaded, _ = exported
    pixels = _photo(channels)
    expected = np.asarray(model(pixels[None].astype("float32"), training=False))
    png = tf.constant([_encode(pixels, "PNG")] * 2)
    got = reloaded.signatures["serving_image_bytes"](image_bytes=png)["scores"]
    np.testing.assert_allclose(got.numpy(), np.repeat(expected, 2, 0), atol=1e-6)
    np.testing.assert_allclose(_float_path(reloaded, pixels), expected, atol=1e-6)
    uint8 = reloaded.signatures["serving_image_uint8"](images=tf.constant(pixels[None]))
    np.testing.assert_allclose(uint8["scores"].numpy(), expected, atol=1e-6)


def test_jpeg_bytes_match_within_the_jpeg_round_trip(exported):
    channels, model, reloaded, _ = exported
    pixels = _photo(channels)
    jpeg = _encode(pixels, "JPEG", quality=90)
    decoded = np.asarray(Image.open(io.BytesIO(jpeg)))
    decoded = decoded.reshape(SIZE, SIZE, channels)
    got = reloaded.signatures["serving_image_bytes"](image_bytes=tf.constant([jpeg]))
    got = got["scores"].numpy()
    # Decoding in the graph gives what PIL decodes (both libjpeg, within a level).
    np.testing.assert_allclose(got, _float_path(reloaded, decoded), atol=0.02)
    # And the JPEG loss keeps the scores near those of the original pixels: the
    # bound is the mean pixel error of the round trip (in 0..1 units), which
    # bounds how far the pooled features can move.
    pixel_error = np.abs(decoded.astype("float64") - pixels).mean() / 255
    assert 0 < pixel_error < 0.05
    np.testing.assert_allclose(
        got, _float_path(reloaded, pixels), atol=max(0.05, 10 * pixel_error)
    )


def test_other_sizes_are_resized_bilinearly(exported):
    channels, model, reloaded, _ = exported
    rgb = data.astronaut()[100:164:2, 180:244:2]  # 32x32
    large = rgb if channels == 3 else np.asarray(Image.fromarray(rgb).convert("L"))
    large = large.reshape(32, 32, channels)
    resized = tf.image.resize(large[None].astype("float32"), (SIZE, SIZE)).numpy()
    expected = np.asarray(model(resized, training=False))
    got = reloaded.signatures["serving_image_bytes"](
        image_bytes=tf.constant([_encode(large, "PNG")])
    )["scores"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    got = reloaded.signatures["serving_image_uint8"](images=tf.constant(large[None]))
    np.testing.assert_allclose(got["scores"].numpy(), expected, atol=1e-5)


def test_bytes_that_are_not_an_image_raise(exported):
    _, _, reloaded, _ = exported
    with pytest.raises(tf.errors.InvalidArgumentError):
        reloaded.signatures["serving_image_bytes"](image_bytes=tf.constant([b"nope"]))


@pytest.mark.parametrize(
    "shape, dtype",
    [((None, 8), "float32"), ((8, 8, 2), "float32"), ((8, 8, 3), "int32")],
)
def test_image_signature_needs_one_float_image_input(shape, dtype, tmp_path):
    inputs = keras.Input(shape, dtype=dtype)
    outputs = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32"))(inputs)
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match=r"one float image input of shape"):
        export_for_serving(model, str(tmp_path / "m"), image_bytes_signature=True)


def test_plan_inputs_rejects_a_never_called_subclassed_model():
    class Never(keras.Model):
        def call(self, x):
            return x

    with pytest.raises(ValueError, match="call it once on a batch"):
        plan_inputs(Never())


def _probabilities_and_scores() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,), name="features")
    hidden = keras.layers.Dense(6, name="hidden")(inputs)
    probabilities = keras.layers.Dense(2, activation="sigmoid", name="probs")(hidden)
    return keras.Model(inputs, [probabilities, hidden])


def test_uint8_outputs_map_only_the_named_outputs(tmp_path):
    model = _probabilities_and_scores()
    result = export_for_serving(
        model, str(tmp_path / "m"), uint8_outputs={"probs": (0, 1)}
    )
    outputs = result.signatures["serving_default"].outputs
    assert (outputs["probs"].dtype, outputs["hidden"].dtype) == ("uint8", "float32")
    features = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    served = tf.saved_model.load(result.path).signatures["serving_default"]
    got = served(features=tf.constant(features))
    probabilities, hidden = (keras.ops.convert_to_numpy(v) for v in model(features))
    steps = np.abs(got["probs"].numpy().astype(int) - np.round(probabilities * 255))
    assert steps.max() <= 1
    np.testing.assert_allclose(got["hidden"].numpy(), hidden, atol=1e-5)


@pytest.mark.parametrize(
    "uint8_outputs, match",
    [
        ({"images": (0, 1)}, r"outputs \['images'\] that the model does not have"),
        ((0, 1, 2), r"\(low, high\) pair"),
        ({"probs": ("0", 1)}, r"\(low, high\) pair"),
        ((1, 1), "low < high"),
        ((0, float("nan")), r"\(low, high\) pair"),
    ],
)
def test_uint8_outputs_need_known_outputs_and_a_range(uint8_outputs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        export_for_serving(
            _probabilities_and_scores(),
            str(tmp_path / "m"),
            uint8_outputs=uint8_outputs,
        )
    assert not (tmp_path / "m").exists()  # refused before anything was written


def test_uint8_outputs_need_float_outputs(tmp_path):
    inputs = keras.Input((3,), name="features")
    model = keras.Model(inputs, keras.ops.argmax(inputs, axis=-1))
    with pytest.raises(ValueError, match="maps float outputs"):
        export_for_serving(model, str(tmp_path / "m"), uint8_outputs=(0, 1))
