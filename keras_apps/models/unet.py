"""U-Net (Ronneberger et al. 2015), with its own encoder or a pretrained backbone."""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.types import Tensor

DEFAULT_SKIP_LAYERS: dict[str, tuple[str, ...]] = {
    "vgg16": (
        "block5_conv3",
        "block4_conv3",
        "block3_conv3",
        "block2_conv2",
        "block1_conv2",
    ),
    "vgg19": (
        "block5_conv4",
        "block4_conv4",
        "block3_conv4",
        "block2_conv2",
        "block1_conv2",
    ),
    "resnet50": (
        "conv4_block6_out",
        "conv3_block4_out",
        "conv2_block3_out",
        "conv1_relu",
    ),
    "mobilenet_v2": (
        "block_13_expand_relu",
        "block_6_expand_relu",
        "block_3_expand_relu",
        "block_1_expand_relu",
    ),
}
"""Skip layers of the ``keras.applications`` backbones, deepest first.

Each is the last layer before a stride-2 step (1/16, 1/8, 1/4, 1/2 of the
input, and full resolution for VGG), as in segmentation_models.
"""

DEFAULT_DECODER_FILTERS = (256, 128, 64, 32, 16)
"""Decoder filters with a backbone encoder (segmentation_models' default),
cut to the number of up-sampling stages."""

DECODER_BLOCK_TYPES = ("transpose", "upsampling")


