"""SavedModel export for TF Serving: versions, signatures, warmup, configs.

`export_for_serving` writes ``base_path/<version>/`` atomically with stable
signature keys, an optional image-bytes signature, warmup requests and a
validation against the in-memory model. `write_model_config` and
`write_batching_config` write the server's configuration files through TF
Serving's own protos. Everything here uses TensorFlow; names load lazily.
This package works on any Keras model and never imports ``keras_apps.models``.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "export_for_serving": "keras_apps.export.saved_model",
    "ExportResult": "keras_apps.export.saved_model",
    "ExportValidationError": "keras_apps.export.saved_model",
    "SignatureInfo": "keras_apps.export.signatures",
    "TensorInfo": "keras_apps.export.signatures",
    "list_versions": "keras_apps.export.files",
    "write_warmup_requests": "keras_apps.export.warmup",
    "read_warmup_requests": "keras_apps.export.warmup",
    "write_model_config": "keras_apps.export.configs",
    "read_model_config": "keras_apps.export.configs",
    "write_batching_config": "keras_apps.export.configs",
    "read_batching_config": "keras_apps.export.configs",
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
