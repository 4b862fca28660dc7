"""How often a classifier recognizes the class a conditional model was asked for."""

from __future__ import annotations

import copy
from typing import Any

import keras
from keras import ops

from keras_apps.api_export import keras_apps_export


@keras_apps_export("keras_apps.metrics.SampleClassAccuracy")
class SampleClassAccuracy(keras.metrics.Metric):
    """Accuracy of a classifier on generated images against the requested labels.

    ``update_state(requested_labels, generated_images)``: the classifier
    (`keras_apps.metrics.train_sample_classifier`) labels each image and the
    metric counts how often its top class is the requested one. Real
    held-out images give the ceiling (the classifier's own accuracy); 1 /
    num_classes is chance. Backend-free.

    Args:
        classifier: A built classifier with one score per class.
        name: Metric name. Defaults to ``"class_accuracy"``.

    Example:

    >>> import numpy as np, keras
    >>> from keras_apps.metrics import SampleClassAccuracy
    >>> inputs = keras.Input((2,))
    >>> classifier = keras.Model(inputs, keras.layers.Identity()(inputs))
    >>> metric = SampleClassAccuracy(classifier)
    >>> metric.update_state([0, 1, 1], np.array([[1, 0], [0, 1], [1, 0]], "float32"))
    >>> round(float(metric.result()), 4)
    0.6667
    """

    def __init__(
        self, classifier: keras.Model, name: str = "class_accuracy", **kwargs: Any
    ) -> None:
        super().__init__(name=name, **kwargs)
        if not isinstance(classifier, keras.Model):
            raise ValueError(
                "`classifier` must be a keras.Model returning one score per "
                f"class. Received: {classifier!r}"
            )
        self.classifier = classifier
        self.correct = self.add_variable((), "zeros", dtype="float32", name="correct")
        self.count = self.add_variable((), "zeros", dtype="float32", name="count")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """``y_true``: requested labels ``(n,)``; ``y_pred``: generated images."""
        if sample_weight is not None:
            raise ValueError("SampleClassAccuracy takes no sample_weight.")
        scores = self.classifier(y_pred, training=False)
        predicted = ops.argmax(scores, axis=-1)
        requested = ops.reshape(ops.convert_to_tensor(y_true), (-1,))
        hits = ops.cast(
            ops.equal(ops.cast(predicted, "int32"), ops.cast(requested, "int32")),
            "float32",
        )
        self.correct.assign_add(ops.sum(hits))
        self.count.assign_add(ops.cast(ops.shape(hits)[0], "float32"))

    def result(self) -> Any:
        return ops.divide_no_nan(self.correct, self.count)

    def reset_state(self) -> None:
        self.correct.assign(0.0)
        self.count.assign(0.0)

    def get_config(self) -> dict[str, Any]:
        return {
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SampleClassAccuracy:
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(
            copy.deepcopy(config["classifier"])
        )
        return cls(**config)
