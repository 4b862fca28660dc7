"""The same transfer recipe on one device and scaled out gives the same weights.

The recipe: `build_classifier` on a small backbone, `layerwise_learning_rates`
and `GradualUnfreezing`, trained for three epochs on a fixed global batch.
It runs under `tf.distribute.MirroredStrategy` (two logical CPUs), under
`tf.distribute.MultiWorkerMirroredStrategy` with two worker processes on
127.0.0.1, and on JAX under `keras.distribution.DataParallel` over two
virtual CPU devices; each must end where one device ends, within tolerance.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

GLOBAL_BATCH = 8
EPOCHS = 3
ATOL = 2e-5
RTOL = 1e-4


def recipe() -> keras.Model:
    """A compiled classifier: backbone + head, layer-wise rates, SGD."""
    from keras_apps.transfer import build_classifier, layerwise_learning_rates

    backbone = keras.Sequential(
        [
            keras.Input((6, 6, 1)),
            keras.layers.Conv2D(4, 3, name="conv1"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.ReLU(name="relu"),
            keras.layers.Conv2D(4, 3, name="conv2"),
        ],
        name="backbone",
    )
    model = build_classifier(backbone, 3, dropout=0.0)
    optimizer = layerwise_learning_rates(
        keras.optimizers.SGD(0.05, momentum=0.9), {"conv1": 0.1}, model=model
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(32, 6, 6, 1)).astype("float32")
    return x, (np.arange(32) % 3).astype("int32")


def initial_weights() -> list[np.ndarray]:
    keras.utils.set_random_seed(7)
    return recipe().get_weights()


def train(model: keras.Model, dataset=None) -> list[np.ndarray]:
    """Three epochs with GradualUnfreezing: conv2 joins at 1, conv1 at 2."""
    from keras_apps.callbacks import GradualUnfreezing

    callback = GradualUnfreezing(every_n_epochs=1, layer="backbone")
    if dataset is None:
        x, y = data()
        model.fit(
            x,
            y,
            batch_size=GLOBAL_BATCH,
            epochs=EPOCHS,
            shuffle=False,
            verbose=0,
            callbacks=[callback],
        )
    else:
        model.fit(dataset, epochs=EPOCHS, verbose=0, callbacks=[callback])
    assert callback.unfrozen_at == {"conv2": 1, "conv1": 2}, callback.unfrozen_at
    return model.get_weights()


def one_device() -> list[np.ndarray]:
    model = recipe()
    model.set_weights(initial_weights())
    return train(model)


def _assert_same_weights(actual, expected, what):
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        np.testing.assert_allclose(
            a, e, atol=ATOL, rtol=RTOL, err_msg=f"{what}: weight #{index}"
        )
    # The recipe trains: the weights moved away from their initial values.
    start = initial_weights()
    assert any(not np.allclose(a, s) for a, s in zip(actual, start, strict=True))


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_mirrored_strategy_matches_one_device(mirrored_strategy):
    expected = one_device()
    start = initial_weights()
    with mirrored_strategy.scope():
        model = recipe()
        model.set_weights(start)
    assert mirrored_strategy.num_replicas_in_sync == 2
    _assert_same_weights(train(model), expected, "MirroredStrategy")


_WORKER = """
import importlib.util, json, os, sys
import numpy as np
import tensorflow as tf
spec = importlib.util.spec_from_file_location("scaling", sys.argv[1])
scaling = importlib.util.module_from_spec(spec)
spec.loader.exec_module(scaling)
from keras_apps.transfer import multi_worker_mirrored_strategy
strategy = multi_worker_mirrored_strategy()
start = scaling.initial_weights()
with strategy.scope():
    model = scaling.recipe()
    model.set_weights(start)
x, y = scaling.data()
dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(scaling.GLOBAL_BATCH)
options = tf.data.Options()
options.experimental_distribute.auto_shard_policy = (
    tf.data.experimental.AutoShardPolicy.DATA
)
weights = scaling.train(model, dataset.with_options(options))
task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
np.savez(os.path.join(sys.argv[2], f"worker{task}.npz"), *weights)
print("replicas", strategy.num_replicas_in_sync)
"""


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="tf.distribute.MultiWorkerMirroredStrategy")
def test_multi_worker_mirrored_strategy_matches_one_device(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    root = Path(__file__).resolve().parents[2]
    workers = []
    for index in range(2):
        env = {
            **os.environ,
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PYTHONPATH": str(root),
            "TF_CONFIG": json.dumps(
                {"cluster": cluster, "task": {"type": "worker", "index": index}}
            ),
        }
        workers.append(
            subprocess.Popen(
                [sys.executable, str(script), __file__, str(tmp_path)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    outputs = []
    try:
        for worker in workers:
            outputs.append(worker.communicate(timeout=240))
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (out, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]
        assert "replicas 2" in out
    expected = one_device()
    for index in range(2):
        with np.load(tmp_path / f"worker{index}.npz") as saved:
            actual = [saved[f"arr_{i}"] for i in range(len(saved.files))]
        _assert_same_weights(actual, expected, f"MultiWorkerMirroredStrategy {index}")


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="keras.distribution runs on JAX"
)
def test_jax_data_parallel_matches_one_device():
    import jax

    devices = jax.devices("cpu")
    assert len(devices) >= 2, "conftest sets XLA_FLAGS for two CPU devices"
    expected = one_device()
    start = initial_weights()
    distribution = keras.distribution.DataParallel(devices=devices[:2])
    keras.distribution.set_distribution(distribution)
    try:
        model = recipe()
        model.set_weights(start)
        kernel = model.get_layer("head").kernel
        assert len(kernel.value.sharding.device_set) == 2  # replicated on both
        actual = train(model)
    finally:
        keras.distribution.set_distribution(None)
    _assert_same_weights(actual, expected, "DataParallel")


@pytest.mark.skipif(
    keras.backend.backend() == "tensorflow", reason="checks the other backends' error"
)
def test_multi_worker_strategy_needs_tensorflow():
    from keras_apps.transfer import multi_worker_mirrored_strategy

    with pytest.raises(NotImplementedError, match="KERAS_BACKEND=tensorflow"):
        multi_worker_mirrored_strategy()
