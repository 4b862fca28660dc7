"""GoogLeNet (Inception v1), built from `InceptionBlock` layers."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.layers.inception_block import InceptionBlock
from keras_apps.layers.local_response_normalization import (
    LocalResponseNormalization,
)

POOL = "pool"
"""A `blocks` entry that inserts a 3x3 stride-2 max-pool."""

GOOGLENET_BLOCKS: tuple[dict[str, Any] | str, ...] = (
    # Table 1 of Szegedy et al. 2015: #1x1, #3x3 reduce, #3x3, #5x5 reduce,
    # #5x5, pool proj.
    {
        "name": "3a",
        "filters_1x1": 64,
        "reduce_3x3": 96,
        "filters_3x3": 128,
        "reduce_5x5": 16,
        "filters_5x5": 32,
        "pool_proj": 32,
    },
    {
        "name": "3b",
        "filters_1x1": 128,
        "reduce_3x3": 128,
        "filters_3x3": 192,
        "reduce_5x5": 32,
        "filters_5x5": 96,
        "pool_proj": 64,
    },
    POOL,
    {
        "name": "4a",
        "filters_1x1": 192,
        "reduce_3x3": 96,
        "filters_3x3": 208,
        "reduce_5x5": 16,
        "filters_5x5": 48,
        "pool_proj": 64,
    },
    {
        "name": "4b",
        "filters_1x1": 160,
        "reduce_3x3": 112,
        "filters_3x3": 224,
        "reduce_5x5": 24,
        "filters_5x5": 64,
        "pool_proj": 64,
    },
    {
        "name": "4c",
        "filters_1x1": 128,
        "reduce_3x3": 128,
        "filters_3x3": 256,
        "reduce_5x5": 24,
        "filters_5x5": 64,
        "pool_proj": 64,
    },
    {
        "name": "4d",
        "filters_1x1": 112,
        "reduce_3x3": 144,
        "filters_3x3": 288,
        "reduce_5x5": 32,
        "filters_5x5": 64,
        "pool_proj": 64,
    },
    {
        "name": "4e",
        "filters_1x1": 256,
        "reduce_3x3": 160,
        "filters_3x3": 320,
        "reduce_5x5": 32,
        "filters_5x5": 128,
        "pool_proj": 128,
    },
    POOL,
    {
        "name": "5a",
        "filters_1x1": 256,
        "reduce_3x3": 160,
        "filters_3x3": 320,
        "reduce_5x5": 32,
        "filters_5x5": 128,
        "pool_proj": 128,
    },
    {
        "name": "5b",
        "filters_1x1": 384,
        "reduce_3x3": 192,
        "filters_3x3": 384,
        "reduce_5x5": 48,
        "filters_5x5": 128,
        "pool_proj": 128,
    },
)
"""The Inception blocks of GoogLeNet (3a to 5b) with the pools between them."""

_BLOCK_KEYS = (
    "filters_1x1",
    "reduce_3x3",
    "filters_3x3",
    "reduce_5x5",
    "filters_5x5",
    "pool_proj",
)
_STEM_FILTERS = (64, 64, 192)  # conv1 7x7/2, conv2 1x1 reduce, conv2 3x3


def _validate_blocks(blocks: Any) -> list[dict[str, Any] | str]:
    if isinstance(blocks, (str, dict)) or not isinstance(blocks, Sequence):
        raise ValueError(
            "`blocks` must be a list whose entries are dicts of InceptionBlock "
            f"filter counts or the string {POOL!r}. Received: blocks={blocks!r}"
        )
    checked: list[dict[str, Any] | str] = []
    for index, entry in enumerate(blocks):
        if entry == POOL:
            checked.append(POOL)
            continue
        if not isinstance(entry, dict):
            raise ValueError(
                f"Entry {index} of `blocks` must be a dict or {POOL!r}. "
                f"Received: {entry!r}"
            )
        unknown = sorted(set(entry) - {"name", *_BLOCK_KEYS})
        missing = [
            k for k in ("filters_1x1", "filters_3x3", "filters_5x5") if k not in entry
        ]
        if unknown or missing:
            raise ValueError(
                f"Entry {index} of `blocks` must have the keys "
                f"{list(_BLOCK_KEYS)} (and optionally 'name'). Missing: {missing}, "
                f"unknown: {unknown}. Received: {entry!r}"
            )
        for key in _BLOCK_KEYS:
            value = entry.get(key)
            optional = not key.startswith("filters_")
            if optional and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(
                    f"Entry {index} of `blocks` needs a positive integer "
                    f"{key}. Received: {key}={value!r}"
                )
        checked.append(entry)
    if not any(isinstance(e, dict) for e in checked):
        raise ValueError(
            f"`blocks` needs at least one Inception block. Received: blocks={blocks!r}"
        )
    return checked


@keras_apps_export("keras_apps.models.GoogLeNet")
class GoogLeNet(keras.Model):
    """GoogLeNet (Inception v1) as a functional model of `InceptionBlock`s.

    The layout of Table 1 of Szegedy et al. 2015, without the auxiliary
    classifiers (and, unless asked for, without local response
    normalization): a stem
    (7x7/2 convolution, 3x3/2 max-pool, 1x1 and 3x3 convolutions, 3x3/2
    max-pool), the Inception blocks 3a-3b, a max-pool, 4a-4e, a max-pool,
    5a-5b, global average pooling, dropout and a dense classifier. Every
    convolution has a bias and a ReLU; max-pools use ``'same'`` padding, so
    any input of at least 1x1 works (32x32 inputs reach the Inception blocks
    at 4x4).

    Args:
        input_shape: Shape of one image. Defaults to ``(224, 224, 3)``.
        num_classes: Number of classes of the classifier. Defaults to 1000.
        width_multiplier: Scales every filter count (stem and blocks),
            rounded, at least 1. Defaults to 1.0.
        blocks: The block table: a list of dicts of `InceptionBlock` filter
            counts (keys ``filters_1x1, reduce_3x3, filters_3x3, reduce_5x5,
            filters_5x5, pool_proj`` and an optional ``name``) and ``"pool"``
            entries for 3x3/2 max-pools. Defaults to ``None``, the table of
            the paper (`GOOGLENET_BLOCKS`).
        include_top: Whether to end with pooling, dropout and the classifier.
            Defaults to True.
        dropout: Dropout rate before the classifier. Defaults to 0.4.
        mode: ``"reduced"`` (default, GoogLeNet) or ``"naive"`` Inception
            blocks; naive blocks ignore the reductions and pool projections
            of the table.
        pooling: With ``include_top=False``: ``None`` (the last feature map),
            ``"avg"`` or ``"max"``. Defaults to None.
        classifier_activation: Activation of the classifier. Defaults to
            ``"softmax"``; ``None`` gives logits.
        local_response_normalization: Whether to add the two
            `LocalResponseNormalization` layers of the paper's stem (after
            the first max-pool and after the 3x3 convolution). They have no
            weights. Defaults to False.
        name: Model name. Defaults to ``"googlenet"``.
        dtype: Dtype policy (or its name, such as ``"mixed_float16"``) of
            every layer, as in keras-hub backbones. Defaults to None: the
            global policy (``keras.config.dtype_policy()``).
        **kwargs: Further `keras.Model` keyword arguments.

    Example:

    >>> import keras_apps
    >>> model = keras_apps.models.GoogLeNet(
    ...     input_shape=(32, 32, 3), num_classes=10, width_multiplier=1 / 16)
    >>> model.output_shape
    (None, 10)

    Reference:
        Szegedy et al. 2015, "Going Deeper with Convolutions",
        https://arxiv.org/abs/1409.4842
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (224, 224, 3),
        num_classes: int = 1000,
        width_multiplier: float = 1.0,
        blocks: Sequence[dict[str, Any] | str] | None = None,
        include_top: bool = True,
        dropout: float = 0.4,
        mode: str = "reduced",
        pooling: str | None = None,
        classifier_activation: Any = "softmax",
        local_response_normalization: bool = False,
        name: str = "googlenet",
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        errors: list[str | None] = []
        if len(tuple(input_shape)) != 3:
            errors.append(
                "`input_shape` must be (height, width, channels). "
                f"Received: input_shape={input_shape!r}"
            )
        if include_top:
            errors.append(positive_int_error("num_classes", num_classes))
        if not width_multiplier > 0:
            errors.append(
                "`width_multiplier` must be positive. "
                f"Received: width_multiplier={width_multiplier!r}"
            )
        if not 0 <= dropout < 1:
            errors.append(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
        if mode not in ("reduced", "naive"):
            errors.append(
                f"`mode` must be 'reduced' or 'naive'. Received: mode={mode!r}"
            )
        if pooling not in (None, "avg", "max"):
            errors.append(
                f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}"
            )
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))
        table = _validate_blocks(GOOGLENET_BLOCKS if blocks is None else blocks)

        def width(filters: int | None) -> int | None:
            if filters is None:
                return None
            return max(1, int(round(filters * width_multiplier)))

        def conv(filters: int, size: int, strides: int, name: str) -> Any:
            return keras.layers.Conv2D(
                width(filters),
                size,
                strides=strides,
                padding="same",
                activation="relu",
                dtype=dtype,
                name=name,
            )

        def max_pool(name: str) -> Any:
            return keras.layers.MaxPooling2D(
                3, strides=2, padding="same", dtype=dtype, name=name
            )

        inputs = keras.Input(shape=tuple(input_shape), name="image")
        x = conv(_STEM_FILTERS[0], 7, 2, "conv1_7x7")(inputs)
        x = max_pool("pool1")(x)
        if local_response_normalization:
            x = LocalResponseNormalization(dtype=dtype, name="norm1")(x)
        x = conv(_STEM_FILTERS[1], 1, 1, "conv2_reduce")(x)
        x = conv(_STEM_FILTERS[2], 3, 1, "conv2_3x3")(x)
        if local_response_normalization:
            x = LocalResponseNormalization(dtype=dtype, name="norm2")(x)
        x = max_pool("pool2")(x)
        pool_index = 3
        for index, entry in enumerate(table):
            if entry == POOL:
                x = max_pool(f"pool{pool_index}")(x)
                pool_index += 1
                continue
            assert isinstance(entry, dict)
            block_name = entry.get("name", str(index))
            filters = {k: width(entry.get(k)) for k in _BLOCK_KEYS}
            if mode == "naive":
                filters.update(pool_proj=None, reduce_3x3=None, reduce_5x5=None)
            x = InceptionBlock(
                mode=mode,
                dtype=dtype,
                name=f"inception_{block_name}",
                **filters,  # type: ignore[arg-type]
            )(x)
        if include_top:
            x = keras.layers.GlobalAveragePooling2D(dtype=dtype, name="avg_pool")(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout, dtype=dtype, name="dropout")(x)
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

        self.image_shape = tuple(input_shape)
        self.num_classes = num_classes
        self.width_multiplier = width_multiplier
        self.blocks = None if blocks is None else copy.deepcopy(list(blocks))
        self.include_top = include_top
        self.dropout = dropout
        self.mode = mode
        self.pooling = pooling
        self.classifier_activation = classifier_activation
        self.local_response_normalization = local_response_normalization

    def get_config(self) -> dict[str, Any]:
        return {
            "input_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "width_multiplier": self.width_multiplier,
            "blocks": None
            if self.blocks is None
            else [dict(e) if isinstance(e, dict) else e for e in self.blocks],
            "include_top": self.include_top,
            "dropout": self.dropout,
            "mode": self.mode,
            "pooling": self.pooling,
            "classifier_activation": keras.activations.serialize(
                keras.activations.get(self.classifier_activation)
            )
            if self.classifier_activation is not None
            else None,
            "local_response_normalization": self.local_response_normalization,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GoogLeNet:
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
