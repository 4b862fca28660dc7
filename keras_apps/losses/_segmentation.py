"""Shared pieces of the segmentation losses: targets, probabilities, soft Dice."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.types import Tensor


def check_smooth(smooth: Any) -> None:
    if isinstance(smooth, bool) or not isinstance(smooth, (int, float)) or smooth < 0:
        raise ValueError(f"`smooth` must be a number >= 0. Received: smooth={smooth!r}")


def check_class_weights(class_weights: Any) -> list[float] | None:
    if class_weights is None:
        return None
    if isinstance(class_weights, (str, bytes)) or not isinstance(
        class_weights, Sequence
    ):
        raise ValueError(
            "`class_weights` must be None or a list of one non-negative weight "
            f"per class. Received: class_weights={class_weights!r}"
        )
    weights = list(class_weights)
    if (
        not weights
        or not all(
            isinstance(w, (int, float)) and not isinstance(w, bool) and w >= 0
            for w in weights
        )
        or sum(weights) <= 0
    ):
        raise ValueError(
            "`class_weights` must hold non-negative numbers, not all zero. "
            f"Received: class_weights={class_weights!r}"
        )
    return [float(w) for w in weights]


def probabilities(y_pred: Tensor, from_logits: bool) -> Tensor:
    """Sigmoid of a one-channel output, softmax of a several-channel one."""
    if not from_logits:
        return y_pred
    if y_pred.shape[-1] == 1:
        return keras.ops.sigmoid(y_pred)
    return keras.ops.softmax(y_pred, axis=-1)


def dense_targets(y_true: Tensor, y_pred: Tensor) -> Tensor:
    """``y_true`` with the shape of ``y_pred``: masks, one-hot or class labels.

    A target of the prediction's shape is used as it is (binary masks for a
    one-channel output, one-hot or soft labels otherwise). Integer class
    labels, ``(batch, H, W)`` or ``(batch, H, W, 1)``, are one-hot encoded
    for a several-channel output.
    """
    ops = keras.ops
    channels = y_pred.shape[-1]
    if channels is None:
        raise ValueError(
            "Segmentation losses need a known channel (class) dimension. "
            f"Received: y_pred.shape={tuple(y_pred.shape)}"
        )
    true_shape = tuple(y_true.shape)
    pred_shape = tuple(y_pred.shape)
    if len(true_shape) == len(pred_shape) and true_shape[-1] == channels:
        return ops.cast(y_true, y_pred.dtype)
    if len(true_shape) == len(pred_shape) and true_shape[-1] == 1:
        labels = ops.squeeze(y_true, axis=-1)
    elif len(true_shape) == len(pred_shape) - 1:
        labels = y_true
    else:
        raise ValueError(
            "Expected y_true to be masks or one-hot labels of the prediction's "
            "shape, or integer class labels of shape (batch, H, W) or "
            f"(batch, H, W, 1). Received: y_true.shape={true_shape}, "
            f"y_pred.shape={pred_shape}"
        )
    if channels == 1:
        return ops.cast(ops.expand_dims(labels, -1), y_pred.dtype)
    return ops.one_hot(ops.cast(labels, "int32"), channels, dtype=y_pred.dtype)


def soft_dice_per_class(targets: Tensor, probs: Tensor, smooth: float) -> Tensor:
    """``(2 * sum(t * p) + smooth) / (sum(t) + sum(p) + smooth)``, per image and class.

    Sums run over every axis but the batch and the channel axis; the result
    has shape ``(batch, classes)``.
    """
    ops = keras.ops
    axes = tuple(range(1, len(probs.shape) - 1))
    intersection = ops.sum(targets * probs, axis=axes)
    total = ops.sum(targets, axis=axes) + ops.sum(probs, axis=axes)
    return (2.0 * intersection + smooth) / (total + smooth)


def dice_loss_per_image(
    targets: Tensor,
    probs: Tensor,
    smooth: float,
    class_weights: Sequence[float] | None,
) -> Tensor:
    """One minus the (class-weighted) mean soft Dice, shape ``(batch,)``."""
    ops = keras.ops
    dice = soft_dice_per_class(targets, probs, smooth)
    if class_weights is None:
        return 1.0 - ops.mean(dice, axis=-1)
    if len(class_weights) != probs.shape[-1]:
        raise ValueError(
            f"`class_weights` has {len(class_weights)} entries but the "
            f"prediction has {probs.shape[-1]} classes. Received: "
            f"class_weights={list(class_weights)}, y_pred.shape={tuple(probs.shape)}"
        )
    weights = ops.convert_to_tensor(class_weights, dtype=probs.dtype)
    return 1.0 - ops.sum(dice * weights, axis=-1) / ops.sum(weights)
