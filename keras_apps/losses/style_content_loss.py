"""The neural style transfer loss of Gatys et al., built on `GramMatrix`."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np

from keras_apps.api_export import keras_apps_export
from keras_apps.layers.gram_matrix import GramMatrix
from keras_apps.losses.total_variation import total_variation
from keras_apps.types import Tensor

NORMALIZATIONS = ("gatys", "course", "johnson")
"""Accepted values of ``StyleContentLoss(normalization=...)``."""

# The GramMatrix normalization that folds each style formula's factor in.
_GRAM_MODE = {"gatys": "2hwc", "course": "2hwc", "johnson": "hwc"}


def _what_images(channels: int, batch: bool) -> str:
    shape = "(batch, height, width, " if batch else "(height, width, "
    if channels == 3:
        return (
            f"RGB images of shape {shape}3) in 0..255 (a grey image can be "
            "repeated on 3 channels, e.g. skimage.color.gray2rgb)"
        )
    return f"images of shape {shape}{channels}), as the feature extractor takes"


def _as_images(value: Any, what: str, channels: int = 3) -> list[np.ndarray]:
    """One image, a batch or a list of images -> a list of (H, W, C) float32."""
    if isinstance(value, (list, tuple)):
        images = [np.asarray(v) for v in value]
    else:
        array = np.asarray(value)
        images = list(array) if array.ndim == 4 else [array]
    checked = []
    for image in images:
        if image.dtype.kind not in "uif" or image.dtype == bool:
            raise ValueError(
                f"Expected `{what}` to hold numeric pixels (uint8 or float in "
                f"0..255). Received dtype {image.dtype}."
            )
        if image.ndim != 3 or image.shape[-1] != channels:
            raise ValueError(
                f"Expected `{what}` to be {_what_images(channels, batch=False)}. "
                f"Received shape {image.shape}."
            )
        checked.append(image.astype("float32"))
    if not checked:
        raise ValueError(f"Expected at least one image in `{what}`. Received none.")
    return checked


def check_images(images: Any, what: str, channels: int = 3) -> None:
    """Raises a clear ValueError unless ``images`` is a batch of images with
    ``channels`` channels (RGB by default)."""
    shape = tuple(images.shape)
    if len(shape) != 4 or shape[-1] != channels:
        raise ValueError(
            f"Expected `{what}` to be a batch of {_what_images(channels, True)}. "
            f"Received shape {shape}."
        )


@keras_apps_export("keras_apps.losses.StyleContentLoss")
class StyleContentLoss(keras.losses.Loss):
    """Content, style and total-variation terms of neural style transfer.

    For a generated image ``G``, a content image ``C`` and style images
    ``S_k``, with feature maps ``F^l(x)`` of shape ``(H_l, W_l, N_l)`` at
    layer ``l`` and ``M_l = H_l W_l``::

        loss = content_weight * sum_{l in content_layers} J_content^l(C, G)
             + style_weight * sum_k s_k sum_{l in style_layers} w_l E^l(S_k, G)
             + tv_weight * total_variation(G)

    Every layer is normalized by its own size (and a style image of another
    size by its own ``M_l``). ``normalization`` picks the formulas:

    - ``"gatys"`` (Gatys et al. 2016, eqs. 1, 4): ``J_content = 1/2 sum((F -
      P)^2)`` and ``E = 1 / (4 N_l^2 M_l^2) sum((G - A)^2)`` with ``G = F
      F^T`` (`GramMatrix` ``"2hwc"`` folds the factor in).
    - ``"course"``: ``J_content = 1 / (4 n_H n_W n_C) sum((a_C - a_G)^2)``
      and the style term ``1 / (2 n_H n_W n_C)^2 sum((G - A)^2)``, which is
      the same as Gatys' ``E``.
    - ``"johnson"`` (Johnson et al. 2016): ``J_content = 1 / (N M) sum((F -
      P)^2)`` and ``E = sum((G / (N M) - A / (N M))^2)``.

    ``w_l`` are the ``style_layer_weights`` (default ``1 / len(style_layers)``
    as in Gatys et al.), ``s_k`` the ``style_image_weights`` (default equal,
    summing to 1). With ``style_masks`` (guided transfer, Gatys et al. 2017)
    style ``k`` only describes the region of ``G`` where its mask is on: the
    mask, resized to each layer, weighs the positions of ``G``'s Gram matrix
    and ``M_l`` becomes the mask's sum.

    The Gram targets ``A`` of the style images are computed once, here. The
    network runs on ``y_pred`` and, for the content term, on ``y_true`` at
    each call; `StyleTransfer` instead computes the content targets once with
    `content_targets` and calls `compute_parts` on the generated image's
    features only. Texture synthesis is ``content_layers=[]`` (``y_true`` is
    then unused), feature inversion ``style_image=None``.

    After an eager call, `last_parts` holds the batch means of every term.

    Args:
        feature_extractor: A model from 0..255 RGB images to a dict of
            activations keyed by layer name (`keras_apps.transfer.
            feature_extractor`), any functional model holding the layers, or
            a name (``"vgg19"``, ``"vgg16"``) built with ``weights``.
        style_image: One image ``(H, W, 3)``, a batch, or a list of images of
            any sizes, pixels in 0..255. ``None`` turns the style term off.
        content_layers: Layer names of the content term. Defaults to the
            preset layers for a name; ``[]`` turns the term off.
        style_layers: Layer names of the style term (preset default as
            above).
        content_weight: ``alpha``. Defaults to 1.
        style_weight: ``beta``. Defaults to 1.
        tv_weight: Weight of `total_variation` (``beta=2``). Defaults to 0.
        style_layer_weights: One weight per style layer, or None.
        style_image_weights: One weight per style image, or None.
        style_masks: None, or one entry per style image: None (everywhere) or
            a ``(height, width)`` array in 0..1 of the generated image's size.
        normalization: ``"gatys"`` (default), ``"course"`` or ``"johnson"``.
        weights: Weights for a named extractor: ``"imagenet"`` (default),
            None or a file.
        reduction: Keras loss reduction. Defaults to ``"sum_over_batch_size"``.
        name: Loss name.
        dtype: Dtype of the loss computation. Defaults to float32.

    Call arguments:
        y_true: The content images ``(batch, H, W, 3)`` in 0..255.
        y_pred: The generated images, same shape.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.losses import StyleContentLoss
    >>> inputs = keras.Input((None, None, 3))
    >>> features = keras.layers.Conv2D(
    ...     4, 1, kernel_initializer=keras.initializers.Ones(), name="conv")(inputs)
    >>> extractor = keras.Model(inputs, {"conv": features})
    >>> style = np.full((8, 8, 3), 10.0, "float32")
    >>> loss = StyleContentLoss(
    ...     extractor, style, content_layers=["conv"], style_layers=["conv"])
    >>> float(loss(style[None], style[None]))
    0.0
    >>> sorted(loss.last_parts)[:3]
    ['content', 'content/conv', 'style']

    Reference:
        - Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional
          Neural Networks", CVPR 2016.
        - Gatys et al., "Controlling Perceptual Factors in Neural Style
          Transfer", CVPR 2017.
        - Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style
          Transfer and Super-Resolution", ECCV 2016.
        - Mahendran and Vedaldi, "Understanding Deep Image Representations by
          Inverting Them", CVPR 2015.
    """

    def __init__(
        self,
        feature_extractor: keras.Model | str,
        style_image: Any = None,
        content_layers: Sequence[str] | None = None,
        style_layers: Sequence[str] | None = None,
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        style_layer_weights: Sequence[float] | None = None,
        style_image_weights: Sequence[float] | None = None,
        style_masks: Sequence[Any] | None = None,
        normalization: str = "gatys",
        weights: str | None = "imagenet",
        reduction: str = "sum_over_batch_size",
        name: str = "style_content_loss",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        errors = []
        if normalization not in NORMALIZATIONS:
            errors.append(
                f"Expected `normalization` to be one of {NORMALIZATIONS}. "
                f"Received: normalization={normalization!r}"
            )
        for arg, value in (
            ("content_weight", content_weight),
            ("style_weight", style_weight),
            ("tv_weight", tv_weight),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                errors.append(f"Expected a number. Received: {arg}={value!r}")
            elif value < 0:
                errors.append(f"Expected a number >= 0. Received: {arg}={value!r}")
        if errors:
            raise ValueError(" ".join(errors))

        from keras_apps.transfer import feature_extractor as build_extractor
        from keras_apps.transfer.feature_extractor import (
            SPEC_ATTRIBUTE,
            preset_layers,
        )

        preset = feature_extractor
        if not isinstance(preset, str):
            preset = (getattr(feature_extractor, SPEC_ATTRIBUTE, None) or {}).get(
                "name"
            )
        if isinstance(preset, str) and preset.lower() in ("vgg16", "vgg19"):
            content_default, style_default = preset_layers(preset)
            content_layers = (
                list(content_default) if content_layers is None else content_layers
            )
            style_layers = list(style_default) if style_layers is None else style_layers
        if content_layers is None or style_layers is None:
            raise ValueError(
                "Expected `content_layers` and `style_layers` (lists of layer "
                "names; [] turns a term off). Received: "
                f"content_layers={content_layers!r}, style_layers={style_layers!r}"
            )
        if isinstance(content_layers, str) or isinstance(style_layers, str):
            raise ValueError(
                "Expected lists of layer names. Received: "
                f"content_layers={content_layers!r}, style_layers={style_layers!r}"
            )
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        if style_image is None:
            self.style_layers_used: list[str] = []
        else:
            self.style_layers_used = list(self.style_layers)
        if not self.content_layers and not self.style_layers_used:
            raise ValueError(
                "Expected content layers, or style layers and a style image: "
                "both terms are off. Received: "
                f"content_layers={self.content_layers}, style_layers="
                f"{self.style_layers}, style_image="
                f"{'None' if style_image is None else 'given'}"
            )
        needed = list(dict.fromkeys(self.content_layers + self.style_layers_used))
        if isinstance(feature_extractor, str):
            extractor = build_extractor(feature_extractor, needed, weights=weights)
        elif isinstance(feature_extractor, keras.Model):
            names = _dict_output_names(feature_extractor)
            if names is not None and set(needed) <= set(names):
                extractor = feature_extractor
            else:
                extractor = build_extractor(feature_extractor, needed)
        else:
            raise ValueError(
                "Expected `feature_extractor` to be a Keras model or a backbone "
                f"name. Received: {type(feature_extractor).__name__}"
            )
        self.feature_extractor = extractor
        self._source = feature_extractor
        self._spec = getattr(extractor, SPEC_ATTRIBUTE, None)
        self.weights = weights
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.normalization = normalization
        self._gram = GramMatrix(normalize=_GRAM_MODE[normalization], dtype="float32")

        # RGB for the backbones; what the extractor takes for other models.
        channels = extractor.inputs[0].shape[-1] if extractor.inputs else None
        self._channels = channels if isinstance(channels, int) else 3
        self.style_images = (
            None
            if style_image is None
            else _as_images(style_image, "style_image", self._channels)
        )
        count = 0 if self.style_images is None else len(self.style_images)
        self.style_layer_weights = _weights(
            style_layer_weights,
            len(self.style_layers),
            "style_layer_weights",
            "style_layers",
        )
        self.style_image_weights = _weights(
            style_image_weights, max(count, 1), "style_image_weights", "style images"
        )
        if style_masks is not None:
            if count == 0 or len(style_masks) != count:
                raise ValueError(
                    f"Expected one mask (or None) per style image ({count}). "
                    f"Received {len(style_masks)} style_masks."
                )
            masks: list[np.ndarray | None] = []
            for mask in style_masks:
                if mask is None:
                    masks.append(None)
                    continue
                array = np.asarray(mask, dtype="float32")
                if array.ndim != 2:
                    raise ValueError(
                        "Expected each style mask to be a (height, width) array "
                        f"in 0..1. Received shape {array.shape}."
                    )
                masks.append(array)
            self.style_masks: list[np.ndarray | None] | None = masks
        else:
            self.style_masks = None
        self.style_targets = self._style_targets()

    # ------------------------------------------------------------------ parts

    def features(self, images: Tensor) -> dict[str, Tensor]:
        """``feature_extractor(images)`` as float32, keyed by layer name."""
        outputs = self.feature_extractor(images, training=False)
        return {k: keras.ops.cast(v, "float32") for k, v in outputs.items()}

    def _style_targets(self) -> list[dict[str, np.ndarray]]:
        if self.style_images is None:
            return []
        targets = []
        for image in self.style_images:
            features = self.features(image[None])
            targets.append(
                {
                    layer: np.asarray(
                        keras.ops.convert_to_numpy(self._gram(features[layer]))
                    )
                    for layer in self.style_layers_used
                }
            )
        return targets

    def content_targets(self, content_images: Tensor) -> dict[str, Tensor]:
        """The content layers' activations of ``content_images`` (0..255)."""
        if not self.content_layers:
            return {}
        content_images = keras.ops.convert_to_tensor(content_images, "float32")
        check_images(content_images, "content_images", self._channels)
        features = self.features(content_images)
        return {layer: features[layer] for layer in self.content_layers}

    def _content_term(self, generated: Tensor, target: Tensor) -> Tensor:
        squared = keras.ops.sum(keras.ops.square(generated - target), axis=(1, 2, 3))
        if self.normalization == "gatys":
            return 0.5 * squared
        shape = keras.ops.shape(generated)
        size = keras.ops.cast(shape[1] * shape[2] * shape[3], "float32")
        if self.normalization == "course":
            return squared / (4.0 * size)
        return squared / size

    def _masked_gram(self, features: Tensor, mask: np.ndarray) -> Tensor:
        shape = keras.ops.shape(features)
        resized = keras.ops.image.resize(
            mask[None, :, :, None],
            (int(shape[1]), int(shape[2])),
            interpolation="bilinear",
            antialias=True,
        )
        resized = keras.ops.cast(resized, "float32")
        gram = keras.ops.einsum("bhwc,bhwd->bcd", features * resized, features)
        factor = 2.0 if _GRAM_MODE[self.normalization] == "2hwc" else 1.0
        count = keras.ops.maximum(keras.ops.sum(resized), 1e-6)
        channels = keras.ops.cast(shape[3], "float32")
        return gram / (factor * channels * count)

    def compute_parts(
        self,
        generated_features: dict[str, Tensor],
        content_targets: dict[str, Tensor] | None = None,
        generated_images: Tensor | None = None,
    ) -> dict[str, Tensor]:
        """Every term from features already computed, each of shape ``(batch,)``.

        Args:
            generated_features: ``feature_extractor(generated_images)``.
            content_targets: `content_targets` of the content images, needed
                when there are content layers.
            generated_images: The generated images, needed when
                ``tv_weight > 0``.

        Returns:
            A dict with ``"total"``, ``"content"``, ``"content/<layer>"``,
            ``"style"``, ``"style/<layer>"`` (summed over the style images
            with their weights, before the layer weight) and ``"tv"``.
            ``content`` and ``style`` are the sums before ``content_weight``
            and ``style_weight``; ``total`` is the weighted sum of the terms.
        """
        first = generated_features[next(iter(generated_features))]
        zero = keras.ops.zeros((keras.ops.shape(first)[0],), "float32")
        parts: dict[str, Tensor] = {}
        content = zero
        for layer in self.content_layers:
            if content_targets is None:
                raise ValueError("Expected `content_targets` for the content layers.")
            term = self._content_term(
                generated_features[layer],
                keras.ops.cast(content_targets[layer], "float32"),
            )
            parts[f"content/{layer}"] = term
            content = content + term
        style = zero
        for index, layer in enumerate(self.style_layers):
            if layer not in self.style_layers_used:
                continue
            features = generated_features[layer]
            plain = None
            layer_term = zero
            for k, targets in enumerate(self.style_targets):
                mask = None if self.style_masks is None else self.style_masks[k]
                if mask is None:
                    if plain is None:
                        plain = self._gram(features)
                    gram = plain
                else:
                    gram = self._masked_gram(features, mask)
                target = keras.ops.convert_to_tensor(targets[layer], "float32")
                distance = keras.ops.sum(keras.ops.square(gram - target), axis=(1, 2))
                layer_term = layer_term + self.style_image_weights[k] * distance
            parts[f"style/{layer}"] = layer_term
            style = style + self.style_layer_weights[index] * layer_term
        tv = zero
        if self.tv_weight > 0:
            if generated_images is None:
                raise ValueError("Expected `generated_images` when tv_weight > 0.")
            tv = total_variation(keras.ops.cast(generated_images, "float32"))
        parts["content"] = content
        parts["style"] = style
        parts["tv"] = tv
        parts["total"] = (
            self.content_weight * content
            + self.style_weight * style
            + self.tv_weight * tv
        )
        return parts

    def call(self, y_true: Tensor, y_pred: Tensor) -> Tensor:
        check_images(y_pred, "y_pred (generated images)", self._channels)
        content_targets = None
        if self.content_layers:
            check_images(y_true, "y_true (content images)", self._channels)
            if (
                y_true.shape[0] is not None
                and y_pred.shape[0] is not None
                and y_true.shape[0] != y_pred.shape[0]
            ):
                raise ValueError(
                    "Expected as many content images (y_true) as generated "
                    f"images (y_pred). Received batches of {y_true.shape[0]} and "
                    f"{y_pred.shape[0]}."
                )
            content_targets = self.content_targets(y_true)
        parts = self.compute_parts(self.features(y_pred), content_targets, y_pred)
        self._last_parts = parts
        return keras.ops.cast(parts["total"], self.dtype)

    @property
    def last_parts(self) -> dict[str, float]:
        """Batch means of the terms of the last eager call (see `compute_parts`)."""
        parts = getattr(self, "_last_parts", None)
        if parts is None:
            raise ValueError("The loss has not been called yet.")
        return {
            key: float(np.mean(keras.ops.convert_to_numpy(value)))
            for key, value in parts.items()
        }

    # ---------------------------------------------------------- serialization

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        if self._spec is not None:
            extractor: Any = {"preset": dict(self._spec)}
        elif isinstance(self._source, str):
            extractor = self._source
        else:
            extractor = keras.saving.serialize_keras_object(self.feature_extractor)
        config.update(
            {
                "feature_extractor": extractor,
                "style_image": None
                if self.style_images is None
                else [image.tolist() for image in self.style_images],
                "content_layers": list(self.content_layers),
                "style_layers": list(self.style_layers),
                "content_weight": self.content_weight,
                "style_weight": self.style_weight,
                "tv_weight": self.tv_weight,
                "style_layer_weights": list(self.style_layer_weights),
                "style_image_weights": list(self.style_image_weights)
                if self.style_images is not None
                else None,
                "style_masks": None
                if self.style_masks is None
                else [None if m is None else m.tolist() for m in self.style_masks],
                "normalization": self.normalization,
                "weights": self.weights,
            }
        )
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> StyleContentLoss:
        # Deserialization consumes nested dicts: work on a copy.
        config = copy.deepcopy(config)
        extractor = config.pop("feature_extractor")
        if isinstance(extractor, dict) and "preset" in extractor:
            from keras_apps.transfer import feature_extractor as build_extractor

            spec = extractor["preset"]
            extractor = build_extractor(
                spec["name"],
                spec["layers"],
                weights=spec["weights"],
                input_shape=tuple(spec["input_shape"]),
            )
        elif isinstance(extractor, dict):
            extractor = keras.saving.deserialize_keras_object(extractor)
        style = config.pop("style_image")
        if style is not None:
            style = [np.asarray(image, dtype="float32") for image in style]
        masks = config.pop("style_masks")
        if masks is not None:
            masks = [None if m is None else np.asarray(m, "float32") for m in masks]
        return cls(extractor, style, style_masks=masks, **config)


def _dict_output_names(model: keras.Model) -> list[str] | None:
    try:
        outputs = model.output
    except (AttributeError, ValueError):
        return None
    return list(outputs) if isinstance(outputs, dict) else None


def _weights(
    values: Sequence[float] | None, count: int, what: str, of: str
) -> list[float]:
    if values is None:
        return [1.0 / count] * count if count else []
    values = list(values)
    if len(values) != count or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
        for v in values
    ):
        raise ValueError(
            f"Expected `{what}` to hold {count} numbers >= 0, one per entry of "
            f"{of}. Received: {what}={values!r}"
        )
    return [float(v) for v in values]
