"""activation_maximization: the image grows the unit's response."""

import keras
import numpy as np
import pytest

from keras_apps.visualize import activation_maximization, feature_maps


def _edge_model():
    """One unit that responds to vertical dark-to-bright edges."""
    model = keras.Sequential(
        [
            keras.Input((12, 12, 1)),
            keras.layers.Conv2D(1, 3, activation="relu", name="edge"),
        ]
    )
    kernel = np.asarray([[-1, 0, 1]] * 3, "float32")[..., None, None]
    model.layers[0].set_weights([kernel, np.zeros(1, "float32")])
    return model


@pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")
@pytest.mark.parametrize("parameterization", ["pixel", "fourier"])
def test_the_unit_responds_more_to_its_image(parameterization):
    model = _edge_model()
    image = activation_maximization(
        model,
        "edge",
        0,
        steps=40,
        learning_rate=0.1,
        parameterization=parameterization,
        seed=0,
        verbose=0,
    )
    assert image.shape == (12, 12, 1) and 0.0 <= image.min() and image.max() <= 1.0
    grey = np.full((1, 12, 12, 1), 0.5, "float32")
    before = feature_maps(model, "edge", grey).mean()
    after = feature_maps(model, "edge", image[None]).mean()
    assert after > before + 0.5
    # Vertical edges: the image changes along rows far more than down columns.
    pixels = image[..., 0]
    across = np.abs(np.diff(pixels, axis=1)).mean()
    down = np.abs(np.diff(pixels, axis=0)).mean()
    assert across > 1.5 * down


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")
def test_units_of_a_nested_backbone_and_a_value_range(vis):
    model = vis.small_cnn()
    images = activation_maximization(
        model,
        "backbone/conv2",
        [0, 3],
        steps=5,
        objective="neuron",
        value_range=(0, 255),
        total_variation=0.0,
        l2=0.01,
        verbose=0,
    )
    assert images.shape == (2, 12, 12, 3) and images.max() > 1.0
    # A start image, kept as it is by a zero learning rate, in both spaces.
    start = np.random.default_rng(0).uniform(0.1, 0.9, (12, 12, 3)).astype("float32")
    for parameterization in ("pixel", "fourier"):
        kept = activation_maximization(
            model,
            "conv2",
            [1, 2],
            init=np.stack([start, start]),
            steps=1,
            learning_rate=0.0,
            parameterization=parameterization,
            verbose=0,
        )
        np.testing.assert_allclose(kept, np.stack([start, start]), atol=1e-4)


@pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"unit": 5}, r"channel index in \[0, 5\)"),
        ({"steps": 0}, "steps >= 1"),
        ({"jitter": -1}, "jitter >= 0"),
        ({"objective": "mean"}, "objective in"),
        ({"parameterization": "dct"}, "parameterization in"),
        ({"value_range": (1, 0)}, "high > low"),
        ({"image_shape": (10, 10, 3)}, "does not fit"),
        ({"init": np.zeros((12, 12, 1))}, "Expected `init` of shape"),
        ({"layer_name": "conv9"}, "No layer named"),
    ],
)
def test_errors(kwargs, match, vis):
    arguments = {"layer_name": "conv2", "unit": 0, "steps": 1, "verbose": 0, **kwargs}
    with pytest.raises(ValueError, match=match):
        activation_maximization(vis.small_cnn(), **arguments)


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checks the other backends' error"
)
def test_other_backends_are_told_to_use_tensorflow(vis):
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=tensorflow"):
        activation_maximization(vis.small_cnn(), "conv2", 0, steps=1, verbose=0)
