"""Small utilities that work on any Keras model or layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras
import numpy as np

from keras_apps import _compat
from keras_apps.types import Shape

__all__ = ["count_multiplies"]


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in value
    )


def _prod(values: Sequence[Any]) -> int:
    result = 1
    for value in values:
        result *= int(value)
    return result


def _spatial(shape: Sequence[Any], data_format: str) -> Sequence[Any]:
    return shape[2:] if data_format == "channels_first" else shape[1:-1]


def _layer_multiplies(
    layer: keras.layers.Layer, input_shape: Shape, output_shape: Shape
) -> int:
    """Multiply-accumulates of one call of a supported layer, for a batch of 1."""
    layers = keras.layers
    if isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose)) or (
        isinstance(layer, layers.Conv3DTranspose)
    ):
        # Every input position is multiplied by the whole kernel.
        in_spatial = _prod(_spatial(input_shape, layer.data_format))
        return in_spatial * _prod(layer.kernel.shape)
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        spatial = _prod(_spatial(output_shape, layer.data_format))
        return spatial * (
            _prod(layer.depthwise_kernel.shape) + _prod(layer.pointwise_kernel.shape)
        )
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        # kernel: (*kernel_size, input_channels, depth_multiplier)
        spatial = _prod(_spatial(output_shape, layer.data_format))
        return spatial * _prod(layer.kernel.shape)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        # kernel: (*kernel_size, input_channels / groups, filters); each output
        # value sums kernel_size * input_channels / groups products.
        spatial = _prod(_spatial(output_shape, layer.data_format))
        return spatial * _prod(layer.kernel.shape)
    if isinstance(layer, layers.Dense):
        # Dense applies to the last axis; leading axes repeat it.
        return _prod(input_shape[1:-1]) * _prod(layer.kernel.shape)
    raise TypeError(f"Unsupported layer {layer!r}")


_COUNTED_TYPES = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "Dense",
)


def _counted_classes() -> tuple[type[keras.layers.Layer], ...]:
    return tuple(getattr(keras.layers, name) for name in _COUNTED_TYPES)


def _walk(layer: keras.layers.Layer) -> Iterator[keras.layers.Layer]:
    """The layer and every layer nested in it, each once."""
    seen: set[int] = set()
    stack = [layer]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        stack.extend(
            _compat.flatten_layers(current, include_self=False, recursive=False)
        )


def _known_input_shape(layer: keras.layers.Layer) -> Any:
    """The per-example input shape(s) a built layer or model was made for."""
    if isinstance(layer, keras.Model):
        try:
            inputs = layer.inputs
        except (AttributeError, ValueError):
            inputs = None
        if inputs:
            shapes = [tuple(t.shape)[1:] for t in inputs]
            return shapes[0] if len(shapes) == 1 else shapes
    if layer.built:
        build_config = layer.get_build_config() or {}
        shape = build_config.get("input_shape")
        if shape is not None:
            if _is_shape(shape):
                return tuple(shape)[1:]
            return [tuple(s)[1:] for s in shape]
    return None


def _zeros(shape: Any) -> Any:
    if _is_shape(shape):
        if any(d is None for d in shape):
            raise ValueError(
                "count_multiplies needs a fully known input shape (without the "
                f"batch dimension). Received: input_shape={tuple(shape)}"
            )
        return np.zeros((1, *shape), dtype="float32")
    return [_zeros(s) for s in shape]


def count_multiplies(
    model_or_layer: keras.layers.Layer, input_shape: Any = None
) -> int:
    """Counts the multiply-accumulates of one forward pass for one example.

    Counts the multiplications of the convolution and dense layers
    (``Conv1D/2D/3D`` including grouped convolutions, their ``Transpose``
    variants, ``DepthwiseConv1D/2D``, ``SeparableConv1D/2D`` and ``Dense``)
    wherever they are nested: inside functional or sequential models, inside
    nested models and inside custom layers such as
    `keras_apps.layers.InceptionBlock` or `keras_apps.layers.ResidualUnit`.
    A layer called twice counts twice. Bias additions, normalizations,
    activations and pooling are not counted.

    For a convolution the count is ``output_positions * kernel_height *
    kernel_width * input_channels / groups * filters``, the arithmetic of the
    1x1-bottleneck argument of Szegedy et al. 2015: on a 28x28x192 input, 32
    5x5 'same' filters cost 28*28*32*5*5*192 = 120,422,400 multiplications.

    The count is taken by running the model once on zeros of batch size 1
    with each counted layer's ``call`` observed, so every shape is the real
    one. An unbuilt layer is copied from its config first and left unbuilt.

    Args:
        model_or_layer: A Keras model or layer.
        input_shape: Shape of one example, without the batch dimension
            (``(28, 28, 192)``), or a list of shapes for several inputs.
            Defaults to the shape the model or layer was built for; it is
            required for unbuilt layers.

    Returns:
        The number of multiply-accumulates, an ``int``.

    Raises:
        ValueError: If the input shape is unknown or not fully defined.

    Example:

    >>> import keras
    >>> from keras_apps.utils import count_multiplies
    >>> conv = keras.layers.Conv2D(32, 5, padding="same")
    >>> count_multiplies(conv, input_shape=(28, 28, 192))
    120422400
    """
    if not isinstance(model_or_layer, keras.layers.Layer):
        raise TypeError(
            "count_multiplies expects a keras.Model or keras.layers.Layer. "
            f"Received: model_or_layer of type {type(model_or_layer).__name__}"
        )
    layer = model_or_layer
    if input_shape is None:
        input_shape = _known_input_shape(layer)
        if input_shape is None:
            raise ValueError(
                f"Cannot count the multiplies of {layer.name!r}: it is not built "
                "and no input shape was given. Pass input_shape=(height, width, "
                "channels) (one example, without the batch dimension), or build "
                "the layer first."
            )
    elif not layer.built:
        # Count on a copy so that the caller's layer stays unbuilt.
        try:
            layer = type(layer).from_config(layer.get_config())
        except (NotImplementedError, TypeError):
            pass
    inputs = _zeros(input_shape)

    counted = _counted_classes()
    total = 0
    originals: list[tuple[keras.layers.Layer, Callable[..., Any]]] = []

    def observe(target: keras.layers.Layer, call: Callable[..., Any]) -> Callable:
        def observed_call(*args: Any, **kwargs: Any) -> Any:
            nonlocal total
            outputs = call(*args, **kwargs)
            in_shape = tuple(keras.ops.shape(args[0] if args else kwargs["inputs"]))
            out_shape = tuple(keras.ops.shape(outputs))
            total += _layer_multiplies(target, in_shape, out_shape)
            return outputs

        return observed_call

    try:
        # Build first so that sublayers created in build() are found too.
        if not layer.built:
            layer.build(keras.tree.map_structure(lambda x: x.shape, inputs))
        for sub in _walk(layer):
            if isinstance(sub, counted):
                originals.append((sub, sub.call))
                # Bypass Keras attribute tracking: this is a temporary hook.
                object.__setattr__(sub, "call", observe(sub, sub.call))
        layer(inputs, training=False)
    finally:
        for sub, _ in originals:
            # Dropping the instance attribute restores the class's call.
            object.__delattr__(sub, "call")
    return int(total)
