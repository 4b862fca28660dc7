"""A local TensorFlow Serving stand-in for development, tests and CI.

`LocalModelServer` speaks TF Serving's gRPC services (``PredictionService`` and
``ModelService``) over TF Serving's directory layout
(``base_path/<version>/saved_model.pb``), so that examples and tests need no
Docker. It is a development and test server. Production serving is the official
``tensorflow/serving`` image (see `keras_apps.serving.tf_serving_command` and
``deploy/``), which reads exactly the same files.

Behaviour it shares with TF Serving:

- Versions are the all-digit directories under the base path. The model version
  policy of the model config (``latest`` N, default 1; ``all``; ``specific``)
  selects which are served. The base path is polled every
  ``file_system_poll_wait_seconds``; a new version is loaded (and warmed up from
  ``assets.extra/tf_serving_warmup_requests``) before it replaces the old one,
  and a version that fails to load never replaces a working one.
- Status codes: ``NOT_FOUND`` for an unknown model or version,
  ``INVALID_ARGUMENT`` for bad inputs (the message lists the expected input
  names), ``FAILED_PRECONDITION`` for an unknown signature key, ``UNIMPLEMENTED``
  for Classify/Regress on a signature whose method is not classify/regress.
- Responses carry ``model_spec`` (name, version, signature name) and
  ``GetModelMetadata`` packs a ``SignatureDefMap`` into a
  ``google.protobuf.Any`` under the ``"signature_def"`` key.

Responses encode numeric tensors in ``tensor_content`` (raw little-endian bytes),
as TF Serving does with ``--enable_serialization_as_tensor_content``, which
`tf_serving_command` also passes; ``serialize_as_tensor_content=False`` switches
to the typed ``*_val`` fields that are TF Serving's default. Clients written
with ``tf.make_ndarray`` or `keras_apps.serving.decode_tensor` read both.

This module imports TensorFlow; the client side of `keras_apps.serving` does not.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    input_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from keras_apps._layout import parse_version
from keras_apps.serving.container import check_model_source

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Default gRPC message limit: 64 MiB, above a batch of 32 float32 224x224x3
images (19.3 MB)."""

_PREDICT_METHOD = "tensorflow/serving/predict"
_CLASSIFY_METHOD = "tensorflow/serving/classify"
_REGRESS_METHOD = "tensorflow/serving/regress"
_DEFAULT_SIGNATURE = "serving_default"
_INIT_OP_SIGNATURE = "__saved_model_init_op"  # the TF2 init op, not a signature
_WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")
_MAX_WARMUP_RECORDS = 1000  # TF Serving's limit

_State = get_model_status_pb2.ModelVersionStatus.State


class _RpcError(Exception):
    """An error answered to the client with a gRPC status code."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# ---------------------------------------------------------------------------
# Tensor encoding.


def _dtype_name(dtype_enum: int) -> str:
    try:
        return tf.dtypes.as_dtype(dtype_enum).name
    except TypeError:
        return types_pb2.DataType.Name(dtype_enum)


def tensor_proto_to_ndarray(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Decodes a ``TensorProto`` (``tensor_content`` or ``*_val`` fields)."""
    if proto.dtype == types_pb2.DT_INVALID:
        raise ValueError("the tensor has no dtype (DT_INVALID)")
    dtype = tf.dtypes.as_dtype(proto.dtype)
    shape = [d.size for d in proto.tensor_shape.dim]
    # Each read of a bytes field copies it: read the raw content once.
    content = proto.tensor_content
    if content and dtype != tf.string:
        np_dtype = np.dtype(dtype.as_numpy_dtype).newbyteorder("<")
        count = math.prod(shape)
        if len(content) != count * np_dtype.itemsize:
            raise ValueError(
                f"tensor_content holds {len(content)} bytes but shape "
                f"{shape} of {dtype.name} needs {count * np_dtype.itemsize}"
            )
        return np.frombuffer(content, dtype=np_dtype).reshape(shape)
    return tf.make_ndarray(proto)


_VALUE_FIELDS = {
    np.dtype("float32"): "float_val",
    np.dtype("float64"): "double_val",
    np.dtype("int8"): "int_val",
    np.dtype("int16"): "int_val",
    np.dtype("int32"): "int_val",
    np.dtype("uint8"): "int_val",
    np.dtype("uint16"): "int_val",
    np.dtype("int64"): "int64_val",
    np.dtype("uint32"): "uint32_val",
    np.dtype("uint64"): "uint64_val",
    np.dtype("bool"): "bool_val",
}


