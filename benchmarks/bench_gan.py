"""GAN `fit` steps per second: ours vs the keras.io way; compiled vs eager.

(a) The textbook GAN is the `train_step` of keras.io's Keras 3 DCGAN example
    ("DCGAN to generate face images"): a `keras.Model` subclass that joins
    generated and real images into one discriminator batch, then updates the
    generator through the discriminator. Both models get the same generator
    and discriminator (`dcgan_generator` / `dcgan_discriminator` at 28x28,
    no normalization, as keras.io), the same optimizers, the same batches,
    one discriminator step per generator step and the same loss: binary
    cross-entropy on logits, real images labelled 1 and generated ones 0,
    the discriminator's loss the sum of its real and fake means. Two
    changes to keras.io's code make the work equal: its labels are the other
    way round and get uniform noise (an extra random op that `GAN` has no
    counterpart for), and its loss is the mean over the joined batch (half
    of ours, so its gradients would be half). `GAN` does more bookkeeping
    (real and fake accuracy trackers, a saved latent seed stream), which it
    must carry at no visible cost. The benchmark checks that the two traced
    train steps do the same multiply-adds (convolutions and matrix products,
    forward and backward) and says so in its note. Target: ours not slower,
    steps/s ratio >= 0.95.
(b) `GAN.fit` compiled (the default) vs ``run_eagerly=True``: >= 3x.

Each timing is one `fit` over a fixed number of steps of a repeated
`tf.data` pipeline, after a warm-up fit that traces the train function. The
two sides are timed in rounds, in A B order on even rounds and B A on odd
ones so that drift hits both; the ratio is the median of the rounds'
ratios (robust to a round that another process slowed down), and the
seconds are the medians of each side.
"""

from __future__ import annotations

import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402

from benchmarks.harness import Result  # noqa: E402
from keras_apps.models import GAN, dcgan_discriminator, dcgan_generator  # noqa: E402

LATENT_DIM = 64
IMAGE_SIZE = 28
BATCH = 64


class TextbookGAN(keras.Model):
    """The GAN of keras.io's Keras 3 DCGAN example, with ours' labels and loss."""

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
        combined_images = ops.concatenate([real_images, generated_images], axis=0)
        # keras.io labels real 0 and fake 1 and adds 0.05 * uniform noise;
        # here real 1 and fake 0 without noise, as GAN (label_smoothing=0).
        labels = ops.concatenate(
            [ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0
        )
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            # The real mean plus the fake mean, as GAN (keras.io: their mean).
            d_loss = 2.0 * self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply_gradients(
            zip(grads, self.discriminator.trainable_weights, strict=True)
        )
        random_latent_vectors = keras.random.normal(
            shape=(batch_size, self.latent_dim), seed=self.seed_generator
        )
        misleading_labels = ops.ones((batch_size, 1))
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


def _paired_rounds(fn_a, fn_b, rounds, warmup=1):
    """Medians of both sides and the median of the rounds' ``a / b`` ratios."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    samples_a, samples_b = [], []
    for index in range(rounds):
        pair = {}
        for key, fn in (("a", fn_a), ("b", fn_b))[:: 1 if index % 2 == 0 else -1]:
            start = time.perf_counter()
            fn()
            pair[key] = time.perf_counter() - start
        samples_a.append(pair["a"])
        samples_b.append(pair["b"])
    ratios = [a / b for a, b in zip(samples_a, samples_b, strict=True)]
    return (
        statistics.median(samples_a),
        statistics.median(samples_b),
        statistics.median(ratios),
    )


def _multiply_adds(model):
    """Multiply-adds of the convolutions and matrix products of one traced
    ``train_step`` (forward and backward), from the graph's static shapes."""
    spec = tf.TensorSpec((BATCH, IMAGE_SIZE, IMAGE_SIZE, 1), "float32")
    graph = tf.function(model.train_step).get_concrete_function(spec).graph
    total = 0
    for op in graph.get_operations():
        if op.type == "MatMul":
            a = op.inputs[0].shape.as_list()
            contracted = a[0] if op.get_attr("transpose_a") else a[1]
            total += int(np.prod(op.outputs[0].shape.as_list())) * contracted
        elif op.type in ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"):
            filter_shape = (
                op.inputs[1].shape.as_list()
                if op.type != "Conv2DBackpropFilter"
                else op.outputs[0].shape.as_list()
            )
            per_output = int(np.prod(filter_shape[:3]))
            if op.type == "Conv2D":
                outputs = op.outputs[0].shape.as_list()
            else:
                outputs = op.inputs[2].shape.as_list()
            total += int(np.prod(outputs)) * per_output
    return total


def _compiled(model_type, **gan_kwargs):
    keras.utils.set_random_seed(0)
    generator, discriminator = _networks()
    d_opt, g_opt = _optimizers()
    if model_type is TextbookGAN:
        model = TextbookGAN(discriminator, generator, LATENT_DIM)
        model.compile(
            d_optimizer=d_opt,
            g_optimizer=g_opt,
            loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
        )
    else:
        model = GAN(generator, discriminator, LATENT_DIM, seed=0)
        model.compile(d_optimizer=d_opt, g_optimizer=g_opt, **gan_kwargs)
    return model


def run(steps: int = 10, eager_steps: int = 3, repeats: int = 9) -> list[Result]:
    dataset = _dataset()
    ours = _compiled(GAN)
    textbook = _compiled(TextbookGAN)
    work_ours, work_textbook = _multiply_adds(ours), _multiply_adds(textbook)
    textbook_s, ours_s, ratio = _paired_rounds(
        _fitter(textbook, dataset, steps), _fitter(ours, dataset, steps), repeats
    )

    eager = _compiled(GAN, run_eagerly=True)
    eager_s, compiled_s, eager_ratio = _paired_rounds(
        _fitter(eager, dataset, eager_steps),
        _fitter(ours, dataset, eager_steps),
        max(3, repeats // 3),
    )
    setting = (
        f"{IMAGE_SIZE}x{IMAGE_SIZE}x1, batch {BATCH}, latent {LATENT_DIM}, "
        f"{ours.count_params():,} parameters"
    )
    work = (
        f"equal multiply-adds per step ({work_ours / 1e9:.2f} G)"
        if work_ours == work_textbook
        else f"UNEQUAL multiply-adds per step: GAN {work_ours:,}, "
        f"keras.io {work_textbook:,}"
    )
    return [
        Result(
            name="gan vs keras.io gan",
            a_label="keras.io train_step",
            a_seconds=textbook_s / steps,
            b_label="GAN.fit",
            b_seconds=ours_s / steps,
            ratio=ratio,
            minimum=0.95,
            note=f"seconds per step; ratio = ours steps/s / keras.io steps/s, "
            f"median of {repeats} paired rounds of {steps}-step fits; {work}; "
            f"{setting}",
        ),
        Result(
            name="gan compiled vs eager",
            a_label="run_eagerly=True",
            a_seconds=eager_s / eager_steps,
            b_label="compiled",
            b_seconds=compiled_s / eager_steps,
            ratio=eager_ratio,
            minimum=3.0,
            note=f"seconds per step over {eager_steps}-step fits",
        ),
    ]
