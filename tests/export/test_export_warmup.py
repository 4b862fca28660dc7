"""Warmup files: TFRecord PredictionLog records that TF Serving replays."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps.export import (
    export_for_serving,
    read_warmup_requests,
    write_warmup_requests,
)
from keras_apps.export.warmup import split_batch, warmup_file_path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, make_dense_model):
    keras.backend.clear_session()
    model = make_dense_model()
    warmup = np.random.default_rng(3).standard_normal((5, 4)).astype("float32")
    base = str(tmp_path_factory.mktemp("warm") / "digits")
    result = export_for_serving(model, base, warmup_inputs=warmup, warmup_batch_size=2)
    return model, warmup, result


def test_records_parse_back_and_match_the_signature(exported):
    model, warmup, result = exported
    path = warmup_file_path(result.path)
    assert path.endswith(
        os.path.join("1", "assets.extra", "tf_serving_warmup_requests")
    )
    logs = read_warmup_requests(result.path)
    assert result.warmup_records == len(logs) == 3  # 5 examples in batches of 2
    signature = result.signatures["serving_default"]
    reloaded = tf.saved_model.load(result.path)
    replayed = []
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.name == "digits"  # the base folder's name
        assert request.model_spec.signature_name == "serving_default"
        assert set(request.inputs) == set(signature.inputs)
        array = tf.make_ndarray(request.inputs["input"])
        assert array.dtype == np.float32 and array.shape[1:] == (4,)
        outputs = reloaded.signatures["serving_default"](input=tf.constant(array))
        replayed.append(outputs["output"].numpy())
    sent = np.concatenate(
        [tf.make_ndarray(log.predict_log.request.inputs["input"]) for log in logs]
    )
    np.testing.assert_array_equal(sent, warmup)
    np.testing.assert_allclose(
        np.concatenate(replayed), np.asarray(model(warmup)), atol=1e-6
    )


def test_write_warmup_requests_for_several_inputs(tmp_path):
    requests = [
        {"a": np.ones((1, 2), "float32"), "b": np.array([[3]], "int64")},
        {"a": np.zeros((2, 2), "float32"), "b": np.array([[1], [2]], "int64")},
    ]
    path = write_warmup_requests(str(tmp_path), requests, "m", "sig")
    assert os.listdir(tmp_path / "assets.extra") == ["tf_serving_warmup_requests"]
    logs = read_warmup_requests(path)
    assert [log.predict_log.request.model_spec.signature_name for log in logs] == [
        "sig",
        "sig",
    ]
    for log, request in zip(logs, requests, strict=True):
        for key, value in request.items():
            got = tf.make_ndarray(log.predict_log.request.inputs[key])
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)


def test_warmup_for_a_list_input_model_keyed_by_signature_names(tmp_path):
    a, b = keras.Input((2,)), keras.Input((3,))
    model = keras.Model([a, b], keras.layers.Concatenate()([a, b]))
    rng = np.random.default_rng(0)
    inputs = {"input_0": rng.random((2, 2)), "input_1": rng.random((2, 3))}
    result = export_for_serving(model, str(tmp_path / "m"), warmup_inputs=inputs)
    logs = read_warmup_requests(result.path)
    assert len(logs) == 2
    got = tf.make_ndarray(logs[1].predict_log.request.inputs["input_1"])
    assert got.dtype == np.float32  # cast to the signature's dtype
    np.testing.assert_allclose(got, inputs["input_1"][1:], rtol=1e-6)
    assert result.validation["serving_default"] == 0.0  # concatenation is exact


def test_split_batch():
    parts = split_batch({"x": np.arange(10).reshape(5, 2), "y": np.arange(5)}, 2)
    assert [p["y"].tolist() for p in parts] == [[0, 1], [2, 3], [4]]
    np.testing.assert_array_equal(parts[2]["x"], [[8, 9]])
    with pytest.raises(ValueError, match="one common batch dimension"):
        split_batch({"x": np.zeros((2, 1)), "y": np.zeros((3, 1))})
    with pytest.raises(ValueError, match="positive integer batch size"):
        split_batch({"x": np.zeros((2, 1))}, 0)


def test_warmup_errors(tmp_path, make_dense_model):
    with pytest.raises(ValueError, match="at most 1000"):
        write_warmup_requests(str(tmp_path), [{"x": np.zeros(1)}] * 1001, "m")
    with pytest.raises(ValueError, match="at least one"):
        write_warmup_requests(str(tmp_path), [], "m")
    with pytest.raises(ValueError, match="model name"):
        write_warmup_requests(str(tmp_path), [{"x": np.zeros(1)}], "")
    assert not os.path.exists(tmp_path / "assets.extra")
    with pytest.raises(FileNotFoundError, match="No warmup file"):
        read_warmup_requests(str(tmp_path))
    model = make_dense_model()
    with pytest.raises(ValueError, match="at most 1000 warmup records"):
        export_for_serving(
            model, str(tmp_path / "m"), warmup_inputs=np.zeros((1001, 4), "float32")
        )
    with pytest.raises(ValueError, match="of dtype float32"):
        export_for_serving(
            model, str(tmp_path / "m"), warmup_inputs=np.array([["a"] * 4])
        )
    with pytest.raises(ValueError, match=r"keys \['input'\]"):
        export_for_serving(
            model, str(tmp_path / "m"), warmup_inputs=[np.zeros((1, 4))] * 2
        )
    assert not os.path.exists(tmp_path / "m")