def ndarray_to_tensor_proto(
    array: np.ndarray, tensor_content: bool = True
) -> tensor_pb2.TensorProto:
    """Encodes an array as a ``TensorProto`` the way TF Serving answers.

    Args:
        array: The array. Strings (``bytes``/``str``/object) go to
            ``string_val``.
        tensor_content: Raw bytes in ``tensor_content`` when ``True``; the typed
            ``*_val`` field (``float_val``, ``int64_val``, ...) when ``False``.
    """
    array = np.asarray(array)
    dtype = tf.dtypes.as_dtype(
        tf.string if array.dtype.kind in ("S", "U", "O") else array.dtype
    )
    proto = tensor_pb2.TensorProto(
        dtype=dtype.as_datatype_enum,
        tensor_shape=tensor_shape_pb2.TensorShapeProto(
            dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape]
        ),
    )
    if dtype == tf.string:
        proto.string_val.extend(
            v.encode("utf-8") if isinstance(v, str) else bytes(v) for v in array.ravel()
        )
    elif tensor_content:
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        proto.tensor_content = np.ascontiguousarray(little).tobytes()
    elif dtype in (tf.float16, tf.bfloat16):
        proto.half_val.extend(array.ravel().view(np.uint16).tolist())
    elif dtype == tf.complex64:
        proto.scomplex_val.extend(array.ravel().view(np.float32).tolist())
    elif dtype == tf.complex128:
        proto.dcomplex_val.extend(array.ravel().view(np.float64).tolist())
    else:
        getattr(proto, _VALUE_FIELDS[np.dtype(array.dtype)]).extend(
            array.ravel().tolist()
        )
    return proto


def _shape_text(dims: Iterable[int]) -> str:
    return "[" + ",".join(str(d) for d in dims) + "]"


def _is_compatible(
    shape: tensor_shape_pb2.TensorShapeProto, dims: Sequence[int]
) -> bool:
    if shape.unknown_rank:
        return True
    if len(shape.dim) != len(dims):
        return False
    return all(s.size < 0 or s.size == d for s, d in zip(shape.dim, dims, strict=True))


# ---------------------------------------------------------------------------
# Model configuration.


@dataclass(frozen=True)
class _ModelConfig:
    name: str
    base_path: Path
    policy: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()
    labels: Mapping[str, int] = field(default_factory=dict)

    def select(self, available: Sequence[int]) -> list[int]:
        if self.policy == "all":
            return sorted(available)
        if self.policy == "specific":
            return sorted(set(available) & set(self.versions))
        return sorted(available)[-self.num_versions :]


def _read_config_file(
    path: str | os.PathLike[str],
) -> model_server_config_pb2.ModelServerConfig:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model_config_file {str(path)!r} does not exist; expected a "
            "ModelServerConfig text proto (see keras_apps.export.write_model_config)"
        )
    try:
        return text_format.Parse(
            path.read_text(), model_server_config_pb2.ModelServerConfig()
        )
    except text_format.ParseError as error:
        raise ValueError(
            f"model_config_file {str(path)!r} is not a valid ModelServerConfig "
            f"text proto: {error}"
        ) from error


def _configs_from_proto(
    config: model_server_config_pb2.ModelServerConfig, relative_to: Path | None
) -> list[_ModelConfig]:
    if config.WhichOneof("config") != "model_config_list":
        raise ValueError(
            "ServerModelConfig type not supported: only model_config_list is "
            f"supported, received {config.WhichOneof('config')!r}"
        )
    models = []
    names: set[str] = set()
    for entry in config.model_config_list.config:
        if not entry.name:
            raise ValueError("every model config needs a name; received an empty one")
        if entry.name in names:
            raise ValueError(f"model name {entry.name!r} appears twice in the config")
        names.add(entry.name)
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"model {entry.name!r}: model_platform must be 'tensorflow', "
                f"received {entry.model_platform!r}"
            )
        base = Path(entry.base_path)
        if not entry.base_path:
            raise ValueError(f"model {entry.name!r} has no base_path")
        if not base.is_absolute() and relative_to is not None:
            base = relative_to / base
        policy = entry.model_version_policy
        kind = policy.WhichOneof("policy_choice") or "latest"
        num_versions = 1
        versions: tuple[int, ...] = ()
        if kind == "latest":
            num_versions = policy.latest.num_versions or 1
        elif kind == "specific":
            versions = tuple(policy.specific.versions)
            if not versions:
                raise ValueError(
                    f"model {entry.name!r}: the specific version policy lists no "
                    "versions"
                )
        models.append(
            _ModelConfig(
                name=entry.name,
                base_path=base,
                policy=kind,
                num_versions=num_versions,
                versions=versions,
                labels=dict(entry.version_labels),
            )
        )
    return models


# ---------------------------------------------------------------------------
# Loaded versions.


class _V1LoaderDeprecationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "saved_model.loader_impl) is deprecated" not in record.getMessage()


@contextlib.contextmanager
def _quiet_v1_loader_deprecation() -> Iterator[None]:
    """Hides TF's "use tf.saved_model.load instead" warning for the Session loader.

    The server loads into a Session on purpose (see `_LoadedVersion`); the
    warning would only send users to the API it moved away from.
    """
    tf_logger = tf.get_logger()
    quiet = _V1LoaderDeprecationFilter()
    tf_logger.addFilter(quiet)
    try:
        yield
    finally:
        tf_logger.removeFilter(quiet)


