"""`HubBackbone`: a TF Hub / Kaggle / local SavedModel as a Keras 3 layer."""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import keras

from keras_apps import _backend, _compat
from keras_apps.api_export import keras_apps_export
from keras_apps.types import Tensor

_TF1_HUB_MARKER = "tfhub_module.pb"
_SAVED_MODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_CALL = "__call__"


# The SavedModel handles the caller trusts while loading in safe mode:
# None (nothing trusted), or a tuple of normalized handles ("*": any).
_TRUSTED_HANDLES: contextvars.ContextVar[tuple[str, ...] | None] = (
    contextvars.ContextVar("keras_apps_trusted_saved_models", default=None)
)


def _normalize_handle(handle: Any) -> str:
    text = os.fspath(handle) if isinstance(handle, os.PathLike) else str(handle)
    if "://" in text:
        return text.rstrip("/")
    return os.path.realpath(os.path.expanduser(text))


@contextlib.contextmanager
def trust_saved_models(handles: Iterable[Any] | None = None) -> Iterator[None]:
    """Lets `HubBackbone` load its SavedModel while Keras stays in safe mode.

    A ``.keras`` file with a `HubBackbone` needs ``safe_mode=False`` to load,
    because rebuilding the layer runs the SavedModel's graph. But
    ``safe_mode=False`` also unlocks Python bytecode (a ``keras.layers.Lambda``
    holding a ``lambda``) anywhere in the same file, which runs arbitrary
    Python at load time. Inside this context a `HubBackbone` loads under the
    default ``safe_mode=True`` when its handle is trusted, and everything else
    in the file is still checked by safe mode: a Lambda with bytecode is
    still refused.

    Trusting a SavedModel means trusting its graph: TensorFlow ops such as
    ``tf.io.read_file`` run with your permissions. Trust only SavedModels you
    made or whose source you trust.

    Args:
        handles: The SavedModel handles (local paths or URLs) to trust;
            ``None`` trusts the handle of every `HubBackbone` loaded inside.

    Example:
    >>> import os, tempfile, keras
    >>> from keras_apps.layers import HubBackbone, trust_saved_models
    >>> from keras_apps.transfer.backbones import export_hub_module
    >>> cnn = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
    ...                         keras.layers.GlobalAveragePooling2D()])
    >>> handle = export_hub_module(cnn, os.path.join(tempfile.mkdtemp(), "cnn"))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> keras.Sequential([keras.Input((8, 8, 3)), HubBackbone(handle)]).save(path)
    >>> with trust_saved_models([handle]):
    ...     model = keras.saving.load_model(path)  # safe_mode stays True
    >>> model.output_shape
    (None, 4)
    """
    trusted = ("*",) if handles is None else tuple(map(_normalize_handle, handles))
    token = _TRUSTED_HANDLES.set(trusted)
    try:
        yield
    finally:
        _TRUSTED_HANDLES.reset(token)


def _is_trusted(handle: Any) -> bool:
    trusted = _TRUSTED_HANDLES.get()
    if trusted is None:
        return False
    return "*" in trusted or _normalize_handle(handle) in trusted