@keras_apps_export("keras_apps.models.UNet")
class UNet(keras.Model):
    """U-Net: an encoder, a decoder, and a concatenated skip at every level.

    With ``encoder=None`` the network is the one of Ronneberger et al.:
    ``depth`` levels of a double-conv block (two 3x3 convolutions with ReLU,
    each followed by batch normalization when ``batch_norm``) and a 2x2
    max-pool, with ``base_filters * 2**level`` filters; a double-conv
    bottleneck; then ``depth`` decoder levels that up-sample by 2,
    concatenate the encoder output of the same level and apply a
    double-conv block; a 1x1 convolution gives one channel per class.
    Convolutions use ``"same"`` padding, so the output has the size of the
    input (the paper used unpadded convolutions and cropped the skips).
    ``batch_norm=False, dropout=0.5`` is closest to the paper's network,
    whose dropout sat at the end of the contracting path.

    With ``encoder`` set, the encoder is a pretrained backbone from
    `keras_apps.transfer.load_backbone` (or any functional ``keras.Model``)
    and the skips are its layers named in ``skip_layers`` (defaults in
    `DEFAULT_SKIP_LAYERS` for VGG16/19, ResNet50 and MobileNetV2). The
    backbone is nested as the sub-model ``encoder`` (also ``unet.encoder``);
    its input preprocessing is part of it, so a backbone U-Net takes raw
    0..255 RGB images. The knobs follow segmentation_models:
    ``encoder_weights``, ``encoder_freeze``, ``decoder_block_type``,
    ``decoder_filters``.

    The output activation is a sigmoid for ``num_classes=1`` (a binary
    mask) and a softmax over the channels otherwise, unless
    ``output_activation`` says otherwise (``None`` for logits).

    The input height and width must be multiples of ``2**depth`` (of the
    backbone's output stride with an encoder). Otherwise construction
    raises a ValueError, or, with ``pad_input=True``, the image is
    zero-padded up to the next multiple inside the model and the output is
    cropped back to the input size.

    Args:
        input_shape: ``(height, width, channels)``; height and width may be
            None for a fully convolutional model (then sizes are not
            checked and ``pad_input`` is not available).
        num_classes: Output channels: 1 for binary segmentation (sigmoid),
            the number of classes otherwise (softmax).
        depth: Number of down-sampling levels of the built-in encoder.
            Defaults to 4, as in the paper. Not used with ``encoder``.
        base_filters: Filters of the first level of the built-in encoder,
            doubled at every level. Defaults to 64. Not used with
            ``encoder``.
        batch_norm: Whether each convolution of the double-conv blocks is
            followed by batch normalization (its bias then goes). Defaults
            to True.
        dropout: Dropout rate at the end of every double-conv block; 0 for
            none. Defaults to 0.0.
        decoder_block_type: How the decoder up-samples: ``"transpose"`` (a
            2x2 transposed convolution of stride 2, the paper's up-conv) or
            ``"upsampling"`` (bilinear interpolation, no weights; the
            double-conv block that follows sets the channels). Defaults to
            ``"transpose"``.
        decoder_filters: Filters of the decoder stages, deepest first.
            Defaults to the mirror of the encoder (``base_filters * 2**level``),
            or to `DEFAULT_DECODER_FILTERS` cut to the number of stages with
            an encoder. Its length must be the number of up-sampling stages.
        output_activation: ``"auto"`` (sigmoid for one class, softmax
            otherwise), any Keras activation name, or None for logits.
        pad_input: Whether to zero-pad inputs whose size the network's
            stride does not divide (and crop the output back) instead of
            raising. Defaults to False.
        encoder: None (the paper's encoder), a `load_backbone` name or
            handle (``"vgg16"``, ``"resnet50"``, ``"mobilenet_v2"``, ...), or
            a functional ``keras.Model`` whose layers named in
            ``skip_layers`` give the skips and whose output is the bottleneck.
            A model passed in is used as is (its layers are shared, and
            frozen with ``encoder_freeze``).
        encoder_weights: Weights of a named backbone: ``"imagenet"``, None
            (random) or a weights file, as in `load_backbone`. Defaults to
            ``"imagenet"``. A loaded ``.keras`` file brings its own weights,
            so rebuilding from a config never downloads.
        encoder_freeze: Whether to freeze the encoder (its batch
            normalizations then run in inference mode, so that its weights
            and statistics do not change in ``fit``). Defaults to False.
        skip_layers: Names of the encoder layers to concatenate into the
            decoder, deepest first, one per up-sampling stage from the
            bottleneck up (the shallowest stages may go without). Defaults
            to `DEFAULT_SKIP_LAYERS` of a named backbone.
        name: Model name. Defaults to ``"unet"``.
        dtype: Dtype policy of the layers built here (the backbone's layers
            follow the global policy, as ``keras.applications`` does).
        **kwargs: Further `keras.Model` keyword arguments.

    Example:

    >>> import numpy as np
    >>> import keras_apps
    >>> unet = keras_apps.models.UNet((32, 32, 1), num_classes=3, depth=3,
    ...                               base_filters=4)
    >>> tuple(unet(np.zeros((2, 32, 32, 1), "float32")).shape)
    (2, 32, 32, 3)
    >>> backbone_unet = keras_apps.models.UNet(
    ...     (64, 64, 3), num_classes=1, encoder="mobilenet_v2",
    ...     encoder_weights=None, encoder_freeze=True)
    >>> backbone_unet.output_shape, backbone_unet.encoder.trainable
    ((None, 64, 64, 1), False)

    Reference:
        Ronneberger et al. 2015, "U-Net: Convolutional Networks for
        Biomedical Image Segmentation", https://arxiv.org/abs/1505.04597
    """

    def __init__(
        self,
        input_shape: Sequence[int | None],
        num_classes: int,
        depth: int = 4,
        base_filters: int = 64,
        batch_norm: bool = True,
        dropout: float = 0.0,
        decoder_block_type: str = "transpose",
        decoder_filters: Sequence[int] | None = None,
        output_activation: str | None = "auto",
        pad_input: bool = False,
        encoder: str | keras.Model | None = None,
        encoder_weights: str | None = "imagenet",
        encoder_freeze: bool = False,
        skip_layers: Sequence[str] | None = None,
        name: str = "unet",
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        image_shape = _check_arguments(
            input_shape=input_shape,
            num_classes=num_classes,
            depth=depth,
            base_filters=base_filters,
            dropout=dropout,
            decoder_block_type=decoder_block_type,
            decoder_filters=decoder_filters,
            output_activation=output_activation,
            encoder=encoder,
            encoder_freeze=encoder_freeze,
            skip_layers=skip_layers,
        )
        blocks = _Blocks(batch_norm, dropout, decoder_block_type, dtype)
        inputs = keras.Input(shape=image_shape, name="image")
        encoder_model: keras.Model | None = None
        if encoder is None:
            padding = _padding(image_shape, 2**depth, pad_input, f"depth={depth}")
            x = _pad(inputs, padding, dtype)
            filters = list(decoder_filters or [])
            if not filters:
                filters = [base_filters * 2**level for level in reversed(range(depth))]
            elif len(filters) != depth:
                raise ValueError(
                    f"`decoder_filters` needs one entry per decoder level, {depth} "
                    f"for depth={depth}. Received: decoder_filters={decoder_filters!r}"
                )
            skips = []
            for level in range(1, depth + 1):
                x = blocks.double_conv(
                    x, base_filters * 2 ** (level - 1), f"encoder{level}"
                )
                skips.append(x)
                x = keras.layers.MaxPooling2D(
                    2, name=f"encoder{level}_pool", dtype=dtype
                )(x)
            x = blocks.double_conv(x, base_filters * 2**depth, "bottleneck")
            for stage, skip in enumerate(reversed(skips)):
                level = depth - stage
                x = blocks.up(x, filters[stage], f"decoder{level}")
                x = keras.layers.Concatenate(
                    name=f"decoder{level}_concat", dtype=dtype
                )([x, skip])
                x = blocks.double_conv(x, filters[stage], f"decoder{level}")
        else:
            encoder_model, stages, padding = _build_encoder(
                encoder, image_shape, encoder_weights, skip_layers, pad_input
            )
            if encoder_freeze:
                encoder_model.trainable = False
            if decoder_filters is None and not stages:
                # Unknown image size: the output stride cannot be measured.
                filters = list(DEFAULT_DECODER_FILTERS)
            elif decoder_filters is None:
                if stages > len(DEFAULT_DECODER_FILTERS):
                    raise ValueError(
                        f"The encoder down-samples {stages} times; pass one "
                        "`decoder_filters` entry per up-sampling stage. Received: "
                        "decoder_filters=None"
                    )
                filters = list(DEFAULT_DECODER_FILTERS[:stages])
            else:
                filters = list(decoder_filters)
                if stages and len(filters) != stages:
                    raise ValueError(
                        f"The encoder down-samples {stages} times, so the decoder "
                        f"needs {stages} `decoder_filters` entries, deepest first. "
                        f"Received: decoder_filters={list(decoder_filters)!r}"
                    )
            features = encoder_model(_pad(inputs, padding, dtype))
            *skip_maps, x = features
            skip_names = _skip_names(encoder, skip_layers)
            if len(skip_names) > len(filters):
                raise ValueError(
                    f"{len(skip_names)} skip layers for {len(filters)} decoder "
                    f"stages: give at most one skip per stage. Received: "
                    f"skip_layers={skip_names!r}"
                )
            pending = list(zip(skip_names, skip_maps, strict=True))
            stage_sizes = []
            for stage, stage_filters in enumerate(filters):
                level = len(filters) - stage
                x = blocks.up(x, stage_filters, f"decoder{level}")
                stage_sizes.append(tuple(x.shape)[1:3])
                if pending and _same_size(pending[0][1].shape, x.shape):
                    _, skip = pending.pop(0)
                    x = keras.layers.Concatenate(
                        name=f"decoder{level}_concat", dtype=dtype
                    )([x, skip])
                x = blocks.double_conv(x, stage_filters, f"decoder{level}")
            if pending:
                skip_name, skip = pending[0]
                raise ValueError(
                    f"Skip layer {skip_name!r} has a {tuple(skip.shape)[1:3]} "
                    "output, which matches no decoder stage left: the stages "
                    f"up-sample to {stage_sizes}. List skip_layers deepest first, "
                    "at most one per resolution."
                )
        x = keras.layers.Conv2D(num_classes, 1, name="logits", dtype=dtype)(x)
        if padding is not None:
            x = keras.layers.Cropping2D(padding, name="crop", dtype=dtype)(x)
        activation = output_activation
        if activation == "auto":
            activation = "sigmoid" if num_classes == 1 else "softmax"
        if activation is not None:
            x = keras.layers.Activation(activation, name="probabilities", dtype=dtype)(
                x
            )
        super().__init__(inputs=inputs, outputs=x, name=name, **kwargs)
        if dtype is not None:
            self.dtype_policy = keras.dtype_policies.get(dtype)

        self.image_shape = image_shape
        self.num_classes = num_classes
        self.depth = depth
        self.base_filters = base_filters
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.decoder_block_type = decoder_block_type
        self.decoder_filters = (
            None if decoder_filters is None else list(decoder_filters)
        )
        self.output_activation = output_activation
        self.pad_input = bool(pad_input)
        self.encoder_source = encoder
        self.encoder_weights = encoder_weights
        self.encoder_freeze = bool(encoder_freeze)
        self.skip_layers = None if skip_layers is None else list(skip_layers)
        self.encoder = encoder_model

    def get_config(self) -> dict[str, Any]:
        source = self.encoder_source
        if isinstance(source, keras.Model):
            source = _as_lists(keras.saving.serialize_keras_object(source))
        activation = self.output_activation
        if activation not in (None, "auto") and not isinstance(activation, str):
            activation = keras.activations.serialize(activation)
        return {
            "input_shape": list(self.image_shape),
            "num_classes": self.num_classes,
            "depth": self.depth,
            "base_filters": self.base_filters,
            "batch_norm": self.batch_norm,
            "dropout": self.dropout,
            "decoder_block_type": self.decoder_block_type,
            "decoder_filters": self.decoder_filters,
            "output_activation": activation,
            "pad_input": self.pad_input,
            "encoder": source,
            "encoder_weights": self.encoder_weights,
            "encoder_freeze": self.encoder_freeze,
            "skip_layers": self.skip_layers,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.dtype_policies.serialize(self.dtype_policy),
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> UNet:
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        if isinstance(config.get("encoder"), dict):
            # Deserialization consumes the dict it is given; keep the caller's.
            config["encoder"] = keras.saving.deserialize_keras_object(
                copy.deepcopy(config["encoder"])
            )
        # The weights come from the saved file (or are fresh, as for any
        # from_config): rebuilding must not download or read a weights file.
        weights = config.get("encoder_weights", "imagenet")
        config["encoder_weights"] = None
        model = cls(**config)
        model.encoder_weights = weights
        return model


class _Blocks:
    """Builds the double-conv and up-sampling blocks with shared settings."""

    def __init__(
        self, batch_norm: bool, dropout: float, block_type: str, dtype: Any
    ) -> None:
        self.batch_norm = bool(batch_norm)
        self.dropout = float(dropout)
        self.block_type = block_type
        self.dtype = dtype

    def double_conv(self, x: Tensor, filters: int, prefix: str) -> Tensor:
        for index in (1, 2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                use_bias=not self.batch_norm,
                kernel_initializer="he_normal",
                name=f"{prefix}_conv{index}",
                dtype=self.dtype,
            )(x)
            if self.batch_norm:
                x = keras.layers.BatchNormalization(
                    name=f"{prefix}_bn{index}", dtype=self.dtype
                )(x)
            x = keras.layers.ReLU(name=f"{prefix}_relu{index}", dtype=self.dtype)(x)
        if self.dropout > 0:
            x = keras.layers.Dropout(
                self.dropout, name=f"{prefix}_dropout", dtype=self.dtype
            )(x)
        return x

    def up(self, x: Tensor, filters: int, prefix: str) -> Tensor:
        if self.block_type == "transpose":
            return keras.layers.Conv2DTranspose(
                filters,
                2,
                strides=2,
                kernel_initializer="he_normal",
                name=f"{prefix}_upconv",
                dtype=self.dtype,
            )(x)
        return keras.layers.UpSampling2D(
            2, interpolation="bilinear", name=f"{prefix}_upsample", dtype=self.dtype
        )(x)


Padding = tuple[tuple[int, int], tuple[int, int]]


def _pad(x: Tensor, padding: Padding | None, dtype: Any) -> Tensor:
    if padding is None:
        return x
    return keras.layers.ZeroPadding2D(padding, name="pad", dtype=dtype)(x)


def _padding(
    image_shape: tuple[int | None, ...], divisor: int, pad_input: bool, why: str
) -> Padding | None:
    """The ZeroPadding2D amounts that make height and width multiples of divisor."""
    height, width = image_shape[:2]
    if height is None or width is None:
        if pad_input:
            raise ValueError(
                "`pad_input=True` needs a known height and width to pad to. "
                f"Received: input_shape={image_shape}"
            )
        return None
    extra = [(-size) % divisor for size in (height, width)]
    if not any(extra):
        return None
    if not pad_input:
        fitting = tuple(math.ceil(size / divisor) * divisor for size in (height, width))
        raise ValueError(
            f"UNet needs a height and width divisible by {divisor} ({why}): every "
            "level halves them and the decoder doubles them back. Received: "
            f"input_shape={image_shape}. Resize or crop to a multiple of {divisor}, "
            f"e.g. {fitting[0]}x{fitting[1]}, or pass pad_input=True to pad inside "
            "the model and crop the output back."
        )
    top, left = extra[0] // 2, extra[1] // 2
    return ((top, extra[0] - top), (left, extra[1] - left))


def _skip_names(encoder: Any, skip_layers: Sequence[str] | None) -> list[str]:
    if skip_layers is not None:
        return list(skip_layers)
    key = encoder.lower().replace("-", "_") if isinstance(encoder, str) else None
    if key in DEFAULT_SKIP_LAYERS:
        return list(DEFAULT_SKIP_LAYERS[key])
    return []


def _load_named_backbone(
    encoder: str, shape: tuple[int | None, ...], weights: str | None
) -> keras.Model:
    from keras_apps.transfer.backbones import load_backbone

    return load_backbone(encoder, shape, weights=weights)


def _output_stride(model: keras.Model, shape: tuple[int | None, ...]) -> int | None:
    """The power of two nearest to input size / bottleneck size, when known."""
    out_shape = tuple(model.outputs[0].shape)
    if len(out_shape) != 4:
        raise ValueError(
            "The encoder must end in a feature map (batch, H, W, C); a pooled "
            "backbone (pooling='avg') has no spatial output. Received: encoder "
            f"output shape {out_shape}"
        )
    height, out_height = shape[0], out_shape[1]
    if height is None or not out_height:
        return None
    return int(2 ** round(math.log2(height / out_height)))


def _build_encoder(
    encoder: str | keras.Model,
    image_shape: tuple[int | None, ...],
    weights: str | None,
    skip_layers: Sequence[str] | None,
    pad_input: bool,
) -> tuple[keras.Model, int, Padding | None]:
    """The multi-output encoder (skips deepest first, then the bottleneck).

    Returns the encoder, the number of up-sampling stages (0 if unknown) and
    the input padding.
    """
    if isinstance(encoder, str):
        backbone = _load_named_backbone(encoder, image_shape, weights)
    else:
        backbone = encoder
        expected = tuple(backbone.inputs[0].shape)[1:]
        if len(backbone.inputs) != 1 or expected != tuple(image_shape):
            raise ValueError(
                "The encoder model must take one input of the U-Net's "
                f"input_shape {tuple(image_shape)}. Received: an encoder with "
                f"inputs {[tuple(t.shape) for t in backbone.inputs]}"
            )
    stride = _output_stride(backbone, image_shape)
    padding = None
    if stride is not None:
        padding = _padding(
            image_shape, stride, pad_input, f"the encoder's output stride {stride}"
        )
    if padding is not None:
        if not isinstance(encoder, str):
            raise ValueError(
                "pad_input=True with an encoder model: build the encoder for the "
                "padded input instead, or pass it by name so that UNet builds it. "
                f"Received: input_shape={tuple(image_shape)}, encoder stride {stride}"
            )
        (top, bottom), (left, right) = padding
        padded = (
            image_shape[0] + top + bottom,  # type: ignore[operator]
            image_shape[1] + left + right,  # type: ignore[operator]
            image_shape[2],
        )
        backbone = _load_named_backbone(encoder, padded, weights)
    names = _skip_names(encoder, skip_layers)
    available = [layer.name for layer in backbone.layers]
    if not names:
        what = encoder if isinstance(encoder, str) else backbone.name
        raise ValueError(
            f"No default skip layers for the encoder {what!r} (defaults exist for "
            f"{sorted(DEFAULT_SKIP_LAYERS)}). Pass skip_layers=[...] with layer "
            f"names, deepest first. Its layers: {available}"
        )
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ValueError(
            f"Unknown skip layer(s) {unknown} in the encoder {backbone.name!r}. "
            f"Its layers are: {available}"
        )
    outputs = [backbone.get_layer(n).output for n in names] + [backbone.outputs[0]]
    encoder_model = keras.Model(backbone.inputs, outputs, name="encoder")
    stages = int(math.log2(stride)) if stride else 0
    return encoder_model, stages, padding


def _same_size(skip_shape: Any, up_shape: Any) -> bool:
    """Whether a skip joins at this stage (always, when sizes are unknown)."""
    skip_hw, up_hw = tuple(skip_shape)[1:3], tuple(up_shape)[1:3]
    return None in skip_hw or None in up_hw or skip_hw == up_hw


def _as_lists(value: Any) -> Any:
    """Tuples to lists, as a JSON round trip (a saved config) gives them."""
    if isinstance(value, dict):
        return {key: _as_lists(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_lists(item) for item in value]
    return value


def _check_arguments(
    *,
    input_shape: Any,
    num_classes: Any,
    depth: Any,
    base_filters: Any,
    dropout: Any,
    decoder_block_type: Any,
    decoder_filters: Any,
    output_activation: Any,
    encoder: Any,
    encoder_freeze: Any,
    skip_layers: Any,
) -> tuple[int | None, ...]:
    errors: list[str | None] = []
    shape_ok = (
        isinstance(input_shape, (tuple, list))
        and len(input_shape) == 3
        and all(
            d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
            for d in input_shape
        )
        and input_shape[2] is not None
    )
    if not shape_ok:
        errors.append(
            "`input_shape` must be (height, width, channels) with positive sizes "
            "(height and width may be None, channels must be known). "
            f"Received: input_shape={input_shape!r}"
        )
    errors.append(positive_int_error("num_classes", num_classes))
    errors.append(positive_int_error("depth", depth))
    errors.append(positive_int_error("base_filters", base_filters))
    if (
        isinstance(dropout, bool)
        or not isinstance(dropout, (int, float))
        or not 0 <= dropout < 1
    ):
        errors.append(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if decoder_block_type not in DECODER_BLOCK_TYPES:
        errors.append(
            f"`decoder_block_type` must be one of {DECODER_BLOCK_TYPES}. "
            f"Received: decoder_block_type={decoder_block_type!r}"
        )
    if decoder_filters is not None and (
        isinstance(decoder_filters, (str, int))
        or not isinstance(decoder_filters, Sequence)
        or not decoder_filters
        or any(positive_int_error("f", f) for f in decoder_filters)
    ):
        errors.append(
            "`decoder_filters` must be None or a non-empty list of positive "
            f"filter counts. Received: decoder_filters={decoder_filters!r}"
        )
    if output_activation not in (None, "auto"):
        try:
            keras.activations.get(output_activation)
        except (ValueError, TypeError):
            errors.append(
                "`output_activation` must be 'auto', None or a Keras activation. "
                f"Received: output_activation={output_activation!r}"
            )
    if encoder is not None and not isinstance(encoder, (str, keras.Model)):
        errors.append(
            "`encoder` must be None, a load_backbone name or a keras.Model. "
            f"Received: encoder of type {type(encoder).__name__}"
        )
    if encoder is None and encoder_freeze:
        errors.append(
            "`encoder_freeze=True` needs a pretrained `encoder`. "
            "Received: encoder=None, encoder_freeze=True"
        )
    if skip_layers is not None:
        if encoder is None:
            errors.append(
                "`skip_layers` selects layers of an `encoder`. "
                f"Received: encoder=None, skip_layers={skip_layers!r}"
            )
        elif (
            isinstance(skip_layers, str)
            or not isinstance(skip_layers, Sequence)
            or not skip_layers
            or not all(isinstance(n, str) for n in skip_layers)
        ):
            errors.append(
                "`skip_layers` must be a non-empty list of layer names. "
                f"Received: skip_layers={skip_layers!r}"
            )
    messages = [e for e in errors if e]
    if messages:
        raise ValueError(" ".join(messages))
    return tuple(input_shape)
