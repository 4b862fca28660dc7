"""keras-cv augmentation for fine-tuning pipelines, run inside tf.data.

Augmentation runs in the input pipeline (``tf.data``, on CPU, in parallel
with training) rather than as layers of the model. Besides speed this
sidesteps a known trap: with keras-cv 0.9 under Keras 3, some keras-cv
layers fail inside a compiled model. ``keras_cv.layers.RandAugment`` placed
in a ``keras.Sequential`` fails in ``model.fit`` with
``OperatorNotAllowedInGraphError`` raised from ``Equalization.call()``,
with or without ``jit_compile``; the same layer runs fine in
``Dataset.map``. Keep them in the dataset.

Needs TensorFlow and keras-cv.
"""

from __future__ import annotations

from typing import Any

import keras

_FLIPS = ("horizontal", "vertical", "horizontal_and_vertical", None)


def _check_value_range(value_range: Any) -> tuple[float, float]:
    if (
        not isinstance(value_range, (tuple, list))
        or len(value_range) != 2
        or not float(value_range[0]) < float(value_range[1])
    ):
        raise ValueError(
            "Expected `value_range` to be a pair (low, high) with low < high, "
            f"such as (0, 255). Received: value_range={value_range!r}"
        )
    return float(value_range[0]), float(value_range[1])


def build_augmenter(
    value_range: tuple[float, float] = (0, 255),
    rand_augment: bool = True,
    magnitude: float = 0.3,
    augmentations_per_image: int = 2,
    flip: str | None = "horizontal",
    seed: int | None = None,
) -> keras.layers.Layer:
    """Builds a keras-cv pipeline: a random flip, then RandAugment.

    Args:
        value_range: Range of the pixel values, ``(0, 255)`` for raw images.
        rand_augment: Whether to apply ``keras_cv.layers.RandAugment``.
        magnitude: RandAugment magnitude in [0, 1].
        augmentations_per_image: How many RandAugment operations per image.
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"``
            or None for no flip.
        seed: Seed of the random layers (None: unseeded).

    Returns:
        A ``keras_cv.layers.Augmenter`` (a Keras layer).

    Example:

    >>> from keras_apps.transfer import build_augmenter
    >>> augmenter = build_augmenter(seed=0)
    >>> [type(layer).__name__ for layer in augmenter.layers]
    ['RandomFlip', 'RandAugment']
    """
    low_high = _check_value_range(value_range)
    if flip not in _FLIPS:
        raise ValueError(f"Expected `flip` to be one of {_FLIPS}. Received: {flip!r}")
    if not 0.0 <= magnitude <= 1.0:
        raise ValueError(f"Expected `magnitude` in [0, 1]. Received: {magnitude}")
    if augmentations_per_image < 1:
        raise ValueError(
            "Expected `augmentations_per_image` >= 1. "
            f"Received: {augmentations_per_image}"
        )
    if not rand_augment and flip is None:
        raise ValueError(
            "Nothing to apply: pass rand_augment=True or a `flip` mode. "
            "Received: rand_augment=False, flip=None"
        )
    import keras_cv

    layers: list[Any] = []
    if flip is not None:
        layers.append(keras_cv.layers.RandomFlip(flip, seed=seed))
    if rand_augment:
        layers.append(
            keras_cv.layers.RandAugment(
                value_range=low_high,
                augmentations_per_image=augmentations_per_image,
                magnitude=magnitude,
                seed=None if seed is None else seed + 1,
            )
        )
    return keras_cv.layers.Augmenter(layers)


def augment_dataset(
    dataset: Any,
    augmenter: keras.layers.Layer | None = None,
    value_range: tuple[float, float] = (0, 255),
    num_parallel_calls: int | None = None,
    seed: int | None = None,
    **augmenter_kwargs: Any,
) -> Any:
    """Applies keras-cv augmentation to the images of a ``tf.data`` pipeline.

    Args:
        dataset: A ``tf.data.Dataset`` of image batches ``(B, H, W, C)`` or of
            single images, either alone or as the first item of ``(x, y)`` /
            ``(x, y, sample_weight)`` tuples; labels pass through unchanged.
            Batch before augmenting: keras-cv vectorizes over the batch.
        augmenter: A keras-cv layer or any callable on image batches; by
            default `build_augmenter(value_range, seed=seed,
            **augmenter_kwargs)`.
        value_range: Range of the pixel values, ``(0, 255)`` for raw images.
            The outputs stay in this range.
        num_parallel_calls: Parallel calls of ``Dataset.map``. Default:
            ``tf.data.AUTOTUNE``, or 1 when ``seed`` is given, since keras-cv
            draws from one seed state per layer and parallel calls would take
            the draws in a random order.
        seed: Seed for the default augmenter. The seeded ``RandomFlip`` is
            reproducible: two pipelines built with the same seed flip the
            same images. keras-cv 0.9's RandAugment under Keras 3 is not
            reproducible from its seed (part of its randomness comes from
            global random state that other code advances), so with
            RandAugment the images differ between runs even with a seed.
        **augmenter_kwargs: Passed to `build_augmenter`.

    Returns:
        The augmented ``tf.data.Dataset``.

    Example:

    >>> import numpy as np, tensorflow as tf
    >>> from keras_apps.transfer import augment_dataset
    >>> images = np.full((4, 8, 8, 3), 128.0, "float32")
    >>> ds = tf.data.Dataset.from_tensor_slices((images, np.arange(4))).batch(2)
    >>> x, y = next(iter(augment_dataset(ds, seed=0)))
    >>> tuple(x.shape), y.numpy().tolist()
    ((2, 8, 8, 3), [0, 1])
    """
    import tensorflow as tf

    if not isinstance(dataset, tf.data.Dataset):
        raise ValueError(
            "Expected `dataset` to be a tf.data.Dataset. "
            f"Received: {type(dataset).__name__}"
        )
    low, high = _check_value_range(value_range)
    if augmenter is None:
        augmenter = build_augmenter(
            value_range=(low, high), seed=seed, **augmenter_kwargs
        )
    elif augmenter_kwargs:
        raise ValueError(
            "Pass either an `augmenter` or arguments for the default one, not "
            f"both. Received: {sorted(augmenter_kwargs)}"
        )
    if not callable(augmenter):
        raise ValueError(f"Expected a callable augmenter. Received: {augmenter!r}")
    if num_parallel_calls is None:
        num_parallel_calls = 1 if seed is not None else tf.data.AUTOTUNE

    def augment_images(images: Any) -> Any:
        images = tf.cast(images, "float32")
        augmented = augmenter(images)
        return tf.clip_by_value(augmented, low, high)

    def augment_element(*element: Any) -> Any:
        if len(element) == 1:
            return augment_images(element[0])
        return (augment_images(element[0]), *element[1:])

    return dataset.map(
        augment_element,
        num_parallel_calls=num_parallel_calls,
        deterministic=seed is not None or None,
    )
