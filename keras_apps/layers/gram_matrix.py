"""The Gram matrix of feature maps, the style representation of Gatys et al."""

from __future__ import annotations

from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import check_feature_maps
from keras_apps.types import Shape, Tensor

NORMALIZATIONS = ("none", "hw", "hwc", "2hwc")
"""Accepted values of ``GramMatrix(normalize=...)`` besides ``None``."""

_HALF_DTYPES = ("float16", "bfloat16")


@keras_apps_export("keras_apps.layers.GramMatrix")
class GramMatrix(keras.layers.Layer):
    """Gram matrices of channels-last feature maps, one per image.

    For one image with feature maps ``F`` of shape ``(H, W, C)``, read as the
    matrix ``F_l`` of Gatys et al. 2016 with ``N = C`` rows (filters) and
    ``M = H * W`` columns (positions), the Gram matrix is the ``(C, C)``
    matrix of inner products between channels::

        G[c, d] = sum_{h, w} F[h, w, c] * F[h, w, d]     (G = F_l F_l^T)

    ``normalize`` chooses the factor that multiplies ``G``:

    - ``None`` or ``"none"``: ``1``. Gatys et al. 2016, eq. 3, ``G = F F^T``.
    - ``"hw"``: ``1 / (H W)``, that is ``1 / M``, a mean over positions, as
      in the TensorFlow style-transfer tutorial. It does not grow with the
      image size.
    - ``"hwc"``: ``1 / (H W C)``, that is ``1 / (N M)``, as in Johnson et al.
      2016 (fast style transfer).
    - ``"2hwc"``: ``1 / (2 H W C)``, that is ``1 / (2 N M)``: Gatys' loss
      factor folded into ``G``. The style loss of one layer (eq. 4),
      ``E = 1 / (4 N^2 M^2) * sum((G - A)^2)``, equals ``sum((G' - A')^2)``
      for the ``"2hwc"`` matrices ``G'`` and ``A'``, because
      ``(1 / (2 N M))^2 = 1 / (4 N^2 M^2)``. This is the course's
      ``1 / (2 H W C)^2`` in front of the squared Frobenius distance, so a
      style loss only adds ``w_l * sum((G' - A')^2)`` over layers.

    All images of the batch are handled by one batched contraction over the
    positions (``einsum("bhwc,bhwd->bcd")``), with no transposed copy of the
    feature maps. Half-precision inputs (float16, bfloat16) are summed in
    float32, because a sum over ``H * W`` positions overflows float16, and
    the result is cast back to the layer's compute dtype.

    Args:
        normalize: ``None``, ``"none"``, ``"hw"`` (default), ``"hwc"`` or
            ``"2hwc"``; see the list above.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: Feature maps of shape ``(batch, height, width, channels)``.

    Input shape:
        4D tensor ``(batch, height, width, channels)``; height and width may
        be unknown until call time.

    Output shape:
        3D tensor ``(batch, channels, channels)``, symmetric in the last two
        axes.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> features = np.ones((2, 4, 4, 3), dtype="float32")
    >>> gram = keras_apps.layers.GramMatrix(normalize="hw")(features)
    >>> tuple(gram.shape)
    (2, 3, 3)
    >>> float(gram[0, 0, 1])
    1.0
    >>> float(keras_apps.layers.GramMatrix(normalize=None)(features)[0, 0, 1])
    16.0

    Reference:
        - Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional
          Neural Networks", CVPR 2016.
        - Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style
          Transfer and Super-Resolution", ECCV 2016.
    """

    def __init__(self, normalize: str | None = "hw", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if normalize is not None and normalize not in NORMALIZATIONS:
            raise ValueError(
                "Expected `normalize` to be None or one of "
                f"{', '.join(repr(n) for n in NORMALIZATIONS)} (see the "
                f"GramMatrix docstring for the factor each applies). "
                f"Received: normalize={normalize!r}"
            )
        self.normalize = normalize
        self.input_spec = keras.layers.InputSpec(ndim=4)

    def call(self, inputs: Tensor) -> Tensor:
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        features = inputs
        if dtype in _HALF_DTYPES:
            features = keras.ops.cast(inputs, "float32")
        gram = keras.ops.einsum("bhwc,bhwd->bcd", features, features)
        if self.normalize is not None and self.normalize != "none":
            shape = keras.ops.shape(inputs)
            count = shape[1] * shape[2]
            if self.normalize == "hwc":
                count = count * shape[3]
            elif self.normalize == "2hwc":
                count = 2 * count * shape[3]
            gram = gram / keras.ops.cast(count, gram.dtype)
        if dtype in _HALF_DTYPES:
            gram = keras.ops.cast(gram, dtype)
        return gram

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        check_feature_maps(type(self).__name__, input_shape)
        channels = input_shape[-1]
        return (input_shape[0], channels, channels)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"normalize": self.normalize})
        return config
