"""Serving through TensorFlow Serving's gRPC API.

Names load lazily: ``from keras_apps.serving import PredictClient`` imports
grpcio, protobuf and NumPy, but neither TensorFlow nor ``tensorflow_serving``.
`LocalModelServer` (development and tests) does load TensorFlow.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "encode_tensor": "keras_apps.serving.codec",
    "decode_tensor": "keras_apps.serving.codec",
    "PredictClient": "keras_apps.serving.client",
    "ServingError": "keras_apps.serving.client",
    "ModelNotFoundError": "keras_apps.serving.client",
    "InvalidInputError": "keras_apps.serving.client",
    "ServerUnavailableError": "keras_apps.serving.client",
    "LocalModelServer": "keras_apps.serving.server",
    "tf_serving_command": "keras_apps.serving.container",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
