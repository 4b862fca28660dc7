"""The server in a child process: `spawn` and `ServerProcess` (one room of the server).

`spawn` runs ``python -m keras_apps.cli serve`` and waits until it serves; it
imports neither TensorFlow nor grpc, so a test or an application can start a
server without loading TensorFlow itself. `LocalModelServer.spawn` is the same
function.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from keras_apps.serving.container import check_model_source

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Default gRPC message limit: 64 MiB, above a batch of 32 float32 224x224x3
images (19.3 MB)."""


def check_port_free(host: str, port: int) -> None:
    """Raises `OSError` naming the address when ``host:port`` is taken.

    Cheap (one socket), so ``keras-apps serve`` calls it before it loads
    TensorFlow. Port 0 always passes.

    Raises:
        OSError: ``"127.0.0.1:8500 is in use; pass --port 0 ..."``.
    """
    if port == 0:
        return
    shown = f"[{host}]" if ":" in host else host
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise OSError(
                    errno.EADDRINUSE,
                    f"{shown}:{port} is in use; pass --port 0 to pick a free port "
                    "(or stop the server that holds it)",
                ) from error
            raise OSError(
                error.errno, f"cannot bind {shown}:{port}: {error.strerror}"
            ) from error


def spawn(
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
    max_num_load_retries: int = 5,
    load_retry_interval_micros: int = 60_000_000,
    ssl_certificate_file: str | os.PathLike[str] | None = None,
    ssl_key_file: str | os.PathLike[str] | None = None,
    ssl_client_ca_file: str | os.PathLike[str] | None = None,
    allow_reload_config: bool | None = None,
    enable_serialization_as_tensor_content: bool = False,
    model_config_file_poll_wait_seconds: float = 0.0,
    rest_api_port: int | None = None,
    extra_args: Sequence[str] = (),
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
        max_num_load_retries: As for `LocalModelServer`.
        load_retry_interval_micros: As for `LocalModelServer`.
        ssl_certificate_file: As for `LocalModelServer`.
        ssl_key_file: As for `LocalModelServer`.
        ssl_client_ca_file: As for `LocalModelServer`.
        allow_reload_config: As for `LocalModelServer`.
        enable_serialization_as_tensor_content: As for `LocalModelServer`.
        model_config_file_poll_wait_seconds: As for `LocalModelServer`.
        rest_api_port: As for `LocalModelServer` (``0`` picks a free port;
            read it from `ServerProcess.rest_api_port`).
        extra_args: More ``keras-apps serve`` flags, for example
            ``["--ssl-cert", CERT, "--ssl-key", KEY]``.

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
        "--max_num_load_retries",
        str(max_num_load_retries),
        "--load_retry_interval_micros",
        str(load_retry_interval_micros),
    ]
    for flag, value in (
        ("--ssl-cert", ssl_certificate_file),
        ("--ssl-key", ssl_key_file),
        ("--ssl-client-ca", ssl_client_ca_file),
    ):
        if value is not None:
            command += [flag, str(Path(value).resolve())]
    if allow_reload_config is not None:
        command.append(
            "--allow-reload-config"
            if allow_reload_config
            else "--no-allow-reload-config"
        )
    if enable_serialization_as_tensor_content:
        command.append("--enable_serialization_as_tensor_content=true")
    if model_config_file_poll_wait_seconds:
        command += [
            "--model_config_file_poll_wait_seconds",
            str(model_config_file_poll_wait_seconds),
        ]
    if rest_api_port == 0:
        command.append("--rest-api-any-port")
    elif rest_api_port is not None:
        command += ["--rest_api_port", str(rest_api_port)]
    command += list(extra_args)
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
    """A `LocalModelServer` running in a child process (see `spawn`).

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
        self._rest_api_port: int | None = None
        self._final_logs: str | None = None
        with ServerProcess._live_lock:
            ServerProcess._live.add(self)

    @property
    def pid(self) -> int:
        """Process id of the child."""
        return self.process.pid

    @property
    def rest_api_port(self) -> int | None:
        """The child's REST port, when it serves one."""
        return self._rest_api_port

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
                lines = port_file.read_text().splitlines()
                if lines and lines[0].strip():
                    self._port = int(lines[0])
                    if len(lines) > 1 and lines[1].strip():
                        self._rest_api_port = int(lines[1])
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
