"""StyleTransfer's optimisation step vs the textbook step, on VGG-19.

The textbook step (the course notebook, keras.io's original example) feeds
``[content, style, generated]`` through VGG-19 at every step and computes the
Gram matrices image by image (transpose, reshape, matmul). `StyleTransfer`
computes the content activations and the style Gram targets once, and its one
compiled step runs the network on the generated image only, with one batched
`GramMatrix` per layer. Both use the layers of Gatys et al. (content
``block4_conv2``, style ``block1_conv1 ... block5_conv1``), random weights,
the same Gatys normalization, Adam and clipping; their loss at step 1 must
agree within 1e-4 relative before anything is timed. The bound is about 3x
(the network runs on one image instead of three).
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.models import StyleTransfer  # noqa: E402
from keras_apps.transfer import feature_extractor, preset_layers  # noqa: E402

SIZES = (128, 256)
STYLE_WEIGHT = 1e4


def _textbook_gram(features: tf.Tensor) -> tf.Tensor:
    """The course's Gram matrix of one image: (H, W, C) -> (C, C)."""
    channels = tf.shape(features)[-1]
    flat = tf.reshape(tf.transpose(features, (2, 0, 1)), (channels, -1))
    return tf.matmul(flat, tf.transpose(flat))


def textbook_step(
    extractor: keras.Model,
    content: tf.Tensor,
    style: tf.Tensor,
    variable: tf.Variable,
    content_layers: list[str],
    style_layers: list[str],
    learning_rate: float,
):
    """The step of the course notebook, compiled with tf.function."""
    optimizer = keras.optimizers.Adam(learning_rate, epsilon=1e-8)

    def loss_fn() -> tf.Tensor:
        batch = tf.concat([content, style, variable], axis=0)
        features = extractor(batch, training=False)
        loss = tf.constant(0.0)
        for layer in content_layers:
            f = features[layer]
            loss += 0.5 * tf.reduce_sum(tf.square(f[2] - f[0]))
        for layer in style_layers:
            f = features[layer]
            shape = tf.shape(f)
            n = tf.cast(shape[3], tf.float32)
            m = tf.cast(shape[1] * shape[2], tf.float32)
            style_gram = _textbook_gram(f[1])
            generated_gram = _textbook_gram(f[2])
            e = tf.reduce_sum(tf.square(generated_gram - style_gram)) / (
                4.0 * n**2 * m**2
            )
            loss += STYLE_WEIGHT * e / len(style_layers)
        return loss

    @tf.function
    def step() -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = loss_fn()
        gradient = tape.gradient(loss, variable)
        optimizer.apply_gradients([(gradient, variable)])
        variable.assign(tf.clip_by_value(variable, 0.0, 255.0))
        return loss

    return step, tf.function(loss_fn)


def run(repeats: int = 3, sizes: tuple[int, ...] = SIZES) -> list[Result]:
    keras.utils.set_random_seed(0)
    content_layers, style_layers = (list(x) for x in preset_layers("vgg19"))
    extractor = feature_extractor("vgg19", weights=None)
    rng = np.random.default_rng(0)
    results = []
    for size in sizes:
        content = rng.uniform(0, 255, (1, size, size, 3)).astype("float32")
        style = rng.uniform(0, 255, (1, size, size, 3)).astype("float32")
        transfer = StyleTransfer(
            extractor, content_layers, style_layers, style_weight=STYLE_WEIGHT
        )
        loss = transfer.make_loss([style[0]], content_layers, style_layers)
        targets = loss.content_targets(content)
        ours_var = tf.Variable(content.copy())
        ours, _ = transfer.compiled_step(loss, targets, ours_var)
        book_var = tf.Variable(content.copy())
        book, book_loss = textbook_step(
            extractor,
            tf.constant(content),
            tf.constant(style),
            book_var,
            content_layers,
            style_layers,
            transfer.learning_rate,
        )
        # Same loss at step 1 (the content image as the start; perturb it so
        # that the content term is not zero).
        start = np.clip(content + rng.normal(0, 20, content.shape), 0, 255)
        ours_var.assign(start.astype("float32"))
        book_var.assign(start.astype("float32"))
        expected = float(book_loss())
        got = float(tf.reduce_sum(ours()["total"]))
        relative = abs(got - expected) / abs(expected)
        if relative > 1e-4:
            raise AssertionError(
                f"{size}x{size}: step-1 loss {got} (ours) vs {expected} "
                f"(textbook), relative difference {relative:.2e} > 1e-4"
            )

        def run_book(book: Any = book) -> None:
            book().numpy()

        def run_ours(ours: Any = ours) -> None:
            ours()["total"].numpy()

        book_s, ours_s = interleaved_medians(run_book, run_ours, repeats, warmup=1)
        results.append(
            Result(
                name=f"style step {size}x{size}",
                a_label="textbook [C, S, G] step",
                a_seconds=book_s,
                b_label="StyleTransfer step",
                b_seconds=ours_s,
                ratio=book_s / ours_s,
                minimum=2.5,
                note=(
                    f"VGG-19 random weights, 1 content + 5 style layers; step-1 "
                    f"loss agrees to {relative:.1e} relative"
                ),
            )
        )
    return results
