"""The one place where keras-apps reaches private Keras and TensorFlow APIs.

Keras and TensorFlow may rename or remove anything private in any release.
Every such use in keras-apps goes through a function of this module, which
says why no public API does the job and what it falls back to when the
private name is gone. ``tests/test_compat.py`` calls each function against
the installed versions, so an upgrade that removes one fails there, under the
function's name, instead of deep inside a user's ``fit``; and it checks that
no other module imports ``keras.src`` or touches a private attribute of a
Keras or TensorFlow object.

Public APIs are used wherever they serve: attribute tracking instead of
``Layer._track_variable``, ``keras.Operation.compute_output_spec`` instead of
``keras.src.backend.compute_output_spec``, ``Model.input``/``Model.output``
instead of ``_inputs_struct``/``_outputs_struct``, ``super().variables``
instead of ``Optimizer._variables``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import keras

# The private names used below; tests/test_compat.py checks that no other
# module of keras_apps spells them.
PRIVATE_NAMES = (
    "_flatten_layers",
    "_trainable_variables",
    "_non_trainable_variables",
    "_trainable_variables_indices",
    "_var_key",
    "_apply_weight_decay",
    "_learning_rate",
    "_make_callable_from_options",
    "_keras_history",
    "_inputs_struct",
    "_outputs_struct",
)


def flatten_layers(
    layer: Any, include_self: bool = True, recursive: bool = True
) -> list[Any]:
    """The layer and the layers nested in it, each once, parents first.

    Private: ``Layer._flatten_layers``. No public API lists the sublayers a
    custom layer holds as attributes (the convolutions of an
    ``InceptionBlock``, the wrapped model of a ``HubBackbone`` classifier);
    ``Model.layers`` lists only the layers of a functional or Sequential
    model's own graph. Fallback: walk ``.layers`` of models, which misses
    sublayers of custom layers.
    """
    flatten = getattr(layer, "_flatten_layers", None)
    if flatten is not None:
        return list(flatten(include_self=include_self, recursive=recursive))
    found: list[Any] = [layer] if include_self else []
    seen = {id(layer)}
    stack = list(reversed(getattr(layer, "layers", None) or []))
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found.append(current)
        if recursive:
            stack.extend(reversed(getattr(current, "layers", None) or []))
    return found


def own_variables(layer: Any) -> list[Any]:
    """The variables a layer created itself, not those of its sublayers.

    Private: ``Layer._trainable_variables`` and ``_non_trainable_variables``
    (what ``Layer.save_own_variables`` writes). Public ``weights`` includes the
    sublayers' variables. Fallback: ``layer.weights`` minus the weights of the
    layers `flatten_layers` finds inside it.
    """
    trainable = getattr(layer, "_trainable_variables", None)
    non_trainable = getattr(layer, "_non_trainable_variables", None)
    if trainable is not None and non_trainable is not None:
        return list(trainable) + list(non_trainable)
    nested = {
        id(w)
        for sub in flatten_layers(layer, include_self=False, recursive=True)
        for w in sub.weights
    }
    return [w for w in layer.weights if id(w) not in nested]


def optimizer_variable_key(optimizer: Any, variable: Any) -> Any:
    """The key an optimizer indexes a model variable by.

    Private: ``Optimizer._var_key``. The TensorFlow optimizer maps a
    variable and its distributed (MirroredStrategy) components to one key;
    no public API exposes that. Fallback: ``id(variable)``, the base
    optimizer's key.
    """
    var_key = getattr(optimizer, "_var_key", None)
    if var_key is not None:
        return var_key(variable)
    return id(variable)


def optimizer_knows(optimizer: Any, variables: Sequence[Any]) -> bool | None:
    """Whether a built optimizer was built on every one of ``variables``.

    Private: ``Optimizer._trainable_variables_indices``. Keras optimizers
    cannot add variables after ``build`` and say so only when ``apply``
    fails; no public API lists the variables an optimizer was built on.
    Fallback: None (unknown), which callers treat as "not known".
    """
    known = getattr(optimizer, "_trainable_variables_indices", None)
    if known is None:
        return None
    return all(optimizer_variable_key(optimizer, v) in known for v in variables)


def route_weight_decay(
    optimizer: Any, replacement: Callable[[Callable[[Any], None]], Any]
) -> bool:
    """Routes an optimizer's decoupled weight decay through ``replacement``.

    Private: ``Optimizer._apply_weight_decay(variables)``, the step every
    Keras ``apply`` path (plain, TensorFlow-distributed, gradient
    accumulation) takes before ``update_step``; there is no public hook for
    per-variable weight decay. ``replacement(original)`` returns the new
    function. Returns False when the hook is gone (the fallback: callers
    refuse optimizers with ``weight_decay`` rather than decay at the wrong
    rate).
    """
    original = getattr(optimizer, "_apply_weight_decay", None)
    if original is None:
        return False
    object.__setattr__(optimizer, "_apply_weight_decay", replacement(original))
    return True


@contextlib.contextmanager
def scaled_learning_rate(optimizer: Any, factor: float) -> Iterator[None]:
    """Within the block, ``optimizer.learning_rate`` reads ``rate * factor``.

    Private: ``Optimizer._learning_rate``, what the ``learning_rate`` property
    reads (a variable, or a schedule evaluated at ``iterations``). Assigning
    the public ``learning_rate`` would write the variable, or refuse a
    schedule; this swaps the backing value without touching either and puts
    it back afterwards. Only used for weight decay, see
    `route_weight_decay` for its fallback.
    """
    original = optimizer._learning_rate
    rate = optimizer.learning_rate
    object.__setattr__(optimizer, "_learning_rate", keras.ops.multiply(rate, factor))
    try:
        yield
    finally:
        object.__setattr__(optimizer, "_learning_rate", original)


def session_callable(session: Any, options: Any) -> Any | None:
    """A callable for ``tf.compat.v1.CallableOptions``, or None.

    Private: ``tf.compat.v1.Session._make_callable_from_options``. The public
    ``Session.make_callable`` sends every call through the whole
    ``Session.run`` feed machinery; a callable made from ``CallableOptions``
    (what tf.keras's TF1 backend used) hands the arrays to C++ directly.
    Fallback: None, and the caller uses ``Session.make_callable``.
    """
    from_options = getattr(session, "_make_callable_from_options", None)
    if from_options is None:
        return None
    return from_options(options)


def in_safe_mode() -> bool:
    """Whether Keras is deserializing in safe mode right now.

    False outside any deserialization (a direct ``from_config`` call).
    Private: ``keras.src.saving.serialization_lib.in_safe_mode``. Keras does
    not pass ``safe_mode`` to a layer's ``from_config``, and no public API
    reads the ambient setting that ``load_model(safe_mode=...)`` and
    ``keras.config.enable_unsafe_deserialization`` set. Fallback: True (the
    cautious answer: a layer that runs external code refuses to load; build
    it with ``cls(**config)`` instead).
    """
    try:
        from keras.src.saving import serialization_lib
    except ImportError:
        return True
    return bool(serialization_lib.in_safe_mode())


def keras_home() -> str:
    """Keras' cache directory (``$KERAS_HOME``, else ``~/.keras``).

    Private: ``keras.src.backend.config.keras_home``, which also falls back to
    ``/tmp/.keras`` when the home directory is not writable; no public API
    returns it. Fallback: the documented rule without the ``/tmp`` case.
    """
    try:
        from keras.src.backend import config
    except ImportError:
        return os.path.expanduser(os.environ.get("KERAS_HOME", "~/.keras"))
    return str(config.keras_home())


def producing_layer(tensor: Any) -> Any | None:
    """The layer that produced a symbolic ``KerasTensor``, or None.

    Private: ``KerasTensor._keras_history``. Functional models expose their
    output tensors (``Model.output``) but not which layer made each one.
    Fallback: None (callers then name outputs by position).
    """
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None)


def functional_structures(model: Any) -> tuple[Any, Any] | None:
    """A functional model's (inputs, outputs) as built, or None if not one.

    ``Model.input`` and ``Model.output`` return the structures a functional
    model was built with, but on a subclassed model they raise or, once it
    was called on symbolic inputs, return that call's tensors. No public API
    says whether a model is functional; the private ``_inputs_struct`` only
    exists on functional models. Fallback: None, and the model is treated as
    a subclassed one (inputs and outputs named by position).
    """
    if hasattr(model, "_inputs_struct") and hasattr(model, "_outputs_struct"):
        return model.input, model.output
    return None
