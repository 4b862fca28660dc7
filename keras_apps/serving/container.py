"""The command that runs the official TensorFlow Serving image.

Production serving is ``tensorflow/serving`` (``latest-gpu`` on a GPU host),
not `keras_apps.serving.LocalModelServer`. `tf_serving_command` builds the
``docker run`` argument list for it from the files keras-apps writes: version
directories (``base_path/<version>/``, with warmup requests in
``assets.extra/tf_serving_warmup_requests``), a ``models.config`` and a
batching parameters file. It imports neither TensorFlow nor gRPC.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from keras_apps._layout import check_model_name

CONTAINER_MODELS_DIR = "/models"
"""Where model directories are mounted inside the container."""

CONTAINER_CONFIG_DIR = "/config"
"""Where the batching parameters file is mounted inside the container."""

GPU_IMAGE = "tensorflow/serving:latest-gpu"
CPU_IMAGE = "tensorflow/serving:latest"

LOOPBACK = "127.0.0.1"
"""The default host address the container's ports are published on."""


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the port on this machine (127.0.0.0/8, ::1)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name other than localhost, or "" (all interfaces)


def publish_warning(
    publish_host: str, grpc_port: int = 8500, rest_port: int = 8501
) -> str | None:
    """What publishing TF Serving's ports on ``publish_host`` exposes, if not loopback.

    Args:
        publish_host: The host address of `tf_serving_command`.
        grpc_port: The published gRPC port.
        rest_port: The published REST port.

    Returns:
        ``None`` on loopback, else the warning to show before the server starts.

    Example:

    >>> publish_warning("127.0.0.1") is None
    True
    >>> print(publish_warning("0.0.0.0")[:68])
    TF Serving's gRPC port 8500 and REST port 8501 are published on '0.0
    """
    if is_loopback(publish_host):
        return None
    where = (
        ", every interface of this host"
        if publish_host.strip("[]") in ("0.0.0.0", "::", "")
        else ""
    )
    return (
        f"TF Serving's gRPC port {grpc_port} and REST port {rest_port} are "
        f"published on {publish_host!r}, beyond loopback{where}. TF Serving "
        "has no authentication: everyone who reaches these ports can run every "
        "served model and read its signatures, in plain text. Publish beyond "
        "loopback only behind a firewall or a TLS-terminating proxy; the "
        f"default, {LOOPBACK!r}, keeps them on this host."
    )


def check_model_source(
    model_base_path: object, model_name: str | None, model_config_file: object
) -> None:
    """One model (base path, optional name) or a config file, never both.

    TF Serving's own rule for ``--model_base_path`` / ``--model_config_file``;
    `LocalModelServer` follows it too.
    """
    if (model_base_path is None) == (model_config_file is None):
        raise ValueError(
            "Give either model_base_path (with model_name) or "
            f"model_config_file. Received: model_base_path={model_base_path!r}, "
            f"model_config_file={model_config_file!r}"
        )
    if model_config_file is not None and model_name is not None:
        raise ValueError(
            "model_name goes with model_base_path; a model_config_file names "
            f"its models itself. Received: model_name={model_name!r}"
        )


