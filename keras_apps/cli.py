"""The ``keras-apps`` command. The one place that wires the subpackages together.

Each subcommand is added by an ``_add_<name>(subparsers)`` function and its
handler imports what it needs lazily, so ``keras-apps --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any


def _add_version(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("version", help="print the keras-apps version")
    parser.set_defaults(handler=_run_version)


def _run_version(args: argparse.Namespace) -> int:
    from keras_apps import __version__

    print(__version__)
    return 0


def _add_serve(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="serve SavedModels over TF Serving's gRPC API",
        description=(
            "Serves the versions under a model base path (or the models of a "
            "models.config) with the local development server, or with the "
            "official TF Serving GPU image when --docker is given. TF Serving's "
            "flag spellings (--model_base_path, --rest_api_port, ...) are "
            "accepted too; TF Serving flags the local server cannot honour are "
            "refused."
        ),
        allow_abbrev=False,
    )
    parser.add_argument("--model-name", "--model_name", help="name clients ask for")
    parser.add_argument(
        "--model-base-path", "--model_base_path", help="directory of version dirs"
    )
    parser.add_argument(
        "--model-config-file", "--model_config_file", help="a models.config text proto"
    )
    parser.add_argument(
        "--model_config_file_poll_wait_seconds",
        type=float,
        default=0.0,
        help="re-read --model_config_file this often (0: never, as TF Serving)",
    )
    parser.add_argument(
        "--rest_api_port",
        type=int,
        default=0,
        help="port of TF Serving's REST API (0: none, as TF Serving)",
    )
    parser.add_argument(
        "--rest-api-any-port", action="store_true", help=argparse.SUPPRESS
    )
    for flag, default, text in (
        (
            "--enable_serialization_as_tensor_content",
            False,
            "answer tensor_content instead of the typed *_val fields",
        ),
        ("--enable_model_warmup", True, "replay assets.extra warmup requests"),
        (
            "--enable_signature_method_name_check",
            False,
            "Classify/Regress only on classify/regress signatures",
        ),
    ):
        parser.add_argument(
            flag,
            type=_flag_bool,
            nargs="?",
            const=True,
            default=default,
            metavar="true|false",
            help=f"{text} (as TF Serving; default {str(default).lower()})",
        )
    parser.add_argument(
        "--grpc_channel_arguments",
        help=(
            "as TF Serving, e.g. grpc.max_receive_message_length=N; only the "
            "message-length arguments are honoured"
        ),
    )
    for flag in _UNSUPPORTED_TF_SERVING_FLAGS:
        parser.add_argument(flag, nargs="?", const="", help=argparse.SUPPRESS)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument(
        "--port", type=int, default=8500, help="gRPC port; 0 picks a free one"
    )
    parser.add_argument(
        "--port-file", help="write the bound port here once the models are served"
    )
    parser.add_argument(
        "--poll-seconds",
        "--file_system_poll_wait_seconds",
        type=float,
        default=1.0,
        help="how often the base paths are scanned for new versions",
    )
    parser.add_argument("--max-message-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument(
        "--max_num_load_retries",
        type=int,
        default=5,
        help="more attempts for a version that failed to load (as TF Serving)",
    )
    parser.add_argument(
        "--load_retry_interval_micros",
        type=int,
        default=60_000_000,
        help="microseconds between load attempts (as TF Serving)",
    )
    parser.add_argument("--ssl-cert", help="PEM certificate: serve over TLS only")
    parser.add_argument("--ssl-key", help="PEM private key of --ssl-cert")
    parser.add_argument(
        "--ssl-client-ca",
        help="PEM CA certificates: require client certificates they sign",
    )
    parser.add_argument(
        "--allow-reload-config",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=(
            "serve HandleReloadConfigRequest, which loads any SavedModel from "
            "disk (default: on loopback only)"
        ),
    )
    parser.add_argument(
        "--docker",
        action="store_true",
        help="run the official tensorflow/serving GPU image instead",
    )
    parser.add_argument("--no-gpu", action="store_true", help="with --docker")
    parser.add_argument("--image", help="with --docker: the image to run")
    parser.add_argument("--rest-port", type=int, default=8501, help="with --docker")
    parser.add_argument(
        "--publish-host",
        default=None,
        metavar="HOST",
        help=(
            "with --docker: host address the ports are published on (default "
            "127.0.0.1, this host only; 0.0.0.0 opens them to the network, "
            "with no authentication)"
        ),
    )
    parser.add_argument(
        "--batching-parameters-file",
        "--batching_parameters_file",
        help="with --docker: enables batching",
    )
    parser.add_argument(
        "--enable_batching",
        type=_flag_bool,
        nargs="?",
        const=True,
        default=False,
        help="with --docker (with --batching_parameters_file)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --docker: print the command"
    )
    parser.add_argument("--docker-binary", default="docker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS
    )
    parser.set_defaults(handler=_run_serve)


# TF Serving flags that the local server cannot honour: refused, never ignored.
_UNSUPPORTED_TF_SERVING_FLAGS = {
    "--monitoring_config_file": "it has no Prometheus endpoint",
    "--ssl_config_file": "give --ssl-cert, --ssl-key and --ssl-client-ca instead",
    "--platform_config_file": "it serves TensorFlow SavedModels only",
    "--tensorflow_session_parallelism": "it follows this process's TF threading",
    "--tensorflow_intra_op_parallelism": "set TF_NUM_INTRAOP_THREADS instead",
    "--tensorflow_inter_op_parallelism": "set TF_NUM_INTEROP_THREADS instead",
    "--per_process_gpu_memory_fraction": "it grows GPU memory as needed",
    "--saved_model_tags": "it loads the MetaGraph tagged 'serve'",
    "--rest_api_timeout_in_ms": "its REST API has no request timeout",
    "--rest_api_num_threads": "its REST API starts a thread per connection",
    "--grpc_socket_path": "it binds TCP only",
    "--grpc_max_threads": "its worker threads are fixed (16)",
    "--num_load_threads": "it loads versions one at a time",
    "--num_unload_threads": "it unloads versions one at a time",
    "--allow_version_labels_for_unavailable_models": "labels follow the config",
    "--enable_profiler": "it has no profiler service",
    "--xla_cpu_compilation_enabled": "it runs graphs as saved",
    "--tensorflow_gpu_memory_fraction": "it grows GPU memory as needed",
}


def _flag_bool(text: str) -> bool:
    """A TF Serving (gflags) boolean: true/false, 1/0, yes/no."""
    lowered = str(text).lower()
    if lowered in ("true", "1", "yes", "t", "y"):
        return True
    if lowered in ("false", "0", "no", "f", "n"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, received {text!r}")


def _message_bytes(args: argparse.Namespace) -> int:
    """--max-message-bytes, lowered by --grpc_channel_arguments' length limits."""
    limit = int(args.max_message_bytes)
    if not args.grpc_channel_arguments:
        return limit
    honoured = ("grpc.max_receive_message_length", "grpc.max_send_message_length")
    for item in args.grpc_channel_arguments.split(","):
        key, _, value = item.strip().partition("=")
        if key not in honoured or not value.strip().lstrip("-").isdigit():
            raise ValueError(
                f"--grpc_channel_arguments: {item.strip()!r} is not honoured by the "
                f"local server; it takes {' and '.join(honoured)}=N only"
            )
        limit = min(limit, int(value))
    return limit


