"""Export, serve in a separate process on 127.0.0.1, query over gRPC.

One server subprocess (`LocalModelServer.spawn`) serves three models from a
``models.config`` for the whole module:

- ``tiny``: a dense model, never changed, for numbers, big batches, load
  and error paths;
- ``pixels``: a small image model for ``keras-apps predict`` on a PNG;
- ``swap``: a model whose versions change while it is served (hot swap, and
  an export killed half way).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow_serving.apis import predict_pb2, prediction_service_pb2_grpc

from keras_apps import cli
from keras_apps.export import export_for_serving, write_model_config
from keras_apps.serving import PredictClient
from keras_apps.serving.client import (
    InvalidInputError,
    ModelNotFoundError,
    ServerUnavailableError,
)
from keras_apps.serving.server import LocalModelServer

POLL_SECONDS = 0.2


def _dense(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((16,), name="features")
    hidden = keras.layers.Dense(16, activation="relu")(inputs)
    return keras.Model(inputs, keras.layers.Dense(4, name="scores")(hidden))


def _pixels() -> keras.Model:
    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 3), name="images")
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(4, 3, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(5, activation="softmax")(x))


def _np(outputs) -> dict[str, np.ndarray]:
    return {k: np.asarray(v) for k, v in outputs.items()}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("served")
    models = {"tiny": _dense(1), "pixels": _pixels(), "swap": _dense(2)}
    for name, model in models.items():
        export_for_serving(model, root / name, version=1)
    config = root / "models.config"
    write_model_config(
        str(config),
        [{"name": name, "base_path": str(root / name)} for name in models],
    )
    server = LocalModelServer.spawn(
        model_config_file=config, file_system_poll_wait_seconds=POLL_SECONDS
    )
    try:
        yield server, root, models
    finally:
        server.stop()
        assert not server.running


def _max_abs_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def test_server_is_a_separate_process_on_loopback(served):
    server, _, _ = served
    assert server.target == f"127.0.0.1:{server.port}"
    assert server.running and server.pid != os.getpid()


def test_served_outputs_equal_in_process_outputs(served):
    server, _, models = served
    x = np.random.default_rng(0).standard_normal((7, 16)).astype("float32")
    with PredictClient(server.target, "tiny", timeout=20) as client:
        outputs = client.predict({"features": x})
    assert _max_abs_diff(outputs["scores"], models["tiny"](x)) <= 1e-6


def test_batch_above_4_mb(served):
    server, _, models = served
    x = np.random.default_rng(1).standard_normal((80_000, 16)).astype("float32")
    assert x.nbytes > 5_000_000
    with PredictClient(server.target, "tiny", timeout=60) as client:
        outputs = client.predict(x)
    expected = models["tiny"].predict(x, batch_size=8192, verbose=0)
    assert outputs["scores"].shape == (80_000, 4)
    assert _max_abs_diff(outputs["scores"], expected) <= 1e-5


def test_official_style_client(served):
    """TF Serving's own example style: generated stub plus tf.make_tensor_proto."""
    server, _, models = served
    x = np.random.default_rng(2).standard_normal((3, 16)).astype("float32")
    channel = grpc.insecure_channel(server.target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    request = predict_pb2.PredictRequest()
    request.model_spec.name = "tiny"
    request.model_spec.signature_name = "serving_default"
    request.inputs["features"].CopyFrom(tf.make_tensor_proto(x, shape=x.shape))
    result = stub.Predict(request, 10.0)
    channel.close()
    scores = tf.make_ndarray(result.outputs["scores"])
    assert _max_abs_diff(scores, models["tiny"](x)) <= 1e-6
    assert result.model_spec.version.value == 1


def test_concurrent_clients(served):
    server, _, models = served
    x = np.random.default_rng(3).standard_normal((2, 16)).astype("float32")
    expected = np.asarray(models["tiny"](x))
    errors: list[BaseException] = []
    done = []
    lock = threading.Lock()

    def worker() -> None:
        with PredictClient(server.target, "tiny", timeout=20) as client:
            for _ in range(50):
                try:
                    outputs = client.predict(x)
                    assert _max_abs_diff(outputs["scores"], expected) <= 1e-6
                except BaseException as error:  # collected for the main thread
                    with lock:
                        errors.append(error)
                    return
                with lock:
                    done.append(1)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(worker) for _ in range(8)]:
            future.result(timeout=120)
    assert not errors, errors[:3]
    assert len(done) == 400
    assert time.monotonic() - start < 120


def test_wrong_input_name_lists_expected_names(served):
    server, _, _ = served
    x = np.zeros((1, 16), "float32")
    with PredictClient(
        server.target, "tiny", timeout=10, validate_inputs=False
    ) as client:
        with pytest.raises(InvalidInputError) as info:
            client.predict({"pixels": x})
    assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "Inputs expected to be in the set {features}" in info.value.details


def test_unknown_model_is_not_found(served):
    server, _, _ = served
    with PredictClient(server.target, "nope", timeout=10) as client:
        with pytest.raises(ModelNotFoundError) as info:
            client.predict({"features": np.zeros((1, 16), "float32")})
    assert info.value.code == grpc.StatusCode.NOT_FOUND


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_server_down_errors_within_the_timeout():
    target = f"127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with PredictClient(target, "tiny", timeout=2.0) as client:
        with pytest.raises(ServerUnavailableError):
            client.status()
    assert time.monotonic() - start < 4.0


