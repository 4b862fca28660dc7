"""DCGAN generator and discriminator builders (Radford et al. 2016).

Both builders return functional `keras.Model`s made of built-in Keras layers
only, so they run on every backend and save to ``.keras`` without custom
objects. Conditional variants take integer class labels as a second input.
"""

from __future__ import annotations

from typing import Any

import keras

from keras_apps.layers._checks import positive_int_error

IMAGE_SIZES = (16, 28, 32, 64)
"""The image sizes the builders support (square images)."""

_NORMS = (None, "batch", "layer")
_CONDITIONINGS = ("label_map", "projection")


def _start_size(image_size: int) -> int:
    return 7 if image_size == 28 else 4


def _num_resolutions(image_size: int) -> int:
    """How many stride-2 steps lie between the 4x4 (7x7) base and the image."""
    steps, size = 0, _start_size(image_size)
    while size < image_size:
        size *= 2
        steps += 1
    return steps


def _check_common(
    image_size: Any,
    channels: Any,
    base_filters: Any,
    num_classes: Any,
    norm: Any,
) -> list[str]:
    errors = [
        positive_int_error("channels", channels),
        positive_int_error("base_filters", base_filters),
    ]
    if num_classes is not None:
        errors.append(positive_int_error("num_classes", num_classes))
    if image_size not in IMAGE_SIZES or isinstance(image_size, bool):
        errors.append(
            f"`image_size` must be one of {IMAGE_SIZES} (square images). "
            f"Received: image_size={image_size!r}"
        )
    if norm not in _NORMS:
        errors.append(
            f"`norm` must be None, 'batch' or 'layer'. Received: norm={norm!r}"
        )
    return [e for e in errors if e]


def _norm_layer(norm: str | None, name: str, dtype: Any) -> Any:
    if norm == "batch":
        return keras.layers.BatchNormalization(name=name, dtype=dtype)
    if norm == "layer":
        return keras.layers.LayerNormalization(name=name, dtype=dtype)
    return None


