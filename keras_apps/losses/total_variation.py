"""Total variation, the image prior of style transfer and feature inversion."""

from __future__ import annotations

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.types import Tensor

_EPSILON = 1e-8


@keras_apps_export("keras_apps.losses.total_variation")
def total_variation(images: Tensor, beta: float = 2.0) -> Tensor:
    """The total variation of each image of a batch, ``(batch,)``.

    The regularizer of Mahendran and Vedaldi 2015 (eq. 5)::

        TV(x) = sum_{i, j, c} ((x[i, j+1, c] - x[i, j, c])^2
                              + (x[i+1, j, c] - x[i, j, c])^2) ^ (beta / 2)

    over the ``(H - 1) x (W - 1)`` positions that have both neighbours.
    ``beta=2`` (default) is the squared total variation of Johnson et al.
    2016, a plain sum of squared neighbour differences; ``beta=1`` is the
    isotropic total variation. For ``beta < 2`` a tiny ``1e-8`` is added
    inside the power so that the gradient stays finite on flat regions.

    The value is a sum, so it grows with the image size and the pixel range:
    pick the weight in front of it for the images at hand.

    Args:
        images: A batch ``(batch, height, width, channels)``.
        beta: The exponent, at least 1. Defaults to 2.

    Returns:
        A tensor of shape ``(batch,)``.

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import total_variation
    >>> image = np.zeros((1, 3, 3, 1), "float32")
    >>> image[0, 1, 1, 0] = 1.0
    >>> float(total_variation(image)[0])
    4.0
    """
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta < 1:
        raise ValueError(
            f"Expected `beta` to be a number >= 1. Received: beta={beta!r}"
        )
    images = keras.ops.convert_to_tensor(images)
    if len(images.shape) != 4:
        raise ValueError(
            "Expected a batch of images of rank 4, (batch, height, width, "
            f"channels). Received: shape={tuple(images.shape)}"
        )
    if not keras.backend.is_float_dtype(images.dtype):
        images = keras.ops.cast(images, "float32")
    corner = images[:, :-1, :-1, :]
    down = images[:, 1:, :-1, :] - corner
    right = images[:, :-1, 1:, :] - corner
    squared = keras.ops.square(down) + keras.ops.square(right)
    if beta != 2:
        squared = keras.ops.power(squared + _EPSILON, beta / 2.0)
    return keras.ops.sum(squared, axis=(1, 2, 3))
