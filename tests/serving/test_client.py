"""PredictClient against a tiny gRPC server built on the OFFICIAL TF Serving
stubs and messages, so that what the client sends is read by the official
classes and what it decodes was written by them."""

import contextlib
import pickle
import socket
import subprocess
import sys
import threading
import time
from concurrent import futures

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_apps.serving import PredictClient, ServingError, protos
from keras_apps.serving.client import (
    InvalidInputError,
    ModelMetadata,
    ModelNotFoundError,
    ServerUnavailableError,
    TensorMetadata,
    VersionStatus,
)

MODEL = "double"
VERSION = 3


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: these tests do not touch Keras."""
    yield


def _tensor_info(info, name, dtype, dims):
    info.name = name
    info.dtype = dtype
    if dims is None:
        info.tensor_shape.unknown_rank = True
    for size in dims or ():
        info.tensor_shape.dim.add().size = size


class DoublingServicer(
    prediction_service_pb2_grpc.PredictionServiceServicer,
    model_service_pb2_grpc.ModelServiceServicer,
):
    """Signature "serving_default": x float32 (-1, 3) -> y = 2x, total = sum(x).

    Signature "pair": a int32 (-1,), tag string (-1,) -> a_plus_one, tag.
    Answers "y" through float_val, as TF Serving does by default, and the
    others through tensor_content.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.predict_calls = 0
        self.metadata_calls = 0
        self.status_calls = 0
        self.predict_failures = []  # codes to abort the next Predict calls with
        self.not_found_polls = 0  # GetModelStatus answers NOT_FOUND this often
        self.delay_s = 0.0
        self.metadata_delay_s = 0.0
        self.received = []  # (input name -> ndarray) per Predict call
        self.input_name = "x"  # a hot swap may rename it
        self.version = VERSION

    def _check_model(self, spec, context):
        if spec.name != MODEL:
            context.abort(
                grpc.StatusCode.NOT_FOUND,
                f"Servable not found for request: Latest({spec.name})",
            )

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        with self.lock:
            self.predict_calls += 1
            failure = self.predict_failures.pop(0) if self.predict_failures else None
        if failure is not None:
            context.abort(failure, "injected failure")
        if self.delay_s:
            time.sleep(self.delay_s)
        self._check_model(request.model_spec, context)
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        with self.lock:
            self.received.append(inputs)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = MODEL
        response.model_spec.version.value = self.version
        response.model_spec.signature_name = request.model_spec.signature_name
        if request.model_spec.signature_name == "pair":
            outputs = {"a_plus_one": inputs["a"] + 1, "tag": inputs["tag"]}
        else:
            if set(inputs) != {self.input_name}:
                context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"input tensor alias not found in signature: {sorted(inputs)}",
                )
            x = inputs[self.input_name]
            outputs = {"y": 2 * x, "total": x.sum(axis=-1)}
        wanted = list(request.output_filter) or list(outputs)
        for name in wanted:
            value = outputs[name]
            tensor = response.outputs[name]
            if name == "y":
                tensor.dtype = types_pb2.DT_FLOAT
                for size in value.shape:
                    tensor.tensor_shape.dim.add().size = size
                tensor.float_val.extend(value.ravel().tolist())
            else:
                tensor.CopyFrom(tf.make_tensor_proto(value))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        with self.lock:
            self.metadata_calls += 1
        if self.metadata_delay_s:
            time.sleep(self.metadata_delay_s)
        self._check_model(request.model_spec, context)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        default = signatures.signature_def["serving_default"]
        default.method_name = "tensorflow/serving/predict"
        _tensor_info(
            default.inputs[self.input_name], "x:0", types_pb2.DT_FLOAT, [-1, 3]
        )
        _tensor_info(default.outputs["y"], "y:0", types_pb2.DT_FLOAT, [-1, 3])
        _tensor_info(default.outputs["total"], "t:0", types_pb2.DT_FLOAT, [-1])
        pair = signatures.signature_def["pair"]
        pair.method_name = "tensorflow/serving/predict"
        _tensor_info(pair.inputs["a"], "a:0", types_pb2.DT_INT32, [-1])
        _tensor_info(pair.inputs["tag"], "tag:0", types_pb2.DT_STRING, None)
        _tensor_info(pair.outputs["a_plus_one"], "b:0", types_pb2.DT_INT32, [-1])
        _tensor_info(pair.outputs["tag"], "c:0", types_pb2.DT_STRING, [-1])
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = MODEL
        response.model_spec.version.value = self.version
        response.metadata["signature_def"].Pack(signatures)
        return response

    def GetModelStatus(self, request, context):  # noqa: N802
        with self.lock:
            self.status_calls += 1
            not_found = self.status_calls <= self.not_found_polls
        if not_found:
            context.abort(grpc.StatusCode.NOT_FOUND, "Could not find any versions")
        self._check_model(request.model_spec, context)
        response = get_model_status_pb2.GetModelStatusResponse()
        old = response.model_version_status.add()
        old.version = VERSION - 1
        old.state = get_model_status_pb2.ModelVersionStatus.END
        new = response.model_version_status.add()
        new.version = VERSION
        new.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


