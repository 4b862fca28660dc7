"""A multi-output model over named layers, for style transfer and visualization.

`feature_extractor` turns a backbone name (through `load_backbone`, so the
0..255 preprocessing is inside and missing weights raise
`WeightsUnavailableError`) or any functional Keras model into a model whose
outputs are a dict ``{layer_name: activations}``. Keras keeps only the part
of the graph the requested layers need, so a VGG extractor over
``block1_conv1 ... block4_conv2`` never runs block 5.

`PRESET_LAYERS` holds the content and style layers of the papers for VGG-16
and VGG-19.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.transfer.backbones import load_backbone
from keras_apps.transfer.features import _find_tensor

__all__ = ["PRESET_LAYERS", "feature_extractor", "preset_layers"]

PRESET_LAYERS: dict[str, dict[str, tuple[str, ...]]] = {
    # Gatys, Ecker and Bethge 2016: content conv4_2, style conv1_1 ... conv5_1.
    "vgg19": {
        "content": ("block4_conv2",),
        "style": (
            "block1_conv1",
            "block2_conv1",
            "block3_conv1",
            "block4_conv1",
            "block5_conv1",
        ),
    },
    # Johnson, Alahi and Fei-Fei 2016: content relu2_2, style relu1_2,
    # relu2_2, relu3_3, relu4_3 (Keras' VGG convolutions include the ReLU).
    "vgg16": {
        "content": ("block2_conv2",),
        "style": ("block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3"),
    },
}
"""Content and style layers of the papers, per backbone name."""

SPEC_ATTRIBUTE = "feature_extractor_spec"
"""Attribute set on extractors built from a name: how to build them again."""


def preset_layers(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``(content_layers, style_layers)`` of the papers for a backbone.

    Args:
        name: ``"vgg19"`` (Gatys et al. 2016) or ``"vgg16"`` (Johnson et al.
            2016).

    Example:

    >>> from keras_apps.transfer import preset_layers
    >>> content, style = preset_layers("vgg19")
    >>> content, len(style)
    (('block4_conv2',), 5)
    """
    key = _preset_key(name)
    if key is None:
        raise ValueError(
            f"Expected one of the presets {sorted(PRESET_LAYERS)}. "
            f"Received: name={name!r}"
        )
    return PRESET_LAYERS[key]["content"], PRESET_LAYERS[key]["style"]


def _preset_key(name: Any) -> str | None:
    if not isinstance(name, str):
        return None
    key = name.lower().replace("-", "_")
    return key if key in PRESET_LAYERS else None


