"""Receptive fields of convolutional units: size, jump and start per axis."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras

from keras_apps.visualize import _graph

__all__ = ["ReceptiveField", "receptive_field"]


@dataclass(frozen=True)
class ReceptiveField:
    """Where the units of a layer look in the input image, per spatial axis.

    The unit at feature-map position ``i`` along an axis sees the input pixels
    ``start + i * jump - (size - 1) / 2`` to ``start + i * jump + (size - 1) / 2``
    (both included): ``size`` is the width of the window, ``jump`` the distance
    in input pixels between neighbouring units (the product of the strides)
    and ``start`` the input coordinate of the centre of the first unit's window
    (negative or fractional with padding and even kernels). Windows may reach
    past the image border, where the padding is.

    Attributes:
        layer_name: The layer the field belongs to.
        size: Window size per spatial axis, e.g. ``(5, 5)``.
        jump: Input-pixel distance between neighbouring units per axis.
        start: Centre of the first unit's window per axis.

    Example:

    >>> import keras
    >>> from keras_apps.visualize import receptive_field
    >>> model = keras.Sequential([keras.Input((32, 32, 3)),
    ...     keras.layers.Conv2D(8, 3, name="conv1"),
    ...     keras.layers.Conv2D(8, 3, name="conv2")])
    >>> rf = receptive_field(model, "conv2")
    >>> rf.size, rf.jump, rf.start
    ((5, 5), (1, 1), (2.0, 2.0))
    >>> rf.box((0, 3))
    ((0, 5), (3, 8))
    """

    layer_name: str
    size: tuple[int, ...]
    jump: tuple[int, ...]
    start: tuple[float, ...]

    @property
    def first(self) -> tuple[int, ...]:
        """The first input pixel of unit 0's window per axis (may be negative)."""
        return tuple(
            int(round(s - (n - 1) / 2))
            for s, n in zip(self.start, self.size, strict=True)
        )

    def box(self, position: Sequence[int]) -> tuple[tuple[int, int], ...]:
        """The window ``(begin, end)`` (end excluded) of the unit at ``position``.

        Not clipped to the image: see `clipped_box`.
        """
        if len(position) != len(self.size):
            raise ValueError(
                f"Expected a position with {len(self.size)} coordinates. "
                f"Received: {tuple(position)}"
            )
        return tuple(
            (f + int(p) * j, f + int(p) * j + n)
            for f, p, j, n in zip(
                self.first, position, self.jump, self.size, strict=True
            )
        )

    def clipped_box(
        self, position: Sequence[int], image_shape: Sequence[int]
    ) -> tuple[tuple[int, int], ...]:
        """`box` clipped to an image of spatial shape ``image_shape``."""
        return tuple(
            (max(b, 0), min(e, int(n)))
            for (b, e), n in zip(self.box(position), image_shape, strict=True)
        )


@dataclass(frozen=True)
class _Field:
    size: tuple[int, ...]
    jump: tuple[int, ...]
    first: tuple[int, ...]


@dataclass(frozen=True)
class _NoField:
    """A tensor whose units have no local window (global, or unknown)."""

    reason: str
    global_view: bool


_POINTWISE = (
    "InputLayer",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "BatchNormalization",
    "LayerNormalization",
    "RMSNormalization",
    "UnitNormalization",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Rescaling",
    "Normalization",
    "Identity",
    "Masking",
)
_MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")
_GLOBAL = (
    "Flatten",
    "Reshape",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
)
_CONVS = (
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
)
_POOLS = (
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
)


def _classes(names: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(keras.layers, n) for n in names if hasattr(keras.layers, n))


def _pointwise_classes() -> tuple[Any, ...]:
    from keras_apps.layers import LocalResponseNormalization

    # LRN mixes neighbouring channels of one position only.
    return (*_classes(_POINTWISE), LocalResponseNormalization)


def _spatial_sizes(shape: Sequence[Any], data_format: str | None) -> tuple[Any, ...]:
    if data_format == "channels_first":
        return tuple(shape[2:])
    return tuple(shape[1:-1])


def _window(
    field: _Field,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilation: Sequence[int],
    padding: str,
    in_sizes: Sequence[Any],
) -> _Field:
    size, jump, first = [], [], []
    for n, j, f, k, s, d, length in zip(
        field.size,
        field.jump,
        field.first,
        kernel,
        strides,
        dilation,
        in_sizes,
        strict=True,
    ):
        extent = d * (k - 1) + 1
        if padding == "same":
            if length is None:
                # Unknown size: TensorFlow's rule for a size divisible by s.
                total = max(extent - s, 0)
            else:
                total = max((math.ceil(length / s) - 1) * s + extent - length, 0)
            before = total // 2
        elif padding == "causal":
            before = extent - 1
        else:
            before = 0
        size.append(n + (extent - 1) * j)
        jump.append(j * s)
        first.append(f - before * j)
    return _Field(tuple(size), tuple(jump), tuple(first))


