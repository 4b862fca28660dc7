import keras
import numpy as np
import pytest

from keras_apps.losses import (
    gan_discriminator_loss,
    gan_generator_loss,
    gradient_penalty,
    interpolate,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)


def _np_bce_logits(target, logits):
    # Numerically the definition: -t log s(x) - (1 - t) log(1 - s(x)).
    s = 1.0 / (1.0 + np.exp(-logits))
    return np.mean(-(target * np.log(s) + (1 - target) * np.log(1 - s)))


def _f(x):
    return float(keras.ops.convert_to_numpy(x))


def test_discriminator_loss_is_one_sided_smoothed_bce():
    for smoothing in (0.0, 0.1, 0.3):
        _check_smoothing(smoothing)


def _check_smoothing(smoothing):
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(8, 1)), rng.normal(size=(8, 1))
    expected = _np_bce_logits(1 - smoothing, real) + _np_bce_logits(0.0, fake)
    got = gan_discriminator_loss(
        real.astype("float32"), fake.astype("float32"), smoothing
    )
    np.testing.assert_allclose(_f(got), expected, rtol=1e-5)


def test_generator_loss_is_non_saturating():
    fake = np.array([[-3.0], [0.0], [2.0]], "float32")
    np.testing.assert_allclose(
        _f(gan_generator_loss(fake)), np.mean(np.log1p(np.exp(-fake))), rtol=1e-5
    )


def test_losses_accept_per_sample_loss_functions():
    per_sample = keras.losses.BinaryCrossentropy(from_logits=True, reduction="none")
    real, fake = np.ones((4, 1), "float32"), -np.ones((4, 1), "float32")
    np.testing.assert_allclose(
        _f(gan_discriminator_loss(real, fake, loss_fn=per_sample)),
        _f(gan_discriminator_loss(real, fake)),
        rtol=1e-6,
    )


def test_wasserstein_losses():
    real = np.array([[1.0], [3.0]], "float32")
    fake = np.array([[-1.0], [0.0]], "float32")
    assert _f(wasserstein_critic_loss(real, fake)) == pytest.approx(-0.5 - 2.0)
    assert _f(wasserstein_generator_loss(fake)) == pytest.approx(0.5)


def test_interpolate_one_alpha_per_sample():
    real = np.zeros((3, 2, 2, 1), "float32")
    fake = np.ones((3, 2, 2, 1), "float32")
    mixed = keras.ops.convert_to_numpy(interpolate(real, fake, [0.0, 0.25, 1.0]))
    np.testing.assert_allclose(mixed[:, 0, 0, 0], [0.0, 0.25, 1.0])
    assert np.all(mixed == mixed[:, :1, :1, :])


def test_gradient_penalty_equals_numpy():
    grads = np.random.default_rng(1).normal(size=(5, 4, 4, 2)).astype("float32")
    norms = np.sqrt(np.sum(grads.astype("float64") ** 2, axis=(1, 2, 3)) + 1e-12)
    expected = np.mean((norms - 1.0) ** 2)
    np.testing.assert_allclose(_f(gradient_penalty(grads)), expected, rtol=1e-5)


def test_gradient_penalty_epsilon_keeps_zero_gradients_finite():
    zeros = np.zeros((2, 3, 3, 1), "float32")
    assert _f(gradient_penalty(zeros)) == pytest.approx(1.0, abs=1e-5)
