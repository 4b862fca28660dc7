"""Unfreeze a pretrained backbone a few layers (or blocks) at a time."""

from __future__ import annotations

import contextlib
import fnmatch
import logging
from collections.abc import Sequence
from typing import Any

import keras

from keras_apps import _compat
from keras_apps.api_export import keras_apps_export
from keras_apps.transfer.finetune import (
    _is_batchnorm,
    _Leaf,
    _set_trainable,
    weight_carrying_layers,
)

logger = logging.getLogger(__name__)


@keras_apps_export("keras_apps.callbacks.GradualUnfreezing")
class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes ``layers_per_step`` more layers or blocks every n epochs.

    The frozen weight-carrying layers of the model (or of the nested layer
    ``layer``, such as a backbone) are unfrozen from the top down, as in
    ULMFiT (Howard & Ruder 2018): at the start of epoch ``e`` (counted from
    0) the top ``layers_per_step * (e // every_n_epochs)`` units are
    trainable, so with the defaults the head trains alone during epoch 0, the
    top layer joins at epoch 1, the next at epoch 2, and so on.

    How the change takes effect: Keras reads ``trainable`` when it traces the
    train function and builds the optimizer for a fixed list of variables.
    So at the start of training the callback makes sure the optimizer knows
    every variable it will unfreeze (a fresh optimizer, one that has not
    stepped yet, is rebuilt from its config on all of them, keeping its
    class, learning rate schedule and layer-wise multipliers), and whenever
    it unfreezes layers it sets ``trainable`` and forces a new train function
    (``model.make_train_function(force=True)``), which ``fit`` picks up from
    the next batch. No recompile is needed and metrics keep their state.
    On JAX, whose stateless optimizer step takes exactly the variables the
    optimizer was built on, each unfreezing step instead rebuilds the
    optimizer on the new trainable variables and carries the state of the
    old one over by variable path (so an optimizer that has already stepped
    is fine there). BatchNormalization layers stay frozen (and in inference mode) unless
    ``keep_batchnorm_frozen=False``.

    Args:
        every_n_epochs: Epochs between two unfreezing steps (>= 1).
        layers_per_step: Layers (or blocks) unfrozen per step (>= 1).
        blocks: Optional list of layer-name glob patterns, one per block, top
            block first, for example ``["block5*", "block4*", "block3*"]``.
            A step then unfreezes whole blocks instead of single layers.
        layer: Name of a nested layer to unfreeze within (``"backbone"``);
            None: the whole model.
        keep_batchnorm_frozen: Keep BatchNormalization layers frozen.

    Attributes:
        unfrozen_at: Layer name -> the epoch it was unfrozen at.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.callbacks import GradualUnfreezing
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
    ...     4, name="a"), keras.layers.Dense(1, name="head")])
    >>> model.get_layer("a").trainable = False
    >>> model.compile(optimizer="adam", loss="mse")
    >>> callback = GradualUnfreezing(every_n_epochs=1)
    >>> _ = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0,
    ...               callbacks=[callback])
    >>> callback.unfrozen_at
    {'a': 1}

    Reference:
        Howard & Ruder, Universal Language Model Fine-tuning for Text
        Classification, ACL 2018 (gradual unfreezing).
    """

    def __init__(
        self,
        every_n_epochs: int = 1,
        layers_per_step: int = 1,
        blocks: Sequence[str] | None = None,
        layer: str | None = None,
        keep_batchnorm_frozen: bool = True,
    ) -> None:
        super().__init__()
        for arg, value in (
            ("every_n_epochs", every_n_epochs),
            ("layers_per_step", layers_per_step),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"Expected `{arg}` to be an int >= 1. Received: {arg}={value!r}"
                )
        if blocks is not None:
            if isinstance(blocks, str) or not all(
                isinstance(b, str) and b for b in blocks
            ):
                raise ValueError(
                    "Expected `blocks` to be a list of layer-name patterns, top "
                    f"block first. Received: blocks={blocks!r}"
                )
            blocks = list(blocks)
            if not blocks:
                raise ValueError("Expected at least one block. Received: blocks=[]")
        self.every_n_epochs = every_n_epochs
        self.layers_per_step = layers_per_step
        self.blocks = blocks
        self.layer = layer
        self.keep_batchnorm_frozen = bool(keep_batchnorm_frozen)
        self.unfrozen_at: dict[str, int] = {}
        self._units: list[list[_Leaf]] = []
        self._done = 0
        self._all_layers: list[keras.layers.Layer] = []

    def get_config(self) -> dict[str, Any]:
        return {
            "every_n_epochs": self.every_n_epochs,
            "layers_per_step": self.layers_per_step,
            "blocks": self.blocks,
            "layer": self.layer,
            "keep_batchnorm_frozen": self.keep_batchnorm_frozen,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GradualUnfreezing:
        return cls(**config)

    def _scope(self) -> keras.layers.Layer:
        if self.layer is None:
            return self.model
        try:
            return self.model.get_layer(self.layer)
        except ValueError:
            names = [layer.name for layer in self.model.layers]
            raise ValueError(
                f"GradualUnfreezing: no layer named {self.layer!r} in model "
                f"{self.model.name!r}. Layers: {names}"
            ) from None

    def _plan(self) -> list[list[_Leaf]]:
        scope = self._scope()
        leaves = [
            leaf
            for leaf in weight_carrying_layers(scope)
            if not (self.keep_batchnorm_frozen and _is_batchnorm(leaf.layer))
            and not (leaf.layer.trainable and all(a.trainable for a in leaf.ancestors))
        ]
        if self.blocks is None:
            return [[leaf] for leaf in reversed(leaves)]
        units = []
        for pattern in self.blocks:
            unit = [
                leaf for leaf in leaves if fnmatch.fnmatchcase(leaf.layer.name, pattern)
            ]
            if not unit:
                raise ValueError(
                    f"GradualUnfreezing: block pattern {pattern!r} matches no "
                    f"frozen weight-carrying layer. Frozen layers: "
                    f"{[leaf.layer.name for leaf in leaves]}"
                )
            units.append(unit)
        return units

    def _future_variables(self) -> list[Any]:
        """Trainable variables once every unit is unfrozen (state restored)."""
        states = [(layer, layer.trainable) for layer in self._all_layers]
        try:
            for unit in self._units:
                for leaf in unit:
                    _set_trainable(leaf, self._all_layers, self.keep_batchnorm_frozen)
            return list(self.model.trainable_variables)
        finally:
            for layer, state in states:
                layer.trainable = state

    def _prepare_optimizer(self) -> None:
        optimizer = self.model.optimizer
        if optimizer is None:
            raise ValueError(
                "GradualUnfreezing needs a compiled model: call model.compile() "
                "with an optimizer first."
            )
        if keras.backend.backend() == "jax":
            # JAX's stateless_apply takes exactly the variables the optimizer
            # was built on, so it is rebuilt at each step (_rebuild_optimizer).
            return
        variables = self._future_variables()
        # Under tf.distribute the optimizer's variables must be created in the
        # strategy's scope (fit runs callbacks outside of it).
        strategy = getattr(self.model, "distribute_strategy", None)
        with strategy.scope() if strategy is not None else contextlib.nullcontext():
            self._build_optimizer_on(optimizer, variables)

    def _build_optimizer_on(self, optimizer: Any, variables: list[Any]) -> None:
        if not optimizer.built:
            optimizer.build(variables)
            return
        if _compat.optimizer_knows(optimizer, variables):
            return
        if int(keras.ops.convert_to_numpy(optimizer.iterations)) > 0:
            raise ValueError(
                "GradualUnfreezing: the optimizer has already taken steps on a "
                "smaller set of variables, and Keras optimizers cannot add "
                "variables later. Compile with a fresh optimizer, or build it "
                "on all variables first: optimizer.build(list of every variable "
                "to train, frozen ones included)."
            )
        fresh = type(optimizer).from_config(optimizer.get_config())
        fresh.build(variables)
        self.model.optimizer = fresh

    def _rebuild_optimizer(self) -> None:
        """JAX: a fresh optimizer on the trainable variables, state carried over.

        Optimizer variables are matched by path (Keras names them after the
        model variable they belong to), so the step count, moments and
        learning-rate state of the layers that trained already go on where
        they were; the newly unfrozen layers start from fresh slots, as they
        do on TensorFlow.
        """
        old = self.model.optimizer
        fresh = type(old).from_config(old.get_config())
        fresh.build(list(self.model.trainable_variables))
        if old.built:
            previous = {v.path: v for v in old.variables}
            for variable in fresh.variables:
                match = previous.get(variable.path)
                if match is not None and tuple(match.shape) == tuple(variable.shape):
                    variable.assign(match.value)
        self.model.optimizer = fresh

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._all_layers = list(_compat.flatten_layers(self.model))
        self._units = self._plan()
        self._done = 0
        self._prepare_optimizer()
        self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        wanted = min(
            len(self._units), self.layers_per_step * (epoch // self.every_n_epochs)
        )
        if wanted <= self._done:
            return
        names = []
        for unit in self._units[self._done : wanted]:
            for leaf in unit:
                _set_trainable(leaf, self._all_layers, self.keep_batchnorm_frozen)
                self.unfrozen_at[leaf.layer.name] = epoch
                names.append(leaf.layer.name)
        self._done = wanted
        if keras.backend.backend() == "jax":
            self._rebuild_optimizer()
        self.model.make_train_function(force=True)
        logger.info("GradualUnfreezing: epoch %d unfroze %s", epoch, names)
