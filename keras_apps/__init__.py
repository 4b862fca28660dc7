"""keras-apps: classic deep-learning architectures as Keras 3 components.

Subpackages load lazily, so ``import keras_apps`` is cheap and imports neither
TensorFlow nor grpc. Import a subpackage (``keras_apps.layers``,
``keras_apps.models``, ...) before loading a ``.keras`` file that uses its
objects: importing it registers them for deserialization.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

_SUBPACKAGES = (
    "callbacks",
    "export",
    "layers",
    "losses",
    "metrics",
    "models",
    "serving",
    "testing",
    "transfer",
    "utils",
    "visualize",
)

__all__ = ["__version__", *_SUBPACKAGES]


def __getattr__(name: str) -> ModuleType:
    if name in _SUBPACKAGES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
