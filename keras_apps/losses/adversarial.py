"""GAN and WGAN-GP losses as plain functions of discriminator outputs (keras.ops).

They run on every backend; the train steps of `keras_apps.models.GAN` and
`keras_apps.models.WGANGP` call them, and tests check them against NumPy.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

DEFAULT_EPSILON = 1e-12
"""The epsilon inside the square root of the gradient norm (WGAN-GP)."""


def _default_loss(loss_fn: Any) -> Any:
    if loss_fn is None:
        return keras.losses.BinaryCrossentropy(from_logits=True)
    return loss_fn


def gan_discriminator_loss(
    real_logits: Any,
    fake_logits: Any,
    label_smoothing: float = 0.0,
    loss_fn: Any = None,
) -> Any:
    """The discriminator's loss: real images labelled real, generated ones fake.

    ``loss_fn(1 - label_smoothing, real_logits) + loss_fn(0, fake_logits)``.
    One-sided label smoothing (Salimans et al. 2016) lowers only the real
    target; the fake target stays 0. Each term is averaged over the batch
    (``ops.mean`` of what ``loss_fn`` returns), so ``loss_fn`` may reduce or
    return one value per sample.

    Args:
        real_logits: Discriminator outputs on real images, ``(batch, 1)``.
        fake_logits: Discriminator outputs on generated images.
        label_smoothing: In [0, 1). Defaults to 0.
        loss_fn: ``loss_fn(y_true, y_pred)``; defaults to
            ``keras.losses.BinaryCrossentropy(from_logits=True)``.

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import gan_discriminator_loss
    >>> loss = gan_discriminator_loss(np.zeros((2, 1)), np.zeros((2, 1)))
    >>> round(float(loss), 4)  # 2 log 2
    1.3863
    """
    loss_fn = _default_loss(loss_fn)
    real_logits = ops.convert_to_tensor(real_logits)
    fake_logits = ops.convert_to_tensor(fake_logits)
    real_target = ops.full_like(real_logits, 1.0 - label_smoothing)
    fake_target = ops.zeros_like(fake_logits)
    return ops.mean(loss_fn(real_target, real_logits)) + ops.mean(
        loss_fn(fake_target, fake_logits)
    )


def gan_generator_loss(fake_logits: Any, loss_fn: Any = None) -> Any:
    """The generator's non-saturating loss: its images labelled real.

    ``loss_fn(1, fake_logits)``, that is ``-log D(G(z))`` for the default
    binary cross-entropy (Goodfellow et al. 2014, section 3).

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import gan_generator_loss
    >>> round(float(gan_generator_loss(np.zeros((2, 1)))), 4)  # log 2
    0.6931
    """
    loss_fn = _default_loss(loss_fn)
    fake_logits = ops.convert_to_tensor(fake_logits)
    return ops.mean(loss_fn(ops.ones_like(fake_logits), fake_logits))


def wasserstein_critic_loss(real_scores: Any, fake_scores: Any) -> Any:
    """``mean(critic(fake)) - mean(critic(real))`` (Arjovsky et al. 2017).

    Example:

    >>> from keras_apps.losses import wasserstein_critic_loss
    >>> float(wasserstein_critic_loss([[2.0], [4.0]], [[1.0], [1.0]]))
    -2.0
    """
    return ops.mean(ops.convert_to_tensor(fake_scores)) - ops.mean(
        ops.convert_to_tensor(real_scores)
    )


def wasserstein_generator_loss(fake_scores: Any) -> Any:
    """``-mean(critic(fake))``.

    Example:

    >>> from keras_apps.losses import wasserstein_generator_loss
    >>> float(wasserstein_generator_loss([[1.0], [3.0]]))
    -2.0
    """
    return -ops.mean(ops.convert_to_tensor(fake_scores))


def interpolate(real: Any, fake: Any, alpha: Any) -> Any:
    """``real + alpha * (fake - real)``, one ``alpha`` per sample.

    Args:
        real: Real images, ``(batch, ...)``.
        fake: Generated images of the same shape.
        alpha: Weights of shape ``(batch,)`` or ``(batch, 1, ...)``, in [0, 1].
    """
    real = ops.convert_to_tensor(real)
    fake = ops.convert_to_tensor(fake, dtype=real.dtype)
    alpha = ops.cast(ops.convert_to_tensor(alpha), real.dtype)
    alpha = ops.reshape(alpha, (-1,) + (1,) * (len(real.shape) - 1))
    return real + alpha * (fake - real)


def gradient_penalty(gradients: Any, epsilon: float = DEFAULT_EPSILON) -> Any:
    """``mean((sqrt(sum(g**2) + epsilon) - 1) ** 2)`` over the samples.

    The gradient penalty of WGAN-GP (Gulrajani et al. 2017, eq. 3) from the
    gradients of the critic with respect to its inputs at the interpolates.
    The norm of each sample's gradient is taken over all its axes; the
    ``epsilon`` inside the square root keeps the derivative of the norm
    finite where a gradient is zero (``sqrt`` has an infinite slope at 0,
    which makes NaNs in the critic's update; keras-io#910).

    Args:
        gradients: ``d critic(x) / d x`` at the interpolates, ``(batch, ...)``.
        epsilon: Added under the square root. Defaults to 1e-12.

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import gradient_penalty
    >>> round(float(gradient_penalty(np.full((2, 2, 2, 1), 0.5), 0.0)), 6)
    0.0
    """
    gradients = ops.convert_to_tensor(gradients)
    axes = tuple(range(1, len(gradients.shape)))
    norms = ops.sqrt(ops.sum(ops.square(gradients), axis=axes) + epsilon)
    return ops.mean(ops.square(norms - 1.0))
