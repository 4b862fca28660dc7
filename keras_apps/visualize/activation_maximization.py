"""Images that maximize a unit's activation (Erhan et al. 2009; Olah et al. 2017)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_apps import _backend
from keras_apps.visualize import _graph, _optimize

__all__ = ["activation_maximization", "model_image_shape"]

OBJECTIVES = ("channel", "neuron")


def model_image_shape(
    model: keras.Model, image_shape: Sequence[int] | None
) -> tuple[int, int, int]:
    """The (height, width, channels) to optimise: given, or the model's input."""
    expected = tuple(model.inputs[0].shape)[1:]
    if len(expected) != 3:
        raise ValueError(
            f"Expected a model with image inputs (batch, height, width, channels). "
            f"Received: input shape {tuple(model.inputs[0].shape)}"
        )
    if image_shape is None:
        if any(d is None for d in expected):
            raise ValueError(
                f"The input of model {model.name!r} has an unknown size "
                f"{expected}; pass image_shape=(height, width, channels)."
            )
        return tuple(int(d) for d in expected)  # type: ignore[return-value]
    shape = tuple(image_shape)
    if len(shape) != 3 or not all(
        isinstance(d, (int, np.integer)) and d > 0 for d in shape
    ):
        raise ValueError(
            "Expected image_shape=(height, width, channels) of positive ints. "
            f"Received: image_shape={image_shape!r}"
        )
    if any(e is not None and e != s for e, s in zip(expected, shape, strict=True)):
        raise ValueError(
            f"image_shape={shape} does not fit the input of model {model.name!r} "
            f"(per-image shape {expected})."
        )
    return tuple(int(d) for d in shape)  # type: ignore[return-value]


def activation_maximization(
    model: keras.Model,
    layer_name: str,
    unit: int | Sequence[int],
    steps: int = 256,
    learning_rate: float = 0.05,
    jitter: int = 2,
    total_variation: float = 0.1,
    l2: float = 0.0,
    parameterization: str = "pixel",
    objective: str = "channel",
    value_range: tuple[float, float] = (0.0, 1.0),
    image_shape: Sequence[int] | None = None,
    init: Any = None,
    seed: int | None = None,
    verbose: int = 1,
) -> np.ndarray:
    """Optimises an image so that one unit of a layer responds strongly.

    Gradient ascent on the input image (Adam) of the unit's mean activation
    over all positions (``objective="channel"``, as in Olah et al. 2017) or
    of the unit at the centre of the map (``"neuron"``); for a layer without
    spatial map (a ``Dense`` layer, class scores) the unit's value. Regularized
    by random jitter (the image is rolled by up to ``jitter`` pixels each
    step), total variation and L2 penalties on the image scaled to [0, 1],
    and optionally optimized in a decorrelated Fourier parameterization
    (``parameterization="fourier"``: 1/f-scaled spectrum, decorrelated colours
    and a sigmoid, Olah et al. 2017), which favours natural-looking images
    over high-frequency patterns. A ``keras.utils.Progbar`` reports progress.

    TensorFlow first: the gradient is taken with ``tf.GradientTape`` (other
    backends raise a RuntimeError). The layer may sit inside a nested model.

    Args:
        model: A functional or Sequential model with one image input.
        layer_name: Layer name (any depth) or path ``"backbone/conv3"``.
        unit: Channel index, or a list of them (one image each).
        steps: Optimisation steps.
        learning_rate: Adam learning rate.
        jitter: Maximum random shift in pixels per step (0 to turn it off).
        total_variation: Weight of the total-variation penalty.
        l2: Weight of the L2 penalty (distance from grey).
        parameterization: ``"pixel"`` or ``"fourier"``.
        objective: ``"channel"`` or ``"neuron"``.
        value_range: Pixel range the model expects, e.g. ``(0, 255)``.
        image_shape: ``(height, width, channels)``; required when the model
            input size is unknown.
        init: Start image ``(H, W, C)`` in ``value_range`` (one per unit,
            ``(n, H, W, C)``, for a list of units), e.g. the image that
            activates the unit most; None starts from grey with a little
            noise. A ReLU unit that is 0 on grey has no gradient there and
            needs a start image on which it fires.
        seed: Seed of the start image and of the jitter.
        verbose: 1 shows the progress bar, 0 hides it.

    Returns:
        An image ``(H, W, C)`` in ``value_range`` (``(n, H, W, C)`` for a list
        of units).

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import activation_maximization
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(2, 3, name="conv")])
    >>> image = activation_maximization(model, "conv", 0, steps=3, verbose=0)
    >>> image.shape
    (8, 8, 1)

    Reference:
        Olah, Mordvintsev & Schubert, "Feature Visualization", Distill 2017.
    """
    _backend.require_tensorflow(
        "activation_maximization", "takes gradients with tf.GradientTape"
    )
    model = _graph.check_model(model)
    layer = _graph.find_layer(model, layer_name)
    steps = _optimize.check_steps(steps)
    _optimize.check_non_negative(
        learning_rate=learning_rate,
        jitter=jitter,
        total_variation=total_variation,
        l2=l2,
    )
    if objective not in OBJECTIVES:
        raise ValueError(
            f"Expected objective in {OBJECTIVES}. Received: objective={objective!r}"
        )
    shape = model_image_shape(model, image_shape)
    extractor = _graph.tapped_model(model, [layer])
    channels = extractor.outputs[0].shape[-1]
    rank = len(extractor.outputs[0].shape)
    units = [unit] if isinstance(unit, (int, np.integer)) else list(unit)
    for u in units:
        if (
            isinstance(u, bool)
            or not isinstance(u, (int, np.integer))
            or not (0 <= u < channels)
        ):
            raise ValueError(
                f"Expected `unit` to be a channel index in [0, {channels}) of layer "
                f"{layer_name!r} (or a list of them). Received: unit={unit!r}"
            )
    starts: list[Any] = [None] * len(units)
    if init is not None:
        array = np.asarray(init, dtype="float32")
        if array.shape == shape:
            starts = [array] * len(units)
        elif array.shape == (len(units), *shape):
            starts = list(array)
        else:
            raise ValueError(
                f"Expected `init` of shape {shape} (or {(len(units), *shape)} for "
                f"{len(units)} units). Received: shape {array.shape}"
            )
    images = []
    for u, start in zip(units, starts, strict=True):

        def loss(image: Any, u: int = int(u)) -> Any:
            values = extractor(image, training=False)
            if rank == 4 and objective == "neuron":
                h, w = values.shape[1] // 2, values.shape[2] // 2
                return -keras.ops.mean(values[:, h, w, u])
            return -keras.ops.mean(values[..., u])

        image, _ = _optimize.optimize_image(
            loss,
            shape,
            steps,
            value_range=value_range,
            learning_rate=learning_rate,
            jitter=int(jitter),
            total_variation_weight=total_variation,
            l2_weight=l2,
            parameterization=parameterization,
            init=start,
            seed=seed,
            verbose=verbose,
            label="activation",
        )
        images.append(image)
    return images[0] if isinstance(unit, (int, np.integer)) else np.stack(images)
