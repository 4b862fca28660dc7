"""The Inception module of GoogLeNet (Szegedy et al. 2015)."""

from __future__ import annotations

from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import check_feature_maps, positive_int_error
from keras_apps.types import Shape, Tensor

_MODES = ("reduced", "naive")


@keras_apps_export("keras_apps.layers.InceptionBlock")
class InceptionBlock(keras.layers.Layer):
    """Inception module: parallel 1x1, 3x3, 5x5 and pooling branches.

    The branches see the same input and their outputs are concatenated on
    the channel axis (channels-last). Every convolution uses ``'same'``
    padding and stride 1, so the spatial size is unchanged.

    ``mode="naive"`` is the naive module of Figure 2(a) of the paper: a 1x1,
    a 3x3 and a 5x5 convolution and a 3x3 stride-1 max-pool side by side,
    with no 1x1 reductions. Its pool branch is bare (the input channels pass
    through), so ``pool_proj`` must be ``None`` or ``0`` and
    ``reduce_3x3``/``reduce_5x5`` must be ``None``; the output has
    ``filters_1x1 + filters_3x3 + filters_5x5 + input_channels`` channels.

    ``mode="reduced"`` is the module of Figure 2(b), used in GoogLeNet: a 1x1
    convolution with ``reduce_3x3`` (``reduce_5x5``) filters runs before the
    3x3 (5x5) convolution, and a 1x1 projection with ``pool_proj`` filters
    runs after the max-pool. The output has
    ``filters_1x1 + filters_3x3 + filters_5x5 + pool_proj`` channels. When a
    reduction width is ``None`` it defaults to half the filters of the
    convolution it feeds (rounded up).

    Args:
        filters_1x1: Filters of the 1x1 branch.
        filters_3x3: Filters of the 3x3 convolution.
        filters_5x5: Filters of the 5x5 convolution.
        pool_proj: Filters of the 1x1 projection after the max-pool
            ("reduced" mode only; ``None`` or ``0`` in "naive" mode).
        reduce_3x3: Filters of the 1x1 reduction before the 3x3 convolution
            ("reduced" mode only). Defaults to ``None``.
        reduce_5x5: Filters of the 1x1 reduction before the 5x5 convolution
            ("reduced" mode only). Defaults to ``None``.
        mode: ``"reduced"`` (default) or ``"naive"``.
        activation: Activation after every convolution. Defaults to
            ``"relu"``.
        kernel_initializer: Initializer of the convolution kernels.
            Defaults to ``"glorot_uniform"``.
        **kwargs: Base layer keyword arguments, such as ``name``.

    Call arguments:
        inputs: A 4D tensor ``(batch, height, width, channels)``.

    Input shape:
        ``(batch, height, width, channels)``.

    Output shape:
        ``(batch, height, width, output_channels)`` as described above.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> block = keras_apps.layers.InceptionBlock(
    ...     filters_1x1=4, filters_3x3=8, filters_5x5=2, pool_proj=2,
    ...     reduce_3x3=4, reduce_5x5=1)
    >>> tuple(block(np.zeros((1, 8, 8, 6), "float32")).shape)
    (1, 8, 8, 16)

    Reference:
        Szegedy et al. 2015, "Going Deeper with Convolutions",
        https://arxiv.org/abs/1409.4842
    """

    def __init__(
        self,
        filters_1x1: int,
        filters_3x3: int,
        filters_5x5: int,
        pool_proj: int | None,
        reduce_3x3: int | None = None,
        reduce_5x5: int | None = None,
        mode: str = "reduced",
        activation: Any = "relu",
        kernel_initializer: Any = "glorot_uniform",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        errors = [
            positive_int_error(name, value)
            for name, value in (
                ("filters_1x1", filters_1x1),
                ("filters_3x3", filters_3x3),
                ("filters_5x5", filters_5x5),
            )
        ]
        if mode not in _MODES:
            errors.append(f"`mode` must be one of {_MODES}. Received: mode={mode!r}")
        elif mode == "naive":
            if pool_proj not in (None, 0):
                errors.append(
                    "The naive Inception module has a bare max-pool branch, so "
                    "`pool_proj` must be None or 0 in mode='naive'. "
                    f"Received: pool_proj={pool_proj!r}"
                )
            for name, value in (("reduce_3x3", reduce_3x3), ("reduce_5x5", reduce_5x5)):
                if value is not None:
                    errors.append(
                        f"The naive Inception module has no 1x1 reductions, so "
                        f"`{name}` must be None in mode='naive'. "
                        f"Received: {name}={value!r}"
                    )
        else:
            errors.append(positive_int_error("pool_proj", pool_proj))
            for name, value in (("reduce_3x3", reduce_3x3), ("reduce_5x5", reduce_5x5)):
                if value is not None:
                    errors.append(positive_int_error(name, value))
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))

        self.filters_1x1 = filters_1x1
        self.filters_3x3 = filters_3x3
        self.filters_5x5 = filters_5x5
        self.mode = mode
        self.pool_proj: int | None = pool_proj if mode == "reduced" else None
        self.reduce_3x3: int | None
        self.reduce_5x5: int | None
        if mode == "reduced":
            self.reduce_3x3 = reduce_3x3 or -(-filters_3x3 // 2)
            self.reduce_5x5 = reduce_5x5 or -(-filters_5x5 // 2)
        else:
            self.reduce_3x3 = None
            self.reduce_5x5 = None
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

        def conv(filters: int, size: int, name: str) -> keras.layers.Conv2D:
            return keras.layers.Conv2D(
                filters,
                size,
                padding="same",
                activation=self.activation,
                kernel_initializer=self.kernel_initializer,
                dtype=self.dtype_policy,
                name=name,
            )

        self.branch_1x1 = conv(filters_1x1, 1, "branch_1x1")
        self.branch_3x3: list[keras.layers.Layer] = []
        self.branch_5x5: list[keras.layers.Layer] = []
        self.branch_pool: list[keras.layers.Layer] = []
        if self.reduce_3x3 is not None and self.reduce_5x5 is not None:
            self.branch_3x3.append(conv(self.reduce_3x3, 1, "branch_3x3_reduce"))
            self.branch_5x5.append(conv(self.reduce_5x5, 1, "branch_5x5_reduce"))
        self.branch_3x3.append(conv(filters_3x3, 3, "branch_3x3"))
        self.branch_5x5.append(conv(filters_5x5, 5, "branch_5x5"))
        self.branch_pool.append(
            keras.layers.MaxPooling2D(
                3, strides=1, padding="same", dtype=self.dtype_policy, name="pool"
            )
        )
        if self.pool_proj is not None:
            self.branch_pool.append(conv(self.pool_proj, 1, "pool_proj"))
        self.concatenate = keras.layers.Concatenate(
            axis=-1, dtype=self.dtype_policy, name="concatenate"
        )
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def _branches(self) -> list[list[keras.layers.Layer]]:
        return [[self.branch_1x1], self.branch_3x3, self.branch_5x5, self.branch_pool]

    def build(self, input_shape: Shape) -> None:
        # Keras checks the rank on call (InputSpec); a direct build() call and
        # an unknown channel count get the clear message here.
        check_feature_maps(type(self).__name__, input_shape, need_channels=True)
        self.input_spec = keras.layers.InputSpec(ndim=4, axes={-1: input_shape[-1]})
        branch_shapes = []
        for branch in self._branches():
            shape = tuple(input_shape)
            for layer in branch:
                layer.build(shape)
                shape = tuple(layer.compute_output_shape(shape))
            branch_shapes.append(shape)
        self.concatenate.build(branch_shapes)

    def call(self, inputs: Tensor) -> Tensor:
        outputs = []
        for branch in self._branches():
            x = inputs
            for layer in branch:
                x = layer(x)
            outputs.append(x)
        return self.concatenate(outputs)

    def output_channels(self, input_channels: int) -> int:
        """Number of output channels for inputs with ``input_channels``."""
        pool_channels = input_channels if self.pool_proj is None else self.pool_proj
        return self.filters_1x1 + self.filters_3x3 + self.filters_5x5 + pool_channels

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_feature_maps(type(self).__name__, input_shape, need_channels=True)
        channels = self.output_channels(int(input_shape[-1]))  # type: ignore[arg-type]
        return (*tuple(input_shape)[:-1], channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "filters_1x1": self.filters_1x1,
                "filters_3x3": self.filters_3x3,
                "filters_5x5": self.filters_5x5,
                "pool_proj": self.pool_proj,
                "reduce_3x3": self.reduce_3x3,
                "reduce_5x5": self.reduce_5x5,
                "mode": self.mode,
                "activation": keras.activations.serialize(self.activation),
                "kernel_initializer": keras.initializers.serialize(
                    self.kernel_initializer
                ),
            }
        )
        return config
