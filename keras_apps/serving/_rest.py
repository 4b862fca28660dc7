"""TF Serving's REST API over the request handlers (one room of the server).

The URLs and JSON of TF Serving's REST API (its port 8501):

- ``GET /v1/models/NAME[/versions/N|/labels/L]``: version status;
- ``GET .../metadata``: the SignatureDefMap;
- ``POST .../NAME[/versions/N|/labels/L]:predict`` with ``{"instances": [...]}``
  (row format, answered with ``{"predictions": [...]}``) or ``{"inputs": ...}``
  (columnar, answered with ``{"outputs": ...}``), ``{"b64": "..."}`` for bytes;
- ``POST ...:classify`` and ``...:regress`` with ``{"examples": [...]}`` (and
  an optional ``"context"``), answered with ``{"results": [...]}``;
- errors as ``{"error": "..."}`` with the HTTP status of the gRPC code.

JSON is read as TF Serving reads it: values are checked against the input's
dtype (1.5 for an int32 input or ``true`` for a float one is refused, never
converted), row-format objects must name every input and no other, the
columnar format takes the signature's inputs and ignores other keys, example
features take their kind from their first value; the error texts are TF
Serving's.

HTTP is Werkzeug's (Pallets) and the standard library's: `http.server`
parses the request line and headers, `werkzeug.serving` runs the threaded
server (one thread per connection) and builds the WSGI environ (chunked
request bodies), `werkzeug.routing` matches the URLs and `werkzeug.wrappers`
carries the request and the answer; the JSON is here. Connections are kept
alive as TF Serving keeps them (HTTP/1.1), which Werkzeug's own request
handler does not do, so the handler here writes each answer itself (see
`_RequestHandler`). URLs are matched as TF Serving matches them, in full:
``/v1/`` requests that are not TF Serving's, with the wrong method, a query
string or a trailing "/", are answered as TF Serving answers them (400,
"Malformed request: GET /v1/..."), ``GET /v1/models`` with "Missing model
name in request."; other paths are 404. (TF Serving also matches the
``/v1/models``, ``/versions/`` and ``/labels/`` parts of a URL whatever their
case; this server only in lower case.) Bodies above the message limit are
refused with 413. It speaks HTTPS with the same certificate, and requires
the same client certificates, as the gRPC port when the server is given
them.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Iterable
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
)
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import BaseConverter, Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import LimitedStream

from keras_apps._layout import DEFAULT_SIGNATURE_KEY
from keras_apps.serving import codec
from keras_apps.serving._handlers import RequestHandlers, check_input_names
from keras_apps.serving._status import RpcError
from keras_apps.serving._versions import ModelRegistry

logger = logging.getLogger("keras_apps.serving.server")

# The HTTP status of each gRPC code, as TF Serving's REST handler maps them.
_HTTP_STATUS = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def _invalid(message: str) -> RpcError:
    return RpcError(grpc.StatusCode.INVALID_ARGUMENT, message)


def _to_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(
        message,
        preserving_proto_field_name=True,
        always_print_fields_with_no_presence=True,
    )


def _is_b64(value: Any) -> bool:
    """TF Serving's base64 object: ``{"b64": "..."}``, one string key."""
    return (
        isinstance(value, dict)
        and len(value) == 1
        and isinstance(value.get("b64"), str)
    )


def _decode_strings(value: Any) -> Any:
    """JSON strings and ``{"b64": ...}`` objects as bytes (TF Serving's texts)."""
    if isinstance(value, list):
        return [_decode_strings(item) for item in value]
    if isinstance(value, dict):
        if not _is_b64(value):
            raise _invalid(
                f"JSON Value: {_json_text(value)} not formatted correctly for "
                "base64 data"
            )
        try:
            return base64.b64decode(value["b64"], validate=True)
        except ValueError as error:
            raise _invalid("Unable to base64 decode") from error
    if isinstance(value, str):
        return value.encode("utf-8")
    raise _invalid(
        f"JSON Value: {_json_text(value)} Type: {_json_type(value)} is not of "
        "expected type: string"
    )


