"""Inception block forward pass: 1x1 reductions ("reduced") against "naive".

Both blocks take a 28x28x192 input (GoogLeNet's inception 3 resolution),
have the same 1x1, 3x3 and 5x5 convolutions and the same 480 output
channels: the naive block passes the 192 pooled input channels through, the
reduced one projects them with 192 1x1 filters. The reduced block puts 1x1
reductions (32 before the 3x3, 16 before the 5x5) in front of the large
convolutions, which divides the multiply count by about 5.

Both forward passes run as compiled ``tf.function``s, as a served or trained
model runs; ``predict_on_batch`` would add several milliseconds of per-call
Keras overhead that is larger for the block with more (small) layers. The
time ratio stays below the multiply ratio because the 1x1 convolutions are
memory-bound on a CPU.
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.layers.inception_block import InceptionBlock  # noqa: E402
from keras_apps.utils import count_multiplies  # noqa: E402

INPUT_SHAPE = (28, 28, 192)
BATCH_SIZE = 32
CONVS = dict(filters_1x1=64, filters_3x3=128, filters_5x5=96)
REDUCTIONS = dict(reduce_3x3=32, reduce_5x5=16, pool_proj=INPUT_SHAPE[-1])


def _model(block: InceptionBlock) -> keras.Model:
    inputs = keras.Input(INPUT_SHAPE)
    return keras.Model(inputs, block(inputs))


def _compiled(model: keras.Model):
    @tf.function(jit_compile=False)
    def forward(x):
        return model(x, training=False)

    return forward


def run() -> list[Result]:
    keras.utils.set_random_seed(0)
    reduced = _model(InceptionBlock(**CONVS, **REDUCTIONS))
    naive = _model(InceptionBlock(**CONVS, pool_proj=None, mode="naive"))
    assert reduced.output_shape == naive.output_shape
    x = np.random.default_rng(0).standard_normal((BATCH_SIZE, *INPUT_SHAPE))
    x = tf.constant(x.astype("float32"))
    naive_forward = _compiled(naive)
    reduced_forward = _compiled(reduced)
    naive_seconds, reduced_seconds = interleaved_medians(
        lambda: naive_forward(x),
        lambda: reduced_forward(x),
        repeats=10,
        warmup=2,
    )
    naive_mults = count_multiplies(naive)
    reduced_mults = count_multiplies(reduced)
    return [
        Result(
            name=f"inception block forward, 28x28x192, batch {BATCH_SIZE}",
            a_label="naive",
            a_seconds=naive_seconds,
            b_label="reduced",
            b_seconds=reduced_seconds,
            ratio=naive_seconds / reduced_seconds,
            minimum=3.0,
            note=(
                f"multiplies per image: naive {naive_mults:,}, reduced "
                f"{reduced_mults:,} (ratio {naive_mults / reduced_mults:.2f}); "
                f"both output {naive.output_shape[-1]} channels"
            ),
        )
    ]
