"""HubBackbone: a SavedModel (TF Hub format or Keras export) as a Keras 3 layer.

The SavedModels are built here: a small CNN exported once per module as a TF2
reusable SavedModel (`export_hub_module`, the TF Hub format) and as a Keras
export (`model.export`, ``serve`` endpoint). No hub download is involved.
"""

from __future__ import annotations

import os
import re
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps.layers import HubBackbone
from keras_apps.testing.test_case import (
    assert_all_close,
    run_layer_test,
    run_serialization_test,
)
from keras_apps.transfer.backbones import export_hub_module

pytestmark = pytest.mark.requires_tensorflow(
    reason="HubBackbone loads TensorFlow SavedModels"
)

IMAGE_SHAPE = (16, 16, 3)
FEATURES = 8
L2 = 1e-2


def _make_cnn() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            keras.layers.Conv2D(
                4, 3, kernel_regularizer=keras.regularizers.L2(L2), name="conv1"
            ),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(),
            keras.layers.Conv2D(FEATURES, 3, strides=2, name="conv2"),
            keras.layers.GlobalAveragePooling2D(),
        ],
        name="cnn",
    )


def _images(n: int = 4, seed: int = 0) -> np.ndarray:
    return (
        np.random.default_rng(seed).uniform(0, 1, (n, *IMAGE_SHAPE)).astype("float32")
    )


def _sanitized_path(weight) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", weight.path)


