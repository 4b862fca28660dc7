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
