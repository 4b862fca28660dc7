"""LocalModelServer answers as TF Serving 2.x does, asked the way TF Serving's docs ask.

One ``keras-apps serve`` child (`LocalModelServer.spawn`) serves, from a
``models.config`` it re-reads every half second, with the REST API on:

- ``half_plus_two``: a TF1 SavedModel built with ``tf.compat.v1`` like TF
  Serving's own fixture (``parse_example``; predict, classify and regress
  signatures; ``y = 0.5 x + 2``);
- ``examples``: a TF2 ``tf.Module`` whose signatures take serialized
  ``tf.Example``s (method name predict, as every TF2 signature) plus one
  signature answering many dtypes;
- ``linear``: ``tf.saved_model.save`` of one plain ``tf.function``.

Requests use the official ``tensorflow_serving.apis`` stubs and
``tf.make_tensor_proto`` and read ``float_val``; REST uses `urllib` and the
JSON bodies of TF Serving's REST documentation. The request handlers are also
called directly, without gRPC.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    classification_pb2,
    inference_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)

from keras_apps import cli
from keras_apps.export import write_model_config
from keras_apps.serving import InvalidInputError, PredictClient
from keras_apps.serving.server import LocalModelServer

CONFIG_POLL_SECONDS = 0.5


def write_half_plus_two(path: Path) -> None:
    """TF Serving's ``half_plus_two`` fixture, built the way its script builds it."""
    graph = tf.Graph()
    with graph.as_default():
        a = tf.compat.v1.Variable(0.5, name="a")
        b = tf.compat.v1.Variable(2.0, name="b")
        serialized = tf.compat.v1.placeholder(tf.string, name="tf_example")
        features = tf.io.parse_example(
            serialized,
            {
                "x": tf.io.FixedLenFeature([1], tf.float32),
                "x2": tf.io.FixedLenFeature([1], tf.float32, default_value=[0.0]),
            },
        )
        x = tf.identity(features["x"], name="x")
        y = tf.add(tf.multiply(a, x), b, name="y")
        y3 = tf.add(tf.multiply(a, tf.identity(features["x2"])), 3.0, name="y3")
        signatures = tf.compat.v1.saved_model
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(tf.compat.v1.global_variables_initializer())
            builder = signatures.Builder(str(path))
            builder.add_meta_graph_and_variables(
                session,
                ["serve"],
                signature_def_map={
                    "serving_default": signatures.predict_signature_def(
                        {"x": x}, {"y": y}
                    ),
                    "regress_x_to_y": signatures.regression_signature_def(
                        serialized, y
                    ),
                    "regress_x2_to_y3": signatures.regression_signature_def(
                        serialized, y3
                    ),
                    "classify_x_to_y": signatures.classification_signature_def(
                        serialized, None, y
                    ),
                },
            )
            builder.save()


def write_examples_module(path: Path) -> None:
    """A TF2 SavedModel: tf.Example signatures and one of many output dtypes."""
    spec = tf.TensorSpec([None], tf.string, name="examples")
    schema = {"x": tf.io.FixedLenFeature([1], tf.float32)}

    class Examples(tf.Module):
        @tf.function(input_signature=[spec])
        def regress(self, examples):
            x = tf.io.parse_example(examples, schema)["x"]
            return {"outputs": 0.5 * x + 2.0}

        @tf.function(input_signature=[spec])
        def classify(self, examples):
            x = tf.io.parse_example(examples, schema)["x"]
            classes = tf.tile(tf.constant([[b"yes", b"no"]]), [tf.shape(x)[0], 1])
            return {"scores": tf.concat([x, 1.0 - x], axis=1), "classes": classes}

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def dtypes(self, x):
            return {
                "f16": tf.cast(x, tf.float16),
                "f32": x,
                "f64": tf.cast(x, tf.float64),
                "i32": tf.cast(x, tf.int32),
                "i64": tf.cast(x, tf.int64),
                "u8": tf.cast(x, tf.uint8),
                "flag": x > 1.0,
                "text": tf.strings.as_string(x, precision=1),
                "text_bytes": tf.strings.as_string(x, precision=1),
                "total": tf.reduce_sum(x),
            }

    module = Examples()
    tf.saved_model.save(
        module,
        str(path),
        signatures={
            "serving_default": module.regress,
            "classify": module.classify,
            "dtypes": module.dtypes,
        },
    )


