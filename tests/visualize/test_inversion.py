"""invert_features from keras_apps.visualize: the one feature inversion.

It is `keras_apps.models.invert_features` (shared with style transfer); these
tests run it as the interpretation tools do: a small classifier taking 0..1
grey images, the layer inside a nested backbone, named by its path.
"""

import keras
import numpy as np
import pytest

import keras_apps.models
from keras_apps.visualize import feature_maps, invert_features

pytestmark = pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")


def _content(model, layer, a, b):
    fa, fb = feature_maps(model, layer, np.stack([a, b]))
    return ((fa - fb) ** 2).sum() / (fb**2).sum()


def test_one_implementation():
    assert invert_features is keras_apps.models.invert_features


def test_inversion_lowers_the_content_term_and_recovers_the_image(vis):
    model = vis.small_cnn(size=12, channels=1)
    image = np.zeros((12, 12, 1), "float32")
    image[3:9, 5:7] = 1.0  # a bar
    result = invert_features(
        model,
        "backbone/conv1",
        image,
        steps=150,
        learning_rate=12.0,
        tv_weight=0.5,
        pixel_range=(0, 1),
        seed=0,
        verbose=0,
    )
    pixels = result.pixels
    assert pixels.shape == (12, 12, 1) and pixels.dtype == np.float32
    assert result.image.dtype == np.uint8
    np.testing.assert_allclose(result.image / 255.0, pixels, atol=0.5 / 255 + 1e-6)
    # The content term (recomputed independently with feature_maps) falls
    # well below that of the start and of grey.
    grey = np.full_like(image, 0.5)
    assert _content(model, "conv1", pixels, image) < 0.2 * _content(
        model, "conv1", grey, image
    )
    history = result.history["content"]
    assert history[-1] < 0.2 * history[0]
    # From a shallow layer the bar comes back: brighter inside than outside.
    assert pixels[3:9, 5:7].mean() > pixels[:, :3].mean() + 0.2


def test_errors(vis):
    model = vis.small_cnn()
    with pytest.raises(ValueError, match=r"one (RGB )?image of shape \(height, width"):
        invert_features(model, "conv1", np.zeros((2, 12, 12, 3)), steps=1, verbose=0)
    with pytest.raises(ValueError, match=r"Received shape \(12, 12\)"):
        invert_features(model, "conv1", np.zeros((12, 12)), steps=1, verbose=0)
    with pytest.raises(ValueError, match="tv_weight >= 0"):
        invert_features(model, "conv1", np.zeros((12, 12, 3)), tv_weight=-1)
    with pytest.raises(ValueError, match="No layer named 'nope'.*conv1"):
        invert_features(model, "nope", np.zeros((12, 12, 3)))
    assert keras.backend.backend() == "tensorflow"
