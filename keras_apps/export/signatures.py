"""Serving signatures with stable, readable keys. Needs TensorFlow.

Keras names an unnamed ``keras.Input`` ``keras_tensor``, ``keras_tensor_2``...
depending on what the process built before, and ``model.export`` uses those
names as signature keys. Here the keys come from what the user chose (the
``keras.Input(name=...)``, dict keys, the name of an output layer) and fall
back to ``input``/``input_0``... and ``output``/``output_0``..., so the same
model gives the same keys in every process.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from keras_apps import _compat
from keras_apps._layout import DEFAULT_SIGNATURE_KEY

SERVING_DEFAULT = DEFAULT_SIGNATURE_KEY
IMAGE_BYTES_SIGNATURE = "serving_image_bytes"
IMAGE_UINT8_SIGNATURE = "serving_image_uint8"
IMAGE_BYTES_KEY = "image_bytes"
IMAGE_UINT8_KEY = "images"

_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_.\-]*$")
_AUTO_INPUT_RE = re.compile(r"^(keras_tensor|input_layer|input)(_[0-9]+)?$")


@dataclass(frozen=True)
class TensorInfo:
    """The dtype and shape of one signature input or output (``None``: any)."""

    dtype: str
    shape: tuple[int | None, ...] | None

    def __str__(self) -> str:
        shape = "unknown" if self.shape is None else list(self.shape)
        return f"{self.dtype} {shape}"


@dataclass(frozen=True)
class SignatureInfo:
    """One signature of a SavedModel: its input and output keys."""

    name: str
    inputs: dict[str, TensorInfo] = field(default_factory=dict)
    outputs: dict[str, TensorInfo] = field(default_factory=dict)

    def describe(self) -> str:
        """A few readable lines, as ``keras-apps export`` prints them."""
        lines = [f"signature '{self.name}':"]
        lines += [f"  input  {k}: {v}" for k, v in sorted(self.inputs.items())]
        lines += [f"  output {k}: {v}" for k, v in sorted(self.outputs.items())]
        return "\n".join(lines)


@dataclass
class InputPlan:
    """How flat, named signature inputs map onto the model's call."""

    structure: Any  # the model's input structure with one spec per leaf
    names: list[str]
    specs: list[tf.TensorSpec]
    positional: bool  # True: call model(*packed), False: call model(packed)

    def pack(self, flat: Sequence[Any]) -> Any:
        return keras.tree.pack_sequence_as(self.structure, list(flat))

    def call(self, model: keras.Model, flat: Sequence[Any]) -> Any:
        packed = self.pack(flat)
        if self.positional:
            return model(*packed, training=False)
        return model(packed, training=False)

    def flatten(self, values: Any) -> list[Any]:
        """Model-structured inputs, or a dict keyed by signature key, to a list."""
        if isinstance(values, dict) and set(values) == set(self.names):
            return [values[name] for name in self.names]
        if len(self.names) == 1 and not isinstance(values, (list, tuple, dict)):
            return [values]
        structure = self.structure
        if self.positional and len(structure) == 1:
            structure = structure[0]
        try:
            flat = keras.tree.flatten(values)
            keras.tree.assert_same_structure(values, structure)
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Expected inputs shaped like the model's inputs or a dict with "
                f"keys {self.names}. Received: {_describe_value(values)}"
            ) from error
        return flat


def _describe_value(values: Any) -> str:
    def one(v: Any) -> str:
        shape = getattr(v, "shape", None)
        return f"array{tuple(shape)}" if shape is not None else type(v).__name__

    if isinstance(values, dict):
        return "{" + ", ".join(f"{k!r}: {one(v)}" for k, v in values.items()) + "}"
    if isinstance(values, (list, tuple)):
        return "[" + ", ".join(one(v) for v in values) + "]"
    return one(values)


