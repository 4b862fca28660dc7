"""The image-optimisation loop of activation maximization.

`activation_maximization` optimises an input image against a unit's
activation with Adam, optional jitter, total variation and L2 penalties, in
a pixel or a decorrelated Fourier parameterization (Olah et al. 2017).
The gradient is taken with ``tf.GradientTape`` inside one ``tf.function``
step, so this loop needs the TensorFlow backend. (Feature inversion, a
content term against a target image, is `keras_apps.models.invert_features`,
shared with style transfer.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from keras_apps.losses.total_variation import total_variation

PARAMETERIZATIONS = ("pixel", "fourier")

# Square root of the colour correlation of ImageNet pixels (Olah et al. 2017,
# lucid's `color_correlation_svd_sqrt`): decorrelated channels map to RGB.
_COLOR_CORRELATION_SQRT = np.asarray(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype="float32"
)


def check_non_negative(**values: Any) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ValueError(f"Expected {name} >= 0. Received: {name}={value!r}")


def check_steps(steps: Any) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"Expected an int steps >= 1. Received: steps={steps!r}")
    return int(steps)


def _fourier_scale(height: int, width: int, decay_power: float = 1.0) -> np.ndarray:
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.rfftfreq(width)[None, :]
    freqs = np.sqrt(fy * fy + fx * fx)
    scale = 1.0 / np.maximum(freqs, 1.0 / max(height, width)) ** decay_power
    return (scale * np.sqrt(height * width)).astype("float32")


@dataclass
class _Parameterization:
    variable: Any
    to_unit: Callable[[Any], Any]  # variable -> (1, H, W, C) image in [0, 1]
    clip: bool


def _make_parameterization(
    kind: str, shape: tuple[int, int, int], init: np.ndarray | None, seed: int | None
) -> _Parameterization:
    import tensorflow as tf

    height, width, channels = shape
    rng = np.random.default_rng(seed)
    if kind == "pixel":
        if init is None:
            init = 0.5 + 0.05 * rng.standard_normal(shape)
        start = np.clip(np.asarray(init, "float32"), 0.0, 1.0)[None]
        variable = keras.Variable(start, name="image")
        return _Parameterization(variable, lambda v: v, clip=True)
    spectrum_shape = (2, channels, height, width // 2 + 1)
    scale_np = _fourier_scale(height, width)
    norm = np.max(np.linalg.norm(_COLOR_CORRELATION_SQRT, axis=0))
    color_np = (_COLOR_CORRELATION_SQRT / norm).T if channels == 3 else None
    if init is None:
        start = 0.01 * rng.standard_normal(spectrum_shape)
    else:
        # Invert the image map: sigmoid, colour decorrelation, 1/f-scaled FFT.
        unit = np.clip(np.asarray(init, "float64"), 1e-3, 1 - 1e-3)
        logits = np.log(unit / (1 - unit))
        if color_np is not None:
            logits = (logits.reshape(-1, 3) @ np.linalg.inv(color_np)).reshape(shape)
        spectrum = np.fft.rfft2(4.0 * logits.transpose(2, 0, 1)) / scale_np
        start = np.stack([spectrum.real, spectrum.imag])
    variable = keras.Variable(start.astype("float32"), name="spectrum")
    scale = tf.constant(scale_np)
    color = None if color_np is None else tf.constant(color_np.astype("float32"))

    def to_unit(v: Any) -> Any:
        spectrum = tf.complex(v[0] * scale, v[1] * scale)
        image = tf.signal.irfft2d(spectrum, fft_length=[height, width])  # (C, H, W)
        image = tf.transpose(image, [1, 2, 0]) / 4.0
        if color is not None:
            image = tf.reshape(tf.reshape(image, [-1, 3]) @ color, [height, width, 3])
        return tf.sigmoid(image)[None]

    return _Parameterization(variable, to_unit, clip=False)


def optimize_image(
    objective: Callable[[Any], Any],
    shape: tuple[int, int, int],
    steps: int,
    value_range: tuple[float, float] = (0.0, 1.0),
    learning_rate: float = 0.05,
    jitter: int = 0,
    total_variation_weight: float = 0.0,
    l2_weight: float = 0.0,
    parameterization: str = "pixel",
    init: np.ndarray | None = None,
    seed: int | None = None,
    verbose: int = 1,
    label: str = "objective",
) -> tuple[np.ndarray, list[float]]:
    """Minimises ``objective(image)`` over one image; returns it and the losses.

    ``objective`` receives a ``(1, H, W, C)`` tensor in ``value_range`` (after
    a random roll of up to ``jitter`` pixels) and returns a scalar. The
    penalties act on the image scaled to [0, 1]: ``total_variation_weight``
    times the mean squared neighbour difference, ``l2_weight`` times the mean
    squared distance from grey. The total variation is
    `keras_apps.losses.total_variation` per position and channel (the mean
    squared neighbour difference). ``init`` is a start image ``(H, W, C)`` in
    ``value_range`` (by default grey with a little noise).
    """
    import tensorflow as tf

    if parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"Expected parameterization in {PARAMETERIZATIONS}. "
            f"Received: parameterization={parameterization!r}"
        )
    low, high = (float(v) for v in value_range)
    if not high > low:
        raise ValueError(
            f"Expected value_range=(low, high) with high > low. Received: {value_range}"
        )
    if init is not None:
        init = (np.asarray(init, "float32") - low) / (high - low)
    height, width, channels = shape
    # Mean squared neighbour difference: the squared total variation per
    # position (that has both neighbours) and channel.
    positions = max(1, (height - 1) * (width - 1) * channels)
    param = _make_parameterization(parameterization, shape, init, seed)
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build([param.variable])
    rng = np.random.default_rng(seed)

    @tf.function
    def step(shift: Any) -> tuple[Any, Any]:
        with tf.GradientTape() as tape:
            unit = param.to_unit(param.variable)
            image = low + (high - low) * unit
            moved = tf.roll(image, shift, axis=[1, 2])
            value = objective(moved)
            loss = value
            if total_variation_weight:
                loss += total_variation_weight * (
                    tf.reduce_sum(total_variation(unit)) / positions
                )
            if l2_weight:
                loss += l2_weight * tf.reduce_mean(tf.square(unit - 0.5))
        gradient = tape.gradient(loss, param.variable)
        optimizer.apply_gradients([(gradient, param.variable)])
        if param.clip:
            param.variable.assign(tf.clip_by_value(param.variable, 0.0, 1.0))
        return loss, value

    progbar = keras.utils.Progbar(steps, verbose=verbose, unit_name="step")
    losses = []
    for index in range(steps):
        shift = rng.integers(-jitter, jitter + 1, size=2) if jitter else np.zeros(2)
        loss, value = step(tf.constant(shift, dtype="int32"))
        losses.append(float(loss))
        progbar.update(index + 1, [("loss", float(loss)), (label, float(value))])
    final = param.to_unit(param.variable)[0].numpy()
    return (low + (high - low) * final).astype("float32"), losses