def _json_text(value: Any) -> str:
    """A JSON value as TF Serving's messages print it (a pretty writer)."""
    return (
        json.dumps(value, indent=4)
        if isinstance(value, (dict, list))
        else (json.dumps(value))
    )


def _json_type(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return str(value).replace("None", "Null")
    for kind, name in ((dict, "Object"), (list, "Array"), (str, "String")):
        if isinstance(value, kind):
            return name
    return "Number"


# TensorFlow's DataTypeString names, which TF Serving's messages use.
_TF_TYPE_NAMES = {"float32": "float", "float64": "double", "float16": "half"}
# The largest integer each float type holds exactly (TF Serving's check).
_EXACT_INTEGERS = {types_pb2.DT_FLOAT: 2**24 - 1, types_pb2.DT_DOUBLE: 2**53 - 1}


def _leaf_error(value: Any, dtype: int) -> RpcError | None:
    """TF Serving's check of one JSON value against an input dtype."""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if dtype in _EXACT_INTEGERS:
        if number:
            exact = _EXACT_INTEGERS[dtype]
            limit = float(np.finfo(codec.numpy_dtype(dtype)).max)
            if (isinstance(value, int) and abs(value) > exact) or (
                isinstance(value, float) and np.isfinite(value) and abs(value) > limit
            ):
                target = "float" if dtype == types_pb2.DT_FLOAT else "double"
                return _invalid(
                    f"Cannot convert JSON value: {_json_text(value)} to {target} "
                    "without loss of precision."
                )
            return None
    else:
        numpy_dtype = codec.numpy_dtype(dtype)
        if numpy_dtype.kind in "iu":
            info = np.iinfo(numpy_dtype)
            if number and isinstance(value, int) and info.min <= value <= info.max:
                return None
        elif numpy_dtype.kind == "b":
            if isinstance(value, bool):
                return None
        elif number:  # half, bfloat16, complex: converted by NumPy
            return None
    name = tf.dtypes.as_dtype(dtype).name
    return _invalid(
        f"JSON Value: {_json_text(value)} Type: {_json_type(value)} is not of "
        f"expected type: {_TF_TYPE_NAMES.get(name, name)}"
    )


def _first_error(value: Any, dtype: int) -> RpcError | None:
    if isinstance(value, list):
        for item in value:
            error = _first_error(item, dtype)
            if error is not None:
                return error
        return None
    return _leaf_error(value, dtype)


def _array(value: Any, info: Any) -> np.ndarray:
    """A JSON value (checked by `_first_error`) as an array of the input's dtype."""
    if info.dtype == types_pb2.DT_STRING:
        strings = _decode_strings(value)
    else:
        error = _first_error(value, info.dtype)
        if error is not None:
            raise error
        strings = None
    try:
        if strings is not None:
            return np.array(strings, dtype=object)
        return np.asarray(value, dtype=codec.numpy_dtype(info.dtype))
    except ValueError as error:  # ragged lists
        raise _invalid(
            f"JSON Value: {_json_text(value)} is not a dense tensor: {error}"
        ) from error


def _element_error(index: int, key: str | None, error: RpcError) -> RpcError:
    """An error of one element of 'instances', wrapped as TF Serving wraps it."""
    where = f"{index} key: {key}" if key is not None else f"{index}"
    return _invalid(
        f"Failed to process element: {where} of 'instances' list. Error: "
        f"INVALID_ARGUMENT: {error.message}"
    )


def shortest_floats(array: np.ndarray) -> np.ndarray:
    """float32 values as the float64s of their shortest decimals.

    TF Serving writes a float32 answer as its shortest decimal (0.2), where
    ``float(np.float32(0.2))`` is 0.20000000298023224. Each value is rounded
    to 1, 2, ... 9 significant digits until the rounding maps back to it;
    values beyond 1e±12 (whose powers of ten are no exact float64) go
    through NumPy's shortest repr, which is slower.
    """
    x = np.asarray(array, np.float32).ravel()
    v = x.astype(np.float64)
    out = v.copy()
    todo = np.flatnonzero(np.isfinite(v) & (v != 0))
    exponent = np.floor(np.log10(np.abs(v[todo])))
    far = np.abs(exponent) > 12
    out[todo[far]] = x[todo[far]].astype(str).astype(np.float64)
    todo, exponent = todo[~far], exponent[~far]
    for digits in range(1, 10):
        if not todo.size:
            break
        places = digits - 1 - exponent
        scale = 10.0 ** np.abs(places)
        rounded = np.where(
            places >= 0,
            np.round(v[todo] * scale) / scale,
            np.round(v[todo] / scale) * scale,
        )
        hit = rounded.astype(np.float32) == x[todo]
        out[todo[hit]] = rounded[hit]
        todo, exponent = todo[~hit], exponent[~hit]
    return out.reshape(np.shape(array))


def _json_value(array: np.ndarray, alias: str) -> Any:
    if array.dtype == object or array.dtype.kind in "SU":

        def text(item: Any) -> Any:
            data = bytes(item)
            if alias.endswith("_bytes"):
                return {"b64": base64.b64encode(data).decode("ascii")}
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return {"b64": base64.b64encode(data).decode("ascii")}

        return np.vectorize(text, otypes=[object])(array).tolist()
    if array.dtype.kind == "c":
        return np.stack([array.real, array.imag], axis=-1).tolist()
    if array.dtype.kind == "f" and array.dtype.itemsize <= 4 or array.dtype.kind == "V":
        return shortest_floats(array).tolist()
    return array.tolist()


def _feature(name: str, value: Any) -> tf.train.Feature:
    """One feature of a JSON example, typed as TF Serving types it: the first
    value decides (integers and booleans int64, other numbers float, strings
    and ``{"b64": ...}`` bytes) and the others must agree."""
    kinds: dict[str, list[Any]] = {"int64": [], "float": [], "bytes": []}
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, bool):
            kind, item = "int64", int(item)
        elif isinstance(item, int):
            if not -(2**63) <= item < 2**63:
                raise _invalid(
                    f"Feature: {name} has uint64 element. Only int64 is supported."
                )
            kind = "int64"
        elif isinstance(item, float):
            kind = "float"
        elif isinstance(item, str) or _is_b64(item):
            kind, item = "bytes", _decode_strings(item)
        else:
            raise _invalid(
                f"Feature: {name} has element with unexpected JSON type: "
                f"{_json_type(item)}"
            )
        if any(values for other, values in kinds.items() if other != kind):
            expected = next(other for other, values in kinds.items() if values)
            raise _invalid(
                f"Unexpected element type in feature: {name} expecting type: {expected}"
            )
        kinds[kind].append(item)
    if kinds["float"]:
        return tf.train.Feature(float_list=tf.train.FloatList(value=kinds["float"]))
    if kinds["bytes"]:
        return tf.train.Feature(bytes_list=tf.train.BytesList(value=kinds["bytes"]))
    return tf.train.Feature(int64_list=tf.train.Int64List(value=kinds["int64"]))