@pytest.fixture(scope="module")
def models(tmp_path_factory, linear_saved_model) -> Path:
    root = tmp_path_factory.mktemp("fidelity")
    write_half_plus_two(root / "half_plus_two" / "1")
    write_examples_module(root / "examples" / "1")
    linear_saved_model(root / "linear" / "1", 1.0)
    return root


def _write_config(root: Path, names) -> Path:
    config = root / "models.config"
    write_model_config(
        str(config), [{"name": n, "base_path": str(root / n)} for n in names]
    )
    return config


@pytest.fixture(scope="module")
def served(models):
    config = _write_config(models, ["half_plus_two", "examples"])
    server = LocalModelServer.spawn(
        model_config_file=config,
        model_config_file_poll_wait_seconds=CONFIG_POLL_SECONDS,
        rest_api_port=0,
    )
    channel = grpc.insecure_channel(server.target)
    try:
        yield server, prediction_service_pb2_grpc.PredictionServiceStub(channel)
    finally:
        channel.close()
        server.stop()


def _predict_request(name, signature="serving_default", **inputs):
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = signature
    for key, value in inputs.items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _example(**features) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                k: tf.train.Feature(float_list=tf.train.FloatList(value=v))
                for k, v in features.items()
            }
        )
    )


def _error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=20)
    return info.value


# --------------------------------------------------------------- encoding


def test_typed_fields_by_default_as_tf_serving(served):
    """TF Serving's mnist client style: read ``float_val`` of the answer."""
    _, stub = served
    x = np.array([[1.0], [2.0], [5.0]], "float32")
    response = stub.Predict(_predict_request("half_plus_two", x=x), 20)
    y = response.outputs["y"]
    assert not y.tensor_content
    assert list(y.float_val) == [2.5, 3.0, 4.5]
    assert [d.size for d in y.tensor_shape.dim] == [3, 1]
    np.testing.assert_allclose(tf.make_ndarray(y), [[2.5], [3.0], [4.5]])


def test_each_dtype_fills_the_field_tf_serving_fills(served):
    _, stub = served
    x = np.array([0.5, 2.0], "float32")
    outputs = stub.Predict(_predict_request("examples", "dtypes", x=x), 20).outputs
    assert list(outputs["f32"].float_val) == [0.5, 2.0]
    assert list(outputs["f64"].double_val) == [0.5, 2.0]
    assert list(outputs["f16"].half_val) == list(
        np.array([0.5, 2.0], np.float16).view(np.uint16)
    )
    assert list(outputs["i32"].int_val) == [0, 2]
    assert list(outputs["u8"].int_val) == [0, 2]
    assert list(outputs["i64"].int64_val) == [0, 2]
    assert list(outputs["flag"].bool_val) == [False, True]
    assert list(outputs["text"].string_val) == [b"0.5", b"2.0"]
    total = outputs["total"]  # a scalar: shape [], one value
    assert list(total.float_val) == [2.5] and not total.tensor_shape.dim
    for proto in outputs.values():
        assert not proto.tensor_content
        assert tf.make_ndarray(proto).dtype == tf.dtypes.as_dtype(proto.dtype)


def test_tensor_content_when_asked(models):
    """The handlers alone, without gRPC: tensor_content on request."""
    with LocalModelServer(
        models / "examples",
        "examples",
        port=0,
        enable_serialization_as_tensor_content=True,
    ) as server:
        request = _predict_request(
            "examples", "dtypes", x=np.array([0.5, 2.0], "float32")
        )
        outputs = server.handlers.predict(request).outputs
    for name in ("f16", "f32", "f64", "i32", "i64", "u8", "flag", "total"):
        proto = outputs[name]
        assert proto.tensor_content and not proto.float_val, name
    assert list(outputs["text"].string_val) == [b"0.5", b"2.0"]
    np.testing.assert_array_equal(tf.make_ndarray(outputs["f16"]), [0.5, 2.0])
    assert tf.make_ndarray(outputs["total"]) == 2.5


