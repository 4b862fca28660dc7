"""TLS, client certificates, reload switched off, and the warning beyond loopback.

Certificates are made in the test with the ``openssl`` command (self-signed,
valid for a day). One ``keras-apps serve`` child (`LocalModelServer.spawn`)
serves over TLS with client certificates required for the whole module. It
binds every interface (``0.0.0.0``, the case its warning is for), so the tests
reach it at ``127.0.0.1``; nobody without a client certificate signed by the
test's CA gets an answer.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_management_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)
from tensorflow_serving.config import model_server_config_pb2

from keras_apps.serving.server import LocalModelServer, is_loopback

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None, reason="needs the openssl command"
)


def _self_signed(directory: Path, name: str, subject_alt_name: str | None) -> None:
    command = [
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        f"/CN={name}",
        "-keyout",
        str(directory / f"{name}.key"),
        "-out",
        str(directory / f"{name}.crt"),
    ]
    if subject_alt_name:
        command += ["-addext", f"subjectAltName={subject_alt_name}"]
    subprocess.run(command, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("tls")
    _self_signed(directory, "localhost", "DNS:localhost,IP:127.0.0.1")
    _self_signed(directory, "client", None)
    _self_signed(directory, "stranger", None)
    return directory


@pytest.fixture(scope="module")
def model_base(tmp_path_factory, linear_saved_model) -> Path:
    base = tmp_path_factory.mktemp("secure") / "linear"
    linear_saved_model(base / "1", 1.0)
    return base


@pytest.fixture(scope="module")
def tls_server(certificates, model_base):
    server = LocalModelServer.spawn(
        model_base,
        "linear",
        host="0.0.0.0",
        ssl_certificate_file=certificates / "localhost.crt",
        ssl_key_file=certificates / "localhost.key",
        ssl_client_ca_file=certificates / "client.crt",
        rest_api_port=0,
    )
    try:
        yield server
    finally:
        server.stop()


def _local(server) -> str:
    return f"127.0.0.1:{server.port}"


def _channel(target: str, certificates: Path, client: str | None) -> grpc.Channel:
    credentials = grpc.ssl_channel_credentials(
        root_certificates=(certificates / "localhost.crt").read_bytes(),
        private_key=(certificates / f"{client}.key").read_bytes() if client else None,
        certificate_chain=(
            (certificates / f"{client}.crt").read_bytes() if client else None
        ),
    )
    return grpc.secure_channel(target, credentials)


def _predict(channel: grpc.Channel) -> np.ndarray:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "linear"
    request.inputs["x"].CopyFrom(tf.make_tensor_proto(np.ones((1, 4), "float32")))
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    return tf.make_ndarray(stub.Predict(request, timeout=10).outputs["y"])


def _reload(channel: grpc.Channel, base: Path) -> None:
    config = model_server_config_pb2.ModelServerConfig()
    config.model_config_list.config.add(
        name="other", base_path=str(base), model_platform="tensorflow"
    )
    stub = model_service_pb2_grpc.ModelServiceStub(channel)
    stub.HandleReloadConfigRequest(
        model_management_pb2.ReloadConfigRequest(config=config), timeout=30
    )


def test_tls_with_a_client_certificate_is_answered(tls_server, certificates):
    with _channel(_local(tls_server), certificates, "client") as channel:
        np.testing.assert_allclose(_predict(channel), [[4.0, 4.0]])
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(
                model_spec={"name": "linear"}  # type: ignore[arg-type]
            ),
            timeout=10,
        )
        assert [s.version for s in status.model_version_status] == [1]


@pytest.mark.parametrize("client", [None, "stranger"])
def test_tls_without_a_trusted_client_certificate_is_refused(
    tls_server, certificates, client
):
    with _channel(_local(tls_server), certificates, client) as channel:
        with pytest.raises(grpc.RpcError) as info:
            _predict(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_plain_text_is_refused(tls_server):
    with grpc.insecure_channel(_local(tls_server)) as channel:
        with pytest.raises(grpc.RpcError) as info:
            _predict(channel)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert tls_server.running


def test_tls_without_client_certificates_and_reload_switched_off(
    model_base, certificates
):
    # Client certificates are optional: with a certificate and key only, any
    # client that trusts the server's certificate is answered, over TLS only.
    with LocalModelServer(
        model_base,
        "linear",
        ssl_certificate_file=certificates / "localhost.crt",
        ssl_key_file=certificates / "localhost.key",
        allow_reload_config=False,
    ) as server:
        with _channel(server.target, certificates, None) as channel:
            np.testing.assert_allclose(_predict(channel), [[4.0, 4.0]])
            with pytest.raises(grpc.RpcError) as info:
                _reload(channel, model_base)
            assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "allow-reload-config" in info.value.details()
            assert server.model_names == ["linear"]
        with grpc.insecure_channel(server.target) as plain:
            with pytest.raises(grpc.RpcError) as info:
                _predict(plain)
            assert info.value.code() == grpc.StatusCode.UNAVAILABLE


def test_a_server_beyond_loopback_warns_once_and_refuses_reload(
    tls_server, certificates, model_base
):
    # The keras-apps serve child bound 0.0.0.0: its stderr says what is exposed.
    logs = tls_server.logs()
    assert logs.count("beyond loopback") == 1, logs[-3000:]
    assert "LocalModelServer binds '0.0.0.0', beyond loopback" in logs
    assert "(HandleReloadConfigRequest, which would load any SavedModel" in logs
    assert "over TLS, to clients with a certificate signed by the CA" in logs
    assert "The REST API answers the same requests" in logs
    # Reload is off by default there, even for a client with a certificate.
    with _channel(_local(tls_server), certificates, "client") as channel:
        with pytest.raises(grpc.RpcError) as info:
            _reload(channel, model_base)
        assert info.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "allow-reload-config" in info.value.details()
        np.testing.assert_allclose(_predict(channel), [[4.0, 4.0]])


def test_the_warning_names_reload_and_plain_text_when_they_are_on(model_base):
    exposed = LocalModelServer(model_base, "linear", host="0.0.0.0")
    assert not exposed.allow_reload_config
    plain = LocalModelServer(model_base, "linear", host="::", allow_reload_config=True)
    text = plain.exposure_warning()
    assert "HandleReloadConfigRequest is ON" in text
    assert "in plain text, with no TLS" in text


def test_is_loopback():
    for host in ("127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "10.0.0.5", "example.com"):
        assert not is_loopback(host), host


def test_tls_arguments_are_checked(model_base, certificates):
    with pytest.raises(ValueError, match="go together"):
        LocalModelServer(model_base, ssl_certificate_file=certificates / "client.crt")
    with pytest.raises(ValueError, match="ssl_client_ca_file needs"):
        LocalModelServer(model_base, ssl_client_ca_file=certificates / "client.crt")
    with pytest.raises(FileNotFoundError, match="ssl_key_file"):
        LocalModelServer(
            model_base,
            ssl_certificate_file=certificates / "client.crt",
            ssl_key_file=certificates / "missing.key",
        )


def test_rest_api_speaks_https_with_client_certificates(tls_server, certificates):
    url = f"https://127.0.0.1:{tls_server.rest_api_port}/v1/models/linear:predict"
    body = json.dumps({"instances": [[1.0, 1.0, 1.0, 1.0]]}).encode()
    context = ssl.create_default_context(cafile=str(certificates / "localhost.crt"))
    context.load_cert_chain(
        str(certificates / "client.crt"), str(certificates / "client.key")
    )
    with urllib.request.urlopen(url, data=body, context=context, timeout=20) as reply:
        assert json.loads(reply.read()) == {"predictions": [[4.0, 4.0]]}
    # Kept alive over TLS too: a second request on the same socket.
    connection = http.client.HTTPSConnection(
        "127.0.0.1", tls_server.rest_api_port, context=context, timeout=20
    )
    try:
        sockets = []
        for _ in range(2):
            connection.request("POST", "/v1/models/linear:predict", body=body)
            assert json.loads(connection.getresponse().read()) == {
                "predictions": [[4.0, 4.0]]
            }
            sockets.append(connection.sock)
        assert sockets[0] is not None and sockets[1] is sockets[0]
    finally:
        connection.close()
    bare = ssl.create_default_context(cafile=str(certificates / "localhost.crt"))
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(url, data=body, context=bare, timeout=20).read()


def test_rest_tls_handshake_that_stalls_blocks_no_one(tls_server, certificates):
    url = f"https://127.0.0.1:{tls_server.rest_api_port}/v1/models/linear"
    context = ssl.create_default_context(cafile=str(certificates / "localhost.crt"))
    context.load_cert_chain(
        str(certificates / "client.crt"), str(certificates / "client.key")
    )
    # Connected, never says hello: its handshake waits in its own thread.
    with socket.create_connection(("127.0.0.1", tls_server.rest_api_port)):
        with urllib.request.urlopen(url, context=context, timeout=20) as reply:
            status = json.loads(reply.read())["model_version_status"]
    assert status[0]["state"] == "AVAILABLE"