def _example(features: Any) -> bytes:
    if not isinstance(features, dict):
        raise _invalid(
            f"Example must be JSON object but got JSON {_json_type(features)}"
        )
    return tf.train.Example(
        features=tf.train.Features(
            feature={key: _feature(key, value) for key, value in features.items()}
        )
    ).SerializeToString()


class _SegmentConverter(BaseConverter):
    """A model name or version label in a URL: TF Serving's ``[^/:]+``."""

    regex = r"[^/:]+"


class _VersionConverter(BaseConverter):
    """A version in a URL: digits (TF Serving's ``\\d+``), checked later."""

    regex = r"\d+"


def _url_map() -> Map:
    """TF Serving's REST URLs; ``:predict`` etc. end the last path segment."""
    rules = []
    for target in (
        "",
        "/versions/<version:version>",
        "/labels/<segment:label>",
    ):
        base = "/v1/models/<segment:name>" + target
        rules += [
            Rule(base, methods=["GET"], endpoint="status"),
            Rule(base + "/metadata", methods=["GET"], endpoint="metadata"),
            Rule(
                base + ":<any(predict, classify, regress):verb>",
                methods=["POST"],
                endpoint="infer",
            ),
            # TF Serving's status URL takes the name as optional, then refuses
            # its absence ("Missing model name in request.").
            Rule("/v1/models" + target, methods=["GET"], endpoint="unnamed"),
            Rule(
                "/v1/models" + target + "/metadata", methods=["GET"], endpoint="unnamed"
            ),
        ]
    # Exact URLs only, as TF Serving matches them: no redirects ("//", a
    # trailing "/"), no query string (checked before matching).
    return Map(
        rules,
        converters={"segment": _SegmentConverter, "version": _VersionConverter},
        merge_slashes=False,
    )


