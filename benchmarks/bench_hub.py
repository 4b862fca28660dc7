"""HubBackbone costs nothing at inference next to the same network in Keras.

A CNN is exported as a TF Hub style SavedModel (`export_hub_module`) and
loaded back through `HubBackbone`; the same CNN as native Keras layers is the
reference. Both models get the same head and are run the same way, one call
after the other: a ``tf.function`` forward pass, and ``predict_on_batch``.
Target: HubBackbone / native <= 1.1.
"""

from __future__ import annotations

import os
import tempfile

import keras
import numpy as np

from benchmarks.harness import Result, interleaved_medians

IMAGE_SHAPE = (64, 64, 3)
BATCH = 32
TARGET = 1.1


def _cnn() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(IMAGE_SHAPE),
            layers.Conv2D(32, 3, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Conv2D(64, 3, strides=2, padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.Conv2D(64, 3, strides=2, padding="same"),
            layers.ReLU(),
            layers.GlobalAveragePooling2D(),
        ],
        name="cnn",
    )


def _with_head(backbone: keras.layers.Layer, head: keras.layers.Dense) -> keras.Model:
    inputs = keras.Input(IMAGE_SHAPE)
    return keras.Model(inputs, head(backbone(inputs)))


def run() -> list[Result]:
    import tensorflow as tf

    from keras_apps.layers import HubBackbone
    from keras_apps.transfer.backbones import export_hub_module

    keras.utils.set_random_seed(0)
    cnn = _cnn()
    images = np.random.default_rng(0).uniform(0, 1, (BATCH, *IMAGE_SHAPE))
    images = images.astype("float32")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = export_hub_module(cnn, os.path.join(tmp, "cnn"))
        head = keras.layers.Dense(10)
        native = _with_head(cnn, head)
        hub = _with_head(HubBackbone(path), head)
        np.testing.assert_allclose(
            hub.predict_on_batch(images),
            native.predict_on_batch(images),
            atol=1e-4,
            err_msg="the two models must compute the same function",
        )

        hub_forward = tf.function(lambda x: hub(x, training=False))
        native_forward = tf.function(lambda x: native(x, training=False))
        hub_seconds, native_seconds = interleaved_medians(
            lambda: hub_forward(images).numpy(),
            lambda: native_forward(images).numpy(),
            repeats=30,
            warmup=3,
        )
        results.append(
            Result(
                name="hub_backbone forward (tf.function)",
                a_label="HubBackbone",
                a_seconds=hub_seconds,
                b_label="native Keras",
                b_seconds=native_seconds,
                ratio=hub_seconds / native_seconds,
                maximum=TARGET,
                note=f"CNN {IMAGE_SHAPE} batch {BATCH}, CPU/GPU as available",
            )
        )
        hub_seconds, native_seconds = interleaved_medians(
            lambda: hub.predict_on_batch(images),
            lambda: native.predict_on_batch(images),
            repeats=30,
            warmup=3,
        )
        results.append(
            Result(
                name="hub_backbone predict_on_batch",
                a_label="HubBackbone",
                a_seconds=hub_seconds,
                b_label="native Keras",
                b_seconds=native_seconds,
                ratio=hub_seconds / native_seconds,
                maximum=TARGET,
            )
        )
    return results
