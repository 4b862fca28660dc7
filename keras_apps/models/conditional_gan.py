"""A class-conditional GAN: the generator and discriminator both see the label."""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.models.gan import GAN


@keras_apps_export("keras_apps.models.ConditionalGAN")
class ConditionalGAN(GAN):
    """A GAN conditioned on class labels (Mirza & Osindero 2014).

    ``fit((images, labels))`` runs the two parts of `GAN` with the batch's
    labels: the discriminator judges ``(image, label)`` pairs, real images
    with their own labels and generated images with the labels they were
    asked for (the batch's labels), and the generator learns to make images
    that the discriminator accepts as real images of the requested class.

    The generator takes ``[latents, labels]`` and the discriminator
    ``[images, labels]``, with integer labels of shape ``(batch,)``:
    `keras_apps.models.dcgan_generator` and `dcgan_discriminator` with
    ``num_classes`` build them (label embedding joined to the latents; a
    one-hot label map with one channel per class at every pixel, or a
    projection discriminator). The train step is TensorFlow-first, as in
    `GAN`.

    Args:
        generator: A functional model ``[latents, labels] -> images``.
        discriminator: A functional model ``[images, labels] -> logits``.
        latent_dim: Size of the latent vectors, > 0.
        num_classes: Number of classes, > 0; labels are ``0 .. num_classes-1``.
        **kwargs: The other arguments of `GAN` (``noise``, ``d_steps``,
            ``label_smoothing``, ``instance_noise``, ``discriminator_batches``,
            ``seed``, ``name``). In a joint discriminator batch the labels
            are joined too: real and generated images carry the same labels.

    Example:

    >>> import numpy as np
    >>> from keras_apps.models import (ConditionalGAN, dcgan_discriminator,
    ...                                dcgan_generator)
    >>> gan = ConditionalGAN(
    ...     dcgan_generator(8, image_size=16, base_filters=8, num_classes=3),
    ...     dcgan_discriminator(16, base_filters=8, num_classes=3),
    ...     latent_dim=8, num_classes=3, seed=0)
    >>> gan.compile()
    >>> images = np.zeros((6, 16, 16, 1), "float32")
    >>> labels = np.array([0, 1, 2, 0, 1, 2])
    >>> _ = gan.fit(images, labels, batch_size=3, epochs=1, verbose=0)
    >>> gan.generate([0, 1, 2, 2], seed=1).shape
    (4, 16, 16, 1)

    Reference:
        Mirza & Osindero 2014, "Conditional Generative Adversarial Nets",
        https://arxiv.org/abs/1411.1784
    """

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        num_classes: int,
        name: str = "conditional_gan",
        **kwargs: Any,
    ) -> None:
        error = positive_int_error("num_classes", num_classes)
        if error:
            raise ValueError(error)
        super().__init__(generator, discriminator, latent_dim, name=name, **kwargs)
        self.num_classes = num_classes

    def _expected_inputs(self) -> int:
        return 2

    def _labels(self, data: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        images, labels, _ = keras.utils.unpack_x_y_sample_weight(data)
        if labels is None:
            raise ValueError(
                "ConditionalGAN.fit needs images and their labels: "
                "fit(images, labels) or a dataset of (images, labels). "
                "Received images only."
            )
        return images, tf.reshape(tf.cast(labels, "int32"), [-1])

    def _check_labels(self, labels: Any) -> np.ndarray:
        array = np.asarray(labels)
        if array.ndim == 2 and array.shape[1] == 1:
            array = array[:, 0]
        if (
            array.ndim != 1
            or array.size == 0
            or not np.issubdtype(array.dtype, np.integer)
            or array.min() < 0
            or array.max() >= self.num_classes
        ):
            raise ValueError(
                "Expected a non-empty 1-D array of integer class labels in "
                f"[0, {self.num_classes}). Received: labels of shape "
                f"{array.shape} and dtype {array.dtype}"
                + (
                    f", values {array.min()}..{array.max()}"
                    if array.size and np.issubdtype(array.dtype, np.number)
                    else ""
                )
            )
        return array.astype("int32")

    def generate(  # type: ignore[override]
        self, labels: Any, seed: int | None = None
    ) -> np.ndarray:
        """One image per requested class label, as a NumPy array.

        Args:
            labels: Integer class labels, shape ``(n,)``.
            seed: An int for reproducible latents (the same seed and the same
                number of labels give the same latents); None: random.
        """
        array = self._check_labels(labels)
        latents = self.sample_latents(len(array), seed)
        return self._run_generator(latents, array)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}
