"""`keras-apps predict` and `keras-apps status` from the client's side: TLS
flags, output to a closed pipe, dtype casting. The server is a tiny gRPC
server on the official TF Serving stubs, built here."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent import futures
from pathlib import Path

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

from keras_apps import cli

MODEL = "double"


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: these tests do not touch Keras."""
    yield


class Servicer(
    prediction_service_pb2_grpc.PredictionServiceServicer,
    model_service_pb2_grpc.ModelServiceServicer,
):
    """Version 1 of "double": x float32 (-1, 3) -> y = 2 x."""

    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        x = tf.make_ndarray(request.inputs["x"])
        response = predict_pb2.PredictResponse()
        response.model_spec.name = MODEL
        response.model_spec.version.value = 1
        response.outputs["y"].CopyFrom(tf.make_tensor_proto(2 * x))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        signatures = get_model_metadata_pb2.SignatureDefMap()
        default = signatures.signature_def["serving_default"]
        default.method_name = "tensorflow/serving/predict"
        for info, name in ((default.inputs["x"], "x:0"), (default.outputs["y"], "y")):
            info.name, info.dtype = name, types_pb2.DT_FLOAT
            info.tensor_shape.dim.add().size = -1
            info.tensor_shape.dim.add().size = 3
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = MODEL
        response.model_spec.version.value = 1
        response.metadata["signature_def"].Pack(signatures)
        return response

    def GetModelStatus(self, request, context):  # noqa: N802
        response = get_model_status_pb2.GetModelStatusResponse()
        status = response.model_version_status.add()
        status.version = 1
        status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


def _self_signed_certificate(directory):
    key, cert = directory / "key.pem", directory / "cert.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec",
            "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    """A server that requires TLS and a client certificate (mutual TLS).

    One self-signed certificate (for ``localhost`` only) is the server's, the
    client's and the CA of both.
    """
    key, cert = _self_signed_certificate(tmp_path_factory.mktemp("tls"))
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = Servicer()
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        servicer, server
    )
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(servicer, server)
    credentials = grpc.ssl_server_credentials(
        [(key.read_bytes(), cert.read_bytes())],
        root_certificates=cert.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    yield f"127.0.0.1:{port}", str(key), str(cert)
    server.stop(grace=None)


def test_status_and_predict_over_mutual_tls(tls_server, tmp_path, capsys):
    target, key, cert = tls_server
    tls = [
        "--ssl-root-certs", cert, "--ssl-client-cert", cert,
        "--ssl-client-key", key, "--ssl-target-name", "localhost",
    ]  # fmt: skip
    base = ["--target", target, "--model", MODEL, "--timeout", "5"]
    assert cli.main(["status", *base, *tls]) == 0
    assert "version 1: AVAILABLE" in capsys.readouterr().out
    np.save(tmp_path / "x.npy", np.ones((2, 3), np.float32))
    assert cli.main(["predict", *base, *tls, str(tmp_path / "x.npy")]) == 0
    assert "y: 2 (2.0000), 1 (2.0000), 0 (2.0000)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "flags, message",
    [
        ([], "UNAVAILABLE"),  # plaintext to a TLS port: no fallback
        (["--ssl-target-name", "localhost"], "UNAVAILABLE"),  # unknown CA
        (["--ssl-client-cert", "c.pem"], "go together"),
    ],
)
def test_tls_failures_are_clean_errors(tls_server, capsys, flags, message):
    target, _, _ = tls_server
    args = ["status", "--target", target, "--model", MODEL, "--timeout", "1"]
    assert cli.main([*args, *flags]) == 1
    err = capsys.readouterr().err
    assert err.startswith("keras-apps status: ") and message in err, err


def test_predict_refuses_float64_unless_cast(tls_server, tmp_path, capsys):
    target, key, cert = tls_server
    tls = ["--ssl-root-certs", cert, "--ssl-client-cert", cert, "--ssl-client-key", key]
    args = ["predict", "--target", "localhost:" + target.rsplit(":", 1)[1]]
    args += ["--model", MODEL, *tls]
    np.save(tmp_path / "x.npy", np.ones((1, 3)))
    assert cli.main([*args, str(tmp_path / "x.npy")]) == 1
    assert "to be float32 but float64 is provided" in capsys.readouterr().err
    assert cli.main([*args, "--cast", str(tmp_path / "x.npy")]) == 0
    assert "y: 2 (2.0000)" in capsys.readouterr().out


class ManyVersions(model_service_pb2_grpc.ModelServiceServicer):
    def GetModelStatus(self, request, context):  # noqa: N802
        response = get_model_status_pb2.GetModelStatusResponse()
        for version in range(1, 20_001):
            status = response.model_version_status.add()
            status.version = version
            status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
        return response


def test_status_into_a_closed_pipe_ends_quietly():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ManyVersions(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    repo = str(Path(__file__).resolve().parents[2])
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "keras_apps.cli", "status"]
            + ["--target", f"127.0.0.1:{port}", "--model", MODEL],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": repo},
        )
        assert process.stdout.readline().startswith(b"model double")
        process.stdout.close()  # `| head -1`
        _, err = process.communicate(timeout=60)
    finally:
        server.stop(grace=None)
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()
    assert process.returncode == 141
