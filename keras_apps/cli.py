"""The ``keras-apps`` command. The one place that wires the subpackages together.

Each subcommand is added by an ``_add_<name>(subparsers)`` function and its
handler imports what it needs lazily, so ``keras-apps --help`` stays fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


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
            "official TF Serving GPU image when --docker is given."
        ),
    )
    parser.add_argument("--model-name", help="name clients ask for")
    parser.add_argument("--model-base-path", help="directory of version dirs")
    parser.add_argument("--model-config-file", help="a models.config text proto")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind")
    parser.add_argument(
        "--port", type=int, default=8500, help="gRPC port; 0 picks a free one"
    )
    parser.add_argument(
        "--port-file", help="write the bound port here once the models are served"
    )
    parser.add_argument(
        "--poll-seconds",
        type=float,
        default=1.0,
        help="how often the base paths are scanned for new versions",
    )
    parser.add_argument("--max-message-bytes", type=int, default=64 * 1024 * 1024)
    parser.add_argument(
        "--docker",
        action="store_true",
        help="run the official tensorflow/serving GPU image instead",
    )
    parser.add_argument("--no-gpu", action="store_true", help="with --docker")
    parser.add_argument("--image", help="with --docker: the image to run")
    parser.add_argument("--rest-port", type=int, default=8501, help="with --docker")
    parser.add_argument(
        "--batching-parameters-file", help="with --docker: enables batching"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="with --docker: print the command"
    )
    parser.add_argument("--docker-binary", default="docker", help=argparse.SUPPRESS)
    parser.add_argument(
        "--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS
    )
    parser.set_defaults(handler=_run_serve)


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
    import os
    import signal
    import threading

    from keras_apps.serving.server import LocalModelServer

    server = LocalModelServer(
        model_base_path=args.model_base_path,
        model_name=args.model_name,
        model_config_file=args.model_config_file,
        host=args.host,
        port=args.port,
        file_system_poll_wait_seconds=args.poll_seconds,
        max_message_bytes=args.max_message_bytes,
    )
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
    server.start()
    try:
        print(
            f"keras-apps serve: serving {', '.join(server.model_names)} at "
            f"{server.target} (development server; for production use "
            "keras-apps serve --docker)",
            flush=True,
        )
        if args.port_file:
            temporary = f"{args.port_file}.tmp"
            with open(temporary, "w") as file:
                file.write(f"{server.port}\n")
            os.replace(temporary, args.port_file)
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    return 0


def _run_serve_docker(args: argparse.Namespace) -> int:
    import shlex
    import subprocess

    from keras_apps.serving.container import check_docker, tf_serving_command

    command = tf_serving_command(
        model_name=args.model_name,
        model_base_path=args.model_base_path,
        model_config_file=args.model_config_file,
        gpu=not args.no_gpu,
        grpc_port=args.port,
        rest_port=args.rest_port,
        image=args.image,
        batching_parameters_file=args.batching_parameters_file,
        docker=args.docker_binary,
    )
    if args.dry_run:
        print(shlex.join(command))
        return 0
    problem = check_docker(args.docker_binary)
    if problem is not None:
        print(f"keras-apps serve --docker: {problem}", file=sys.stderr)
        print(f"The command would have been:\n  {shlex.join(command)}", file=sys.stderr)
        return 1
    return subprocess.call(command)


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