def _run_serve(args: argparse.Namespace) -> int:
    if (args.model_base_path is None) == (args.model_config_file is None):
        print(
            "keras-apps serve: give --model-base-path (with --model-name) or "
            "--model-config-file",
            file=sys.stderr,
        )
        return 2
    if args.docker:
        return _run_serve_docker(args)
    if args.publish_host is not None:
        print(
            "keras-apps serve: --publish-host goes with --docker; the local "
            "server binds --host",
            file=sys.stderr,
        )
        return 2
    refused = [
        f"{flag} ({why})"
        for flag, why in _UNSUPPORTED_TF_SERVING_FLAGS.items()
        if getattr(args, flag.lstrip("-")) is not None
    ]
    if args.enable_batching or args.batching_parameters_file:
        refused.append(
            "--enable_batching/--batching_parameters_file (it does not batch "
            "requests; TF Serving does: add --docker)"
        )
    if refused:
        print(
            "keras-apps serve: the local server cannot honour these TF Serving "
            "flags: " + "; ".join(refused) + ". Run TF Serving for them "
            "(keras-apps serve --docker).",
            file=sys.stderr,
        )
        return 2
    import gc
    import os
    import signal
    import threading

    from keras_apps.serving.server_process import check_port_free

    try:
        max_message_bytes = _message_bytes(args)
        # Before TensorFlow loads (seconds): what is missing or taken is named
        # at once.
        if args.model_base_path is not None and not os.path.isdir(args.model_base_path):
            raise FileNotFoundError(
                f"Base path {args.model_base_path!r} does not exist; export a "
                "version there first (for example with keras-apps export)."
            )
        if args.model_config_file is not None and not os.path.isfile(
            args.model_config_file
        ):
            raise FileNotFoundError(
                f"model_config_file {args.model_config_file!r} does not exist; "
                "expected a ModelServerConfig text proto"
            )
        check_port_free(args.host, args.port)
        if args.rest_api_port:
            check_port_free(args.host, args.rest_api_port)
    except (OSError, ValueError) as error:
        print(f"keras-apps serve: {error}", file=sys.stderr)
        return 1

    from keras_apps.serving.server import LocalModelServer

    rest_api_port = 0 if args.rest_api_any_port else (args.rest_api_port or None)
    try:
        server = LocalModelServer(
            model_base_path=args.model_base_path,
            model_name=args.model_name,
            model_config_file=args.model_config_file,
            host=args.host,
            port=args.port,
            file_system_poll_wait_seconds=args.poll_seconds,
            max_message_bytes=max_message_bytes,
            enable_serialization_as_tensor_content=(
                args.enable_serialization_as_tensor_content
            ),
            enable_model_warmup=args.enable_model_warmup,
            enable_signature_method_name_check=args.enable_signature_method_name_check,
            model_config_file_poll_wait_seconds=(
                args.model_config_file_poll_wait_seconds
            ),
            rest_api_port=rest_api_port,
            max_num_load_retries=args.max_num_load_retries,
            load_retry_interval_micros=args.load_retry_interval_micros,
            ssl_certificate_file=args.ssl_cert,
            ssl_key_file=args.ssl_key,
            ssl_client_ca_file=args.ssl_client_ca,
            allow_reload_config=args.allow_reload_config,
        )
        server.start()
    except (OSError, ValueError) as error:
        print(f"keras-apps serve: {error}", file=sys.stderr)
        return 1
    # TensorFlow's objects live as long as the server: keep them out of the
    # collector, whose pass over them at exit would take seconds.
    gc.freeze()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    if args.stop_on_stdin_eof:
        # The parent holds the other end of stdin: EOF means it is gone.
        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        rest = (
            f", REST at port {server.rest_api_port}"
            if server.rest_api_port is not None
            else ""
        )
        print(
            f"keras-apps serve: serving {', '.join(server.model_names)} at "
            f"{server.target}{rest} (development server; for production use "
            "keras-apps serve --docker)",
            flush=True,
        )
        if args.port_file:
            temporary = f"{args.port_file}.tmp"
            with open(temporary, "w") as file:
                file.write(f"{server.port}\n{server.rest_api_port or ''}\n")
            os.replace(temporary, args.port_file)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _run_serve_docker(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from keras_apps.serving.container import (
        LOOPBACK,
        check_docker,
        publish_warning,
        tf_serving_command,
    )

    if args.host != LOOPBACK:
        # Never silently ignored: docker publishes, the container binds all.
        print(
            "keras-apps serve --docker: --host is the local server's; pass "
            f"--publish-host {args.host} to publish the container's ports there",
            file=sys.stderr,
        )
        return 2
    publish_host = args.publish_host or LOOPBACK
    rest_port = args.rest_api_port or args.rest_port
    try:
        command = tf_serving_command(
            model_name=args.model_name,
            model_base_path=args.model_base_path,
            model_config_file=args.model_config_file,
            gpu=not args.no_gpu,
            grpc_port=args.port,
            rest_port=rest_port,
            publish_host=publish_host,
            image=args.image,
            batching_parameters_file=args.batching_parameters_file,
            docker=args.docker_binary,
        )
    except ValueError as error:
        print(f"keras-apps serve --docker: {error}", file=sys.stderr)
        return 2
    warning = publish_warning(publish_host, args.port, rest_port)
    if warning is not None:
        print(f"WARNING: {warning}", file=sys.stderr)
    if args.dry_run:
        print(shlex.join(command))
        return 0
    problem = check_docker(args.docker_binary)
    if problem is not None:
        print(f"keras-apps serve --docker: {problem}", file=sys.stderr)
        print(f"The command would have been:\n  {shlex.join(command)}", file=sys.stderr)
        return 1
    return subprocess.call(command)


def _add_tls_flags(parser: argparse.ArgumentParser) -> None:
    """TLS flags of the commands that talk to a server (predict, status)."""
    group = parser.add_argument_group("TLS", "plaintext unless one of these is given")
    group.add_argument(
        "--tls",
        action="store_true",
        help="use TLS, trusting the system's root certificates",
    )
    group.add_argument(
        "--ssl-root-certs",
        metavar="PEM",
        help="CA certificates to trust for the server's certificate (implies --tls)",
    )
    group.add_argument(
        "--ssl-client-cert",
        metavar="PEM",
        help="client certificate, for servers that require one (with --ssl-client-key)",
    )
    group.add_argument(
        "--ssl-client-key", metavar="PEM", help="private key of --ssl-client-cert"
    )
    group.add_argument(
        "--ssl-target-name",
        metavar="NAME",
        help="host name the server's certificate must carry, when it differs "
        "from --target's host (grpc.ssl_target_name_override)",
    )


def _tls_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """PredictClient keyword arguments for the TLS flags (empty: plaintext)."""
    import grpc

    if (args.ssl_client_cert is None) != (args.ssl_client_key is None):
        raise ValueError(
            "--ssl-client-cert and --ssl-client-key go together. Received: "
            f"--ssl-client-cert={args.ssl_client_cert!r}, "
            f"--ssl-client-key={args.ssl_client_key!r}"
        )
    wanted = args.tls or any(
        value is not None
        for value in (args.ssl_root_certs, args.ssl_client_cert, args.ssl_target_name)
    )
    if not wanted:
        return {}

    def read(path: str | None) -> bytes | None:
        if path is None:
            return None
        with open(path, "rb") as file:
            return file.read()

    credentials = grpc.ssl_channel_credentials(
        root_certificates=read(args.ssl_root_certs),
        private_key=read(args.ssl_client_key),
        certificate_chain=read(args.ssl_client_cert),
    )
    options = []
    if args.ssl_target_name:
        options.append(("grpc.ssl_target_name_override", args.ssl_target_name))
    return {"credentials": credentials, "channel_options": options}


def _add_predict(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "predict",
        help="send images or .npy files to a served model and print its answer",
        description=(
            "Reads images (any format Pillow opens; resized to the signature's "
            "height and width) or .npy arrays, sends them in one Predict request "
            "and prints the top classes of each classification output (or the "
            "values of other outputs)."
        ),
    )
    parser.add_argument("--target", default="127.0.0.1:8500", help="HOST:PORT")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument("--signature", default="serving_default")
    parser.add_argument("--version", type=int, help="default: the latest served")
    parser.add_argument("--input", dest="input_name", help="signature input to feed")
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply image pixels (0..255) by this, e.g. 0.00392 for 0..1",
    )
    parser.add_argument("--top", type=int, default=5, help="classes to print")
    parser.add_argument("--labels", help="text file with one class name per line")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds")
    parser.add_argument(
        "--cast",
        action="store_true",
        help="convert .npy arrays to the signature's dtype even when that "
        "rounds (float64 -> float32) or turns integers into floats",
    )
    parser.add_argument("files", nargs="+", help="images or .npy files")
    _add_tls_flags(parser)
    parser.set_defaults(handler=_run_predict)


