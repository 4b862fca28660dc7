"""Builders of dense and convolutional autoencoders with a chosen code size."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.layers._checks import positive_int_error
from keras_apps.models.autoencoder import Autoencoder
from keras_apps.models.denoising_autoencoder import DenoisingAutoencoder


def dense_autoencoder(
    input_shape: Sequence[int],
    code_size: int,
    hidden_units: Sequence[int] = (128,),
    activation: Any = "relu",
    code_activation: Any = None,
    output_activation: Any = "sigmoid",
    noise: str | None = None,
    dtype: Any = None,
    name: str = "dense_autoencoder",
    **kwargs: Any,
) -> Autoencoder:
    """A fully connected autoencoder: flatten, dense layers, a code of ``code_size``.

    The encoder is ``Flatten`` then ``Dense(u, activation)`` for each ``u``
    in ``hidden_units`` then ``Dense(code_size, code_activation)`` (layer
    ``"code"``); the decoder mirrors it and ends with ``Dense(prod(shape),
    output_activation)`` and a ``Reshape`` to ``input_shape``. With no
    hidden units and linear activations it is the linear autoencoder whose
    optimum spans the principal subspace (PCA).

    Args:
        input_shape: Shape of one example, for example ``(8, 8, 1)``.
        code_size: Size of the code (the bottleneck), >= 1.
        hidden_units: Units of the hidden layers, outermost first.
            Defaults to ``(128,)``.
        activation: Activation of the hidden layers. Defaults to ``"relu"``.
        code_activation: Activation of the code (``"sigmoid"`` for a KL
            sparsity penalty). Defaults to None (linear).
        output_activation: Activation of the reconstruction. Defaults to
            ``"sigmoid"`` (data in [0, 1]).
        noise: None for an `Autoencoder`, or a noise kind of
            `DenoisingAutoencoder` (``"gaussian"``, ``"salt_and_pepper"``,
            ``"masking"``) to get one.
        dtype: Dtype policy of every layer and of the model.
        name: Name of the model; the encoder and decoder are
            ``name + "_encoder"`` and ``name + "_decoder"``.
        **kwargs: Further `Autoencoder` or `DenoisingAutoencoder` arguments
            (``sparsity``, ``noise_level``, ``seed``, ...).

    Returns:
        An `Autoencoder` (or `DenoisingAutoencoder`).

    Example:

    >>> import keras_apps
    >>> ae = keras_apps.models.dense_autoencoder((64,), code_size=8)
    >>> ae.encoder.output_shape
    (None, 8)
    """
    shape = _check_input_shape(input_shape, rank=None)
    _raise_if(
        [
            positive_int_error("code_size", code_size),
            _units_error("hidden_units", hidden_units),
        ]
    )
    inputs = keras.Input(shape, name="inputs", dtype=_input_dtype(dtype))
    x = keras.layers.Flatten(dtype=dtype, name="flatten")(inputs)
    for index, units in enumerate(hidden_units):
        x = keras.layers.Dense(
            units, activation=activation, dtype=dtype, name=f"encoder_dense_{index}"
        )(x)
    code = keras.layers.Dense(
        code_size, activation=code_activation, dtype=dtype, name="code"
    )(x)
    encoder = keras.Model(inputs, code, name=f"{name}_encoder")

    code_input = keras.Input((code_size,), name="code", dtype=_input_dtype(dtype))
    x = code_input
    for index, units in enumerate(reversed(tuple(hidden_units))):
        x = keras.layers.Dense(
            units, activation=activation, dtype=dtype, name=f"decoder_dense_{index}"
        )(x)
    x = keras.layers.Dense(
        math.prod(shape), activation=output_activation, dtype=dtype, name="output"
    )(x)
    outputs = keras.layers.Reshape(shape, dtype=dtype, name="reshape")(x)
    decoder = keras.Model(code_input, outputs, name=f"{name}_decoder")
    return _wrap(encoder, decoder, noise, dtype, name, kwargs)


def conv_autoencoder(
    input_shape: Sequence[int],
    code_size: int | None = 32,
    filters: Sequence[int] = (32, 64),
    kernel_size: int = 3,
    activation: Any = "relu",
    code_activation: Any = None,
    output_activation: Any = "sigmoid",
    noise: str | None = None,
    dtype: Any = None,
    name: str = "conv_autoencoder",
    **kwargs: Any,
) -> Autoencoder:
    """A convolutional autoencoder: strided convolutions down, transposed up.

    The encoder is, for each ``f`` in ``filters``, a ``Conv2D(f,
    kernel_size, strides=2, padding="same")`` that halves height and width;
    then ``Flatten`` and ``Dense(code_size)`` (layer ``"code"``), or, with
    ``code_size=None``, the last feature map is the code. The decoder
    mirrors it with ``Conv2DTranspose`` layers of stride 2 and ends with a
    ``Conv2D`` to the input's channels with ``output_activation``. Height and
    width must be divisible by ``2 ** len(filters)``.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        code_size: Size of the dense code, >= 1, or None for a convolutional
            code of shape ``(h / 2**n, w / 2**n, filters[-1])``. Defaults
            to 32.
        filters: Filters of the encoder levels, outermost first. Defaults to
            ``(32, 64)``.
        kernel_size: Kernel size of every convolution. Defaults to 3.
        activation: Activation of the convolutions. Defaults to ``"relu"``.
        code_activation: Activation of the dense code. Defaults to None.
        output_activation: Activation of the reconstruction. Defaults to
            ``"sigmoid"``.
        noise: None for an `Autoencoder`, or a `DenoisingAutoencoder` noise
            kind.
        dtype: Dtype policy of every layer and of the model.
        name: Name of the model.
        **kwargs: Further `Autoencoder` or `DenoisingAutoencoder` arguments.

    Returns:
        An `Autoencoder` (or `DenoisingAutoencoder`).

    Example:

    >>> import keras_apps
    >>> ae = keras_apps.models.conv_autoencoder(
    ...     (16, 16, 1), code_size=10, filters=(8, 16))
    >>> ae.encoder.output_shape, ae.decoder.output_shape
    ((None, 10), (None, 16, 16, 1))
    """
    shape = _check_input_shape(input_shape, rank=3)
    errors = [
        None if code_size is None else positive_int_error("code_size", code_size),
        _units_error("filters", filters)
        or (
            None
            if len(filters)
            else "`filters` must not be empty. Received: filters=()"
        ),
        positive_int_error("kernel_size", kernel_size),
    ]
    _raise_if(errors)
    factor = 2 ** len(filters)
    if shape[0] % factor or shape[1] % factor:
        raise ValueError(
            f"conv_autoencoder halves height and width {len(filters)} times, so "
            f"they must be divisible by {factor}. Received: input_shape={shape} "
            f"with filters={tuple(filters)}; pad or resize the images, or use "
            "fewer levels."
        )
    inputs = keras.Input(shape, name="inputs", dtype=_input_dtype(dtype))
    x = inputs
    for index, f in enumerate(filters):
        x = keras.layers.Conv2D(
            f,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            dtype=dtype,
            name=f"encoder_conv_{index}",
        )(x)
    feature_shape = tuple(x.shape[1:])
    if code_size is not None:
        x = keras.layers.Flatten(dtype=dtype, name="flatten")(x)
        x = keras.layers.Dense(
            code_size, activation=code_activation, dtype=dtype, name="code"
        )(x)
    encoder = keras.Model(inputs, x, name=f"{name}_encoder")

    code_shape = (code_size,) if code_size is not None else feature_shape
    code_input = keras.Input(code_shape, name="code", dtype=_input_dtype(dtype))
    x = code_input
    if code_size is not None:
        x = keras.layers.Dense(
            math.prod(feature_shape),
            activation=activation,
            dtype=dtype,
            name="decoder_dense",
        )(x)
        x = keras.layers.Reshape(feature_shape, dtype=dtype, name="reshape")(x)
    for index, f in enumerate(reversed(tuple(filters))):
        x = keras.layers.Conv2DTranspose(
            f,
            kernel_size,
            strides=2,
            padding="same",
            activation=activation,
            dtype=dtype,
            name=f"decoder_deconv_{index}",
        )(x)
    outputs = keras.layers.Conv2D(
        shape[-1],
        kernel_size,
        padding="same",
        activation=output_activation,
        dtype=dtype,
        name="output",
    )(x)
    decoder = keras.Model(code_input, outputs, name=f"{name}_decoder")
    return _wrap(encoder, decoder, noise, dtype, name, kwargs)


def _wrap(
    encoder: keras.Model,
    decoder: keras.Model,
    noise: str | None,
    dtype: Any,
    name: str,
    kwargs: dict[str, Any],
) -> Autoencoder:
    if noise is None:
        return Autoencoder(encoder, decoder, dtype=dtype, name=name, **kwargs)
    return DenoisingAutoencoder(
        encoder, decoder, noise=noise, dtype=dtype, name=name, **kwargs
    )


def _input_dtype(dtype: Any) -> Any:
    """The variable dtype of a policy, for `keras.Input` (None: the default)."""
    if dtype is None:
        return None
    return keras.dtype_policies.get(dtype).variable_dtype


def _check_input_shape(input_shape: Any, rank: int | None) -> tuple[int, ...]:
    ok = (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) > 0
        and all(positive_int_error("input_shape", d) is None for d in input_shape)
        and (rank is None or len(input_shape) == rank)
    )
    if not ok:
        wanted = "(height, width, channels)" if rank == 3 else "a tuple of sizes"
        raise ValueError(
            f"`input_shape` must be {wanted} of positive ints, without the batch "
            f"axis. Received: input_shape={input_shape!r}"
        )
    return tuple(int(d) for d in input_shape)


def _units_error(name: str, values: Any) -> str | None:
    if isinstance(values, (str, int)) or not all(
        positive_int_error(name, v) is None for v in values
    ):
        return f"`{name}` must be a list of positive ints. Received: {name}={values!r}"
    return None


def _raise_if(errors: list[str | None]) -> None:
    messages = [e for e in errors if e]
    if messages:
        raise ValueError(" ".join(messages))
