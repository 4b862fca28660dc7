"""Feature maps of layers at any depth, streamed over batches of images."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_apps.transfer.features import _batches
from keras_apps.visualize import _graph

__all__ = ["feature_maps"]


def check_batch_size(batch_size: Any) -> int:
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(f"Expected an int batch_size >= 1. Received: {batch_size!r}")
    return batch_size


def layer_names(layer_name: Any) -> tuple[list[str], bool]:
    """The names as a list, and whether a single name was given."""
    if isinstance(layer_name, str):
        return [layer_name], True
    if (
        isinstance(layer_name, Sequence)
        and layer_name
        and all(isinstance(n, str) for n in layer_name)
    ):
        return list(layer_name), False
    raise ValueError(
        "Expected `layer_name` to be a layer name or a non-empty list of names. "
        f"Received: {layer_name!r}"
    )


def stream_activations(
    model: keras.Model, extractor: keras.Model, images: Any, batch_size: int
) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """Yields ``(image_batch, [outputs of extractor])`` batch by batch.

    The extractor (a `_graph.tapped_model`) is compiled once by
    ``predict_on_batch``, so memory holds one batch of images and activations
    at a time.
    """
    seen = False
    for batch in _batches(images, batch_size):
        batch = np.asarray(batch)
        _graph.check_images(model, batch)
        if len(batch) == 0:
            continue
        seen = True
        values = extractor.predict_on_batch(batch)
        if not isinstance(values, (list, tuple)):
            values = [values]
        yield batch, [np.asarray(v) for v in values]
    if not seen:
        raise ValueError("Received no images: `images` is empty.")


def feature_maps(
    model: keras.Model,
    layer_name: str | Sequence[str],
    images: Any,
    batch_size: int = 64,
) -> np.ndarray | dict[str, np.ndarray]:
    """The outputs of one or more layers for a set of images.

    Works for layers inside nested models (a backbone inside a classifier):
    the model's graph is rebuilt with the same layers up to each layer.
    Runs on every backend.

    Args:
        model: A functional or Sequential model with one image input.
        layer_name: A layer name (found at any depth, or a path such as
            ``"backbone/conv1"``), or a list of names.
        images: A NumPy array of images, a ``tf.data.Dataset`` or an iterable
            of batches (``(x, y)`` batches are accepted, ``y`` is ignored).
        batch_size: Batch size used to split arrays.

    Returns:
        An array ``(N, ...)`` for one name, a dict name -> array for a list.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import feature_maps
    >>> backbone = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3, name="conv")], name="backbone")
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), backbone,
    ...     keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> feature_maps(model, "conv", np.zeros((5, 8, 8, 1))).shape
    (5, 6, 6, 4)
    """
    model = _graph.check_model(model)
    names, single = layer_names(layer_name)
    batch_size = check_batch_size(batch_size)
    layers = [_graph.find_layer(model, name) for name in names]
    collected: list[list[np.ndarray]] = [[] for _ in names]
    extractor = _graph.tapped_model(model, layers)
    for _, values in stream_activations(model, extractor, images, batch_size):
        for store, value in zip(collected, values, strict=True):
            store.append(value)
    results = {
        name: np.concatenate(store)
        for name, store in zip(names, collected, strict=True)
    }
    return results[names[0]] if single else results