def _load_inputs(files: Sequence[str], spec: Any, scale: float) -> tuple[Any, list]:
    """Stacks images and .npy files into one batch; names each row by its file."""
    import numpy as np

    shape = spec.shape
    arrays = []
    row_names: list[str] = []
    for path in files:
        if path.endswith(".npy"):
            array = np.load(path, allow_pickle=False)
            if shape is not None and array.ndim == len(shape) - 1:
                array = array[None]
        else:
            from PIL import Image

            if shape is None or len(shape) != 4:
                raise ValueError(
                    f"{path}: images need a (batch, height, width, channels) input; "
                    f"the signature input has shape {shape}. Pass a .npy file."
                )
            _, height, width, channels = shape
            with Image.open(path) as opened:
                image = opened.convert("L" if channels == 1 else "RGB")
            if height is not None and width is not None:
                image = image.resize((width, height), Image.Resampling.BILINEAR)
            array = np.asarray(image, dtype="float32")
            if channels == 1:
                array = array[..., None]
            array = array[None] * scale
            if spec.dtype == np.uint8:
                array = np.clip(np.rint(array), 0, 255).astype("uint8")
        arrays.append(array)
        rows = len(array)
        row_names += [path] if rows == 1 else [f"{path}[{i}]" for i in range(rows)]
    return np.concatenate(arrays, axis=0), row_names


