"""A denoising autoencoder: corrupts its input in training, reconstructs it clean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.models.autoencoder import Autoencoder
from keras_apps.types import Tensor

SEED_STATE_KEY = "seed_generator_state"
NOISE_KINDS = ("gaussian", "salt_and_pepper", "masking")


@keras_apps_export("keras_apps.models.DenoisingAutoencoder")
class DenoisingAutoencoder(Autoencoder):
    """An `Autoencoder` that sees corrupted inputs in training only.

    In training (``fit``, or a call with ``training=True``) each batch is
    corrupted with fresh noise before the encoder, and the loss compares the
    reconstruction with the clean batch (``x``, or ``y`` when given). At
    inference (``predict``, ``evaluate``, a plain call) the model is
    ``decoder(encoder(x))``: no noise at all. The noise is drawn with the
    model's own ``keras.random.SeedGenerator(seed)``, so two models built
    with the same integer seed corrupt the same way, and the training step is
    Keras' own (every backend, ``tf.distribute``).

    Noise kinds (Vincent et al. 2008, 2010):

    - ``"gaussian"``: ``x + noise_level * N(0, 1)``, clipped to
      ``value_range`` when ``clip=True``;
    - ``"salt_and_pepper"``: a fraction ``noise_level`` of the entries is set
      to the minimum or the maximum of ``value_range``, each with
      probability one half;
    - ``"masking"``: a fraction ``noise_level`` of the entries is set to 0.

    Args:
        encoder: A built Keras model from inputs to codes.
        decoder: A built Keras model from codes to the input shape.
        noise: One of ``"gaussian"`` (default), ``"salt_and_pepper"`` and
            ``"masking"``.
        noise_level: The standard deviation (gaussian) or the fraction of
            corrupted entries (in [0, 1]). Defaults to 0.3.
        value_range: ``(low, high)`` of the data. Defaults to ``(0, 1)``.
        clip: Clip gaussian-corrupted inputs to ``value_range``. Defaults to
            True.
        seed: Optional int seed of the noise generator.
        **kwargs: `Autoencoder` keyword arguments (``sparsity``, ...) and
            `keras.Model` ones (``name``, ``dtype``).

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> ae = keras_apps.models.dense_autoencoder((8, 8, 1), code_size=4)
    >>> dae = keras_apps.models.DenoisingAutoencoder(
    ...     ae.encoder, ae.decoder, noise="masking", noise_level=0.5, seed=0)
    >>> x = np.ones((2, 8, 8, 1), dtype="float32")
    >>> noisy = np.asarray(dae.corrupt(x))
    >>> 0.3 < float((noisy == 0).mean()) < 0.7
    True
    >>> bool(np.allclose(dae(x), ae(x)))  # no noise at inference
    True

    Reference:
        Vincent et al., "Extracting and Composing Robust Features with
        Denoising Autoencoders", ICML 2008; Vincent et al., "Stacked
        Denoising Autoencoders", JMLR 2010.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        noise: str = "gaussian",
        noise_level: float = 0.3,
        value_range: Sequence[float] = (0.0, 1.0),
        clip: bool = True,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        errors = []
        if noise not in NOISE_KINDS:
            errors.append(
                f"`noise` must be one of {NOISE_KINDS}. Received: noise={noise!r}"
            )
        level_ok = not isinstance(noise_level, bool) and isinstance(
            noise_level, (int, float)
        )
        if not level_ok or noise_level < 0:
            errors.append(
                "`noise_level` must be a number >= 0. "
                f"Received: noise_level={noise_level!r}"
            )
        elif noise in ("salt_and_pepper", "masking") and noise_level > 1:
            errors.append(
                f"`noise_level` is the fraction of corrupted entries for "
                f"noise={noise!r} and must lie in [0, 1]. "
                f"Received: noise_level={noise_level!r}"
            )
        if (
            isinstance(value_range, str)
            or len(tuple(value_range)) != 2
            or not float(value_range[0]) < float(value_range[1])
        ):
            errors.append(
                "`value_range` must be (low, high) with low < high. "
                f"Received: value_range={value_range!r}"
            )
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            errors.append(f"`seed` must be None or an int. Received: seed={seed!r}")
        if errors:
            raise ValueError(" ".join(errors))
        super().__init__(encoder, decoder, **kwargs)
        self.noise = noise
        self.noise_level = float(noise_level)
        self.value_range = (float(value_range[0]), float(value_range[1]))
        self.clip = bool(clip)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        if training:
            inputs = self.corrupt(inputs)
        return super().call(inputs, training=training)

    def corrupt(self, x: Any) -> Tensor:
        """Returns ``x`` with one fresh draw of the model's noise."""
        x = keras.ops.convert_to_tensor(x, dtype=self.compute_dtype)
        low, high = self.value_range
        shape = keras.ops.shape(x)
        if self.noise == "gaussian":
            noisy = x + self.noise_level * keras.random.normal(
                shape, dtype=x.dtype, seed=self.seed_generator
            )
            return keras.ops.clip(noisy, low, high) if self.clip else noisy
        u = keras.random.uniform(shape, dtype=x.dtype, seed=self.seed_generator)
        hit = u < self.noise_level
        if self.noise == "masking":
            return keras.ops.where(hit, keras.ops.zeros_like(x), x)
        # Salt or pepper by the same uniform draw: below level/2 pepper, else salt.
        pepper = u < 0.5 * self.noise_level
        value = keras.ops.where(
            pepper, keras.ops.full_like(x, low), keras.ops.full_like(x, high)
        )
        return keras.ops.where(hit, value, x)

    def save_own_variables(self, store: Any) -> None:
        """Saves the noise generator's state (Keras does not save it)."""
        store[SEED_STATE_KEY] = keras.ops.convert_to_numpy(
            self.seed_generator.state.value
        )

    def load_own_variables(self, store: Any) -> None:
        """Loads the noise generator's state saved by `save_own_variables`."""
        if SEED_STATE_KEY in store.keys():
            self.seed_generator.state.assign(store[SEED_STATE_KEY])

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            {
                "noise": self.noise,
                "noise_level": self.noise_level,
                "value_range": list(self.value_range),
                "clip": self.clip,
                "seed": self.seed,
            }
        )
        return config
