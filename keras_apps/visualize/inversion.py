"""Images reconstructed from a layer's features (Mahendran & Vedaldi 2015)."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_apps.visualize import _graph, _optimize
from keras_apps.visualize.activation_maximization import model_image_shape

__all__ = ["invert_features"]


def invert_features(
    model: keras.Model,
    layer_name: str,
    image: Any,
    steps: int = 300,
    tv_weight: float = 0.05,
    learning_rate: float = 0.05,
    l2: float = 0.0,
    jitter: int = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
    parameterization: str = "pixel",
    seed: int | None = None,
    verbose: int = 1,
) -> np.ndarray:
    """Reconstructs an image from what one layer keeps of it.

    Starting from grey noise, minimizes the content term
    ``||phi(x) - phi(x0)||^2 / ||phi(x0)||^2`` between the layer's features
    of the reconstruction ``x`` and of the original ``x0``, plus
    ``tv_weight`` times the total variation of ``x`` (the image prior of
    Mahendran & Vedaldi 2015). Shallow layers give back nearly the image;
    deep layers keep what the network needs and lose the rest (position,
    colour, fine detail), which is what the reconstructions show.

    It runs on the one image-optimisation loop of `keras_apps.visualize`
    (the one of `activation_maximization`): Adam, pixel or Fourier
    parameterization, a ``keras.utils.Progbar``. TensorFlow first (gradients
    through ``tf.GradientTape``). The layer may sit inside a nested model.

    Args:
        model: A functional or Sequential model with one image input.
        layer_name: Layer name (any depth) or path ``"backbone/conv3"``.
        image: One image ``(H, W, C)`` (or a batch of one) in ``value_range``.
        steps: Optimisation steps.
        tv_weight: Weight of the total-variation prior (on [0, 1] pixels).
        learning_rate: Adam learning rate.
        l2: Weight of an L2 penalty (distance from grey).
        jitter: Maximum random shift per step in pixels (0: none).
        value_range: Pixel range the model expects.
        parameterization: ``"pixel"`` or ``"fourier"``.
        seed: Seed of the start noise.
        verbose: 1 shows the progress bar, 0 hides it.

    Returns:
        The reconstruction ``(H, W, C)`` in ``value_range``.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import invert_features
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3, name="conv")])
    >>> invert_features(model, "conv", np.ones((8, 8, 1)), steps=3,
    ...                 verbose=0).shape
    (8, 8, 1)

    Reference:
        Mahendran & Vedaldi, "Understanding Deep Image Representations by
        Inverting Them", CVPR 2015.
    """
    _optimize.require_tensorflow("invert_features")
    model = _graph.check_model(model)
    layer = _graph.find_layer(model, layer_name)
    steps = _optimize.check_steps(steps)
    _optimize.check_non_negative(
        tv_weight=tv_weight, learning_rate=learning_rate, l2=l2, jitter=jitter
    )
    array = np.asarray(image, dtype="float32")
    if array.ndim == 3:
        array = array[None]
    _graph.check_images(model, array, what="image")
    if len(array) != 1:
        raise ValueError(
            f"Expected one image (H, W, C) or a batch of one. Received: shape "
            f"{np.shape(image)}"
        )
    shape = model_image_shape(model, array.shape[1:])
    extractor = _graph.tapped_model(model, [layer])
    target = keras.ops.convert_to_tensor(extractor.predict_on_batch(array))
    norm = keras.ops.maximum(keras.ops.sum(keras.ops.square(target)), 1e-12)

    def content(x: Any) -> Any:
        features = extractor(x, training=False)
        return keras.ops.sum(keras.ops.square(features - target)) / norm

    reconstruction, _ = _optimize.optimize_image(
        content,
        shape,
        steps,
        value_range=value_range,
        learning_rate=learning_rate,
        jitter=int(jitter),
        total_variation_weight=tv_weight,
        l2_weight=l2,
        parameterization=parameterization,
        seed=seed,
        verbose=verbose,
        label="content",
    )
    return reconstruction
