"""Pre-activation ResNet (He et al. 2016), built from `ResidualUnit` layers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.layers.residual_unit import ResidualUnit

RESNET_STAGES: dict[int, tuple[tuple[int, ...], bool]] = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}
"""Units per stage and whether the units are bottlenecks, per depth."""

_STEMS = ("imagenet", "cifar")


@keras_apps_export("keras_apps.models.PreActResNet")
class PreActResNet(keras.Model):
    """Pre-activation ResNet as a functional model of `ResidualUnit`s.

    Stage ``i`` (from 0) has ``stages[i]`` pre-activation units with
    ``base_filters * 2**i`` filters (``4x`` that many output channels for
    bottleneck units); its first unit has stride 2 except in stage 0, and
    projects its shortcut where the shape changes. After the last unit come
    the final batch normalization and ReLU that pre-activation networks
    need, then global average pooling and the classifier.

    The ``"imagenet"`` stem is a 7x7/2 convolution, batch normalization,
    ReLU and a 3x3/2 max-pool (as in the authors' pre-activation ImageNet
    code); the ``"cifar"`` stem is one 3x3 convolution of stride 1, for small
    images. Every unit, the first one included, keeps its own batch
    normalization and ReLU (the authors' code skips them in the unit right
    after the ImageNet stem; ``keras.applications.ResNet50V2`` has no stem
    batch normalization instead). Convolutions have no bias.

    Args:
        depth: 18, 34 (basic units), 50, 101 or 152 (bottleneck units). Used
            when ``stages`` is None; defaults to 18 then.
        stages: Units per stage for a custom network, for example ``[1, 1]``.
            Pass either ``depth`` or ``stages``.
        bottleneck: Whether units are bottlenecks. Defaults to None: True for
            depth >= 50, False for custom ``stages``.
        input_shape: Shape of one image. Defaults to ``(224, 224, 3)``.
        num_classes: Number of classes. Defaults to 1000.
        base_filters: Filters of the stem and of stage 0. Defaults to 64.
        include_top: Whether to end with pooling and the classifier.
            Defaults to True.
        pooling: With ``include_top=False``: ``None`` (feature map),
            ``"avg"`` or ``"max"``. Defaults to None.
        stem: ``"imagenet"`` (default) or ``"cifar"``.
        classifier_activation: Activation of the classifier. Defaults to
            ``"softmax"``; ``None`` gives logits.
        name: Model name. Defaults to ``"preact_resnet"``.
        dtype: Dtype policy (or its name, such as ``"mixed_float16"``) of
            every layer, as in keras-hub backbones. Defaults to None: the
            global policy (``keras.config.dtype_policy()``).
        **kwargs: Further `keras.Model` keyword arguments.

    Example:

    >>> import keras_apps
    >>> model = keras_apps.models.PreActResNet(
    ...     stages=[1, 1], input_shape=(16, 16, 3), num_classes=10,
    ...     base_filters=4, stem="cifar")
    >>> model.output_shape
    (None, 10)

    Reference:
        He et al. 2016, "Identity Mappings in Deep Residual Networks",
        https://arxiv.org/abs/1603.05027
    """

    def __init__(
        self,
        depth: int | None = None,
        stages: Sequence[int] | None = None,
        bottleneck: bool | None = None,
        input_shape: Sequence[int] = (224, 224, 3),
        num_classes: int = 1000,
        base_filters: int = 64,
        include_top: bool = True,
        pooling: str | None = None,
        stem: str = "imagenet",
        classifier_activation: Any = "softmax",
        name: str = "preact_resnet",
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        errors: list[str | None] = []
        if depth is not None and stages is not None:
            errors.append(
                "Pass either `depth` or `stages`, not both. "
                f"Received: depth={depth!r}, stages={stages!r}"
            )
        elif stages is None and (depth or 18) not in RESNET_STAGES:
            errors.append(
                f"`depth` must be one of {sorted(RESNET_STAGES)} (or pass `stages`). "
                f"Received: depth={depth!r}"
            )
        if stages is not None and (
            isinstance(stages, (str, int))
            or not stages
            or not all(
                isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in stages
            )
        ):
            errors.append(
                "`stages` must be a non-empty list of positive unit counts. "
                f"Received: stages={stages!r}"
            )
        if len(tuple(input_shape)) != 3:
            errors.append(
                "`input_shape` must be (height, width, channels). "
                f"Received: input_shape={input_shape!r}"
            )
        errors.extend(
            positive_int_error(arg, value)
            for arg, value in (
                ("num_classes", num_classes),
                ("base_filters", base_filters),
            )
        )
        if stem not in _STEMS:
            errors.append(f"`stem` must be one of {_STEMS}. Received: stem={stem!r}")
        if pooling not in (None, "avg", "max"):
            errors.append(
                f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}"
            )
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))

        if stages is None:
            units, default_bottleneck = RESNET_STAGES[depth or 18]
        else:
            units, default_bottleneck = tuple(stages), False
        use_bottleneck = default_bottleneck if bottleneck is None else bool(bottleneck)

        inputs = keras.Input(shape=tuple(input_shape), name="image")
        if stem == "imagenet":
            x = keras.layers.Conv2D(
                base_filters,
                7,
                strides=2,
                padding="same",
                use_bias=False,
                kernel_initializer="he_normal",
                dtype=dtype,
                name="stem_conv",
            )(inputs)
            x = keras.layers.BatchNormalization(
                epsilon=1.001e-5, dtype=dtype, name="stem_bn"
            )(x)
            x = keras.layers.ReLU(dtype=dtype, name="stem_relu")(x)
            x = keras.layers.MaxPooling2D(
                3, strides=2, padding="same", dtype=dtype, name="stem_pool"
            )(x)
        else:
            x = keras.layers.Conv2D(
                base_filters,
                3,
                padding="same",
                use_bias=False,
                kernel_initializer="he_normal",
                dtype=dtype,
                name="stem_conv",
            )(inputs)
        for stage, count in enumerate(units):
            for unit in range(count):
                x = ResidualUnit(
                    base_filters * 2**stage,
                    strides=2 if stage > 0 and unit == 0 else 1,
                    bottleneck=use_bottleneck,
                    dtype=dtype,
                    name=f"stage{stage + 1}_unit{unit + 1}",
                )(x)
        x = keras.layers.BatchNormalization(
            epsilon=1.001e-5, dtype=dtype, name="post_bn"
        )(x)
        x = keras.layers.ReLU(dtype=dtype, name="post_relu")(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="avg_pool")(x)
            x = keras.layers.Dense(
                num_classes,
                activation=classifier_activation,
                dtype=dtype,
                name="predictions",
            )(x)
        elif pooling == "avg":
            x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="avg_pool")(x)
        elif pooling == "max":
            x = keras.layers.GlobalMaxPooling2D(dtype=dtype, name="max_pool")(x)
        super().__init__(inputs=inputs, outputs=x, name=name, dtype=dtype, **kwargs)
        if dtype is not None:
            # Functional models do not keep the policy passed to them; their
            # layers have it, and the model reports and serializes it too.
            self.dtype_policy = keras.dtype_policies.get(dtype)

        self.depth = depth
        self.stages = None if stages is None else [int(n) for n in stages]
        self.bottleneck = bottleneck
        self.image_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.base_filters = base_filters
        self.include_top = include_top
        self.pooling = pooling
        self.stem = stem
        self.classifier_activation = classifier_activation

    def get_config(self) -> dict[str, Any]:
        activation = self.classifier_activation
        return {
            "depth": self.depth,
            "stages": None if self.stages is None else list(self.stages),
            "bottleneck": self.bottleneck,
            "input_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "base_filters": self.base_filters,
            "include_top": self.include_top,
            "pooling": self.pooling,
            "stem": self.stem,
            "classifier_activation": None
            if activation is None
            else keras.activations.serialize(keras.activations.get(activation)),
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PreActResNet:
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
