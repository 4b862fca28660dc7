"""The variational autoencoder (Kingma and Welling 2014)."""

from __future__ import annotations

import math
import threading
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers.sampling import Sampling
from keras_apps.models.autoencoder import (
    check_fits,
    deserialize_encoder_decoder,
    encoder_decoder_config,
    model_shapes,
)
from keras_apps.types import Shape, Tensor

RECONSTRUCTIONS = ("bernoulli", "gaussian")
SEED_STATE_KEY = "seed_generator_state"
_EPSILON = 1e-7


def gaussian_kl_divergence(z_mean: Tensor, z_log_var: Tensor) -> Tensor:
    """``KL(N(z_mean, exp(z_log_var)) || N(0, I))`` of each example.

    The closed form ``-0.5 * sum_j (1 + log_var_j - mean_j^2 -
    exp(log_var_j))`` (Kingma and Welling 2014, appendix B), summed over
    every axis but the batch axis.

    Example:

    >>> import numpy as np
    >>> from keras_apps.models.vae import gaussian_kl_divergence
    >>> kl = gaussian_kl_divergence(np.array([[1.0, 0.0]]), np.array([[0.0, 0.0]]))
    >>> np.asarray(kl).tolist()
    [0.5]
    """
    z_mean = keras.ops.convert_to_tensor(z_mean)
    z_log_var = keras.ops.convert_to_tensor(z_log_var, dtype=z_mean.dtype)
    terms = 1.0 + z_log_var - keras.ops.square(z_mean) - keras.ops.exp(z_log_var)
    return -0.5 * _sum_per_example(terms)


def _sum_per_example(values: Tensor) -> Tensor:
    axes = tuple(range(1, len(values.shape)))
    return keras.ops.sum(values, axis=axes) if axes else values


