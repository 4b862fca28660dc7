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
  and a version that fails to load never replaces a working one. A failed load
  is retried ``max_num_load_retries`` times, ``load_retry_interval_micros``
  apart, and GetModelStatus reports its state and error. Folder names that are
  no version (``"²"``, ``"١٢"``, a number above int64) are skipped with one
  warning; a served version whose folder vanishes is unloaded.
- A version number that was loaded is never loaded again from changed files,
  as in TF Serving: rewriting ``base_path/3`` in place (``export_for_serving``
  with ``overwrite=True``) leaves a running server on the old weights until it
  restarts. Publish a new version number instead.
- Status codes: ``NOT_FOUND`` for an unknown model or version,
  ``INVALID_ARGUMENT`` for bad inputs (the message lists the expected input
  names), ``FAILED_PRECONDITION`` for an unknown signature key.
- Responses carry ``model_spec`` (name, version, signature name) and
  ``GetModelMetadata`` packs a ``SignatureDefMap`` into a
  ``google.protobuf.Any`` under the ``"signature_def"`` key.

Responses fill the typed ``*_val`` fields (``float_val``, ``int_val``,
``half_val``, ``string_val``, ...), TF Serving's default, so that a client
reading ``outputs["y"].float_val`` works; with
``enable_serialization_as_tensor_content=True`` (TF Serving's
``--enable_serialization_as_tensor_content``, which `tf_serving_command`
passes) numeric tensors come as raw little-endian ``tensor_content`` and
strings stay in ``string_val``. Clients written with ``tf.make_ndarray`` or
`keras_apps.serving.decode_tensor` read both.

Requests are checked as TF Serving's ``predict_util`` does: input names (with
its "Sent extra / Missing but required" message) and dtypes; shapes are left
to the graph, whose error is the answer. Classify and Regress serve every
signature that takes serialized ``tf.Example``s (TF1 classify/regress
signatures and TF2 ones, whose method name is always predict), and
MultiInference runs several of them on one input. A ``model_config_file`` is
re-read every ``model_config_file_poll_wait_seconds`` (0: never, TF Serving's
default). ``rest_api_port`` adds TF Serving's REST API.

What it exposes: whoever reaches its port can run every served model
(Predict, Classify, Regress), read every signature and version status, and,
through ``HandleReloadConfigRequest``, make the server load any SavedModel its
user can read, whose graph then runs with the server's file access (a
signature calling ``tf.io.read_file`` returns any file). Hence: it binds
loopback by default and warns loudly when told to bind beyond; reload is off
by default beyond loopback (``allow_reload_config``); and it speaks TLS when
given a certificate and key (``ssl_certificate_file``, ``ssl_key_file``), with
client certificates required when given the CA that signs them
(``ssl_client_ca_file``).

The server is built of rooms of one job each: ``_model_config`` (which models:
the ``ModelServerConfig``), ``_versions`` (version discovery, loading, retries
and unloading), ``_handlers`` (TF Serving's requests in, responses out, plain
functions testable without gRPC), ``_grpc_services`` and ``_rest`` (the two
transports over those handlers), `keras_apps.serving.server_process` (the
child-process launcher, TensorFlow-free) and this module (binding, TLS,
polling, lifecycle).