def test_cli_status_and_predict(served, tmp_path, capsys):
    server, _, models = served
    assert cli.main(["status", "--target", server.target, "--model", "tiny"]) == 0
    assert "version 1: AVAILABLE" in capsys.readouterr().out
    pixels = np.random.default_rng(4).integers(0, 256, (20, 20, 3)).astype("uint8")
    Image.fromarray(pixels).save(tmp_path / "image.png")
    batch = np.random.default_rng(5).uniform(0, 255, (8, 8, 3)).astype("float32")
    np.save(tmp_path / "array.npy", batch)
    args = ["predict", "--target", server.target, "--model", "pixels", "--top", "1"]
    files = [str(tmp_path / "image.png"), str(tmp_path / "array.npy")]
    assert cli.main([*args, *files]) == 0
    out = capsys.readouterr().out.splitlines()
    resized = Image.fromarray(pixels).resize((8, 8), Image.Resampling.BILINEAR)
    inputs = np.stack([np.asarray(resized, "float32"), batch])
    probabilities = np.asarray(models["pixels"](inputs))
    for line, row in zip(out[1:], probabilities, strict=True):
        top = int(np.argmax(row))
        assert line.endswith(f": {top} ({row[top]:.4f})"), line


def test_cli_predict_prints_every_row_of_a_batched_npy(served, tmp_path, capsys):
    server, _, models = served
    batch = np.random.default_rng(6).uniform(0, 255, (3, 8, 8, 3)).astype("float32")
    np.save(tmp_path / "batch.npy", batch)
    args = ["predict", "--target", server.target, "--model", "pixels", "--top", "1"]
    assert cli.main([*args, str(tmp_path / "batch.npy")]) == 0
    lines = capsys.readouterr().out.splitlines()[1:]
    probabilities = np.asarray(models["pixels"](batch))
    assert len(lines) == len(probabilities) == 3
    for index, (line, row) in enumerate(zip(lines, probabilities, strict=True)):
        top = int(np.argmax(row))
        assert line.startswith(f"{tmp_path / 'batch.npy'}[{index}]  "), line
        assert line.endswith(f": {top} ({row[top]:.4f})"), line


def test_cli_predict_reports_unknown_model(served, tmp_path, capsys):
    server, _, _ = served
    np.save(tmp_path / "x.npy", np.zeros((16,), "float32"))
    args = ["predict", "--target", server.target, "--model", "nope"]
    assert cli.main([*args, str(tmp_path / "x.npy")]) == 1
    assert "NOT_FOUND" in capsys.readouterr().err


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(POLL_SECONDS / 2)


@pytest.mark.slow
def test_hot_swap_then_killed_export_leaves_version_2_serving(served):
    server, root, _ = served
    x = np.random.default_rng(6).standard_normal((4, 16)).astype("float32")
    v2 = _dense(3)
    with PredictClient(server.target, "swap", timeout=20) as client:
        assert client.wait_until_available(timeout=20) == 1
        export_for_serving(v2, root / "swap", version=2)
        _wait_for(
            lambda: (
                [(s.version, s.state) for s in client.status()]
                == [(1, "END"), (2, "AVAILABLE")]
            )
        )
        outputs = client.predict(x)
        assert _max_abs_diff(outputs["scores"], v2(x)) <= 1e-6

        # An export of version 3 killed half way (SIGKILL while its working
        # folder is being written) must leave nothing the server loads.
        before = set(os.listdir(root / "swap"))
        script = textwrap.dedent(
            f"""
            import os, signal, threading, time
            import keras
            from keras_apps.export import export_for_serving
            base = {str(root / "swap")!r}
            before = set(os.listdir(base))
            inputs = keras.Input((16,), name="features")
            model = keras.Model(inputs, keras.layers.Dense(4, name="scores")(inputs))
            def kill_when_writing():
                while set(os.listdir(base)) == before:
                    time.sleep(0.001)
                print("killing", set(os.listdir(base)) - before, flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
            threading.Thread(target=kill_when_writing, daemon=True).start()
            export_for_serving(model, base, version=3)
            print("finished", flush=True)
            """
        )
        child = subprocess.run(
            [sys.executable, "-c", script],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
        )
        assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
        assert "killing" in child.stdout and "finished" not in child.stdout
        leftovers = set(os.listdir(root / "swap")) - before
        assert not any(name.isdigit() for name in leftovers), leftovers
        time.sleep(5 * POLL_SECONDS)
        assert [(s.version, s.state) for s in client.status()] == [
            (1, "END"),
            (2, "AVAILABLE"),
        ]
        outputs = client.predict(x)
        assert _max_abs_diff(outputs["scores"], v2(x)) <= 1e-6


def test_spawn_reports_a_child_that_cannot_serve(tmp_path):
    with pytest.raises(RuntimeError, match="does not exist") as info:
        LocalModelServer.spawn(tmp_path / "missing", "missing", startup_timeout=60)
    assert "exited with status" in str(info.value)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie waiting for its reaper is not serving anymore.
    stat_path = Path(f"/proc/{pid}/stat")
    return not (stat_path.exists() and stat_path.read_text().split()[2] == "Z")


@pytest.mark.slow
def test_child_stops_when_its_parent_dies_without_cleanup(served):
    """The parent exits with os._exit (no atexit): the child still stops."""
    _, root, _ = served
    script = textwrap.dedent(
        f"""
        import os
        from keras_apps.serving.server import LocalModelServer
        handle = LocalModelServer.spawn({str(root / "tiny")!r}, "tiny")
        print(handle.log_path.parent, handle.pid, flush=True)
        os._exit(0)
        """
    )
    parent = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert parent.returncode == 0, parent.stderr
    workdir, child_pid = parent.stdout.split()[-2:]
    try:
        _wait_for(lambda: not _alive(int(child_pid)), timeout=30)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
