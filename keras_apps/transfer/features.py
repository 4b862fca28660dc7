"""Feature extraction: the outputs of one or more layers as NumPy arrays."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import keras
import numpy as np


def _find_tensor(model: keras.Model, name: str) -> Any:
    try:
        return model.get_layer(name).output
    except ValueError:
        pass
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            try:
                inner = layer.get_layer(name)
            except ValueError:
                continue
            raise ValueError(
                f"Layer {name!r} sits inside the nested model {layer.name!r}; "
                f"extract from that model instead: "
                f"extract_features(model.get_layer({layer.name!r}), ...). "
                f"(found {inner.name!r})"
            )
    names = [layer.name for layer in model.layers]
    raise ValueError(f"No layer named {name!r} in {model.name!r}. Layers: {names}")


def _batches(data: Any, batch_size: int) -> Iterable[Any]:
    """Yields input batches from arrays, tf.data datasets or generators."""
    if isinstance(data, np.ndarray) or (
        hasattr(data, "shape") and hasattr(data, "dtype") and not callable(data)
    ):
        array = np.asarray(data)
        for start in range(0, len(array), batch_size):
            yield array[start : start + batch_size]
        return
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], np.ndarray):
        raise ValueError(
            "Expected one input array, a tf.data.Dataset or a generator. "
            f"Received a {type(data).__name__} of {len(data)} arrays; "
            "stack them or pass a dataset."
        )
    if hasattr(data, "as_numpy_iterator"):
        iterator: Iterable[Any] = data.as_numpy_iterator()
    elif isinstance(data, Iterable):
        iterator = data
    else:
        raise ValueError(
            "Expected `data` to be a NumPy array, a tf.data.Dataset or an "
            f"iterable of batches. Received: {type(data).__name__}"
        )
    for batch in iterator:
        # Datasets and generators used for training yield (x, y) or
        # (x, y, sample_weight); the features only need x.
        if isinstance(batch, tuple):
            batch = batch[0]
        yield batch


def extract_features(
    model: keras.Model,
    data: Any,
    layers: str | Sequence[str] | None = None,
    batch_size: int = 64,
    pooling: str | None = None,
) -> np.ndarray | dict[str, np.ndarray]:
    """Runs ``data`` through ``model`` and returns the outputs of some layers.

    Batches stream through a single intermediate model built once, so memory
    holds one batch of activations at a time plus the results.

    Args:
        model: A functional or Sequential Keras model.
        data: A NumPy array (split into ``batch_size`` batches), a
            ``tf.data.Dataset`` or any iterable of batches (a generator);
            ``(x, y)`` batches are accepted and ``y`` is ignored.
        layers: A layer name or a list of names; None uses the model output.
        batch_size: Batch size used to split arrays.
        pooling: None, ``"avg"`` or ``"max"``: pool rank-4 feature maps over
            height and width before they are collected.

    Returns:
        A NumPy array when ``layers`` is None or a single name, otherwise a
        dict mapping each name to its array.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.transfer import extract_features
    >>> model = keras.Sequential([keras.Input((3,)),
    ...     keras.layers.Dense(2, name="hidden"), keras.layers.Dense(1)])
    >>> extract_features(model, np.zeros((5, 3)), layers="hidden").shape
    (5, 2)
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValueError(f"Expected an int batch_size >= 1. Received: {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"Expected an int batch_size >= 1. Received: {batch_size}")
    if pooling not in (None, "avg", "max"):
        raise ValueError(
            f"Expected `pooling` to be None, 'avg' or 'max'. Received: {pooling!r}"
        )
    if not isinstance(model, keras.Model):
        raise ValueError(f"Expected a Keras model. Received: {type(model).__name__}")
    single = layers is None or isinstance(layers, str)
    names: list[str]
    if layers is None:
        names = ["output"]
        outputs = [model.output]
    else:
        names = [layers] if isinstance(layers, str) else list(layers)
        if not names:
            raise ValueError("Expected at least one layer name. Received: []")
        outputs = [_find_tensor(model, name) for name in names]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, outputs)
    collected: list[list[np.ndarray]] = [[] for _ in names]
    for batch in _batches(data, batch_size):
        values = extractor(batch, training=False)
        if not isinstance(values, (list, tuple)):
            values = [values]
        for store, value in zip(collected, values, strict=True):
            array = keras.ops.convert_to_numpy(value)
            if pooling is not None and array.ndim == 4:
                array = (
                    array.mean(axis=(1, 2))
                    if pooling == "avg"
                    else array.max(axis=(1, 2))
                )
            store.append(array)
    if not collected[0]:
        raise ValueError("Received empty `data`: no batch to extract features from.")
    results = {
        name: np.concatenate(store, axis=0)
        for name, store in zip(names, collected, strict=True)
    }
    if single:
        return results[names[0]]
    return results