@pytest.fixture(scope="module")
def server():
    servicer = DoublingServicer()
    grpc_server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=4),
        options=[
            ("grpc.max_receive_message_length", 64 * 1024 * 1024),
            ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        servicer, grpc_server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, grpc_server)
    port = grpc_server.add_insecure_port("127.0.0.1:0")
    grpc_server.start()
    servicer.target = f"127.0.0.1:{port}"
    yield servicer
    grpc_server.stop(grace=None)


@pytest.fixture()
def service(server):
    """The module's server with counters and injected behaviour reset."""
    server.__init__()
    return server


def _client(service, **kwargs):
    return PredictClient(service.target, MODEL, **{"timeout": 5.0, **kwargs})


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_predict_computes_through_the_official_server(service):
    x = np.arange(12, dtype=np.float32).reshape(4, 3) / 7
    with _client(service) as client:
        outputs = client.predict({"x": x})
        single = client.predict(x)  # one input: a bare array is enough
    assert sorted(outputs) == ["total", "y"]
    assert outputs["y"].dtype == np.float32
    np.testing.assert_array_equal(outputs["y"], 2 * x)
    np.testing.assert_allclose(outputs["total"], x.sum(axis=-1), rtol=1e-6)
    np.testing.assert_array_equal(single["y"], outputs["y"])


def test_metadata_is_plain_python_and_fetched_once(service):
    with _client(service) as client:
        metadata = client.metadata()
        for _ in range(3):
            client.predict(np.zeros((1, 3), np.float32))
    assert isinstance(metadata, ModelMetadata)
    assert metadata.model_name == MODEL
    assert metadata.version == VERSION
    assert metadata.signature_names == ["pair", "serving_default"]
    assert metadata.method_name == "tensorflow/serving/predict"
    assert metadata.inputs == {
        "x": TensorMetadata(np.dtype("float32"), (None, 3), "x:0")
    }
    assert metadata.outputs["total"] == TensorMetadata(
        np.dtype("float32"), (None,), "t:0"
    )
    assert service.metadata_calls == 1


def test_dtypes_that_change_values_or_meaning_need_cast(service):
    float64 = np.full((2, 3), 0.25)
    pixels = np.full((1, 3), 255, np.uint8)
    with _client(service) as client:
        for array in (float64, pixels, np.ones((1, 3), np.int32)):
            with pytest.raises(
                InvalidInputError,
                match=f"Expects input 'x' to be float32 but {array.dtype} is "
                "provided.*cast=True",
            ):
                client.predict(array)
        # Python lists carry no dtype: converted where the values fit.
        from_ints = client.predict([[1, 2, 3]])
        from_floats = client.predict([[0.5, 1.5, 2.5]])
    assert service.predict_calls == 2
    with _client(service, cast=True) as client:
        from_float64 = client.predict(float64)
        from_uint8 = client.predict(pixels)
        with pytest.raises(InvalidInputError, match="1e.300 at index \\[0, 1\\].*inf"):
            client.predict(np.array([[0.0, 1e300, 0.0]]))
    assert all(r["x"].dtype == np.float32 for r in service.received)
    np.testing.assert_array_equal(from_float64["y"], np.full((2, 3), 0.5, np.float32))
    np.testing.assert_array_equal(from_ints["y"], [[2, 4, 6]])
    np.testing.assert_array_equal(from_floats["y"], [[1, 3, 5]])
    np.testing.assert_array_equal(from_uint8["y"], np.full((1, 3), 510))