def _run_predict(args: argparse.Namespace) -> int:
    import numpy as np

    from keras_apps.serving.client import PredictClient, ServingError

    labels = None
    if args.labels:
        with open(args.labels, encoding="utf-8") as file:
            labels = [line.strip() for line in file if line.strip()]
    try:
        with PredictClient(
            args.target,
            args.model,
            signature_name=args.signature,
            version=args.version,
            timeout=args.timeout,
            cast=args.cast,
            **_tls_arguments(args),
        ) as client:
            metadata = client.metadata()
            names = sorted(metadata.inputs)
            name = args.input_name or (names[0] if len(names) == 1 else None)
            if name not in metadata.inputs:
                print(
                    f"keras-apps predict: choose the input with --input; the "
                    f"signature {args.signature!r} has inputs {names}",
                    file=sys.stderr,
                )
                return 2
            batch, row_names = _load_inputs(
                args.files, metadata.inputs[name], args.scale
            )
            outputs = client.predict({name: batch})
    except (ServingError, ValueError, OSError) as error:
        print(f"keras-apps predict: {error}", file=sys.stderr)
        return 1
    print(f"model {metadata.model_name} version {metadata.version} at {args.target}")
    for index, path in enumerate(row_names):
        for key in sorted(outputs):
            values = np.asarray(outputs[key])[index]
            if values.ndim == 1 and values.size > 1 and values.dtype.kind == "f":
                order = np.argsort(values)[::-1][: args.top]
                top = ", ".join(
                    f"{labels[i] if labels and i < len(labels) else i}"
                    f" ({values[i]:.4f})"
                    for i in order
                )
                print(f"{path}  {key}: {top}")
            else:
                text = np.array2string(values, precision=4, threshold=20)
                print(f"{path}  {key}: {text}")
    return 0


