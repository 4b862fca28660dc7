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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="keras-apps",
        description=(
            "Classic deep-learning architectures in Keras 3, served by TF Serving."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_version(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