This module imports TensorFlow; the client side of `keras_apps.serving` does not.
"""

from __future__ import annotations

import logging
import math
import os
import ssl
import threading
import time
from concurrent import futures
from pathlib import Path
from types import TracebackType
from typing import Any

import grpc

from keras_apps.serving.container import check_model_source, is_loopback
from keras_apps.serving.server_process import (
    DEFAULT_MAX_MESSAGE_BYTES,
    ServerProcess,
    check_port_free,
    spawn,
)

# The rooms that load TensorFlow are imported when a server is made in this
# process, so that a process that only spawns one (`LocalModelServer.spawn`)
# never loads TensorFlow itself.
__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "LocalModelServer",
    "ServerProcess",
    "check_port_free",
    "is_loopback",
]

logger = logging.getLogger(__name__)


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
        enable_serialization_as_tensor_content: Answer numeric tensors in
            ``tensor_content`` rather than the typed ``*_val`` fields (the
            default, as TF Serving's).
        serialize_as_tensor_content: Older name of
            ``enable_serialization_as_tensor_content``; wins when given.
        enable_model_warmup: Replay ``assets.extra/tf_serving_warmup_requests``
            before a version is served, as TF Serving does.
        version_policy_latest: Versions served per model in the one-model form
            (TF Serving's ``latest { num_versions }``); default 1.
        max_num_load_retries: How many more times a version that failed to
            load is tried (TF Serving's ``--max_num_load_retries``, default 5).
            While it waits, GetModelStatus reports it LOADING with the last
            error; after the last attempt END with the error.
        load_retry_interval_micros: Microseconds between attempts (TF
            Serving's ``--load_retry_interval_micros``, default one minute).
        ssl_certificate_file: PEM certificate (chain) of the server; with
            ``ssl_key_file`` the port speaks TLS only.
        ssl_key_file: PEM private key of that certificate.
        ssl_client_ca_file: PEM certificates of the CAs that sign client
            certificates; when given, every client must present one (mutual
            TLS). Needs ``ssl_certificate_file``.
        enable_signature_method_name_check: Refuse Classify and Regress on
            signatures whose method name is not classify/regress (TF Serving's
            flag of that name; off by default there too).
        model_config_file_poll_wait_seconds: How often ``model_config_file``
            is re-read and the models it lists served (TF Serving's flag);
            ``0``, the default, reads it once. A file that fails to parse is
            logged with TF Serving's text and the current models stay.
        rest_api_port: Port of TF Serving's REST API (``GET /v1/models/NAME``,
            ``POST /v1/models/NAME:predict``, ...) on the same host; ``None``
            (default) serves none, ``0`` picks a free one (read it from
            `rest_api_port`). Served by Werkzeug's threaded server with
            HTTP/1.1 keep-alive (as TF Serving), in plain HTTP, or HTTPS with
            the gRPC port's certificates (and client certificates) when
            ``ssl_certificate_file`` is given.
        allow_reload_config: Whether ``HandleReloadConfigRequest`` is served.
            It lets any client load any SavedModel the server can read, so
            ``None`` (default) serves it on loopback only; refused calls get
            ``PERMISSION_DENIED``.

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
        enable_serialization_as_tensor_content: bool = False,
        serialize_as_tensor_content: bool | None = None,
        enable_model_warmup: bool = True,
        version_policy_latest: int = 1,
        max_num_load_retries: int = 5,
        load_retry_interval_micros: int = 60_000_000,
        ssl_certificate_file: str | os.PathLike[str] | None = None,
        ssl_key_file: str | os.PathLike[str] | None = None,
        ssl_client_ca_file: str | os.PathLike[str] | None = None,
        allow_reload_config: bool | None = None,
        enable_signature_method_name_check: bool = False,
        model_config_file_poll_wait_seconds: float = 0.0,
        rest_api_port: int | None = None,
    ) -> None:
        check_model_source(model_base_path, model_name, model_config_file)
        if model_config_file_poll_wait_seconds < 0:
            raise ValueError(
                "model_config_file_poll_wait_seconds must be >= 0. Received: "
                "model_config_file_poll_wait_seconds="
                f"{model_config_file_poll_wait_seconds}"
            )
        if rest_api_port is not None and not 0 <= int(rest_api_port) <= 65535:
            raise ValueError(
                f"rest_api_port must be in [0, 65535]. Received: {rest_api_port}"
            )
        if (ssl_certificate_file is None) != (ssl_key_file is None):
            raise ValueError(
                "ssl_certificate_file and ssl_key_file go together. Received: "
                f"ssl_certificate_file={ssl_certificate_file}, "
                f"ssl_key_file={ssl_key_file}"
            )
        if ssl_client_ca_file is not None and ssl_certificate_file is None:
            raise ValueError(
                "ssl_client_ca_file needs ssl_certificate_file and ssl_key_file: "
                "client certificates are checked over TLS. Received: "
                f"ssl_client_ca_file={ssl_client_ca_file}"
            )
        for argument, value in (
            ("ssl_certificate_file", ssl_certificate_file),
            ("ssl_key_file", ssl_key_file),
            ("ssl_client_ca_file", ssl_client_ca_file),
        ):
            if value is not None and not Path(value).is_file():
                raise FileNotFoundError(
                    f"{argument} {str(value)!r} does not exist; expected a PEM file"
                )
        if max_num_load_retries < 0:
            raise ValueError(
                "max_num_load_retries must be >= 0. Received: "
                f"max_num_load_retries={max_num_load_retries}"
            )
        if load_retry_interval_micros < 0:
            raise ValueError(
                "load_retry_interval_micros must be >= 0. Received: "
                f"load_retry_interval_micros={load_retry_interval_micros}"
            )
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
        # TensorFlow loads here, with the rooms that need it.
        from keras_apps.serving._handlers import RequestHandlers
        from keras_apps.serving._model_config import (
            ModelConfig,
            configs_from_proto,
            read_config_file,
        )
        from keras_apps.serving._versions import ModelRegistry

        if model_config_file is not None:
            config_path = Path(model_config_file)
            configs = configs_from_proto(
                read_config_file(config_path), config_path.parent
            )
        else:
            base = Path(model_base_path)  # type: ignore[arg-type]
            configs = [
                ModelConfig(
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
        if serialize_as_tensor_content is not None:
            enable_serialization_as_tensor_content = serialize_as_tensor_content
        self.enable_serialization_as_tensor_content = bool(
            enable_serialization_as_tensor_content
        )
        self._config_file = (
            Path(model_config_file) if model_config_file is not None else None
        )
        self.model_config_file_poll_wait_seconds = float(
            model_config_file_poll_wait_seconds
        )
        self._config_error: str | None = None
        self._requested_rest_port = rest_api_port
        self._rest: Any = None
        self.enable_model_warmup = bool(enable_model_warmup)
        self.max_num_load_retries = int(max_num_load_retries)
        self._ssl_files = (ssl_certificate_file, ssl_key_file, ssl_client_ca_file)
        self.loopback = is_loopback(host)
        self.allow_reload_config = (
            self.loopback if allow_reload_config is None else bool(allow_reload_config)
        )
        self.load_retry_interval_micros = int(load_retry_interval_micros)
        self._initial_configs = configs
        self._registry = ModelRegistry(
            lambda loaded: self.handlers.warm_up(loaded),
            self.max_num_load_retries,
            self.load_retry_interval_micros / 1e6,
        )
        self.handlers = RequestHandlers(
            self._registry,
            max_message_bytes=self.max_message_bytes,
            tensor_content=self.enable_serialization_as_tensor_content,
            enable_model_warmup=self.enable_model_warmup,
            allow_reload_config=self.allow_reload_config,
            enable_signature_method_name_check=enable_signature_method_name_check,
        )
        """The `RequestHandlers` that answer this server's requests."""
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
        return self._registry.names

    def served_versions(self, model_name: str) -> list[int]:
        """Versions of ``model_name`` currently served."""
        return self._registry.served_versions(model_name)

    def start(self) -> LocalModelServer:
        """Loads the current versions, binds the port and starts answering."""
        from keras_apps.serving._grpc_services import add_services

        if self._server is not None:
            raise RuntimeError("The server is already started.")
        # Before any model loads: a taken port is named at once.
        check_port_free(self.host, self._requested_port)
        if self._requested_rest_port:
            check_port_free(self.host, int(self._requested_rest_port))
        for config in self._initial_configs:
            if not config.base_path.is_dir():
                raise FileNotFoundError(
                    f"Base path {str(config.base_path)!r} of model {config.name!r} "
                    "does not exist; export a version there first (for example "
                    "with keras_apps.export.export_for_serving)."
                )
        self._registry.apply(self._initial_configs)
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
        add_services(server, self.handlers)
        address = f"[{self.host}]" if ":" in self.host else self.host
        credentials = self._server_credentials()
        if not self.loopback:
            logger.warning(self.exposure_warning())
        try:
            if credentials is None:
                port = server.add_insecure_port(f"{address}:{self._requested_port}")
            else:
                port = server.add_secure_port(
                    f"{address}:{self._requested_port}", credentials
                )
        except RuntimeError as error:
            raise OSError(
                f"Could not bind {address}:{self._requested_port}: {error}"
            ) from error
        if port == 0:
            raise OSError(f"Could not bind {address}:{self._requested_port}")
        rest = self._rest_server(self.host)
        server.start()
        self._server = server
        self._port = port
        if rest is not None:
            rest.start()
            self._rest = rest
        self._stop_event.clear()
        # Also with polling off: failed loads are retried.
        self._poller = threading.Thread(
            target=self._poll, name="local-model-server-poll", daemon=True
        )
        self._poller.start()
        logger.info("LocalModelServer serving %s at %s", self.model_names, self.target)
        return self

    @property
    def rest_api_port(self) -> int | None:
        """The bound REST port, once started with ``rest_api_port``."""
        return None if self._rest is None else int(self._rest.port)

    def _rest_server(self, address: str) -> Any:
        if self._requested_rest_port is None:
            return None
        from keras_apps.serving._rest import RestApi, RestServer

        context = None
        certificate, key, client_ca = self._ssl_files
        if certificate is not None and key is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(certificate), str(key))
            if client_ca is not None:
                context.load_verify_locations(str(client_ca))
                context.verify_mode = ssl.CERT_REQUIRED
        api = RestApi(self._registry, self.handlers, self.max_message_bytes)
        try:
            return RestServer(api, address, int(self._requested_rest_port), context)
        except OSError as error:
            raise OSError(
                error.errno,
                f"Could not bind the REST port {address}:{self._requested_rest_port}"
                f": {error.strerror}; pass --rest_api_port 0 or another port",
            ) from error

    def _server_credentials(self) -> grpc.ServerCredentials | None:
        certificate, key, client_ca = self._ssl_files
        if certificate is None or key is None:
            return None
        return grpc.ssl_server_credentials(
            [(Path(key).read_bytes(), Path(certificate).read_bytes())],
            root_certificates=(
                Path(client_ca).read_bytes() if client_ca is not None else None
            ),
            require_client_auth=client_ca is not None,
        )

    def exposure_warning(self) -> str:
        """What this server exposes when it binds beyond loopback."""
        certificate, _, client_ca = self._ssl_files
        if certificate is None:
            transport = (
                "in plain text, with no TLS and no client authentication "
                "(pass ssl_certificate_file and ssl_key_file, keras-apps serve "
                "--ssl-cert/--ssl-key, and ssl_client_ca_file/--ssl-client-ca to "
                "require client certificates)"
            )
        elif client_ca is None:
            transport = (
                "over TLS, but to any client: no client certificate is required "
                "(pass ssl_client_ca_file, --ssl-client-ca)"
            )
        else:
            transport = "over TLS, to clients with a certificate signed by the CA"
        reload = (
            "and load any SavedModel this process can read, whose graph then "
            "runs with this process's file access (HandleReloadConfigRequest is "
            "ON: allow_reload_config=False, --no-allow-reload-config, turns it "
            "off)"
            if self.allow_reload_config
            else "(HandleReloadConfigRequest, which would load any SavedModel "
            "from disk, is off)"
        )
        rest = ""
        if self._requested_rest_port is not None:
            rest = (
                " The REST API answers the same requests (except reload) on its "
                "port, "
                + ("over HTTPS." if certificate is not None else "in plain HTTP.")
            )
        return (
            f"LocalModelServer binds {self.host!r}, beyond loopback. Everyone "
            "who reaches this port can run every served model (Predict, "
            "Classify, Regress, MultiInference), read its signatures and version "
            f"status (GetModelMetadata, GetModelStatus) {reload}, {transport}."
            f"{rest} It is a development server; production serving is the "
            "tensorflow/serving image (keras-apps serve --docker)."
        )

    def stop(self, grace: float | None = 1.0) -> None:
        """Stops answering, waits up to ``grace`` seconds, and unloads models."""
        self._stop_event.set()
        if self._poller is not None:
            self._poller.join()
            self._poller = None
        if self._rest is not None:
            self._rest.stop()
            self._rest = None
        if self._server is not None:
            self._server.stop(grace).wait()
            self._server = None
        self._registry.unload_all()

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

    def refresh(self, scan: bool = True) -> None:
        """Scans the base paths now instead of waiting for the next poll.

        Each model is scanned on its own: one that fails never stops the others.
        With ``scan=False`` only the load retries that are due run.
        """
        self._registry.refresh(scan)

    def reload_config_file(self) -> bool:
        """Re-reads ``model_config_file`` and serves its models, as TF Serving's poll.

        Returns:
            Whether the file was read; a file that fails is logged once
            ("Failed to read ModelServerConfig file: ...") and the current
            models stay.
        """
        from keras_apps.serving._model_config import (
            configs_from_proto,
            read_config_file,
        )

        if self._config_file is None:
            return False
        try:
            configs = configs_from_proto(
                read_config_file(self._config_file), self._config_file.parent
            )
        except (OSError, ValueError) as error:
            text = f"Failed to read ModelServerConfig file: {error}"
            if text != self._config_error:
                self._config_error = text
                logger.error(text)
            return False
        self._config_error = None
        self._registry.apply(configs)
        return True

    def _poll(self) -> None:
        poll = self.file_system_poll_wait_seconds
        config_poll = (
            self.model_config_file_poll_wait_seconds
            if self._config_file is not None
            else 0.0
        )
        now = time.monotonic()
        next_scan = now + poll if poll > 0 else math.inf
        next_config = now + config_poll if config_poll > 0 else math.inf
        while True:
            retry = self._registry.next_retry()
            wake = min(next_scan, next_config, math.inf if retry is None else retry)
            # At least every second: a reload may have scheduled a new retry.
            timeout = max(0.0, min(wake - time.monotonic(), 1.0))
            if self._stop_event.wait(timeout):
                return
            now = time.monotonic()
            if now >= next_config:
                next_config = now + config_poll
                self.reload_config_file()
            if now >= next_scan:
                next_scan = now + poll
                self.refresh()
            elif retry is not None and retry <= now:
                self.refresh(scan=False)

    # -- requests, in this process ----------------------------------------

    def predict(self, request: Any) -> Any:
        """Answers a ``PredictRequest`` here, as the gRPC Predict call would."""
        return self.handlers.predict(request)

    def get_model_metadata(self, request: Any) -> Any:
        """Answers a ``GetModelMetadataRequest`` here."""
        return self.handlers.get_model_metadata(request)

    def classify(self, request: Any) -> Any:
        """Answers a ``ClassificationRequest`` here."""
        return self.handlers.classify(request)

    def regress(self, request: Any) -> Any:
        """Answers a ``RegressionRequest`` here."""
        return self.handlers.regress(request)

    def get_model_status(self, request: Any) -> Any:
        """Answers a ``GetModelStatusRequest`` here."""
        return self.handlers.get_model_status(request)

    def reload_config(self, request: Any) -> Any:
        """Answers a ``ReloadConfigRequest`` here."""
        return self.handlers.reload_config(request)

    # -- separate process --------------------------------------------------

    spawn = staticmethod(spawn)
