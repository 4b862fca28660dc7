"""``keras-apps export MODEL.keras BASE_PATH``."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps import cli
from keras_apps.export import read_warmup_requests


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory, make_image_model):
    keras.backend.clear_session()
    path = str(tmp_path_factory.mktemp("cli") / "classifier.keras")
    model = make_image_model()
    model.save(path)
    return path, model


def test_export_command(keras_file, tmp_path, capsys):
    path, model = keras_file
    base = str(tmp_path / "classifier")
    assert cli.main(["export", path, base, "--image-bytes", "--warmup", "3"]) == 0
    out = capsys.readouterr().out
    assert f"exported version 1 to {os.path.join(base, '1')}" in out
    assert "signature 'serving_image_bytes':" in out
    assert "input  pixels: float32 [None, 8, 8, 3]" in out
    assert "output scores: float32 [None, 2]" in out
    assert "validation: max abs diff serving_default=" in out
    assert "warmup: 3 request(s)" in out
    assert len(read_warmup_requests(os.path.join(base, "1"))) == 3
    pixels = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    reloaded = tf.saved_model.load(os.path.join(base, "1"))
    got = reloaded.signatures["serving_default"](pixels=tf.constant(pixels))["scores"]
    np.testing.assert_allclose(got, np.asarray(model(pixels)), atol=1e-5)

    assert cli.main(["export", path, base, "--version", "7", "--no-validate"]) == 0
    assert "exported version 7" in capsys.readouterr().out
    assert sorted(os.listdir(base)) == ["1", "7"]
    args = ["export", path, base, "--version", "7", "--overwrite", "--no-validate"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "replaced version 7 on disk: a server that already loaded" in out
    assert "publish a new version number instead" in out
    assert sorted(os.listdir(base)) == ["1", "7"]


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--version", "1"], "Version 1 already exists"),
        (["--version", "0"], "positive integer"),
        (["--warmup", "-2"], "--warmup >= 0"),
    ],
)
def test_export_command_errors(keras_file, tmp_path, capsys, extra, match):
    path, _ = keras_file
    base = str(tmp_path / "classifier")
    os.makedirs(os.path.join(base, "1"))
    assert cli.main(["export", path, base, *extra]) == 1
    err = capsys.readouterr().err
    assert err.startswith("keras-apps export: ") and match in err


def test_export_command_on_a_full_disk(keras_file, tmp_path, capsys, monkeypatch):
    from keras_apps.export import saved_model

    def full(model, functions, directory):
        os.makedirs(os.path.join(directory, "variables"))
        raise tf.errors.ResourceExhaustedError(
            None, None, "part-00000; No space left on device [Op:SaveV2]"
        )

    monkeypatch.setattr(saved_model, "_write_saved_model", full)
    base = str(tmp_path / "classifier")
    assert cli.main(["export", keras_file[0], base]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"keras-apps export: [Errno 28] No space left on device at {base}"
    )
    assert "Traceback" not in err and os.listdir(base) == []


def test_export_command_missing_file(tmp_path, capsys):
    missing = str(tmp_path / "missing.keras")
    assert cli.main(["export", missing, str(tmp_path / "m")]) == 1
    assert "missing.keras" in capsys.readouterr().err


def test_export_command_loads_keras_apps_layers_in_a_fresh_process(tmp_path):
    from keras_apps.layers import LocalResponseNormalization

    inputs = keras.Input((8, 8, 3), name="pixels")
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = LocalResponseNormalization()(x)
    outputs = keras.layers.GlobalAveragePooling2D(name="features")(x)
    path = str(tmp_path / "lrn.keras")
    keras.Model(inputs, outputs).save(path)
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    done = subprocess.run(
        [sys.executable, "-m", "keras_apps.cli", "export", path, str(tmp_path / "m")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": repo},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "exported version 1" in done.stdout
    assert "output features: float32 [None, 4]" in done.stdout


def test_export_command_trusts_saved_models_only_when_told(tmp_path, capsys):
    from keras_apps.layers import HubBackbone
    from keras_apps.transfer.backbones import export_hub_module

    inputs = keras.Input((4,))
    inner = keras.Model(inputs, keras.layers.Dense(3)(inputs))
    handle = export_hub_module(inner, tmp_path / "hub")
    path = str(tmp_path / "with_hub.keras")
    keras.Sequential([keras.Input((4,)), HubBackbone(handle)]).save(path)
    base = str(tmp_path / "served")
    assert cli.main(["export", path, base, "--no-validate"]) == 1
    assert "--trust-saved-models" in capsys.readouterr().err
    args = ["export", path, base, "--no-validate", "--trust-saved-models"]
    assert cli.main(args) == 0
    assert "exported version 1" in capsys.readouterr().out


def test_export_command_serves_a_generator_as_uint8_images(tmp_path, capsys):
    from keras_apps.models import dcgan_generator

    keras.utils.set_random_seed(0)
    generator = dcgan_generator(4, 16, 1, base_filters=4)  # tanh: [-1, 1]
    path = str(tmp_path / "generator.keras")
    generator.save(path)
    base = str(tmp_path / "generator")
    assert cli.main(["export", path, base, "--uint8-outputs", "-1", "1"]) == 0
    out = capsys.readouterr().out
    assert "output images: uint8 [None, 16, 16, 1]" in out
    latents = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    served = tf.saved_model.load(os.path.join(base, "1")).signatures["serving_default"]
    assert served.structured_outputs["images"].dtype == tf.uint8
    images = served(latents=tf.constant(latents))["images"].numpy()
    assert images.dtype == np.uint8 and images.shape == (8, 16, 16, 1)
    floats = np.asarray(generator(latents, training=False), "float64")
    expected = np.round(np.clip((floats + 1.0) * 127.5, 0, 255))
    steps = np.abs(images.astype("int64") - expected)
    assert steps.max() <= 1 and steps.mean() < 0.01  # rounding boundaries only
    assert images.max() > images.min()

    assert cli.main(["export", path, base, "--uint8-outputs", "1", "-1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("keras-apps export: ") and "low < high" in err
