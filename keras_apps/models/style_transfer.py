"""Neural style transfer by optimisation (Gatys et al.), texture synthesis and
feature inversion. TensorFlow-first: the optimisation loop uses
``tf.GradientTape`` and ``tf.function``; the loss itself is backend-free."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_apps import _backend
from keras_apps.losses.style_content_loss import StyleContentLoss

logger = logging.getLogger(__name__)

__all__ = [
    "StyleTransfer",
    "StyleTransferResult",
    "invert_features",
    "synthesize_texture",
]

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("content", "noise", "style")

SnapshotCallback = Callable[[int, np.ndarray, dict[str, float]], None]
"""``callback(step, uint8_image, parts)``: called every ``snapshot_every`` steps."""


@dataclass
class StyleTransferResult:
    """What `StyleTransfer` returns.

    Attributes:
        image: The generated image, ``(height, width, 3)`` uint8.
        history: Per step (per L-BFGS iteration): ``"total"``, ``"content"``,
            ``"style"`` and ``"tv"`` (batch of one, before the term weights
            for the parts), over all pyramid levels in order.
        snapshots: ``(step, uint8 image)`` every ``snapshot_every`` steps.
        levels: The ``(height, width)`` of each pyramid level.
        pixels: The generated image as float32 in the pixel range, before
            rounding to uint8 (to feed back into the network). With colour
            preservation, the optimised luminance image.
    """

    image: np.ndarray
    history: dict[str, list[float]] = field(default_factory=dict)
    snapshots: list[tuple[int, np.ndarray]] = field(default_factory=list)
    levels: list[tuple[int, int]] = field(default_factory=list)
    pixels: np.ndarray | None = None


def _check_image(image: Any, what: str, channels: int | None = 3) -> np.ndarray:
    """One image as float32; ``channels=None`` accepts any channel count."""
    array = np.asarray(image)
    if array.dtype == bool or array.dtype.kind not in "uif":
        raise ValueError(
            f"Expected `{what}` to hold numeric pixels (uint8, or float in the "
            f"pixel range). Received dtype {array.dtype}."
        )
    if channels is None:
        if array.ndim != 3:
            raise ValueError(
                f"Expected `{what}` to be one image of shape (height, width, "
                f"channels). Received shape {array.shape}."
            )
    elif array.ndim != 3 or array.shape[-1] != channels:
        raise ValueError(
            f"Expected `{what}` to be one RGB image of shape (height, width, 3) "
            "(repeat a grey image on 3 channels, e.g. skimage.color.gray2rgb). "
            f"Received shape {array.shape}."
        )
    return array.astype("float32")


def _resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if tuple(image.shape[:2]) == tuple(size):
        return image
    resized = keras.ops.image.resize(
        image[None], size, interpolation="bilinear", antialias=True
    )
    return np.asarray(keras.ops.convert_to_numpy(resized))[0]


def _fit_size(
    shape: Sequence[int], size: int | Sequence[int] | None
) -> tuple[int, int]:
    height, width = int(shape[0]), int(shape[1])
    if size is None:
        return height, width
    if isinstance(size, int):
        scale = size / max(height, width)
        return max(1, round(height * scale)), max(1, round(width * scale))
    return int(size[0]), int(size[1])


# YIQ, for luminance-only transfer (Gatys et al. 2017, "colour preservation").
_RGB_TO_YIQ = np.array(
    [[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]],
    dtype="float32",
)
_YIQ_TO_RGB = np.linalg.inv(_RGB_TO_YIQ).astype("float32")


def _luminance(image: np.ndarray) -> np.ndarray:
    return image @ _RGB_TO_YIQ[0]


def _grey(luminance: np.ndarray) -> np.ndarray:
    return np.repeat(luminance[..., None], 3, axis=-1)


def _with_colors_of(generated: np.ndarray, content: np.ndarray) -> np.ndarray:
    """The luminance of ``generated`` with the I and Q channels of ``content``."""
    yiq = content @ _RGB_TO_YIQ.T
    yiq[..., 0] = _luminance(generated)
    return yiq @ _YIQ_TO_RGB.T


def _match_luminance(style_y: np.ndarray, content_y: np.ndarray) -> np.ndarray:
    scale = content_y.std() / max(float(style_y.std()), 1e-6)
    return (style_y - style_y.mean()) * scale + content_y.mean()


class StyleTransfer:
    """Gatys et al.'s style transfer: gradient descent on the image itself.

    The image is optimised against a `StyleContentLoss` over a feature
    extractor (VGG-19 with the layers of Gatys et al. by default). One
    optimisation step is one compiled ``tf.function`` that runs the network
    once, on the generated image only: the content activations are computed
    once per pyramid level and the style Gram matrices once per call, by the
    loss. Pixels stay in ``pixel_range`` (clipped after each Adam step, box
    bounds for L-BFGS-B).

    TensorFlow-first: the loop uses ``tf.GradientTape``; with another
    backend it raises ``NotImplementedError`` (the loss itself is
    backend-free).

    - `transfer`: content + style(s), optionally with weights per style,
      spatial masks (guided transfer), colour preservation and a
      coarse-to-fine image pyramid.
    - `synthesize_texture`: the style term only, from noise (Gatys et al.
      2015).
    - `invert_features`: the content term only, from noise: an image whose
      activations at a layer match those of a given image (Mahendran and
      Vedaldi 2015).

    Args:
        feature_extractor: ``"vgg19"`` (default), ``"vgg16"``, another
            `load_backbone` name, or a Keras model (a dict-output extractor
            or any functional model holding the layers).
        content_layers: Defaults to the preset's (``block4_conv2`` for
            VGG-19).
        style_layers: Defaults to the preset's (``block1_conv1 ...
            block5_conv1`` for VGG-19).
        weights: Weights of a named extractor: ``"imagenet"`` (default; a
            `WeightsUnavailableError` names the file when it cannot be
            downloaded), ``None`` (random filters) or a file.
        content_weight: ``alpha``. Defaults to 1.
        style_weight: ``beta``. Defaults to 1e4.
        tv_weight: Weight of the total variation. Defaults to 0.
        style_layer_weights: Per style layer; default equal.
        normalization: ``"gatys"`` (default), ``"course"`` or ``"johnson"``;
            see `StyleContentLoss`.
        optimizer: ``"adam"`` (default) or ``"lbfgs"`` (SciPy's L-BFGS-B, as
            Gatys et al. used; needs ``scipy``, the ``lbfgs`` extra).
        learning_rate: Adam's step in pixel units. Defaults to 2.
        init: ``"content"`` (default), ``"noise"`` (mid-grey plus uniform
            noise of +-20% of the pixel range) or ``"style"``.
        pixel_range: ``(low, high)`` of the images the extractor takes.
            Defaults to ``(0, 255)``.
        jit_compile: Compile the step with XLA. Defaults to False (it
            measured slower on small CPUs).
        seed: Seed of the noise initialisation.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.models import StyleTransfer
    >>> inputs = keras.Input((None, None, 3))
    >>> conv = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    >>> model = keras.Model(inputs, conv)
    >>> st = StyleTransfer(model, ["conv"], ["conv"], learning_rate=5.0)
    >>> rng = np.random.default_rng(0)
    >>> content = rng.uniform(0, 255, (16, 16, 3))
    >>> style = rng.uniform(0, 255, (16, 16, 3))
    >>> result = st.transfer(content, style, steps=5, verbose=0)
    >>> result.image.shape, result.image.dtype
    ((16, 16, 3), dtype('uint8'))
    >>> result.history["total"][-1] < result.history["total"][0]
    True

    Reference:
        - Gatys, Ecker and Bethge, "Image Style Transfer Using Convolutional
          Neural Networks", CVPR 2016; "Texture Synthesis Using
          Convolutional Neural Networks", NeurIPS 2015.
        - Gatys et al., "Controlling Perceptual Factors in Neural Style
          Transfer", CVPR 2017.
        - Mahendran and Vedaldi, "Understanding Deep Image Representations by
          Inverting Them", CVPR 2015.
    """

    def __init__(
        self,
        feature_extractor: keras.Model | str = "vgg19",
        content_layers: Sequence[str] | None = None,
        style_layers: Sequence[str] | None = None,
        weights: str | os.PathLike[str] | None = "imagenet",
        content_weight: float = 1.0,
        style_weight: float = 1e4,
        tv_weight: float = 0.0,
        style_layer_weights: Sequence[float] | None = None,
        normalization: str = "gatys",
        optimizer: str = "adam",
        learning_rate: float = 2.0,
        init: str = "content",
        pixel_range: tuple[float, float] = (0.0, 255.0),
        jit_compile: bool = False,
        seed: int | None = None,
    ) -> None:
        errors = []
        if optimizer not in OPTIMIZERS:
            errors.append(
                f"Expected `optimizer` to be one of {OPTIMIZERS}. "
                f"Received: optimizer={optimizer!r}"
            )
        if init not in INITS:
            errors.append(
                f"Expected `init` to be one of {INITS}. Received: init={init!r}"
            )
        if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
            errors.append(
                "Expected `learning_rate` > 0. "
                f"Received: learning_rate={learning_rate!r}"
            )
        try:
            low, high = (float(v) for v in pixel_range)
            if not high > low:
                raise ValueError
        except (TypeError, ValueError):
            errors.append(
                "Expected `pixel_range` to be (low, high) with high > low. "
                f"Received: pixel_range={pixel_range!r}"
            )
            low, high = 0.0, 255.0
        if errors:
            raise ValueError(" ".join(errors))
        from keras_apps.transfer.feature_extractor import (
            feature_extractor as build_extractor,
        )
        from keras_apps.transfer.feature_extractor import preset_layers

        if isinstance(feature_extractor, (str, os.PathLike)):
            name = os.fspath(feature_extractor)
            if content_layers is None or style_layers is None:
                content_default, style_default = preset_layers(name)
                content_layers = (
                    content_default if content_layers is None else content_layers
                )
                style_layers = style_default if style_layers is None else style_layers
            layers = list(dict.fromkeys([*content_layers, *style_layers]))
            self.feature_extractor = build_extractor(name, layers, weights=weights)
        elif isinstance(feature_extractor, keras.Model):
            if content_layers is None or style_layers is None:
                raise ValueError(
                    "Pass `content_layers` and `style_layers` with a model. "
                    f"Received: content_layers={content_layers!r}, "
                    f"style_layers={style_layers!r}"
                )
            self.feature_extractor = feature_extractor
        else:
            raise ValueError(
                "Expected `feature_extractor` to be a Keras model or a backbone "
                f"name. Received: {type(feature_extractor).__name__}"
            )
        self.content_layers = list(content_layers)
        self.style_layers = list(style_layers)
        self.content_weight = content_weight
        self.style_weight = style_weight
        self.tv_weight = tv_weight
        self.style_layer_weights = style_layer_weights
        self.normalization = normalization
        self.optimizer = optimizer
        self.learning_rate = float(learning_rate)
        self.init = init
        self.pixel_range = (low, high)
        self.jit_compile = bool(jit_compile)
        self.seed = seed

    # ------------------------------------------------------------ public API

    def transfer(
        self,
        content_image: Any,
        style_images: Any,
        steps: int = 200,
        size: int | Sequence[int] | None = None,
        style_weights: Sequence[float] | None = None,
        style_masks: Sequence[Any] | None = None,
        preserve_colors: bool = False,
        pyramid_levels: int = 1,
        callback: SnapshotCallback | None = None,
        snapshot_every: int = 0,
        verbose: int = 1,
    ) -> StyleTransferResult:
        """Renders ``content_image`` in the style of ``style_images``.

        Args:
            content_image: ``(H, W, 3)`` RGB in the pixel range (uint8 is
                fine).
            style_images: One image or a list of images (any sizes).
            steps: Optimisation steps per pyramid level (L-BFGS iterations).
            size: Output size: the longer side in pixels, ``(height, width)``,
                or None for the content image's size.
            style_weights: One weight per style image; default equal.
            style_masks: One ``(H, W)`` mask in 0..1 (or None) per style
                image, at the output size: where each style applies.
            preserve_colors: Luminance-only transfer: the style is applied to
                the luminance, the content keeps its colours (Gatys et al.
                2017; the style's luminance is matched to the content's mean
                and spread first).
            pyramid_levels: Coarse to fine: optimise at ``size / 2**(n-1)``,
                upsample the result as the start of the next level, ...,
                ending at ``size``. Defaults to 1 (no pyramid).
            callback: ``callback(step, uint8_image, parts)`` every
                ``snapshot_every`` steps.
            snapshot_every: Snapshot period in steps; 0 (default) for none.
            verbose: 1 shows a ``keras.utils.Progbar``; 0 is silent.

        Returns:
            A `StyleTransferResult` with the uint8 image and the history.
        """
        content = _check_image(content_image, "content_image")
        styles = self._style_list(style_images)
        return self._run(
            content,
            styles,
            style_weights,
            style_masks,
            steps,
            _fit_size(content.shape, size),
            preserve_colors,
            pyramid_levels,
            callback,
            snapshot_every,
            verbose,
            self.content_layers,
            self.style_layers,
        )

    def synthesize_texture(
        self,
        style_images: Any,
        size: int | Sequence[int] = 128,
        steps: int = 200,
        style_weights: Sequence[float] | None = None,
        pyramid_levels: int = 1,
        callback: SnapshotCallback | None = None,
        snapshot_every: int = 0,
        verbose: int = 1,
    ) -> StyleTransferResult:
        """A new image with the Gram statistics of ``style_images`` (no content).

        Starts from noise (``init="content"`` means noise here); ``size`` is a
        side length or ``(height, width)``.
        """
        styles = self._style_list(style_images)
        shape = (size, size) if isinstance(size, int) else tuple(size)
        return self._run(
            None,
            styles,
            style_weights,
            None,
            steps,
            (int(shape[0]), int(shape[1])),
            False,
            pyramid_levels,
            callback,
            snapshot_every,
            verbose,
            [],
            self.style_layers,
        )

    def invert_features(
        self,
        image: Any,
        layers: str | Sequence[str] | None = None,
        steps: int = 200,
        callback: SnapshotCallback | None = None,
        snapshot_every: int = 0,
        verbose: int = 1,
        content_weight: float | None = None,
        tv_weight: float | None = None,
    ) -> StyleTransferResult:
        """An image whose activations at ``layers`` match those of ``image``.

        The content term only (no style), always from noise. ``layers``
        defaults to the content layers; ``content_weight`` and ``tv_weight``
        to this object's. The module-level `invert_features` sets them to the
        relative normalization of Mahendran and Vedaldi.
        """
        channels = _input_channels(self.feature_extractor)
        target = _check_image(image, "image", channels=channels)
        names = (
            self.content_layers
            if layers is None
            else ([layers] if isinstance(layers, str) else list(layers))
        )
        return self._run(
            target,
            [],
            None,
            None,
            steps,
            tuple(target.shape[:2]),  # type: ignore[arg-type]
            False,
            1,
            callback,
            snapshot_every,
            verbose,
            names,
            [],
            force_noise=True,
            content_weight=content_weight,
            tv_weight=tv_weight,
        )

    # -------------------------------------------------------------- internals

    def _style_list(self, style_images: Any) -> list[np.ndarray]:
        if isinstance(style_images, (list, tuple)):
            items = list(style_images)
        else:
            array = np.asarray(style_images)
            items = list(array) if array.ndim == 4 else [array]
        if not items:
            raise ValueError("Expected at least one style image. Received none.")
        return [_check_image(s, "style_images") for s in items]

    def make_loss(
        self,
        styles: Sequence[np.ndarray],
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        style_weights: Sequence[float] | None = None,
        style_masks: Sequence[Any] | None = None,
        content_weight: float | None = None,
        tv_weight: float | None = None,
    ) -> StyleContentLoss:
        """The `StyleContentLoss` these settings optimise, for these styles."""
        return StyleContentLoss(
            self.feature_extractor,
            list(styles) if styles else None,
            content_layers=list(content_layers),
            style_layers=list(style_layers),
            content_weight=self.content_weight
            if content_weight is None
            else content_weight,
            style_weight=self.style_weight,
            tv_weight=self.tv_weight if tv_weight is None else tv_weight,
            style_layer_weights=self.style_layer_weights
            if list(style_layers) == self.style_layers
            else None,
            style_image_weights=style_weights,
            style_masks=style_masks,
            normalization=self.normalization,
        )

    def _run(
        self,
        content: np.ndarray | None,
        styles: list[np.ndarray],
        style_weights: Sequence[float] | None,
        style_masks: Sequence[Any] | None,
        steps: int,
        size: tuple[int, int],
        preserve_colors: bool,
        pyramid_levels: int,
        callback: SnapshotCallback | None,
        snapshot_every: int,
        verbose: int,
        content_layers: Sequence[str],
        style_layers: Sequence[str],
        force_noise: bool = False,
        content_weight: float | None = None,
        tv_weight: float | None = None,
    ) -> StyleTransferResult:
        # StyleContentLoss itself runs on every backend.
        _backend.require_tensorflow(
            "StyleTransfer", "optimises the image with tf.GradientTape"
        )
        for arg, value, least in (
            ("steps", steps, 1),
            ("pyramid_levels", pyramid_levels, 1),
            ("snapshot_every", snapshot_every, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(
                    f"Expected `{arg}` to be an int >= {least}. "
                    f"Received: {arg}={value!r}"
                )
        low, high = self.pixel_range
        original_content = content
        if preserve_colors:
            if content is None:
                raise ValueError("preserve_colors needs a content image.")
            content_y = _luminance(content)
            styles = [_grey(_match_luminance(_luminance(s), content_y)) for s in styles]
            content = _grey(content_y)
        loss = self.make_loss(
            styles,
            content_layers,
            style_layers,
            style_weights,
            style_masks,
            content_weight,
            tv_weight,
        )
        levels = [
            (
                max(1, round(size[0] / 2**i)),
                max(1, round(size[1] / 2**i)),
            )
            for i in reversed(range(pyramid_levels))
        ]
        rng = np.random.default_rng(self.seed)
        init = "noise" if (force_noise or content is None) else self.init
        history: dict[str, list[float]] = {
            "total": [],
            "content": [],
            "style": [],
            "tv": [],
        }
        snapshots: list[tuple[int, np.ndarray]] = []
        progbar = keras.utils.Progbar(steps * len(levels), verbose=verbose)
        counter = [0]

        def to_uint8(image: np.ndarray) -> np.ndarray:
            if preserve_colors and original_content is not None:
                colours = _resize(original_content, image.shape[:2])
                image = _with_colors_of(image, colours)
            scaled = (np.clip(image, low, high) - low) * (255.0 / (high - low))
            return np.round(scaled).astype("uint8")

        def report(image: np.ndarray, parts: dict[str, float]) -> None:
            counter[0] += 1
            for key in history:
                history[key].append(parts[key])
            progbar.update(
                counter[0],
                values=[(k, parts[k]) for k in ("total", "content", "style")],
                finalize=counter[0] == progbar.target,
            )
            if snapshot_every and counter[0] % snapshot_every == 0:
                snapshot = to_uint8(image)
                snapshots.append((counter[0], snapshot))
                if callback is not None:
                    callback(counter[0], snapshot, dict(parts))

        image: np.ndarray | None = None
        for level in levels:
            level_content = None if content is None else _resize(content, level)
            if image is not None:
                start = _resize(image, level)
            elif init == "noise":
                # Mid-grey plus uniform noise of a fifth of the range: white
                # noise over the whole range takes many steps to smooth out.
                half = 0.2 * (high - low)
                channels = 3 if content is None else content.shape[-1]
                noise = rng.uniform(-half, half, (*level, channels))
                start = (0.5 * (low + high) + noise).astype("float32")
            elif init == "style":
                start = _resize(styles[0], level)
            else:
                assert level_content is not None
                start = level_content
            targets = (
                loss.content_targets(level_content[None])
                if (content_layers and level_content is not None)
                else {}
            )
            if self.optimizer == "adam":
                image = self._optimise_adam(loss, targets, start, steps, report)
            else:
                image = self._optimise_lbfgs(loss, targets, start, steps, report)
        assert image is not None
        return StyleTransferResult(
            to_uint8(image), history, snapshots, levels, pixels=image
        )

    def compiled_step(
        self, loss: StyleContentLoss, content_targets: dict[str, Any], variable: Any
    ) -> tuple[Callable[[], dict[str, Any]], Any]:
        """The compiled Adam step on ``variable`` (a ``tf.Variable`` image batch).

        Returns ``(step, optimizer)``; ``step()`` runs the extractor once on
        the generated image, applies one Adam update, clips the pixels and
        returns the loss parts.
        """
        import tensorflow as tf

        # A tiny epsilon keeps Adam scale-free: the loss scale depends on the
        # network, the normalization and the weights.
        optimizer = keras.optimizers.Adam(self.learning_rate, epsilon=1e-8)
        low, high = self.pixel_range
        targets = {k: tf.constant(v) for k, v in content_targets.items()}

        def step() -> dict[str, Any]:
            with tf.GradientTape() as tape:
                features = loss.features(variable)
                parts = loss.compute_parts(features, targets, variable)
                total = tf.reduce_sum(parts["total"])
            gradient = tape.gradient(total, variable)
            optimizer.apply_gradients([(gradient, variable)])
            variable.assign(tf.clip_by_value(variable, low, high))
            return parts

        return tf.function(step, jit_compile=self.jit_compile), optimizer

    def _optimise_adam(
        self,
        loss: StyleContentLoss,
        targets: dict[str, Any],
        start: np.ndarray,
        steps: int,
        report: Callable[[np.ndarray, dict[str, float]], None],
    ) -> np.ndarray:
        import tensorflow as tf

        variable = tf.Variable(start[None].astype("float32"))
        step, _ = self.compiled_step(loss, targets, variable)
        for _ in range(steps):
            parts = step()
            values = {k: float(tf.reduce_sum(v)) for k, v in parts.items()}
            report(variable.numpy()[0], values)
        return np.asarray(variable.numpy()[0])

    def _optimise_lbfgs(
        self,
        loss: StyleContentLoss,
        targets: dict[str, Any],
        start: np.ndarray,
        steps: int,
        report: Callable[[np.ndarray, dict[str, float]], None],
    ) -> np.ndarray:
        try:
            import scipy.optimize
        except ImportError as error:
            raise ImportError(
                "optimizer='lbfgs' uses scipy.optimize: pip install "
                "'keras-apps[lbfgs]' (or scipy)."
            ) from error
        import tensorflow as tf

        shape = (1, *start.shape)
        constants = {k: tf.constant(v) for k, v in targets.items()}

        @tf.function(jit_compile=self.jit_compile)
        def value_and_gradient(image: Any) -> tuple[Any, Any, dict[str, Any]]:
            with tf.GradientTape() as tape:
                tape.watch(image)
                features = loss.features(image)
                parts = loss.compute_parts(features, constants, image)
                total = tf.reduce_sum(parts["total"])
            return total, tape.gradient(total, image), parts

        last: dict[str, Any] = {}

        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            image = tf.constant(flat.reshape(shape).astype("float32"))
            total, gradient, parts = value_and_gradient(image)
            last["parts"] = {k: float(tf.reduce_sum(v)) for k, v in parts.items()}
            return float(total), gradient.numpy().ravel().astype("float64")

        def on_iteration(flat: np.ndarray) -> None:
            report(flat.reshape(shape)[0].astype("float32"), last["parts"])

        low, high = self.pixel_range
        result = scipy.optimize.minimize(
            objective,
            start.ravel().astype("float64"),
            jac=True,
            method="L-BFGS-B",
            bounds=scipy.optimize.Bounds(low, high),
            callback=on_iteration,
            options={"maxiter": steps, "maxfun": 2 * steps + 20},
        )
        logger.info(
            "L-BFGS-B stopped after %d iterations: %s", result.nit, result.message
        )
        return np.asarray(result.x.reshape(shape)[0], dtype="float32")


def synthesize_texture(
    feature_extractor: keras.Model | str,
    style_image: Any,
    size: int | Sequence[int] = 128,
    steps: int = 200,
    style_layers: Sequence[str] | None = None,
    weights: str | None = "imagenet",
    optimizer: str = "adam",
    learning_rate: float = 5.0,
    seed: int | None = None,
    verbose: int = 1,
    **kwargs: Any,
) -> StyleTransferResult:
    """Texture synthesis (Gatys et al. 2015): the style term only, from noise.

    A shortcut for ``StyleTransfer(...).synthesize_texture(...)``.

    Args:
        feature_extractor: A backbone name or model, as in `StyleTransfer`.
        style_image: The texture (or several, mixed with equal weights).
        size: Output side length or ``(height, width)``.
        steps: Optimisation steps.
        style_layers: Defaults to the preset's style layers.
        weights, optimizer, learning_rate, seed, verbose: As in
            `StyleTransfer`.
        **kwargs: More `StyleTransfer.synthesize_texture` arguments
            (``callback``, ``snapshot_every``, ``pyramid_levels``).
    """
    if style_layers is None and not isinstance(feature_extractor, keras.Model):
        from keras_apps.transfer.feature_extractor import preset_layers

        style_layers = preset_layers(os.fspath(feature_extractor))[1]
    if style_layers is None:
        raise ValueError("Pass `style_layers` with a model.")
    st = StyleTransfer(
        feature_extractor,
        content_layers=[],
        style_layers=style_layers,
        weights=weights,
        optimizer=optimizer,
        learning_rate=learning_rate,
        style_weight=1.0,
        init="noise",
        seed=seed,
    )
    return st.synthesize_texture(style_image, size, steps, verbose=verbose, **kwargs)


def invert_features(
    feature_extractor_or_model: keras.Model | str,
    layer_name: str | Sequence[str],
    image: Any,
    steps: int = 200,
    tv_weight: float = 1.0,
    learning_rate: float = 2.0,
    optimizer: str = "adam",
    pixel_range: tuple[float, float] = (0.0, 255.0),
    weights: str | None = "imagenet",
    seed: int | None = None,
    verbose: int = 1,
    callback: SnapshotCallback | None = None,
    snapshot_every: int = 0,
) -> StyleTransferResult:
    """Feature inversion (Mahendran and Vedaldi 2015): an image from activations.

    Starting from noise, finds ``x`` that minimises::

        ||F(x) - F(image)||^2 / ||F(image)||^2
            + tv_weight * TV(x) / (H W C (high - low)^2)

    where ``F`` is the activation at ``layer_name`` (for a list, the sum of
    the layers' terms divided by their mean energy) and ``TV`` the squared
    total variation (`keras_apps.losses.total_variation`). Both terms are
    relative (the feature error to the feature energy, the TV to the pixel
    count and range), so ``tv_weight`` means the same at every layer and
    size. Shallow layers give back nearly the image; deep layers keep what
    the network needs and lose the rest (position, colour, fine detail).

    This is the one implementation of feature inversion in keras-apps:
    `keras_apps.visualize.invert_features` is this function, and
    `StyleTransfer.invert_features` runs the same optimisation loop.
    TensorFlow-first (the loop uses ``tf.GradientTape``).

    Args:
        feature_extractor_or_model: Any functional or Sequential Keras model
            (a classifier, a backbone, a feature extractor), or a backbone
            name for `keras_apps.transfer.load_backbone`.
        layer_name: The layer (or layers) whose activations are inverted. For
            a model, a layer at any depth: its name, or its path
            ``"backbone/conv3"`` when it sits inside a nested model.
        image: One ``(H, W, C)`` image in ``pixel_range`` (``C`` as the model
            takes; three for a backbone name).
        steps: Optimisation steps. Defaults to 200.
        tv_weight: Weight of the relative total variation. Defaults to 1.
        learning_rate: Adam's step in units of 1/255 of the pixel range
            (2.0: two grey levels of an 8-bit image per step).
        optimizer: ``"adam"`` (default) or ``"lbfgs"``.
        pixel_range: ``(low, high)`` of the images the model takes. Defaults
            to ``(0, 255)``.
        weights: For a backbone name.
        seed: Seed of the noise start.
        verbose: 1 shows a progress bar.
        callback, snapshot_every: As in `StyleTransfer.transfer`.

    Returns:
        A `StyleTransferResult`: ``.pixels`` is the reconstruction as float32
        in ``pixel_range``, ``.image`` the same as uint8 (the range mapped to
        0..255), and ``.history["content"]`` the relative feature error per
        step.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.models import invert_features
    >>> inputs = keras.Input((None, None, 3))
    >>> conv = keras.layers.Conv2D(8, 3, padding="same", name="conv")(inputs)
    >>> model = keras.Model(inputs, conv)
    >>> image = np.random.default_rng(0).uniform(0, 255, (16, 16, 3))
    >>> result = invert_features(model, "conv", image, steps=10, verbose=0)
    >>> result.image.shape, result.pixels.dtype
    ((16, 16, 3), dtype('float32'))
    >>> result.history["content"][-1] < result.history["content"][0]
    True
    """
    _backend.require_tensorflow(
        "invert_features", "optimises the image with tf.GradientTape"
    )
    names = [layer_name] if isinstance(layer_name, str) else list(layer_name)
    if not names or not all(isinstance(n, str) for n in names):
        raise ValueError(
            "Expected `layer_name` to be a layer name or a list of them. "
            f"Received: layer_name={layer_name!r}"
        )
    if (
        isinstance(tv_weight, bool)
        or not isinstance(tv_weight, (int, float))
        or tv_weight < 0
    ):
        raise ValueError(f"Expected tv_weight >= 0. Received: tv_weight={tv_weight!r}")
    low, high = (float(v) for v in pixel_range)
    extractor: keras.Model | str = feature_extractor_or_model
    if isinstance(feature_extractor_or_model, keras.Model):
        extractor = _layer_extractor(feature_extractor_or_model, names)
    st = StyleTransfer(
        extractor,
        content_layers=names,
        style_layers=[],
        weights=weights,
        normalization="johnson",
        optimizer=optimizer,
        learning_rate=learning_rate * (high - low) / 255.0,
        init="noise",
        pixel_range=(low, high),
        seed=seed,
        style_weight=0.0,
    )
    target = _check_image(
        image, "image", channels=_input_channels(st.feature_extractor)
    )
    # Relative feature error: divide by the feature energy of the target
    # (the "johnson" content term is already a mean over the elements).
    probe = st.make_loss([], names, [])
    energies = [
        float(np.mean(np.square(keras.ops.convert_to_numpy(v))))
        for v in probe.content_targets(target[None]).values()
    ]
    content_weight = 1.0 / max(float(np.mean(energies)), 1e-12)
    pixels = target.shape[0] * target.shape[1] * target.shape[2]
    relative_tv = tv_weight / (pixels * (high - low) ** 2)
    return st.invert_features(
        target,
        names,
        steps,
        callback=callback,
        snapshot_every=snapshot_every,
        verbose=verbose,
        content_weight=content_weight,
        tv_weight=relative_tv,
    )


def _input_channels(model: keras.Model) -> int | None:
    """The channel count of a model's image input (None when unknown)."""
    inputs = getattr(model, "inputs", None)
    channels = inputs[0].shape[-1] if inputs else None
    return channels if isinstance(channels, int) else None


def _layer_extractor(model: keras.Model, names: list[str]) -> keras.Model:
    """A dict-output model over ``names`` (layer names or nested paths)."""
    from keras_apps.visualize import _graph

    model = _graph.check_model(model)
    layers = [_graph.find_layer(model, name) for name in names]
    tapped = _graph.tapped_model(model, layers)
    outputs = dict(zip(names, tapped.outputs, strict=True))
    return keras.Model(tapped.inputs, outputs)