class _LoadedVersion:
    """One SavedModel version: a Session over its serving graph, and its SignatureDefs.

    Requests run the SignatureDef's tensors through a TF1-style Session, as TF
    Serving does, with one cached `Session.make_callable` per signature, input
    set and output set. A request then feeds its NumPy arrays straight into the
    graph: no eager tensor is built and no Python arguments are bound to a
    function signature on each call. Both cost more than they seem on a busy
    server, where every request runs on caches its model just evicted.
    """

    def __init__(self, version: int, path: Path) -> None:
        self.version = version
        self.path = path
        meta_graph = _serving_meta_graph(path)
        self.signature_defs = dict(meta_graph.signature_def)
        self._runnable = {
            name for name in self.signature_defs if name != _INIT_OP_SIGNATURE
        }
        self._graph = tf.Graph()
        config = tf.compat.v1.ConfigProto(
            allow_soft_placement=True,
            # Follow this process's settings, as tf.saved_model.load would.
            intra_op_parallelism_threads=(
                tf.config.threading.get_intra_op_parallelism_threads()
            ),
            inter_op_parallelism_threads=(
                tf.config.threading.get_inter_op_parallelism_threads()
            ),
        )
        config.gpu_options.allow_growth = True
        self._session = tf.compat.v1.Session(graph=self._graph, config=config)
        with self._graph.as_default(), _quiet_v1_loader_deprecation():
            tf.compat.v1.saved_model.load(
                self._session,
                list(meta_graph.meta_info_def.tags),
                str(path),
                clear_devices=True,
            )
        self._graph.finalize()
        self._callables: dict[tuple[str, tuple[str, ...], tuple[str, ...]], Any] = {}
        self._callables_lock = threading.Lock()

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        if name not in self._runnable:
            raise _RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'Serving signature key "{name}" not found.',
            )
        return self.signature_defs[name]

    def _callable(
        self, signature_name: str, feeds: tuple[str, ...], fetches: tuple[str, ...]
    ) -> Any:
        key = (signature_name, feeds, fetches)
        runner = self._callables.get(key)
        if runner is not None:
            return runner
        signature = self.signature_defs[signature_name]
        for kind, aliases, infos in (
            ("input", feeds, signature.inputs),
            ("output", fetches, signature.outputs),
        ):
            for alias in aliases:
                if alias not in infos:
                    raise _RpcError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{kind} tensor alias not found in signature: {alias}. "
                        f"Expected one of {{{','.join(sorted(infos))}}}.",
                    )
                if not infos[alias].name:
                    raise _RpcError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{kind} '{alias}' of signature '{signature_name}' is a "
                        "composite tensor, which LocalModelServer does not serve",
                    )
        feed_names = [signature.inputs[a].name for a in feeds]
        fetch_names = [signature.outputs[a].name for a in fetches]
        with self._callables_lock:
            runner = self._callables.get(key)
            if runner is None:
                runner = self._make_callable(feed_names, fetch_names)
                self._callables[key] = runner
        return runner

    def _make_callable(self, feed_names: list[str], fetch_names: list[str]) -> Any:
        # A callable made from CallableOptions hands the arrays to C++
        # directly (keras_apps._compat.session_callable says why it is private).
        from keras_apps import _compat

        options = config_pb2.CallableOptions(feed=feed_names, fetch=fetch_names)
        runner = _compat.session_callable(self._session, options)
        if runner is not None:
            return runner
        tensor = self._graph.get_tensor_by_name
        return self._session.make_callable(
            [tensor(name) for name in fetch_names],
            [tensor(name) for name in feed_names],
        )

    def run(
        self,
        signature_name: str,
        inputs: Mapping[str, Any],
        output_names: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Runs a signature on NumPy inputs; all its outputs unless named."""
        feeds = tuple(sorted(inputs))
        fetches = tuple(
            sorted(self.signature_defs[signature_name].outputs)
            if output_names is None
            else output_names
        )
        runner = self._callable(signature_name, feeds, fetches)
        try:
            values = runner(*(inputs[alias] for alias in feeds))
        except tf.errors.OpError as error:
            raise _RpcError(_grpc_code(error.error_code), error.message) from error
        except (TypeError, ValueError) as error:
            raise _RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error
        return dict(zip(fetches, values, strict=True))


def _grpc_code(tf_code: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == tf_code:
            return code
    return grpc.StatusCode.INTERNAL


def _serving_meta_graph(path: Path) -> meta_graph_pb2.MetaGraphDef:
    saved_model = saved_model_pb2.SavedModel()
    if (path / "saved_model.pb").is_file():
        saved_model.ParseFromString((path / "saved_model.pb").read_bytes())
    else:
        text_format.Parse((path / "saved_model.pbtxt").read_text(), saved_model)
    for meta_graph in saved_model.meta_graphs:
        if "serve" in meta_graph.meta_info_def.tags:
            return meta_graph
    raise ValueError(f"{path} has no MetaGraph tagged 'serve'")


def _list_versions(base_path: Path) -> dict[int, Path]:
    """All-digit directories that hold a complete SavedModel, as TF Serving sees."""
    versions = {}
    try:
        entries = list(os.scandir(base_path))
    except FileNotFoundError:
        return {}
    for entry in entries:
        version = parse_version(entry.name)
        if version is None or not entry.is_dir():
            continue
        path = Path(entry.path)
        if (path / "saved_model.pb").is_file() or (
            path / "saved_model.pbtxt"
        ).is_file():
            versions[version] = path
    return versions


def _stamp(path: Path) -> float:
    candidate = path / "saved_model.pb"
    if not candidate.exists():
        candidate = path / "saved_model.pbtxt"
    try:
        return candidate.stat().st_mtime
    except FileNotFoundError:
        return -1.0


class _ServedModel:
    """The versions of one model, kept in step with its base path."""

    def __init__(self, config: _ModelConfig, warmup: Any) -> None:
        self.config = config
        self._warmup = warmup
        self._lock = threading.Lock()
        self._versions: dict[int, _LoadedVersion] = {}
        self._states: dict[int, tuple[int, int, str]] = {}
        self._failed: dict[int, float] = {}
        self._refresh_lock = threading.Lock()

    def refresh(self) -> None:
        # One scan at a time: the poller, refresh() and config reloads share it.
        with self._refresh_lock:
            self._refresh()

    def _refresh(self) -> None:
        available = _list_versions(self.config.base_path)
        wanted = self.config.select(sorted(available))
        with self._lock:
            loaded = set(self._versions)
        for version in sorted(set(wanted) - loaded, reverse=True):
            path = available[version]
            stamp = _stamp(path)
            if self._failed.get(version) == stamp:
                continue
            self._set_state(version, _State.LOADING)
            try:
                candidate = _LoadedVersion(version, path)
                self._warmup(candidate)
            except Exception as error:  # a broken version must not stop serving
                logger.error(
                    "Loading version %d of model %r from %s failed: %s",
                    version,
                    self.config.name,
                    path,
                    error,
                )
                self._failed[version] = stamp
                self._set_state(version, _State.END, 13, f"Failed to load: {error}")
                continue
            with self._lock:
                self._versions[version] = candidate
            self._failed.pop(version, None)
            self._set_state(version, _State.AVAILABLE)
            logger.info("Serving version %d of model %r", version, self.config.name)
        with self._lock:
            still_wanted = [v for v in wanted if v in self._versions]
            # Like TF Serving's availability-preserving policy: keep an old
            # version while none of the wanted ones could be loaded.
            if not still_wanted:
                return
            for version in set(self._versions) - set(wanted):
                self._states[version] = (_State.UNLOADING, 0, "")
                del self._versions[version]
                self._states[version] = (_State.END, 0, "")
                logger.info(
                    "Unloaded version %d of model %r", version, self.config.name
                )

    def unload_all(self) -> None:
        with self._lock:
            for version in self._versions:
                self._states[version] = (_State.END, 0, "")
            self._versions.clear()

    def _set_state(
        self, version: int, state: int, code: int = 0, msg: str = ""
    ) -> None:
        with self._lock:
            self._states[version] = (state, code, msg)

    def resolve(self, spec: Any) -> _LoadedVersion:
        name = self.config.name
        with self._lock:
            if spec.HasField("version"):
                version = spec.version.value
                description = f"Specific({name}, {version})"
            elif spec.version_label:
                if spec.version_label not in self.config.labels:
                    raise _RpcError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"Unrecognized servable version label: {spec.version_label}",
                    )
                version = self.config.labels[spec.version_label]
                description = f"Specific({name}, {version})"
            else:
                version = max(self._versions) if self._versions else -1
                description = f"Latest({name})"
            loaded = self._versions.get(version)
        if loaded is None:
            raise _RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: {description}",
            )
        return loaded

    def states(self) -> dict[int, tuple[int, int, str]]:
        with self._lock:
            return dict(self._states)

    @property
    def served_versions(self) -> list[int]:
        with self._lock:
            return sorted(self._versions)


# ---------------------------------------------------------------------------
# The server.


class LocalModelServer:
    """A TF Serving-compatible gRPC server for development and tests.

    It serves SavedModels laid out as TF Serving expects
    (``base_path/<version>/``) through TF Serving's gRPC ``PredictionService``
    (Predict with ``output_filter``, GetModelMetadata, Classify, Regress) and
    ``ModelService`` (GetModelStatus, HandleReloadConfigRequest), so that a
    client written for TF Serving, including TF Serving's own example style with
    ``tf.make_tensor_proto`` and the generated stubs, works against it
    unchanged. It is meant for development, tests and CI; production serving is
    the official ``tensorflow/serving:latest-gpu`` image started with the
    command of `keras_apps.serving.tf_serving_command` or ``deploy/``.

    Give either one model (``model_base_path`` and ``model_name``) or a
    ``model_config_file`` (a ``ModelServerConfig`` text proto as TF Serving
    reads; relative base paths are resolved from the file's directory).

    Args:
        model_base_path: Directory whose all-digit subdirectories are versions.
        model_name: Name clients ask for. Defaults to the base path's
            directory name.
        model_config_file: A ``models.config`` file instead of one model.
        host: Address to bind; loopback unless told otherwise.
        port: Port to bind; ``0`` picks a free one (read it from `port`).
        file_system_poll_wait_seconds: How often the base paths are scanned for
            new or removed versions; ``0`` scans once at start, as TF Serving.
        max_workers: Threads answering requests concurrently.
        max_message_bytes: gRPC send and receive limit, default 64 MiB.
        serialize_as_tensor_content: Answer numeric tensors in
            ``tensor_content`` (default) rather than the ``*_val`` fields.
        enable_model_warmup: Replay ``assets.extra/tf_serving_warmup_requests``
            before a version is served, as TF Serving does.
        version_policy_latest: Versions served per model in the one-model form
            (TF Serving's ``latest { num_versions }``); default 1.

    Example:

    ```python
    with LocalModelServer(model_base_path="/tmp/models/mnist") as server:
        stub = prediction_service_pb2_grpc.PredictionServiceStub(
            grpc.insecure_channel(server.target)
        )
    ```

    For a server in a separate process use `LocalModelServer.spawn`.
    """

    def __init__(
        self,
        model_base_path: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        *,
        model_config_file: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        file_system_poll_wait_seconds: float = 1.0,
        max_workers: int = 16,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        serialize_as_tensor_content: bool = True,
        enable_model_warmup: bool = True,
        version_policy_latest: int = 1,
    ) -> None:
        check_model_source(model_base_path, model_name, model_config_file)
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"port must be in [0, 65535]. Received: port={port}")
        if file_system_poll_wait_seconds < 0:
            raise ValueError(
                "file_system_poll_wait_seconds must be >= 0. Received: "
                f"file_system_poll_wait_seconds={file_system_poll_wait_seconds}"
            )
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1. Received: {max_workers}")
        if max_message_bytes < 1024:
            raise ValueError(
                "max_message_bytes must be at least 1024. Received: "
                f"max_message_bytes={max_message_bytes}"
            )
        if version_policy_latest < 1:
            raise ValueError(
                "version_policy_latest must be >= 1. Received: "
                f"version_policy_latest={version_policy_latest}"
            )
        if model_config_file is not None:
            config_path = Path(model_config_file)
            configs = _configs_from_proto(
                _read_config_file(config_path), config_path.parent
            )
        else:
            base = Path(model_base_path)  # type: ignore[arg-type]
            configs = [
                _ModelConfig(
                    name=model_name or base.resolve().name,
                    base_path=base,
                    num_versions=version_policy_latest,
                )
            ]
        self.host = host
        self._requested_port = int(port)
        self.file_system_poll_wait_seconds = float(file_system_poll_wait_seconds)
        self.max_workers = int(max_workers)
        self.max_message_bytes = int(max_message_bytes)
        self.serialize_as_tensor_content = bool(serialize_as_tensor_content)
        self.enable_model_warmup = bool(enable_model_warmup)
        self._models: dict[str, _ServedModel] = {}
        self._initial_configs = configs
        self._config_lock = threading.RLock()
        self._stop_event = threading.Event()
        self._server: grpc.Server | None = None
        self._poller: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle ---------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port, once started."""
        if self._port is None:
            raise RuntimeError(
                "The server is not started: call start() or use it as a context "
                "manager before reading port or target."
            )
        return self._port

    @property
    def target(self) -> str:
        """``"HOST:PORT"`` for ``grpc.insecure_channel``, once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def model_names(self) -> list[str]:
        """Names of the configured models."""
        with self._config_lock:
            return sorted(self._models)

    def served_versions(self, model_name: str) -> list[int]:
        """Versions of ``model_name`` currently served."""
        with self._config_lock:
            if model_name not in self._models:
                raise KeyError(
                    f"Unknown model {model_name!r}; serving {sorted(self._models)}"
                )
            return self._models[model_name].served_versions

    def start(self) -> LocalModelServer:
        """Loads the current versions, binds the port and starts answering."""
        if self._server is not None:
            raise RuntimeError("The server is already started.")
        for config in self._initial_configs:
            if not config.base_path.is_dir():
                raise FileNotFoundError(
                    f"Base path {str(config.base_path)!r} of model {config.name!r} "
                    "does not exist; export a version there first (for example "
                    "with keras_apps.export.export_for_serving)."
                )
        self._apply_configs(self._initial_configs)
        options = [
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.so_reuseport", 0),
        ]
        server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="local-model-server"
            ),
            options=options,
        )
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionServicer(self), server
        )
        model_service_pb2_grpc.add_ModelServiceServicer_to_server(
            _ModelServicer(self), server
        )
        address = f"[{self.host}]" if ":" in self.host else self.host
        try:
            port = server.add_insecure_port(f"{address}:{self._requested_port}")
        except RuntimeError as error:
            raise OSError(
                f"Could not bind {address}:{self._requested_port}: {error}"
            ) from error
        if port == 0:
            raise OSError(f"Could not bind {address}:{self._requested_port}")
        server.start()
        self._server = server
        self._port = port
        self._stop_event.clear()
        if self.file_system_poll_wait_seconds > 0:
            self._poller = threading.Thread(
                target=self._poll, name="local-model-server-poll", daemon=True
            )
            self._poller.start()
        logger.info("LocalModelServer serving %s at %s", self.model_names, self.target)
        return self

    def stop(self, grace: float | None = 1.0) -> None:
        """Stops answering, waits up to ``grace`` seconds, and unloads models."""
        self._stop_event.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        with self._config_lock:
            for model in self._models.values():
                model.unload_all()

    def wait(self, timeout: float | None = None) -> bool:
        """Blocks until `stop` is called; returns whether it was."""
        return self._stop_event.wait(timeout)

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def refresh(self) -> None:
        """Scans the base paths now instead of waiting for the next poll."""
        with self._config_lock:
            models = list(self._models.values())
        for model in models:
            model.refresh()

    def _poll(self) -> None:
        while not self._stop_event.wait(self.file_system_poll_wait_seconds):
            try:
                self.refresh()
            except Exception:
                logger.exception("Polling the model base paths failed")

    def _apply_configs(self, configs: Sequence[_ModelConfig]) -> None:
        with self._config_lock:
            new_models = {}
            for config in configs:
                existing = self._models.get(config.name)
                if existing is not None and existing.config == config:
                    new_models[config.name] = existing
                    continue
                model = _ServedModel(config, self._warm_up)
                model.refresh()
                if existing is not None:
                    existing.unload_all()
                new_models[config.name] = model
            for name, model in self._models.items():
                if name not in new_models:
                    model.unload_all()
            self._models = new_models

    def _model(self, name: str) -> _ServedModel:
        with self._config_lock:
            model = self._models.get(name)
        if model is None:
            raise _RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({name})",
            )
        return model

    # -- warmup ------------------------------------------------------------

    def _warm_up(self, loaded: _LoadedVersion) -> None:
        path = loaded.path / _WARMUP_FILE
        if not self.enable_model_warmup or not path.is_file():
            return
        count = 0
        for record in tf.data.TFRecordDataset(str(path)).take(_MAX_WARMUP_RECORDS):
            log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
            kind = log.WhichOneof("log_type")
            if kind == "predict_log":
                self._run_predict(loaded, log.predict_log.request)
            elif kind == "classify_log":
                self._run_classify(loaded, log.classify_log.request, "classify")
            elif kind == "regress_log":
                self._run_classify(loaded, log.regress_log.request, "regress")
            else:
                raise ValueError(f"Unsupported warmup record type {kind!r}")
            count += 1
        logger.info("Replayed %d warmup requests for %s", count, loaded.path)

    # -- PredictionService -------------------------------------------------

    def predict(
        self, request: predict_pb2.PredictRequest
    ) -> predict_pb2.PredictResponse:
        model = self._model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_predict(loaded, request, model.config.name)

    def _run_predict(
        self,
        loaded: _LoadedVersion,
        request: predict_pb2.PredictRequest,
        model_name: str | None = None,
    ) -> predict_pb2.PredictResponse:
        signature_name = request.model_spec.signature_name or _DEFAULT_SIGNATURE
        signature = loaded.signature(signature_name)
        expected = sorted(signature.inputs)
        received = sorted(request.inputs)
        if len(received) != len(expected):
            extra = sorted(set(received) - set(expected))
            missing = sorted(set(expected) - set(received))
            raise _RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"input size does not match signature: {len(received)}!="
                f"{len(expected)} len({{{','.join(received)}}}) != "
                f"len({{{','.join(expected)}}}). Sent extra: {{{','.join(extra)}}}. "
                f"Missing but required: {{{','.join(missing)}}}.",
            )
        inputs = {}
        for index, alias in enumerate(expected):
            if alias not in request.inputs:
                unknown = sorted(set(received) - set(expected))[0]
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input tensor alias not found in signature: {unknown}. Inputs "
                    f"expected to be in the set {{{','.join(expected)}}}.",
                )
            info = signature.inputs[alias]
            proto = request.inputs[alias]
            if proto.dtype != info.dtype:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Expects arg[{index}] to be {_dtype_name(info.dtype)} but "
                    f"{_dtype_name(proto.dtype)} is provided (input '{alias}' of "
                    f"signature '{signature_name}')",
                )
            try:
                array = tensor_proto_to_ndarray(proto)
            except (TypeError, ValueError) as error:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input '{alias}' is not a valid TensorProto: {error}",
                ) from error
            if not _is_compatible(info.tensor_shape, array.shape):
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input '{alias}' of signature '{signature_name}' expects shape "
                    f"{_shape_text(d.size for d in info.tensor_shape.dim)} but "
                    f"received shape {_shape_text(array.shape)}",
                )
            inputs[alias] = array
        wanted = list(request.output_filter) or sorted(signature.outputs)
        seen: set[str] = set()
        sorted_outputs = sorted(signature.outputs)
        for alias in wanted:
            if alias not in signature.outputs:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"output tensor alias not found in signature: {alias} Outputs "
                    f"expected to be in the set {{{','.join(sorted_outputs)}}}.",
                )
            if alias in seen:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"duplicate output tensor alias: {alias}",
                )
            seen.add(alias)
        outputs = loaded.run(signature_name, inputs, wanted)
        response = predict_pb2.PredictResponse()
        for alias in wanted:
            response.outputs[alias].CopyFrom(
                ndarray_to_tensor_proto(
                    outputs[alias], self.serialize_as_tensor_content
                )
            )
        self._fill_spec(response.model_spec, model_name, loaded, signature_name)
        return response

    @staticmethod
    def _fill_spec(
        spec: Any, name: str | None, loaded: _LoadedVersion, sig: str
    ) -> None:
        if name is not None:
            spec.name = name
        spec.version.value = loaded.version
        spec.signature_name = sig

    def get_model_metadata(
        self, request: get_model_metadata_pb2.GetModelMetadataRequest
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        if not request.metadata_field:
            raise _RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "GetModelMetadataRequest must specify at least one metadata_field",
            )
        for name in request.metadata_field:
            if name != "signature_def":
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"Metadata field {name} is not supported",
                )
        model = self._model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for name, signature in loaded.signature_defs.items():
            signature_map.signature_def[name].CopyFrom(signature)
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = model.config.name
        response.model_spec.version.value = loaded.version
        response.metadata["signature_def"].Pack(signature_map)
        return response

    def classify(
        self, request: classification_pb2.ClassificationRequest
    ) -> classification_pb2.ClassificationResponse:
        model = self._model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_classify(loaded, request, "classify", model.config.name)

    def regress(
        self, request: regression_pb2.RegressionRequest
    ) -> regression_pb2.RegressionResponse:
        model = self._model(request.model_spec.name)
        loaded = model.resolve(request.model_spec)
        return self._run_classify(loaded, request, "regress", model.config.name)

    def _run_classify(
        self,
        loaded: _LoadedVersion,
        request: Any,
        kind: str,
        model_name: str | None = None,
    ) -> Any:
        method = _CLASSIFY_METHOD if kind == "classify" else _REGRESS_METHOD
        signature_name = request.model_spec.signature_name or _DEFAULT_SIGNATURE
        signature = loaded.signature(signature_name)
        if signature.method_name != method:
            raise _RpcError(
                grpc.StatusCode.UNIMPLEMENTED,
                f"Expected {kind} signature method_name to be {method}. Was: "
                f"{signature.method_name} (signature '{signature_name}'); use "
                "Predict for this signature.",
            )
        examples = _serialized_examples(request.input)
        if len(signature.inputs) != 1:
            raise _RpcError(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"Expected one input Tensor in the {kind} signature, found "
                f"{sorted(signature.inputs)}",
            )
        (alias,) = signature.inputs
        outputs = loaded.run(signature_name, {alias: np.array(examples, dtype=object)})
        if kind == "classify":
            response = classification_pb2.ClassificationResponse()
            classes = outputs.get("classes")
            scores = outputs.get("scores")
            if classes is None and scores is None:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Expected classification signature outputs 'classes' or 'scores'",
                )
            reference = classes if classes is not None else scores
            count = np.asarray(reference).shape[-1]
            for row in range(len(examples)):
                result = response.result.classifications.add()
                for column in range(count):
                    entry = result.classes.add()
                    if classes is not None:
                        entry.label = classes[row, column].decode("utf-8")
                    if scores is not None:
                        entry.score = float(scores[row, column])
        else:
            response = regression_pb2.RegressionResponse()
            values = outputs.get("outputs")
            if values is None:
                raise _RpcError(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "Expected regression signature output 'outputs'",
                )
            for value in np.asarray(values).reshape(len(examples), -1)[:, 0]:
                response.result.regressions.add(value=float(value))
        self._fill_spec(response.model_spec, model_name, loaded, signature_name)
        return response

    # -- ModelService ------------------------------------------------------

    def get_model_status(
        self, request: get_model_status_pb2.GetModelStatusRequest
    ) -> get_model_status_pb2.GetModelStatusResponse:
        name = request.model_spec.name
        with self._config_lock:
            model = self._models.get(name)
        states = model.states() if model is not None else {}
        if not states:
            raise _RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"Could not find any versions of model {name}",
            )
        if request.model_spec.HasField("version"):
            version = request.model_spec.version.value
            if version not in states:
                raise _RpcError(
                    grpc.StatusCode.NOT_FOUND,
                    f"Could not find version {version} of model {name}",
                )
            states = {version: states[version]}
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in sorted(states, reverse=True):
            state, code, message = states[version]
            status = response.model_version_status.add(version=version, state=state)
            status.status.error_code = code
            status.status.error_message = message
        return response

    def reload_config(
        self, request: model_management_pb2.ReloadConfigRequest
    ) -> model_management_pb2.ReloadConfigResponse:
        try:
            configs = _configs_from_proto(request.config, None)
        except ValueError as error:
            raise _RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error
        self._apply_configs(configs)
        return model_management_pb2.ReloadConfigResponse()

    # -- separate process --------------------------------------------------

    @classmethod
    def spawn(
        cls,
        model_base_path: str | os.PathLike[str] | None = None,
        model_name: str | None = None,
        *,
        model_config_file: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        file_system_poll_wait_seconds: float = 1.0,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
        startup_timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> ServerProcess:
        """Starts a server in a separate Python process and waits until it serves.

        Runs ``python -m keras_apps.cli serve --port-file FILE ...`` and reads the
        bound port from the file, which the child writes once its models are
        loaded. The child stops when `ServerProcess.stop` is called, when the
        handle is used as a context manager and the block ends, when this
        process exits, and also when this process dies without cleaning up
        (the child watches its stdin pipe).

        Args:
            model_base_path: As for `LocalModelServer`.
            model_name: As for `LocalModelServer`.
            model_config_file: As for `LocalModelServer`.
            host: Address to bind; loopback by default.
            port: Port to bind; ``0`` picks a free one.
            file_system_poll_wait_seconds: Version polling period.
            max_message_bytes: gRPC message limit.
            startup_timeout: Seconds to wait for the child to serve.
            env: Extra environment variables for the child.

        Returns:
            A `ServerProcess` with ``.target``, ``.port``, ``.stop()``.

        Example:

        ```python
        with LocalModelServer.spawn("/tmp/models/mnist", "mnist") as server:
            client = PredictClient(server.target, "mnist")
        ```
        """
        check_model_source(model_base_path, model_name, model_config_file)
        workdir = Path(tempfile.mkdtemp(prefix="keras-apps-serve-"))
        port_file = workdir / "port"
        log_path = workdir / "server.log"
        command = [
            sys.executable,
            "-m",
            "keras_apps.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--port-file",
            str(port_file),
            "--poll-seconds",
            str(file_system_poll_wait_seconds),
            "--max-message-bytes",
            str(max_message_bytes),
            "--stop-on-stdin-eof",
        ]
        if model_config_file is not None:
            command += ["--model-config-file", str(Path(model_config_file).resolve())]
        else:
            command += ["--model-base-path", str(Path(model_base_path).resolve())]  # type: ignore[arg-type]
            if model_name is not None:
                command += ["--model-name", model_name]
        child_env = dict(os.environ)
        child_env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        child_env.setdefault("KERAS_BACKEND", "tensorflow")
        package_root = str(Path(__file__).resolve().parents[2])
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_root, child_env.get("PYTHONPATH", "")) if p
        )
        child_env.update(env or {})
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=child_env,
                start_new_session=True,
            )
        handle = ServerProcess(process, host, log_path, workdir)
        try:
            handle._wait_for_port(port_file, startup_timeout)
        except BaseException:
            handle.stop()
            raise
        return handle


class ServerProcess:
    """A `LocalModelServer` running in a child process (see `LocalModelServer.spawn`).

    Attributes:
        process: The `subprocess.Popen` of the child.
        host: The bound host.
        log_path: File with the child's stdout and stderr.
    """

    _live: set[ServerProcess] = set()
    _live_lock = threading.Lock()

    def __init__(
        self, process: subprocess.Popen[bytes], host: str, log_path: Path, workdir: Path
    ) -> None:
        self.process = process
        self.host = host
        self.log_path = log_path
        self._workdir = workdir
        self._port: int | None = None
        self._final_logs: str | None = None
        with ServerProcess._live_lock:
            ServerProcess._live.add(self)

    @property
    def pid(self) -> int:
        """Process id of the child."""
        return self.process.pid

    @property
    def port(self) -> int:
        """The port the child bound."""
        if self._port is None:
            raise RuntimeError("The server process has not reported its port yet.")
        return self._port

    @property
    def target(self) -> str:
        """``"HOST:PORT"`` of the child's server."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the child is still alive."""
        return self.process.poll() is None

    def logs(self) -> str:
        """What the child wrote to stdout and stderr so far."""
        if self._final_logs is not None:
            return self._final_logs
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _wait_for_port(self, port_file: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if port_file.is_file():
                text = port_file.read_text().strip()
                if text:
                    self._port = int(text)
                    return
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"The server process exited with status {code} before serving. "
                    f"Its output:\n{self.logs()[-4000:]}"
                )
            time.sleep(0.05)
        raise TimeoutError(
            f"The server process did not serve within {timeout:.0f} s. Its "
            f"output:\n{self.logs()[-4000:]}"
        )

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stops the child (SIGTERM, then SIGKILL after ``timeout`` s).

        Returns:
            The child's exit status.
        """
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
        elif process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        with ServerProcess._live_lock:
            ServerProcess._live.discard(self)
        if self._final_logs is None:
            self._final_logs = self.logs()
            shutil.rmtree(self._workdir, ignore_errors=True)
        return process.returncode

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        port = self._port if self._port is not None else "?"
        return f"ServerProcess(pid={self.pid}, target={self.host}:{port})"


@atexit.register
def _stop_live_processes() -> None:
    with ServerProcess._live_lock:
        live = list(ServerProcess._live)
    for handle in live:
        handle.stop(timeout=5.0)


# ---------------------------------------------------------------------------
# gRPC servicers.


def _serialized_examples(request_input: input_pb2.Input) -> list[bytes]:
    kind = request_input.WhichOneof("kind")
    if kind == "example_list":
        examples = [e.SerializeToString() for e in request_input.example_list.examples]
    elif kind == "example_list_with_context":
        with_context = request_input.example_list_with_context
        context = with_context.context.SerializeToString()
        # Serialized protos concatenate as a merge: the example's own features
        # override the context's, as in TF Serving.
        examples = [context + e.SerializeToString() for e in with_context.examples]
    else:
        examples = []
    if not examples:
        raise _RpcError(grpc.StatusCode.INVALID_ARGUMENT, "Input is empty.")
    return examples


def _answer(context: grpc.ServicerContext, method: Any, request: Any) -> Any:
    try:
        return method(request)
    except _RpcError as error:
        context.abort(error.code, error.message)
    except Exception as error:
        logger.exception("Request failed")
        context.abort(grpc.StatusCode.INTERNAL, f"{type(error).__name__}: {error}")


class _PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, server: LocalModelServer) -> None:
        self._server = server

    def Predict(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._server.predict, request)

    def GetModelMetadata(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._server.get_model_metadata, request)

    def Classify(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._server.classify, request)

    def Regress(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._server.regress, request)

    def MultiInference(self, request: Any, context: grpc.ServicerContext) -> Any:
        context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            "MultiInference is not served by LocalModelServer; use Classify, "
            "Regress or Predict.",
        )


class _ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, server: LocalModelServer) -> None:
        self._server = server

    def GetModelStatus(self, request: Any, context: grpc.ServicerContext) -> Any:
        return _answer(context, self._server.get_model_status, request)

    def HandleReloadConfigRequest(
        self, request: Any, context: grpc.ServicerContext
    ) -> Any:
        return _answer(context, self._server.reload_config, request)
