"""Class activation maps from gradients: Grad-CAM and Grad-CAM++."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_apps import _backend
from keras_apps.transfer.features import _batches
from keras_apps.visualize import _graph
from keras_apps.visualize.features import check_batch_size
from keras_apps.visualize.receptive_field import receptive_field

__all__ = ["grad_cam"]

METHODS = ("gradcam", "gradcam++")


def _upsample(maps: np.ndarray, model: keras.Model, layer_name: str, size: Any) -> Any:
    """Heatmaps at input resolution, each unit's value at its window's centre.

    Uses the layer's receptive field so that maps of "valid" convolutions are
    placed where their units look; falls back to a plain bilinear resize for
    layers of unknown geometry.
    """
    height, width = size
    try:
        field = receptive_field(model, layer_name)
    except ValueError:
        field = None
    if field is None or len(field.size) != 2:
        resized = keras.ops.image.resize(maps[..., None], (height, width))
        return np.asarray(keras.ops.convert_to_numpy(resized))[..., 0]
    rows = field.start[0] + field.jump[0] * np.arange(maps.shape[1])
    cols = field.start[1] + field.jump[1] * np.arange(maps.shape[2])
    # Linear interpolation between the window centres (constant beyond the
    # outermost ones) as two matrices: heatmap = R_rows @ map @ R_cols^T.
    along_rows = _interpolation_matrix(np.arange(height), rows)
    along_cols = _interpolation_matrix(np.arange(width), cols)
    return np.einsum("yi,nij,xj->nyx", along_rows, maps, along_cols)


def _interpolation_matrix(targets: np.ndarray, centres: np.ndarray) -> np.ndarray:
    eye = np.eye(len(centres))
    return np.stack(
        [np.interp(targets, centres, eye[i]) for i in range(len(centres))], 1
    )


def grad_cam(
    model: keras.Model,
    layer_name: str,
    images: Any,
    class_index: int | Sequence[int] | None = None,
    method: str = "gradcam",
    upsample: bool = True,
    batch_size: int = 32,
) -> np.ndarray:
    """Where in each image the evidence for a class is (Selvaraju et al. 2017).

    Grad-CAM weights the feature maps ``A`` of a convolutional layer by the
    spatial mean of the gradient of the class score ``y_c`` and keeps the
    positive part: ``relu(sum_k mean_ij(dy_c/dA_ijk) A_ijk)``. Grad-CAM++
    (``method="gradcam++"``, Chattopadhyay et al. 2018) weights each position
    by ``alpha = g^2 / (2 g^2 + sum_ij(A) g^3)`` (closed form with the
    gradient ``g``) and sums only positive gradients, which separates several
    objects of one class better.

    The layer may sit inside a nested backbone (``"backbone/conv5"``, or the
    bare name): the classifier's graph is rebuilt with the same layers so
    that ``A`` and ``y_c`` come from one forward pass (the case tf-keras-vis
    cannot handle: tf-keras-vis#48, #63). TensorFlow first: gradients through
    ``tf.GradientTape``.

    ``y_c`` is the model output at ``class_index``. For a softmax output
    the gradients are those of the probability; a model that ends in logits
    gives the paper's pre-softmax score.

    Args:
        model: A functional or Sequential classifier with one image input and
            one output ``(batch, classes)``.
        layer_name: A convolutional layer (usually the last one).
        images: Images ``(N, H, W, C)``, a ``tf.data.Dataset`` or batches.
        class_index: Class per image (an int for all, or a list), or None for
            each image's predicted class.
        method: ``"gradcam"`` or ``"gradcam++"``.
        upsample: If True, heatmaps at input resolution (each unit's value
            placed at the centre of its receptive field, linear in between);
            otherwise at the layer's resolution.
        batch_size: Batch size used to split arrays.

    Returns:
        Heatmaps ``(N, H, W)`` scaled to [0, 1] per image (all zero where
        nothing speaks for the class).

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import grad_cam
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3, padding="same", name="conv"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3)])
    >>> grad_cam(model, "conv", np.ones((2, 8, 8, 1)), class_index=1).shape
    (2, 8, 8)

    Reference:
        Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks
        via Gradient-based Localization", ICCV 2017.
    """
    _backend.require_tensorflow("grad_cam", "takes gradients with tf.GradientTape")
    import tensorflow as tf

    model = _graph.check_model(model)
    if method not in METHODS:
        raise ValueError(f"Expected method in {METHODS}. Received: method={method!r}")
    batch_size = check_batch_size(batch_size)
    layer = _graph.find_layer(model, layer_name)
    extractor = _graph.tapped_model(model, [layer], include_outputs=True)
    if len(extractor.outputs) != 2 or len(extractor.outputs[1].shape) != 2:
        raise ValueError(
            f"Expected a classifier with one output (batch, classes). Received "
            f"model {model.name!r} with outputs "
            f"{[tuple(t.shape) for t in extractor.outputs[1:]]}."
        )
    _graph.channels_last_map(layer_name, extractor.outputs[0].shape)
    classes = int(extractor.outputs[1].shape[-1])

    @tf.function
    def maps_for(x: Any, chosen: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(x)
            activations, scores = extractor(x, training=False)
            target = tf.gather(scores, chosen, axis=1, batch_dims=1)
        grads = tape.gradient(target, activations)
        if method == "gradcam":
            weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        else:
            g2 = tf.square(grads)
            g3 = g2 * grads
            total = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
            denominator = 2.0 * g2 + total * g3
            safe = tf.where(denominator != 0.0, denominator, tf.ones_like(denominator))
            alpha = tf.where(denominator != 0.0, g2 / safe, tf.zeros_like(g2))
            weights = tf.reduce_sum(
                alpha * tf.nn.relu(grads), axis=(1, 2), keepdims=True
            )
        return tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1)), scores

    heatmaps = []
    seen = 0
    for batch in _batches(images, batch_size):
        batch = np.asarray(batch)
        _graph.check_images(model, batch)
        count = len(batch)
        if class_index is None:
            chosen = np.asarray(extractor.predict_on_batch(batch)[1]).argmax(axis=-1)
        elif isinstance(class_index, (int, np.integer)):
            chosen = np.full(count, int(class_index))
        else:
            chosen = np.asarray(class_index)[seen : seen + count]
            if len(chosen) != count:
                raise ValueError(
                    "Expected one class_index per image. Received "
                    f"{len(np.asarray(class_index))} for {seen + count} or more images."
                )
        if np.any(chosen < 0) or np.any(chosen >= classes):
            raise ValueError(
                f"Expected class_index in [0, {classes}). Received: {class_index!r}"
            )
        maps, _ = maps_for(
            tf.convert_to_tensor(batch, dtype=extractor.inputs[0].dtype),
            tf.convert_to_tensor(chosen, dtype="int32"),
        )
        heatmaps.append(maps.numpy())
        seen += count
    if not heatmaps:
        raise ValueError("Received no images: `images` is empty.")
    result = np.concatenate(heatmaps).astype("float32")
    if upsample:
        result = _upsample(result, model, layer_name, model_input_size(model, images))
    peak = result.max(axis=(1, 2), keepdims=True)
    return np.where(peak > 0, result / np.where(peak > 0, peak, 1.0), 0.0).astype(
        "float32"
    )


def model_input_size(model: keras.Model, images: Any) -> tuple[int, int]:
    shape = tuple(model.inputs[0].shape)
    if shape[1] is not None and shape[2] is not None:
        return int(shape[1]), int(shape[2])
    first = next(iter(_batches(images, 1)))
    return int(np.shape(first)[1]), int(np.shape(first)[2])