def test_shapes_are_left_to_the_server(service):
    # TF Serving checks names and dtypes and lets the graph decide shapes.
    with _client(service) as client:
        outputs = client.predict(np.ones(3, np.float32))
    np.testing.assert_array_equal(outputs["y"], [2, 2, 2])
    assert service.received[0]["x"].shape == (3,)


def test_timeout_bounds_the_implicit_metadata_fetch(service):
    service.metadata_delay_s = 2.0
    with _client(service, timeout=10.0) as client:
        start = time.monotonic()
        with pytest.raises(ServerUnavailableError):
            client.predict(np.ones((1, 3), np.float32), timeout=0.5)
        assert time.monotonic() - start < 1.5


def test_cached_metadata_follows_a_hot_swap_that_renames_the_input(service):
    x = np.ones((1, 3), np.float32)
    with _client(service) as client:
        client.predict(x)
        service.input_name, service.version = "features", VERSION + 1
        # The server refuses the old name: the client asks again and resends.
        np.testing.assert_array_equal(client.predict(x)["y"], 2 * x)
        assert client.metadata().inputs.keys() == {"features"}
        assert service.metadata_calls == 2
        service.input_name, service.version = "x", VERSION + 2
        # A name unknown to the cache is checked against fresh metadata.
        np.testing.assert_array_equal(client.predict({"x": x})["y"], 2 * x)
        assert service.metadata_calls == 3
        # An answer from another version drops the cache.
        service.version = VERSION + 3
        client.predict({"x": x})
        client.predict({"x": x})
        assert service.metadata_calls == 4
        assert client.metadata().version == VERSION + 3


def test_multiple_inputs_strings_and_output_filter(service):
    with _client(service, signature_name="pair") as client:
        outputs = client.predict(
            {"a": np.array([1, 2, 3], np.int64), "tag": ["x", "y\u00e9", "z"]}
        )
        filtered = client.predict(
            {"a": np.array([5], np.int32), "tag": [b"q"]}, output_filter=["tag"]
        )
    np.testing.assert_array_equal(outputs["a_plus_one"], [2, 3, 4])
    assert outputs["a_plus_one"].dtype == np.int32
    assert outputs["tag"].tolist() == [b"x", "y\u00e9".encode(), b"z"]
    assert list(filtered) == ["tag"]


@pytest.mark.parametrize(
    "signature, inputs, match",
    [
        ("serving_default", {"images": np.zeros((1, 3))}, r"expects inputs \['x'\]"),
        ("pair", {"a": np.zeros(1, np.int32)}, r"missing \['tag'\]"),
        ("pair", np.zeros(2, np.int32), r"has inputs \['a', 'tag'\]"),
        ("serving_default", np.zeros((2, 3), np.complex64), "complex64"),
        ("pair", {"a": np.array([0.5]), "tag": ["t"]}, "int32 but float64 is"),
        ("pair", {"a": np.array([2**40]), "tag": ["t"]}, "would change some"),
        ("pair", {"a": np.array([1], np.int32), "tag": [1]}, "must be object"),
    ],
    ids=[
        "unknown",
        "missing",
        "bare-array",
        "complex",
        "float-to-int",
        "int-overflow",
        "int-to-string",
    ],
)
def test_validation_errors_before_sending(service, signature, inputs, match):
    with _client(service, signature_name=signature) as client:
        with pytest.raises(InvalidInputError, match=match) as info:
            client.predict(inputs)
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert info.value.method is None  # raised by the client
    assert service.predict_calls == 0


