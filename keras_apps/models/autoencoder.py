"""An autoencoder: an encoder and a decoder trained to give back their input."""

from __future__ import annotations

import copy
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.losses.sparsity import kl_sparsity_penalty, l1_sparsity_penalty
from keras_apps.types import Shape, Tensor

_SPARSITY = (None, "l1", "kl")


@keras_apps_export("keras_apps.models.Autoencoder")
class Autoencoder(keras.Model):
    """``decoder(encoder(x))``, trained with the input as its own target.

    ``fit(x)`` without targets trains the model to reconstruct ``x``
    (``compute_loss`` uses ``x`` as ``y`` when ``y`` is None); ``fit(x, y)``
    trains it to map ``x`` to ``y`` (for example noisy to clean images). The
    loss is the one given to ``compile`` (``"mse"`` or
    ``"binary_crossentropy"`` for images in [0, 1]). The training step is
    Keras' own, so the model trains on every backend and under
    ``tf.distribute``.

    The encoder is an ordinary functional Keras model: use it as a feature
    extractor or put a head on it with `keras_apps.transfer.build_classifier`
    and fine-tune it.

    A sparsity penalty on the code can be added to the loss (through
    ``add_loss``, so it is part of ``loss`` in training and evaluation):
    ``"l1"``, ``sparsity_weight * mean_b sum_j |h_bj|``, or ``"kl"``,
    ``sparsity_weight * sum_j KL(rho || rho_hat_j)`` with ``rho =
    sparsity_target`` and ``rho_hat_j`` the mean activation of code unit
    ``j`` over the batch; ``"kl"`` wants a code in (0, 1), a sigmoid code.

    Args:
        encoder: A built Keras model (functional or Sequential) from inputs
            to codes.
        decoder: A built Keras model from codes to the encoder's input shape.
        sparsity: None (default), ``"l1"`` or ``"kl"``.
        sparsity_weight: Weight of the sparsity penalty, > 0. Defaults to
            1e-3.
        sparsity_target: The target activation ``rho`` of ``"kl"``, in
            (0, 1). Defaults to 0.05.
        **kwargs: `keras.Model` keyword arguments (``name``, ``dtype``).

    Call arguments:
        inputs: A batch of inputs of the encoder's input shape.
        training: Whether the model runs in training mode.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> ae = keras_apps.models.dense_autoencoder((8, 8, 1), code_size=4)
    >>> ae.encoder.output_shape, ae.decoder.output_shape
    ((None, 4), (None, 8, 8, 1))
    >>> ae.compile(optimizer="adam", loss="mse")
    >>> x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    >>> history = ae.fit(x, epochs=1, verbose=0)
    >>> ae.predict(x, verbose=0).shape
    (16, 8, 8, 1)

    Reference:
        Goodfellow, Bengio and Courville, "Deep Learning", chapter 14
        (Autoencoders), MIT Press 2016.
    """

    def __init__(
        self,
        encoder: keras.Model,
        decoder: keras.Model,
        sparsity: str | None = None,
        sparsity_weight: float = 1e-3,
        sparsity_target: float = 0.05,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        errors = []
        if sparsity not in _SPARSITY:
            errors.append(
                f"`sparsity` must be one of {_SPARSITY}. "
                f"Received: sparsity={sparsity!r}"
            )
        if isinstance(sparsity_weight, bool) or not float(sparsity_weight) > 0:
            errors.append(
                "`sparsity_weight` must be a positive number. "
                f"Received: sparsity_weight={sparsity_weight!r}"
            )
        if not 0.0 < float(sparsity_target) < 1.0:
            errors.append(
                "`sparsity_target` must lie in (0, 1). "
                f"Received: sparsity_target={sparsity_target!r}"
            )
        if errors:
            raise ValueError(" ".join(errors))
        input_shape, code_shape = model_shapes("encoder", encoder)
        decoder_input, decoder_output = model_shapes("decoder", decoder)
        check_fits(
            "the encoder's output (the code)",
            code_shape,
            "the decoder's input",
            decoder_input,
        )
        check_fits(
            "the decoder's output",
            decoder_output,
            "the encoder's input",
            input_shape,
        )
        self.encoder = encoder
        self.decoder = decoder
        self.sparsity = sparsity
        self.sparsity_weight = float(sparsity_weight)
        self.sparsity_target = float(sparsity_target)
        self._input_shape_value = input_shape

    def build(self, input_shape: Any = None) -> None:
        # The encoder and decoder are built models; the first call records
        # the input shape (which `.keras` loading and export rely on).
        self.built = True

    def call(self, inputs: Any, training: bool | None = None) -> Tensor:
        code = self.encoder(inputs, training=training)
        self._add_sparsity_loss(code)
        return self.decoder(code, training=training)

    def _add_sparsity_loss(self, code: Tensor) -> None:
        if self.sparsity == "l1":
            self.add_loss(self.sparsity_weight * l1_sparsity_penalty(code))
        elif self.sparsity == "kl":
            self.add_loss(
                self.sparsity_weight * kl_sparsity_penalty(code, self.sparsity_target)
            )

    def compute_loss(
        self,
        x: Any = None,
        y: Any = None,
        y_pred: Any = None,
        sample_weight: Any = None,
        training: bool = True,
    ) -> Tensor:
        """The compiled loss with ``x`` as the target when ``y`` is None."""
        if y is None:
            y = x
        return super().compute_loss(
            x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=training
        )

    def encode(self, x: Any) -> Tensor:
        """The code of ``x`` (inference mode)."""
        return self.encoder(x, training=False)

    def decode(self, code: Any) -> Tensor:
        """The reconstruction of ``code`` (inference mode)."""
        return self.decoder(code, training=False)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return (input_shape[0], *self._input_shape_value[1:])

    def get_config(self) -> dict[str, Any]:
        return {
            **encoder_decoder_config(self),
            "sparsity": self.sparsity,
            "sparsity_weight": self.sparsity_weight,
            "sparsity_target": self.sparsity_target,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Autoencoder:
        return cls(**deserialize_encoder_decoder(config))


def encoder_decoder_config(model: keras.Model) -> dict[str, Any]:
    """The config an encoder-decoder model shares: name, trainable, dtype
    policy and the two serialized sub-models."""
    return {
        "name": model.name,
        "trainable": model.trainable,
        "dtype": keras.saving.serialize_keras_object(model.dtype_policy),
        "encoder": keras.saving.serialize_keras_object(model.encoder),
        "decoder": keras.saving.serialize_keras_object(model.decoder),
    }


def deserialize_encoder_decoder(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with the encoder, decoder and dtype policy loaded."""
    # deserialize_keras_object consumes the nested dicts; keep the caller's.
    config = copy.deepcopy(config)
    for key in ("encoder", "decoder"):
        config[key] = keras.saving.deserialize_keras_object(config[key])
    if isinstance(config.get("dtype"), dict):
        config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
    return config


def model_shapes(role: str, model: Any) -> tuple[Shape, Any]:
    """The ``(input_shape, output_shape)`` of a built single-input model.

    Raises a ValueError naming ``role`` when ``model`` is not a Keras model
    with one known input and output.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{role}` must be a built Keras model (functional or Sequential, "
            f"with a keras.Input). Received: {role}={model!r}"
        )
    try:
        input_shape = model.input_shape
        output_shape = model.output_shape
    except (AttributeError, ValueError, RuntimeError) as error:
        raise ValueError(
            f"`{role}` must have a known input and output shape: build it from "
            f"keras.Input (functional or Sequential). Received: {role}={model!r} "
            f"({error})"
        ) from error
    return tuple(input_shape), _single_or_tuple(output_shape)


def _single_or_tuple(shape: Any) -> Any:
    if shape and isinstance(shape[0], (list, tuple)):
        return tuple(tuple(s) for s in shape)
    return tuple(shape)


def check_fits(what: str, shape: Any, where: str, expected: Any) -> None:
    """Raises a ValueError unless two shapes agree beyond the batch axis."""
    single = (
        isinstance(shape, tuple)
        and isinstance(expected, tuple)
        and not (shape and isinstance(shape[0], tuple))
        and not (expected and isinstance(expected[0], tuple))
    )
    fits = single and (
        len(shape) == len(expected)
        and all(
            a is None or b is None or a == b
            for a, b in zip(shape[1:], expected[1:], strict=True)
        )
    )
    if not fits:
        raise ValueError(
            f"The encoder and decoder do not fit: {what} has shape {shape}, "
            f"{where} expects {expected}. Make their shapes agree (batch axis "
            "aside)."
        )
