"""Serving overhead and batching, through a LocalModelServer in a child process.

1. A model that takes about 50 ms per call at batch 1: one Predict round trip
   through the local gRPC server (encode, send over loopback, run, answer,
   decode) against calling the same SavedModel signature in this process.
   Target: at most 3% slower (the issue's bound).
2. A small model on 32x32x3 inputs: 32 single-image requests against one
   batch-32 request. Target: the batch is at least 3x faster (throughput).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.export import export_for_serving, write_model_config  # noqa: E402
from keras_apps.serving import LocalModelServer, PredictClient  # noqa: E402


def _heavy_model() -> keras.Model:
    """About 50 ms per image on two CPU cores: ten 3x3 convs, 64 channels, 128x128."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((128, 128, 3), name="images")
    x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(inputs)
    for _ in range(9):
        x = keras.layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="scores")(x))


def _small_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((32, 32, 3), name="images")
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(10, name="scores")(x))


def run() -> list[Result]:
    root = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    heavy = export_for_serving(_heavy_model(), root / "heavy", version=1)
    export_for_serving(_small_model(), root / "small", version=1)
    config = root / "models.config"
    write_model_config(
        str(config),
        [{"name": n, "base_path": str(root / n)} for n in ("heavy", "small")],
    )
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (1, 128, 128, 3)).astype("float32")
    small_batch = rng.uniform(0, 1, (32, 32, 32, 3)).astype("float32")
    signature = tf.saved_model.load(heavy.path).signatures["serving_default"]
    image_tensor = tf.constant(image)

    with (
        LocalModelServer.spawn(model_config_file=config) as server,
        PredictClient(server.target, "heavy", timeout=60) as heavy_client,
        PredictClient(server.target, "small", timeout=60) as small_client,
    ):
        served = heavy_client.predict(image)["scores"]
        local = signature(images=image_tensor)["scores"].numpy()
        np.testing.assert_allclose(served, local, atol=1e-5)
        grpc_s, local_s = interleaved_medians(
            lambda: heavy_client.predict(image),
            lambda: signature(images=image_tensor)["scores"].numpy(),
            repeats=40,
            warmup=5,
        )
        singles = [small_batch[i : i + 1] for i in range(32)]
        singles_s, batch_s = interleaved_medians(
            lambda: [small_client.predict(one) for one in singles],
            lambda: small_client.predict(small_batch),
            repeats=10,
            warmup=2,
        )
    return [
        Result(
            name="serving: gRPC round trip vs in-process signature (~50 ms model)",
            a_label="local server",
            a_seconds=grpc_s,
            b_label="in-process",
            b_seconds=local_s,
            ratio=grpc_s / local_s,
            maximum=1.03,
            note=f"overhead {1e3 * (grpc_s - local_s):.2f} ms per request",
        ),
        Result(
            name="serving: 32 single requests vs one batch-32 request (32x32x3)",
            a_label="32 x batch 1",
            a_seconds=singles_s,
            b_label="1 x batch 32",
            b_seconds=batch_s,
            ratio=singles_s / batch_s,
            minimum=3.0,
        ),
    ]
