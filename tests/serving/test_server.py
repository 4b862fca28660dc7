"""LocalModelServer in this process, queried with TF Serving's own stubs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_serving.apis import (
    classification_pb2,
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_log_pb2,
    prediction_service_pb2_grpc,
    regression_pb2,
)
from tensorflow_serving.config import model_server_config_pb2

from keras_apps.serving.codec import decode_tensor, encode_tensor, encode_tensor_values
from keras_apps.serving.server import LocalModelServer

State = get_model_status_pb2.ModelVersionStatus.State


def _two_output_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    outputs = {
        "scores": keras.layers.Dense(3, name="scores")(hidden),
        "embedding": keras.layers.Dense(2, name="embedding")(hidden),
    }
    return keras.Model(inputs, outputs)


def _export(model: keras.Model, path: Path) -> None:
    model.export(str(path), format="tf_saved_model", verbose=False)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Three versions of a two-output model; their in-process outputs on X."""
    root = tmp_path_factory.mktemp("models")
    x = np.random.default_rng(0).standard_normal((5, 4)).astype("float32")
    expected = {}
    for version in (1, 2, 3):
        model = _two_output_model(seed=version)
        _export(model, root / "source" / str(version))
        expected[version] = {k: np.asarray(v) for k, v in model(x).items()}
    return root / "source", x, expected


def _base_with(models, tmp_path: Path, versions) -> Path:
    source, _, _ = models
    base = tmp_path / "tiny"
    base.mkdir(parents=True, exist_ok=True)
    for version in versions:
        shutil.copytree(source / str(version), base / str(version))
    return base


@pytest.fixture
def server(models, tmp_path):
    base = _base_with(models, tmp_path, [1])
    with LocalModelServer(base, "tiny", file_system_poll_wait_seconds=0) as running:
        yield running


def _stubs(target: str):
    channel = grpc.insecure_channel(target)
    return (
        prediction_service_pb2_grpc.PredictionServiceStub(channel),
        model_service_pb2_grpc.ModelServiceStub(channel),
    )


def _request(x, name="tiny", **inputs) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.model_spec.signature_name = "serving_default"
    for key, value in ({"features": x} if not inputs else inputs).items():
        request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    return request


def _status(model_stub, name="tiny") -> dict[int, int]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    response = model_stub.GetModelStatus(request, timeout=5)
    return {s.version: s.state for s in response.model_version_status}


def _error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(request, timeout=10)
    return info.value


# ----------------------------------------------------------------------- predict


@pytest.mark.parametrize("tensor_content", [True, False])
def test_official_client_gets_in_process_outputs(models, tmp_path, tensor_content):
    _, x, expected = models
    base = _base_with(models, tmp_path, [1])
    with LocalModelServer(
        base, "tiny", enable_serialization_as_tensor_content=tensor_content
    ) as server:
        assert server.target == f"127.0.0.1:{server.port}"
        predict, _ = _stubs(server.target)
        response = predict.Predict(_request(x), timeout=10)
    assert sorted(response.outputs) == ["embedding", "scores"]
    for name, proto in response.outputs.items():
        assert bool(proto.tensor_content) is tensor_content
        np.testing.assert_allclose(tf.make_ndarray(proto), expected[1][name], atol=1e-6)
    assert response.model_spec.name == "tiny"
    assert response.model_spec.version.value == 1
    assert response.model_spec.signature_name == "serving_default"


def test_value_field_inputs_are_accepted(server, models):
    _, x, expected = models
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    encode_tensor_values(x, out=request.inputs["features"])
    assert not request.inputs["features"].tensor_content
    predict, _ = _stubs(server.target)
    response = predict.Predict(request, timeout=10)
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["scores"]), expected[1]["scores"], atol=1e-6
    )


