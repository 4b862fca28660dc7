"""The client-only distribution ``keras-apps-client`` (clients/): built from
this source tree, installed into a fresh venv without TensorFlow, it queries a
running server."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
import textwrap
from concurrent import futures
from pathlib import Path

import grpc
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    predict_pb2,
    prediction_service_pb2_grpc,
)

import keras_apps

REPO = Path(__file__).resolve().parents[2]
ALLOWED_THIRD_PARTY = {"grpc", "google", "numpy", "ml_dtypes"}


def _build_script():
    spec = importlib.util.spec_from_file_location(
        "build_client", REPO / "clients" / "build_client.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Overrides the suite-wide Keras reset: these tests do not touch Keras."""
    yield


def test_client_modules_import_only_each_other_and_light_packages():
    modules = _build_script().CLIENT_MODULES
    names = {
        m[: -len(".py")].replace("/", ".").removesuffix(".__init__") for m in modules
    }
    for module in modules:
        tree = ast.parse((REPO / module).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                imported = [node.module or ""]
            else:
                continue
            for name in imported:
                top = name.split(".")[0]
                if top == "keras_apps":
                    assert name in names or any(
                        f"{name}.{alias.name}" in names for alias in node.names
                    ), f"{module} imports {name}, which the client lacks"
                else:
                    assert (
                        top in ALLOWED_THIRD_PARTY or top in sys.stdlib_module_names
                    ), f"{module} imports {name}"
    text = (REPO / "clients" / "pyproject.toml").read_text()
    assert f'version = "{keras_apps.__version__}"' in text


class Doubling(prediction_service_pb2_grpc.PredictionServiceServicer):
    def Predict(self, request, context):  # noqa: N802 - gRPC method name
        x = tf.make_ndarray(request.inputs["x"])
        response = predict_pb2.PredictResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 1
        response.outputs["y"].CopyFrom(tf.make_tensor_proto(2 * x))
        return response

    def GetModelMetadata(self, request, context):  # noqa: N802
        signatures = get_model_metadata_pb2.SignatureDefMap()
        default = signatures.signature_def["serving_default"]
        for info in (default.inputs["x"], default.outputs["y"]):
            info.dtype = types_pb2.DT_FLOAT
            info.tensor_shape.dim.add().size = -1
        response = get_model_metadata_pb2.GetModelMetadataResponse()
        response.model_spec.name = request.model_spec.name
        response.model_spec.version.value = 1
        response.metadata["signature_def"].Pack(signatures)
        return response


_QUERY = """
import importlib.util, sys
import numpy as np
from keras_apps.serving import PredictClient
assert importlib.util.find_spec("tensorflow") is None, "TensorFlow is installed"
with PredictClient(sys.argv[1], "double", timeout=10) as client:
    y = client.predict(np.arange(3, dtype=np.float32))["y"]
print(y.tolist(), sorted(m for m in sys.modules if m.split(".")[0] == "keras_apps"))
"""


@pytest.mark.slow
def test_installed_alone_in_a_fresh_venv_it_queries_a_server(tmp_path):
    wheel = _build_script().build(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    python = str(venv / "bin" / "python")
    # The venv gets only the wheel and its dependencies, through pip.
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "-q", str(wheel)],
        check=True,
        capture_output=True,
    )
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
        Doubling(), server
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        result = subprocess.run(
            [python, "-c", textwrap.dedent(_QUERY), f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,  # not the repository: the installed copy is imported
        )
    finally:
        server.stop(grace=None)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[0.0, 2.0, 4.0] ['keras_apps', "), result.stdout
