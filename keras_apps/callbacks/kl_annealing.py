"""Anneal the KL weight ``beta`` of a VAE during training."""

from __future__ import annotations

import math
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export

SCHEDULES = ("linear", "cyclical")
UNITS = ("batch", "epoch")


@keras_apps_export("keras_apps.callbacks.KLAnnealing")
class KLAnnealing(keras.callbacks.Callback):
    """Sets ``model.beta`` from a linear or cyclical schedule during ``fit``.

    With ``t`` the number of batches (or epochs, ``unit="epoch"``) done
    since training began:

    - ``"linear"``: ``beta = start + (stop - start) * min(1, t / steps)``,
      the warm-up of Bowman et al. 2016;
    - ``"cyclical"``: the schedule repeats every ``steps``; within a cycle
      ``tau = (t mod steps) / steps`` and ``beta = start + (stop - start) *
      min(1, tau / ratio)``, so ``beta`` rises during the first ``ratio`` of
      each cycle and stays at ``stop`` for the rest (Fu et al. 2019).

    The model must have a settable ``beta`` that its loss reads at every
    step, as `keras_apps.models.VAE` has (a non-trainable variable, so the
    compiled train function sees the new value without retracing). On the
    JAX backend, where ``fit`` keeps the model state outside the variables
    between steps, per-batch updates first sync that state
    (``model.jax_state_sync()``). ``history.history["beta"]`` records the
    value used in each epoch's last step.

    Args:
        schedule: ``"linear"`` (default) or ``"cyclical"``.
        steps: Length of the warm-up (linear) or of one cycle (cyclical), in
            ``unit``s, >= 1.
        start: ``beta`` at ``t = 0``, >= 0. Defaults to 0.
        stop: ``beta`` at the end of the warm-up, >= 0. Defaults to 1.
        ratio: The fraction of each cycle during which ``beta`` rises, in
            (0, 1]. Defaults to 0.5. Cyclical only.
        unit: ``"batch"`` (default) or ``"epoch"``.

    Example:

    >>> from keras_apps.callbacks import KLAnnealing
    >>> annealing = KLAnnealing("cyclical", steps=4, ratio=0.5)
    >>> [annealing.beta_at(t) for t in range(6)]
    [0.0, 0.5, 1.0, 1.0, 0.0, 0.5]

    Reference:
        Bowman et al., "Generating Sentences from a Continuous Space",
        CoNLL 2016; Fu et al., "Cyclical Annealing Schedule: A Simple
        Approach to Mitigating KL Vanishing", NAACL 2019.
    """

    def __init__(
        self,
        schedule: str = "linear",
        steps: int = 1000,
        start: float = 0.0,
        stop: float = 1.0,
        ratio: float = 0.5,
        unit: str = "batch",
    ) -> None:
        super().__init__()
        errors = []
        if schedule not in SCHEDULES:
            errors.append(
                f"`schedule` must be one of {SCHEDULES}. "
                f"Received: schedule={schedule!r}"
            )
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            errors.append(f"`steps` must be an int >= 1. Received: steps={steps!r}")
        for name, value in (("start", start), ("stop", stop)):
            if not _is_number(value) or value < 0:
                errors.append(
                    f"`{name}` must be a number >= 0. Received: {name}={value!r}"
                )
        if not _is_number(ratio) or not 0 < ratio <= 1:
            errors.append(f"`ratio` must lie in (0, 1]. Received: ratio={ratio!r}")
        if unit not in UNITS:
            errors.append(f"`unit` must be one of {UNITS}. Received: unit={unit!r}")
        if errors:
            raise ValueError(" ".join(errors))
        self.schedule = schedule
        self.steps = steps
        self.start = float(start)
        self.stop = float(stop)
        self.ratio = float(ratio)
        self.unit = unit
        self._batches = 0
        self._epochs = 0
        self._beta = self.start

    def get_config(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "steps": self.steps,
            "start": self.start,
            "stop": self.stop,
            "ratio": self.ratio,
            "unit": self.unit,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KLAnnealing:
        return cls(**config)

    def beta_at(self, t: int) -> float:
        """The scheduled ``beta`` after ``t`` batches (or epochs)."""
        if self.schedule == "linear":
            progress = min(1.0, t / self.steps)
        else:
            tau = (t % self.steps) / self.steps
            progress = min(1.0, tau / self.ratio)
        return self.start + (self.stop - self.start) * progress

    def _set(self, t: int) -> None:
        if not hasattr(self.model, "beta"):
            raise ValueError(
                "KLAnnealing needs a model with a settable `beta`, such as "
                f"keras_apps.models.VAE. Received: model={self.model!r}"
            )
        beta = self.beta_at(t)
        if beta == self._beta and t > 0:
            return
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            sync()
        self.model.beta = beta
        self._beta = beta

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._batches = 0
        self._epochs = 0

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.unit == "epoch":
            self._set(self._epochs)

    def on_train_batch_begin(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        if self.unit == "batch":
            self._set(self._batches)

    def on_train_batch_end(
        self, batch: int, logs: dict[str, Any] | None = None
    ) -> None:
        self._batches += 1

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs += 1
        if logs is not None:
            logs["beta"] = self._beta


def _is_number(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
    )
