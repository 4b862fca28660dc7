"""StyleTransfer, synthesize_texture and invert_features.

The optimisation loop is TensorFlow-first (tf.GradientTape + tf.function), so
these tests carry requires_tensorflow. Images are at most 64x64; extractors
are VGG-19 truncated after block 2 with random filters, or a tiny conv stack.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_apps.models import (
    StyleTransfer,
    StyleTransferResult,
    invert_features,
    synthesize_texture,
)
from keras_apps.transfer import feature_extractor

pytestmark = pytest.mark.requires_tensorflow(
    reason="the optimisation loop uses tf.GradientTape and tf.function"
)

CONTENT = ["block2_conv2"]
STYLE = ["block1_conv1", "block2_conv1"]


def _picture(size: int, seed: int, smooth: bool = True) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = rng.uniform(0, 255, (size, size, 3)).astype("float32")
    if smooth:  # a picture with structure, not white noise
        y, x = np.mgrid[:size, :size] / size
        image = (
            0.5 * image
            + 127
            * np.stack([np.sin(6 * x), np.cos(5 * y), np.sin(4 * (x + y))], axis=-1)
            + 64
        )
    return np.clip(image, 0, 255).astype("float32")


@pytest.fixture(scope="module")
def vgg_block2():
    keras.utils.set_random_seed(0)
    return feature_extractor("vgg19", CONTENT + STYLE, weights=None)


def _tiny() -> keras.Model:
    inputs = keras.Input((None, None, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="a")(x)
    b = keras.layers.Conv2D(
        8, 3, strides=2, padding="same", activation="relu", name="b"
    )(a)
    return keras.Model(inputs, {"a": a, "b": b})


@pytest.mark.slow
def test_twenty_adam_steps_at_64_lower_the_total_loss(vgg_block2):
    st = StyleTransfer(vgg_block2, CONTENT, STYLE, style_weight=1e3, learning_rate=4.0)
    result = st.transfer(
        _picture(64, 0), _picture(48, 1, smooth=False), steps=20, verbose=0
    )
    assert isinstance(result, StyleTransferResult)
    assert result.image.shape == (64, 64, 3) and result.image.dtype == np.uint8
    total = result.history["total"]
    assert len(total) == 20 and total[-1] < 0.7 * total[0]


def test_lbfgs_lowers_the_loss_and_keeps_pixels_in_range():
    st = StyleTransfer(
        _tiny(), ["b"], ["a", "b"], optimizer="lbfgs", init="noise", seed=0
    )
    result = st.transfer(_picture(32, 0), _picture(32, 1), steps=10, verbose=0)
    total = result.history["total"]
    assert 1 <= len(total) <= 10 and total[-1] < 0.5 * total[0]
    assert result.image.dtype == np.uint8


def test_texture_synthesis_lowers_the_style_term(vgg_block2):
    result = synthesize_texture(
        vgg_block2,
        _picture(32, 1),
        size=32,
        steps=15,
        style_layers=STYLE,
        learning_rate=5.0,
        seed=0,
        verbose=0,
    )
    style = result.history["style"]
    assert style[-1] < 0.7 * style[0]
    assert result.history["content"] == [0.0] * 15
    assert result.image.shape == (32, 32, 3)


def test_inversion_lowers_the_content_term(vgg_block2):
    result = invert_features(
        vgg_block2,
        "block2_conv2",
        _picture(32, 0),
        steps=15,
        learning_rate=4.0,
        tv_weight=1.0,
        seed=0,
        verbose=0,
    )
    content = result.history["content"]
    assert content[-1] < 0.7 * content[0]
    assert result.history["style"] == [0.0] * 15


def test_inversion_works_on_any_model_and_pixel_range():
    # A classifier taking 0..1 images, the layer inside it: what the
    # interpretation tools call.
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    image = np.random.default_rng(0).uniform(0, 1, (16, 16, 3)).astype("float32")
    result = invert_features(
        model, "conv", image, steps=8, pixel_range=(0, 1), verbose=0, seed=1
    )
    assert result.history["content"][-1] < result.history["content"][0]
    assert result.image.dtype == np.uint8


@pytest.mark.slow
def test_two_styles_masks_colours_pyramid_and_snapshots():
    st = StyleTransfer(_tiny(), ["b"], ["a", "b"], learning_rate=5.0)
    left = np.zeros((32, 32), "float32")
    left[:, :16] = 1
    seen = []
    result = st.transfer(
        _picture(32, 0),
        [_picture(24, 1), _picture(16, 2, smooth=False)],
        steps=4,
        style_weights=[0.7, 0.3],
        style_masks=[left, 1 - left],
        preserve_colors=True,
        pyramid_levels=2,
        snapshot_every=3,
        callback=lambda step, image, parts: seen.append((step, image.dtype, parts)),
        verbose=0,
    )
    assert result.levels == [(16, 16), (32, 32)]
    assert len(result.history["total"]) == 8
    assert [s for s, _, _ in seen] == [3, 6] and seen[0][1] == np.uint8
    assert "style" in seen[0][2]
    assert [step for step, _ in result.snapshots] == [3, 6]
    assert result.image.shape == (32, 32, 3)


def test_preserve_colors_keeps_the_content_colours():
    # With colour preservation the chroma of the result is the content's,
    # whatever the colours of the style.
    from keras_apps.models.style_transfer import _RGB_TO_YIQ

    content = _picture(24, 0)
    red = np.zeros((24, 24, 3), "float32")
    red[..., 0] = 250
    st = StyleTransfer(_tiny(), ["b"], ["a"], learning_rate=5.0)
    result = st.transfer(content, red, steps=3, preserve_colors=True, verbose=0)
    chroma = (result.image.astype("float32") @ _RGB_TO_YIQ.T)[..., 1:]
    expected = (content @ _RGB_TO_YIQ.T)[..., 1:]
    # Clipping to 0..255 and rounding move the chroma a little, no more.
    assert np.mean(np.abs(chroma - expected)) < 6.0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimizer": "sgd"}, "optimizer"),
        ({"init": "zeros"}, "init"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"pixel_range": (1, 0)}, "pixel_range"),
    ],
)
def test_bad_settings_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StyleTransfer(_tiny(), ["b"], ["a"], **kwargs)


def test_bad_images_raise():
    st = StyleTransfer(_tiny(), ["b"], ["a"])
    with pytest.raises(ValueError, match="RGB"):
        st.transfer(np.zeros((16, 16)), _picture(16, 1), steps=1, verbose=0)
    with pytest.raises(ValueError, match="numeric"):
        st.transfer(np.full((16, 16, 3), "x"), _picture(16, 1), steps=1, verbose=0)
    with pytest.raises(ValueError, match="steps"):
        st.transfer(_picture(16, 0), _picture(16, 1), steps=0, verbose=0)
    with pytest.raises(ValueError, match="Pass `content_layers`"):
        StyleTransfer(_tiny())
    with pytest.raises(ValueError, match="No layer named 'zzz'"):
        st = StyleTransfer(_tiny(), ["zzz"], ["a"])
        st.transfer(_picture(16, 0), _picture(16, 1), steps=1, verbose=0)
