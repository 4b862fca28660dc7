"""Cross-entropy plus soft Dice, the usual combined segmentation loss."""

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


@keras_apps_export("keras_apps.losses.CrossEntropyDiceLoss")
class CrossEntropyDiceLoss(keras.losses.Loss):
    """``ce_weight * cross-entropy + dice_weight * DiceLoss``, per image.

    The cross-entropy is binary for a one-channel prediction (sigmoid) and
    categorical for a several-channel one (softmax); it is averaged over the
    pixels of each image. The Dice part is exactly `keras_apps.losses.DiceLoss`.
    Cross-entropy gives every pixel a gradient from the start; Dice weighs
    classes by their overlap rather than their pixel count, which helps with
    small foreground objects.

    Targets may be binary masks or one-hot maps of the prediction's shape,
    or integer class labels of shape ``(batch, H, W)`` or ``(batch, H, W, 1)``.

    Args:
        ce_weight: Weight of the cross-entropy. Defaults to 1.0.
        dice_weight: Weight of the Dice loss. Defaults to 1.0.
        smooth: Smoothing term of the Dice loss. Defaults to 1.0.
        from_logits: Whether ``y_pred`` holds logits. Defaults to False.
        class_weights: Optional per-class weights of the Dice part.
        reduction: Keras loss reduction over the per-image values.
            Defaults to ``"sum_over_batch_size"``.
        name: Name of the loss. Defaults to ``"cross_entropy_dice_loss"``.
        dtype: Dtype of the loss computation.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> labels = np.array([[[0, 1], [2, 1]]])             # (1, 2, 2) classes
    >>> probs = np.eye(3, dtype="float32")[labels] * 0.98 + 0.01
    >>> loss = keras_apps.losses.CrossEntropyDiceLoss()
    >>> bool(float(loss(labels, probs)) < 0.05)
    True
    """

    def __init__(
        self,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        smooth: float = 1.0,
        from_logits: bool = False,
        class_weights: Sequence[float] | None = None,
        reduction: str = "sum_over_batch_size",
        name: str = "cross_entropy_dice_loss",
        dtype: Any = None,
    ) -> None:
        for arg, value in (("ce_weight", ce_weight), ("dice_weight", dice_weight)):
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or value < 0
            ):
                raise ValueError(
                    f"`{arg}` must be a number >= 0. Received: {arg}={value!r}"
                )
        if ce_weight == 0 and dice_weight == 0:
            raise ValueError(
                "At least one of `ce_weight` and `dice_weight` must be positive. "
                f"Received: ce_weight={ce_weight!r}, dice_weight={dice_weight!r}"
            )
        check_smooth(smooth)
        weights = check_class_weights(class_weights)
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.ce_weight = float(ce_weight)
        self.dice_weight = float(dice_weight)
        self.smooth = float(smooth)
        self.from_logits = bool(from_logits)
        self.class_weights = weights

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        ops = keras.ops
        targets = dense_targets(y_true, y_pred)
        pixel_axes = tuple(range(1, len(y_pred.shape) - 1))
        if y_pred.shape[-1] == 1:
            pixel_ce = ops.binary_crossentropy(
                targets, y_pred, from_logits=self.from_logits
            )[..., 0]
        else:
            pixel_ce = ops.categorical_crossentropy(
                targets, y_pred, from_logits=self.from_logits, axis=-1
            )
        cross_entropy = ops.mean(pixel_ce, axis=pixel_axes)
        probs = probabilities(y_pred, self.from_logits)
        dice = dice_loss_per_image(targets, probs, self.smooth, self.class_weights)
        return self.ce_weight * cross_entropy + self.dice_weight * dice

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "ce_weight": self.ce_weight,
                "dice_weight": self.dice_weight,
                "smooth": self.smooth,
                "from_logits": self.from_logits,
                "class_weights": self.class_weights,
            }
        )
        return config
