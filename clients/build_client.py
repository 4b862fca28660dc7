"""Builds the ``keras-apps-client`` wheel from this source tree.

The client distribution holds the modules of keras-apps that the gRPC client
needs and nothing else (`CLIENT_MODULES`); its dependencies are grpcio,
protobuf and NumPy (``clients/pyproject.toml``). The modules are copied into
a staging folder beside that ``pyproject.toml`` and the wheel is built there
with ``pip wheel``, so the same files make both distributions.

Usage::

    python clients/build_client.py --out dist/
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

CLIENT_MODULES = (
    "keras_apps/__init__.py",
    "keras_apps/_lazy.py",
    "keras_apps/_layout.py",
    "keras_apps/serving/__init__.py",
    "keras_apps/serving/client.py",
    "keras_apps/serving/codec.py",
    "keras_apps/serving/container.py",
    "keras_apps/serving/protos.py",
)
"""The files of the client distribution: they import nothing else of the
package (tests/serving/test_client_distribution.py checks it)."""


def stage(directory: Path) -> Path:
    """Copies pyproject, README and `CLIENT_MODULES` into ``directory``."""
    shutil.copy(HERE / "pyproject.toml", directory / "pyproject.toml")
    shutil.copy(HERE / "README.md", directory / "README.md")
    for module in CLIENT_MODULES:
        target = directory / module
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / module, target)
    return directory


def build(out: Path, python: str = sys.executable) -> Path:
    """Builds the wheel into ``out``; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="keras-apps-client-") as temporary:
        staged = stage(Path(temporary))
        subprocess.run(
            [python, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out)]
            + [str(staged)],
            check=True,
        )
    (wheel,) = sorted(out.glob("keras_apps_client-*.whl"))[-1:]
    return wheel


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="dist", help="folder for the wheel")
    args = parser.parse_args(argv)
    sys.stdout.write(f"{build(Path(args.out).resolve())}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
