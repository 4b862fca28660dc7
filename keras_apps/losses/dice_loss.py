"""The soft Dice loss for segmentation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.losses._segmentation import (
    check_class_weights,
    check_smooth,
    dense_targets,
    dice_loss_per_image,
    probabilities,
)
from keras_apps.types import Tensor


@keras_apps_export("keras_apps.losses.DiceLoss")
class DiceLoss(keras.losses.Loss):
    """One minus the soft Dice coefficient, per image, averaged over classes.

    For each image and class ``c``, with predicted probabilities ``p`` and
    targets ``t`` summed over the pixels,

    ``dice_c = (2 * sum(t * p) + smooth) / (sum(t) + sum(p) + smooth)``

    and the loss of the image is ``1 - mean_c(dice_c)`` (a weighted mean
    with ``class_weights``). A one-channel prediction (sigmoid) is scored on
    its foreground channel; a several-channel one (softmax) on every class,
    background included, unless ``class_weights`` gives it weight 0. The
    ``smooth`` term keeps the ratio defined for empty masks (an empty mask
    predicted empty scores 1) and smooths the gradient (Milletari et al.
    2016 use squared sums in the denominator; this is the plain form).

    Targets may be binary masks or one-hot maps of the prediction's shape,
    or integer class labels of shape ``(batch, H, W)`` or ``(batch, H, W, 1)``.

    Args:
        smooth: Added to numerator and denominator. Defaults to 1.0.
        from_logits: Whether ``y_pred`` holds logits (sigmoid for one
            channel, softmax otherwise, are applied first). Defaults to False.
        class_weights: Optional list of one non-negative weight per class.
        reduction: Keras loss reduction over the per-image values.
            Defaults to ``"sum_over_batch_size"``.
        name: Name of the loss. Defaults to ``"dice_loss"``.
        dtype: Dtype of the loss computation.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> mask = np.zeros((1, 4, 4, 1), "float32"); mask[:, :2] = 1.0
    >>> loss = keras_apps.losses.DiceLoss(smooth=0.0)
    >>> round(float(loss(mask, mask)), 6)
    0.0
    >>> round(float(loss(mask, np.full_like(mask, 0.5))), 4)  # 1 - 2 * 4 / (8 + 8)
    0.5

    Reference:
        Milletari et al. 2016, "V-Net: Fully Convolutional Neural Networks
        for Volumetric Medical Image Segmentation",
        https://arxiv.org/abs/1606.04797
    """

    def __init__(
        self,
        smooth: float = 1.0,
        from_logits: bool = False,
        class_weights: Sequence[float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "dice_loss",
        dtype: Any = None,
    ) -> None:
        check_smooth(smooth)
        weights = check_class_weights(class_weights)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.smooth = float(smooth)
        self.from_logits = bool(from_logits)
        self.class_weights = weights

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        probs = probabilities(y_pred, self.from_logits)
        targets = dense_targets(y_true, probs)
        return dice_loss_per_image(targets, probs, self.smooth, self.class_weights)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "smooth": self.smooth,
                "from_logits": self.from_logits,
                "class_weights": self.class_weights,
            }
        )
        return config
