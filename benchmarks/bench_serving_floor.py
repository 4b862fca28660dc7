"""The local server's own cost: a no-model round trip against Python gRPC's floor.

`LocalModelServer` serving an identity SavedModel (``y = x``, 1x1024 float32)
against a bare grpcio server whose Predict copies the request's input into the
response: the same payload, the same stub, the same loopback channel, both
servers in this process. Both answer in ``tensor_content`` (the local server
with ``enable_serialization_as_tensor_content``, as TF Serving is started by
`tf_serving_command`). Target: at most 1.3x the bare server.
"""

from __future__ import annotations

import os
import tempfile
from concurrent import futures
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import grpc  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from tensorflow_serving.apis import (  # noqa: E402
    predict_pb2,
    prediction_service_pb2_grpc,
)

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.serving.server import LocalModelServer  # noqa: E402


class _Echo(prediction_service_pb2_grpc.PredictionServiceServicer):
    def Predict(self, request, context):  # noqa: N802 (gRPC's name)
        response = predict_pb2.PredictResponse()
        response.outputs["y"].CopyFrom(request.inputs["x"])
        response.model_spec.CopyFrom(request.model_spec)
        return response


def _identity_model(path: Path) -> None:
    module = tf.Module()
    module.f = tf.function(
        lambda x: {"y": tf.identity(x)},
        input_signature=[tf.TensorSpec([None, 1024], tf.float32, name="x")],
    )
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.f})


def run() -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="bench-serving-floor-"))
    _identity_model(root / "identity" / "1")
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "identity"
    x = np.random.default_rng(0).standard_normal((1, 1024)).astype("float32")
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(x))

    echo = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_Echo(), echo)
    echo_port = echo.add_insecure_port("127.0.0.1:0")
    echo.start()
    try:
        with (
            LocalModelServer(
                root / "identity",
                "identity",
                enable_serialization_as_tensor_content=True,
            ) as server,
            grpc.insecure_channel(server.target) as local_channel,
            grpc.insecure_channel(f"127.0.0.1:{echo_port}") as echo_channel,
        ):
            local = prediction_service_pb2_grpc.PredictionServiceStub(local_channel)
            bare = prediction_service_pb2_grpc.PredictionServiceStub(echo_channel)
            answer = tf.make_ndarray(local.Predict(request, 10).outputs["y"])
            np.testing.assert_array_equal(answer, x)
            local_s, bare_s = interleaved_medians(
                lambda: local.Predict(request, 10),
                lambda: bare.Predict(request, 10),
                # ~0.7 ms a call: with a thousand pairs the ratio moved by 0.05
                # between runs here, with two hundred by 0.2.
                repeats=1000,
                warmup=50,
            )
    finally:
        echo.stop(None)
    return [
        Result(
            name="serving: no-model round trip, local server vs bare grpcio echo",
            a_label="local server",
            a_seconds=local_s,
            b_label="grpcio echo",
            b_seconds=bare_s,
            ratio=local_s / bare_s,
            maximum=1.3,
            note=f"overhead {1e3 * (local_s - bare_s):.2f} ms per request",
        )
    ]