# ------------------------------------------------------------------ inputs


def test_shapes_are_left_to_the_graph(served):
    """x = [2.0] of shape [1] against a [-1, 1] signature is answered."""
    _, stub = served
    response = stub.Predict(_predict_request("half_plus_two", x=[2.0]), 20)
    assert list(response.outputs["y"].float_val) == [3.0]
    request = _predict_request("half_plus_two", x=np.array([1.0, 2.0, 5.0], "float32"))
    assert list(stub.Predict(request, 20).outputs["y"].float_val) == [2.5, 3.0, 4.5]


def test_a_shape_the_graph_refuses_is_invalid_argument(models):
    with LocalModelServer(models / "linear", "linear") as server:
        request = _predict_request("linear", x=np.ones((2, 5), "float32"))
        with pytest.raises(Exception) as info:
            server.handlers.predict(request)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Matrix size-incompatible" in info.value.message


def test_input_names_and_dtypes_as_predict_util(served):
    _, stub = served
    x = np.ones((1, 1), "float32")
    error = _error(stub.Predict, _predict_request("half_plus_two", x=x, z=x))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "input size does not match signature: 2!=1 len({x,z}) != len({x}). "
        "Sent extra: {z}. Missing but required: {}."
    )
    error = _error(stub.Predict, _predict_request("half_plus_two", x=x.astype("f8")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expects arg[0] to be float32 but float64 is provided" in error.details()
    request = _predict_request("half_plus_two", "missing", x=x)
    error = _error(stub.Predict, request)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == 'Serving signature key "missing" not found.'


def test_predict_client_sends_what_tf_serving_accepts(served):
    """PredictClient against the real server: shapes left to the graph, a
    dtype that changes values refused (by the client, as TF Serving would),
    sent with ``cast=True``, and the typed answer read."""
    server, _ = served
    with PredictClient(server.target, "half_plus_two", timeout=20) as client:
        assert client.predict(np.array([2.0], "float32"))["y"].tolist() == [3.0]
        with pytest.raises(InvalidInputError, match="float32 but float64"):
            client.predict(np.array([[2.0]]))
    with PredictClient(server.target, "half_plus_two", cast=True, timeout=20) as c:
        np.testing.assert_array_equal(c.predict(np.array([[2.0]]))["y"], [[3.0]])


# ------------------------------------------------ classify, regress, multi


def test_classify_and_regress_on_tf1_signatures(served):
    _, stub = served
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "half_plus_two"
    regress.model_spec.signature_name = "regress_x_to_y"
    regress.input.example_list.examples.extend([_example(x=[1.0]), _example(x=[4.0])])
    result = stub.Regress(regress, 20)
    assert [r.value for r in result.result.regressions] == [2.5, 4.0]
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "half_plus_two"
    classify.model_spec.signature_name = "classify_x_to_y"
    classify.input.CopyFrom(regress.input)
    result = stub.Classify(classify, 20)
    scores = [[c.score for c in r.classes] for r in result.result.classifications]
    assert scores == [[2.5], [4.0]]


def test_classify_and_regress_on_tf2_example_signatures(served):
    _, stub = served
    regress = regression_pb2.RegressionRequest()
    regress.model_spec.name = "examples"
    regress.input.example_list.examples.extend([_example(x=[2.0])])
    assert [r.value for r in stub.Regress(regress, 20).result.regressions] == [3.0]
    classify = classification_pb2.ClassificationRequest()
    classify.model_spec.name = "examples"
    classify.model_spec.signature_name = "classify"
    classify.input.example_list.examples.extend([_example(x=[0.25])])
    (only,) = stub.Classify(classify, 20).result.classifications
    assert [(c.label, c.score) for c in only.classes] == [("yes", 0.25), ("no", 0.75)]


def test_multi_inference(served):
    _, stub = served
    request = inference_pb2.MultiInferenceRequest()
    for signature, method in (
        ("regress_x_to_y", "tensorflow/serving/regress"),
        ("regress_x2_to_y3", "tensorflow/serving/regress"),
        ("classify_x_to_y", "tensorflow/serving/classify"),
    ):
        task = request.tasks.add(method_name=method)
        task.model_spec.name = "half_plus_two"
        task.model_spec.signature_name = signature
    request.input.example_list.examples.extend(
        [_example(x=[2.0], x2=[4.0]), _example(x=[6.0], x2=[0.0])]
    )
    results = stub.MultiInference(request, 20).results
    assert [r.model_spec.signature_name for r in results] == [
        "regress_x_to_y",
        "regress_x2_to_y3",
        "classify_x_to_y",
    ]
    assert [v.value for v in results[0].regression_result.regressions] == [3.0, 5.0]
    assert [v.value for v in results[1].regression_result.regressions] == [5.0, 3.0]
    classes = results[2].classification_result.classifications
    assert [c.classes[0].score for c in classes] == [3.0, 5.0]
    request.tasks[1].model_spec.signature_name = "regress_x_to_y"
    error = _error(stub.MultiInference, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Duplicate evaluation of signature: regress_x_to_y" in error.details()


def test_classify_and_regress_on_plain_tf_functions(tmp_path):
    """`tf.saved_model.save` of module-less `tf.function`s: one signature
    (saved as serving_default) and several."""
    spec = tf.TensorSpec([None], tf.string, name="examples")
    schema = {"x": tf.io.FixedLenFeature([1], tf.float32)}

    @tf.function(input_signature=[spec])
    def regress(examples):
        return {"outputs": 3.0 * tf.io.parse_example(examples, schema)["x"]}

    @tf.function(input_signature=[spec])
    def classify(examples):
        x = tf.io.parse_example(examples, schema)["x"]
        return {"scores": tf.concat([x, 1.0 - x], axis=1)}

    tf.saved_model.save(tf.Module(), str(tmp_path / "one" / "1"), signatures=regress)
    tf.saved_model.save(
        tf.Module(),
        str(tmp_path / "several" / "1"),
        signatures={"serving_default": regress, "classify": classify},
    )
    config = _write_config(tmp_path, ["one", "several"])
    with LocalModelServer(model_config_file=config) as server:
        results = {}
        for name in ("one", "several"):
            request = regression_pb2.RegressionRequest()
            request.model_spec.name = name
            request.input.example_list.examples.extend([_example(x=[0.5])])
            results[name] = [
                r.value for r in server.handlers.regress(request).result.regressions
            ]
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "several"
        request.model_spec.signature_name = "classify"
        request.input.example_list.examples.extend([_example(x=[0.25])])
        (only,) = server.handlers.classify(request).result.classifications
    assert results == {"one": [1.5], "several": [1.5]}
    # No "classes" output: labels are left empty, as TF Serving leaves them.
    assert [(c.label, c.score) for c in only.classes] == [("", 0.25), ("", 0.75)]


def test_method_name_check_when_asked(models):
    with LocalModelServer(
        models / "examples", "examples", enable_signature_method_name_check=True
    ) as server:
        request = regression_pb2.RegressionRequest()
        request.model_spec.name = "examples"
        request.input.example_list.examples.extend([_example(x=[2.0])])
        with pytest.raises(Exception) as info:
            server.handlers.regress(request)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.message == (
        "Expected regression signature method_name to be "
        "tensorflow/serving/regress. Was: tensorflow/serving/predict"
    )


# -------------------------------------------------------------- config poll


def test_models_config_is_polled_and_a_bad_one_keeps_the_models(served, models):
    server, stub = served
    config = _write_config(models, ["half_plus_two", "examples", "linear"])
    x = np.ones((1, 4), "float32")
    deadline = time.monotonic() + 30
    while True:
        try:
            response = stub.Predict(_predict_request("linear", x=x), 20)
            break
        except grpc.RpcError as error:
            assert error.code() == grpc.StatusCode.NOT_FOUND
            assert time.monotonic() < deadline, "linear was never served"
            time.sleep(0.2)
    assert list(response.outputs["y"].float_val) == [4.0, 4.0]
    config.write_text("model_config_list { nonsense: 1 }")
    time.sleep(4 * CONFIG_POLL_SECONDS)
    logs = server.logs()
    message = "Error parsing text-format tensorflow.serving.ModelServerConfig: 1:"
    assert logs.count(message) == 1, logs[-2000:]
    assert "Invalid protobuf file:" in logs
    stub.Predict(_predict_request("linear", x=x), 20)  # still served


# --------------------------------------------------------------------- REST


def _rest(server, path: str, body=None) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{server.rest_api_port}{path}"
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if data is None else "POST"
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rest_status_and_metadata(served):
    server, _ = served
    status, answer = _rest(server, "/v1/models/half_plus_two")
    assert status == 200
    assert answer == {
        "model_version_status": [
            {
                "version": "1",
                "state": "AVAILABLE",
                "status": {"error_code": "OK", "error_message": ""},
            }
        ]
    }
    status, answer = _rest(server, "/v1/models/half_plus_two/versions/1/metadata")
    assert status == 200
    assert answer["model_spec"]["name"] == "half_plus_two"
    assert answer["model_spec"]["version"] == "1"
    signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    assert signature["inputs"]["x"]["dtype"] == "DT_FLOAT"
    status, answer = _rest(server, "/v1/models/nope")
    assert status == 404 and "nope" in answer["error"]


def test_rest_predict_row_and_columnar(served):
    server, _ = served
    status, answer = _rest(
        server, "/v1/models/half_plus_two:predict", {"instances": [1.0, 2.0, 5.0]}
    )
    assert (status, answer) == (200, {"predictions": [2.5, 3.0, 4.5]})
    status, answer = _rest(
        server,
        "/v1/models/half_plus_two/versions/1:predict",
        {"signature_name": "serving_default", "inputs": {"x": [[1.0], [3.0]]}},
    )
    assert (status, answer) == (200, {"outputs": [[2.5], [3.5]]})
    status, answer = _rest(
        server,
        "/v1/models/examples:predict",
        {"signature_name": "dtypes", "inputs": {"x": [2.0, 0.5]}},
    )
    assert status == 200, answer
    outputs = answer["outputs"]
    assert outputs["text"] == ["2.0", "0.5"] and outputs["i64"] == [2, 0]
    # TF Serving's rule: a string output whose name ends in "_bytes" is base64.
    assert outputs["text_bytes"] == [{"b64": "Mi4w"}, {"b64": "MC41"}]
    assert outputs["flag"] == [True, False] and outputs["total"] == 2.5
    # The row format needs one batch size; the scalar "total" has none.
    status, answer = _rest(
        server,
        "/v1/models/examples:predict",
        {"signature_name": "dtypes", "instances": [{"x": 2.0}]},
    )
    assert status == 400 and "batch size" in answer["error"]
    status, answer = _rest(
        server, "/v1/models/half_plus_two:predict", {"instances": [{"z": 1.0}]}
    )
    assert status == 400
    assert answer["error"] == (
        "Failed to process element: 0 key: z of 'instances' list. Error: "
        "INVALID_ARGUMENT: JSON object: does not have named input: z"
    )
    status, answer = _rest(
        server,
        "/v1/models/half_plus_two:predict",
        {"signature_name": "nope", "instances": [1.0]},
    )
    assert (status, answer) == (
        400,
        {"error": 'Serving signature name: "nope" not found in signature def'},
    )


def test_rest_b64_bytes_and_classify_regress(served):
    server, _ = served
    example = _example(x=[2.0]).SerializeToString()
    encoded = base64.b64encode(example).decode()
    status, answer = _rest(
        server,
        "/v1/models/examples:predict",
        {"signature_name": "serving_default", "instances": [{"b64": encoded}]},
    )
    assert (status, answer) == (200, {"predictions": [[3.0]]})
    status, answer = _rest(
        server,
        "/v1/models/half_plus_two:regress",
        {"signature_name": "regress_x_to_y", "examples": [{"x": 1.0}, {"x": 4.0}]},
    )
    assert (status, answer) == (200, {"results": [2.5, 4.0]})
    # A "context" is merged into each example; an example's own feature wins.
    status, answer = _rest(
        server,
        "/v1/models/half_plus_two:regress",
        {
            "signature_name": "regress_x2_to_y3",
            "context": {"x2": 4.0},
            "examples": [{"x": 1.0}, {"x": 1.0, "x2": 0.0}],
        },
    )
    assert (status, answer) == (200, {"results": [5.0, 3.0]})
    status, answer = _rest(
        server,
        "/v1/models/examples:classify",
        {"signature_name": "classify", "examples": [{"x": 0.25}]},
    )
    assert (status, answer) == (200, {"results": [[["yes", 0.25], ["no", 0.75]]]})
    status, answer = _rest(server, "/v1/models/half_plus_two:predict", {"x": 1})
    assert status == 400 and "instances" in answer["error"]


def test_rest_keeps_the_connection_alive_and_refuses_as_tf_serving(served):
    """``requests.Session`` and browsers reuse connections; TF Serving keeps
    them open. Wrong methods are TF Serving's "Malformed request"."""
    server, _ = served
    connection = http.client.HTTPConnection(
        "127.0.0.1", server.rest_api_port, timeout=20
    )
    try:
        answers, sockets = [], []
        for method, path, body in [
            ("GET", "/v1/models/half_plus_two/metadata", None),
            ("POST", "/v1/models/half_plus_two:predict", {"instances": [2.0]}),
            ("GET", "/v1/models/half_plus_two:predict", None),
            ("GET", "/v1/models", None),
        ]:
            data = None if body is None else json.dumps(body)
            connection.request(method, path, body=data)
            reply = connection.getresponse()
            answers.append((reply.status, json.loads(reply.read())))
            sockets.append(connection.sock)
            assert connection.sock is sockets[0], f"{method} {path}: a new socket"
    finally:
        connection.close()
    assert sockets[0] is not None, "the server closed the connection"
    assert answers[0][0] == 200 and "signature_def" in answers[0][1]["metadata"]
    assert answers[1] == (200, {"predictions": [3.0]})
    assert answers[2] == (
        400,
        {"error": "Malformed request: GET /v1/models/half_plus_two:predict"},
    )
    assert answers[3] == (400, {"error": "Missing model name in request."})


# ---------------------------------------------------------------------- CLI


def test_port_in_use_is_named_before_tensorflow_loads(tmp_path):
    (tmp_path / "m" / "1").mkdir(parents=True)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.monotonic()
        child = subprocess.run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "keras_apps.cli",
                "serve",
                "--model_base_path",
                str(tmp_path / "m"),
                "--port",
                str(port),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "PYTHONPATH": str(Path(cli.__file__).parents[1])},
        )
    assert child.returncode == 1
    assert f"127.0.0.1:{port} is in use; pass --port 0" in child.stderr
    assert time.monotonic() - start < 30
    assert not any(
        line.rstrip().endswith("| tensorflow") for line in child.stderr.splitlines()
    ), "TensorFlow was imported"


def test_tf_serving_flags_are_accepted_or_refused(tmp_path, capsys):
    args = cli.build_parser().parse_args(
        [
            "serve",
            "--model_base_path=/models/m",
            "--model_name=m",
            "--rest_api_port=8501",
            "--file_system_poll_wait_seconds=2",
            "--model_config_file_poll_wait_seconds=30",
            "--enable_serialization_as_tensor_content",
            "--enable_model_warmup=false",
            "--max_num_load_retries=2",
            "--load_retry_interval_micros=1000",
        ]
    )
    assert (args.model_base_path, args.model_name, args.rest_api_port) == (
        "/models/m",
        "m",
        8501,
    )
    assert args.poll_seconds == 2 and args.model_config_file_poll_wait_seconds == 30
    assert args.enable_serialization_as_tensor_content is True
    assert args.enable_model_warmup is False
    base = str(tmp_path)
    for flags in (
        ["--enable_batching"],
        ["--batching_parameters_file", "batching.config"],
        ["--monitoring_config_file=monitoring.config"],
        ["--grpc_channel_arguments=grpc.max_connection_age_ms=2000"],
    ):
        assert cli.main(["serve", "--model_base_path", base, *flags]) in (1, 2)
        err = capsys.readouterr().err
        assert "cannot honour" in err or "not honoured" in err, err
        assert flags[0].split("=")[0] in err


def test_rest_port_flag_zero_means_none_as_tf_serving():
    args = cli.build_parser().parse_args(["serve", "--model_base_path", "/m"])
    assert args.rest_api_port == 0 and not args.rest_api_any_port
