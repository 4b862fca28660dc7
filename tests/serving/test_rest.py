"""The REST room on its own: Werkzeug routing, errors, body limits, the server.

`RestApi` is a WSGI application, so its routing and error answers are checked
with Werkzeug's test client over stand-in handlers that record the
`ModelSpec` each URL becomes (no model loads). `RestServer` is then started
on 127.0.0.1 and asked over real sockets: kept-alive connections (several
requests, pipelined ones, on one socket), idle and stalled clients, chunked
bodies, the size limit, a taken port, stopping. Answers with real models are
in test_server_fidelity.py and, over HTTPS, test_server_security.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_status_pb2, regression_pb2
from werkzeug.test import Client

from keras_apps.serving._rest import RestApi, RestServer, shortest_floats
from keras_apps.serving._status import RpcError

LIMIT = 1000


class _Version:
    version = 5


def _signature(**inputs) -> meta_graph_pb2.SignatureDef:
    signature = meta_graph_pb2.SignatureDef()
    for alias, dtype in inputs.items():
        signature.inputs[alias].dtype = dtype
    return signature


class _EchoVersion:
    """Signatures of typed inputs; `_Handlers.run_signature` echoes them."""

    version = 1
    signatures = {
        "ints": _signature(i=types_pb2.DT_INT32),
        "floats": _signature(f=types_pb2.DT_FLOAT),
        "two": _signature(a=types_pb2.DT_FLOAT, b=types_pb2.DT_INT64),
    }

    def signature(self, name):
        if name not in self.signatures:
            raise RpcError(grpc.StatusCode.FAILED_PRECONDITION, "unknown")
        return self.signatures[name]


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, spec):
        if self.name == "echo":
            return _EchoVersion()
        if spec.version_label == "stable":
            return _Version()
        raise RpcError(
            grpc.StatusCode.NOT_FOUND,
            f"Servable not found for request: Latest({self.name})",
        )


class _Registry:
    def model(self, name: str) -> _Model:
        return _Model(name)


class _Handlers:
    def __init__(self) -> None:
        self.specs: list = []

    def get_model_status(self, request):
        self.specs.append(request.model_spec)
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add()
        status.version = request.model_spec.version.value or 1
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response

    def get_model_metadata(self, request):
        self.specs.append(request.model_spec)
        raise RpcError(grpc.StatusCode.NOT_FOUND, "no metadata here")

    def run_signature(self, loaded, signature_name, arrays):
        return {alias: np.asarray(array) for alias, array in arrays.items()}

    def example_result(self, loaded, signature_name, serialized, verb):
        self.examples = [tf.train.Example.FromString(e) for e in serialized]
        result = regression_pb2.RegressionResult()
        for _ in serialized:
            result.regressions.add(value=1.0)
        return result


@pytest.fixture()
def api() -> RestApi:
    return RestApi(_Registry(), _Handlers(), max_body_bytes=LIMIT)


def _json(response) -> dict:
    assert response.headers["Content-Type"] == "application/json"
    return json.loads(response.get_data())


def test_status_urls_become_model_specs(api):
    client = Client(api)
    for path, version in [
        ("/v1/models/m", 0),
        ("/v1/models/m/versions/3", 3),
        ("/v1/models/m/versions/007", 7),
        ("/v1/models/m/labels/stable", 5),  # a label is resolved to its version
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert _json(response)["model_version_status"][0]["state"] == "AVAILABLE"
        sent = api._handlers.specs.pop()
        assert (sent.name, sent.version.value, sent.version_label) == (
            "m",
            version,
            "",
        )


def test_metadata_and_inference_urls_reach_their_handlers(api):
    client = Client(api)
    response = client.get("/v1/models/m/versions/2/metadata")
    assert (response.status_code, _json(response)) == (
        404,
        {"error": "no metadata here"},
    )
    assert api._handlers.specs[0].version.value == 2
    for verb in ("predict", "classify", "regress"):
        response = client.post(
            f"/v1/models/m/labels/canary:{verb}",
            data=json.dumps({"instances": [1.0], "examples": [{"x": 1.0}]}),
        )
        assert response.status_code == 404, verb
        assert _json(response) == {"error": "Servable not found for request: Latest(m)"}


def test_other_requests_are_answered_as_tf_serving_answers_them(api):
    """As TF Serving's http_rest_api_handler.cc: its URL regexes match the
    path and query in full, GET for status and metadata, POST for the verbs;
    anything else under /v1/ is INVALID_ARGUMENT "Malformed request"."""
    client = Client(api)
    for method, path in [
        ("GET", "/v1/models/m:predict"),  # wrong method
        ("PUT", "/v1/models/m:predict"),
        ("DELETE", "/v1/models/m"),
        ("POST", "/v1/models/m"),
        ("POST", "/v1/models/m/metadata"),
        ("POST", "/v1/models/m:explain"),  # unknown verb
        ("GET", "/v1/models/"),
        ("GET", "/v1/models/m/"),  # a trailing "/"
        ("GET", "/v1/models/m?unused=1"),  # a query string
        ("POST", "/v1/models/m:predict?x=1"),
        ("GET", "/v1/models/m//metadata"),
        ("GET", "/v1/models/m/versions/latest"),  # versions are digits
        ("GET", "/v1/models/m/versions/-1"),
        ("GET", "/v1/models/m/versions/1/labels/x"),
        ("GET", "/v1/m"),
    ]:
        response = client.open(path, method=method, data=b"{}")
        assert response.status_code == 400, path
        assert _json(response) == {"error": f"Malformed request: {method} {path}"}
    assert client.head("/v1/models/m").status_code == 400  # GET only
    assert not api._handlers.specs, "a malformed request reached a handler"
    for path in ("/v1/models", "/v1/models/versions/2", "/v1/models/labels/x"):
        response = client.get(path)
        assert response.status_code == 400, path
        assert _json(response) == {"error": "Missing model name in request."}
    response = client.get("/v1/models/m/versions/99999999999999999999")
    assert response.status_code == 400
    assert _json(response) == {
        "error": "Failed to convert version: 99999999999999999999 to numeric."
    }
    response = client.get("/healthz")  # outside /v1/: no TF Serving handler
    assert response.status_code == 404
    assert "/healthz is not a TF Serving REST URL" in _json(response)["error"]
    for body, message in [
        (b"{not json", "JSON Parse error"),
        (b"[1, 2]", "JSON Value: [\n    1,\n    2\n] Is not object"),
        (b"", "JSON Parse error: The document is empty"),
    ]:
        response = client.post("/v1/models/m:predict", data=body)
        assert response.status_code == 400
        assert message in _json(response)["error"]


def _predict(client, signature, **body):
    response = client.post(
        "/v1/models/echo:predict",
        data=json.dumps({"signature_name": signature, **body}),
    )
    return response.status_code, _json(response)


def _refused(message: str) -> tuple[int, dict]:
    return 400, {"error": message}


def test_json_inputs_are_read_as_tf_serving_reads_them(api):
    """TF Serving's json_tensor.cc: values checked against the input dtype
    (no silent truncation of 1.5 to an int), row and columnar rules."""
    client = Client(api)
    ok = _predict(client, "ints", inputs=[1, 2])
    assert ok == (200, {"outputs": [1, 2]})
    assert _predict(client, "ints", inputs=[1.5]) == _refused(
        "JSON Value: 1.5 Type: Number is not of expected type: int32"
    )
    assert _predict(client, "ints", inputs=[2**31]) == _refused(
        "JSON Value: 2147483648 Type: Number is not of expected type: int32"
    )
    assert _predict(client, "ints", instances=[1, True]) == _refused(
        "Failed to process element: 1 of 'instances' list. Error: "
        "INVALID_ARGUMENT: JSON Value: true Type: True is not of expected type: "
        "int32"
    )
    assert _predict(client, "floats", inputs=[1, 2.5]) == (200, {"outputs": [1.0, 2.5]})
    # float32 answers in their shortest decimals, as TF Serving writes them.
    assert _predict(client, "floats", inputs=[[0.1, 0.2], [1e-05, -3.0]]) == (
        200,
        {"outputs": [[0.1, 0.2], [1e-05, -3.0]]},
    )
    assert _predict(client, "floats", inputs=[[1.0], ["a"]]) == _refused(
        'JSON Value: "a" Type: String is not of expected type: float'
    )
    assert _predict(client, "floats", inputs=[2**24 + 1]) == _refused(
        "Cannot convert JSON value: 16777217 to float without loss of precision."
    )
    rows = [{"a": 1.0, "b": 2}, {"a": 2.5, "b": 3}]
    assert _predict(client, "two", instances=rows) == (200, {"predictions": rows})
    # Columnar: the signature's inputs are taken, others ignored.
    columns = {"a": [1.0], "b": [2], "extra": [3]}
    assert _predict(client, "two", inputs=columns) == (
        200,
        {"outputs": {"a": [1.0], "b": [2]}},
    )
    for body, message in [
        (
            {"instances": [1.0]},
            "instances is a plain list, but expecting list of objects as multiple "
            "input tensors required as per tensorinfo_map",
        ),
        (
            {"inputs": [1.0]},
            "inputs is a plain value/list, but expecting an object as multiple "
            "input tensors required as per tensorinfo_map",
        ),
        (
            {"instances": [{"a": 1.0}]},
            "Failed to process element: 0 of 'instances' list. JSON object: "
            '{\n    "a": 1.0\n} must only have keys: a,b',
        ),
        (
            {"instances": [{"a": 1.0, "b": 2, "z": 1}]},
            "Failed to process element: 0 key: z of 'instances' list. Error: "
            "INVALID_ARGUMENT: JSON object: does not have named input: z",
        ),
        (
            {"instances": [rows[0], [1.0, 2]]},
            "Expecting object but got list at item 1 of input list",
        ),
        ({"inputs": {"a": [1.0]}}, "Missing named input: b in 'inputs' object."),
        ({}, "Missing 'inputs' or 'instances' key"),
        ({"instances": []}, "No values in 'instances' array"),
        ({"instances": 5}, "Excepting 'instances' to be an list/array"),
        (
            {"instances": rows, "inputs": columns},
            "Not formatted correctly expecting only one of 'inputs' or 'instances' "
            "keys to exist ",
        ),
    ]:
        status, answer = _predict(client, "two", **body)
        assert status == 400, body
        assert answer["error"].endswith(message), (body, answer)
    status, answer = _predict(client, 5, inputs=[1])
    assert status == 400
    assert answer["error"].endswith("'signature_name' key must be a string value.")
    assert _predict(client, "nope", inputs=[1]) == _refused(
        'Serving signature name: "nope" not found in signature def'
    )


def test_json_examples_are_typed_as_tf_serving_types_them(api):
    client = Client(api)
    example = {"i": 1, "f": 1.0, "s": "a", "b": {"b64": "AAE="}, "flag": True}
    response = client.post(
        "/v1/models/echo:regress",
        data=json.dumps({"examples": [example], "context": {"c": [2, 3]}}),
    )
    assert (response.status_code, _json(response)) == (200, {"results": [1.0]})
    (sent,) = api._handlers.examples
    features = {k: v for k, v in sent.features.feature.items()}
    assert features["i"].int64_list.value == [1]
    assert features["flag"].int64_list.value == [1]
    assert features["f"].float_list.value == [1.0]
    assert features["s"].bytes_list.value == [b"a"]
    assert features["b"].bytes_list.value == [b"\x00\x01"]
    assert features["c"].int64_list.value == [2, 3]  # from the context
    for examples, message in [
        (
            [{"x": [1, 2.5]}],
            "Unexpected element type in feature: x expecting type: int64",
        ),
        (
            [{"x": ["a", 1.0]}],
            "Unexpected element type in feature: x expecting type: bytes",
        ),
        ([{"x": None}], "Feature: x has element with unexpected JSON type: Null"),
        ([{"x": [[1.0]]}], "Feature: x has element with unexpected JSON type: Array"),
        ([[1.0]], "Example must be JSON object but got JSON Array"),
    ]:
        response = client.post(
            "/v1/models/echo:regress", data=json.dumps({"examples": examples})
        )
        assert (response.status_code, _json(response)) == (400, {"error": message})


def test_shortest_floats_are_numpys_shortest_float32_decimals():
    rng = np.random.default_rng(0)
    values = np.concatenate(
        [
            rng.standard_normal(20_000) * 10.0 ** rng.integers(-40, 39, 20_000),
            rng.random(20_000),
            [0.1, 0.2, 1e-5, 16777216, 3.4028235e38, 1e-45, 0.0, -0.0],
            [np.inf, -np.inf, np.nan],
        ]
    ).astype(np.float32)
    expected = values.astype(str).astype(np.float64)  # NumPy's shortest repr
    np.testing.assert_array_equal(shortest_floats(values), expected)
    assert shortest_floats(np.float32(0.2)).tolist() == 0.2


def test_body_size_limit(api):
    client = Client(api)
    at_limit = b" " * (LIMIT - 2) + b"{}"
    response = client.post("/v1/models/m:predict", data=at_limit)
    assert response.status_code == 400  # read: no "instances"
    response = client.post("/v1/models/m:predict", data=at_limit + b" ")
    assert response.status_code == 413
    assert _json(response) == {
        "error": f"Request body of {LIMIT + 1} bytes is above the {LIMIT}-byte limit"
    }


@pytest.fixture()
def server(api):
    server = RestServer(api, "127.0.0.1", 0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _post_chunked(port: int, chunks: list[bytes]) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.request(
            "POST", "/v1/models/m:predict", body=iter(chunks), encode_chunked=True
        )
        reply = connection.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        connection.close()


def test_server_reads_chunked_bodies_within_the_limit(server):
    status, answer = _post_chunked(server.port, [b'{"instances"', b": [1.0]}"])
    assert (status, answer) == (
        404,
        {"error": "Servable not found for request: Latest(m)"},
    )
    status, answer = _post_chunked(server.port, [b" " * 600, b" " * 600])
    assert status == 413
    assert answer == {"error": f"Request body is above the {LIMIT}-byte limit"}


def _read_to_close(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (20 s at most)."""
    sock.settimeout(20)
    data = b""
    while piece := sock.recv(65536):
        data += piece
    return data