def _add_status(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status", help="print the state of each version of a served model"
    )
    parser.add_argument("--target", default="127.0.0.1:8500", help="HOST:PORT")
    parser.add_argument("--model", required=True, help="served model name")
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        help="wait up to this many seconds for a version to be AVAILABLE",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds")
    _add_tls_flags(parser)
    parser.set_defaults(handler=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    from keras_apps.serving.client import PredictClient, ServingError

    try:
        with PredictClient(
            args.target, args.model, timeout=args.timeout, **_tls_arguments(args)
        ) as client:
            if args.wait > 0:
                client.wait_until_available(timeout=args.wait)
            versions = client.status()
    except (ServingError, ValueError, OSError) as error:
        print(f"keras-apps status: {error}", file=sys.stderr)
        return 1
    print(f"model {args.model} at {args.target}")
    for item in sorted(versions, key=lambda v: v.version, reverse=True):
        line = f"  version {item.version}: {item.state}"
        if item.error_code != "OK":
            line += f" ({item.error_code}: {item.error_message})"
        print(line)
    return 0 if any(v.state == "AVAILABLE" for v in versions) else 1


def _add_export(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export a .keras model as a versioned SavedModel for TF Serving",
    )
    parser.add_argument("model", help="the .keras file to export")
    parser.add_argument(
        "base_path", help="the model folder for TF Serving; versions go in BASE_PATH/N"
    )
    parser.add_argument(
        "--version", type=int, default=None, help="version number (default: next)"
    )
    parser.add_argument(
        "--image-bytes",
        action="store_true",
        help="add signatures taking encoded JPEG/PNG bytes and uint8 pixels",
    )
    parser.add_argument(
        "--warmup",
        type=int,
        default=0,
        metavar="N",
        help="write N warmup requests of random inputs (at most 1000)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help=(
            "replace an existing version on disk; a running server keeps what it "
            "loaded under that number, so publish a new number to update it"
        ),
    )
    parser.add_argument(
        "--model-name", default=None, help="served name (default: BASE_PATH's name)"
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip the reload-and-compare check"
    )
    parser.add_argument(
        "--trust-saved-models",
        action="store_true",
        help="load the SavedModels of HubBackbone layers in the file (runs their "
        "graphs); safe mode stays on for the rest, so Lambda bytecode is refused",
    )
    parser.add_argument(
        "--uint8-outputs",
        nargs=2,
        type=float,
        default=None,
        metavar=("LOW", "HIGH"),
        help="serve the float outputs as uint8 pixels, [LOW, HIGH] mapped onto "
        "0..255 (-1 1 for a tanh image generator, 0 1 for a sigmoid)",
    )
    parser.set_defaults(handler=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    import contextlib

    import keras

    import keras_apps.layers  # noqa: F401  (registers custom objects)
    import keras_apps.models  # noqa: F401
    from keras_apps.export import export_for_serving
    from keras_apps.export.saved_model import sample_inputs
    from keras_apps.export.signatures import plan_inputs

    try:
        if args.warmup < 0:
            raise ValueError(f"Expected --warmup >= 0. Received: {args.warmup}")
        with contextlib.ExitStack() as stack:
            if args.trust_saved_models:
                from keras_apps.layers import trust_saved_models

                stack.enter_context(trust_saved_models())
            try:
                model = keras.saving.load_model(args.model)
            except ValueError as error:
                if "HubBackbone" in str(error) and not args.trust_saved_models:
                    raise ValueError(
                        f"{error} With keras-apps export: --trust-saved-models."
                    ) from error
                raise
        warmup = None
        if args.warmup:
            warmup = sample_inputs(plan_inputs(model), batch_size=args.warmup)
        uint8_outputs = None
        if args.uint8_outputs is not None:
            uint8_outputs = tuple(args.uint8_outputs)
        result = export_for_serving(
            model,
            args.base_path,
            version=args.version,
            image_bytes_signature=args.image_bytes,
            warmup_inputs=warmup,
            validate=not args.no_validate,
            overwrite=args.overwrite,
            model_name=args.model_name,
            uint8_outputs=uint8_outputs,
        )
    except (ValueError, TypeError, OSError) as error:
        print(f"keras-apps export: {error}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0


def _add_stylize(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "stylize",
        help="render an image in the style of others (Gatys et al.)",
        description=(
            "Neural style transfer by optimisation of the image against VGG-19 "
            "features (keras_apps.models.StyleTransfer). With --weights "
            "imagenet the VGG-19 weights are downloaded once into the Keras "
            "cache; pass a weights file on a machine without network, or "
            "--weights none for random filters."
        ),
    )
    parser.add_argument("content", help="content image (PNG, JPEG ...)")
    parser.add_argument("styles", nargs="+", metavar="STYLE", help="style image(s)")
    parser.add_argument("-o", "--output", required=True, help="output PNG path")
    parser.add_argument("--steps", type=int, default=200, help="optimisation steps")
    parser.add_argument("--size", type=int, default=256, help="longer output side")
    parser.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam")
    parser.add_argument(
        "--weights",
        default="imagenet",
        help="'imagenet', a VGG-19 weights file, or 'none' for random filters",
    )
    parser.add_argument("--preserve-colors", action="store_true")
    parser.add_argument("--style-weight", type=float, default=1e4)
    parser.add_argument("--content-weight", type=float, default=1.0)
    parser.add_argument("--tv-weight", type=float, default=0.0)
    parser.add_argument("--learning-rate", type=float, default=2.0)
    parser.add_argument("--pyramid-levels", type=int, default=1)
    parser.add_argument(
        "--init", choices=("content", "noise", "style"), default="content"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=_run_stylize)


def _run_stylize(args: argparse.Namespace) -> int:
    import numpy as np
    from PIL import Image

    def read(path: str) -> Any:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))

    try:
        content = read(args.content)
        styles = [read(path) for path in args.styles]
    except OSError as error:
        print(f"keras-apps stylize: cannot read an image: {error}", file=sys.stderr)
        return 1
    from keras_apps.models.style_transfer import StyleTransfer
    from keras_apps.transfer.backbones import WeightsUnavailableError

    weights = None if args.weights.lower() == "none" else args.weights
    try:
        transfer = StyleTransfer(
            "vgg19",
            weights=weights,
            content_weight=args.content_weight,
            style_weight=args.style_weight,
            tv_weight=args.tv_weight,
            optimizer=args.optimizer,
            learning_rate=args.learning_rate,
            init=args.init,
        )
        result = transfer.transfer(
            content,
            styles,
            steps=args.steps,
            size=args.size,
            preserve_colors=args.preserve_colors,
            pyramid_levels=args.pyramid_levels,
            verbose=0 if args.quiet else 1,
        )
    except (WeightsUnavailableError, FileNotFoundError, ValueError) as error:
        print(f"keras-apps stylize: {error}", file=sys.stderr)
        return 1
    Image.fromarray(result.image).save(args.output)
    print(
        f"keras-apps stylize: wrote {args.output} ({result.image.shape[1]}x"
        f"{result.image.shape[0]}, loss {result.history['total'][0]:.4g} -> "
        f"{result.history['total'][-1]:.4g})"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-apps",
        description=(
            "Classic deep-learning architectures in Keras 3, served by TF Serving."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_version(subparsers)
    _add_serve(subparsers)
    _add_predict(subparsers)
    _add_status(subparsers)
    _add_export(subparsers)
    _add_stylize(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        return _closed_pipe()


def _closed_pipe() -> int:
    """Ends quietly when the reader of stdout went away (``| head``).

    Python's own advice: point stdout at /dev/null so that the flush at exit
    does not raise again, and exit as a process ended by SIGPIPE would.
    """
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13  # 128 + SIGPIPE, what shells report for `yes | head`


if __name__ == "__main__":
    sys.exit(main())
