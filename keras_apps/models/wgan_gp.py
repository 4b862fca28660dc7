"""WGAN-GP: a Wasserstein GAN whose critic is kept 1-Lipschitz by a gradient penalty."""

from __future__ import annotations

from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.losses.adversarial import (
    DEFAULT_EPSILON,
    gradient_penalty,
    interpolate,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from keras_apps.models.gan import GAN, batch_norm_layers, require_tensorflow


@keras_apps_export("keras_apps.models.WGANGP")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017).

    Each ``fit`` step makes ``n_critic`` critic steps, then one generator
    step. The critic minimizes ``mean(C(fake)) - mean(C(real)) + gp_weight *
    GP`` with ``GP = mean((||grad_x C(x_hat)||_2 - 1)**2)`` at the
    interpolates ``x_hat = real + alpha * (fake - real)``, where ``alpha`` is
    drawn **uniformly in [0, 1], one per sample** (the paper's algorithm 1;
    keras.io drew it from a normal distribution for three years,
    keras-io#143). The norm is ``sqrt(sum(g**2) + epsilon)``: the epsilon
    inside the square root keeps the penalty's gradient finite where the
    critic's gradient is zero (keras-io#910). The generator minimizes
    ``-mean(C(G(z)))``.

    The critic (the ``discriminator`` argument) returns one unbounded score
    per image and must treat samples independently: no batch normalization
    (use `keras_apps.models.dcgan_discriminator` with ``norm=None`` or
    ``"layer"``). The train step is TensorFlow-first, as in `GAN`; the penalty
    needs a second-order gradient (a tape inside the critic's tape).

    History keys: ``d_loss`` (critic loss with the penalty), ``g_loss``,
    ``gradient_penalty`` and ``wasserstein_estimate`` (``mean(C(real)) -
    mean(C(fake))``).

    Args:
        generator: A functional model from latents to images.
        discriminator: The critic, a functional model from images to one
            score per image.
        latent_dim: Size of the latent vectors, > 0.
        n_critic: Critic steps per generator step, >= 1. Defaults to 5.
        gp_weight: Weight of the gradient penalty (lambda), >= 0. Defaults
            to 10. At 0 the penalty is not computed at all (no interpolates,
            no second-order gradient) and ``gradient_penalty`` reports 0.
        epsilon: Added under the square root of the gradient norm, > 0.
            Defaults to 1e-12.
        noise: Latent prior, ``"normal"`` or ``"uniform"``.
        seed: Seed of the training latents and of ``alpha``.
        name: Model name. Defaults to ``"wgan_gp"``.
        **kwargs: ``discriminator_batches`` of `GAN` (the real and the
            generated batch meet the critic in one call by default) and
            further `keras.Model` arguments (``dtype``).

    Example:

    >>> import numpy as np
    >>> from keras_apps.models import WGANGP, dcgan_discriminator, dcgan_generator
    >>> wgan = WGANGP(dcgan_generator(8, image_size=16, base_filters=8),
    ...               dcgan_discriminator(16, base_filters=8),
    ...               latent_dim=8, n_critic=2, seed=0)
    >>> wgan.compile()
    >>> history = wgan.fit(np.zeros((4, 16, 16, 1), "float32"), batch_size=4,
    ...                    verbose=0)
    >>> sorted(history.history)
    ['d_loss', 'g_loss', 'gradient_penalty', 'wasserstein_estimate']

    Reference:
        Gulrajani et al. 2017, "Improved Training of Wasserstein GANs",
        https://arxiv.org/abs/1704.00028; Arjovsky et al. 2017,
        "Wasserstein GAN", https://arxiv.org/abs/1701.07875
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        n_critic: int = 5,
        gp_weight: float = 10.0,
        epsilon: float = DEFAULT_EPSILON,
        noise: str = "normal",
        seed: int | None = None,
        name: str = "wgan_gp",
        **kwargs: Any,
    ) -> None:
        errors = []
        if isinstance(n_critic, bool) or not isinstance(n_critic, int) or n_critic < 1:
            errors.append(
                "`n_critic` (critic steps per generator step) must be an integer "
                f">= 1. Received: n_critic={n_critic!r}"
            )
        if not isinstance(gp_weight, (int, float)) or gp_weight < 0:
            errors.append(
                f"`gp_weight` must be >= 0. Received: gp_weight={gp_weight!r}"
            )
        if not isinstance(epsilon, (int, float)) or not epsilon > 0:
            errors.append(
                "`epsilon` must be > 0 (it keeps the gradient norm's derivative "
                f"finite at zero gradients). Received: epsilon={epsilon!r}"
            )
        batch_norms = batch_norm_layers(discriminator)
        if batch_norms:
            errors.append(
                "The WGAN-GP critic must treat samples independently; its "
                "gradient penalty is per sample. Use norm=None or 'layer' "
                f"instead of BatchNormalization. Received a discriminator with "
                f"BatchNormalization layers {batch_norms}."
            )
        if errors:
            raise ValueError(" ".join(errors))
        super().__init__(
            generator,
            discriminator,
            latent_dim,
            noise=noise,
            d_steps=n_critic,
            seed=seed,
            name=name,
            **kwargs,
        )
        self.n_critic = n_critic
        self.gp_weight = float(gp_weight)
        self.epsilon = float(epsilon)

    def _make_trackers(self) -> None:
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.gp_tracker = keras.metrics.Mean(name="gradient_penalty")
        self.wasserstein_tracker = keras.metrics.Mean(name="wasserstein_estimate")

    @property
    def metrics(self) -> list[Any]:
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.gp_tracker,
            self.wasserstein_tracker,
        ]

    def _default_optimizers(self) -> tuple[Any, Any]:
        # Gulrajani et al. 2017, algorithm 1: Adam(1e-4, beta_1=0, beta_2=0.9).
        return (
            keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9, name="d_adam"),
            keras.optimizers.Adam(1e-4, beta_1=0.0, beta_2=0.9, name="g_adam"),
        )

    def _resolve_loss(self, loss_fn: Any) -> Any:
        if loss_fn is not None:
            raise ValueError(
                "WGANGP uses the Wasserstein critic and generator losses; "
                f"`loss_fn` must be None. Received: loss_fn={loss_fn!r}"
            )
        return None

    def discriminator_loss(self, real_logits: Any, fake_logits: Any) -> Any:
        """The critic's Wasserstein loss, without the penalty."""
        return wasserstein_critic_loss(real_logits, fake_logits)

    def generator_loss(self, fake_logits: Any) -> Any:
        return wasserstein_generator_loss(fake_logits)

    def interpolation_weights(self, batch_size: Any) -> Any:
        """``alpha``: one weight per sample, uniform in [0, 1] (TensorFlow-first)."""
        require_tensorflow("WGANGP.interpolation_weights")
        import tensorflow as tf

        return tf.random.stateless_uniform(
            tf.reshape(tf.cast(batch_size, "int32"), [1]), self._next_seed(), 0.0, 1.0
        )

    def gradient_penalty(
        self, real_images: Any, fake_images: Any, labels: Any = None, alpha: Any = None
    ) -> Any:
        """The penalty at ``real + alpha * (fake - real)`` (TensorFlow-first).

        Args:
            real_images: Real images.
            fake_images: Generated images of the same shape.
            labels: Labels for a conditional critic, or None.
            alpha: One weight per sample; default `interpolation_weights`.
        """
        require_tensorflow("WGANGP.gradient_penalty")
        import tensorflow as tf

        real_images = tf.convert_to_tensor(real_images)
        if alpha is None:
            alpha = self.interpolation_weights(tf.shape(real_images)[0])
        mixed = interpolate(real_images, fake_images, alpha)
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.discriminator(
                self._discriminator_inputs(mixed, labels), training=True
            )
        gradients = tape.gradient(scores, mixed)
        return gradient_penalty(gradients, self.epsilon)

    def _discriminator_objective(
        self, real: Any, fake: Any, labels: Any
    ) -> tuple[Any, Any, Any, dict[str, Any]]:
        real_scores, fake_scores = self._discriminate(real, fake, labels)
        loss = self.discriminator_loss(real_scores, fake_scores)
        if not self.gp_weight:
            # No penalty asked for: no interpolates, no second-order gradient.
            penalty = keras.ops.zeros((), dtype=loss.dtype)
            return loss, real_scores, fake_scores, {"gradient_penalty": penalty}
        penalty = self.gradient_penalty(real, fake, labels)
        loss = loss + self.gp_weight * penalty
        return loss, real_scores, fake_scores, {"gradient_penalty": penalty}

    def _update_discriminator_trackers(self, result: dict[str, Any]) -> None:
        import tensorflow as tf

        self.d_loss_tracker.update_state(result["d_loss"])
        self.gp_tracker.update_state(result["gradient_penalty"])
        self.wasserstein_tracker.update_state(
            tf.reduce_mean(result["real_logits"])
            - tf.reduce_mean(result["fake_logits"])
        )

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        for key in ("d_steps", "label_smoothing", "instance_noise"):
            config.pop(key)
        config.update(
            n_critic=self.n_critic, gp_weight=self.gp_weight, epsilon=self.epsilon
        )
        return config
