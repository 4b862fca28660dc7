"""The Dice coefficient (F1 score) per class, streaming over batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_apps.api_export import keras_apps_export
from keras_apps.metrics._confusion import ClassOverlapMetric
from keras_apps.types import Tensor


@keras_apps_export("keras_apps.metrics.Dice")
class Dice(ClassOverlapMetric):
    """Dice coefficient ``2 TP / (2 TP + FP + FN)`` per class, averaged.

    The hard (thresholded) counterpart of `keras_apps.losses.DiceLoss`, and
    the pixel-wise F1 score. It counts pixels exactly as `keras_apps.metrics.IoU`
    does (over every batch since ``reset_state``, with the same input
    conventions) and relates to it by ``dice = 2 iou / (1 + iou)`` per class.

    Args:
        num_classes: Number of classes, background included (2 for binary
            segmentation).
        class_ids: Classes averaged in the result. Defaults to all.
        threshold: Threshold of a one-channel sigmoid output. Defaults to 0.5.
        name: Metric name. Defaults to ``"dice"``.
        dtype: Dtype of the result.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> mask = np.array([[[1], [1], [0], [0]]], "float32")       # (1, 4, 1)
    >>> sigmoid = np.array([[[0.9], [0.2], [0.7], [0.1]]], "float32")
    >>> metric = keras_apps.metrics.Dice(num_classes=2, class_ids=[1])
    >>> metric.update_state(mask, sigmoid)
    >>> float(metric.result())                    # 2 * 1 / (2 + 2)
    0.5
    """

    score_name = "dice"

    def __init__(
        self,
        num_classes: int,
        class_ids: Sequence[int] | None = None,
        threshold: float = 0.5,
        name: str = "dice",
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, class_ids, threshold, name=name, dtype=dtype)

    def _ratio(self) -> tuple[Tensor, Tensor]:
        return 2.0 * self.true_positives, self.predicted + self.actual