@keras_apps_export("keras_apps.layers.HubBackbone")
class HubBackbone(keras.layers.Layer):
    """A TF Hub / Kaggle handle or a local SavedModel directory as a layer.

    Unlike ``hub.KerasLayer``, this is a Keras 3 layer: it works inside
    ``keras.Sequential`` and functional models, fine-tunes with any Keras
    optimizer (Adam included), saves to ``.keras`` and re-exports with
    ``model.export``.

    Two kinds of SavedModel are understood:

    - a TF2 reusable SavedModel (what TF Hub publishes, and what
      `keras_apps.transfer.export_hub_module` writes): a callable object with
      ``variables`` / ``trainable_variables`` and optionally
      ``regularization_losses``; its ``training`` argument follows Keras'
      ``training`` flag while the layer is trainable;
    - a SavedModel with named endpoints or signatures, such as
      ``model.export(...)`` writes (``serve`` endpoint, ``serving_default``
      signature).

    The endpoint is picked automatically when there is one obvious choice
    (the object's ``__call__``, or a single endpoint with at most its
    ``serving_default`` alias, or a single signature); otherwise pass
    ``signature``. Likewise a dict output with a single entry is unwrapped,
    and ``output_key`` picks one of several. Errors list the choices.

    The SavedModel's own ``tf.Variable`` objects become the layer's weights
    (wrapped as Keras variables under sanitized names, so that optimizers
    that create slot variables work), so fine-tuning updates what the
    SavedModel computes with. TF1 Hub modules (``tfhub_module.pb``) are not
    supported. Needs the TensorFlow backend. The SavedModel computes in the
    dtypes it was saved with, whatever the layer's dtype policy (inputs are
    cast to its signature's dtype).

    Saving: ``model.save("m.keras")`` stores the handle and the current
    (possibly fine-tuned) weights. Loading it back rebuilds the layer from
    the handle, which runs the SavedModel's graph code, so Keras refuses it in
    safe mode like ``keras.layers.TFSMLayer``: load inside
    `keras_apps.layers.trust_saved_models` to trust the SavedModel while safe
    mode still refuses Lambda bytecode in the file, or use
    ``keras.saving.load_model(path, safe_mode=False)`` for files you trust
    entirely.
    The handle must still be reachable when loading.

    Args:
        handle: A local SavedModel directory, or a URL (TF Hub, Kaggle
            Models, ``gs://``) resolved and cached by
            ``tensorflow_hub.resolve``.
        trainable: Whether fine-tuning updates the SavedModel's trainable
            variables. Defaults to ``False`` (frozen feature extractor).
        signature: Name of the endpoint to call: ``"__call__"``, an
            attribute function such as ``"serve"``, or a signature key such as
            ``"serving_default"``. Defaults to ``None`` (automatic).
        output_key: Which output to return when the endpoint returns several:
            a dict key, or an index for a tuple/list. Defaults to ``None``
            (automatic when there is only one).
        **kwargs: Standard layer arguments (``name``, ``dtype``).

    Call arguments:
        inputs: A tensor (or the structure the endpoint takes) matching the
            SavedModel's input signature.
        training: Python bool. Passed on to a TF2 reusable SavedModel's
            ``training`` argument when the layer is trainable; a frozen
            layer always runs in inference mode.

    Input shape:
        As the SavedModel's input signature, e.g. ``(batch, H, W, C)``.

    Output shape:
        As the selected output, e.g. ``(batch, features)``.

    Example:

    >>> import os, tempfile, keras, numpy as np
    >>> from keras_apps.layers import HubBackbone
    >>> from keras_apps.transfer.backbones import export_hub_module
    >>> cnn = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
    ...                         keras.layers.GlobalAveragePooling2D()])
    >>> handle = export_hub_module(cnn, os.path.join(tempfile.mkdtemp(), "cnn"))
    >>> model = keras.Sequential([keras.Input((8, 8, 3)), HubBackbone(handle),
    ...                           keras.layers.Dense(2)])
    >>> model.predict(np.zeros((1, 8, 8, 3)), verbose=0).shape
    (1, 2)

    A model from TF Hub or Kaggle (downloaded once into the hub cache):

    ```python
    backbone = HubBackbone(
        "https://www.kaggle.com/models/google/mobilenet-v2/TensorFlow2/"
        "035-128-feature-vector/2",
        trainable=True,
    )
    ```
    """

    def __init__(
        self,
        handle: str | os.PathLike[str],
        trainable: bool = False,
        signature: str | None = None,
        output_key: str | int | None = None,
        **kwargs: Any,
    ) -> None:
        _backend.require_tensorflow("HubBackbone", "loads TensorFlow SavedModels")
        if not isinstance(handle, (str, os.PathLike)) or not os.fspath(handle):
            raise ValueError(
                "Expected `handle` to be a SavedModel directory or a TF Hub / "
                f"Kaggle URL. Received: handle={handle!r}"
            )
        if signature is not None and not isinstance(signature, str):
            raise ValueError(
                "Expected `signature` to be an endpoint name (str) or None. "
                f"Received: signature={signature!r}"
            )
        if output_key is not None and (
            isinstance(output_key, bool) or not isinstance(output_key, (str, int))
        ):
            raise ValueError(
                "Expected `output_key` to be a dict key (str), an index (int) or "
                f"None. Received: output_key={output_key!r}"
            )
        super().__init__(trainable=trainable, **kwargs)
        self.handle = os.fspath(handle)
        self.signature = signature
        self.output_key = output_key

        import tensorflow as tf

        self._saved_model_dir = _resolve_handle(self.handle)
        # Kept off Keras' attribute tracking: the restored object is a TF
        # trackable, its variables are tracked below as Keras variables.
        loaded = tf.saved_model.load(self._saved_model_dir)
        object.__setattr__(self, "_loaded", loaded)
        endpoint = _select_endpoint(loaded, signature, self.handle)
        object.__setattr__(self, "_endpoint", endpoint)
        self._output_path = _select_output(endpoint, output_key, self.handle)

        trainable_ids = None
        if endpoint.kind == "call" and hasattr(loaded, "trainable_variables"):
            trainable_ids = {id(v) for v in loaded.trainable_variables}
        regularization = list(getattr(loaded, "regularization_losses", None) or [])
        object.__setattr__(self, "_regularization_fns", regularization)
        used_names: set[str] = set()
        wrapped = []
        for tf_variable in endpoint.variables():
            is_trainable = (
                tf_variable.trainable
                if trainable_ids is None
                else id(tf_variable) in trainable_ids
            )
            # In the layer's name scope, as `add_weight` does, so that variable
            # paths start with the layer name ("hub_backbone/conv2d_kernel")
            # and per-layer settings such as learning-rate multipliers find it.
            with keras.name_scope(self.name, caller=self):
                variable = keras.Variable(
                    initializer=tf_variable,
                    trainable=is_trainable,
                    dtype=tf_variable.dtype.name,
                    shape=tuple(tf_variable.shape),
                    name=_unique(_sanitize_name(tf_variable.name), used_names),
                )
            wrapped.append(variable)
        # Keras tracks the variables of a list attribute as the layer's own
        # weights, trainable ones first, in this order.
        self.saved_model_variables = wrapped
        if not self.trainable:
            for variable in wrapped:
                variable.trainable = False
        self.built = True

    @property
    def endpoint_name(self) -> str:
        """The endpoint that `call` runs (``"__call__"``, ``"serve"``, ...)."""
        return self._endpoint.name

    @property
    def input_spec_of_endpoint(self) -> Any:
        """The ``tf.TensorSpec`` structure the endpoint accepts."""
        return self._endpoint.input_spec

    def call(self, inputs: Tensor, training: bool | None = None) -> Tensor:
        endpoint = self._endpoint
        inputs = _check_and_cast_inputs(inputs, endpoint, self.handle)
        run_training = bool(training) and self.trainable
        if endpoint.kind == "call":
            if endpoint.takes_training:
                outputs = endpoint.fn(inputs, training=run_training)
            else:
                outputs = endpoint.fn(inputs)
            if run_training:
                for regularization_fn in self._regularization_fns:
                    self.add_loss(regularization_fn())
        elif endpoint.kind == "signature":
            outputs = endpoint.fn(**_signature_kwargs(inputs, endpoint))
        else:
            outputs = endpoint.fn(inputs)
        for key in self._output_path:
            outputs = outputs[key]
        return outputs

    def compute_output_shape(self, input_shape: Any) -> Any:
        # The SavedModel is the only description of the computation: trace
        # `call` symbolically, as Keras does for layers without this method.
        symbolic = keras.tree.map_shape_structure(
            lambda shape: keras.KerasTensor(shape, dtype=_first_dtype(self)),
            input_shape,
        )
        spec = keras.Operation.compute_output_spec(self, symbolic)
        return keras.tree.map_structure(lambda s: tuple(s.shape), spec)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "handle": self.handle,
                "signature": self.signature,
                "output_key": self.output_key,
            }
        )
        return config

    @classmethod
    def from_config(
        cls, config: dict[str, Any], safe_mode: bool | None = None
    ) -> HubBackbone:
        """Rebuilds the layer from the SavedModel at ``config["handle"]``.

        Refused inside safe-mode deserialization (``keras.saving.load_model``
        with the default ``safe_mode=True``): loading a SavedModel runs its
        graph, which may come from anywhere.
        """
        if safe_mode is None:
            safe_mode = _compat.in_safe_mode()
        if safe_mode and not _is_trusted(config.get("handle")):
            raise ValueError(
                "Requested the deserialization of a `HubBackbone`, which loads "
                f"the external SavedModel {config.get('handle')!r} and runs its "
                "graph code. This is disallowed in safe mode. If you trust the "
                "SavedModel, load inside `keras_apps.layers.trust_saved_models()` "
                "(safe mode stays on for the rest of the file, so Lambda "
                "bytecode is still refused). If you trust the whole file, pass "
                "`safe_mode=False` to `keras.saving.load_model`."
            )
        return cls(**config)