def test_output_filter_and_signature_errors(service):
    with _client(service) as client:
        with pytest.raises(InvalidInputError, match=r"has outputs \['total', 'y'\]"):
            client.predict(np.zeros((1, 3), np.float32), output_filter=["z"])
        with pytest.raises(TypeError, match="list of output names"):
            client.predict(np.zeros((1, 3), np.float32), output_filter="y")
    with _client(service, signature_name="nope") as client:
        with pytest.raises(InvalidInputError, match=r"it has \['pair', 'serving_"):
            client.metadata()
    assert service.predict_calls == 0


def test_server_invalid_argument_maps_to_invalid_input_error(service):
    with _client(service, validate_inputs=False) as client:
        with pytest.raises(InvalidInputError) as info:
            client.predict({"wrong": np.zeros((1, 3), np.float32)})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "alias not found" in info.value.details
    assert info.value.method == "/tensorflow.serving.PredictionService/Predict"
    assert service.metadata_calls == 0


def test_not_found_is_not_retried(service):
    with PredictClient(service.target, "missing", timeout=5.0, retries=5) as client:
        with pytest.raises(ModelNotFoundError) as info:
            client.predict({"x": np.zeros((1, 3))})
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert "Servable not found" in info.value.details
    assert "NOT_FOUND" in str(info.value)
    assert service.metadata_calls == 1


def test_unavailable_is_retried_then_succeeds(service):
    service.predict_failures = [grpc.StatusCode.UNAVAILABLE] * 2
    with _client(service, retries=3) as client:
        outputs = client.predict(np.ones((1, 3), np.float32))
    np.testing.assert_array_equal(outputs["y"], np.full((1, 3), 2.0))
    assert service.predict_calls == 3


def test_unavailable_after_all_retries(service):
    service.predict_failures = [grpc.StatusCode.UNAVAILABLE] * 3
    with _client(service, retries=2) as client:
        with pytest.raises(ServerUnavailableError, match="after 3 attempts"):
            client.predict(np.ones((1, 3), np.float32))
    assert service.predict_calls == 3


def test_other_errors_are_not_retried(service):
    service.predict_failures = [grpc.StatusCode.INTERNAL]
    with _client(service) as client:
        with pytest.raises(ServingError) as info:
            client.predict(np.ones((1, 3), np.float32))
    assert type(info.value) is ServingError
    assert info.value.code == grpc.StatusCode.INTERNAL
    assert info.value.details == "injected failure"
    assert service.predict_calls == 1


def test_dead_server_fails_within_the_timeout():
    target = f"127.0.0.1:{_free_port()}"
    with PredictClient(target, MODEL, timeout=1.0, retries=100) as client:
        start = time.monotonic()
        with pytest.raises(ServerUnavailableError) as info:
            client.predict({"x": np.zeros((1, 3), np.float32)})
        elapsed = time.monotonic() - start
    assert info.value.code in (
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
    )
    assert elapsed < 1.5, f"took {elapsed:.2f} s with timeout=1.0"


def test_slow_server_hits_the_deadline(service):
    service.delay_s = 1.0
    with _client(service, timeout=0.3, validate_inputs=False) as client:
        start = time.monotonic()
        with pytest.raises(ServerUnavailableError) as info:
            client.predict({"x": np.zeros((1, 3), np.float32)})
        elapsed = time.monotonic() - start
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert elapsed < 0.8


def test_status_and_wait_until_available(service):
    service.not_found_polls = 2
    with _client(service) as client:
        assert client.wait_until_available(timeout=5.0) == VERSION
        assert client.status() == [
            VersionStatus(VERSION - 1, "END"),
            VersionStatus(VERSION, "AVAILABLE"),
        ]
    assert service.status_calls == 4


def test_wait_until_available_finds_a_server_that_starts_late():
    port = _free_port()
    servicer = DoublingServicer()
    late_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, late_server)
    assert late_server.add_insecure_port(f"127.0.0.1:{port}") == port
    starter = threading.Timer(0.6, late_server.start)
    try:
        with PredictClient(f"127.0.0.1:{port}", MODEL, timeout=1.0) as client:
            start = time.monotonic()
            starter.start()
            assert client.wait_until_available(timeout=5.0) == VERSION
            elapsed = time.monotonic() - start
    finally:
        starter.cancel()
        late_server.stop(grace=None)
    # Reconnection backoff is capped at 1 s, so the server is found quickly.
    assert 0.6 <= elapsed < 2.5, elapsed


