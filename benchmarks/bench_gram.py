"""GramMatrix on VGG-sized feature maps against the per-image loop of the course.

The style loss of Gatys et al. needs one Gram matrix per style layer and per
image. The usual course code (and the original Keras style-transfer example)
computes it image by image:

    features = tf.reshape(tf.transpose(x, (2, 0, 1)), (channels, -1))
    gram = tf.matmul(features, tf.transpose(features))

`GramMatrix` does all images of a layer in one batched contraction over the
positions, ``einsum("bhwc,bhwd->bcd")``. TensorFlow's Einsum kernel runs it
as one batched matmul over the maps viewed as (B, H*W, C), with the transpose
folded into the matmul's adjoint flag instead of copied. Here the five
feature maps of VGG19's style layers for a batch of four 256x256 images go
through one `tf.function`, against:

(a) the per-image, per-layer loop run eagerly, and
(b) the same loop traced into a `tf.function` (no Python overhead left; what
    remains is the transposed copies and the many small matmuls).

All three compute the same normalization (``1 / (H W)``) and are checked to
agree before timing. XLA (``jit_compile=True``) was measured slower than the
default TensorFlow kernels on the 2-core CPUs this runs on, so it is off by
default; ``run(jit_compile=True)`` measures it.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.layers.gram_matrix import GramMatrix  # noqa: E402

BATCH = 4
FEATURE_SHAPES = [
    (128, 128, 64),
    (64, 64, 128),
    (32, 32, 256),
    (16, 16, 512),
    (8, 8, 512),
]
"""(H, W, C) of VGG19 block1_conv1 ... block5_conv1 at 256x256 input."""


def _loop_gram(maps: list[tf.Tensor]) -> list[tf.Tensor]:
    """The course's Gram matrix, one image and one layer at a time."""
    grams = []
    for batch in maps:
        height, width, channels = batch.shape[1:]
        per_image = []
        for index in range(batch.shape[0]):
            x = tf.transpose(batch[index], (2, 0, 1))
            features = tf.reshape(x, (channels, -1))
            gram = tf.matmul(features, tf.transpose(features))
            per_image.append(gram / float(height * width))
        grams.append(tf.stack(per_image))
    return grams


def _materialize(outputs: list[tf.Tensor]) -> None:
    for output in outputs:
        output.numpy()


def run(repeats: int = 15, jit_compile: bool = False) -> list[Result]:
    rng = np.random.default_rng(0)
    maps = [
        tf.constant(rng.standard_normal((BATCH, *shape)).astype("float32"))
        for shape in FEATURE_SHAPES
    ]
    layer = GramMatrix(normalize="hw")

    @tf.function(jit_compile=jit_compile)
    def batched(inputs: list[tf.Tensor]) -> list[tf.Tensor]:
        return [layer(x) for x in inputs]

    traced_loop = tf.function(_loop_gram, jit_compile=jit_compile)

    expected = _loop_gram(maps)
    for name, outputs in [("GramMatrix", batched(maps)), ("loop", traced_loop(maps))]:
        for got, want in zip(outputs, expected, strict=True):
            np.testing.assert_allclose(
                got.numpy(), want.numpy(), rtol=1e-4, atol=1e-4, err_msg=name
            )

    def run_batched() -> None:
        _materialize(batched(maps))

    def run_eager_loop() -> None:
        _materialize(_loop_gram(maps))

    def run_traced_loop() -> None:
        _materialize(traced_loop(maps))

    shapes = ", ".join("x".join(map(str, s)) for s in FEATURE_SHAPES)
    note = (
        f"batch {BATCH}, maps {shapes}; one tf.function "
        f"(jit_compile={jit_compile}) with GramMatrix per map"
    )
    eager_s, ours_s = interleaved_medians(run_eager_loop, run_batched, repeats)
    traced_s, ours_s2 = interleaved_medians(run_traced_loop, run_batched, repeats)
    return [
        Result(
            name="gram vs eager loop",
            a_label="eager per-image loop",
            a_seconds=eager_s,
            b_label="GramMatrix",
            b_seconds=ours_s,
            ratio=eager_s / ours_s,
            minimum=2.0,
            note=note,
        ),
        Result(
            name="gram vs tf.function loop",
            a_label="tf.function per-image loop",
            a_seconds=traced_s,
            b_label="GramMatrix",
            b_seconds=ours_s2,
            ratio=traced_s / ours_s2,
            minimum=1.5,
            note="the same loop traced once into a tf.function",
        ),
    ]