def _check_keys(names: Sequence[str], what: str) -> None:
    for name in names:
        if not isinstance(name, str) or not _KEY_RE.match(name):
            raise ValueError(
                f"Expected {what} made of letters, digits, '_', '.' or '-' and "
                f"starting with a letter. Received: {name!r}"
            )
    duplicates = sorted({n for n in names if list(names).count(n) > 1})
    if duplicates:
        raise ValueError(
            f"Expected distinct {what}. Received duplicates {duplicates} in "
            f"{list(names)}"
        )


def _spec_of(leaf: Any) -> tuple[tuple[int | None, ...], str]:
    shape = tuple(leaf.shape)
    dtype = keras.backend.standardize_dtype(leaf.dtype or "float32")
    return (None, *shape[1:]) if shape else shape, dtype


def plan_inputs(
    model: keras.Model, input_names: Sequence[str] | None = None
) -> InputPlan:
    """Finds the model's inputs and gives each a stable signature key.

    A functional or Sequential model gives its ``keras.Input`` tensors; a
    subclassed model the shapes of its first call. Dict inputs keep their
    keys; a named ``keras.Input`` keeps its name; others get ``input`` (one
    input) or ``input_<i>`` (by position).

    Args:
        model: A built Keras model.
        input_names: Keys to use instead, in the order of
            ``keras.tree.flatten`` of the model's inputs.
    """
    positional = False
    if isinstance(model, keras.Sequential):
        if not model.built or not model.inputs:
            raise ValueError(
                "Expected a built Sequential model. Received an unbuilt one: "
                "start it with `keras.Input(shape)` or call it once on a batch."
            )
        structure: Any = model.inputs[0]
        leaf_names = [_user_input_name(model.inputs[0])]
    elif (structures := _compat.functional_structures(model)) is not None:
        structure = structures[0]
        paths = keras.tree.flatten_with_path(structure)
        leaf_names = []
        for path, leaf in paths:
            if path and isinstance(path[-1], str):
                leaf_names.append(str(path[-1]))
            else:
                leaf_names.append(_user_input_name(leaf))
    else:
        structure = _subclassed_input_structure(model)
        positional = True
        paths = keras.tree.flatten_with_path(structure)
        leaf_names = [
            str(path[-1]) if path and isinstance(path[-1], str) else None
            for path, _ in paths
        ]

    leaves = keras.tree.flatten(structure)
    if input_names is not None:
        names = list(input_names)
        if len(names) != len(leaves):
            raise ValueError(
                f"Expected {len(leaves)} input name(s), one per model input. "
                f"Received: input_names={names}"
            )
    elif len(leaves) == 1:
        names = [leaf_names[0] or "input"]
    else:
        names = [n or f"input_{i}" for i, n in enumerate(leaf_names)]
    _check_keys(names, "input names")
    specs = []
    for name, leaf in zip(names, leaves, strict=True):
        shape, dtype = _spec_of(leaf)
        specs.append(tf.TensorSpec(shape, tf.as_dtype(dtype), name=name))
    spec_structure = keras.tree.pack_sequence_as(structure, specs)
    return InputPlan(spec_structure, names, specs, positional)


def _user_input_name(tensor: Any) -> str | None:
    name = getattr(tensor, "name", None)
    if not name or _AUTO_INPUT_RE.match(name):
        return None
    return str(name)


