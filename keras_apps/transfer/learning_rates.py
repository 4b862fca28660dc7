"""Per-layer learning rates for any Keras 3 optimizer.

Keras 3 optimizers have one learning rate for all variables
(keras-team/keras#21741). `layerwise_learning_rates` wraps an optimizer so
that each variable gets its own rate, ``learning_rate * factor``, where the
factor comes from the layer the variable belongs to.

The factor scales the learning rate passed to the optimizer's
``update_step(gradient, variable, learning_rate)``, not the gradient. For SGD
the two are the same; for Adam, RMSprop and other adaptive optimizers scaling
the gradient would cancel out in the normalisation, while scaling the
learning rate scales the step. Decoupled weight decay (``weight_decay=``) is
scaled by the same factor.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from keras import ops

from keras_apps import _compat
from keras_apps.api_export import keras_apps_export

_UNSCALED = 1.0


def _validate_multipliers(multipliers: Any) -> dict[str, float]:
    if not isinstance(multipliers, Mapping):
        raise ValueError(
            "Expected `multipliers` to be a dict mapping layer names or glob "
            "patterns to non-negative factors, for example "
            "{'block1_conv1': 0.0, 'block5*': 0.1}. "
            f"Received: multipliers={multipliers!r}"
        )
    if not multipliers:
        raise ValueError(
            "Expected at least one entry in `multipliers`. Received: multipliers={}"
        )
    validated: dict[str, float] = {}
    for pattern, factor in multipliers.items():
        if not isinstance(pattern, str) or not pattern:
            raise ValueError(
                "Expected every key of `multipliers` to be a non-empty layer "
                f"name or glob pattern. Received: key={pattern!r}"
            )
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise ValueError(
                f"Expected a number as the factor of {pattern!r}. Received: {factor!r}"
            )
        if not factor >= 0.0 or factor == float("inf"):
            raise ValueError(
                f"Expected a finite factor >= 0 for {pattern!r}. Received: {factor!r}"
            )
        validated[pattern] = float(factor)
    return validated


def _variable_names(
    variable: Any, scopes: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Names a pattern may match: the enclosing layers, then the path.

    The enclosing layers are those named in the path and, from ``scopes``,
    the models the variable's layer is nested in: Keras variable paths start
    at the layer that made the variable, so a functional backbone nested in a
    classifier (``"vgg16"``) is not in the paths of its weights
    (``"block1_conv1/kernel"``).
    """
    path = getattr(variable, "path", None) or variable.name
    parts = path.split("/")
    enclosing = scopes.get(path, ()) if scopes else ()
    return [*enclosing, *parts[:-1], path]


def _nesting_scopes(model: keras.Model) -> dict[str, list[str]]:
    """``{weight path: names of the layers that hold it but are not in it}``."""
    scopes: dict[str, list[str]] = {}
    for layer in _compat.flatten_layers(model, include_self=False):
        for weight in layer.weights:
            if layer.name not in weight.path.split("/")[:-1]:
                names = scopes.setdefault(weight.path, [])
                if layer.name not in names:
                    names.append(layer.name)
    return scopes


def _resolve_factor(
    variable: Any,
    multipliers: Mapping[str, float],
    used: set[str],
    scopes: Mapping[str, Sequence[str]] | None = None,
) -> float:
    """The factor of the last pattern (in dict order) that matches ``variable``.

    Later entries override earlier ones, so ``{"*": 0.1, "head": 1.0}`` trains
    everything at a tenth of the rate except the head.
    """
    names = _variable_names(variable, scopes)
    factor = _UNSCALED
    for pattern, value in multipliers.items():
        if any(fnmatch.fnmatchcase(name, pattern) for name in names):
            factor = value
            used.add(pattern)
    return factor