def test_wait_until_available_times_out():
    target = f"127.0.0.1:{_free_port()}"
    with PredictClient(target, MODEL, timeout=5.0) as client:
        start = time.monotonic()
        with pytest.raises(ServerUnavailableError, match="not AVAILABLE within 0.5"):
            client.wait_until_available(timeout=0.5)
    assert time.monotonic() - start < 1.2


def test_predict_batched_splits_and_keeps_order(service):
    x = np.random.default_rng(0).standard_normal((10, 3)).astype(np.float32)
    with _client(service) as client:
        outputs = client.predict_batched(x, batch_size=3, concurrency=3)
    np.testing.assert_array_equal(outputs["y"], 2 * x)
    np.testing.assert_allclose(outputs["total"], x.sum(axis=-1), rtol=1e-6)
    assert service.predict_calls == 4
    assert sorted(len(r["x"]) for r in service.received) == [1, 3, 3, 3]


def test_predict_batched_rejects_bad_arguments(service):
    with _client(service, signature_name="pair") as client:
        with pytest.raises(ValueError, match="batch_size > 0"):
            client.predict_batched({"a": [1], "tag": ["t"]}, batch_size=0)
        with pytest.raises(ValueError, match="int batch_size. Received: 2.0"):
            client.predict_batched({"a": [1], "tag": ["t"]}, batch_size=2.0)
        with pytest.raises(InvalidInputError, match="same leading dimension"):
            client.predict_batched({"a": [1, 2], "tag": ["t"]}, batch_size=1)
    assert service.predict_calls == 0


def test_batch_larger_than_grpc_default_limit(service):
    x = np.ones((400_000, 3), np.float32)  # 4.8 MB: over gRPC's 4 MiB default
    with _client(service, validate_inputs=False) as client:
        outputs = client.predict({"x": x}, output_filter=["total"])
    np.testing.assert_array_equal(outputs["total"], np.full(400_000, 3.0))


def test_request_over_max_message_bytes_fails_before_sending(service):
    with _client(service, max_message_bytes=1000) as client:
        with pytest.raises(InvalidInputError, match="use predict_batched|Use predict"):
            client.predict(np.ones((100, 3), np.float32))
        outputs = client.predict_batched(np.ones((100, 3), np.float32), batch_size=20)
    np.testing.assert_array_equal(outputs["total"], np.full(100, 3.0))


def test_tls_uses_a_secure_channel(monkeypatch):
    seen = {}

    def fake_secure_channel(target, credentials, options):
        seen.update(target=target, credentials=credentials, options=dict(options))
        return grpc.insecure_channel(target)

    monkeypatch.setattr(grpc, "secure_channel", fake_secure_channel)
    credentials = grpc.ssl_channel_credentials()
    client = PredictClient(
        "example.com:443", MODEL, credentials=credentials, max_message_bytes=12345
    )
    client.close()
    assert seen["target"] == "example.com:443"
    assert seen["credentials"] is credentials
    assert seen["options"]["grpc.max_send_message_length"] == 12345
    assert seen["options"]["grpc.max_receive_message_length"] == 12345


def _self_signed_certificate(directory):
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost",
            "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key.read_bytes(), cert.read_bytes()


def test_tls_round_trip_with_a_real_certificate(tmp_path):
    key, cert = _self_signed_certificate(tmp_path)
    servicer = DoublingServicer()
    tls_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        servicer, tls_server
    )
    port = tls_server.add_secure_port(
        "127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)])
    )
    tls_server.start()
    try:
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        with PredictClient(
            f"127.0.0.1:{port}", MODEL, credentials=credentials, timeout=5.0
        ) as client:
            np.testing.assert_array_equal(client.predict(x)["y"], 2 * x)
        # Without the certificate the handshake fails: no plaintext fallback.
        with PredictClient(f"127.0.0.1:{port}", MODEL, timeout=1.0) as plain:
            with pytest.raises(ServerUnavailableError):
                plain.predict(x)
    finally:
        tls_server.stop(grace=None)


