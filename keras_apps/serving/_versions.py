"""Version discovery and loading (one room of the server).

`ModelRegistry` holds the configured models; each `ServedModel` keeps its
loaded versions in step with its base path (TF Serving's layout, its version
policies, load retries and unloading), and each `LoadedVersion` runs one
SavedModel's signatures in a TF1-style Session, as TF Serving does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow.core.protobuf import config_pb2, meta_graph_pb2, saved_model_pb2
from tensorflow_serving.apis import get_model_status_pb2

from keras_apps._layout import parse_version
from keras_apps.serving._model_config import ModelConfig
from keras_apps.serving._status import RpcError, grpc_code

logger = logging.getLogger("keras_apps.serving.server")

INIT_OP_SIGNATURE = "__saved_model_init_op"  # the TF2 init op, not a signature
_State = get_model_status_pb2.ModelVersionStatus.State


class _V1LoaderDeprecationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "saved_model.loader_impl) is deprecated" not in record.getMessage()


@contextlib.contextmanager
def _quiet_v1_loader_deprecation() -> Iterator[None]:
    """Hides TF's "use tf.saved_model.load instead" warning for the Session loader.

    The server loads into a Session on purpose (see `LoadedVersion`); the
    warning would only send users to the API it moved away from.
    """
    tf_logger = tf.get_logger()
    quiet = _V1LoaderDeprecationFilter()
    tf_logger.addFilter(quiet)
    try:
        yield
    finally:
        tf_logger.removeFilter(quiet)


_CALLER_THREAD = -1
"""``RunOptions.inter_op_thread_pool`` that runs a step in the caller's thread."""

_INLINE_STEP_SECONDS = 1e-3
_TIMED_STEPS = 8


class _StepRunner:
    """Runs one signature's feeds -> fetches: on TF's inter-op pool, or inline.

    A Session hands each step to its inter-op thread pool and waits for it.
    For a step of microseconds the hand-off (two thread switches, and pool
    threads that spin on a busy machine) costs more than the step, which is
    why TensorFlow offers ``RunOptions.inter_op_thread_pool = -1``, the
    caller's thread, for simple graphs. The first steps run on the pool and
    are timed (the very first, which prunes and places the graph, is not);
    when the fastest of the next eight took under 1 ms, later steps run in
    the caller's thread. Longer steps stay on the pool, which can run independent
    branches side by side.
    """

    def __init__(self, make: Callable[[bool], Any]) -> None:
        self._make = make
        self._run = make(False)
        self._seconds: list[float] | None = []  # None once decided
        self._lock = threading.Lock()
        self.inline = False
        """Whether steps now run in the caller's thread."""

    def __call__(self, *arrays: Any) -> Any:
        if self._seconds is None:
            return self._run(*arrays)
        start = time.perf_counter()
        values = self._run(*arrays)
        elapsed = time.perf_counter() - start
        with self._lock:
            seconds = self._seconds
            if seconds is not None:
                seconds.append(elapsed)
                if len(seconds) > _TIMED_STEPS:
                    # The fastest: on a loaded machine others are preempted.
                    if min(seconds[1:]) < _INLINE_STEP_SECONDS:
                        self._run = self._make(True)
                        self.inline = True
                    self._seconds = None
        return values