class RestApi:
    """TF Serving's REST API as a WSGI application (`werkzeug.wrappers`).

    Args:
        registry: The served models.
        handlers: The `RequestHandlers` that run them.
        max_body_bytes: Larger request bodies are refused (413).
    """

    def __init__(
        self, registry: ModelRegistry, handlers: RequestHandlers, max_body_bytes: int
    ) -> None:
        self._registry = registry
        self._handlers = handlers
        self.max_body_bytes = max_body_bytes
        self._urls = _url_map()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        # One byte over: a chunked body read up to the limit is cut there
        # without an error, and must still be refused.
        request.max_content_length = self.max_body_bytes + 1
        status, answer = self.answer(request)
        response = Response(
            json.dumps(answer, indent=1), status=status, mimetype="application/json"
        )
        return response(environ, start_response)

    def answer(self, request: Request) -> tuple[int, Any]:
        """The HTTP status and the JSON answer of one request."""
        try:
            return 200, self._route(request)
        except RpcError as error:
            return _HTTP_STATUS.get(error.code, 500), {"error": error.message}
        except RequestEntityTooLarge:
            size = (
                f"of {request.content_length} bytes "
                if request.content_length is not None
                else ""
            )
            return 413, {
                "error": f"Request body {size}is above the "
                f"{self.max_body_bytes}-byte limit"
            }
        except HTTPException as error:
            return int(error.code or 500), {"error": str(error.description)}
        except Exception as error:  # an answer, never a dropped connection
            logger.exception("REST request failed")
            return 500, {"error": f"{type(error).__name__}: {error}"}

    def _route(self, request: Request) -> Any:
        # TF Serving matches the URL's path and query, as sent, in full.
        sent = request.environ.get("RAW_URI") or request.full_path.rstrip("?")
        adapter = self._urls.bind_to_environ(request.environ)
        try:
            # Werkzeug's GET rules take HEAD too; TF Serving's do not.
            if request.query_string or request.method == "HEAD":
                raise NotFound()
            endpoint, arguments = adapter.match(request.path)
        except (NotFound, MethodNotAllowed) as error:
            if not request.path.lower().startswith("/v1/"):
                raise NotFound(
                    f"{request.path} is not a TF Serving REST URL "
                    "(/v1/models/NAME[/versions/N|/labels/L][/metadata|:predict|"
                    ":classify|:regress])"
                ) from error
            # TF Serving answers every other /v1/ request so, wrong method too.
            raise _invalid(f"Malformed request: {request.method} {sent}") from error
        if endpoint == "unnamed":
            raise _invalid("Missing model name in request.")
        spec = model_pb2.ModelSpec(name=arguments["name"])
        if "version" in arguments:
            version = int(arguments["version"])
            if version >= 1 << 63:  # not an int64
                raise _invalid(
                    f"Failed to convert version: {arguments['version']} to numeric."
                )
            spec.version.value = version
        elif "label" in arguments:
            spec.version_label = arguments["label"]
        if endpoint == "status":
            return self._status(spec)
        if endpoint == "metadata":
            return self._metadata(spec)
        data = request.get_data()
        if len(data) > self.max_body_bytes:
            raise RequestEntityTooLarge()
        if not data:
            raise _invalid("JSON Parse error: The document is empty")
        try:
            body = json.loads(data)
        except ValueError as error:
            raise _invalid(f"JSON Parse error: {error}") from error
        if not isinstance(body, dict):
            raise _invalid(f"JSON Value: {_json_text(body)} Is not object")
        if not isinstance(body.get("signature_name", ""), str):
            raise _invalid(
                f"JSON Value: {_json_text(body)} not formatted correctly. "
                "'signature_name' key must be a string value."
            )
        if arguments["verb"] == "predict":
            return self._predict(spec, body)
        return self._examples(spec, body, arguments["verb"])

    def _status(self, spec: model_pb2.ModelSpec) -> Any:
        if spec.version_label:
            model = self._registry.model(spec.name)
            spec.version.value = model.resolve(spec).version
            spec.ClearField("version_label")
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=spec)
        return _to_dict(self._handlers.get_model_status(request))

    def _metadata(self, spec: model_pb2.ModelSpec) -> Any:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=spec, metadata_field=["signature_def"]
        )
        response = self._handlers.get_model_metadata(request)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_map)
        return {
            "model_spec": _to_dict(response.model_spec),
            "metadata": {"signature_def": _to_dict(signature_map)},
        }

    def _predict(self, spec: model_pb2.ModelSpec, request: dict[str, Any]) -> Any:
        if ("instances" in request) == ("inputs" in request):
            raise _invalid(
                "Missing 'inputs' or 'instances' key"
                if "instances" not in request
                else f"JSON Value: {_json_text(request)} Not formatted correctly "
                "expecting only one of 'inputs' or 'instances' keys to exist "
            )
        model = self._registry.model(spec.name)
        loaded = model.resolve(spec)
        signature_name = request.get("signature_name") or DEFAULT_SIGNATURE_KEY
        try:
            signature = loaded.signature(signature_name)
        except RpcError as error:  # TF Serving's REST text, not its gRPC one
            raise _invalid(
                f'Serving signature name: "{signature_name}" not found in signature def'
            ) from error
        names = sorted(signature.inputs)
        row_format = "instances" in request
        if row_format:
            columns = self._instance_columns(request, signature, names)
        else:
            inputs = request["inputs"]
            if not isinstance(inputs, dict) or _is_b64(inputs):
                if len(names) > 1:
                    raise _invalid(
                        "inputs is a plain value/list, but expecting an object as "
                        "multiple input tensors required as per tensorinfo_map"
                    )
                columns = {names[0]: inputs}
            else:
                # TF Serving takes the signature's inputs and ignores others.
                for name in names:
                    if name not in inputs:
                        raise _invalid(
                            f"Missing named input: {name} in 'inputs' object."
                        )
                columns = {name: inputs[name] for name in names}
        check_input_names(signature, columns)
        arrays = {
            alias: _array(value, signature.inputs[alias])
            for alias, value in columns.items()
        }
        outputs = self._handlers.run_signature(loaded, signature_name, arrays)
        if not row_format:
            if len(outputs) == 1:
                ((alias, value),) = outputs.items()
                return {"outputs": _json_value(value, alias)}
            return {"outputs": {a: _json_value(v, a) for a, v in outputs.items()}}
        batch = {np.shape(v)[0] if np.ndim(v) else None for v in outputs.values()}
        if len(batch) != 1 or None in batch:
            raise _invalid(
                "Tensors of the row format must share the batch size (first "
                "dimension); the outputs have shapes "
                + ", ".join(f"{a}: {list(np.shape(v))}" for a, v in outputs.items())
                + ". Use the columnar format ('inputs')."
            )
        if len(outputs) == 1:
            ((alias, value),) = outputs.items()
            return {"predictions": _json_value(value, alias)}
        columns_out = {a: _json_value(v, a) for a, v in outputs.items()}
        count = int(next(iter(batch)) or 0)
        return {
            "predictions": [
                {a: columns_out[a][row] for a in columns_out} for row in range(count)
            ]
        }

    def _instance_columns(
        self, request: dict[str, Any], signature: Any, names: list[str]
    ) -> dict[str, list[Any]]:
        """The row format's instances as one column per input, checked as
        TF Serving's FillTensorMapFromInstancesList checks them."""
        instances = request["instances"]
        if not isinstance(instances, list):
            raise _invalid(
                f"JSON Value: {_json_text(request)} Excepting 'instances' to be an "
                "list/array"
            )
        if not instances:
            raise _invalid(
                f"JSON Value: {_json_text(request)} No values in 'instances' array"
            )
        named = isinstance(instances[0], dict) and not _is_b64(instances[0])
        if not named and len(names) > 1:
            raise _invalid(
                "instances is a plain list, but expecting list of objects as "
                "multiple input tensors required as per tensorinfo_map"
            )
        columns: dict[str, list[Any]] = {}
        for index, instance in enumerate(instances):
            is_object = isinstance(instance, dict) and not _is_b64(instance)
            if is_object != named:
                raise _invalid(
                    f"Expecting object but got list at item {index} of input list"
                    if named
                    else f"Expecting value/list but got object at item {index} "
                    "of input list"
                )
            items = instance.items() if named else [(names[0], instance)]
            for key, value in items:
                if key not in signature.inputs:
                    unknown = _invalid(f"JSON object: does not have named input: {key}")
                    raise _element_error(index, key, unknown)
                dtype = signature.inputs[key].dtype
                error = (
                    None if dtype == types_pb2.DT_STRING else _first_error(value, dtype)
                )
                if error is not None:
                    raise _element_error(index, key if named else None, error)
                columns.setdefault(key, []).append(value)
            if named and set(instance) != set(names):
                raise _invalid(
                    f"Failed to process element: {index} of 'instances' list. "
                    f"JSON object: {_json_text(instance)} must only have keys: "
                    + ",".join(names)
                )
        return columns

    def _examples(
        self, spec: model_pb2.ModelSpec, request: dict[str, Any], verb: str
    ) -> Any:
        examples = request.get("examples")
        if not isinstance(examples, list) or not examples:
            raise _invalid("'examples' must be a non-empty JSON list")
        context = request.get("context")
        serialized = [_example(e) for e in examples]
        if context is not None:
            # A serialized context then an example merge: the example wins.
            prefix = _example(context)
            serialized = [prefix + e for e in serialized]
        model = self._registry.model(spec.name)
        loaded = model.resolve(spec)
        signature_name = request.get("signature_name") or DEFAULT_SIGNATURE_KEY
        result = self._handlers.example_result(loaded, signature_name, serialized, verb)
        if verb == "classify":
            return {
                "results": [
                    [[c.label, c.score] for c in classification.classes]
                    for classification in result.classifications
                ]
            }
        return {"results": [r.value for r in result.regressions]}


