"""Local response normalization across channels, as in AlexNet."""

from __future__ import annotations

import math
import numbers
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import check_feature_maps
from keras_apps.types import Shape, Tensor

_HALF_DTYPES = ("float16", "bfloat16")


def _check_real(name: str, value: Any, minimum: float, strict: bool) -> float:
    """Returns ``value`` as a float, or raises a ValueError naming ``name``."""
    relation = ">" if strict else ">="
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if (
        not is_number
        or not math.isfinite(value)
        or (value <= minimum if strict else value < minimum)
    ):
        raise ValueError(
            f"Expected `{name}` to be a finite number {relation} {minimum:g}. "
            f"Received: {name}={value!r}"
        )
    return float(value)


@keras_apps_export("keras_apps.layers.LocalResponseNormalization")
class LocalResponseNormalization(keras.layers.Layer):
    """Normalizes each activation by the energy of its neighbouring channels.

    The brightness normalization of AlexNet (Krizhevsky et al. 2012,
    section 3.3), computed exactly as ``tf.nn.local_response_normalization``
    on channels-last inputs::

        sqr_sum[b, h, w, c] = sum(x[b, h, w, c - r : c + r + 1] ** 2)
        y = x / (bias + alpha * sqr_sum) ** beta

    with ``r = depth_radius``; the window is cut at the first and the last
    channel. The paper writes ``k = bias``, ``n = 2 * r + 1`` and uses
    ``k = 2, n = 5, alpha = 1e-4, beta = 0.75``, the defaults here. Note that
    ``alpha`` multiplies the sum itself, not the mean over the window (Caffe
    and PyTorch divide it by ``n``; pass ``alpha / n`` to match them).

    The windowed sum is one contraction of the squared inputs with a fixed
    ``(C, C)`` band matrix (a 1x1 convolution with a constant kernel, the
    method of TensorFlow's own CPU kernel). The layer has no weights.
    Half-precision inputs are computed in float32 and cast back.

    Args:
        depth_radius: Half-width ``r`` of the channel window, an int >= 0.
            Defaults to 2 (a window of 5 channels).
        bias: Offset ``k`` added before the power, > 0. Defaults to 2.0.
        alpha: Scale of the sum of squares, >= 0. Defaults to 1e-4.
        beta: Exponent, >= 0. Defaults to 0.75.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: A 4D tensor ``(batch, height, width, channels)``.

    Input shape:
        4D tensor ``(batch, height, width, channels)``.

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> layer = keras_apps.layers.LocalResponseNormalization(
    ...     depth_radius=1, bias=1.0, alpha=1.0, beta=1.0
    ... )
    >>> x = np.array([[[[1.0, 2.0, 0.0]]]], dtype="float32")
    >>> y = np.asarray(layer(x), dtype="float64")
    >>> np.round(y, 4).tolist()  # 1 / (1 + 1 + 4), 2 / (1 + 1 + 4 + 0), 0
    [[[[0.1667, 0.3333, 0.0]]]]

    Reference:
        Krizhevsky, Sutskever and Hinton, "ImageNet Classification with Deep
        Convolutional Neural Networks", NIPS 2012.
    """

    def __init__(
        self,
        depth_radius: int = 2,
        bias: float = 2.0,
        alpha: float = 1e-4,
        beta: float = 0.75,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (
            not isinstance(depth_radius, numbers.Integral)
            or isinstance(depth_radius, bool)
            or depth_radius < 0
        ):
            raise ValueError(
                "Expected `depth_radius` to be an int >= 0 (the half-width of "
                f"the channel window). Received: depth_radius={depth_radius!r}"
            )
        self.depth_radius: int = int(depth_radius)
        self.bias: float = _check_real("bias", bias, 0.0, strict=True)
        self.alpha: float = _check_real("alpha", alpha, 0.0, strict=False)
        self.beta: float = _check_real("beta", beta, 0.0, strict=False)
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        x = keras.ops.cast(inputs, "float32") if dtype in _HALF_DTYPES else inputs
        channels = keras.ops.shape(x)[-1]
        index = keras.ops.arange(channels)
        distance = keras.ops.abs(index[:, None] - index[None, :])
        band = keras.ops.cast(distance <= self.depth_radius, x.dtype)
        sqr_sum = keras.ops.matmul(keras.ops.square(x), band)
        scale = keras.ops.power(self.bias + self.alpha * sqr_sum, -self.beta)
        outputs = x * scale
        if dtype in _HALF_DTYPES:
            outputs = keras.ops.cast(outputs, dtype)
        return outputs

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_feature_maps(type(self).__name__, input_shape)
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "depth_radius": self.depth_radius,
                "bias": self.bias,
                "alpha": self.alpha,
                "beta": self.beta,
            }
        )
        return config