def dcgan_generator(
    latent_dim: int = 64,
    image_size: int = 28,
    channels: int = 1,
    base_filters: int = 64,
    num_classes: int | None = None,
    embedding_dim: int = 16,
    norm: str | None = "batch",
    output_activation: str | None = "tanh",
    name: str = "generator",
    dtype: Any = None,
) -> keras.Model:
    """A DCGAN generator: latents (and class labels) in, images out.

    A dense layer maps the latents to a 4x4 (7x7 for 28-pixel images) map of
    ``base_filters * 2**(k - 1)`` channels, then ``k`` stride-2 transposed
    convolutions (kernel 4) double the size up to ``image_size``, halving
    the channels each time; each is followed by normalization and a ReLU,
    except the last one, which produces ``channels`` channels through
    ``output_activation`` (``tanh``: images in [-1, 1], as in the paper).

    For a conditional generator (``num_classes`` given) a second input takes
    integer labels of shape ``(batch,)``; their learned embedding of size
    ``embedding_dim`` is concatenated to the latents.

    Args:
        latent_dim: Size of the latent vectors. Defaults to 64.
        image_size: 16, 28, 32 or 64. Defaults to 28.
        channels: Channels of the images (1: grey, 3: RGB, any count).
            Defaults to 1.
        base_filters: Channels of the layer before the output; the layers
            nearer the latents have 2x, 4x ... as many. Defaults to 64.
        num_classes: Number of classes of a conditional generator, or None.
        embedding_dim: Size of the label embedding. Defaults to 16.
        norm: ``"batch"`` (default, DCGAN), ``"layer"`` or None.
        output_activation: Activation of the output layer. Defaults to
            ``"tanh"``.
        name: Model name. Defaults to ``"generator"``.
        dtype: Dtype policy of every layer (``"mixed_float16"`` ...).

    Returns:
        A functional model with inputs ``latents`` (and ``labels``) and the
        output layer ``images`` of shape ``(batch, image_size, image_size,
        channels)``.

    Example:

    >>> from keras_apps.models import dcgan_generator
    >>> generator = dcgan_generator(latent_dim=8, image_size=16, base_filters=8)
    >>> generator.output_shape
    (None, 16, 16, 1)

    Reference:
        Radford, Metz & Chintala 2016, "Unsupervised Representation Learning
        with Deep Convolutional Generative Adversarial Networks",
        https://arxiv.org/abs/1511.06434
    """
    errors = _check_common(image_size, channels, base_filters, num_classes, norm)
    errors.append(positive_int_error("latent_dim", latent_dim) or "")
    if num_classes is not None:
        errors.append(positive_int_error("embedding_dim", embedding_dim) or "")
    errors = [e for e in errors if e]
    if errors:
        raise ValueError(" ".join(errors))
    steps = _num_resolutions(image_size)
    start = _start_size(image_size)

    latents = keras.Input((latent_dim,), name="latents")
    inputs: list[Any] = [latents]
    x = latents
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
        embedded = keras.layers.Embedding(
            num_classes, embedding_dim, name="label_embedding", dtype=dtype
        )(labels)
        x = keras.layers.Concatenate(name="latents_and_labels", dtype=dtype)(
            [latents, embedded]
        )
    filters = base_filters * 2 ** (steps - 1)
    x = keras.layers.Dense(
        start * start * filters, use_bias=norm is None, name="project", dtype=dtype
    )(x)
    x = keras.layers.Reshape((start, start, filters), name="reshape", dtype=dtype)(x)
    layer = _norm_layer(norm, "project_norm", dtype)
    if layer is not None:
        x = layer(x)
    x = keras.layers.ReLU(name="project_relu", dtype=dtype)(x)
    for step in range(steps - 1):
        filters //= 2
        x = keras.layers.Conv2DTranspose(
            max(filters, 1),
            4,
            strides=2,
            padding="same",
            use_bias=norm is None,
            name=f"up{step + 1}",
            dtype=dtype,
        )(x)
        layer = _norm_layer(norm, f"up{step + 1}_norm", dtype)
        if layer is not None:
            x = layer(x)
        x = keras.layers.ReLU(name=f"up{step + 1}_relu", dtype=dtype)(x)
    images = keras.layers.Conv2DTranspose(
        channels,
        4,
        strides=2,
        padding="same",
        activation=output_activation,
        name="images",
        dtype=dtype,
    )(x)
    return keras.Model(inputs if len(inputs) > 1 else latents, images, name=name)