def _subclassed_input_structure(model: keras.Model) -> list[Any]:
    build_config = (model.get_build_config() or {}) if model.built else {}
    if "shapes_dict" in build_config:
        shapes = list(build_config["shapes_dict"].values())
    elif "input_shape" in build_config:
        shapes = [build_config["input_shape"]]
    else:
        shapes = []
    if not shapes:
        raise ValueError(
            f"Expected a model that knows its input shapes. Received the "
            f"subclassed model {model.name!r} that was never called: call it "
            "once on a batch (e.g. `model(x)`) before exporting."
        )
    dtype = getattr(model, "input_dtype", None) or "float32"

    def to_spec(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: to_spec(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and all(
            d is None or isinstance(d, int) for d in value
        ):
            return keras.KerasTensor((None, *tuple(value)[1:]), dtype=dtype)
        if isinstance(value, (list, tuple)):
            return [to_spec(v) for v in value]
        raise ValueError(f"Unsupported input shape structure: {value!r}")

    return [to_spec(v) for v in shapes]


def _snake_case(name: str) -> str:
    # The rule Keras uses to name layers after their class.
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _auto_layer_name(operation: Any) -> bool:
    snake = _snake_case(type(operation).__name__)
    return bool(re.match(rf"^{re.escape(snake)}(_[0-9]+)?$", operation.name))


def default_output_names(model: keras.Model, outputs: Any) -> list[str]:
    """Stable keys for ``outputs`` (the model's output structure).

    Dict outputs keep their keys. Otherwise a functional or Sequential model
    names an output after the layer that makes it when the user named that
    layer, and anything else is ``output`` (one output) or ``output_<i>``.
    """
    paths = keras.tree.flatten_with_path(outputs)
    if isinstance(outputs, dict):
        names = ["_".join(str(p) for p in path) for path, _ in paths]
        return names
    layer_names: list[str | None] = [None] * len(paths)
    symbolic = None
    if isinstance(model, keras.Sequential) and model.outputs:
        symbolic = list(model.outputs)
    elif (structures := _compat.functional_structures(model)) is not None:
        symbolic = keras.tree.flatten(structures[1])
    if symbolic is not None and len(symbolic) == len(paths):
        for i, tensor in enumerate(symbolic):
            operation = _compat.producing_layer(tensor)
            if operation is not None and not _auto_layer_name(operation):
                layer_names[i] = operation.name
        counts = {n: layer_names.count(n) for n in layer_names if n}
        layer_names = [n if n and counts[n] == 1 else None for n in layer_names]
    if len(paths) == 1:
        return [layer_names[0] or "output"]
    return [n or f"output_{i}" for i, n in enumerate(layer_names)]


@dataclass
class ServingFunctions:
    """The signatures to export and the model call they share.

    ``uint8_outputs`` maps the output keys served as uint8 pixels to the
    ``(low, high)`` range of the model's values that maps onto 0..255.
    """

    plan: InputPlan
    output_names: list[str]
    functions: dict[str, Callable[..., Any]]
    input_signatures: dict[str, list[tf.TensorSpec]]
    uint8_outputs: dict[str, tuple[float, float]] = field(default_factory=dict)


def scale_to_uint8(values: Any, low: float, high: float) -> Any:
    """``values`` in ``[low, high]`` to uint8 pixels: mapped linearly onto
    0..255, clipped and rounded (half to even, as ``np.round``)."""
    scaled = (tf.cast(values, tf.float32) - low) * (255.0 / (high - low))
    return tf.cast(tf.round(tf.clip_by_value(scaled, 0.0, 255.0)), tf.uint8)


def resolve_uint8_outputs(
    uint8_outputs: Any, names: Sequence[str], dtypes: Sequence[str]
) -> dict[str, tuple[float, float]]:
    """Checks ``uint8_outputs`` (a pair, or a dict of pairs by output key)."""
    if uint8_outputs is None:
        return {}
    if isinstance(uint8_outputs, Mapping):
        ranges = dict(uint8_outputs)
        unknown = sorted(str(k) for k in set(ranges) - set(names))
        if unknown:
            raise ValueError(
                f"`uint8_outputs` names outputs {unknown} that the model does "
                f"not have; its output keys are {list(names)}. Received: "
                f"uint8_outputs={uint8_outputs!r}"
            )
    else:
        ranges = {name: uint8_outputs for name in names}
    resolved = {}
    for name, value_range in ranges.items():
        pair = (
            tuple(value_range)
            if isinstance(value_range, (list, tuple)) and len(value_range) == 2
            else None
        )
        if pair is None or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in pair
        ):
            raise ValueError(
                "`uint8_outputs` must be a (low, high) pair of numbers, or a "
                "dict from output key to such a pair: the range of the "
                "model's values that maps onto 0..255, e.g. (-1, 1) for tanh "
                f"images. Received: uint8_outputs={uint8_outputs!r}"
            )
        low, high = float(pair[0]), float(pair[1])
        if not low < high:
            raise ValueError(
                f"`uint8_outputs` needs low < high for output {name!r}. "
                f"Received: uint8_outputs={uint8_outputs!r}"
            )
        dtype = dtypes[list(names).index(name)]
        if not tf.as_dtype(dtype).is_floating:
            raise ValueError(
                f"`uint8_outputs` maps float outputs to pixels; output {name!r} "
                f"has dtype {dtype}. Received: uint8_outputs={uint8_outputs!r}"
            )
        resolved[name] = (low, high)
    return resolved


def _name_outputs(outputs: Any, names: Sequence[str]) -> dict[str, Any]:
    flat = keras.tree.flatten(outputs)
    return dict(zip(names, flat, strict=True))


def build_serving_functions(
    model: keras.Model,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    image_bytes_signature: bool = False,
    image_to_image: bool = False,
    uint8_outputs: Any = None,
) -> ServingFunctions:
    """Builds the Python functions behind each signature, with their specs.

    ``serving_default`` takes one tensor per model input and returns a dict of
    named outputs. With ``image_bytes_signature``, ``serving_image_bytes``
    takes a batch of encoded JPEG/PNG strings (key ``image_bytes``) and
    ``serving_image_uint8`` a batch of uint8 pixels of any size (key
    ``images``): both decode to float32 pixels in 0..255, resize bilinearly to
    the model's input height and width when the size differs, and call the
    model, so they fit models that include their own preprocessing.
    With ``image_to_image``, the signatures of
    `keras_apps.export.image_to_image` (uint8 or image bytes in, uint8
    images out, an optional ``strength`` blend) are added.
    With ``uint8_outputs`` (see `resolve_uint8_outputs`), those outputs of
    ``serving_default`` and of the image-bytes signatures are uint8 pixels
    (`scale_to_uint8`); the image-to-image signatures make their own.
    """
    plan = plan_inputs(model, input_names)
    sample = [
        keras.KerasTensor((1, *spec.shape[1:]), dtype=spec.dtype.name)
        for spec in plan.specs
    ]
    try:
        symbolic_outputs = _symbolic_outputs(model, plan, sample)
    except Exception as error:  # noqa: BLE001 - any failure means "cannot trace"
        raise ValueError(
            f"Could not run the model {model.name!r} on inputs "
            f"{[str(s) for s in plan.specs]}: {error}"
        ) from error
    flat_outputs = keras.tree.flatten(symbolic_outputs)
    if output_names is None:
        names = default_output_names(model, symbolic_outputs)
    else:
        names = list(output_names)
        if len(names) != len(flat_outputs):
            raise ValueError(
                f"Expected {len(flat_outputs)} output name(s), one per model "
                f"output. Received: output_names={names}"
            )
    _check_keys(names, "output names")
    ranges = resolve_uint8_outputs(
        uint8_outputs,
        names,
        [keras.backend.standardize_dtype(o.dtype) for o in flat_outputs],
    )

    def serve_float(*flat_inputs: Any) -> dict[str, Any]:
        return _name_outputs(plan.call(model, flat_inputs), names)

    def serve(*flat_inputs: Any) -> dict[str, Any]:
        outputs = serve_float(*flat_inputs)
        for key, (low, high) in ranges.items():
            outputs[key] = scale_to_uint8(outputs[key], low, high)
        return outputs

    functions: dict[str, Callable[..., Any]] = {SERVING_DEFAULT: serve}
    signatures = {SERVING_DEFAULT: list(plan.specs)}
    if image_bytes_signature:
        height, width, channels, dtype = image_input_geometry(plan)

        def to_model_input(pixels: Any) -> Any:
            pixels = tf.cast(pixels, tf.float32)
            size = tf.shape(pixels)[1:3]
            pixels = tf.cond(
                tf.reduce_all(tf.equal(size, [height, width])),
                lambda: pixels,
                lambda: tf.image.resize(pixels, (height, width), method="bilinear"),
            )
            pixels = tf.ensure_shape(pixels, (None, height, width, channels))
            return tf.cast(pixels, dtype)

        def decode_one(encoded: Any) -> Any:
            image = tf.io.decode_image(
                encoded, channels=channels, expand_animations=False
            )
            image = tf.cast(image, tf.float32)[tf.newaxis]
            return to_model_input(image)[0]

        def serve_bytes(image_bytes: Any) -> dict[str, Any]:
            images = tf.map_fn(
                decode_one,
                image_bytes,
                fn_output_signature=tf.TensorSpec((height, width, channels), dtype),
            )
            return serve(images)

        def serve_uint8(images: Any) -> dict[str, Any]:
            return serve(to_model_input(images))

        functions[IMAGE_BYTES_SIGNATURE] = serve_bytes
        signatures[IMAGE_BYTES_SIGNATURE] = [
            tf.TensorSpec((None,), tf.string, name=IMAGE_BYTES_KEY)
        ]
        functions[IMAGE_UINT8_SIGNATURE] = serve_uint8
        signatures[IMAGE_UINT8_SIGNATURE] = [
            tf.TensorSpec((None, None, None, channels), tf.uint8, name=IMAGE_UINT8_KEY)
        ]
    if image_to_image:
        from keras_apps.export.image_to_image import image_to_image_functions

        extra_functions, extra_specs = image_to_image_functions(
            plan, names, serve_float
        )
        functions.update(extra_functions)
        signatures.update(extra_specs)
    return ServingFunctions(plan, names, functions, signatures, ranges)


def _symbolic_outputs(model: keras.Model, plan: InputPlan, sample: list[Any]) -> Any:
    packed = plan.pack(sample)
    if plan.positional:
        return model.compute_output_spec(*packed)
    return model.compute_output_spec(packed)


def image_input_geometry(plan: InputPlan) -> tuple[int, int, int, tf.DType]:
    """Height, width, channels and dtype of a model with one image input."""
    if len(plan.specs) != 1:
        raise ValueError(
            "The image-bytes signature needs a model with exactly one image "
            f"input. Received a model with inputs {plan.names}."
        )
    spec = plan.specs[0]
    shape = tuple(spec.shape)
    if (
        len(shape) != 4
        or shape[1] is None
        or shape[2] is None
        or shape[3] not in (1, 3)
        or not spec.dtype.is_floating
    ):
        raise ValueError(
            "The image-bytes signature needs one float image input of shape "
            "(batch, height, width, 1 or 3) with known height and width. "
            f"Received: input {plan.names[0]!r} of shape {list(shape)} and "
            f"dtype {spec.dtype.name}."
        )
    return int(shape[1]), int(shape[2]), int(shape[3]), spec.dtype


def signature_info(name: str, concrete: Any) -> SignatureInfo:
    """Reads the keys, dtypes and shapes of a concrete or loaded signature."""
    args, input_specs = concrete.structured_input_signature
    if not input_specs:  # a traced function with positional, named specs
        input_specs = {spec.name: spec for spec in keras.tree.flatten(args)}
    outputs = concrete.structured_outputs

    def info(spec: Any) -> TensorInfo:
        shape = None if spec.shape.rank is None else tuple(spec.shape.as_list())
        return TensorInfo(spec.dtype.name, shape)

    return SignatureInfo(
        name,
        {k: info(v) for k, v in input_specs.items()},
        {k: info(v) for k, v in outputs.items()},
    )