def test_output_filter(server, models):
    _, x, expected = models
    predict, _ = _stubs(server.target)
    request = _request(x)
    request.output_filter.append("embedding")
    response = predict.Predict(request, timeout=10)
    assert list(response.outputs) == ["embedding"]
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["embedding"]),
        expected[1]["embedding"],
        atol=1e-6,
    )
    request.output_filter.append("nope")
    error = _error(predict.Predict, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "output tensor alias not found in signature: nope" in error.details()
    assert "{embedding,scores}" in error.details()


def test_wrong_input_name_lists_expected_names(server, models):
    _, x, _ = models
    predict, _ = _stubs(server.target)
    error = _error(predict.Predict, _request(x, image=x))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == (
        "input tensor alias not found in signature: image. Inputs expected to be "
        "in the set {features}."
    )
    error = _error(predict.Predict, _request(x, features=x, extra=x))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Sent extra: {extra}" in error.details()


def test_wrong_dtype_and_shape(server, models):
    _, x, _ = models
    predict, _ = _stubs(server.target)
    error = _error(predict.Predict, _request(x.astype("float64")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Expects arg[0] to be float32 but float64 is provided" in error.details()
    # Shapes are left to the graph, as in TF Serving.
    error = _error(predict.Predict, _request(np.zeros((2, 5), "float32")))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Matrix size-incompatible" in error.details()


def test_not_found_and_failed_precondition(server, models):
    _, x, _ = models
    predict, _ = _stubs(server.target)
    error = _error(predict.Predict, _request(x, name="other"))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Servable not found for request: Latest(other)"
    request = _request(x)
    request.model_spec.version.value = 7
    error = _error(predict.Predict, request)
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Servable not found for request: Specific(tiny, 7)"
    request = _request(x)
    request.model_spec.signature_name = "missing"
    error = _error(predict.Predict, request)
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == 'Serving signature key "missing" not found.'


def test_metadata_packs_signature_def_map(server):
    predict, _ = _stubs(server.target)
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    request.model_spec.name = "tiny"
    request.metadata_field.append("signature_def")
    response = predict.GetModelMetadata(request, timeout=10)
    assert response.model_spec.version.value == 1
    packed = response.metadata["signature_def"]
    assert packed.type_url.endswith("tensorflow.serving.SignatureDefMap")
    signature_map = get_model_metadata_pb2.SignatureDefMap()
    assert packed.Unpack(signature_map)
    signature = signature_map.signature_def["serving_default"]
    assert list(signature.inputs) == ["features"]
    assert sorted(signature.outputs) == ["embedding", "scores"]
    assert signature.method_name == "tensorflow/serving/predict"
    assert [d.size for d in signature.inputs["features"].tensor_shape.dim] == [-1, 4]
    request.ClearField("metadata_field")
    error = _error(predict.GetModelMetadata, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_classify_on_a_signature_without_examples_is_invalid(server):
    predict, _ = _stubs(server.target)
    request = classification_pb2.ClassificationRequest()
    request.model_spec.name = "tiny"
    request.input.example_list.examples.add()
    error = _error(predict.Classify, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "serialized tf.Examples (DT_STRING)" in error.details()


def _write_classify_regress_model(path: Path) -> None:
    """A TF1-style SavedModel with classify and regress signatures on tf.Example."""
    graph = tf.Graph()
    with graph.as_default():
        serialized = tf.compat.v1.placeholder(tf.string, [None], name="tf_example")
        x = tf.io.parse_example(
            serialized, {"x": tf.io.FixedLenFeature([2], tf.float32)}
        )["x"]
        scores = tf.nn.softmax(x, axis=1)
        classes = tf.tile(tf.constant([[b"cat", b"dog"]]), [tf.shape(x)[0], 1])
        total = tf.reduce_sum(x, axis=1, keepdims=True)
        with tf.compat.v1.Session(graph=graph) as session:
            builder = tf.compat.v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                session,
                ["serve"],
                signature_def_map={
                    "serving_default": (
                        tf.compat.v1.saved_model.classification_signature_def(
                            serialized, classes, scores
                        )
                    ),
                    "sum": tf.compat.v1.saved_model.regression_signature_def(
                        serialized, total
                    ),
                },
            )
            builder.save()


def _example(values) -> tf.train.Example:
    return tf.train.Example(
        features=tf.train.Features(
            feature={"x": tf.train.Feature(float_list=tf.train.FloatList(value=values))}
        )
    )


def test_classify_and_regress_signatures(tmp_path):
    _write_classify_regress_model(tmp_path / "examples" / "1")
    with LocalModelServer(tmp_path / "examples", "examples") as server:
        predict, _ = _stubs(server.target)
        request = classification_pb2.ClassificationRequest()
        request.model_spec.name = "examples"
        request.input.example_list.examples.extend(
            [_example([0.0, 1.0]), _example([2.0, 2.0])]
        )
        response = predict.Classify(request, timeout=10)
        first, second = response.result.classifications
        assert [c.label for c in first.classes] == ["cat", "dog"]
        expected = np.exp([0.0, 1.0]) / np.exp([0.0, 1.0]).sum()
        np.testing.assert_allclose([c.score for c in first.classes], expected, 1e-6)
        np.testing.assert_allclose([c.score for c in second.classes], [0.5, 0.5])
        regress = regression_pb2.RegressionRequest()
        regress.model_spec.name = "examples"
        regress.model_spec.signature_name = "sum"
        with_context = regress.input.example_list_with_context
        with_context.examples.extend([_example([1.0, 2.0]), _example([3.0, 4.0])])
        result = predict.Regress(regress, timeout=10)
        np.testing.assert_allclose([r.value for r in result.result.regressions], [3, 7])
        assert result.model_spec.signature_name == "sum"
        regress.ClearField("input")
        error = _error(predict.Regress, regress)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------------ versions


def test_status_and_unknown_model(server):
    _, model_stub = _stubs(server.target)
    assert _status(model_stub) == {1: State.AVAILABLE}
    error = _error(
        model_stub.GetModelStatus,
        get_model_status_pb2.GetModelStatusRequest(
            model_spec={"name": "other"}  # type: ignore[arg-type]
        ),
    )
    assert error.code() == grpc.StatusCode.NOT_FOUND
    assert error.details() == "Could not find any versions of model other"


def test_only_all_digit_complete_directories_are_versions(models, tmp_path):
    source, _, _ = models
    base = _base_with(models, tmp_path, [1])
    shutil.copytree(source / "2", base / "2.partial")
    shutil.copytree(source / "3", base / "tmp-3")
    (base / "9").mkdir()  # an export still being written: no saved_model.pb
    with LocalModelServer(base, "tiny", file_system_poll_wait_seconds=0) as server:
        assert server.served_versions("tiny") == [1]


def test_hot_swap_and_removal(models, tmp_path):
    source, x, expected = models
    base = _base_with(models, tmp_path, [1])
    with LocalModelServer(base, "tiny", file_system_poll_wait_seconds=0.1) as server:
        predict, model_stub = _stubs(server.target)
        shutil.copytree(source / "2", base / "2")
        deadline = time.monotonic() + 30
        while server.served_versions("tiny") != [2] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _status(model_stub) == {2: State.AVAILABLE, 1: State.END}
        response = predict.Predict(_request(x), timeout=10)
        assert response.model_spec.version.value == 2
        np.testing.assert_allclose(
            tf.make_ndarray(response.outputs["scores"]),
            expected[2]["scores"],
            atol=1e-6,
        )
        # Removing the newest version falls back to version 1, still on disk.
        shutil.rmtree(base / "2")
        deadline = time.monotonic() + 30
        while server.served_versions("tiny") != [1] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.served_versions("tiny") == [1]


def test_broken_version_keeps_the_old_one_serving(models, tmp_path):
    _, x, expected = models
    base = _base_with(models, tmp_path, [1])
    with LocalModelServer(
        base, "tiny", file_system_poll_wait_seconds=0, max_num_load_retries=0
    ) as server:
        (base / "2").mkdir()
        (base / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
        server.refresh()
        assert server.served_versions("tiny") == [1]
        predict, model_stub = _stubs(server.target)
        states = _status(model_stub)
        assert states == {1: State.AVAILABLE, 2: State.END}
        response = predict.Predict(_request(x), timeout=10)
        np.testing.assert_allclose(
            tf.make_ndarray(response.outputs["scores"]),
            expected[1]["scores"],
            atol=1e-6,
        )


def _config_text(base: Path, policy: str) -> str:
    return (
        "model_config_list {\n  config {\n"
        f'    name: "tiny"\n    base_path: "{base.name}"\n'
        f'    model_platform: "tensorflow"\n    model_version_policy {{ {policy} }}\n'
        "  }\n}\n"
    )


@pytest.mark.parametrize(
    "policy, served",
    [
        ("latest { num_versions: 2 }", [2, 3]),
        ("all {}", [1, 2, 3]),
        ("specific { versions: 1 versions: 3 }", [1, 3]),
    ],
)
def test_version_policy_from_config_file(models, tmp_path, policy, served):
    _, x, expected = models
    base = _base_with(models, tmp_path, [1, 2, 3])
    config = tmp_path / "models.config"
    config.write_text(_config_text(base, policy))
    with LocalModelServer(model_config_file=config) as server:
        assert server.served_versions("tiny") == served
        predict, _ = _stubs(server.target)
        request = _request(x)
        request.model_spec.version.value = served[0]
        response = predict.Predict(request, timeout=10)
        np.testing.assert_allclose(
            tf.make_ndarray(response.outputs["scores"]),
            expected[served[0]]["scores"],
            atol=1e-6,
        )


def test_reload_config_adds_and_removes_models(server, models, tmp_path):
    source, x, expected = models
    _, model_stub = _stubs(server.target)
    config = model_server_config_pb2.ModelServerConfig()
    entry = config.model_config_list.config.add(
        name="second", base_path=str(source), model_platform="tensorflow"
    )
    entry.model_version_policy.specific.versions.append(2)
    request = model_management_pb2.ReloadConfigRequest(config=config)
    model_stub.HandleReloadConfigRequest(request, timeout=30)
    assert server.model_names == ["second"]
    predict, _ = _stubs(server.target)
    response = predict.Predict(_request(x, name="second"), timeout=10)
    assert response.model_spec.version.value == 2
    error = _error(predict.Predict, _request(x))
    assert error.code() == grpc.StatusCode.NOT_FOUND
    bad = model_management_pb2.ReloadConfigRequest()
    bad.config.custom_model_config.Pack(config)
    error = _error(model_stub.HandleReloadConfigRequest, bad)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_warmup_requests_are_replayed_and_checked(models, tmp_path):
    _, x, _ = models
    base = _base_with(models, tmp_path, [1])
    warmup = base / "1" / "assets.extra" / "tf_serving_warmup_requests"
    warmup.parent.mkdir()
    good = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=_request(x))
    )
    with tf.io.TFRecordWriter(str(warmup)) as writer:
        writer.write(good.SerializeToString())
    with LocalModelServer(base, "tiny", file_system_poll_wait_seconds=0) as server:
        assert server.served_versions("tiny") == [1]
    bad = prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=_request(x, image=x))
    )
    with tf.io.TFRecordWriter(str(warmup)) as writer:
        writer.write(bad.SerializeToString())
    with LocalModelServer(base, "tiny", file_system_poll_wait_seconds=0) as server:
        assert server.served_versions("tiny") == []


def test_message_limit(models, tmp_path):
    base = _base_with(models, tmp_path, [1])
    big = np.zeros((70_000, 4), "float32")  # 1.1 MB
    with LocalModelServer(base, "tiny", max_message_bytes=1 << 20) as server:
        predict, _ = _stubs(server.target)
        error = _error(predict.Predict, _request(big))
        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_stop_is_clean(models, tmp_path):
    _, x, _ = models
    base = _base_with(models, tmp_path, [1])
    server = LocalModelServer(base, "tiny").start()
    predict, _ = _stubs(server.target)
    predict.Predict(_request(x), timeout=10)
    server.stop()
    error = _error(predict.Predict, _request(x))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


# --------------------------------------------------------------- arguments


def test_bad_arguments(models, tmp_path):
    base = _base_with(models, tmp_path, [1])
    with pytest.raises(ValueError, match="either model_base_path"):
        LocalModelServer()
    with pytest.raises(ValueError, match="either model_base_path"):
        LocalModelServer(base, model_config_file=tmp_path / "models.config")
    with pytest.raises(ValueError, match="model_name goes with model_base_path"):
        LocalModelServer(
            model_name="tiny", model_config_file=tmp_path / "models.config"
        )
    # spawn checks the same before it starts a process.
    with pytest.raises(ValueError, match="either model_base_path"):
        LocalModelServer.spawn()
    with pytest.raises(ValueError, match="model_name goes with model_base_path"):
        LocalModelServer.spawn(
            model_name="tiny", model_config_file=tmp_path / "models.config"
        )
    with pytest.raises(ValueError, match="port must be in"):
        LocalModelServer(base, port=70000)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        LocalModelServer(model_config_file=tmp_path / "missing.config")
    (tmp_path / "bad.config").write_text("model_config_list { nonsense: 1 }")
    with pytest.raises(ValueError, match="Error parsing text-format tensorflow"):
        LocalModelServer(model_config_file=tmp_path / "bad.config")
    server = LocalModelServer(tmp_path / "missing", "missing")
    with pytest.raises(RuntimeError, match="not started"):
        _ = server.target
    with pytest.raises(FileNotFoundError, match="does not exist"):
        server.start()


def test_model_name_defaults_to_directory_name(models, tmp_path):
    base = _base_with(models, tmp_path, [1])
    with LocalModelServer(base) as server:
        assert server.model_names == ["tiny"]


def test_config_file_is_a_real_model_server_config(tmp_path):
    text = _config_text(tmp_path / "tiny", "latest { num_versions: 2 }")
    parsed = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    assert parsed.model_config_list.config[0].model_version_policy.latest.num_versions


@pytest.mark.parametrize(
    "dtype", ["float32", "float64", "int32", "int64", "uint8", "bool", "float16"]
)
@pytest.mark.parametrize("tensor_content", [True, False])
def test_tensor_encoding_round_trips_through_tf(dtype, tensor_content):
    array = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    proto = (encode_tensor if tensor_content else encode_tensor_values)(array)
    decoded = tf.make_ndarray(proto)
    assert decoded.dtype == array.dtype
    np.testing.assert_array_equal(decoded, array)
    np.testing.assert_array_equal(decode_tensor(proto), array)


def test_string_tensors_use_string_val():
    proto = encode_tensor_values(np.array([b"a", b"bc"], dtype=object))
    assert list(proto.string_val) == [b"a", b"bc"]
    np.testing.assert_array_equal(tf.make_ndarray(proto), [b"a", b"bc"])


def test_cli_serve_reports_a_missing_base_path(tmp_path, capsys):
    from keras_apps import cli

    missing = str(tmp_path / "missing")
    assert cli.main(["serve", "--model-base-path", missing, "--port", "0"]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_default_message_limit_fits_a_batch_of_32_imagenet_images():
    from keras_apps.serving.server import DEFAULT_MAX_MESSAGE_BYTES

    batch_bytes = 32 * 224 * 224 * 3 * 4  # 19.3 MB of float32
    assert DEFAULT_MAX_MESSAGE_BYTES >= batch_bytes + 1024


def test_version_labels_and_specific_status(models, tmp_path):
    _, x, expected = models
    base = _base_with(models, tmp_path, [1, 2, 3])
    config = tmp_path / "models.config"
    config.write_text(
        _config_text(base, "all {}").replace(
            '    model_platform: "tensorflow"\n',
            '    model_platform: "tensorflow"\n'
            '    version_labels { key: "stable" value: 2 }\n',
        )
    )
    with LocalModelServer(model_config_file=config) as server:
        predict, model_stub = _stubs(server.target)
        request = _request(x)
        request.model_spec.version_label = "stable"
        response = predict.Predict(request, timeout=10)
        assert response.model_spec.version.value == 2
        np.testing.assert_allclose(
            tf.make_ndarray(response.outputs["scores"]),
            expected[2]["scores"],
            atol=1e-6,
        )
        request.model_spec.version_label = "canary"
        error = _error(predict.Predict, request)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert error.details() == "Unrecognized servable version label: canary"
        status = get_model_status_pb2.GetModelStatusRequest()
        status.model_spec.name = "tiny"
        status.model_spec.version.value = 3
        (only,) = model_stub.GetModelStatus(status, timeout=5).model_version_status
        assert (only.version, only.state) == (3, State.AVAILABLE)
        status.model_spec.version.value = 9
        error = _error(model_stub.GetModelStatus, status)
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert error.details() == "Could not find version 9 of model tiny"
        # model_config_file_poll_wait_seconds defaults to 0: never re-read,
        # as TF Serving (the versions folder is still scanned every second).
        config.write_text(config.read_text().replace("value: 2", "value: 3"))
        time.sleep(2.5)
        request.model_spec.version_label = "stable"
        assert predict.Predict(request, timeout=10).model_spec.version.value == 2


@pytest.mark.parametrize("tensor_content", [True, False])
def test_predict_client_reads_both_encodings(models, tmp_path, tensor_content):
    from keras_apps.serving import PredictClient

    _, x, expected = models
    base = _base_with(models, tmp_path, [1])
    with (
        LocalModelServer(
            base, "tiny", serialize_as_tensor_content=tensor_content
        ) as server,
        PredictClient(server.target, "tiny", timeout=10) as client,
    ):
        outputs = client.predict(x)
        assert client.metadata().inputs["features"].shape == (None, 4)
        assert [(s.version, s.state) for s in client.status()] == [(1, "AVAILABLE")]
    for name in ("scores", "embedding"):
        np.testing.assert_allclose(outputs[name], expected[1][name], atol=1e-6)
