"""Log the Fréchet distance and class accuracy of generated samples every n epochs."""

from __future__ import annotations

import logging
from typing import Any

import keras
import numpy as np

from keras_apps.layers._checks import positive_int_error
from keras_apps.metrics.frechet_classifier_distance import FrechetClassifierDistance
from keras_apps.metrics.sample_class_accuracy import SampleClassAccuracy

logger = logging.getLogger(__name__)


class SampleQuality(keras.callbacks.Callback):
    """Adds ``frechet_distance`` (and ``class_accuracy``) to the logs every n epochs.

    At the end of every ``every_n_epochs``-th epoch the model generates as
    many images as there are ``real_images`` (from a fixed seed); their
    `keras_apps.metrics.FrechetClassifierDistance` to the real images is
    written into the epoch's logs, so `History` and later callbacks see it.
    For a conditional model (with ``num_classes``) given ``real_labels``,
    the model is asked for the real images' labels (same class balance) and
    `keras_apps.metrics.SampleClassAccuracy`, the fraction that the
    classifier recognizes as the requested class, is logged too. `history`
    keeps ``{epoch: {name: value}}`` (epochs from 1). It holds data and a
    classifier, so it has no config (it is not serializable).

    Args:
        classifier: The classifier of `keras_apps.metrics.train_sample_classifier`.
        real_images: Real images (held-out ones make the fairest reference).
        real_labels: Their labels; needed for ``class_accuracy``.
        every_n_epochs: Epochs between two measurements, >= 1. Defaults to 1.
        seed: Seed of the generated samples. Defaults to 0.
        feature_layer: The classifier's feature layer (default: its
            ``"features"`` layer or its penultimate layer).

    Example:

    >>> import numpy as np, keras
    >>> from keras_apps.callbacks import SampleQuality
    >>> from keras_apps.metrics import build_sample_classifier
    >>> class Noise(keras.Model):
    ...     def generate(self, n, seed=None):
    ...         return np.random.default_rng(seed).random((n, 8, 8, 1))
    >>> real = np.random.default_rng(1).random((32, 8, 8, 1))
    >>> callback = SampleQuality(build_sample_classifier((8, 8, 1), 10), real)
    >>> callback.set_model(Noise())
    >>> logs = {}
    >>> callback.on_epoch_end(0, logs)
    >>> sorted(logs)
    ['frechet_distance']
    """

    def __init__(
        self,
        classifier: keras.Model,
        real_images: Any,
        real_labels: Any = None,
        every_n_epochs: int = 1,
        seed: int = 0,
        feature_layer: str | None = None,
    ) -> None:
        super().__init__()
        error = positive_int_error("every_n_epochs", every_n_epochs)
        if error:
            raise ValueError(error)
        self.real_images = np.asarray(real_images, "float32")
        if self.real_images.ndim != 4 or len(self.real_images) < 2:
            raise ValueError(
                "`real_images` must be at least two images, shape (n, height, "
                f"width, channels). Received shape {self.real_images.shape}"
            )
        self.real_labels = None
        if real_labels is not None:
            self.real_labels = np.asarray(real_labels).astype("int32").reshape(-1)
            if len(self.real_labels) != len(self.real_images):
                raise ValueError(
                    "`real_labels` must have one label per real image. Received "
                    f"{len(self.real_labels)} labels for {len(self.real_images)} "
                    "images."
                )
        self.classifier = classifier
        self.every_n_epochs = every_n_epochs
        self.seed = seed
        self.frechet = FrechetClassifierDistance(classifier, feature_layer)
        self.accuracy = SampleClassAccuracy(classifier)
        self.history: dict[int, dict[str, float]] = {}

    def measure(self, model: Any = None) -> dict[str, float]:
        """Generates samples; returns ``frechet_distance`` (``class_accuracy``)."""
        model = self.model if model is None else model
        n = len(self.real_images)
        has_classes = bool(getattr(model, "num_classes", None))
        conditional = has_classes and self.real_labels is not None
        if conditional:
            images = model.generate(self.real_labels, seed=self.seed)
        elif has_classes:
            raise ValueError(
                "SampleQuality needs `real_labels` for a conditional model "
                "(one that has num_classes)."
            )
        else:
            images = model.generate(n, seed=self.seed)
        images = np.asarray(keras.ops.convert_to_numpy(images), "float32")
        results = {"frechet_distance": self._frechet(images)}
        if conditional:
            self.accuracy.reset_state()
            self.accuracy.update_state(self.real_labels, images)
            results["class_accuracy"] = float(self.accuracy.result())
        return results

    def _frechet(self, images: np.ndarray, batch_size: int = 256) -> float:
        self.frechet.reset_state()
        for start in range(0, len(self.real_images), batch_size):
            self.frechet.update_state(self.real_images[start : start + batch_size])
        for start in range(0, len(images), batch_size):
            self.frechet.update_state(None, images[start : start + batch_size])
        return float(self.frechet.result())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every_n_epochs:
            return
        results = self.measure()
        self.history[epoch + 1] = results
        if logs is not None:
            logs.update(results)
        logger.info("SampleQuality: epoch %d %s", epoch + 1, results)