class _Endpoint:
    """The function `HubBackbone.call` runs, and what it takes and returns."""

    def __init__(self, name: str, kind: str, fn: Any) -> None:
        self.name = name
        self.kind = kind  # "call", "function" or "signature"
        self.fn = fn
        if kind == "signature":
            self.concrete_functions = [fn]
        else:
            self.concrete_functions = list(fn.concrete_functions)
        if not self.concrete_functions:
            raise ValueError(f"The endpoint {name!r} has no saved traces to call.")
        first = self.concrete_functions[0]
        self.takes_training = False
        if kind == "call":
            spec = getattr(fn, "function_spec", None)
            argspec = getattr(spec, "fullargspec", None)
            names = list(getattr(argspec, "args", []) or []) + list(
                getattr(argspec, "kwonlyargs", []) or []
            )
            self.takes_training = "training" in names
        args, kwargs = first.structured_input_signature
        if kind == "signature":
            self.input_spec = dict(kwargs)
        else:
            self.input_spec = args[0] if args else dict(kwargs)
        self.output_structure = first.structured_outputs

    def variables(self) -> list[Any]:
        """Variables the endpoint computes with, trainable ones first."""
        trainable: list[Any] = []
        others: list[Any] = []
        seen: set[int] = set()
        for concrete in self.concrete_functions:
            for variable in concrete.trainable_variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    trainable.append(variable)
        for concrete in self.concrete_functions:
            for variable in concrete.variables:
                if id(variable) not in seen:
                    seen.add(id(variable))
                    others.append(variable)
        return trainable + others