def _weights_by_name(layer_or_model) -> dict[str, np.ndarray]:
    """Maps sanitized variable paths to values, the names HubBackbone uses."""
    return {_sanitized_path(w): np.array(w.numpy()) for w in layer_or_model.weights}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A trained-looking CNN and its two SavedModel forms."""
    keras.utils.set_random_seed(7)
    cnn = _make_cnn()
    # Non-trivial batch-norm statistics, so that inference differs from
    # training mode.
    bn = cnn.get_layer("bn1")
    bn.moving_mean.assign(np.full((4,), 0.1, "float32"))
    bn.moving_variance.assign(np.full((4,), 2.0, "float32"))
    root = tmp_path_factory.mktemp("hub_backbone")
    hub_dir = export_hub_module(cnn, root / "hub")
    keras_dir = str(root / "keras_export")
    cnn.export(keras_dir, verbose=False)
    return {"cnn": cnn, "hub": hub_dir, "keras": keras_dir, "root": root}


@pytest.fixture(scope="module")
def multi_dirs(tmp_path_factory):
    """SavedModels with several signatures, and with several outputs."""
    root = tmp_path_factory.mktemp("hub_backbone_multi")
    module = tf.Module()
    module.kernel = tf.Variable(
        np.arange(12, dtype="float32").reshape(3, 4) / 10.0, name="dense/kernel"
    )

    @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    def features(x):
        return {"features": tf.matmul(x, module.kernel)}

    @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32)])
    def logits(x):
        return {"logits": tf.reduce_sum(tf.matmul(x, module.kernel), -1, True)}

    signatures_dir = str(root / "signatures")
    tf.saved_model.save(
        module, signatures_dir, signatures={"features": features, "logits": logits}
    )

    class TwoHeads(tf.Module):
        def __init__(self):
            super().__init__()
            self.kernel = tf.Variable(
                np.arange(12, dtype="float32").reshape(3, 4) / 10.0,
                name="dense/kernel",
            )

        @tf.function(input_signature=[tf.TensorSpec((None, 3), tf.float32)])
        def __call__(self, x):
            hidden = tf.matmul(x, self.kernel)
            return {"features": hidden, "logits": tf.reduce_sum(hidden, -1)}

    outputs_dir = str(root / "outputs")
    tf.saved_model.save(TwoHeads(), outputs_dir)
    kernel = np.arange(12, dtype="float32").reshape(3, 4) / 10.0
    return {"signatures": signatures_dir, "outputs": outputs_dir, "kernel": kernel}


# --------------------------------------------------------------------------
# behaviour and numbers
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, endpoint", [("hub", "__call__"), ("keras", "serve")], ids=["hub", "keras"]
)
def test_outputs_equal_the_original_model(saved, kind, endpoint):
    layer = HubBackbone(saved[kind])
    x = _images()
    assert layer.endpoint_name == endpoint
    assert_all_close(layer(x), saved["cnn"](x, training=False), atol=1e-6)
    assert layer.compute_output_shape((None, *IMAGE_SHAPE)) == (None, FEATURES)


def test_explicit_signature_unwraps_the_single_output(saved):
    layer = HubBackbone(saved["keras"], signature="serving_default")
    x = _images()
    assert_all_close(layer(x), saved["cnn"](x, training=False), atol=1e-6)


def test_weights_are_the_saved_model_variables_with_clean_names(saved):
    layer = HubBackbone(saved["hub"], trainable=True)
    assert len(layer.trainable_weights) == 6
    assert len(layer.non_trainable_weights) == 2
    for weight in layer.weights:
        assert ":" not in weight.name and "/" not in weight.name, weight.name
    expected = _weights_by_name(saved["cnn"])
    actual = {w.name: np.array(w.numpy()) for w in layer.weights}
    assert sorted(actual) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_array_equal(actual[name], value, err_msg=name)


def test_variable_paths_start_with_the_layer_name(saved):
    layer = HubBackbone(saved["hub"], name="digits_backbone")
    assert layer.weights
    for weight in layer.weights:
        assert weight.path == f"digits_backbone/{weight.name}", weight.path


def test_layer_contract(saved):
    run_layer_test(
        HubBackbone,
        {"handle": saved["hub"], "trainable": True},
        input_data=_images(),
        expected_output_shape=(4, FEATURES),
        expected_num_trainable_weights=6,
        expected_num_non_trainable_weights=2,
        # The SavedModel computes in the dtypes it was saved with, and loading
        # it back needs safe_mode=False: test_config_round_trip covers that.
        run_mixed_precision_check=False,
        run_serialization_check=False,
    )


@pytest.mark.parametrize("kind", ["hub", "keras"])
def test_sequential_and_functional_give_the_same_numbers(saved, kind):
    x = _images()
    expected = saved["cnn"](x, training=False)
    sequential = keras.Sequential([keras.Input(IMAGE_SHAPE), HubBackbone(saved[kind])])
    inputs = keras.Input(IMAGE_SHAPE)
    functional = keras.Model(inputs, HubBackbone(saved[kind])(inputs))
    assert functional.output_shape == (None, FEATURES)
    assert_all_close(sequential.predict(x, verbose=0), expected, atol=1e-6)
    assert_all_close(functional.predict(x, verbose=0), expected, atol=1e-6)


def _classifier(backbone: HubBackbone) -> keras.Model:
    inputs = keras.Input(IMAGE_SHAPE)
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs))
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("kind", ["hub", "keras"])
def test_frozen_backbone_stays_bit_identical_after_fit(saved, kind):
    backbone = HubBackbone(saved[kind], trainable=False)
    model = _classifier(backbone)
    assert backbone.trainable_weights == []
    before = [np.array(w.numpy()) for w in backbone.weights]
    head_before = np.array(model.get_layer("head").kernel.numpy())
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    model.fit(_images(8), np.ones((8, 2), "float32"), epochs=2, verbose=0)
    for weight, value in zip(backbone.weights, before, strict=True):
        np.testing.assert_array_equal(weight.numpy(), value, err_msg=weight.name)
    assert not np.array_equal(model.get_layer("head").kernel.numpy(), head_before)


@pytest.mark.parametrize("kind", ["hub", "keras"])
def test_fine_tuning_with_adam_updates_what_the_saved_model_computes(saved, kind):
    backbone = HubBackbone(saved[kind], trainable=True)
    model = _classifier(backbone)
    before = {w.name: np.array(w.numpy()) for w in backbone.weights}
    x, y = _images(8), np.ones((8, 2), "float32")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    for weight in backbone.trainable_weights:
        assert not np.array_equal(weight.numpy(), before[weight.name]), weight.name
    moving = [w for w in backbone.non_trainable_weights if "moving" in w.name]
    changed = [not np.array_equal(w.numpy(), before[w.name]) for w in moving]
    # The TF Hub format has a training trace, so batch-norm statistics follow
    # the data; a Keras export only has the inference function.
    assert changed == ([True, True] if kind == "hub" else [False, False])

    # The layer's output is the original architecture with the tuned weights.
    reference = _make_cnn()
    tuned = {w.name: np.array(w.numpy()) for w in backbone.weights}
    for weight in reference.weights:
        weight.assign(tuned[_sanitized_path(weight)])
    assert_all_close(backbone(x), reference(x, training=False), atol=1e-5)


def test_regularization_losses_are_added_when_training(saved):
    backbone = HubBackbone(saved["hub"], trainable=True)
    x = _images()
    backbone(x, training=False)
    assert backbone.losses == []
    backbone(x, training=True)
    kernel = saved["cnn"].get_layer("conv1").kernel.numpy()
    assert len(backbone.losses) == 1
    np.testing.assert_allclose(
        float(backbone.losses[0]), L2 * np.sum(kernel**2), rtol=1e-5
    )
    frozen = HubBackbone(saved["hub"], trainable=False)
    frozen(x, training=True)
    assert frozen.losses == []


def test_frozen_layer_runs_in_inference_mode(saved):
    x = _images()
    frozen = HubBackbone(saved["hub"], trainable=False)
    assert_all_close(frozen(x, training=True), saved["cnn"](x, training=False))


# --------------------------------------------------------------------------
# serialization, .keras and re-export
# --------------------------------------------------------------------------


def test_config_round_trip(saved):
    layer = HubBackbone(saved["hub"], trainable=True, name="backbone")
    config = layer.get_config()
    assert config["handle"] == saved["hub"]
    assert config["trainable"] is True
    revived = HubBackbone.from_config(config)
    assert revived.get_config() == config
    with keras.saving.custom_object_scope({}):
        serialized = keras.saving.serialize_keras_object(layer)
        assert serialized["registered_name"] == "keras_apps>HubBackbone"
        restored = keras.saving.deserialize_keras_object(serialized, safe_mode=False)
    assert restored.get_config() == config


def test_safe_mode_refuses_to_load_a_saved_model(saved):
    layer = HubBackbone(saved["hub"])
    serialized = keras.saving.serialize_keras_object(layer)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.saving.deserialize_keras_object(serialized)
    with pytest.raises(ValueError, match="safe_mode=False"):
        run_serialization_test(layer)


def test_keras_file_round_trip_keeps_fine_tuned_weights(saved, tmp_path):
    backbone = HubBackbone(saved["hub"], trainable=True)
    model = _classifier(backbone)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = _images(8)
    model.fit(x, np.ones((8, 2), "float32"), epochs=1, verbose=0)
    expected = model.predict(x, verbose=0)
    assert not np.allclose(backbone(x), saved["cnn"](x, training=False))

    path = str(tmp_path / "model.keras")
    model.save(path)
    with pytest.raises(ValueError, match="safe_mode=False"):
        keras.saving.load_model(path)
    loaded = keras.saving.load_model(path, safe_mode=False)
    assert_all_close(loaded.predict(x, verbose=0), expected, atol=1e-6)
    # Loading does not change the SavedModel the handle points to.
    assert_all_close(
        HubBackbone(saved["hub"])(x), saved["cnn"](x, training=False), atol=1e-6
    )


@pytest.mark.parametrize("kind", ["hub", "keras"])
def test_reexport_and_reload(saved, kind, tmp_path):
    model = _classifier(HubBackbone(saved[kind], trainable=True))
    x = _images()
    expected = model.predict(x, verbose=0)
    export_dir = str(tmp_path / "reexport")
    model.export(export_dir, verbose=False)
    del model
    reloaded = tf.saved_model.load(export_dir)
    assert_all_close(reloaded.serve(x), expected, atol=1e-5)
    # ... and the re-export is itself a handle for HubBackbone.
    assert_all_close(HubBackbone(export_dir)(x), expected, atol=1e-5)


def test_export_hub_module_of_a_model_with_hub_backbone(saved, tmp_path):
    model = _classifier(HubBackbone(saved["hub"]))
    x = _images()
    path = export_hub_module(model, tmp_path / "nested")
    loaded = tf.saved_model.load(path)
    assert_all_close(loaded(x, training=False), model(x), atol=1e-6)
    assert sorted(loaded.signatures) == ["serving_default"]


# --------------------------------------------------------------------------
# endpoint and output selection, error paths
# --------------------------------------------------------------------------


def test_several_signatures_need_a_choice(multi_dirs):
    with pytest.raises(ValueError, match=r"\['features', 'logits'\]") as info:
        HubBackbone(multi_dirs["signatures"])
    assert "signature=" in str(info.value)
    layer = HubBackbone(multi_dirs["signatures"], signature="logits")
    x = np.array([[1.0, 2.0, 3.0]], "float32")
    np.testing.assert_allclose(
        layer(x), (x @ multi_dirs["kernel"]).sum(-1, keepdims=True), rtol=1e-6
    )
    with pytest.raises(ValueError, match=r"no endpoint 'logit'.*'features', 'logits'"):
        HubBackbone(multi_dirs["signatures"], signature="logit")


def test_several_outputs_need_an_output_key(multi_dirs):
    with pytest.raises(ValueError, match=r"\['features', 'logits'\].*output_key="):
        HubBackbone(multi_dirs["outputs"])
    layer = HubBackbone(multi_dirs["outputs"], output_key="features")
    x = np.array([[1.0, 2.0, 3.0], [0.5, 0.0, -1.0]], "float32")
    np.testing.assert_allclose(layer(x), x @ multi_dirs["kernel"], rtol=1e-6)
    inputs = keras.Input((3,))
    assert keras.Model(inputs, layer(inputs)).output_shape == (None, 4)
    with pytest.raises(ValueError, match=r"no output 'feature'.*'features', 'logits'"):
        HubBackbone(multi_dirs["outputs"], output_key="feature")


def test_output_key_on_a_single_tensor_is_an_error(saved):
    with pytest.raises(ValueError, match="single tensor.*output_key='features'"):
        HubBackbone(saved["hub"], output_key="features")


def test_missing_directory(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="No SavedModel directory.*nowhere"):
        HubBackbone(missing)


def test_directory_without_saved_model(tmp_path):
    (tmp_path / "weights.h5").write_bytes(b"")
    with pytest.raises(ValueError, match=r"no saved_model.pb.*weights.h5"):
        HubBackbone(str(tmp_path))


def test_tf1_hub_format_is_refused(saved, tmp_path):
    tf1_dir = tmp_path / "tf1_module"
    shutil.copytree(saved["hub"], tf1_dir)
    # A TF1 Hub module is a SavedModel plus a ModuleDef proto
    # (field 1, format = 3 for FORMAT_V3).
    (tf1_dir / "tfhub_module.pb").write_bytes(b"\x08\x03")
    with pytest.raises(ValueError, match="TF1 Hub format.*tfhub_module.pb.*TF2"):
        HubBackbone(str(tf1_dir))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"handle": ""}, "Received: handle=''"),
        ({"handle": 3}, "Received: handle=3"),
        ({"handle": "x", "signature": 1}, "Received: signature=1"),
        ({"handle": "x", "output_key": 1.5}, "Received: output_key=1.5"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        HubBackbone(**kwargs)


def test_bad_input_shape_names_the_expected_one(saved):
    layer = HubBackbone(saved["hub"])
    with pytest.raises(ValueError, match=r"\(None, 16, 16, 3\).*\(2, 8, 8, 3\)"):
        layer(np.zeros((2, 8, 8, 3), "float32"))
    with pytest.raises(ValueError, match=r"\(None, 16, 16, 3\)"):
        layer(keras.Input((16, 16, 1)))


def test_integer_images_are_cast_to_the_signature_dtype(saved):
    layer = HubBackbone(saved["hub"])
    x = np.random.default_rng(0).integers(0, 3, (2, *IMAGE_SHAPE)).astype("uint8")
    assert_all_close(layer(x), saved["cnn"](x.astype("float32")), atol=1e-6)


def test_relative_and_pathlike_handles(saved, monkeypatch):
    monkeypatch.chdir(saved["root"])
    layer = HubBackbone("hub")
    assert layer.get_config()["handle"] == "hub"
    x = _images(2)
    assert_all_close(layer(x), saved["cnn"](x), atol=1e-6)
    assert_all_close(HubBackbone(saved["root"] / "hub")(x), saved["cnn"](x), atol=1e-6)
    assert os.path.isabs(HubBackbone("hub")._saved_model_dir)


@pytest.mark.slow
def test_unreachable_hub_url_says_what_to_do(tmp_path, offline_python):
    """tensorflow_hub's real resolver, with no way to reach the network."""
    result = offline_python(
        """
        from keras_apps.layers import HubBackbone
        try:
            HubBackbone("https://www.kaggle.com/models/google/mobilenet-v2/"
                        "TensorFlow2/035-128-feature-vector/2")
        except OSError as error:
            print("ERROR:", error)
        else:
            print("NO ERROR")
        """,
        TFHUB_CACHE_DIR=str(tmp_path / "hub_cache"),
    )
    assert "ERROR: Could not fetch the hub handle" in result.stdout, (
        result.stdout + result.stderr
    )
    assert "TFHUB_CACHE_DIR" in result.stdout