def _padding_pairs(value: Any, rank: int) -> list[tuple[int, int]]:
    if isinstance(value, int):
        return [(value, value)] * rank
    pairs = []
    for item in value:
        pairs.append((item, item) if isinstance(item, int) else (item[0], item[1]))
    if rank == 1 and len(pairs) == 2 and all(isinstance(v, int) for v in value):
        return [(value[0], value[1])]
    return pairs


def _merge(layer: keras.layers.Layer, fields: list[_Field]) -> _Field | _NoField:
    jumps = {f.jump for f in fields}
    if len(jumps) > 1:
        return _NoField(
            f"{layer.name!r} ({type(layer).__name__}) merges maps of different "
            f"strides {sorted(jumps)}",
            global_view=False,
        )
    first = tuple(min(v) for v in zip(*(f.first for f in fields), strict=True))
    last = tuple(
        max(v)
        for v in zip(
            *(
                tuple(a + n - 1 for a, n in zip(f.first, f.size, strict=True))
                for f in fields
            ),
            strict=True,
        )
    )
    size = tuple(e - b + 1 for b, e in zip(first, last, strict=True))
    return _Field(size, fields[0].jump, first)


def _propagate(
    layer: Any,
    inputs: list[_Field | _NoField],
    in_shapes: list[tuple[Any, ...]],
    out_shape: tuple[Any, ...],
) -> _Field | _NoField:
    kind = f"{layer.name!r} ({type(layer).__name__})"
    blocked = [f for f in inputs if isinstance(f, _NoField)]
    # A layer that flattens the map is named even after an unknown one.
    spatial = len(in_shapes[0]) - 2 if in_shapes else 0
    if spatial > 0 and len(out_shape) != spatial + 2:
        return _NoField(
            f"{kind} turns the spatial map into a vector, so its units see the "
            "whole input",
            global_view=True,
        )
    if blocked:
        global_ones = [f for f in blocked if f.global_view]
        return (global_ones or blocked)[0]
    fields = [f for f in inputs if isinstance(f, _Field)]
    if not fields:
        return _NoField(f"{kind} has no image input", global_view=False)
    rank = len(fields[0].size)
    if len(out_shape) != rank + 2 or rank == 0:
        return _NoField(
            f"{kind} turns the spatial map into a vector, so its units see the "
            "whole input",
            global_view=True,
        )
    if isinstance(layer, _classes(_GLOBAL)):
        return _NoField(f"{kind} mixes all positions", global_view=True)
    if isinstance(layer, _classes(_CONVS)):
        return _window(
            fields[0],
            layer.kernel_size,
            layer.strides,
            layer.dilation_rate,
            str(layer.padding).lower(),
            _spatial_sizes(in_shapes[0], layer.data_format),
        )
    if isinstance(layer, _classes(_POOLS)):
        return _window(
            fields[0],
            layer.pool_size,
            layer.strides,
            (1,) * rank,
            str(layer.padding).lower(),
            _spatial_sizes(in_shapes[0], layer.data_format),
        )
    field = fields[0]
    if isinstance(layer, _classes(("ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D"))):
        pads = _padding_pairs(layer.padding, rank)
        return _Field(
            field.size,
            field.jump,
            tuple(
                f - p[0] * j
                for f, p, j in zip(field.first, pads, field.jump, strict=True)
            ),
        )
    if isinstance(layer, _classes(("Cropping1D", "Cropping2D", "Cropping3D"))):
        crops = _padding_pairs(layer.cropping, rank)
        return _Field(
            field.size,
            field.jump,
            tuple(
                f + c[0] * j
                for f, c, j in zip(field.first, crops, field.jump, strict=True)
            ),
        )
    if isinstance(layer, _classes(_MERGES)) or isinstance(
        layer, keras.layers.Concatenate
    ):
        if isinstance(layer, keras.layers.Concatenate) and layer.axis not in (
            -1,
            rank + 1,
        ):
            return _NoField(f"{kind} concatenates along a spatial axis", False)
        return _merge(layer, fields)
    if isinstance(layer, keras.layers.Dense):
        return field  # on a map, Dense acts on the channels of each position
    if isinstance(layer, _pointwise_classes()):
        return field
    return _NoField(
        f"{kind} is not a layer whose geometry is known (convolution, pooling, "
        "padding, cropping, merge or a per-position layer)",
        global_view=False,
    )


