"""Layers inside nested models: lookup by name and models tapped at any depth.

A backbone nested inside a classifier is one layer of the classifier, so
``classifier.get_layer("conv3")`` fails and ``backbone.get_layer("conv3").output``
belongs to the backbone's own graph, not to the classifier's (the limitation of
tf-keras-vis#48 and #63). The functions here rebuild a model's graph on new
inputs with the same layers (``keras.models.clone_model`` with an identity
``clone_function`` and a ``call_function``; no weight is copied), descend into
nested functional and Sequential models, and hand every layer call to a
visitor. `tapped_model` uses that to return the outputs of layers at any
depth together with the model's outputs, as one functional model that runs on
every backend and compiles like the original.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

Visitor = Callable[[keras.layers.Layer, tuple, dict], Any]


def is_graph_model(layer: Any) -> bool:
    """True for functional and Sequential models: those whose graph is known."""
    if isinstance(layer, keras.Sequential):
        return True
    if not isinstance(layer, keras.Model):
        return False
    # Subclassed models have no symbolic inputs and outputs.
    try:
        return bool(layer.inputs) and bool(layer.outputs)
    except (AttributeError, ValueError):
        return False


def _children(model: keras.Model) -> list[keras.layers.Layer]:
    return [
        layer
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    ]


def layer_paths(model: keras.Model) -> list[tuple[str, keras.layers.Layer]]:
    """Every layer of ``model`` and of its nested models, as ("outer/inner", layer)."""
    found: list[tuple[str, keras.layers.Layer]] = []

    def walk(current: keras.Model, prefix: str) -> None:
        for layer in _children(current):
            path = f"{prefix}{layer.name}"
            found.append((path, layer))
            if is_graph_model(layer):
                walk(layer, f"{path}/")

    walk(model, "")
    return found


def check_model(model: Any, what: str = "model") -> keras.Model:
    """The model, if it is a single-input functional or Sequential model."""
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"Expected `{what}` to be a Keras model. Received: {type(model).__name__}"
        )
    if not is_graph_model(model):
        raise ValueError(
            f"Expected a functional or Sequential model (with a known graph, e.g. "
            f"built from keras.Input). Received a subclassed model "
            f"{model.name!r} of type {type(model).__name__}; wrap it in "
            "keras.Model(inputs, outputs) first."
        )
    if len(model.inputs) != 1:
        raise ValueError(
            f"Expected a model with one image input. Received {model.name!r} "
            f"with {len(model.inputs)} inputs."
        )
    return model


def find_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    """The layer called ``name`` at any depth (or at the path "backbone/name").

    Raises:
        ValueError: naming the model's layers (with their nesting paths) when
            no layer or more than one layer matches.
    """
    if not isinstance(name, str):
        raise ValueError(
            f"Expected `layer_name` to be a string. Received: {name!r} of type "
            f"{type(name).__name__}"
        )
    paths = layer_paths(model)
    matches = [layer for path, layer in paths if path == name]
    if not matches:
        matches = [layer for path, layer in paths if layer.name == name]
    unique = list({id(layer): layer for layer in matches}.values())
    if len(unique) == 1:
        return unique[0]
    listing = [path for path, _ in paths]
    if not unique:
        raise ValueError(
            f"No layer named {name!r} in model {model.name!r}. Layers (nested "
            f"ones as 'model/layer'): {listing}"
        )
    ambiguous = [path for path, layer in paths if layer.name == name]
    raise ValueError(
        f"Layer name {name!r} is ambiguous in model {model.name!r}: it matches "
        f"{ambiguous}. Pass the full path, one of {ambiguous}."
    )


def _contains(model: keras.Model, targets: set[int]) -> bool:
    return any(id(layer) in targets for _, layer in layer_paths(model))


def fresh_inputs(model: keras.Model, like: Any = None) -> Any:
    """New ``keras.Input`` tensors shaped as ``like`` or as the model's inputs."""
    if like is not None:
        source = like
    elif isinstance(model, keras.Sequential):
        source = model.inputs[0]
    else:
        source = model.input
    return keras.tree.map_structure(
        lambda t: keras.Input(batch_shape=tuple(t.shape), dtype=t.dtype), source
    )