@pytest.mark.requires_tensorflow(reason="HubBackbone loads a TensorFlow SavedModel")
def test_trusting_the_saved_model_keeps_lambda_bytecode_refused(saved, tmp_path):
    from keras_apps.layers import trust_saved_models

    x = _images(2)
    plain = keras.Sequential([keras.Input((16, 16, 3)), HubBackbone(saved["hub"])])
    plain_path = str(tmp_path / "plain.keras")
    plain.save(plain_path)
    with trust_saved_models([saved["hub"]]):
        loaded = keras.saving.load_model(plain_path)  # safe_mode=True
    assert_all_close(loaded.predict(x, verbose=0), plain.predict(x, verbose=0))
    with trust_saved_models([tmp_path]), pytest.raises(ValueError, match="trust_"):
        keras.saving.load_model(plain_path)  # another SavedModel is trusted
    with pytest.raises(ValueError, match="trust_saved_models"):
        keras.saving.load_model(plain_path)  # outside the context

    hostile = keras.Sequential(
        [
            keras.Input((16, 16, 3)),
            HubBackbone(saved["hub"]),
            keras.layers.Lambda(lambda t: t * 2),
        ]
    )
    hostile_path = str(tmp_path / "hostile.keras")
    hostile.save(hostile_path)
    with trust_saved_models(), pytest.raises(ValueError, match="lambda"):
        keras.saving.load_model(hostile_path)