class _Connections:
    """The open connections of one `RestServer`, closed when it stops."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.stopping = False

    def close_all(self) -> None:
        """Ends every connection's reading: idle ones close now, busy ones
        after their answer (a shutdown of the socket, shared by all its
        descriptors, so that a TLS socket keeps its session for that answer)."""
        # Under the lock: a connection leaves `open` before its socket is
        # closed, so no descriptor here can have been reused by another.
        with self.lock:
            self.stopping = True
            for connection in self.open:
                try:
                    with socket.socket(fileno=os.dup(connection.fileno())) as copy:
                        copy.shutdown(socket.SHUT_RD)
                except OSError:  # already shut
                    pass


# Request bodies left unread by an answer (a 413, a GET with a body) are read
# and dropped up to this size so that the connection can serve the next
# request; beyond it the connection is closed after the answer.
_DRAIN_BYTES = 1 << 20


class _RequestHandler(WSGIRequestHandler):
    """Werkzeug's handler with HTTP/1.1 keep-alive, as TF Serving's REST port.

    Werkzeug's own `WSGIRequestHandler.run_wsgi` ends every answer with
    ``Connection: close`` (and then reads whatever the client sends next, to
    drop the rest of a body). TF Serving keeps HTTP/1.1 connections open, and
    clients (``requests.Session``, ``http.client``, browsers) send their next
    request on the same socket. So ``run_wsgi`` here runs the application
    itself: Werkzeug's `make_environ` builds the WSGI environ (chunked bodies
    through its decoder), `http.server` parses the request line and headers
    and writes the status and headers; the answer carries ``Content-Length``,
    the unread rest of the request body is dropped, and the connection stays
    open unless the client asked to close it (``Connection: close``,
    HTTP/1.0), the body cannot be found to its end, or the server stops.
    Each connection has its own thread: an idle or stalled one blocks no
    other client; one idle for `timeout` seconds is closed.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # status line, headers and body: no delay
    connections: _Connections = _Connections()  # one per RestServer (subclass)

    def setup(self) -> None:
        super().setup()
        with self.connections.lock:
            self.connections.open.add(self.connection)

    def finish(self) -> None:
        with self.connections.lock:
            self.connections.open.discard(self.connection)
        super().finish()

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        body: Any = environ["wsgi.input"]
        if "wsgi.input_terminated" not in environ:  # not chunked
            length = self.headers.get("Content-Length", "0").strip()
            if not (length.isascii() and length.isdigit()):
                self.send_error(400, f"Bad Content-Length: {length!r}")
                return  # send_error closes the connection
            body = LimitedStream(body, int(length))
            environ["wsgi.input"] = body
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return answer.setdefault("chunks", []).append

        try:
            chunks = self.server.app(environ, start_response)
            try:
                data = b"".join(chunks)
            finally:
                getattr(chunks, "close", lambda: None)()
            if not _drain(body):
                self.close_connection = True
            if self.connections.stopping:
                self.close_connection = True
            code, _, reason = answer["status"].partition(" ")
            self.send_response(int(code), reason)
            names = set()
            for name, value in answer["headers"]:
                self.send_header(name, value)
                names.add(name.lower())
            data = b"".join(answer.get("chunks", [])) + data
            if "content-length" not in names:
                self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            elif self.request_version == "HTTP/1.0":  # kept open when asked
                self.send_header("Connection", "keep-alive")
            self.end_headers()
            self.wfile.write(data)
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
        except Exception:  # RestApi answers its own errors; this is a bug here
            logger.exception("REST answer failed")
            self.close_connection = True
            if "status" not in answer:
                self.send_error(500)

    def log(self, type: str, message: str, *args: Any) -> None:
        logger.debug("REST %s " + message, self.address_string(), *args)


