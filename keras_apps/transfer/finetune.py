"""Unfreezing by layer count or name instead of magic slice numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import keras

from keras_apps import _compat


@dataclass
class _Leaf:
    layer: keras.layers.Layer
    ancestors: list[keras.layers.Layer] = field(default_factory=list)


def _is_batchnorm(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.BatchNormalization)


def weight_carrying_layers(model: keras.layers.Layer) -> list[_Leaf]:
    """Layers that own weights, bottom to top, recursing into nested models.

    A nested `keras.Model` is opened up; any other layer with weights (a
    `Conv2D`, a composite block such as `ResidualUnit`, a `HubBackbone`)
    counts as one layer.
    """
    leaves: list[_Leaf] = []

    def visit(layer: keras.layers.Layer, ancestors: list[keras.layers.Layer]) -> None:
        if isinstance(layer, keras.Model):
            for child in layer.layers:
                visit(child, [*ancestors, layer])
        elif layer.weights:
            leaves.append(_Leaf(layer, ancestors))

    if isinstance(model, keras.Model):
        for child in model.layers:
            visit(child, [model])
    else:
        visit(model, [])
    return leaves


def _set_trainable(
    leaf: _Leaf, all_layers: list[keras.layers.Layer], keep_batchnorm_frozen: bool
) -> None:
    # Making a container trainable cascades to all of its layers, so the
    # previous states are saved first and put back afterwards.
    frozen_ancestors = [a for a in leaf.ancestors if not a.trainable]
    if frozen_ancestors:
        states = [(layer, layer.trainable) for layer in all_layers]
        for ancestor in frozen_ancestors:
            ancestor.trainable = True
        for layer, state in states:
            if layer not in frozen_ancestors:
                layer.trainable = state
    leaf.layer.trainable = True
    if keep_batchnorm_frozen:
        for sub in _compat.flatten_layers(leaf.layer, include_self=False):
            if _is_batchnorm(sub):
                sub.trainable = False


def unfreeze(
    model: keras.layers.Layer,
    top_n: int | None = None,
    from_layer: str | None = None,
    keep_batchnorm_frozen: bool = True,
) -> list[str]:
    """Makes the top layers of a model trainable and says which ones.

    Counts weight-carrying layers from the output down, opening nested models
    (a backbone inside a classifier). Layers outside the selection keep their
    current state: ``unfreeze`` never freezes anything. To count inside the
    backbone only, pass the backbone (``model.get_layer("backbone")``).
    Recompile the model (or let `GradualUnfreezing` rebuild the train
    function) for the change to reach ``fit``.

    Args:
        model: A Keras model or layer.
        top_n: How many weight-carrying layers to unfreeze, from the top.
        from_layer: Name of a layer: it and every weight-carrying layer above
            it are unfrozen. Give ``top_n`` or ``from_layer``, not both;
            with neither, every layer is unfrozen.
        keep_batchnorm_frozen: If True, `BatchNormalization` layers stay
            frozen and are not counted by ``top_n`` (the usual advice when
            fine-tuning on little data: their statistics stay those of the
            pretraining data).

    Returns:
        The names of the layers made trainable, bottom to top.

    Raises:
        ValueError: on a bad ``top_n`` or an unknown ``from_layer``.

    Example:

    >>> import keras
    >>> from keras_apps.transfer import unfreeze
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(
    ...     3, name="a"), keras.layers.Dense(2, name="b")])
    >>> model.trainable = False
    >>> unfreeze(model, top_n=1)
    ['b']
    """
    if top_n is not None and from_layer is not None:
        raise ValueError(
            "Pass `top_n` or `from_layer`, not both. "
            f"Received: top_n={top_n}, from_layer={from_layer!r}"
        )
    leaves = weight_carrying_layers(model)
    candidates = [
        leaf
        for leaf in leaves
        if not (keep_batchnorm_frozen and _is_batchnorm(leaf.layer))
    ]
    if top_n is not None:
        if isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 0:
            raise ValueError(
                f"Expected `top_n` to be an int >= 0. Received: top_n={top_n!r}"
            )
        if top_n > len(candidates):
            raise ValueError(
                f"Expected `top_n` <= {len(candidates)}, the number of "
                f"weight-carrying layers of {model.name!r}"
                f"{' (BatchNormalization excluded)' if keep_batchnorm_frozen else ''}"
                f". Received: top_n={top_n}"
            )
        selected = candidates[len(candidates) - top_n :] if top_n else []
    elif from_layer is not None:
        names = [leaf.layer.name for leaf in candidates]
        start = _find_start(model, candidates, from_layer)
        if start is None:
            raise ValueError(
                f"No layer named {from_layer!r} in {model.name!r}. "
                f"Weight-carrying layers: {names}"
            )
        selected = candidates[start:]
    else:
        selected = candidates
    all_layers = _compat.flatten_layers(model)
    for leaf in selected:
        _set_trainable(leaf, all_layers, keep_batchnorm_frozen)
    return [leaf.layer.name for leaf in selected]


def _find_start(
    model: keras.layers.Layer, candidates: list[_Leaf], name: str
) -> int | None:
    for index, leaf in enumerate(candidates):
        if leaf.layer.name == name or any(a.name == name for a in leaf.ancestors[1:]):
            return index
    # A layer without weights (a pooling layer, an activation): start at the
    # first weight-carrying layer after it.
    order = [layer.name for layer in _ordered_layers(model)]
    if name in order:
        position = order.index(name)
        for index, leaf in enumerate(candidates):
            if order.index(leaf.layer.name) > position:
                return index
        return len(candidates)
    return None


def _ordered_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    """All layers, bottom to top, nested models opened in place."""
    if not isinstance(layer, keras.Model):
        return [layer]
    ordered: list[keras.layers.Layer] = []
    for child in layer.layers:
        ordered.append(child)
        if isinstance(child, keras.Model):
            ordered.extend(_ordered_layers(child))
    return ordered