def test_closed_client_raises(service):
    client = _client(service)
    with client:
        pass
    with pytest.raises(ServingError, match="closed"):
        client.status()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"target": ""}, "host:port"),
        ({"model_name": ""}, "model name"),
        ({"version": 1, "version_label": "stable"}, "not both"),
        ({"version": -1}, "version >= 0"),
        ({"timeout": 0}, "timeout > 0"),
        ({"retries": -1}, "retries >= 0"),
        ({"max_message_bytes": 0}, "max_message_bytes > 0"),
    ],
)
def test_constructor_rejects_bad_arguments(kwargs, match):
    arguments = {"target": "127.0.0.1:1", "model_name": MODEL, **kwargs}
    with pytest.raises(ValueError, match=match):
        PredictClient(**arguments)


def test_version_and_label_reach_the_model_spec():
    request = protos.PredictRequest()
    client = PredictClient("127.0.0.1:1", MODEL, version=7, signature_name="s")
    client._model_spec(request.model_spec)
    client.close()
    assert request.model_spec.version.value == 7
    assert request.model_spec.signature_name == "s"
    labelled = PredictClient("127.0.0.1:1", MODEL, version_label="canary")
    labelled._model_spec(request.model_spec)
    labelled.close()
    assert request.model_spec.version_label == "canary"
    assert not request.model_spec.HasField("version")


def test_errors_keep_code_and_details_through_pickle():
    error = ModelNotFoundError(grpc.StatusCode.NOT_FOUND, "no model", "/svc/Method")
    revived = pickle.loads(pickle.dumps(error))
    assert type(revived) is ModelNotFoundError
    assert (revived.code, revived.details, revived.method) == (
        grpc.StatusCode.NOT_FOUND,
        "no model",
        "/svc/Method",
    )
    assert str(revived) == "/svc/Method failed with NOT_FOUND: no model"
    assert isinstance(
        InvalidInputError(grpc.StatusCode.INVALID_ARGUMENT, ""), ValueError
    )


def test_client_import_loads_no_tensorflow():
    code = (
        "import sys\n"
        "from keras_apps.serving import PredictClient, encode_tensor, decode_tensor\n"
        "import numpy as np\n"
        "PredictClient('127.0.0.1:1', 'm').close()\n"
        "decode_tensor(encode_tensor(np.zeros(3)))\n"
        "print('\\n'.join(sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = result.stdout.split()
    heavy = [
        m for m in loaded if m.startswith("tensorflow") or m.split(".")[0] == "keras"
    ]
    assert not heavy, f"the client loaded {heavy}"
    assert "grpc" in loaded


# -- connection set-up through a slow network (issue 15, item 2) ---------------


class DelayProxy:
    """A TCP proxy on 127.0.0.1 that delivers every chunk ``delay_s`` late.

    Both directions are delayed, in order, so each round trip of the TCP, TLS
    and HTTP/2 set-up costs ``2 * delay_s``: a server that far away.
    """

    def __init__(self, target_port, delay_s):
        self.target_port = target_port
        self.delay_s = delay_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True
                ).start()

    def _pump(self, source, sink):
        import queue

        chunks = queue.Queue()

        def deliver():
            while (item := chunks.get()) is not None:
                due, data = item
                time.sleep(max(0.0, due - time.monotonic()))
                try:
                    sink.sendall(data)
                except OSError:
                    return
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        threading.Thread(target=deliver, daemon=True).start()
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                chunks.put(None)
                return
            chunks.put((time.monotonic() + self.delay_s, data))

    def close(self):
        self._listener.close()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    return _self_signed_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module", params=["plaintext", "tls"])