def _resolve_handle(handle: str) -> str:
    if "://" in handle:
        import tensorflow_hub as hub

        try:
            path = hub.resolve(handle)
        except Exception as error:
            raise OSError(
                f"Could not fetch the hub handle {handle!r} ({error}). On a "
                "machine with network access, download and extract the model and "
                "pass its directory as the handle, or point TFHUB_CACHE_DIR at a "
                "cache that already holds it."
            ) from error
    else:
        path = os.path.abspath(os.path.expanduser(handle))
    if not os.path.isdir(path):
        raise FileNotFoundError(
            f"No SavedModel directory at {path!r} (from handle={handle!r}). "
            "Expected a directory holding saved_model.pb, e.g. one written by "
            "`model.export(path)` or `keras_apps.transfer.export_hub_module`, "
            "or a TF Hub / Kaggle URL."
        )
    if os.path.exists(os.path.join(path, _TF1_HUB_MARKER)):
        raise ValueError(
            f"The handle {handle!r} is in the TF1 Hub format ({_TF1_HUB_MARKER}), "
            "which TensorFlow 2 / Keras 3 cannot load as a reusable model. Use a "
            "TF2 SavedModel version of the model instead (on Kaggle Models, the "
            "'TensorFlow2' variation; on tfhub.dev, a model marked 'TF2')."
        )
    if not any(os.path.exists(os.path.join(path, f)) for f in _SAVED_MODEL_FILES):
        raise ValueError(
            f"The directory {path!r} (from handle={handle!r}) holds no "
            "saved_model.pb. Expected a TensorFlow SavedModel directory; found "
            f"{sorted(os.listdir(path))[:10]}."
        )
    return path


def _attribute_endpoints(loaded: Any) -> dict[str, Any]:
    endpoints = {}
    for name in dir(loaded):
        if name.startswith("_") or name == "signatures":
            continue
        value = getattr(loaded, name, None)
        if hasattr(value, "concrete_functions") and callable(value):
            endpoints[name] = value
    return endpoints


def _select_endpoint(loaded: Any, signature: str | None, handle: str) -> _Endpoint:
    functions = _attribute_endpoints(loaded)
    signatures = dict(getattr(loaded, "signatures", {}) or {})
    is_callable = callable(loaded) and hasattr(loaded.__call__, "concrete_functions")
    choices = ([_CALL] if is_callable else []) + sorted(functions) + sorted(signatures)
    if signature is not None:
        if signature == _CALL and is_callable:
            return _Endpoint(_CALL, "call", loaded.__call__)
        if signature in functions:
            return _Endpoint(signature, "function", functions[signature])
        if signature in signatures:
            return _Endpoint(signature, "signature", signatures[signature])
        raise ValueError(
            f"The SavedModel at {handle!r} has no endpoint {signature!r}. "
            f"Available endpoints: {choices}. Received: signature={signature!r}"
        )
    if is_callable:
        return _Endpoint(_CALL, "call", loaded.__call__)
    if len(functions) == 1:
        (name,) = functions
        if set(signatures) <= {name, "serving_default"}:
            return _Endpoint(name, "function", functions[name])
    if not functions and len(signatures) == 1:
        (name,) = signatures
        return _Endpoint(name, "signature", signatures[name])
    if not choices:
        raise ValueError(
            f"The SavedModel at {handle!r} has nothing to call: no __call__, "
            "no endpoint function and no signature."
        )
    raise ValueError(
        f"The SavedModel at {handle!r} has several endpoints and none is the "
        f"obvious choice: {choices}. Pass one as `signature=`, e.g. "
        f"HubBackbone(handle, signature={choices[0]!r})."
    )