def _drain(body: Any) -> bool:
    """Reads what the answer left of a request body; False if too much."""
    if isinstance(body, LimitedStream) and body.limit - body.tell() > _DRAIN_BYTES:
        return False
    dropped = 0
    try:
        while dropped <= _DRAIN_BYTES:
            piece = body.read(1 << 16)
            if not piece:
                return True
            dropped += len(piece)
    except Exception:  # a broken chunk, a client gone: no next request here
        return False
    return False


class RestServer:
    """`RestApi` on its own port: Werkzeug's threaded server, HTTPS when told.

    Connections are kept alive (HTTP/1.1) and closed after ``idle_timeout``
    seconds without a byte, or when the server stops.
    """

    def __init__(
        self,
        api: RestApi,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None = None,
        idle_timeout: float = 60.0,
    ) -> None:
        self._api = api
        self._connections = _Connections()
        handler = type(
            "_RequestHandler",
            (_RequestHandler,),
            {"connections": self._connections, "timeout": idle_timeout},
        )
        host = host.strip("[]")
        # Bound here and handed over as a descriptor, so that a taken port is
        # an OSError to the caller (Werkzeug's own bind exits the process).
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((host, port))
            listener.listen(128)
            self._server: BaseWSGIServer = make_server(
                host,
                listener.getsockname()[1],
                api,
                threaded=True,
                request_handler=handler,
                fd=listener.fileno(),
            )
        if ssl_context is not None:
            # As Werkzeug wraps it for ssl_context=, but with the handshake in
            # each connection's thread, on its first read, so that a client
            # that stalls it blocks no one else.
            self._server.socket = ssl_context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
            self._server.ssl_context = ssl_context
        self.port = int(self._server.port)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            name="local-model-server-rest",
            daemon=True,
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stops accepting and closes kept-alive connections; answers in
        progress finish in their threads, then close theirs."""
        if self._thread.ident is not None:  # shutdown() waits for serve_forever
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()
        self._connections.close_all()