def _trace(
    model: keras.Model,
    fields: dict[int, _Field | _NoField],
    inputs: Any,
    found: dict[int, _Field | _NoField],
    targets: set[int],
) -> Any:
    def visit(layer: keras.layers.Layer, args: tuple, kwargs: dict) -> Any:
        tensors = [
            t
            for t in keras.tree.flatten((args, kwargs))
            if isinstance(t, keras.KerasTensor)
        ]
        outputs = layer(*args, **kwargs)
        if _graph.is_graph_model(layer):
            like = args[0] if len(args) == 1 else list(args)
            sub_inputs = _graph.fresh_inputs(layer, like=like)
            for sub, outer in zip(
                keras.tree.flatten(sub_inputs), keras.tree.flatten(like), strict=True
            ):
                fields[id(sub)] = fields[id(outer)]
            sub_outputs = _trace(layer, fields, sub_inputs, found, targets)
            for out, sub in zip(
                keras.tree.flatten(outputs),
                keras.tree.flatten(sub_outputs),
                strict=True,
            ):
                fields[id(out)] = fields[id(sub)]
        else:
            field = _propagate(
                layer,
                [fields[id(t)] for t in tensors if id(t) in fields],
                [tuple(t.shape) for t in tensors],
                tuple(keras.tree.flatten(outputs)[0].shape),
            )
            for out in keras.tree.flatten(outputs):
                fields[id(out)] = field
        if id(layer) in targets and id(layer) not in found:
            found[id(layer)] = fields[id(keras.tree.flatten(outputs)[0])]
        return outputs

    _, outputs = _graph.rebuild(model, visit, inputs=inputs)
    return outputs


def receptive_field(model: keras.Model, layer_name: str) -> ReceptiveField:
    """The receptive field of the units of one layer, also inside nested models.

    Follows the graph from the image input to the layer through convolutions
    (any kernel size, strides, dilation, ``"valid"``, ``"same"`` or
    ``"causal"`` padding; depthwise and separable ones too), max and average
    pooling, zero padding, cropping, per-position layers (batch
    normalization, activations, dropout, ``Dense`` on a feature map, local
    response normalization) and merges of branches (``Add``, ``Concatenate``
    on channels ...: the union of the branches' windows). Nested functional
    and Sequential models (a backbone inside a classifier) are followed
    inside. The arithmetic needs no backend and runs on symbolic shapes only.

    Two stacked 3x3 convolutions see 5x5 pixels, three see 7x7; a stride-2
    layer doubles the jump of everything after it.

    With ``"same"`` padding and a stride > 1 the offset depends on the input
    size; when the spatial size is unknown (``None``) it is computed as for a
    size divisible by the stride.

    Args:
        model: A functional or Sequential Keras model with one image input.
        layer_name: A layer name, found at any depth, or a path such as
            ``"backbone/conv3"`` when the name is not unique.

    Returns:
        A `ReceptiveField` with ``size``, ``jump`` and ``start`` per axis.

    Raises:
        ValueError: For an unknown layer name (the error lists the layers),
            and for layers whose units have no local window: ``Dense`` after
            ``Flatten``, global pooling, or layers of unknown geometry.

    Example:

    >>> import keras
    >>> from keras_apps.visualize import receptive_field
    >>> model = keras.Sequential([keras.Input((32, 32, 1)),
    ...     keras.layers.Conv2D(4, 3, padding="same", name="conv1"),
    ...     keras.layers.MaxPooling2D(name="pool1"),
    ...     keras.layers.Conv2D(4, 3, padding="same", name="conv2")])
    >>> rf = receptive_field(model, "conv2")
    >>> rf.size, rf.jump, rf.start
    ((8, 8), (2, 2), (0.5, 0.5))
    """
    model = _graph.check_model(model)
    target = _graph.find_layer(model, layer_name)
    inputs = _graph.fresh_inputs(model)
    rank = len(model.inputs[0].shape) - 2
    fields: dict[int, _Field | _NoField] = {}
    for tensor in keras.tree.flatten(inputs):
        fields[id(tensor)] = (
            _Field((1,) * rank, (1,) * rank, (0,) * rank)
            if rank > 0
            else _NoField("the model input is not an image", True)
        )
    found: dict[int, _Field | _NoField] = {}
    _trace(model, fields, inputs, found, {id(target)})
    if id(target) not in found:
        raise ValueError(
            f"Layer {layer_name!r} is not on the path from the input of model "
            f"{model.name!r} to its outputs."
        )
    field = found[id(target)]
    if isinstance(field, _NoField):
        what = (
            "its units see the whole input"
            if field.global_view
            else "its geometry cannot be followed"
        )
        raise ValueError(
            f"Layer {layer_name!r} has no local receptive field: {what} "
            f"({field.reason}). Pick a convolution or pooling layer before it."
        )
    start = tuple(
        float(f + (n - 1) / 2) for f, n in zip(field.first, field.size, strict=True)
    )
    return ReceptiveField(layer_name, field.size, field.jump, start)
