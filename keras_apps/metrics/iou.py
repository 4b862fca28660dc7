"""Intersection over union per class, streaming over batches."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keras_apps.api_export import keras_apps_export
from keras_apps.metrics._confusion import ClassOverlapMetric
from keras_apps.types import Tensor


@keras_apps_export("keras_apps.metrics.IoU")
class IoU(ClassOverlapMetric):
    """Jaccard index ``TP / (TP + FP + FN)`` per class, averaged over classes.

    Pixel counts are accumulated over every batch since the last
    ``reset_state`` (so the score is the IoU of the whole data set, not the
    mean of per-batch scores). Predictions are the argmax over channels, or
    ``y_pred > threshold`` for a one-channel sigmoid output with
    ``num_classes=2``. Targets may be one-hot maps, masks or integer class
    labels ``(batch, H, W[, 1])``. ``sample_weight`` of shape ``(batch,)`` or
    ``(batch, H, W[, 1])`` weights images or pixels.

    The result is the mean IoU over ``class_ids`` (every class by default);
    classes seen neither in the targets nor in the predictions are left
    out of the mean, as in ``keras.metrics.MeanIoU``. ``class_ids=[k]``
    gives the IoU of class ``k`` alone, for a per-class entry in the logs;
    `per_class_result` returns all of them at once.

    Args:
        num_classes: Number of classes, background included (2 for binary
            segmentation).
        class_ids: Classes averaged in the result. Defaults to all.
        threshold: Threshold of a one-channel sigmoid output. Defaults to 0.5.
        name: Metric name. Defaults to ``"iou"``.
        dtype: Dtype of the result.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> y_true = np.array([[[0, 1, 1, 2]]])          # (1, 1, 4) labels
    >>> y_pred = np.eye(3)[np.array([[[0, 1, 2, 2]]])]
    >>> metric = keras_apps.metrics.IoU(num_classes=3)
    >>> metric.update_state(y_true, y_pred)
    >>> np.round(np.asarray(metric.per_class_result()), 3).tolist()
    [1.0, 0.5, 0.5]
    >>> round(float(metric.result()), 3)
    0.667
    """

    score_name = "iou"

    def __init__(
        self,
        num_classes: int,
        class_ids: Sequence[int] | None = None,
        threshold: float = 0.5,
        name: str = "iou",
        dtype: Any = None,
    ) -> None:
        super().__init__(num_classes, class_ids, threshold, name=name, dtype=dtype)

    def _ratio(self) -> tuple[Tensor, Tensor]:
        union = self.predicted + self.actual - self.true_positives
        return self.true_positives, union