def far_server(request, certificate):
    """(port, credentials) of a server answering through a slow proxy."""
    key, cert = certificate
    servicer = DoublingServicer()
    far = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(servicer, far)
    if request.param == "tls":
        port = far.add_secure_port(
            "127.0.0.1:0", grpc.ssl_server_credentials([(key, cert)])
        )
        credentials = grpc.ssl_channel_credentials(root_certificates=cert)
        delay = 0.1
    else:
        port = far.add_insecure_port("127.0.0.1:0")
        credentials, delay = None, 0.3
    far.start()
    yield port, credentials, delay
    far.stop(grace=None)


def test_connection_set_up_takes_what_the_timeout_allows(far_server):
    # gRPC's min_reconnect_backoff_ms also bounds one connection attempt: at
    # 100 ms it gave up on every server 100 ms away (TLS) or 300 ms (plain).
    port, credentials, delay = far_server
    proxy = DelayProxy(port, delay)
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    try:
        with PredictClient(
            f"127.0.0.1:{proxy.port}", MODEL, credentials=credentials, timeout=10.0
        ) as client:
            np.testing.assert_array_equal(client.predict(x)["y"], 2 * x)
        # The caller's timeout still bounds the wait for a connection.
        with PredictClient(
            f"127.0.0.1:{proxy.port}", MODEL, credentials=credentials, timeout=0.3
        ) as hasty:
            start = time.monotonic()
            with pytest.raises(ServerUnavailableError):
                hasty.predict(x)
            assert time.monotonic() - start < 1.0
    finally:
        proxy.close()


def test_wait_for_ready_waits_for_a_server_that_starts_late():
    port = _free_port()
    late_server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        DoublingServicer(), late_server
    )
    assert late_server.add_insecure_port(f"127.0.0.1:{port}") == port
    starter = threading.Timer(0.5, late_server.start)
    x = np.ones((1, 3), np.float32)
    try:
        with PredictClient(
            f"127.0.0.1:{port}", MODEL, timeout=5.0, retries=0, wait_for_ready=True
        ) as client:
            starter.start()
            np.testing.assert_array_equal(client.predict(x)["y"], 2 * x)
    finally:
        starter.cancel()
        late_server.stop(grace=None)


# -- predict_batched over a hot swap (issue 15, item 4) ------------------------


class SwappingServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
    """Version v answers y = v * x. After the first Predict, version 2 becomes
    the latest; version 1 stays loaded unless ``unload_old``."""

    def __init__(self, unload_old):
        self.lock = threading.Lock()
        self.available = {1}
        self.unload_old = unload_old
        self.asked = []

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        spec = request.model_spec
        asked = spec.version.value if spec.HasField("version") else None
        with self.lock:
            self.asked.append(asked)
            version = max(self.available) if asked is None else asked
            if version not in self.available:
                context.abort(
                    grpc.StatusCode.NOT_FOUND,
                    f"Servable not found for request: Specific({spec.name}, {asked})",
                )
            self.available = {2} if self.unload_old else {1, 2}
        x = tf.make_ndarray(request.inputs["x"])
        response = predict_pb2.PredictResponse()
        response.model_spec.name = spec.name
        response.model_spec.version.value = version
        response.outputs["y"].CopyFrom(tf.make_tensor_proto(version * x))
        return response


@pytest.mark.parametrize("unload_old", [False, True])
def test_predict_batched_is_answered_by_one_version(unload_old):
    servicer = SwappingServicer(unload_old)
    swapping = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        servicer, swapping
    )
    port = swapping.add_insecure_port("127.0.0.1:0")
    swapping.start()
    x = {"x": np.arange(24, dtype=np.float32).reshape(8, 3)}
    try:
        with PredictClient(
            f"127.0.0.1:{port}", MODEL, validate_inputs=False, timeout=5.0
        ) as client:
            if unload_old:
                with pytest.raises(ModelNotFoundError, match="version 1 .* no longer"):
                    client.predict_batched(x, batch_size=2, concurrency=2)
            else:
                outputs = client.predict_batched(x, batch_size=2, concurrency=2)
                np.testing.assert_array_equal(outputs["y"], 1 * x["x"])
    finally:
        swapping.stop(grace=None)
    assert servicer.asked[0] is None and set(servicer.asked[1:]) == {1}