def tf_serving_command(
    model_name: str | None = None,
    model_base_path: str | os.PathLike[str] | None = None,
    *,
    model_config_file: str | os.PathLike[str] | None = None,
    gpu: bool = True,
    grpc_port: int = 8500,
    rest_port: int = 8501,
    publish_host: str = LOOPBACK,
    image: str | None = None,
    batching_parameters_file: str | os.PathLike[str] | None = None,
    enable_warmup: bool = True,
    tensor_content: bool = True,
    model_config_poll_seconds: int = 60,
    docker: str = "docker",
    extra_args: Sequence[str] = (),
) -> list[str]:
    """Returns the ``docker run`` command of the official TF Serving image.

    One model: ``model_base_path`` is mounted read-only at ``/models/<name>``
    and the image's entrypoint serves it as ``model_name``. Several models:
    the directory of ``model_config_file`` is mounted read-only at ``/models``
    and the server reads ``/models/<file name>``, so the base paths inside the
    config must be ``/models/...`` (as `keras_apps.export.write_model_config`
    writes them for a container); the file is re-read every
    ``model_config_poll_seconds``.

    The server inside listens on 8500 (gRPC) and 8501 (REST); ``grpc_port``
    and ``rest_port`` are the host ports published for them, on
    ``publish_host``: loopback by default, so only this host reaches them.
    The server has no authentication, so open it to the network
    (``publish_host="0.0.0.0"``, or one interface's address) only behind a
    firewall or a TLS-terminating proxy; `publish_warning` words what that
    exposes (``keras-apps serve --docker --publish-host`` shows it). New version
    directories are picked up while it runs; warmup requests found in
    ``assets.extra/tf_serving_warmup_requests`` are replayed before a version
    is served (``--enable_model_warmup``).

    Args:
        model_name: Name clients ask for (one-model form); defaults to the
            base path's directory name.
        model_base_path: Host directory holding the version directories.
        model_config_file: Host path of a ``models.config`` (several models).
        gpu: Pass ``--gpus all`` and default to the GPU image.
        grpc_port: Host port for gRPC.
        rest_port: Host port for REST.
        publish_host: Host address the ports are published on (docker's
            ``-p HOST:PORT:PORT``): ``"127.0.0.1"`` (default, this host only),
            an interface's address, or ``"0.0.0.0"`` for all interfaces.
        image: Image to run; default ``tensorflow/serving:latest-gpu`` (or
            ``tensorflow/serving:latest`` when ``gpu=False``).
        batching_parameters_file: Host path of a batching parameters text
            proto (`keras_apps.export.write_batching_config`); mounted at
            ``/config/batching.config`` and enables server-side batching.
        enable_warmup: Replay the SavedModel's warmup requests on load.
        tensor_content: Answer tensors in ``tensor_content`` bytes
            (``--enable_serialization_as_tensor_content``), like
            `keras_apps.serving.LocalModelServer`.
        model_config_poll_seconds: How often TF Serving re-reads the model
            config file (config form only).
        docker: The docker client binary.
        extra_args: More ``tensorflow_model_server`` flags, appended last.

    Returns:
        The argument list, ready for `subprocess.run`.

    Example:

    >>> command = tf_serving_command("digits", "/srv/models/digits")
    >>> command  # doctest: +NORMALIZE_WHITESPACE
    ['docker', 'run', '--rm', '--gpus', 'all', '-p', '127.0.0.1:8500:8500',
     '-p', '127.0.0.1:8501:8501',
     '--mount', 'type=bind,source=/srv/models/digits,target=/models/digits,readonly',
     '-e', 'MODEL_NAME=digits', 'tensorflow/serving:latest-gpu',
     '--enable_model_warmup=true', '--enable_serialization_as_tensor_content=true']
    """
    check_model_source(model_base_path, model_name, model_config_file)
    for flag, port in (("grpc_port", grpc_port), ("rest_port", rest_port)):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"{flag} must be in [1, 65535]. Received: {flag}={port!r}")
    if grpc_port == rest_port:
        raise ValueError(
            f"grpc_port and rest_port must differ. Received: both {grpc_port}"
        )
    if model_config_poll_seconds < 0:
        raise ValueError(
            "model_config_poll_seconds must be >= 0. Received: "
            f"model_config_poll_seconds={model_config_poll_seconds}"
        )
    command = [docker, "run", "--rm"]
    if gpu:
        command += ["--gpus", "all"]
    if not isinstance(publish_host, str) or not publish_host or "/" in publish_host:
        raise ValueError(
            "publish_host must be a host address such as '127.0.0.1' or "
            f"'0.0.0.0'. Received: publish_host={publish_host!r}"
        )
    host = f"[{publish_host}]" if ":" in publish_host else publish_host
    command += ["-p", f"{host}:{grpc_port}:8500", "-p", f"{host}:{rest_port}:8501"]
    server_flags = []
    if model_base_path is not None:
        source = _absolute(model_base_path)
        name = check_model_name(model_name or PurePosixPath(source).name)
        command += [
            "--mount",
            _bind(source, f"{CONTAINER_MODELS_DIR}/{name}"),
            "-e",
            f"MODEL_NAME={name}",
        ]
    else:
        config = _absolute(model_config_file)  # type: ignore[arg-type]
        config_dir = str(PurePosixPath(config).parent)
        command += ["--mount", _bind(config_dir, CONTAINER_MODELS_DIR)]
        server_flags += [
            f"--model_config_file={CONTAINER_MODELS_DIR}/{PurePosixPath(config).name}",
            f"--model_config_file_poll_wait_seconds={model_config_poll_seconds}",
        ]
    if batching_parameters_file is not None:
        batching = _absolute(batching_parameters_file)
        command += [
            "--mount",
            _bind(batching, f"{CONTAINER_CONFIG_DIR}/batching.config"),
        ]
        server_flags += [
            "--enable_batching=true",
            f"--batching_parameters_file={CONTAINER_CONFIG_DIR}/batching.config",
        ]
    command.append(image or (GPU_IMAGE if gpu else CPU_IMAGE))
    if enable_warmup:
        server_flags.append("--enable_model_warmup=true")
    if tensor_content:
        server_flags.append("--enable_serialization_as_tensor_content=true")
    return command + server_flags + list(extra_args)


def check_docker(docker: str = "docker", timeout: float = 20.0) -> str | None:
    """Says why ``docker run`` cannot work here, or ``None`` when it can.

    A docker client can be installed without a reachable engine, so this runs
    ``docker info``, which needs the engine.

    Args:
        docker: The docker client binary.
        timeout: Seconds ``docker info`` may take.

    Returns:
        ``None`` when the engine answers, else a sentence naming the problem.
    """
    if shutil.which(docker) is None:
        return (
            f"the docker client {docker!r} was not found on PATH; install Docker "
            "(and the NVIDIA Container Toolkit for --gpus) or serve locally "
            "without --docker"
        )
    try:
        result = subprocess.run(
            [docker, "info"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"`{docker} info` did not answer within {timeout:g} s"
    if result.returncode != 0:
        # The reason is on stderr; stdout holds the client's own report.
        lines = [ln.strip() for ln in result.stderr.splitlines()]
        lines += [ln.strip() for ln in result.stdout.splitlines()]
        reason = next(
            (ln for ln in lines if ln and not ln.startswith("WARNING")),
            f"exit status {result.returncode}",
        )
        return (
            f"the docker client is installed but the Docker engine is not "
            f"reachable (`{docker} info` failed: {reason}); start the Docker "
            "daemon or serve locally without --docker"
        )
    return None


def _absolute(path: str | os.PathLike[str]) -> str:
    return str(Path(path).expanduser().absolute())


def _bind(source: str, target: str) -> str:
    if "," in source:
        raise ValueError(
            f"Paths mounted into the container cannot contain ','. Received: {source!r}"
        )
    return f"type=bind,source={source},target={target},readonly"
