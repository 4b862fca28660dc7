"""A streaming Fréchet distance on the features of a classifier (keras.ops)."""

from __future__ import annotations

import copy
from typing import Any

import keras
from keras import ops

from keras_apps.api_export import keras_apps_export
from keras_apps.metrics.frechet import (
    frechet_distance_from_moments,
    statistics_dtype,
)
from keras_apps.metrics.sample_classifier import FEATURE_LAYER


def feature_extractor(classifier: keras.Model, feature_layer: str | None) -> Any:
    """The model from the classifier's input to its feature layer's output."""
    if not isinstance(classifier, keras.Model) or not getattr(
        classifier, "inputs", None
    ):
        raise ValueError(
            "`classifier` must be a built functional keras.Model, such as the "
            f"one train_sample_classifier returns. Received: {classifier!r}"
        )
    names = [layer.name for layer in classifier.layers]
    if feature_layer is None:
        feature_layer = FEATURE_LAYER if FEATURE_LAYER in names else names[-2]
    if feature_layer not in names:
        raise ValueError(
            f"`feature_layer` must name a layer of the classifier. Received: "
            f"feature_layer={feature_layer!r}; layers: {names}"
        )
    output = classifier.get_layer(feature_layer).output
    inputs = classifier.inputs
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        output,
        name=f"{classifier.name}_features",
    )


@keras_apps_export("keras_apps.metrics.FrechetClassifierDistance")
class FrechetClassifierDistance(keras.metrics.Metric):
    """Fréchet distance between real and generated images in a classifier's features.

    The FID recipe (Heusel et al. 2017) with a classifier trained on the same
    data (`keras_apps.metrics.train_sample_classifier`) instead of Inception
    v3, as TF-GAN's ``mnist_frechet_distance``. ``update_state(real,
    generated)`` accumulates the sums and outer-product sums of the
    penultimate features of both sets (either may be None), so statistics
    stream over batches; `result` fits a Gaussian to each and returns
    `keras_apps.metrics.frechet_distance_from_moments`. 0 means the two
    feature distributions have equal means and covariances; the value
    depends on the number of samples (compare at equal counts).

    Args:
        classifier: A functional classifier (built).
        feature_layer: Name of the layer whose output are the features;
            default ``"features"`` if present, else the penultimate layer.
        name: Metric name. Defaults to ``"frechet_distance"``.

    Example:

    >>> import numpy as np, keras
    >>> from keras_apps import metrics
    >>> metric = metrics.FrechetClassifierDistance(
    ...     metrics.build_sample_classifier((8, 8, 1), 10))
    >>> images = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    >>> metric.update_state(images, images)
    >>> float(metric.result()) < 1e-6
    True
    """

    def __init__(
        self,
        classifier: keras.Model,
        feature_layer: str | None = None,
        name: str = "frechet_distance",
        **kwargs: Any,
    ) -> None:
        super().__init__(name=name, **kwargs)
        self.classifier = classifier
        self.feature_layer = feature_layer
        self.extractor = feature_extractor(classifier, feature_layer)
        dim = int(self.extractor.output.shape[-1])
        self.feature_dim = dim
        dtype = statistics_dtype()
        self._state = {}
        for side in ("real", "generated"):
            self._state[side] = (
                self.add_variable((), "zeros", dtype=dtype, name=f"{side}_count"),
                self.add_variable((dim,), "zeros", dtype=dtype, name=f"{side}_sum"),
                self.add_variable(
                    (dim, dim), "zeros", dtype=dtype, name=f"{side}_outer"
                ),
            )

    def _accumulate(self, side: str, images: Any) -> None:
        count, total, outer = self._state[side]
        features = self.extractor(images, training=False)
        features = ops.reshape(features, (ops.shape(features)[0], -1))
        features = ops.cast(features, count.dtype)
        count.assign_add(ops.cast(ops.shape(features)[0], count.dtype))
        total.assign_add(ops.sum(features, axis=0))
        outer.assign_add(ops.matmul(ops.transpose(features), features))

    def update_state(
        self, y_true: Any = None, y_pred: Any = None, sample_weight: Any = None
    ) -> None:
        """Adds real images (``y_true``) and generated images (``y_pred``)."""
        if sample_weight is not None:
            raise ValueError("FrechetClassifierDistance takes no sample_weight.")
        if y_true is not None:
            self._accumulate("real", y_true)
        if y_pred is not None:
            self._accumulate("generated", y_pred)

    def _moments(self, side: str) -> tuple[Any, Any]:
        count, total, outer = self._state[side]
        mean = total / count
        cov = (outer - count * ops.outer(mean, mean)) / (count - 1.0)
        return mean, cov

    def result(self) -> Any:
        real_mean, real_cov = self._moments("real")
        fake_mean, fake_cov = self._moments("generated")
        return frechet_distance_from_moments(real_mean, real_cov, fake_mean, fake_cov)

    def reset_state(self) -> None:
        for variables in self._state.values():
            for variable in variables:
                variable.assign(ops.zeros(variable.shape, variable.dtype))

    def get_config(self) -> dict[str, Any]:
        return {
            "classifier": keras.saving.serialize_keras_object(self.classifier),
            "feature_layer": self.feature_layer,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FrechetClassifierDistance:
        config = dict(config)
        config["classifier"] = keras.saving.deserialize_keras_object(
            copy.deepcopy(config["classifier"])
        )
        return cls(**config)
