"""Overhead of per-layer learning rates on a training step.

A small CNN classifier (3 conv layers + head, 32x32x3 inputs, batch 32) takes
training steps through ``model.train_on_batch`` (the compiled train function)
with plain Adam (A) and with `layerwise_learning_rates` wrapping the same
Adam with three non-zero multipliers (B; a factor of 0 would skip updates
and flatter B). The ratio B / A is the overhead per step; the per-variable
factors are Python constants baked into the traced step, so the target is
<= 1.10.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.transfer import layerwise_learning_rates  # noqa: E402

STEPS_PER_CALL = 10


def _model() -> keras.Model:
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Conv2D(16, 3, activation="relu", name="block1_conv"),
            keras.layers.Conv2D(16, 3, activation="relu", name="block2_conv"),
            keras.layers.Conv2D(16, 3, activation="relu", name="block3_conv"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(10, name="head"),
        ]
    )


def run() -> list[Result]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, 32)
    keras.utils.set_random_seed(0)
    plain = _model()
    plain.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    layerwise = _model()
    layerwise.set_weights(plain.get_weights())
    layerwise.compile(
        optimizer=layerwise_learning_rates(
            keras.optimizers.Adam(1e-3),
            {"block1*": 0.01, "block2*": 0.1, "block3*": 0.3},
        ),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )

    def steps(model: keras.Model) -> None:
        for _ in range(STEPS_PER_CALL):
            model.train_on_batch(x, y)

    a, b = interleaved_medians(
        lambda: steps(plain), lambda: steps(layerwise), repeats=15, warmup=2
    )
    return [
        Result(
            name="transfer: layer-wise LR step",
            a_label="Adam",
            a_seconds=a / STEPS_PER_CALL,
            b_label="layerwise Adam",
            b_seconds=b / STEPS_PER_CALL,
            ratio=b / a,
            maximum=1.10,
            note="per train_on_batch step, small CNN, batch 32 of 32x32x3",
        )
    ]
