"""The small classifier whose features the sample-quality metrics use."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

FEATURE_LAYER = "features"
"""Name of the classifier's penultimate (feature) layer."""


def build_sample_classifier(
    image_shape: tuple[int, int, int],
    num_classes: int,
    feature_dim: int = 64,
    name: str = "sample_classifier",
) -> keras.Model:
    """The untrained CNN of `train_sample_classifier`: conv blocks, features, softmax.

    Conv(32)-MaxPool-Conv(64)-MaxPool-Flatten-Dense(``feature_dim``, ReLU,
    named ``"features"``)-Dense(``num_classes``, softmax). Backend-free.

    Example:

    >>> from keras_apps.metrics import build_sample_classifier
    >>> build_sample_classifier((16, 16, 1), 10).get_layer("features").output.shape
    (None, 64)
    """
    if len(tuple(image_shape)) != 3:
        raise ValueError(
            "`image_shape` must be (height, width, channels). "
            f"Received: image_shape={image_shape!r}"
        )
    if (
        isinstance(num_classes, bool)
        or not isinstance(num_classes, int)
        or (num_classes < 2)
    ):
        raise ValueError(
            "`num_classes` must be an integer >= 2. "
            f"Received: num_classes={num_classes!r}"
        )
    inputs = keras.Input(tuple(image_shape), name="images")
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    features = keras.layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    outputs = keras.layers.Dense(
        num_classes, activation="softmax", name="probabilities"
    )(features)
    return keras.Model(inputs, outputs, name=name)


def train_sample_classifier(
    images: Any,
    labels: Any,
    num_classes: int | None = None,
    epochs: int = 15,
    batch_size: int = 64,
    feature_dim: int = 64,
    learning_rate: float = 1e-3,
    seed: int | None = 0,
    verbose: int | str = 0,
) -> keras.Model:
    """Trains the classifier whose penultimate features measure sample quality.

    Inception weights are not available offline, so the Fréchet distance is
    computed on the features of a small classifier trained on the same data,
    as TF-GAN's ``mnist_frechet_distance`` does with an MNIST classifier.
    Train it on images in the range the generator produces. Backend-free.

    Args:
        images: ``(n, height, width, channels)`` real images.
        labels: ``(n,)`` integer labels.
        num_classes: Number of classes; default ``max(labels) + 1``.
        epochs: Training epochs. Defaults to 15.
        batch_size: Batch size. Defaults to 64.
        feature_dim: Size of the feature layer. Defaults to 64.
        learning_rate: Adam's learning rate. Defaults to 1e-3.
        seed: Passed to `keras.utils.set_random_seed` before building (it
            seeds Python, NumPy and the backend globally); None: not seeded.
        verbose: Passed to `fit`.

    Returns:
        The trained, compiled classifier, with its feature layer named
        ``"features"``.

    Example:

    >>> import numpy as np
    >>> from keras_apps.metrics import train_sample_classifier
    >>> x = np.random.default_rng(0).random((8, 8, 8, 1)).astype("float32")
    >>> model = train_sample_classifier(x, np.arange(8) % 2, epochs=1)
    >>> model.output_shape
    (None, 2)
    """
    images = np.asarray(images, "float32")
    labels = np.asarray(labels).astype("int32").reshape(-1)
    if images.ndim != 4 or len(images) != len(labels):
        raise ValueError(
            "Expected images of shape (n, height, width, channels) and n labels. "
            f"Received: images of shape {images.shape}, {len(labels)} labels"
        )
    if num_classes is None:
        num_classes = int(labels.max()) + 1
    if seed is not None:
        keras.utils.set_random_seed(seed)
    model = build_sample_classifier(images.shape[1:], num_classes, feature_dim)
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(images, labels, epochs=epochs, batch_size=batch_size, verbose=verbose)
    return model
