"""Tiny models shared by the export tests."""

import os

import keras
import numpy as np
import pytest


def dense_model(seed: int = 0) -> keras.Model:
    """An unnamed input, two Dense layers: the plain functional case."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(hidden))


def image_model(channels: int = 3, size: int = 8) -> keras.Model:
    """A model with its preprocessing inside: pixels 0..255 in, scores out."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((size, size, channels), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(2, name="scores")(x))


@pytest.fixture(scope="session")
def make_dense_model():
    """`dense_model` as a fixture (test modules are imported by path)."""
    return dense_model


@pytest.fixture(scope="session")
def make_image_model():
    """`image_model` as a fixture."""
    return image_model


@pytest.fixture
def base_path(tmp_path):
    return os.path.join(str(tmp_path), "model")


@pytest.fixture
def batch():
    return np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