def _layer_names(
    variables: Any, scopes: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    names: dict[str, None] = {}
    for variable in variables:
        for name in _variable_names(variable, scopes)[:-1]:
            names[name] = None
    return list(names)


@keras_apps_export("keras_apps.transfer.LayerwiseLearningRateOptimizer")
class LayerwiseLearningRateOptimizer(keras.optimizers.Optimizer):
    """Wraps an optimizer and gives each layer its own learning rate.

    Build it with `keras_apps.transfer.layerwise_learning_rates`. A variable's
    learning rate is ``inner_optimizer.learning_rate * factor``, where
    ``factor`` is the value of the last entry of ``multipliers`` whose pattern
    matches one of the layer names in the variable's path (or the whole path,
    ``"block5_conv1/kernel"``) or, through ``scopes``, a model the variable's
    layer is nested in; variables that no pattern matches keep the factor 1.0.
    Patterns use `fnmatch` syntax (``*``, ``?``, ``[seq]``).

    A factor of 0 skips the variable's update entirely, so it stays
    bit-identical (and costs no compute) while other layers train.
    Learning-rate schedules, weight decay, gradient clipping, EMA and gradient
    accumulation of the inner optimizer keep working. The wrapper saves and
    loads with a model (``.keras``), multipliers included.

    How: the wrapper routes the inner optimizer's ``update_step(gradient,
    variable, learning_rate)`` and its weight decay step through itself (on
    that instance only), so every Keras code path of ``apply``, the
    TensorFlow distributed one and the JAX stateless one
    (``stateless_apply``) included, gets the per-variable rate. The inner
    optimizer is thus tied to the wrapper; use the wrapper only. Runs on
    every backend.

    Args:
        inner_optimizer: The `keras.optimizers.Optimizer` to wrap.
        multipliers: Dict mapping layer names or glob patterns to factors >= 0.
        check_patterns: Whether `build` raises when a pattern matches none of
            the variables it is built with. Revived optimizers do not check
            again.
        scopes: Optional ``{variable path: [layer names]}``: the layers that
            hold a variable but are not named in its path (models nested in
            the model, such as a backbone under a new head). Patterns match
            these names too. `layerwise_learning_rates` fills it from its
            ``model``; it is saved with the optimizer.
        name: Name of the wrapper.

    Example:

    >>> import keras
    >>> from keras_apps.transfer import layerwise_learning_rates
    >>> opt = layerwise_learning_rates(keras.optimizers.SGD(0.1), {"body": 0.5})
    >>> opt.factor_for("body/kernel"), round(opt.learning_rate_for("body/kernel"), 6)
    (0.5, 0.05)
    """

    def __init__(
        self,
        inner_optimizer: keras.optimizers.Optimizer,
        multipliers: Mapping[str, float],
        check_patterns: bool = True,
        scopes: Mapping[str, Sequence[str]] | None = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise ValueError(
                "Expected `inner_optimizer` to be a keras.optimizers.Optimizer "
                f"instance. Received: inner_optimizer={inner_optimizer!r}"
            )
        if isinstance(inner_optimizer, LayerwiseLearningRateOptimizer) or getattr(
            inner_optimizer, "_keras_apps_layerwise", False
        ):
            raise ValueError(
                "The optimizer already has layer-wise learning rates; merge the "
                "multipliers into one dict instead of wrapping twice. "
                f"Received: inner_optimizer={inner_optimizer!r}"
            )
        if kwargs:
            raise ValueError(
                "LayerwiseLearningRateOptimizer takes no base optimizer "
                "arguments; set them on `inner_optimizer`. "
                f"Received: {sorted(kwargs)}"
            )
        super().__init__(learning_rate=0.0, name=name)
        self.inner_optimizer = inner_optimizer
        self.multipliers = _validate_multipliers(multipliers)
        self.check_patterns = bool(check_patterns)
        self.scopes: dict[str, list[str]] = {
            str(path): [str(n) for n in names] for path, names in (scopes or {}).items()
        }
        self._check_on_build = self.check_patterns
        self._factors: dict[Any, float]
        object.__setattr__(self, "_factors", {})
        # The inner optimizer's per-variable entry points are routed through
        # this wrapper, so every code path of `apply` (plain, distributed,
        # gradient accumulation) sees the per-variable rate.
        inner_update_step = inner_optimizer.update_step

        def update_step(gradient: Any, variable: Any, learning_rate: Any) -> Any:
            factor = self._factor_of(variable)
            if factor == 0.0:
                return None
            if factor != _UNSCALED:
                learning_rate = ops.multiply(
                    ops.cast(learning_rate, variable.dtype), factor
                )
            return inner_update_step(gradient, variable, learning_rate)

        def route(inner_weight_decay: Any) -> Any:
            def apply_weight_decay(variables: Any) -> None:
                groups: dict[float, list[Any]] = {}
                for variable in variables:
                    groups.setdefault(self._factor_of(variable), []).append(variable)
                for factor, group in groups.items():
                    if factor == 0.0:
                        continue
                    if factor == _UNSCALED:
                        inner_weight_decay(group)
                        continue
                    with _compat.scaled_learning_rate(inner_optimizer, factor):
                        inner_weight_decay(group)

            return apply_weight_decay

        if not _compat.route_weight_decay(inner_optimizer, route) and (
            inner_optimizer.weight_decay
        ):
            raise ValueError(
                "This Keras version offers no hook to scale the decoupled weight "
                "decay per layer, so layer-wise rates cannot apply it; use an "
                "optimizer with weight_decay=None. Received: "
                f"weight_decay={inner_optimizer.weight_decay}"
            )
        object.__setattr__(inner_optimizer, "update_step", update_step)
        object.__setattr__(inner_optimizer, "_keras_apps_layerwise", True)

    def _factor_of(self, variable: Any) -> float:
        key = _compat.optimizer_variable_key(self.inner_optimizer, variable)
        return self._factors.get(key, _UNSCALED)

    def build(self, var_list: list[Any]) -> None:
        used: set[str] = set()
        factors = {}
        for variable in var_list:
            factor = _resolve_factor(variable, self.multipliers, used, self.scopes)
            if factor != _UNSCALED:
                factors[
                    _compat.optimizer_variable_key(self.inner_optimizer, variable)
                ] = factor
        unused = [p for p in self.multipliers if p not in used]
        if unused and self._check_on_build:
            raise ValueError(
                f"These `multipliers` patterns match no layer: {unused}. "
                "Patterns are matched (fnmatch) against the layer names in the "
                "paths of the trainable variables; the layers seen are: "
                f"{_layer_names(var_list, self.scopes)}. A model nested in the "
                "one being trained (a backbone under a new head) is not in the "
                "paths of its weights, and layers frozen now may train later "
                "(GradualUnfreezing): for both, pass the model to "
                "layerwise_learning_rates(..., model=model), which checks the "
                "patterns against all of its layers and nested models."
            )
        # Kept off Keras' attribute tracking: a plain dict of floats.
        object.__setattr__(self, "_factors", factors)
        self.inner_optimizer.build(var_list)
        super().build(var_list)

    def factor_for(self, variable_or_path: Any) -> float:
        """The factor a variable (or a variable path) gets; 1.0 when unmatched."""
        if isinstance(variable_or_path, str):
            return _resolve_factor(
                _PathOnly(variable_or_path), self.multipliers, set(), self.scopes
            )
        if getattr(self, "built", False):
            return self._factor_of(variable_or_path)
        return _resolve_factor(variable_or_path, self.multipliers, set(), self.scopes)

    def learning_rate_for(self, variable_or_path: Any) -> float:
        """The current learning rate of a variable (or a variable path)."""
        rate = float(ops.convert_to_numpy(self.inner_optimizer.learning_rate))
        return rate * self.factor_for(variable_or_path)

    @property
    def variables(self) -> list[Any]:
        return list(super().variables) + self.inner_optimizer.variables

    def apply(self, grads: Any, trainable_variables: Any = None) -> None:
        if not getattr(self, "built", False):
            if trainable_variables is None:
                raise ValueError(
                    "Build the optimizer (optimizer.build(variables)) or pass "
                    "`trainable_variables` on the first call to `apply`."
                )
            with keras.name_scope(self.name, caller=self):
                self.build(list(trainable_variables))
            self.built = True
        self.inner_optimizer.apply(grads, trainable_variables)

    @property
    def learning_rate(self) -> Any:
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate: Any) -> None:
        self.inner_optimizer.learning_rate = learning_rate

    @property
    def iterations(self) -> Any:
        return self.inner_optimizer.iterations

    def scale_loss(self, loss: Any) -> Any:
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list: Any) -> None:
        self.inner_optimizer.finalize_variable_values(var_list)

    def get_config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(
                self.inner_optimizer
            ),
            "multipliers": dict(self.multipliers),
            "check_patterns": self.check_patterns,
            "scopes": {path: list(names) for path, names in self.scopes.items()},
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], custom_objects: Any = None
    ) -> LayerwiseLearningRateOptimizer:
        config = copy.deepcopy(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        revived = cls(inner, **config)
        # The patterns were checked when the saved optimizer was built; a model
        # loaded later may have a different set of trainable variables.
        revived._check_on_build = False
        return revived


class _PathOnly:
    def __init__(self, path: str) -> None:
        self.path = path
        self.name = path.rsplit("/", 1)[-1]


def layerwise_learning_rates(
    optimizer: keras.optimizers.Optimizer | str,
    multipliers: Mapping[str, float],
    model: keras.Model | None = None,
) -> LayerwiseLearningRateOptimizer:
    """Gives each layer its own learning rate: ``learning_rate * factor``.

    Args:
        optimizer: A Keras optimizer (or its name, such as ``"adam"``). Its
            learning rate may be a float or a schedule.
        multipliers: Dict mapping layer names or `fnmatch` glob patterns to
            factors >= 0, for example ``{"block1_conv1": 0.0, "block5*": 0.1}``.
            A variable matches a pattern when one of the layer names in its
            path (``"block5_conv1/kernel"``: ``block5_conv1``), the whole
            path, or (with ``model``) the name of a model it is nested in
            matches; the last matching entry wins; unmatched variables keep
            1.0. A factor of 0 leaves a layer bit-identical.
        model: Optional; pass it to name nested models. A backbone nested in
            a classifier (`build_classifier`) is not in the paths of its
            weights (``"block5_conv1/kernel"``, not
            ``"vgg16/block5_conv1/kernel"``), so ``{"vgg16": 0.1}`` needs the
            model to know which weights ``vgg16`` holds. When given, every
            pattern is also checked right away against the model's layers,
            nested ones and frozen ones included (pass it when layers train
            later, with `GradualUnfreezing`). Without it, the check happens
            when the optimizer is built (at the start of `fit`), against the
            paths of the trainable variables of that moment.

    Returns:
        A `LayerwiseLearningRateOptimizer` to pass to ``model.compile``.

    Raises:
        ValueError: if a factor is negative or not a number, or a pattern
            matches no layer (the message lists the layer names).

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.transfer import layerwise_learning_rates
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(
    ...     4, name="body"), keras.layers.Dense(1, name="head")])
    >>> opt = layerwise_learning_rates(keras.optimizers.Adam(1e-2), {"body": 0.0})
    >>> model.compile(optimizer=opt, loss="mse")
    >>> before = model.get_layer("body").get_weights()[0].copy()
    >>> _ = model.fit(np.ones((4, 3)), np.ones((4, 1)), epochs=2, verbose=0)
    >>> bool(np.array_equal(before, model.get_layer("body").get_weights()[0]))
    True
    """
    optimizer = keras.optimizers.get(optimizer)
    checked = _validate_multipliers(multipliers)
    if model is not None:
        names: list[str] = []
        for layer in _compat.flatten_layers(model, include_self=False):
            names.append(layer.name)
        paths = [w.path for w in model.weights]
        candidates = names + paths
        unused = [
            pattern
            for pattern in checked
            if not any(fnmatch.fnmatchcase(c, pattern) for c in candidates)
        ]
        if unused:
            raise ValueError(
                f"These `multipliers` patterns match no layer of model "
                f"{model.name!r}: {unused}. Layer names: {names}"
            )
    # Checked against every layer already (frozen ones included): the
    # optimizer may be built on the trainable variables of the moment, before
    # GradualUnfreezing unfreezes the layers the patterns name.
    return LayerwiseLearningRateOptimizer(
        optimizer,
        checked,
        check_patterns=model is None,
        scopes=None if model is None else _nesting_scopes(model),
    )