@keras_apps_export("keras_apps.models.VAE")
class VAE(keras.Model):
    """A variational autoencoder: encoder to ``(z_mean, z_log_var)``, sampling, decoder.

    ``fit(x)`` maximizes the evidence lower bound: the loss of each batch is
    ``reconstruction_loss + beta * kl_loss``, both summed over the dimensions
    of each example and averaged over the batch. ``reconstruction_loss`` is
    the negative log-likelihood of the input under the decoder's output:

    - ``"bernoulli"`` (default): binary cross-entropy of probabilities (the
      decoder ends with a sigmoid; inputs in [0, 1]);
    - ``"gaussian"``: ``0.5 * sum ((x - x_hat) / sigma)^2``, a Gaussian of
      fixed ``sigma`` up to an additive constant.

    ``kl_loss`` is the closed-form ``KL(q(z|x) || N(0, I))``
    (`gaussian_kl_divergence`). ``beta`` weights it (Higgins et al. 2017);
    it is a non-trainable variable, so `keras_apps.callbacks.KLAnnealing`
    (or ``vae.beta = value``) changes it during ``fit`` without retracing.

    Training and evaluation: ``fit(x, validation_data=(x_val,))``,
    ``evaluate`` and callbacks see ``loss``, ``reconstruction_loss`` and
    ``kl_loss`` (``val_...`` too). ``fit(x, y)`` reconstructs ``y`` from
    ``x`` instead. There is no hand-written ``train_step``: the losses are
    computed in ``compute_loss`` with ``keras.ops`` and Keras' standard
    ``train_step``/``test_step`` do the rest, so the model trains on the
    TensorFlow and JAX backends and under ``tf.distribute`` strategies (the
    loss is scaled by the number of replicas, as Keras' own losses are).
    ``compile(optimizer=...)`` takes no ``loss``. Under a
    ``MirroredStrategy`` every replica draws its ``Sampling`` noise from the
    same generator state, so the replicas' noise is correlated.

    ``predict`` and a plain call return reconstructions of a sampled code;
    `reconstruct` decodes ``z_mean`` instead. ``.keras`` files keep the
    weights, ``beta``, the sampling generator's state and the optimizer's
    state, so a loaded model resumes ``fit`` where it stopped. The decoder
    is an ordinary functional model that maps latent vectors to images:
    export it with `keras_apps.export.export_for_serving`.

    Args:
        encoder: A built Keras model from inputs to two outputs of the same
            shape, ``[z_mean, z_log_var]``.
        decoder: A built Keras model from latent vectors to the encoder's
            input shape.
        beta: Weight of the KL term, >= 0. Defaults to 1.0.
        reconstruction: ``"bernoulli"`` (default) or ``"gaussian"``.
        sigma: Standard deviation of the ``"gaussian"`` likelihood, > 0.
            Defaults to 1.0.
        seed: Optional int seed of the `keras_apps.layers.Sampling` layer.
        **kwargs: `keras.Model` keyword arguments (``name``, ``dtype``).

    Call arguments:
        inputs: A batch of the encoder's inputs.
        training: Whether the encoder and decoder run in training mode.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> import keras_apps
    >>> x_in = keras.Input((8,))
    >>> h = keras.layers.Dense(16, activation="relu")(x_in)
    >>> encoder = keras.Model(
    ...     x_in, [keras.layers.Dense(2)(h), keras.layers.Dense(2)(h)])
    >>> decoder = keras.Sequential([keras.Input((2,)),
    ...     keras.layers.Dense(8, activation="sigmoid")])
    >>> vae = keras_apps.models.VAE(encoder, decoder, seed=0)
    >>> vae.compile(optimizer="adam")
    >>> x = np.random.default_rng(0).random((32, 8)).astype("float32")
    >>> history = vae.fit(x, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['kl_loss', 'loss', 'reconstruction_loss']
    >>> tuple(vae.sample(3, seed=1).shape)
    (3, 8)

    Reference:
        Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014;
        Higgins et al., "beta-VAE", ICLR 2017.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        beta: float = 1.0,
        reconstruction: str = "bernoulli",
        sigma: float = 1.0,
        seed: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        errors = []
        if not _is_number(beta) or beta < 0:
            errors.append(f"`beta` must be a number >= 0. Received: beta={beta!r}")
        if reconstruction not in RECONSTRUCTIONS:
            errors.append(
                f"`reconstruction` must be one of {RECONSTRUCTIONS}. "
                f"Received: reconstruction={reconstruction!r}"
            )
        if not _is_number(sigma) or sigma <= 0:
            errors.append(f"`sigma` must be a number > 0. Received: sigma={sigma!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            errors.append(f"`seed` must be None or an int. Received: seed={seed!r}")
        if errors:
            raise ValueError(" ".join(errors))
        input_shape, encoder_outputs = model_shapes("encoder", encoder)
        is_pair = (
            isinstance(encoder_outputs, tuple)
            and len(encoder_outputs) == 2
            and all(isinstance(s, tuple) for s in encoder_outputs)
            and encoder_outputs[0] == encoder_outputs[1]
        )
        if not is_pair:
            raise ValueError(
                "The VAE encoder must have two outputs of the same shape, "
                "[z_mean, z_log_var] (two Dense heads with latent_dim units). "
                f"Received encoder outputs of shape: {encoder_outputs}"
            )
        decoder_input, decoder_output = model_shapes("decoder", decoder)
        check_fits("z_mean", encoder_outputs[0], "the decoder's input", decoder_input)
        check_fits(
            "the decoder's output", decoder_output, "the encoder's input", input_shape
        )
        self.encoder = encoder
        self.decoder = decoder
        self.reconstruction = reconstruction
        self.sigma = float(sigma)
        self.seed = seed
        self.sampling = Sampling(seed=seed, dtype=self.dtype_policy, name="sampling")
        self._beta = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(float(beta)),
            trainable=False,
            name="beta",
        )
        self.reconstruction_loss_tracker = keras.metrics.Mean(
            name="reconstruction_loss"
        )
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")
        self._input_shape_value = input_shape
        self._latent_shape = tuple(encoder_outputs[0][1:])
        # call() leaves the encoder's outputs here for compute_loss, which
        # Keras' train_step and test_step run right after it in the same
        # trace. Per thread, because MirroredStrategy runs each replica's
        # step in its own thread.
        self._encodings = threading.local()

    @property
    def beta(self) -> float:
        """The current weight of the KL term (a non-trainable variable)."""
        return float(keras.ops.convert_to_numpy(self._beta))

    @beta.setter
    def beta(self, value: float) -> None:
        if not _is_number(value) or value < 0:
            raise ValueError(f"`beta` must be a number >= 0. Received: beta={value!r}")
        self._beta.assign(float(value))

    @property
    def latent_shape(self) -> Shape:
        """The shape of one latent vector, for example ``(2,)``."""
        return self._latent_shape

    def build(self, input_shape: Any = None) -> None:
        # The encoder and decoder are built models and Sampling has no
        # weights; the first call records the input shape for loading.
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        z_mean, z_log_var = self.encoder(inputs, training=training)
        z = self.sampling([z_mean, z_log_var])
        self._encodings.value = (z_mean, z_log_var)
        return self.decoder(z, training=training)

    def compile(
        self, optimizer: Any = "rmsprop", loss: Any = None, **kwargs: Any
    ) -> None:
        """Configures the optimizer; the VAE computes its own loss.

        Args:
            optimizer: The optimizer (name or instance).
            loss: Must be None: the loss is the negative ELBO.
            **kwargs: Other `keras.Model.compile` arguments (``metrics``,
                ``jit_compile``, ``run_eagerly``, ``steps_per_execution``).
        """
        if loss is not None:
            raise ValueError(
                "VAE computes its own loss (reconstruction + beta * KL); choose "
                "the reconstruction with VAE(reconstruction=...) and compile "
                f"with an optimizer only. Received: loss={loss!r}"
            )
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config: dict[str, Any]) -> None:
        """Compiles from a saved compile config and builds the optimizer.

        Keras skips ``compile_from_config`` for models that override
        ``compile``; without this the optimizer state in a ``.keras`` file
        would not be loaded ("Skipping variable loading for optimizer").
        """
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def reconstruction_loss(self, x: Any, reconstruction: Any) -> Tensor:
        """The per-example negative log-likelihood of ``x``, shape ``(batch,)``."""
        x = keras.ops.convert_to_tensor(x, dtype=reconstruction.dtype)
        if self.reconstruction == "bernoulli":
            p = keras.ops.clip(reconstruction, _EPSILON, 1.0 - _EPSILON)
            terms = -(x * keras.ops.log(p) + (1.0 - x) * keras.ops.log(1.0 - p))
        else:
            terms = 0.5 * keras.ops.square((x - reconstruction) / self.sigma)
        return _sum_per_example(terms)

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Tensor:
        """The negative ELBO of the batch; updates the two loss trackers."""
        encodings = getattr(self._encodings, "value", None)
        self._encodings.value = None
        if encodings is None:  # y_pred did not come from call() just now
            encodings = self.encoder(x, training=training)
        z_mean, z_log_var = encodings
        target = x if y is None else y
        reconstruction = self.reconstruction_loss(target, y_pred)
        kl = gaussian_kl_divergence(z_mean, z_log_var)
        if sample_weight is not None:
            weight = keras.ops.reshape(
                keras.ops.cast(sample_weight, reconstruction.dtype), (-1,)
            )
            reconstruction = reconstruction * weight
            kl = kl * keras.ops.cast(weight, kl.dtype)
        reconstruction = keras.ops.mean(reconstruction)
        kl = keras.ops.mean(kl)
        batch_size = keras.ops.shape(keras.tree.flatten(x)[0])[0]
        self.reconstruction_loss_tracker.update_state(
            reconstruction, sample_weight=batch_size
        )
        self.kl_loss_tracker.update_state(kl, sample_weight=batch_size)
        beta = keras.ops.cast(self._beta, kl.dtype)
        total = reconstruction + beta * kl
        for extra in self.losses:  # regularizers of the encoder and decoder
            total = total + keras.ops.cast(extra, total.dtype)
        return _scale_for_replicas(total)

    def encode(self, x: Any) -> tuple[Tensor, Tensor]:
        """``(z_mean, z_log_var)`` of ``x`` (inference mode)."""
        z_mean, z_log_var = self.encoder(x, training=False)
        return z_mean, z_log_var

    def decode(self, z: Any) -> Tensor:
        """The decoder's output for latent vectors ``z`` (inference mode)."""
        return self.decoder(z, training=False)

    def reconstruct(self, x: Any, sample: bool = False) -> Tensor:
        """Decodes ``z_mean`` of ``x`` (or a sampled code with ``sample=True``)."""
        z_mean, z_log_var = self.encode(x)
        z = self.sampling([z_mean, z_log_var]) if sample else z_mean
        return self.decode(z)

    def sample(self, n: int, seed: Any = None) -> Tensor:
        """Decodes ``n`` latent vectors drawn from the prior ``N(0, I)``.

        Args:
            n: Number of samples, >= 1.
            seed: None, an int or a `keras.random.SeedGenerator`; the same
                int gives the same samples.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"`n` must be a positive integer. Received: n={n!r}")
        z = keras.random.normal(
            (n, *self._latent_shape), dtype=self.compute_dtype, seed=seed
        )
        return self.decode(z)

    def save_own_variables(self, store: Any) -> None:
        """Saves ``beta`` and the state of the sampling noise generator.

        Keras does not save `keras.random.SeedGenerator` states; this one is
        saved so that a loaded model continues the noise sequence and a
        resumed ``fit`` equals an uninterrupted one.
        """
        store["0"] = self._beta
        store[SEED_STATE_KEY] = keras.ops.convert_to_numpy(
            self.sampling.seed_generator.state.value
        )

    def load_own_variables(self, store: Any) -> None:
        """Loads what `save_own_variables` saved."""
        self._beta.assign(store["0"])
        if SEED_STATE_KEY in store.keys():
            self.sampling.seed_generator.state.assign(store[SEED_STATE_KEY])

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return (input_shape[0], *self._input_shape_value[1:])

    def get_config(self) -> dict[str, Any]:
        return {
            **encoder_decoder_config(self),
            "beta": self.beta,
            "reconstruction": self.reconstruction,
            "sigma": self.sigma,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VAE:
        return cls(**deserialize_encoder_decoder(config))


def _is_number(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
    )


def _scale_for_replicas(loss: Tensor) -> Tensor:
    """Divides by the replicas of the current tf.distribute strategy.

    Keras' TensorFlow train_step sums the replicas' gradients and reports
    ``loss * num_replicas`` as ``loss``, so a loss of one replica's batch must
    be divided by their number, as Keras' own losses are. A no-op on other
    backends and without a strategy.
    """
    if keras.backend.backend() != "tensorflow":
        return loss
    import tensorflow as tf

    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    if replicas > 1:
        loss = loss / replicas
    return loss