def test_server_keeps_connections_alive(server):
    """As TF Serving: HTTP/1.1 answers leave the connection open, whatever
    the request's body (read, refused with 413, chunked) or answer."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    try:
        connection.request("GET", "/v1/models/m/versions/3")
        reply = connection.getresponse()
        assert json.loads(reply.read())["model_version_status"][0]["version"] == "3"
        assert reply.version == 11 and reply.getheader("Connection") is None
        sock = connection.sock
        assert sock is not None, "the server closed the connection"
        for method, path, body, status in [
            ("POST", "/v1/models/m:predict", b'{"instances": [1]}', 404),
            ("POST", "/v1/models/m:predict", b" " * (LIMIT + 500), 413),  # unread
            ("GET", "/v1/models/m", b'{"a body": "on a GET"}', 200),  # unread
            ("POST", "/v1/models/m:predict", iter([b'{"instances"', b": [1]}"]), 404),
            ("GET", "/v1/models", None, 400),
        ]:
            connection.request(
                method,
                path,
                body=body,
                encode_chunked=not isinstance(body, (bytes, type(None))),
            )
            reply = connection.getresponse()
            assert reply.status == status, (path, reply.read())
            reply.read()
            assert connection.sock is sock, f"a new connection for {path}"
        # Two requests sent at once (pipelined); the second asks to close.
        sock.sendall(
            b"GET /v1/models/m/versions/4 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"GET /v1/models/m/versions/5 HTTP/1.1\r\nHost: x\r\n"
            b"Connection: close\r\n\r\n"
        )
        data = _read_to_close(sock)
        assert data.count(b"HTTP/1.1 200 OK") == 2
        assert data.index(b'"4"') < data.index(b'"5"')
        assert data.count(b"Connection: close") == 1
    finally:
        connection.close()


def test_server_answers_many_clients_at_once(server):
    """Idle and stalled connections hold their own threads only."""
    results: list[str] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        connection.request("GET", "/v1/models/m/versions/7")
        reply = connection.getresponse()
        results.append(json.loads(reply.read())["model_version_status"][0]["version"])
        connection.close()

    idle = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
    idle.request("GET", "/v1/models/m")
    idle.getresponse().read()  # then held open, idle
    with (
        socket.create_connection(("127.0.0.1", server.port)),  # says nothing
        socket.create_connection(("127.0.0.1", server.port)) as stalled,
    ):
        # Promises a body and never sends it.
        stalled.sendall(
            b"POST /v1/models/m:predict HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert results == ["7"] * 8
    idle.request("GET", "/v1/models/m/versions/2")  # still open
    assert idle.getresponse().status == 200
    idle.close()


def test_idle_connections_are_closed_after_the_timeout(api):
    server = RestServer(api, "127.0.0.1", 0, idle_timeout=0.2)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"GET /v1/models/m HTTP/1.1\r\nHost: x\r\n\r\n")
            start = time.monotonic()
            assert _read_to_close(sock).startswith(b"HTTP/1.1 200 OK")
            assert time.monotonic() - start < 10
    finally:
        server.stop()


def test_taken_port_is_an_os_error_and_stop_frees_the_port(api, server):
    with pytest.raises(OSError, match="in use"):
        RestServer(api, "127.0.0.1", server.port)
    port = server.port
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    kept.request("GET", "/v1/models/m")
    kept.getresponse().read()
    start = time.monotonic()
    server.stop()
    assert kept.sock is not None
    assert _read_to_close(kept.sock) == b"", "stop leaves kept-alive connections"
    assert time.monotonic() - start < 5
    kept.close()
    RestServer(api, "127.0.0.1", port).stop()  # bound again, never started
