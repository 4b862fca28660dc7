"""Neural style transfer, texture synthesis, feature inversion and FastStyleNet.

On pictures shipped with scikit-image (``astronaut`` as content,
``immunohistochemistry`` and ``coffee`` as styles), the script writes under
``examples/output/style_transfer/``:

- ``stylized.png``: content, style and the Gatys et al. result
  (`keras_apps.models.StyleTransfer`, Adam, VGG-19 with the paper's layers);
- ``texture.png``: a texture synthesized from noise (style term only);
- ``reconstructions.png``: images inverted from noise
  (`keras_apps.models.invert_features`, content term plus a TV prior) from
  the activations of a shallow (``block2_conv2``) and a deeper
  (``block3_conv1``) layer. With random filters the shallow one gives back
  the picture nearly intact; the deeper one (TV weight 10) keeps only the
  coarse layout (the figure, the flag, the rocket) and loses detail and
  colour under high-frequency colour noise that its features do not
  constrain (a TV weight of 30 washes it out to a pale blur; deeper random
  layers, ``block4_*``, give a smooth blob);
- ``loss_curve.png``: the weighted content and style terms and the total per
  step of the stylization;
- ``fast_style_net.png``: content | Gatys result | `FastStyleNet` output.
  The network is trained with ``model.fit`` and `StyleContentLoss` (content
  ``block2_conv2``, style ``block1_conv1`` to ``block3_conv1``, Adam with a
  cosine learning rate schedule) on 800 steps of random 32 px crops and
  flips of ten other scikit-image pictures (``TRAIN_PICTURES``, batch 4),
  then applied in one forward pass to the held-out 128 px astronaut. It uses
  ``FastStyleNet(residual_output=True, upsampling_normalization=False)``:
  the untrained network is the identity and learns a change to its input,
  which keeps the content structure within the few hundred CPU steps this
  script can afford (Johnson et al.'s network, ``residual_output=False``,
  first has to learn to reproduce its input: after 150 steps it gave a
  blurred colour field, style term 160 times lower but the astronaut
  gone). Three
  things made the style show (trial runs of the network alone):

  1. Balanced style layers (`balanced_layer_weights`): with equal weights
     ``block1_conv1`` (colour statistics) held 96% of the style term, so
     the network only shifted colours. Balanced on training crops the
     weights are 0.0009, 0.027, 0.972; the style weight goes from 2e3 to
     1e6 so that the style term outweighs the content term.
  2. No instance normalization after the upsamplings: with it, all six
     trials (style weights 2e4 to 1e6, other layers, learning rates 5e-4
     and 2e-3, the final settings) put much of the change into saturated
     white/yellow/magenta blobs on flat dark regions (the helmet, the black
     background); without it six of eight runs had none (blobs came back
     at learning rate 6e-3 and with ten times the balanced weight of
     ``block1_conv1``, which also turned the suit blue). The normalized
     network even reaches the lower loss that way (a trial with the final
     settings: content 3.4e6, style 3.6 against 2.2e6 and 8.0 here), but
     blobs are no stylization.
  3. More, smaller steps: 800 steps of 32 px crops are as many pixels as
     200 of 64 px and bring texture where 150-200 steps of 64 px gave
     mostly colour.

  The output (one run, ``fit`` 118 s) keeps the astronaut, the flag and
  the rocket recognizable and repaints them with streaky, brush-like
  texture in the style's pale whites, orange-browns and blues, plus some
  colours the style does not have (cyan and neon on the black helmet). It
  is coarser than the Gatys result, whose fine colour texture follows the
  image; neither reproduces the stain's cell pattern with random filters.
  On the astronaut the loss parts go from content 0 and style 28.6
  (identity; weighted 2.9e7) to content 2.2e6 and style 8.0 (weighted
  8.0e6). The settings before (equal layer weights, style weight 2e3, 200
  steps of 64 px crops, normalized upsamplings) went from style 2560 to
  content 1.7e6 and style 358, and only turned dark regions into
  saturated patches.

Full run (default settings, random filters): 6 min 16 s wall, 5 min 55 s
user CPU, on 2 cores shared with another training job (load average 2.5
to 5).

Every figure is made with random VGG-19 filters unless ``--weights
imagenet`` is passed (the title says which). Without ``--weights imagenet``
(the default, so that it runs offline) random multi-scale filters still
carry texture statistics (Ustyuzhaninov et al. 2017), so textures and
colours transfer but the result is not the classic painting-like one. With
``--weights imagenet`` on a machine with network access the same script
gives the classic result.

Run: ``python examples/style_transfer.py [--weights imagenet] [--quick]``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from skimage.transform import resize  # noqa: E402

from keras_apps.losses import StyleContentLoss  # noqa: E402
from keras_apps.models import FastStyleNet, StyleTransfer, invert_features  # noqa: E402
from keras_apps.transfer import feature_extractor, preset_layers  # noqa: E402

SHALLOW, DEEP = "block2_conv2", "block3_conv1"
# FastStyleNet's loss: Johnson et al.'s shallow content layer, style layers
# up to block3 (the deeper ones add little with random filters and cost most).
NET_CONTENT = "block2_conv2"
NET_STYLE = ("block1_conv1", "block2_conv1", "block3_conv1")
# The layers' terms are balanced (see `balanced_layer_weights`), so the
# style weight is per unit of that balanced term.
NET_STYLE_WEIGHT = 1e6
NET_LEARNING_RATE = 2e-3
NET_BATCH = 4


def picture(name: str, size: int) -> np.ndarray:
    """A scikit-image picture as float RGB 0..255, longer side ``size``."""
    image = getattr(skimage.data, name)()
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    image = image[..., :3].astype("float32")
    height, width = image.shape[:2]
    scale = size / max(height, width)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    return resize(image, shape, anti_aliasing=True, preserve_range=True).astype(
        "float32"
    )


def square(name: str, size: int) -> np.ndarray:
    image = picture(name, 4 * size)
    side = min(image.shape[:2])
    return resize(
        image[:side, :side], (size, size), anti_aliasing=True, preserve_range=True
    ).astype("float32")


# FastStyleNet learns from these; the content image (astronaut) is held out.
TRAIN_PICTURES = (
    "chelsea",
    "coffee",
    "rocket",
    "camera",
    "coins",
    "hubble_deep_field",
    "brick",
    "grass",
    "page",
    "moon",
)


def crops(size: int, count: int, seed: int = 0) -> np.ndarray:
    """Random square crops, half of them flipped, of ``TRAIN_PICTURES``.

    Each picture is resized to a longer side of ``2.5 * size`` first (grey
    ones repeated on three channels, as ``skimage.color.gray2rgb`` does), so
    a crop shows a large part of it.
    """
    rng = np.random.default_rng(seed)
    images = [picture(name, int(2.5 * size)) for name in TRAIN_PICTURES]
    out = []
    for _ in range(count):
        image = images[rng.integers(len(images))]
        top = rng.integers(0, image.shape[0] - size + 1)
        left = rng.integers(0, image.shape[1] - size + 1)
        crop = image[top : top + size, left : left + size]
        out.append(crop[:, ::-1] if rng.random() < 0.5 else crop)
    return np.stack(out).astype("float32")


def _content_and_style(
    loss: StyleContentLoss, content: np.ndarray, image: np.ndarray
) -> dict[str, float]:
    """The content and style terms of ``image`` against ``content``, 4 digits."""
    loss(content[None], image[None])
    return {
        key: float(f"{value:.4g}")
        for key, value in loss.last_parts.items()
        if key in ("content", "style")
    }


def balanced_layer_weights(loss: StyleContentLoss, images: np.ndarray) -> list[float]:
    """Style layer weights that give each layer the same term on ``images``.

    With random filters the first layer's term (colour statistics) of the
    training crops is about 30 times ``block2_conv1``'s and 1,000 times
    ``block3_conv1``'s: with equal weights a network trained on it only
    shifts colours.
    The weights are ``1 / term`` of each layer for ``images`` left as they
    are (the untrained residual network's output), normalized to sum to 1.
    """
    loss(images, images)
    terms = [loss.last_parts[f"style/{layer}"] for layer in loss.style_layers]
    inverse = [1.0 / max(term, 1e-12) for term in terms]
    return [value / sum(inverse) for value in inverse]


def show(axis: Any, image: np.ndarray, title: str) -> None:
    axis.imshow(np.clip(image, 0, 255).astype("uint8"))
    axis.set_title(title, fontsize=9)
    axis.axis("off")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="examples/output/style_transfer")
    parser.add_argument(
        "--weights", default="none", help="'none', 'imagenet' or a file"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few steps")
    parser.add_argument("--size", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--fit-steps", type=int, default=None, help="FastStyleNet")
    args = parser.parse_args(argv)
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = args.size or (32 if args.quick else 128)
    steps = args.steps or (6 if args.quick else 150)
    net_steps, net_size = (2, 32) if args.quick else (800, 32)
    net_steps = args.fit_steps or net_steps
    weights = None if args.weights.lower() == "none" else args.weights
    weights_label = "random (no download)" if weights is None else str(args.weights)
    keras.utils.set_random_seed(0)
    start = time.perf_counter()

    content_layers, style_layers = preset_layers("vgg19")
    extractor = feature_extractor(
        "vgg19", [*content_layers, *style_layers, SHALLOW], weights=weights
    )
    content = picture("astronaut", size)
    style = square("immunohistochemistry", size)
    numbers: dict[str, Any] = {"weights": args.weights, "size": size, "steps": steps}

    # 1. Gatys et al.: content + style.
    transfer = StyleTransfer(
        extractor,
        list(content_layers),
        list(style_layers),
        style_weight=1e4,
        tv_weight=1e-5,
        learning_rate=4.0,
    )
    stylized = transfer.transfer(content, style, steps=steps, verbose=0)
    history = stylized.history
    numbers["stylize_loss"] = (history["total"][0], history["total"][-1])
    figure, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    show(axes[0], content, "content (astronaut)")
    show(axes[1], style, "style (immunohistochemistry)")
    show(axes[2], stylized.image, f"StyleTransfer, {steps} Adam steps")
    figure.suptitle(f"Gatys et al. style transfer, VGG-19 weights: {weights_label}")
    figure.tight_layout()
    figure.savefig(out / "stylized.png", dpi=100)
    plt.close(figure)

    # Loss curve of that run.
    figure, axis = plt.subplots(figsize=(6, 4))
    steps_axis = np.arange(1, len(history["total"]) + 1)
    axis.semilogy(steps_axis, history["total"], label="total")
    axis.semilogy(
        steps_axis, np.asarray(history["content"]) * 1.0, label="content (x1)"
    )
    axis.semilogy(steps_axis, np.asarray(history["style"]) * 1e4, label="style (x1e4)")
    axis.set_xlabel("Adam step")
    axis.set_ylabel("loss (log scale)")
    axis.set_title("StyleContentLoss during the stylization")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out / "loss_curve.png", dpi=100)
    plt.close(figure)

    # 2. Texture synthesis: the style term only, from noise.
    texture_source = square("coffee", size)
    texture = StyleTransfer(
        extractor, [], list(style_layers), style_weight=1.0, learning_rate=6.0, seed=0
    ).synthesize_texture(texture_source, size=size, steps=steps, verbose=0)
    numbers["texture_style_loss"] = (
        texture.history["style"][0],
        texture.history["style"][-1],
    )
    figure, axes = plt.subplots(1, 2, figsize=(7, 3.8))
    show(axes[0], texture_source, "texture source (coffee)")
    show(axes[1], texture.image, f"synthesized from noise, {steps} steps")
    figure.suptitle(
        "Texture synthesis (Gatys et al. 2015): Gram matrices only\n"
        f"VGG-19 weights: {weights_label}"
    )
    figure.tight_layout()
    figure.savefig(out / "texture.png", dpi=100)
    plt.close(figure)

    # 3. Feature inversion from a shallow and a deep layer.
    inversions = {}
    # Deep activations constrain the pixels less: a stronger image prior.
    tv_weights = {SHALLOW: 2.0, DEEP: 10.0}
    for layer, tv_weight in tv_weights.items():
        inversions[layer] = invert_features(
            extractor,
            layer,
            content,
            steps=steps,
            tv_weight=tv_weight,
            learning_rate=4.0,
            seed=0,
            verbose=0,
        )
        hist = inversions[layer].history["content"]
        numbers[f"inversion_{layer}"] = (hist[0], hist[-1])
    figure, axes = plt.subplots(1, 3, figsize=(10, 3.6))
    show(axes[0], content, "original")
    for axis, layer in zip(axes[1:], (SHALLOW, DEEP), strict=True):
        show(
            axis,
            inversions[layer].image,
            f"inverted from {layer}\n(TV weight {tv_weights[layer]:g}, {steps} steps)",
        )
    figure.suptitle(
        "Feature inversion from noise (Mahendran & Vedaldi 2015), "
        f"VGG-19 weights: {weights_label}"
    )
    figure.tight_layout()
    figure.savefig(out / "reconstructions.png", dpi=100)
    plt.close(figure)

    # 4. FastStyleNet trained with model.fit on crops of other photos, then
    # applied in one forward pass to the held-out content image. The loss
    # reads shallow layers of the same VGG-19 (block2_conv2 keeps the
    # content structure with random filters, where block4_conv2 does not).
    net_extractor = feature_extractor(extractor, [NET_CONTENT, *NET_STYLE])
    data = crops(net_size, NET_BATCH * net_steps)
    options: dict[str, Any] = {
        "content_layers": [NET_CONTENT],
        "style_layers": list(NET_STYLE),
        "tv_weight": 1e-6,
        "normalization": "gatys",
    }
    layer_weights = balanced_layer_weights(
        StyleContentLoss(net_extractor, style, **options), data[:32]
    )
    numbers["fast_style_net_layer_weights"] = [round(w, 5) for w in layer_weights]
    loss = StyleContentLoss(
        net_extractor,
        style,
        content_weight=1.0,
        style_weight=NET_STYLE_WEIGHT,
        style_layer_weights=layer_weights,
        **options,
    )
    identity = _content_and_style(loss, content, content)
    numbers["fast_style_net_identity_parts"] = identity
    # Instance-normalized upsamplings give saturated blobs (module docstring).
    net = FastStyleNet(
        filters=(16, 32, 64),
        residual_blocks=3,
        residual_output=True,
        upsampling_normalization=False,
    )
    schedule = keras.optimizers.schedules.CosineDecay(
        NET_LEARNING_RATE, net_steps, alpha=0.05
    )
    net.compile(keras.optimizers.Adam(schedule), loss=loss, jit_compile=False)
    fit_start = time.perf_counter()
    fit = net.fit(data, data, batch_size=NET_BATCH, epochs=1, shuffle=False, verbose=0)
    numbers["fast_style_net_fit_seconds"] = time.perf_counter() - fit_start
    numbers["fast_style_net_loss"] = fit.history["loss"][0]
    output = keras.ops.convert_to_numpy(net(content[None]))[0]
    numbers["fast_style_net_parts"] = _content_and_style(loss, content, output)
    figure, axes = plt.subplots(1, 3, figsize=(10, 4.2))
    show(axes[0], content, "content (astronaut, held out)")
    show(axes[1], stylized.image, f"Gatys et al.: {steps} Adam steps\non this image")
    show(
        axes[2],
        output,
        f"FastStyleNet: one forward pass\n({net_steps} fit steps on other photos)",
    )
    figure.suptitle(
        f"Optimisation vs feed-forward network, VGG-19 weights: {weights_label}"
    )
    figure.tight_layout(rect=(0, 0, 1, 0.94))
    figure.savefig(out / "fast_style_net.png", dpi=100)
    plt.close(figure)

    numbers["seconds"] = time.perf_counter() - start
    for key, value in numbers.items():
        print(f"{key}: {value}")
    return numbers


if __name__ == "__main__":
    main()
