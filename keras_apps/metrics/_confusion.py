"""Streaming per-class overlap counts, shared by the IoU and Dice metrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.types import Tensor


class ClassOverlapMetric(keras.metrics.Metric):
    """Accumulates, per class, true positives, predicted and true pixel counts.

    Subclasses turn the three counts into a score per class in
    `per_class_scores`. The result is the mean score over ``class_ids`` (all
    classes by default), leaving out classes that appear neither in the
    targets nor in the predictions so far, as ``keras.metrics.MeanIoU`` does.
    """

    score_name = "score"

    def __init__(
        self,
        num_classes: int,
        class_ids: Sequence[int] | None = None,
        threshold: float = 0.5,
        name: str | None = None,
        dtype: Any = None,
    ) -> None:
        kind = type(self).__name__
        errors = []
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, int)
            or (num_classes < 2)
        ):
            errors.append(
                f"`num_classes` must be an integer >= 2 (binary segmentation has "
                f"2 classes, background and foreground). Received: "
                f"num_classes={num_classes!r}"
            )
        ids: list[int] | None = None
        if class_ids is not None:
            valid = (
                not isinstance(class_ids, (str, bytes, int))
                and isinstance(class_ids, Sequence)
                and len(class_ids) > 0
                and all(
                    isinstance(c, int) and not isinstance(c, bool) for c in class_ids
                )
            )
            if not valid:
                errors.append(
                    "`class_ids` must be None or a non-empty list of class "
                    f"indices. Received: class_ids={class_ids!r}"
                )
            else:
                ids = [int(c) for c in class_ids]
                if isinstance(num_classes, int) and not all(
                    0 <= c < num_classes for c in ids
                ):
                    errors.append(
                        f"`class_ids` must lie in [0, num_classes). Received: "
                        f"class_ids={list(class_ids)!r}, num_classes={num_classes!r}"
                    )
        if (
            isinstance(threshold, bool)
            or not isinstance(threshold, (int, float))
            or (not 0 < threshold < 1)
        ):
            errors.append(
                f"`threshold` must be in (0, 1). Received: threshold={threshold!r}"
            )
        if errors:
            raise ValueError(f"{kind}: " + " ".join(errors))
        super().__init__(name=name, dtype=dtype)
        self.num_classes = num_classes
        self.class_ids = ids
        self.threshold = float(threshold)
        counts = {"shape": (num_classes,), "initializer": "zeros", "dtype": "float32"}
        self.true_positives = self.add_variable(name="true_positives", **counts)
        self.predicted = self.add_variable(name="predicted", **counts)
        self.actual = self.add_variable(name="actual", **counts)

    def _predicted_labels(self, y_pred: Tensor) -> Tensor:
        ops = keras.ops
        channels = y_pred.shape[-1]
        if channels == 1 and self.num_classes == 2:
            return ops.cast(y_pred[..., 0] > self.threshold, "int32")
        if channels == self.num_classes:
            return ops.cast(ops.argmax(y_pred, axis=-1), "int32")
        raise ValueError(
            f"{type(self).__name__}(num_classes={self.num_classes}) expects "
            f"predictions with {self.num_classes} channels (or 1 sigmoid channel "
            f"for num_classes=2). Received: y_pred.shape={tuple(y_pred.shape)}"
        )

    def _true_labels(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        ops = keras.ops
        true_shape, pred_shape = tuple(y_true.shape), tuple(y_pred.shape)
        if len(true_shape) == len(pred_shape) and true_shape[-1] == self.num_classes:
            return ops.cast(ops.argmax(y_true, axis=-1), "int32")
        if len(true_shape) == len(pred_shape) and true_shape[-1] == 1:
            labels = y_true[..., 0]
        elif len(true_shape) == len(pred_shape) - 1:
            labels = y_true
        else:
            raise ValueError(
                f"{type(self).__name__} expects y_true as one-hot maps "
                f"(batch, H, W, {self.num_classes}), masks or class labels "
                f"(batch, H, W, 1) or (batch, H, W). Received: "
                f"y_true.shape={true_shape}, y_pred.shape={pred_shape}"
            )
        if self.num_classes == 2:
            return ops.cast(ops.cast(labels, "float32") > 0.5, "int32")
        return ops.cast(ops.round(ops.cast(labels, "float32")), "int32")

    def update_state(
        self, y_true: Tensor, y_pred: Tensor, sample_weight: Tensor | None = None
    ) -> None:
        ops = keras.ops
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        predicted = self._predicted_labels(y_pred)
        actual = self._true_labels(y_true, y_pred)
        predicted_1h = ops.one_hot(
            ops.reshape(predicted, (-1,)), self.num_classes, dtype="float32"
        )
        actual_1h = ops.one_hot(
            ops.reshape(actual, (-1,)), self.num_classes, dtype="float32"
        )
        hits = predicted_1h * actual_1h
        if sample_weight is not None:
            weights = ops.cast(ops.convert_to_tensor(sample_weight), "float32")
            rank = len(actual.shape)
            if len(weights.shape) == rank + 1 and weights.shape[-1] == 1:
                weights = ops.squeeze(weights, axis=-1)
            while len(weights.shape) < rank:
                weights = ops.expand_dims(weights, -1)
            weights = ops.reshape(ops.broadcast_to(weights, ops.shape(actual)), (-1, 1))
            predicted_1h = predicted_1h * weights
            actual_1h = actual_1h * weights
            hits = hits * weights
        self.true_positives.assign_add(ops.sum(hits, axis=0))
        self.predicted.assign_add(ops.sum(predicted_1h, axis=0))
        self.actual.assign_add(ops.sum(actual_1h, axis=0))

    def _ratio(self) -> tuple[Tensor, Tensor]:
        """(numerator, denominator) of the score of each class."""
        raise NotImplementedError

    def per_class_result(self) -> Tensor:
        """The score of every class, shape ``(num_classes,)``.

        A class absent from both the targets and the predictions so far has
        no defined score and reports 0; `result` leaves it out of the mean.
        """
        numerator, denominator = self._ratio()
        return keras.ops.divide_no_nan(numerator, denominator)

    def result(self) -> Tensor:
        ops = keras.ops
        numerator, denominator = self._ratio()
        scores = ops.divide_no_nan(numerator, denominator)
        present = ops.cast(denominator > 0, "float32")
        if self.class_ids is not None:
            selected = ops.sum(
                ops.one_hot(
                    ops.convert_to_tensor(self.class_ids, "int32"),
                    self.num_classes,
                    dtype="float32",
                ),
                axis=0,
            )
            present = present * ops.minimum(selected, 1.0)
        return ops.divide_no_nan(ops.sum(scores * present), ops.sum(present))

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "class_ids": self.class_ids,
                "threshold": self.threshold,
            }
        )
        return config
