"""Small models with known weights shared by the visualize tests (fixture `vis`)."""

import types

import keras
import numpy as np
import pytest

L = keras.layers


def square_detector(size=16, nested=True):
    """Unit 0 fires on a bright 3x3 square (sum of the window minus 5, ReLU);
    unit 1 is its negative. The classifier's class 1 is the detector's
    spatial mean, class 0 its negative; with ``nested`` the conv sits in a
    backbone model inside the classifier."""
    inputs = keras.Input((size, size, 1))
    conv = L.Conv2D(2, 3, padding="same", activation="relu", name="detector")
    x = conv(inputs)
    if nested:
        backbone = keras.Model(inputs, x, name="backbone")
        outer = keras.Input((size, size, 1))
        x = backbone(outer)
        inputs = outer
    x = L.GlobalAveragePooling2D(name="gap")(x)
    head = L.Dense(2, name="head")
    outputs = head(x)
    model = keras.Model(inputs, outputs, name="classifier")
    kernel = np.zeros((3, 3, 1, 2), "float32")
    kernel[..., 0, 0] = 1.0
    kernel[..., 0, 1] = -1.0
    conv.set_weights([kernel, np.asarray([-5.0, 0.0], "float32")])
    head.set_weights(
        [np.asarray([[-1.0, 1.0], [0.0, 0.0]], "float32"), np.zeros(2, "float32")]
    )
    return model


def images_with_squares(count, size=16, seed=0):
    """Dim noise; every third image has a bright 3x3 square, brighter later on."""
    rng = np.random.default_rng(seed)
    images = (0.1 * rng.random((count, size, size, 1))).astype("float32")
    corners = {}
    for index in range(0, count, 3):
        top, left = rng.integers(0, size - 3, size=2)
        images[index, top : top + 3, left : left + 3] = 1.0 + index / (10 * count)
        corners[index] = (int(top), int(left))
    return images, corners


def small_cnn(size=12, channels=3):
    inputs = keras.Input((size, size, channels))
    x = L.Conv2D(6, 3, activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(5, 3, padding="same", activation="relu", name="conv2")(x)
    backbone = keras.Model(inputs, x, name="backbone")
    outer = keras.Input((size, size, channels))
    y = backbone(outer)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(3, name="head")(y)
    return keras.Model(outer, y, name="classifier")


@pytest.fixture
def vis():
    """The helpers above: vis.square_detector(), vis.images_with_squares(), ..."""
    return types.SimpleNamespace(
        square_detector=square_detector,
        images_with_squares=images_with_squares,
        small_cnn=small_cnn,
    )
