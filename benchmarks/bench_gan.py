"""GAN `fit` steps per second: ours vs the keras.io way; compiled vs eager.

(a) The textbook GAN is the Keras 3 DCGAN example of keras.io ("DCGAN to
    generate face images"): a `keras.Model` subclass whose `train_step`
    concatenates generated and real images into one discriminator batch with
    noisy labels, then updates the generator through the discriminator. Both
    models get the same generator and discriminator (`dcgan_generator` /
    `dcgan_discriminator` at 28x28, no normalization, as keras.io), the same
    optimizers and the same batches; `GAN` also runs two discriminator calls
    (real and fake apart), a stateless generator call and four trackers.
    Target: ours not slower, steps/s ratio >= 0.95.
(b) `GAN.fit` compiled (the default) vs ``run_eagerly=True``: >= 3x.

Steps per second come from `fit` over a fixed number of steps of a repeated
`tf.data` pipeline, timed alternately (`interleaved_medians`), after a
warm-up fit that traces the train function.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks.harness import Result, interleaved_medians  # noqa: E402
from keras_apps.models import GAN, dcgan_discriminator, dcgan_generator  # noqa: E402

LATENT_DIM = 64
IMAGE_SIZE = 28
BATCH = 64


class TextbookGAN(keras.Model):
    """The GAN of keras.io's Keras 3 DCGAN example, unchanged but for names."""

    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.seed_generator = keras.random.SeedGenerator(1337)

    def compile(self, d_optimizer, g_optimizer, loss_fn, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn
        self.d_loss_metric = keras.metrics.Mean(name="d_loss")
        self.g_loss_metric = keras.metrics.Mean(name="g_loss")

    @property
    def metrics(self):
        return [self.d_loss_metric, self.g_loss_metric]

    def train_step(self, real_images):
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
        )
        labels += 0.05 * tf.random.uniform(tf.shape(labels))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=True)
        )
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply_gradients(
            zip(grads, self.generator.trainable_weights, strict=True)
        )
        self.d_loss_metric.update_state(d_loss)
        self.g_loss_metric.update_state(g_loss)
        return {
            "d_loss": self.d_loss_metric.result(),
            "g_loss": self.g_loss_metric.result(),
        }


def _networks():
    return (
        dcgan_generator(LATENT_DIM, IMAGE_SIZE, 1, base_filters=32, norm=None),
        dcgan_discriminator(IMAGE_SIZE, 1, base_filters=32),
    )


def _optimizers():
    return keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(
        2e-4, beta_1=0.5
    )


def _dataset():
    images = np.random.default_rng(0).uniform(
        -1, 1, (8 * BATCH, IMAGE_SIZE, IMAGE_SIZE, 1)
    )
    return (
        tf.data.Dataset.from_tensor_slices(images.astype("float32"))
        .batch(BATCH, drop_remainder=True)
        .repeat()
        .prefetch(2)
    )


def _fitter(model, dataset, steps):
    def fit():
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)

    return fit


def run(steps: int = 20, eager_steps: int = 4, repeats: int = 5) -> list[Result]:
    dataset = _dataset()
    keras.utils.set_random_seed(0)
    generator, discriminator = _networks()
    ours = GAN(generator, discriminator, LATENT_DIM, seed=0)
    d_opt, g_opt = _optimizers()
    ours.compile(d_optimizer=d_opt, g_optimizer=g_opt)

    keras.utils.set_random_seed(0)
    generator, discriminator = _networks()
    textbook = TextbookGAN(discriminator, generator, LATENT_DIM)
    d_opt, g_opt = _optimizers()
    textbook.compile(
        d_optimizer=d_opt,
        g_optimizer=g_opt,
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    textbook_s, ours_s = interleaved_medians(
        _fitter(textbook, dataset, steps), _fitter(ours, dataset, steps), repeats, 1
    )

    keras.utils.set_random_seed(0)
    generator, discriminator = _networks()
    eager = GAN(generator, discriminator, LATENT_DIM, seed=0)
    d_opt, g_opt = _optimizers()
    eager.compile(d_optimizer=d_opt, g_optimizer=g_opt, run_eagerly=True)
    eager_s, compiled_s = interleaved_medians(
        _fitter(eager, dataset, eager_steps),
        _fitter(ours, dataset, eager_steps),
        repeats,
        1,
    )
    setting = (
        f"{IMAGE_SIZE}x{IMAGE_SIZE}x1, batch {BATCH}, latent {LATENT_DIM}, "
        f"{ours.count_params():,} parameters"
    )
    return [
        Result(
            name="gan vs keras.io gan",
            a_label="keras.io train_step (steps/s)",
            a_seconds=textbook_s / steps,
            b_label="GAN.fit",
            b_seconds=ours_s / steps,
            ratio=textbook_s / ours_s,
            minimum=0.95,
            note=f"seconds per step; ratio = ours steps/s / keras.io steps/s; "
            f"{setting}",
        ),
        Result(
            name="gan compiled vs eager",
            a_label="run_eagerly=True",
            a_seconds=eager_s / eager_steps,
            b_label="compiled",
            b_seconds=compiled_s / eager_steps,
            ratio=eager_s / compiled_s,
            minimum=3.0,
            note=f"seconds per step over {eager_steps}-step fits",
        ),
    ]