def rebuild(model: keras.Model, visit: Visitor, inputs: Any = None) -> tuple[Any, Any]:
    """Runs the graph of ``model`` on new inputs, each layer call through ``visit``.

    ``visit(layer, args, kwargs)`` must return what ``layer(*args, **kwargs)``
    would. Returns ``(inputs, outputs)`` of the rebuilt graph; the layers are
    the model's own (shared weights).
    """
    if inputs is None:
        inputs = fresh_inputs(model)
    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in _children(model):
            x = visit(layer, (x,), {})
        return inputs, x

    def call_function(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        return visit(layer, args, kwargs)

    clone = keras.models.clone_model(
        model,
        input_tensors=inputs,
        clone_function=lambda layer: layer,
        call_function=call_function,
    )
    return inputs, clone.output


def tapped_model(
    model: keras.Model,
    layers: Sequence[keras.layers.Layer],
    include_outputs: bool = False,
) -> keras.Model:
    """A model from ``model``'s input to the outputs of ``layers`` at any depth.

    Its outputs are a list: one tensor per layer (the first call of a shared
    layer), then, with ``include_outputs``, the model's outputs.
    """
    targets = {id(layer): layer for layer in layers}
    inputs, outputs, tapped = _tap(model, targets)
    missing = [layer.name for key, layer in targets.items() if key not in tapped]
    if missing:
        raise ValueError(
            f"Layers {missing} of model {model.name!r} are not on the path from "
            "its input to its outputs."
        )
    result = [tapped[id(layer)] for layer in layers]
    if include_outputs:
        result += keras.tree.flatten(outputs)
    return keras.Model(inputs, result, name=f"{model.name}_taps")


def _tap(
    model: keras.Model, targets: dict[int, keras.layers.Layer]
) -> tuple[Any, Any, dict[int, Any]]:
    tapped: dict[int, Any] = {}
    wanted = set(targets)

    def visit(layer: keras.layers.Layer, args: tuple, kwargs: dict) -> Any:
        if is_graph_model(layer) and _contains(layer, wanted):
            inner = [
                t
                for _, t in layer_paths(layer)
                if id(t) in wanted and id(t) not in tapped
            ]
            inner_ids = {id(t): t for t in inner}
            sub_inputs, sub_outputs, sub_tapped = _tap(layer, inner_ids)
            found = [t for t in inner if id(t) in sub_tapped]
            flat_outputs = keras.tree.flatten(sub_outputs)
            sub = keras.Model(
                sub_inputs,
                flat_outputs + [sub_tapped[id(t)] for t in found],
                name=f"{layer.name}_taps",
            )
            call_args = args[0] if len(args) == 1 else list(args)
            values = keras.tree.flatten(sub(call_args))
            for t, value in zip(found, values[len(flat_outputs) :], strict=True):
                tapped[id(t)] = value
            outputs = keras.tree.pack_sequence_as(
                sub_outputs, values[: len(flat_outputs)]
            )
        else:
            outputs = layer(*args, **kwargs)
        if id(layer) in wanted:
            tapped.setdefault(id(layer), outputs)
        return outputs

    inputs, outputs = rebuild(model, visit)
    return inputs, outputs, tapped


def check_images(model: keras.Model, images: np.ndarray, what: str = "images") -> None:
    """Raises a clear error when a batch does not fit the model's input."""
    expected = tuple(model.inputs[0].shape)
    shape = tuple(np.shape(images))
    ok = len(shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected[1:], shape[1:], strict=False)
    )
    if not ok:
        example = "(" + ", ".join("N" if d is None else str(d) for d in expected) + ")"
        raise ValueError(
            f"Expected `{what}` of shape {example} for the input of model "
            f"{model.name!r} (input shape {expected}). Received: shape {shape}. "
            "Pass a batch of images (add a batch axis for a single image)."
        )


def channels_last_map(layer_name: str, shape: Sequence[Any]) -> None:
    """Raises unless ``shape`` is a rank-4 (batch, height, width, channels) map."""
    if len(shape) != 4:
        raise ValueError(
            f"Expected layer {layer_name!r} to output (batch, height, width, "
            f"channels) feature maps. Received: output shape {tuple(shape)}. "
            "Pick a convolution or pooling layer."
        )
