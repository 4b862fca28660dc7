"""invert_features: the content term falls and shallow layers give the image back."""

import keras
import numpy as np
import pytest

from keras_apps.visualize import invert_features

pytestmark = pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")


def _content(model, layer, a, b):
    from keras_apps.visualize import feature_maps

    fa, fb = feature_maps(model, layer, np.stack([a, b]))
    return ((fa - fb) ** 2).sum() / (fb**2).sum()


def test_inversion_lowers_the_content_term_and_recovers_the_image(vis):
    model = vis.small_cnn(size=12, channels=1)
    image = np.zeros((12, 12, 1), "float32")
    image[3:9, 5:7] = 1.0  # a bar
    rng = np.random.default_rng(0)
    noise = np.clip(0.5 + 0.05 * rng.standard_normal((12, 12, 1)), 0, 1).astype(
        "float32"
    )
    result = invert_features(
        model, "backbone/conv1", image, steps=150, learning_rate=0.05, seed=0, verbose=0
    )
    assert result.shape == (12, 12, 1)
    assert _content(model, "conv1", result, image) < 0.2 * _content(
        model, "conv1", noise, image
    )
    # From a shallow layer the bar comes back: brighter inside than outside.
    assert result[3:9, 5:7].mean() > result[:, :3].mean() + 0.2


def test_errors(vis):
    model = vis.small_cnn()
    with pytest.raises(ValueError, match="one image"):
        invert_features(model, "conv1", np.zeros((2, 12, 12, 3)), steps=1, verbose=0)
    with pytest.raises(ValueError, match="Expected `image` of shape"):
        invert_features(model, "conv1", np.zeros((12, 12)), steps=1, verbose=0)
    with pytest.raises(ValueError, match="tv_weight >= 0"):
        invert_features(model, "conv1", np.zeros((12, 12, 3)), tv_weight=-1)
    with pytest.raises(ValueError, match="No layer named"):
        invert_features(model, "nope", np.zeros((12, 12, 3)))
    assert keras.backend.backend() == "tensorflow"
