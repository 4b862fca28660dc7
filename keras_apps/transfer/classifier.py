"""Strategy 1: a pretrained backbone with a new classification head."""

from __future__ import annotations

import keras

from keras_apps import _compat

_POOLINGS = ("avg", "max", "flatten", None)


def build_classifier(
    backbone: keras.layers.Layer,
    num_classes: int,
    train_backbone: bool = False,
    pooling: str | None = "avg",
    dropout: float = 0.2,
    activation: str | None = "softmax",
    name: str = "classifier",
) -> keras.Model:
    """Puts a new head (pooling, dropout, dense) on top of a backbone.

    With ``train_backbone=False`` the backbone is frozen and called with
    ``training=False``, as in the Keras transfer-learning guide: its
    BatchNormalization layers run in inference mode, so their moving
    statistics do not drift during ``fit``. Note that in Keras 3 a functional
    model passes its own ``training`` flag to every layer during ``fit``, so
    what keeps BatchNormalization in inference mode is ``trainable=False``
    on the layer: `unfreeze` and `GradualUnfreezing` keep BatchNormalization
    frozen by default when they unfreeze backbone layers for fine-tuning.
    With ``train_backbone=True`` the backbone trains with the head and its
    BatchNormalization layers run in training mode.

    Args:
        backbone: A Keras model or layer mapping images to feature maps
            (rank 4) or feature vectors (rank 2), with a known input shape
            (a model) or called on ``keras.Input`` of ``backbone.input_shape``.
        num_classes: Number of classes, >= 1.
        train_backbone: Whether the backbone's weights train.
        pooling: ``"avg"``, ``"max"``, ``"flatten"`` or None, applied to
            rank-4 features; ignored for feature vectors.
        dropout: Dropout rate before the dense layer, in [0, 1).
        activation: Activation of the output layer (None gives logits).
        name: Name of the model.

    Returns:
        A functional `keras.Model` whose layers are the backbone (under its
        own name), the pooling, ``"head_dropout"`` and ``"head"``.

    Example:

    >>> import keras
    >>> from keras_apps.transfer import build_classifier
    >>> backbone = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(4, 3)], name="backbone")
    >>> model = build_classifier(backbone, num_classes=3)
    >>> model.output_shape
    (None, 3)
    >>> backbone.trainable
    False
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int):
        raise ValueError(
            f"Expected `num_classes` to be an int >= 1. Received: {num_classes!r}"
        )
    if num_classes < 1:
        raise ValueError(
            f"Expected `num_classes` to be an int >= 1. Received: {num_classes}"
        )
    if pooling not in _POOLINGS:
        raise ValueError(
            f"Expected `pooling` to be one of {_POOLINGS}. Received: {pooling!r}"
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"Expected `dropout` in [0, 1). Received: {dropout}")
    input_shape = _input_shape(backbone)
    # Set every nested layer: assigning ``trainable`` its current value does
    # not cascade, so a trainable model holding a frozen layer (a HubBackbone
    # built with trainable=False) would otherwise stay partly frozen.
    for layer in _compat.flatten_layers(backbone):
        layer.trainable = bool(train_backbone)
    inputs = keras.Input(shape=input_shape, name="image")
    if train_backbone:
        features = backbone(inputs)
    else:
        features = backbone(inputs, training=False)
    rank = len(features.shape)
    if rank == 4:
        if pooling == "avg":
            features = keras.layers.GlobalAveragePooling2D(name="head_pool")(features)
        elif pooling == "max":
            features = keras.layers.GlobalMaxPooling2D(name="head_pool")(features)
        else:
            features = keras.layers.Flatten(name="head_pool")(features)
    elif rank != 2:
        features = keras.layers.Flatten(name="head_pool")(features)
    if dropout:
        features = keras.layers.Dropout(dropout, name="head_dropout")(features)
    outputs = keras.layers.Dense(num_classes, activation=activation, name="head")(
        features
    )
    return keras.Model(inputs, outputs, name=name)


def _input_shape(backbone: keras.layers.Layer) -> tuple[int | None, ...]:
    if not isinstance(backbone, keras.layers.Layer):
        raise ValueError(
            "Expected `backbone` to be a Keras model or layer. "
            f"Received: backbone={backbone!r}"
        )
    try:
        shape = backbone.input_shape  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        build_config = (backbone.get_build_config() or {}) if backbone.built else {}
        shape = build_config.get("input_shape")
    if (
        shape is None
        or isinstance(shape, dict)
        or (shape and isinstance(shape[0], (list, tuple)))
    ):
        raise ValueError(
            "Expected a backbone with one known input shape (a model built on "
            f"keras.Input, or a built layer). Received: backbone={backbone.name!r} "
            f"with input shape {shape!r}"
        )
    return tuple(shape[1:])
