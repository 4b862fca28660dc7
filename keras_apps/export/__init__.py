"""SavedModel export for TF Serving: versions, signatures, warmup, configs.

`export_for_serving` writes ``base_path/<version>/`` atomically with stable
signature keys, an optional image-bytes signature, warmup requests and a
validation against the in-memory model. `write_model_config` and
`write_batching_config` write the server's configuration files through TF
Serving's own protos. Everything here uses TensorFlow; names load lazily.
This package works on any Keras model and never imports ``keras_apps.models``.
"""

from __future__ import annotations

from keras_apps._lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(
    globals(),
    {
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
    },
)
