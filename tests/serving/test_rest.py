"""The REST room on its own: Werkzeug routing, errors, body limits, the server.

`RestApi` is a WSGI application, so its routing and error answers are checked
with Werkzeug's test client over stand-in handlers that record the
`ModelSpec` each URL becomes (no model loads). `RestServer` is then started on
127.0.0.1 and asked over real sockets: chunked bodies, the size limit, a
taken port, stopping. Answers with real models are in test_server_fidelity.py
and, over HTTPS, test_server_security.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import grpc
import pytest
from tensorflow_serving.apis import get_model_status_pb2
from werkzeug.test import Client

from keras_apps.serving._rest import RestApi, RestServer
from keras_apps.serving._status import RpcError

LIMIT = 1000


class _Version:
    version = 5


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name

    def resolve(self, spec):
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
        ("/v1/models/m/", 0),
        ("/v1/models/m?unused=1", 0),
        ("/v1/models/m/versions/3", 3),
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
    client = Client(api)
    for method, path in [
        ("GET", "/v1/models/m:predict"),  # wrong method
        ("POST", "/v1/models/m"),
        ("POST", "/v1/models/m/metadata"),
        ("POST", "/v1/models/m:explain"),  # unknown verb
        ("GET", "/v1/models"),
        ("GET", "/v1/models/m/versions/latest"),  # versions are numbers
        ("GET", "/v1/models/m/versions/1/labels/x"),
    ]:
        response = client.open(path, method=method, data=b"{}")
        assert response.status_code == 400, path
        assert _json(response) == {"error": f"Malformed request: {method} {path}"}
    response = client.get("/healthz")  # outside /v1/: no TF Serving handler
    assert response.status_code == 404
    assert "/healthz is not a TF Serving REST URL" in _json(response)["error"]
    for body, message in [
        (b"{not json", "JSON Parse error"),
        (b"[1, 2]", "JSON Value is not an object"),
    ]:
        response = client.post("/v1/models/m:predict", data=body)
        assert response.status_code == 400
        assert message in _json(response)["error"]


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


def test_server_answers_many_clients_at_once(server):
    results: list[int] = []

    def ask() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=20)
        connection.request("GET", "/v1/models/m/versions/7")
        reply = connection.getresponse()
        results.append(json.loads(reply.read())["model_version_status"][0]["version"])
        connection.close()

    # A client that connects and says nothing holds its own thread only.
    with socket.create_connection(("127.0.0.1", server.port)):
        threads = [threading.Thread(target=ask) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert results == ["7"] * 8


def test_taken_port_is_an_os_error_and_stop_frees_the_port(api, server):
    with pytest.raises(OSError, match="in use"):
        RestServer(api, "127.0.0.1", server.port)
    port = server.port
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 5
    RestServer(api, "127.0.0.1", port).stop()  # bound again, never started