def feature_extractor(
    model_or_name: keras.Model | str,
    layers: str | Sequence[str] | None = None,
    weights: str | os.PathLike[str] | None = "imagenet",
    input_shape: tuple[int | None, int | None, int] = (None, None, 3),
) -> keras.Model:
    """A model from images to ``{layer_name: activations}`` for named layers.

    Args:
        model_or_name: A backbone name for `load_backbone` (``"vgg19"``,
            ``"vgg16"``, any ``keras.applications`` name ...), or a
            functional / Sequential Keras model. Layers may sit inside a
            nested model (a backbone used as a layer of a classifier) when
            the outer model feeds it through a chain of single-input layers.
        layers: Layer names (or one name). Defaults, for ``"vgg16"`` and
            ``"vgg19"``, to the papers' content and style layers
            (`PRESET_LAYERS`); required otherwise.
        weights: For a name: ``"imagenet"`` (downloaded once; raises
            `WeightsUnavailableError` when it cannot be), ``None`` (random
            filters) or a weights file. Ignored for a model.
        input_shape: For a name: the image shape; ``(None, None, 3)``
            (default) accepts any size.

    Returns:
        A functional ``keras.Model`` with the inputs of the backbone (raw
        0..255 RGB images for a name: the ImageNet preprocessing is inside)
        and a dict of outputs keyed by layer name, in the order given.

    Raises:
        ValueError: An unknown layer name; the message lists the model's
            layers.
        WeightsUnavailableError: ``weights="imagenet"`` and the file cannot
            be downloaded.

    Example:

    >>> from keras_apps.transfer import feature_extractor
    >>> extractor = feature_extractor(
    ...     "vgg19", ["block1_conv1", "block2_conv1"], weights=None)
    >>> list(extractor.output)
    ['block1_conv1', 'block2_conv1']
    >>> extractor.output["block2_conv1"].shape
    (None, None, None, 128)
    """
    spec: dict[str, Any] | None = None
    if isinstance(model_or_name, (str, os.PathLike)):
        name = os.fspath(model_or_name)
        key = _preset_key(name)
        if layers is None:
            if key is None:
                raise ValueError(
                    f"Pass `layers`: there are preset layers only for "
                    f"{sorted(PRESET_LAYERS)}. Received: model_or_name={name!r}, "
                    "layers=None"
                )
            layers = _unique(
                PRESET_LAYERS[key]["content"] + PRESET_LAYERS[key]["style"]
            )
        model = load_backbone(name, input_shape, weights=weights)
        spec = {
            "name": name,
            "weights": None if weights is None else os.fspath(weights),
            "input_shape": list(input_shape),
        }
    elif isinstance(model_or_name, keras.Model):
        model = model_or_name
        if layers is None:
            raise ValueError(
                "Pass `layers`, the names of the layers to extract. Received: "
                f"layers=None for the model {model.name!r}. Its layers: "
                f"{[layer.name for layer in model.layers]}"
            )
    else:
        raise ValueError(
            "Expected `model_or_name` to be a Keras model or a backbone name. "
            f"Received: {type(model_or_name).__name__}"
        )
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(
            f"Expected at least one layer name (strings). Received: layers={layers!r}"
        )
    names = _unique(names)
    if not model.inputs:
        raise ValueError(
            f"Expected a functional or Sequential model with known inputs. "
            f"Received the model {model.name!r} without `inputs`: build it "
            "with keras.Input."
        )
    outputs = _outputs_for(model, names)
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, outputs, name=f"{model.name}_features")
    if spec is not None:
        spec["layers"] = list(names)
        setattr(extractor, SPEC_ATTRIBUTE, spec)
    return extractor


def _unique(names: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _outputs_for(model: keras.Model, names: list[str]) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    nested: dict[str, list[str]] = {}
    for name in names:
        try:
            outputs[name] = _find_tensor(model, name)
            continue
        except ValueError as error:
            owner = _nested_owner(model, name)
            if owner is None:
                raise ValueError(f"{error}{_nested_listing(model)}") from None
            nested.setdefault(owner.name, []).append(name)
    for owner_name, inner_names in nested.items():
        owner = model.get_layer(owner_name)
        inner = feature_extractor(owner, inner_names)
        feeding = _chain_input_of(model, owner)
        for name, tensor in inner(feeding).items():
            outputs[name] = tensor
    return {name: outputs[name] for name in names}


def _nested_owner(model: keras.Model, name: str) -> keras.Model | None:
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            try:
                layer.get_layer(name)
            except ValueError:
                continue
            return layer
    return None


def _nested_listing(model: keras.Model) -> str:
    parts = [
        f" Layers of the nested model {layer.name!r}: "
        f"{[inner.name for inner in layer.layers]}"
        for layer in model.layers
        if isinstance(layer, keras.Model)
    ]
    return "".join(parts)


def _chain_input_of(model: keras.Model, owner: keras.Model) -> Any:
    """The tensor of ``model``'s graph that feeds the nested model ``owner``.

    Public APIs do not tell which tensor a nested functional model was called
    on, so this follows the layers before it, which must form a chain from
    the model input (each one taking the previous one's output).
    """
    if len(model.inputs) != 1:
        raise ValueError(
            f"Layers inside the nested model {owner.name!r} can be extracted "
            f"from a single-input model only; extract from the nested model "
            f"instead: feature_extractor(model.get_layer({owner.name!r}), ...)."
        )
    current = model.inputs[0]
    for layer in model.layers:
        if layer is owner:
            return current
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if isinstance(layer, keras.Model) or layer.input is not current:
            raise ValueError(
                f"The layers before the nested model {owner.name!r} do not form "
                f"a chain from the input (at {layer.name!r}); extract from the "
                f"nested model instead: "
                f"feature_extractor(model.get_layer({owner.name!r}), ...)."
            )
        current = layer.output
    raise ValueError(f"{owner.name!r} is not a layer of {model.name!r}.")
