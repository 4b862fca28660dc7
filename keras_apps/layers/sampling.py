"""The reparameterization trick of the variational autoencoder."""

from __future__ import annotations

from typing import Any

import keras

from keras_apps import _backend
from keras_apps.api_export import keras_apps_export
from keras_apps.types import Shape, Tensor


@keras_apps_export("keras_apps.layers.Sampling")
class Sampling(keras.layers.Layer):
    """Draws ``z ~ N(z_mean, exp(z_log_var))`` with the reparameterization trick.

    ``z = z_mean + exp(0.5 * z_log_var) * eps`` with ``eps ~ N(0, I)`` drawn
    from ``keras.random.normal`` with the layer's own
    ``keras.random.SeedGenerator``, so gradients flow to ``z_mean`` and
    ``z_log_var`` (Kingma and Welling 2014, section 2.4). The layer samples
    in training and in inference alike; take ``z_mean`` when a
    deterministic code is wanted.

    Two fresh layers with the same integer ``seed`` draw the same sequence
    of noise; each call advances the generator, so successive calls draw
    new noise. With ``seed=None`` the generator is seeded at random (from
    ``keras.utils.set_random_seed`` when that was called).

    Args:
        seed: Optional int seed of the noise generator. Stored in the config.
        **kwargs: Base layer keyword arguments (``name``, ``dtype``, ...).

    Call arguments:
        inputs: A list or tuple ``[z_mean, z_log_var]`` of two tensors of
            the same shape.

    Input shape:
        Two tensors of the same shape, usually ``(batch, latent_dim)``.

    Output shape:
        The shape of ``z_mean``.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> z_mean = np.full((2, 3), 5.0, dtype="float32")
    >>> z_log_var = np.full((2, 3), -200.0, dtype="float32")  # std ~ 0
    >>> z = keras_apps.layers.Sampling(seed=0)([z_mean, z_log_var])
    >>> np.asarray(z).tolist()
    [[5.0, 5.0, 5.0], [5.0, 5.0, 5.0]]

    Reference:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014.
    """

    def __init__(self, seed: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ValueError(
                f"Expected `seed` to be None or an int. Received: seed={seed!r}"
            )
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape: Any) -> None:
        _check_shapes(input_shape)
        self.built = True

    def call(self, inputs: Any) -> Tensor:
        z_mean, z_log_var = inputs
        # Static shapes are checked at every call, not only at build time, so
        # that a z_log_var which would silently broadcast is refused.
        _check_shapes([tuple(z_mean.shape), tuple(z_log_var.shape)])
        if _backend.num_replicas() > 1:
            # Each replica of a tf.distribute strategy draws its own noise
            # (the same seed state would give every replica the same noise).
            import tensorflow as tf

            seed = _backend.per_replica_seed(self.seed_generator.next())
            epsilon = tf.random.stateless_normal(
                tf.shape(z_mean), seed=seed, dtype=z_mean.dtype
            )
        else:
            epsilon = keras.random.normal(
                keras.ops.shape(z_mean), dtype=z_mean.dtype, seed=self.seed_generator
            )
        return z_mean + keras.ops.exp(0.5 * z_log_var) * epsilon

    def compute_output_shape(self, input_shape: Any) -> Shape:
        mean_shape, _ = _check_shapes(input_shape)
        return tuple(mean_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"seed": self.seed})
        return config


def _check_shapes(input_shape: Any) -> tuple[Shape, Shape]:
    """Checks ``[mean_shape, log_var_shape]`` and returns the two shapes."""
    is_pair = (
        isinstance(input_shape, (list, tuple))
        and len(input_shape) == 2
        and all(isinstance(s, (list, tuple)) for s in input_shape)
    )
    if not is_pair:
        raise ValueError(
            "Sampling expects a list of two inputs, [z_mean, z_log_var]. "
            f"Received inputs of shape: {input_shape}"
        )
    mean_shape, log_var_shape = (tuple(s) for s in input_shape)
    compatible = len(mean_shape) == len(log_var_shape) and all(
        a is None or b is None or a == b
        for a, b in zip(mean_shape, log_var_shape, strict=True)
    )
    if not compatible:
        raise ValueError(
            "Sampling expects z_mean and z_log_var of the same shape (give "
            "the two encoder heads the same number of units). "
            f"Received: z_mean.shape={mean_shape}, z_log_var.shape={log_var_shape}"
        )
    return mean_shape, log_var_shape
