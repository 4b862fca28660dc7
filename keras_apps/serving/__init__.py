"""Serving through TensorFlow Serving's gRPC API.

Names load lazily: ``from keras_apps.serving import PredictClient`` imports
grpcio, protobuf and NumPy, but neither TensorFlow nor ``tensorflow_serving``.
`LocalModelServer` (development and tests) does load TensorFlow.
"""

from __future__ import annotations

from keras_apps._lazy import lazy_attributes

__getattr__, __dir__, __all__ = lazy_attributes(
    globals(),
    {
        "encode_tensor": "keras_apps.serving.codec",
        "decode_tensor": "keras_apps.serving.codec",
        "PredictClient": "keras_apps.serving.client",
        "ServingError": "keras_apps.serving.client",
        "ModelNotFoundError": "keras_apps.serving.client",
        "InvalidInputError": "keras_apps.serving.client",
        "ServerUnavailableError": "keras_apps.serving.client",
        "LocalModelServer": "keras_apps.serving.server",
        "tf_serving_command": "keras_apps.serving.container",
    },
)