def _select_output(
    endpoint: _Endpoint, output_key: str | int | None, handle: str
) -> tuple[Any, ...]:
    structure = endpoint.output_structure
    where = f"The endpoint {endpoint.name!r} of {handle!r}"
    if isinstance(structure, Mapping):
        keys = sorted(structure)
        if output_key is None:
            if len(keys) == 1:
                return (keys[0],)
            raise ValueError(
                f"{where} returns several outputs: {keys}. Pick one with "
                f"`output_key=`, e.g. output_key={keys[0]!r}."
            )
        if output_key not in structure:
            raise ValueError(
                f"{where} has no output {output_key!r}. Available outputs: "
                f"{keys}. Received: output_key={output_key!r}"
            )
        return (output_key,)
    if isinstance(structure, Sequence) and not isinstance(structure, str):
        count = len(structure)
        if output_key is None:
            if count == 1:
                return (0,)
            raise ValueError(
                f"{where} returns {count} outputs. Pick one with `output_key=` "
                f"(an index from 0 to {count - 1})."
            )
        if not isinstance(output_key, int) or not -count <= output_key < count:
            raise ValueError(
                f"{where} returns a sequence of {count} outputs; expected "
                f"`output_key` to be an index from 0 to {count - 1}. "
                f"Received: output_key={output_key!r}"
            )
        return (output_key,)
    if output_key is not None:
        raise ValueError(
            f"{where} returns a single tensor, so `output_key` does not apply. "
            f"Received: output_key={output_key!r}; pass output_key=None."
        )
    return ()


def _check_and_cast_inputs(inputs: Any, endpoint: _Endpoint, handle: str) -> Any:
    import tensorflow as tf

    spec = endpoint.input_spec
    if not isinstance(spec, tf.TensorSpec):
        return inputs
    if not hasattr(inputs, "shape") or isinstance(inputs, (dict, list, tuple)):
        raise ValueError(
            f"HubBackbone({handle!r}) expects a single tensor of shape "
            f"{tuple(spec.shape)}. Received: inputs of type {type(inputs).__name__}"
        )
    received = tf.TensorShape(tuple(inputs.shape))
    if not spec.shape.is_compatible_with(received):
        raise ValueError(
            f"HubBackbone({handle!r}) expects inputs of shape "
            f"{_shape_str(spec.shape)} ({spec.dtype.name}), the input signature "
            f"of its endpoint {endpoint.name!r}. Received: inputs.shape="
            f"{_shape_str(received)}"
        )
    if keras.backend.standardize_dtype(inputs.dtype) != spec.dtype.name:
        inputs = tf.cast(inputs, spec.dtype)
    return inputs


def _signature_kwargs(inputs: Any, endpoint: _Endpoint) -> dict[str, Any]:
    names = sorted(endpoint.input_spec)
    if isinstance(inputs, Mapping):
        missing = sorted(set(names) - set(inputs))
        if missing:
            raise ValueError(
                f"The signature {endpoint.name!r} takes inputs {names}. "
                f"Received a dict without {missing}."
            )
        return {name: inputs[name] for name in names}
    if len(names) != 1:
        raise ValueError(
            f"The signature {endpoint.name!r} takes several inputs {names}; "
            "pass a dict with these keys."
        )
    return {names[0]: inputs}


def _first_dtype(layer: HubBackbone) -> str:
    import tensorflow as tf

    spec = layer._endpoint.input_spec
    if isinstance(spec, tf.TensorSpec):
        return spec.dtype.name
    return layer.compute_dtype


def _shape_str(shape: Any) -> str:
    dims = tuple(None if d is None else int(d) for d in shape)
    return str(dims)


def _sanitize_name(name: str) -> str:
    """TF names like ``conv/kernel:0`` -> ``conv_kernel``, a valid scope name."""
    name = re.sub(r":\d+$", "", name)
    name = re.sub(r"[^A-Za-z0-9_.\-]", "_", name).strip("_")
    if not name or not re.match(r"[A-Za-z0-9.]", name[0]):
        name = f"variable_{name}"
    return name


def _unique(name: str, used: set[str]) -> str:
    candidate, index = name, 1
    while candidate in used:
        candidate = f"{name}_{index}"
        index += 1
    used.add(candidate)
    return candidate


__all__ = ["HubBackbone"]