class LoadedVersion:
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
            name for name in self.signature_defs if name != INIT_OP_SIGNATURE
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
        self._callables: dict[
            tuple[str, tuple[str, ...], tuple[str, ...]], _StepRunner
        ] = {}
        self._callables_lock = threading.Lock()
        self.request_plans: dict[str, Any] = {}
        """What the request handlers work out once per signature of this version."""

    def signature(self, name: str) -> meta_graph_pb2.SignatureDef:
        if name not in self._runnable:
            raise RpcError(
                grpc.StatusCode.FAILED_PRECONDITION,
                f'Serving signature key "{name}" not found.',
            )
        return self.signature_defs[name]

    def _callable(
        self, signature_name: str, feeds: tuple[str, ...], fetches: tuple[str, ...]
    ) -> _StepRunner:
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
                    raise RpcError(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{kind} tensor alias not found in signature: {alias}. "
                        f"Expected one of {{{','.join(sorted(infos))}}}.",
                    )
                if not infos[alias].name:
                    raise RpcError(
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

    def _make_callable(
        self, feed_names: list[str], fetch_names: list[str]
    ) -> _StepRunner:
        # A callable made from CallableOptions hands the arrays to C++
        # directly (keras_apps._compat.session_callable says why it is private).
        from keras_apps import _compat

        def from_options(inline: bool) -> Any:
            options = config_pb2.CallableOptions(feed=feed_names, fetch=fetch_names)
            if inline:
                options.run_options.inter_op_thread_pool = _CALLER_THREAD
            runner = _compat.session_callable(self._session, options)
            if runner is not None:
                return runner
            tensor = self._graph.get_tensor_by_name
            public = self._session.make_callable(
                [tensor(name) for name in fetch_names],
                [tensor(name) for name in feed_names],
                accept_options=inline,
            )
            if not inline:
                return public
            run_options = config_pb2.RunOptions(inter_op_thread_pool=_CALLER_THREAD)
            return lambda *arrays: public(*arrays, options=run_options)

        return _StepRunner(from_options)

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
        values = self.run_ordered(
            signature_name, feeds, fetches, [inputs[alias] for alias in feeds]
        )
        return dict(zip(fetches, values, strict=True))

    def run_ordered(
        self,
        signature_name: str,
        feeds: tuple[str, ...],
        fetches: tuple[str, ...],
        values: Sequence[Any],
    ) -> Sequence[np.ndarray]:
        """`run` for callers that hold the aliases in order: the arrays of
        ``fetches``, given ``values`` for ``feeds`` (one per alias, in order).
        """
        runner = self._callable(signature_name, feeds, fetches)
        try:
            return runner(*values)
        except tf.errors.OpError as error:
            raise RpcError(grpc_code(error.error_code), error.message) from error
        except (TypeError, ValueError) as error:
            raise RpcError(grpc.StatusCode.INVALID_ARGUMENT, str(error)) from error


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


def _looks_like_version(name: str) -> bool:
    """A name a person may take for a version that `parse_version` refuses.

    Unicode digits (``"²"``, Arabic-Indic ``"١٢"``) and ASCII numbers above
    int64: worth one warning. Work folders (``"2.partial"``, ``"tmp-3"``) are not.
    """
    return name.isdigit() or name.isdecimal()


def _list_versions(base_path: Path) -> tuple[dict[int, Path], list[str]]:
    """Version folders that hold a complete SavedModel, as TF Serving sees them.

    Returns:
        The versions found, and the names of folders that look like versions
        but are not (see `keras_apps._layout.parse_version`).
    """
    versions = {}
    refused = []
    try:
        entries = list(os.scandir(base_path))
    except FileNotFoundError:
        return {}, []
    for entry in entries:
        version = parse_version(entry.name)
        if version is None:
            if _looks_like_version(entry.name):
                refused.append(entry.name)
            continue
        path = Path(entry.path)
        if not entry.is_dir():
            continue
        if (path / "saved_model.pb").is_file() or (
            path / "saved_model.pbtxt"
        ).is_file():
            versions[version] = path
    return versions, sorted(refused)


def _stamp(path: Path) -> float:
    candidate = path / "saved_model.pb"
    if not candidate.exists():
        candidate = path / "saved_model.pbtxt"
    try:
        return candidate.stat().st_mtime
    except FileNotFoundError:
        return -1.0


@dataclass
class _LoadFailure:
    """Failed load attempts of one version, for TF Serving's bounded retries."""

    stamp: float
    attempts: int
    next_try: float
    error: str


class ServedModel:
    """The versions of one model, kept in step with its base path.

    A version that fails to load is tried again, as TF Serving does, up to
    ``max_num_load_retries`` more times, ``load_retry_interval`` seconds apart
    (while it waits its state is LOADING with the last error; then END with
    the error). Files that change (a new ``saved_model.pb`` mtime) start a
    fresh round of attempts.
    """

    def __init__(
        self,
        config: ModelConfig,
        warmup: Any,
        max_num_load_retries: int = 5,
        load_retry_interval: float = 60.0,
    ) -> None:
        self.config = config
        self._warmup = warmup
        self._max_num_load_retries = max_num_load_retries
        self._load_retry_interval = load_retry_interval
        self._lock = threading.Lock()
        self._versions: dict[int, LoadedVersion] = {}
        self._states: dict[int, tuple[int, int, str]] = {}
        self._failures: dict[int, _LoadFailure] = {}
        self._available: dict[int, Path] = {}
        self._warned: set[str] = set()
        self._last_error: str | None = None
        self._refresh_lock = threading.Lock()

    def refresh(self, scan: bool = True) -> None:
        """Scans the base path (or, with ``scan=False``, retries due loads only)."""
        # One scan at a time: the poller, refresh() and config reloads share it.
        with self._refresh_lock:
            try:
                self._refresh(scan)
            except Exception as error:
                # Logged once per distinct error, not once per poll.
                text = f"{type(error).__name__}: {error}"
                if text != self._last_error:
                    self._last_error = text
                    logger.exception(
                        "Polling the base path of model %r failed", self.config.name
                    )
            else:
                self._last_error = None

    def next_retry(self) -> float | None:
        """``time.monotonic()`` of the next due load retry, if one is pending."""
        with self._lock:
            pending = [
                f.next_try
                for f in self._failures.values()
                if f.attempts <= self._max_num_load_retries
            ]
        return min(pending) if pending else None

    def _refresh(self, scan: bool) -> None:
        if scan:
            available, refused = _list_versions(self.config.base_path)
            for name in refused:
                if name not in self._warned:
                    self._warned.add(name)
                    logger.warning(
                        "Model %r: skipping folder %r under %s: a version folder "
                        "is named by ASCII digits alone, with a number of at most "
                        "2**63-1 (TF Serving's int64 version).",
                        self.config.name,
                        name,
                        self.config.base_path,
                    )
            self._warned &= set(refused)
            self._available = available
        available = self._available
        wanted = self.config.select(sorted(available))
        with self._lock:
            loaded = set(self._versions)
            for version in set(self._failures) - set(available):
                del self._failures[version]
        for version in sorted(set(wanted) - loaded, reverse=True):
            path = available[version]
            stamp = _stamp(path)
            failure = self._failures.get(version)
            if failure is not None and failure.stamp != stamp:
                failure = None  # new files: a fresh round of attempts
            if failure is not None and (
                failure.attempts > self._max_num_load_retries
                or time.monotonic() < failure.next_try
            ):
                continue
            self._set_state(version, _State.LOADING)
            try:
                candidate = LoadedVersion(version, path)
                self._warmup(candidate)
            except Exception as error:  # a broken version must not stop serving
                self._record_failure(version, path, stamp, failure, error)
                continue
            with self._lock:
                self._versions[version] = candidate
                self._failures.pop(version, None)
            self._set_state(version, _State.AVAILABLE)
            logger.info("Serving version %d of model %r", version, self.config.name)
        with self._lock:
            # A served version whose folder is gone is unloaded, as TF Serving
            # does. A version still on disk but no longer wanted is kept while
            # none of the wanted ones is loaded (TF Serving's
            # availability-preserving policy).
            gone = [v for v in self._versions if v not in available]
            if any(v in self._versions for v in wanted):
                gone += [v for v in self._versions if v not in wanted and v not in gone]
            for version in gone:
                del self._versions[version]
                self._states[version] = (_State.END, 0, "")
                logger.info(
                    "Unloaded version %d of model %r", version, self.config.name
                )

    def _record_failure(
        self,
        version: int,
        path: Path,
        stamp: float,
        failure: _LoadFailure | None,
        error: Exception,
    ) -> None:
        attempts = (failure.attempts if failure is not None else 0) + 1
        text = f"{type(error).__name__}: {error}"
        final = attempts > self._max_num_load_retries
        logger.error(
            "Loading version %d of model %r from %s failed (attempt %d of %d)%s: %s",
            version,
            self.config.name,
            path,
            attempts,
            self._max_num_load_retries + 1,
            "" if final else f"; retrying in {self._load_retry_interval:g} s",
            error,
        )
        with self._lock:
            self._failures[version] = _LoadFailure(
                stamp=stamp,
                attempts=attempts,
                next_try=time.monotonic() + self._load_retry_interval,
                error=text,
            )
            message = f"Failed to load (attempt {attempts} of "
            message += f"{self._max_num_load_retries + 1}): {text}"
            state = _State.END if final else _State.LOADING
            code = error.error_code if isinstance(error, tf.errors.OpError) else 13
            self._states[version] = (state, code, message)

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

    def resolve(self, spec: Any) -> LoadedVersion:
        name = self.config.name
        with self._lock:
            if spec.HasField("version"):
                version = spec.version.value
                description = f"Specific({name}, {version})"
            elif spec.version_label:
                if spec.version_label not in self.config.labels:
                    raise RpcError(
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
            raise RpcError(
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


class ModelRegistry:
    """The configured models, by name; what every request handler looks up.

    Args:
        warmup: Called with each `LoadedVersion` before it is served.
        max_num_load_retries: As for `LocalModelServer`.
        load_retry_interval: Seconds between load attempts.
    """

    def __init__(
        self,
        warmup: Callable[[LoadedVersion], None],
        max_num_load_retries: int = 5,
        load_retry_interval: float = 60.0,
    ) -> None:
        self._warmup = warmup
        self._max_num_load_retries = max_num_load_retries
        self._load_retry_interval = load_retry_interval
        self._models: dict[str, ServedModel] = {}
        self._lock = threading.RLock()

    @property
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._models)

    def models(self) -> list[ServedModel]:
        with self._lock:
            return list(self._models.values())

    def get(self, name: str) -> ServedModel | None:
        with self._lock:
            return self._models.get(name)

    def model(self, name: str) -> ServedModel:
        """The model named ``name``, or TF Serving's NOT_FOUND."""
        model = self.get(name)
        if model is None:
            raise RpcError(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({name})",
            )
        return model

    def served_versions(self, name: str) -> list[int]:
        model = self.get(name)
        if model is None:
            raise KeyError(f"Unknown model {name!r}; serving {self.names}")
        return model.served_versions

    def apply(self, configs: Sequence[ModelConfig]) -> None:
        """Serves exactly ``configs``: new models load, dropped ones unload."""
        with self._lock:
            new_models = {}
            for config in configs:
                existing = self._models.get(config.name)
                if existing is not None and existing.config == config:
                    new_models[config.name] = existing
                    continue
                model = ServedModel(
                    config,
                    self._warmup,
                    self._max_num_load_retries,
                    self._load_retry_interval,
                )
                model.refresh()
                if existing is not None:
                    existing.unload_all()
                new_models[config.name] = model
            for name, model in self._models.items():
                if name not in new_models:
                    model.unload_all()
            self._models = new_models

    def refresh(self, scan: bool = True) -> None:
        """Scans every base path; one model that fails never stops the others."""
        for model in self.models():
            model.refresh(scan)

    def next_retry(self) -> float | None:
        """``time.monotonic()`` of the next due load retry of any model."""
        due = [t for t in (m.next_retry() for m in self.models()) if t is not None]
        return min(due) if due else None

    def unload_all(self) -> None:
        for model in self.models():
            model.unload_all()