def dcgan_discriminator(
    image_size: int = 28,
    channels: int = 1,
    base_filters: int = 64,
    num_classes: int | None = None,
    conditioning: str = "label_map",
    norm: str | None = None,
    dropout: float = 0.0,
    name: str = "discriminator",
    dtype: Any = None,
) -> keras.Model:
    """A DCGAN discriminator (or WGAN critic): images (and labels) in, one logit out.

    Stride-2 convolutions (kernel 4) with a LeakyReLU of slope 0.2 halve the
    image down to 4x4 (7x7 for 28 pixels), doubling the channels from
    ``base_filters``; normalization, when asked for, follows every
    convolution but the first (as in the paper). The flattened features go
    to a dense layer with one output, a logit (no sigmoid; a WGAN critic's
    score). Use ``norm=None`` or ``"layer"`` for a WGAN-GP critic: batch
    normalization mixes the samples that the gradient penalty treats one by
    one.

    Conditional discriminators (``num_classes`` given) take integer labels of
    shape ``(batch,)`` as a second input:

    - ``conditioning="label_map"``: the one-hot label is laid out as
      ``num_classes`` extra image channels, channel ``k`` equal to 1 at every
      pixel for class ``k`` and 0 elsewhere, and concatenated to the image.
    - ``conditioning="projection"``: the inner product of a learned class
      embedding with the features is added to the logit (Miyato & Koyama
      2018).

    Args:
        image_size: 16, 28, 32 or 64. Defaults to 28.
        channels: Channels of the images. Defaults to 1.
        base_filters: Channels of the first convolution. Defaults to 64.
        num_classes: Number of classes of a conditional discriminator, or
            None.
        conditioning: ``"label_map"`` (default) or ``"projection"``.
        norm: None (default), ``"batch"`` or ``"layer"``.
        dropout: Dropout rate after each convolution block. Defaults to 0.
        name: Model name. Defaults to ``"discriminator"``.
        dtype: Dtype policy of every layer.

    Returns:
        A functional model with inputs ``images`` (and ``labels``) and the
        output layer ``logits`` of shape ``(batch, 1)``.

    Example:

    >>> from keras_apps.models import dcgan_discriminator
    >>> discriminator = dcgan_discriminator(image_size=16, base_filters=8)
    >>> discriminator.output_shape
    (None, 1)

    Reference:
        Radford, Metz & Chintala 2016, https://arxiv.org/abs/1511.06434;
        Miyato & Koyama 2018, "cGANs with Projection Discriminator",
        https://arxiv.org/abs/1802.05637
    """
    errors = _check_common(image_size, channels, base_filters, num_classes, norm)
    if conditioning not in _CONDITIONINGS:
        errors.append(
            "`conditioning` must be 'label_map' or 'projection'. "
            f"Received: conditioning={conditioning!r}"
        )
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        errors.append(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if errors:
        raise ValueError(" ".join(errors))
    steps = _num_resolutions(image_size)

    images = keras.Input((image_size, image_size, channels), name="images")
    inputs: list[Any] = [images]
    x = images
    labels = None
    if num_classes is not None:
        labels = keras.Input((), dtype="int32", name="labels")
        inputs.append(labels)
    if labels is not None and conditioning == "label_map":
        one_hot = keras.layers.CategoryEncoding(
            num_classes, output_mode="one_hot", name="one_hot_labels", dtype=dtype
        )(labels)
        one_hot = keras.layers.Reshape(
            (1, 1, num_classes), name="label_pixel", dtype=dtype
        )(one_hot)
        # Nearest-neighbour upsampling of a 1x1 map copies the one-hot vector
        # to every pixel: (batch, H, W, num_classes), one channel per class.
        label_map = keras.layers.UpSampling2D(
            (image_size, image_size), name="label_map", dtype=dtype
        )(one_hot)
        x = keras.layers.Concatenate(name="images_and_labels", dtype=dtype)(
            [images, label_map]
        )
    for step in range(steps):
        layer = _norm_layer(norm, f"down{step + 1}_norm", dtype) if step else None
        x = keras.layers.Conv2D(
            base_filters * 2**step,
            4,
            strides=2,
            padding="same",
            # Batch normalization removes a bias: its gradient is only noise.
            use_bias=not isinstance(layer, keras.layers.BatchNormalization),
            name=f"down{step + 1}",
            dtype=dtype,
        )(x)
        if layer is not None:
            x = layer(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{step + 1}_lrelu", dtype=dtype)(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"down{step + 1}_dropout")(x)
    features = keras.layers.Flatten(name="features", dtype=dtype)(x)
    project = labels is not None and conditioning == "projection"
    logits = keras.layers.Dense(
        1, name="unconditional_logits" if project else "logits", dtype=dtype
    )(features)
    if project:
        embedded = keras.layers.Embedding(
            num_classes,
            int(features.shape[-1]),
            name="class_projection",
            dtype=dtype,
        )(labels)
        projection = keras.layers.Dot(axes=1, name="projection", dtype=dtype)(
            [embedded, features]
        )
        logits = keras.layers.Add(name="logits", dtype=dtype)([logits, projection])
    return keras.Model(inputs if len(inputs) > 1 else images, logits, name=name)
