"""The residual unit of ResNet, pre-activation (He et al. 2016) or original."""

from __future__ import annotations

from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import check_feature_maps, positive_int_error
from keras_apps.types import Shape, Tensor

_SHORTCUTS = ("auto", "identity", "projection")

BOTTLENECK_EXPANSION = 4
"""Output channels of a bottleneck unit per ``filters`` (He et al. 2016)."""


@keras_apps_export("keras_apps.layers.ResidualUnit")
class ResidualUnit(keras.layers.Layer):
    """A residual unit: a stack of convolutions plus a shortcut, added.

    With ``preactivation=True`` (default) this is the full pre-activation
    unit of He et al. 2016, "Identity Mappings in Deep Residual Networks":
    ``y = shortcut(x) + F(x)`` with ``F = BN-ReLU-Conv, BN-ReLU-Conv`` and no
    activation after the addition. A projection shortcut is applied to the
    pre-activated input ``ReLU(BN(x))``, as in that paper's code and in
    ``keras.applications.ResNet50V2``; the identity shortcut is ``x``.

    With ``preactivation=False`` it is the original unit of He et al. 2015:
    ``Conv-BN-ReLU, Conv-BN``, added to the shortcut and followed by a ReLU;
    a projection shortcut is ``Conv1x1-BN`` on ``x``.

    With ``bottleneck=True`` the convolutions are 1x1 (``filters``), kxk
    (``filters``, carrying the stride) and 1x1 (``4 * filters``), so the unit
    outputs ``4 * filters`` channels; otherwise two kxk convolutions with
    ``filters`` each (the first one strided) and ``filters`` output channels.

    ``shortcut="auto"`` picks the identity when the output shape equals the
    input shape and a 1x1 convolution with stride ``strides`` (a projection)
    when the channels or the stride change. ``"identity"`` with a shape
    change raises a ValueError at build time; ``"projection"`` always
    projects.

    Convolutions have no bias (a batch normalization follows each of them,
    either inside the unit or in the next pre-activation unit).

    Args:
        filters: Filters of the convolutions (the bottleneck width when
            ``bottleneck=True``).
        kernel_size: Size of the spatial convolutions. Defaults to 3.
        strides: Stride of the unit, applied by the first kxk convolution
            and by the projection shortcut. Defaults to 1.
        preactivation: Pre-activation (True, default) or original
            post-activation ordering.
        shortcut: ``"auto"`` (default), ``"identity"`` or ``"projection"``.
        bottleneck: Use the 1x1-kxk-1x1 bottleneck with 4x expansion.
            Defaults to False.
        kernel_initializer: Initializer of the convolution kernels.
            Defaults to ``"he_normal"``.
        momentum: Momentum of the batch normalizations. Defaults to 0.99
            (Keras' default), whose moving statistics need thousands of
            steps to settle; for a short training (a few hundred steps, as in
            the README quick start) use 0.9, or inference-mode outputs stay
            near chance.
        epsilon: Epsilon of the batch normalizations. Defaults to 1.001e-5
            (as in ``keras.applications`` ResNets).
        **kwargs: Base layer keyword arguments, such as ``name``.

    Call arguments:
        inputs: A 4D tensor ``(batch, height, width, channels)``.
        training: Whether batch normalization runs in training mode.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, ceil(height / strides), ceil(width / strides), out)`` with
        ``out = filters`` (``4 * filters`` for a bottleneck).

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> unit = keras_apps.layers.ResidualUnit(8, strides=2)
    >>> tuple(unit(np.zeros((1, 8, 8, 4), "float32")).shape)
    (1, 4, 4, 8)
    >>> unit.uses_projection
    True

    Reference:
        He et al. 2016, "Identity Mappings in Deep Residual Networks",
        https://arxiv.org/abs/1603.05027; He et al. 2015, "Deep Residual
        Learning for Image Recognition", https://arxiv.org/abs/1512.03385
    """

    def __init__(
        self,
        filters: int,
        kernel_size: int = 3,
        strides: int = 1,
        preactivation: bool = True,
        shortcut: str = "auto",
        bottleneck: bool = False,
        kernel_initializer: Any = "he_normal",
        momentum: float = 0.99,
        epsilon: float = 1.001e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        errors = [
            positive_int_error(name, value)
            for name, value in (
                ("filters", filters),
                ("kernel_size", kernel_size),
                ("strides", strides),
            )
        ]
        if shortcut not in _SHORTCUTS:
            errors.append(
                f"`shortcut` must be one of {_SHORTCUTS}. "
                f"Received: shortcut={shortcut!r}"
            )
        for name, value in (
            ("preactivation", preactivation),
            ("bottleneck", bottleneck),
        ):
            if not isinstance(value, bool):
                errors.append(f"`{name}` must be a bool. Received: {name}={value!r}")
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))

        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.preactivation = preactivation
        self.shortcut = shortcut
        self.bottleneck = bottleneck
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.momentum = momentum
        self.epsilon = epsilon
        self.output_filters = filters * BOTTLENECK_EXPANSION if bottleneck else filters
        self.uses_projection: bool | None = None

        def conv(out: int, size: int, stride: int, name: str) -> keras.layers.Conv2D:
            return keras.layers.Conv2D(
                out,
                size,
                strides=stride,
                padding="same",
                use_bias=False,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        def norm(name: str) -> keras.layers.BatchNormalization:
            return keras.layers.BatchNormalization(
                momentum=momentum, epsilon=epsilon, dtype=self.dtype_policy, name=name
            )

        if bottleneck:
            specs = [
                (filters, 1, 1),
                (filters, kernel_size, strides),
                (self.output_filters, 1, 1),
            ]
        else:
            specs = [(filters, kernel_size, strides), (filters, kernel_size, 1)]
        self.convs = [
            conv(out, size, stride, f"conv{i + 1}")
            for i, (out, size, stride) in enumerate(specs)
        ]
        # Pre-activation: the i-th norm precedes the i-th conv. Original: it
        # follows it.
        self.norms = [norm(f"bn{i + 1}") for i in range(len(specs))]
        self.projection = conv(self.output_filters, 1, strides, "shortcut_conv")
        self.projection_norm = None if preactivation else norm("shortcut_bn")
        self.add = keras.layers.Add(dtype=self.dtype_policy, name="add")
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _needs_projection(self, input_shape: Shape) -> bool:
        shape_changes = self.strides != 1 or input_shape[-1] != self.output_filters
        if self.shortcut == "identity" and shape_changes:
            raise ValueError(
                "An identity shortcut needs the output shape to equal the input "
                f"shape, but this unit maps {input_shape[-1]} channels to "
                f"{self.output_filters} with strides={self.strides}. Use "
                "shortcut='auto' or 'projection'. Received: "
                f"input_shape={tuple(input_shape)}"
            )
        return self.shortcut == "projection" or (
            self.shortcut == "auto" and shape_changes
        )

    def build(self, input_shape: Shape) -> None:
        # Keras checks the rank on call (InputSpec); a direct build() call and
        # an unknown channel count get the clear message here.
        check_feature_maps(type(self).__name__, input_shape, need_channels=True)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: input_shape[-1]})
        self.uses_projection = self._needs_projection(input_shape)
        shape = tuple(input_shape)
        for conv, bn in zip(self.convs, self.norms, strict=True):
            if self.preactivation:
                bn.build(shape)
                conv.build(shape)
                shape = tuple(conv.compute_output_shape(shape))
            else:
                conv.build(shape)
                shape = tuple(conv.compute_output_shape(shape))
                bn.build(shape)
        if self.uses_projection:
            self.projection.build(tuple(input_shape))
            if self.projection_norm is not None:
                self.projection_norm.build(shape)
        self.add.build([shape, shape])

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        if self.preactivation:
            preact = keras.ops.relu(self.norms[0](inputs, training=training))
            if self.uses_projection:
                shortcut = self.projection(preact)
            else:
                shortcut = inputs
            x = preact
            for i, conv in enumerate(self.convs):
                if i > 0:
                    x = keras.ops.relu(self.norms[i](x, training=training))
                x = conv(x)
            return self.add([shortcut, x])

        if self.uses_projection and self.projection_norm is not None:
            shortcut = self.projection_norm(self.projection(inputs), training=training)
        else:
            shortcut = inputs
        x = inputs
        last = len(self.convs) - 1
        for i, (conv, bn) in enumerate(zip(self.convs, self.norms, strict=True)):
            x = bn(conv(x), training=training)
            if i < last:
                x = keras.ops.relu(x)
        return keras.ops.relu(self.add([shortcut, x]))

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_feature_maps(type(self).__name__, input_shape, need_channels=True)
        spatial = [
            None if d is None else -(-d // self.strides) for d in input_shape[1:3]
        ]
        return (input_shape[0], *spatial, self.output_filters)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "preactivation": self.preactivation,
                "shortcut": self.shortcut,
                "bottleneck": self.bottleneck,
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
                "momentum": self.momentum,
                "epsilon": self.epsilon,
            }
        )
        return config
