"""VAE training speed: compiled vs eager, and ours vs the keras.io textbook VAE.

`keras_apps.models.VAE` computes its loss in ``compute_loss`` and lets Keras'
standard ``train_step`` do the rest. Two claims, each timed side by side on
``fit`` over the same batches of 8x8 digit-sized inputs:

(a) compiled (the default ``tf.function`` train step) against
    ``run_eagerly=True``: at least 3x more steps per second;
(b) against the textbook VAE of the Keras examples (keras.io "Variational
    AutoEncoder": a ``keras.Model`` subclass with a hand-written
    ``tf.GradientTape`` ``train_step`` and three ``Mean`` trackers), same
    encoder and decoder architecture, same optimizer: ours is not slower
    (time ratio textbook / ours >= 0.95).
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.models import VAE  # noqa: E402

BATCH = 64
STEPS = 20
LATENT = 2


def _parts() -> tuple[keras.Model, keras.Model]:
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(128, activation="relu")(h)
    encoder = keras.Model(
        inputs, [keras.layers.Dense(LATENT)(h), keras.layers.Dense(LATENT)(h)]
    )
    z = keras.Input((LATENT,))
    h = keras.layers.Dense(128, activation="relu")(z)
    h = keras.layers.Dense(256, activation="relu")(h)
    h = keras.layers.Dense(64, activation="sigmoid")(h)
    decoder = keras.Model(z, keras.layers.Reshape((8, 8, 1))(h))
    return encoder, decoder


class TextbookSampling(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        epsilon = keras.random.normal(keras.ops.shape(z_mean), seed=self.seed_generator)
        return z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon


class TextbookVAE(keras.Model):
    """The keras.io VAE: hand-written GradientTape train_step (TensorFlow)."""

    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.sampling = TextbookSampling()
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [
            self.total_loss_tracker,
            self.reconstruction_loss_tracker,
            self.kl_loss_tracker,
        ]

    def train_step(self, data):
        with tf.GradientTape() as tape:
            z_mean, z_log_var = self.encoder(data)
            z = self.sampling([z_mean, z_log_var])
            reconstruction = self.decoder(z)
            reconstruction_loss = keras.ops.mean(
                keras.ops.sum(
                    keras.losses.binary_crossentropy(data, reconstruction),
                    axis=(1, 2),
                )
            )
            kl_loss = -0.5 * (
                1 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var)
            )
            kl_loss = keras.ops.mean(keras.ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights, strict=True))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {m.name: m.result() for m in self.metrics}


def _data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.random((BATCH * STEPS, 8, 8, 1)).astype("float32")


def _fit(model: keras.Model, x: np.ndarray):
    return lambda: model.fit(x, epochs=1, batch_size=BATCH, shuffle=False, verbose=0)


def run(repeats: int = 5) -> list[Result]:
    x = _data()
    keras.utils.set_random_seed(0)
    compiled = VAE(*_parts(), seed=0)
    compiled.compile(optimizer="adam")
    eager = VAE(*_parts(), seed=0)
    eager.compile(optimizer="adam", run_eagerly=True)
    compiled_s, eager_s = interleaved_medians(
        _fit(compiled, x), _fit(eager, x), repeats=repeats, warmup=1
    )
    ours = VAE(*_parts(), seed=0)
    ours.compile(optimizer="adam")
    textbook = TextbookVAE(*_parts())
    textbook.compile(optimizer="adam")
    ours_s, textbook_s = interleaved_medians(
        _fit(ours, x), _fit(textbook, x), repeats=repeats, warmup=1
    )
    per_step = f"{STEPS} steps of batch {BATCH} per fit"
    return [
        Result(
            name="vae: compiled vs eager fit",
            a_label="run_eagerly",
            a_seconds=eager_s,
            b_label="compiled",
            b_seconds=compiled_s,
            ratio=eager_s / compiled_s,
            minimum=3.0,
            note=per_step,
        ),
        Result(
            name="vae: ours vs keras.io textbook",
            a_label="textbook",
            a_seconds=textbook_s,
            b_label="keras_apps VAE",
            b_seconds=ours_s,
            ratio=textbook_s / ours_s,
            minimum=0.95,
            note=per_step + "; same architecture and optimizer",
        ),
    ]


if __name__ == "__main__":
    from benchmarks.harness import format_table

    print(format_table(run()))
