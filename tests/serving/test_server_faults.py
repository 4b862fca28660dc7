"""A server process on 127.0.0.1 under hostile requests and unlucky operators.

One `LocalModelServer.spawn` child serves five small models from a
``models.config`` for the whole module, with a 4 MiB message limit, fast
polling and fast load retries:

- ``tiny``: hostile TensorProtos (huge claimed shapes, unknown dtypes, fuzz);
- ``a`` and ``b``: bad version folder names and a vanished version;
- ``c`` and ``d``: a version that fails to load, then loads on a retry (``c``)
  or stays broken (``d``);
- ``e`` and ``f``: `PredictClient` over a hot swap that renames the input
  (``e``) or lands in the middle of a `PredictClient.predict_batched` (``f``).
"""

from __future__ import annotations

import os
import shutil
import time

import grpc
import numpy as np
import psutil
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tensorflow.core.framework import tensor_pb2
from tensorflow_serving.apis import (
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from keras_apps.export import write_model_config
from keras_apps.serving.client import ModelNotFoundError, PredictClient
from keras_apps.serving.server import LocalModelServer

POLL_SECONDS = 0.2
MESSAGE_LIMIT = 4 * 1024 * 1024
RETRIES = 3
RETRY_INTERVAL_MICROS = 1_000_000
DT_FLOAT = 1
State = get_model_status_pb2.ModelVersionStatus.State


@pytest.fixture(scope="module")
def served(tmp_path_factory, linear_saved_model):
    root = tmp_path_factory.mktemp("faults")
    for scale in (1, 2):
        linear_saved_model(root / "source" / str(scale), scale)
    names = ("tiny", "a", "b", "c", "d", "e", "f")
    for name in names:
        shutil.copytree(root / "source" / "1", root / name / "1")
    config = root / "models.config"
    write_model_config(
        str(config), [{"name": n, "base_path": str(root / n)} for n in names]
    )
    server = LocalModelServer.spawn(
        model_config_file=config,
        file_system_poll_wait_seconds=POLL_SECONDS,
        max_message_bytes=MESSAGE_LIMIT,
        max_num_load_retries=RETRIES,
        load_retry_interval_micros=RETRY_INTERVAL_MICROS,
    )
    channel = grpc.insecure_channel(server.target)
    try:
        yield (
            server,
            root,
            prediction_service_pb2_grpc.PredictionServiceStub(channel),
            model_service_pb2_grpc.ModelServiceStub(channel),
        )
    finally:
        channel.close()
        server.stop()


def _tensor(dtype: int, dims, **values) -> tensor_pb2.TensorProto:
    proto = tensor_pb2.TensorProto(dtype=dtype, **values)
    for size in dims:
        proto.tensor_shape.dim.add(size=size)
    return proto


def _request(name: str, proto: tensor_pb2.TensorProto) -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = name
    request.inputs["x"].CopyFrom(proto)
    return request


def _code(predict, request) -> grpc.StatusCode:
    try:
        predict.Predict(request, timeout=20)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def _status(model_stub, name: str) -> dict[int, tuple[int, str]]:
    request = get_model_status_pb2.GetModelStatusRequest()
    request.model_spec.name = name
    response = model_stub.GetModelStatus(request, timeout=10)
    return {
        s.version: (s.state, s.status.error_message)
        for s in response.model_version_status
    }


def _states(model_stub, name: str) -> dict[int, int]:
    return {v: state for v, (state, _) in _status(model_stub, name).items()}


def _wait_for(condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(POLL_SECONDS / 2)


def _rss(server) -> int:
    return psutil.Process(server.pid).memory_info().rss


def _reset_peak_rss(server) -> int:
    """Resets the child's peak resident size (Linux), returns its current size."""
    try:
        with open(f"/proc/{server.pid}/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        pass  # no peak reset here: the peak then counts from the start
    return _rss(server)


def _peak_rss(server) -> int:
    """The child's peak resident size (VmHWM), or its current size off Linux."""
    try:
        with open(f"/proc/{server.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return _rss(server)


def _assert_serves(predict, name: str = "tiny", scale: float = 1.0) -> None:
    x = np.arange(8, dtype="float32").reshape(2, 4)
    response = predict.Predict(_request(name, tf.make_tensor_proto(x)), timeout=20)
    np.testing.assert_allclose(
        tf.make_ndarray(response.outputs["y"]), x @ (scale * np.ones((4, 2)))
    )


# ------------------------------------------------------------ hostile tensors


@pytest.mark.parametrize(
    "dtype, dims",
    [
        (DT_FLOAT, [1_000_000_000, 4]),  # 39 bytes claiming 16 GB
        (DT_FLOAT, [5_000_000, 4]),  # 80 MB, above the message limit
        (DT_FLOAT, [100_000_000]),  # the wrong rank, 400 MB
        (999, [1, 4]),  # no such DataType
        (DT_FLOAT, [2**62, 2**62]),  # more elements than int64 counts
        (DT_FLOAT, [-3, 4]),
    ],
)
def test_header_is_checked_before_decoding(served, dtype, dims):
    server, _, predict, _ = served
    before = _reset_peak_rss(server)
    request = _request("tiny", _tensor(dtype, dims))
    assert request.ByteSize() < 60
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as info:
        predict.Predict(request, timeout=20)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT, info.value.details()
    # Refused on the header, not after decoding: decoding [1e8] first (zeros
    # that touch no page, then the graph's shape check) gave the same code.
    assert info.value.details().startswith("tensor parsing error: x ("), (
        info.value.details()
    )
    assert time.monotonic() - start < 5
    assert server.running
    # The peak, not only what is left after the answer: [5e6, 4] decoded and
    # run took 120 MB for a moment.
    assert _peak_rss(server) - before < 50 * 1024 * 1024
    _assert_serves(predict)


def test_header_errors_say_what_is_wrong(served):
    _, _, predict, _ = served
    cases = {
        "999": _tensor(999, [1, 4]),
        "message limit": _tensor(DT_FLOAT, [5_000_000, 4], float_val=[1.0]),
        "tensor_content holds 3 bytes": _tensor(
            DT_FLOAT, [1, 4], tensor_content=b"abc"
        ),
        "float_val holds 5 values for 4 elements": _tensor(
            DT_FLOAT, [1, 4], float_val=[1.0] * 5
        ),
    }
    for text, proto in cases.items():
        with pytest.raises(grpc.RpcError) as info:
            predict.Predict(_request("tiny", proto), timeout=20)
        assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert info.value.details().startswith("tensor parsing error: x")
        assert text in info.value.details()
    # TensorFlow's padding rule still holds within the limit: one value repeats.
    response = predict.Predict(
        _request("tiny", _tensor(DT_FLOAT, [3, 4], float_val=[0.5])), timeout=20
    )
    np.testing.assert_allclose(tf.make_ndarray(response.outputs["y"]), 2.0)


_DIM = st.one_of(
    st.integers(0, 6),
    st.integers(-3, 2**40),
    st.sampled_from([1_000_000, 1_000_000_000, 2**62, 2**63 - 1]),
)


@st.composite
def _tensor_protos(draw) -> tensor_pb2.TensorProto:
    dtype = draw(
        st.one_of(st.just(DT_FLOAT), st.integers(-2, 30), st.integers(100, 2**31 - 1))
    )
    proto = _tensor(dtype, draw(st.lists(_DIM, max_size=4)))
    proto.tensor_shape.unknown_rank = draw(st.booleans()) and draw(st.booleans())
    kind = draw(st.sampled_from(["content", "float_val", "string_val", "none"]))
    if kind == "content":
        proto.tensor_content = draw(st.binary(max_size=300))
    elif kind == "float_val":
        proto.float_val.extend(draw(st.lists(st.floats(width=32), max_size=40)))
    elif kind == "string_val":
        proto.string_val.extend(draw(st.lists(st.binary(max_size=8), max_size=8)))
    return proto


def test_fuzzed_tensor_protos_get_a_status_and_the_server_stays_up(served):
    server, _, predict, _ = served
    before = _reset_peak_rss(server)
    codes: set[grpc.StatusCode] = set()

    @settings(
        max_examples=80,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(proto=_tensor_protos())
    def check(proto):
        code = _code(predict, _request("tiny", proto))
        codes.add(code)
        assert code in (grpc.StatusCode.OK, grpc.StatusCode.INVALID_ARGUMENT), code

    check()
    assert grpc.StatusCode.INVALID_ARGUMENT in codes
    assert server.running
    assert _peak_rss(server) - before < 200 * 1024 * 1024
    _assert_serves(predict)


# ---------------------------------------------------------- version folders


def test_bad_version_folders_warn_once_and_stop_nothing(served):
    server, root, predict, model_stub = served
    bad = ("²", "١٢", "99999999999999999999")
    for name in bad:
        shutil.copytree(root / "source" / "2", root / "a" / name)
    shutil.copytree(root / "source" / "2", root / "b" / "2")
    # Hot swap of another model goes on.
    _wait_for(lambda: _states(model_stub, "b") == {2: State.AVAILABLE, 1: State.END})
    _assert_serves(predict, "b", scale=2)
    time.sleep(8 * POLL_SECONDS)
    logs = server.logs()
    for name in bad:
        assert logs.count(f"skipping folder {name!r}") == 1, logs[-3000:]
    assert _states(model_stub, "a") == {1: State.AVAILABLE}
    _assert_serves(predict, "a", scale=1)
    assert "Traceback" not in logs, logs[-3000:]


def test_a_served_version_whose_folder_vanishes_is_unloaded(served):
    _, root, predict, model_stub = served
    x = tf.make_tensor_proto(np.zeros((1, 4), "float32"))
    shutil.rmtree(root / "a" / "1")
    _wait_for(lambda: _code(predict, _request("a", x)) == grpc.StatusCode.NOT_FOUND)
    assert _states(model_stub, "a") == {1: State.END}


# ------------------------------------------------------------- load retries


def test_a_failed_load_is_retried_and_its_state_reported(served):
    _, root, predict, model_stub = served
    # A copy that writes saved_model.pb before variables/: the first load fails.
    target = root / "c" / "2"
    target.mkdir()
    shutil.copy2(root / "source" / "2" / "saved_model.pb", target)
    _wait_for(lambda: _status(model_stub, "c").get(2, (0, ""))[1] != "")
    state, message = _status(model_stub, "c")[2]
    assert state == State.LOADING, message
    assert f"attempt 1 of {RETRIES + 1}" in message
    _assert_serves(predict, "c", scale=1)  # version 1 still serves
    shutil.copytree(root / "source" / "2" / "variables", target / "variables")
    _wait_for(lambda: _states(model_stub, "c") == {2: State.AVAILABLE, 1: State.END})
    _assert_serves(predict, "c", scale=2)


def test_a_version_that_never_loads_ends_after_the_last_retry(served):
    _, root, predict, model_stub = served
    (root / "d" / "2").mkdir()
    (root / "d" / "2" / "saved_model.pb").write_bytes(b"not a SavedModel")
    _wait_for(lambda: "attempt 1 of" in _status(model_stub, "d").get(2, (0, ""))[1])
    first = time.monotonic()
    last = f"attempt {RETRIES + 1} of {RETRIES + 1}"
    _wait_for(lambda: last in _status(model_stub, "d").get(2, (0, ""))[1])
    # The retries wait load_retry_interval_micros apart: no busy loop.
    assert time.monotonic() - first > (RETRIES - 0.5) * RETRY_INTERVAL_MICROS / 1e6
    status = _status(model_stub, "d")
    assert status[2][0] == State.END
    assert status[1] == (State.AVAILABLE, "")
    _assert_serves(predict, "d", scale=1)
    time.sleep(1.5 * RETRY_INTERVAL_MICROS / 1e6)  # no fifth attempt
    assert last in _status(model_stub, "d")[2][1]


# ------------------------------------------------ PredictClient over hot swaps


def _publish(save, root, name: str, version: int, scale: float, **kwargs) -> None:
    """Writes a version aside and renames it in, as the exporter does."""
    staging = root / f"staging-{name}-{version}"
    save(staging, scale, **kwargs)
    os.rename(staging, root / name / str(version))


def test_client_metadata_follows_a_hot_swap_that_renames_the_input(
    served, linear_saved_model
):
    server, root, _, model_stub = served
    x = np.arange(8, dtype="float32").reshape(2, 4)
    with PredictClient(server.target, "e", timeout=20) as client:
        np.testing.assert_allclose(client.predict(x)["y"], x @ np.ones((4, 2)))
        assert set(client.metadata().inputs) == {"x"}
        _publish(linear_saved_model, root, "e", 2, 2.0, input_name="features")
        swapped = {2: State.AVAILABLE, 1: State.END}
        _wait_for(lambda: _states(model_stub, "e") == swapped)
        # The cached metadata names "x", which version 2 refuses: the client
        # asks for fresh metadata and sends the array as "features".
        np.testing.assert_allclose(client.predict(x)["y"], x @ (2 * np.ones((4, 2))))
        assert set(client.metadata().inputs) == {"features"}
        assert client.metadata().version == 2


def test_predict_batched_over_a_hot_swap_is_answered_by_one_version(
    served, linear_saved_model, monkeypatch
):
    server, root, _, model_stub = served
    rows = np.arange(40, dtype="float32").reshape(10, 4)
    answered: list[int | None] = []
    with PredictClient(server.target, "f", timeout=20) as client:
        send = client._send_versioned

        def swap_after_the_first_piece(piece, output_filter, timeout, version):
            outputs, by = send(piece, output_filter, timeout, version)
            answered.append(by)
            if len(answered) == 1:
                _publish(linear_saved_model, root, "f", 2, 2.0)
                _wait_for(
                    lambda: (
                        _states(model_stub, "f") == {2: State.AVAILABLE, 1: State.END}
                    )
                )
            return outputs, by

        monkeypatch.setattr(client, "_send_versioned", swap_after_the_first_piece)
        with pytest.raises(ModelNotFoundError, match="version 1 .* no longer served"):
            client.predict_batched(rows, batch_size=2, concurrency=2)
        assert answered == [1]  # the server named the version; no piece of 2
        monkeypatch.undo()
        outputs = client.predict_batched(rows, batch_size=2, concurrency=2)
    np.testing.assert_allclose(outputs["y"], rows @ (2 * np.ones((4, 2))))
