"""A U-Net segments circles, squares and triangles on noisy, textured backgrounds.

What it shows:
1. a generated data set: RGB images with one to three shapes (circle,
   square, triangle: classes 1-3, background 0) of random colour, size,
   position and rotation, on backgrounds of random stripes, smooth blotches
   and pixel noise; the class must come from the outline, not the colour;
2. `keras_apps.models.UNet` trained with `keras_apps.losses.CrossEntropyDiceLoss`
   and scored with the streaming `keras_apps.metrics.IoU` and
   `keras_apps.metrics.Dice` on held-out images (mean over the three shape
   classes, and per class);
3. prediction overlays written as PNGs.

Run it with ``python examples/segmentation.py`` or ``--quick`` (a smoke
test: the score is not meaningful). Figures go to
``examples/output/segmentation/``.

Measured (full mode, seed 0, 48x48 images, 1,500 training and 200 held-out
images, a depth-3 U-Net of 8 base filters, 121,908 weights, 20 epochs): 1,374 s
of training on 2 CPU cores shared with other jobs (load average about 12);
held-out IoU per class: background 0.987, circle 0.729, square 0.629,
triangle 0.686; mean IoU of the three shapes 0.681, mean Dice 0.810. The
training IoU was still rising (0.86 at the last epoch), so this run does NOT
reach the 0.9 target yet: more epochs or images are the next thing to try.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_apps.losses import CrossEntropyDiceLoss  # noqa: E402
from keras_apps.metrics import Dice, IoU  # noqa: E402
from keras_apps.models import UNet  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "examples" / "output" / "segmentation"
CLASS_NAMES = ("background", "circle", "square", "triangle")
CLASS_COLOURS = np.array(
    [[0, 0, 0], [1.0, 0.2, 0.2], [0.2, 0.9, 0.2], [0.25, 0.45, 1.0]], "float32"
)
SHAPE_CLASSES = [1, 2, 3]


# ---------------------------------------------------------------------------
# The data set
# ---------------------------------------------------------------------------


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """Random stripes + smooth blotches + pixel noise, in RGB."""
    y, x = np.mgrid[0:size, 0:size].astype("float32") / size
    base = rng.uniform(0.25, 0.75, 3)
    image = np.broadcast_to(base, (size, size, 3)).copy()
    for _ in range(2):  # two gratings of random frequency and direction
        angle = rng.uniform(0, np.pi)
        frequency = rng.uniform(2, 9)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(
            2 * np.pi * frequency * (x * np.cos(angle) + y * np.sin(angle)) + phase
        )
        image += rng.uniform(0.04, 0.12) * wave[..., None] * rng.uniform(0.5, 1, 3)
    from scipy.ndimage import zoom

    coarse = rng.normal(0, 0.1, (5, 5, 3))  # blotches: smoothly upsampled noise
    image += zoom(coarse, (size / 5, size / 5, 1), order=3)[:size, :size]
    return image


def _shape_mask(rng: np.random.Generator, kind: int, size: int) -> np.ndarray:
    y, x = np.mgrid[0:size, 0:size].astype("float32") + 0.5
    cy, cx = rng.uniform(0.2 * size, 0.8 * size, 2)
    radius = rng.uniform(0.09, 0.2) * size
    angle = rng.uniform(0, 2 * np.pi)
    dy, dx = y - cy, x - cx
    if kind == 1:  # circle
        return dx**2 + dy**2 <= radius**2
    # Rotate the coordinates into the shape's frame.
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    if kind == 2:  # square of the same area scale as the circle
        half = radius * 0.9
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    # Equilateral triangle: inside three half-planes around the centre.
    apothem = radius * 0.6
    inside = np.ones_like(u, dtype=bool)
    for k in range(3):
        theta = 2 * np.pi * k / 3
        inside &= u * np.cos(theta) + v * np.sin(theta) <= apothem
    return inside


def make_shapes(n: int, size: int = 48, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images ``(n, size, size, 3)`` in [0, 1] and labels ``(n, size, size)``.

    Each image holds one to three shapes; a later shape covers an earlier
    one. Shape colours are drawn away from the local background so that the
    shapes are visible, but the colour says nothing about the class.
    """
    rng = np.random.default_rng(seed)
    images = np.empty((n, size, size, 3), "float32")
    labels = np.zeros((n, size, size), "int32")
    for i in range(n):
        image = _background(rng, size)
        for _ in range(rng.integers(1, 4)):
            kind = int(rng.integers(1, 4))
            mask = _shape_mask(rng, kind, size)
            local = image[mask].mean(axis=0) if mask.any() else image.mean((0, 1))
            shift = rng.uniform(0.25, 0.45) * rng.choice([-1.0, 1.0])
            colour = np.clip(local + shift + rng.normal(0, 0.1, 3), 0, 1)
            texture = rng.normal(0, 0.05, (size, size, 3))
            image[mask] = colour + texture[mask]
            labels[i][mask] = kind
        image += rng.normal(0, 0.06, image.shape)  # sensor noise everywhere
        images[i] = np.clip(image, 0, 1)
    return images, labels


# ---------------------------------------------------------------------------
# Training and scoring
# ---------------------------------------------------------------------------


@dataclass
class SegmentationResult:
    mean_iou: float
    mean_dice: float
    per_class_iou: dict[str, float]
    train_seconds: float
    epochs: int
    parameters: int
    history: dict[str, list[float]] = field(default_factory=dict)


def build_model(size: int, base_filters: int, depth: int) -> UNet:
    return UNet(
        (size, size, 3),
        num_classes=len(CLASS_NAMES),
        depth=depth,
        base_filters=base_filters,
        batch_norm=True,
        decoder_block_type="transpose",
        name="shapes_unet",
    )


def train_segmentation(
    quick: bool = False, seed: int = 0, verbose: bool = True
) -> tuple[UNet, SegmentationResult, tuple[np.ndarray, np.ndarray]]:
    """Trains the U-Net; returns it, its held-out scores and the test images."""
    size = 48
    if quick:
        n_train, n_test, epochs, base_filters, depth = 64, 16, 2, 4, 3
    else:
        n_train, n_test, epochs, base_filters, depth = 1500, 200, 20, 8, 3
    keras.utils.set_random_seed(seed)
    x_train, y_train = make_shapes(n_train, size, seed=seed)
    x_test, y_test = make_shapes(n_test, size, seed=seed + 1000)
    model = build_model(size, base_filters, depth)
    shapes_iou = IoU(len(CLASS_NAMES), class_ids=SHAPE_CLASSES, name="iou")
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=CrossEntropyDiceLoss(),
        metrics=[shapes_iou],
    )
    callbacks = [
        keras.callbacks.ReduceLROnPlateau("loss", factor=0.5, patience=2, verbose=0)
    ]
    start = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        batch_size=32,
        epochs=epochs,
        callbacks=callbacks,
        verbose=2 if verbose else 0,
    )
    train_seconds = time.perf_counter() - start

    probabilities = model.predict(x_test, batch_size=64, verbose=0)
    iou = IoU(len(CLASS_NAMES), class_ids=SHAPE_CLASSES)
    dice = Dice(len(CLASS_NAMES), class_ids=SHAPE_CLASSES)
    for start_index in range(0, n_test, 50):  # streamed over batches
        batch = slice(start_index, start_index + 50)
        iou.update_state(y_test[batch], probabilities[batch])
        dice.update_state(y_test[batch], probabilities[batch])
    per_class = np.asarray(keras.ops.convert_to_numpy(iou.per_class_result()))
    result = SegmentationResult(
        mean_iou=float(keras.ops.convert_to_numpy(iou.result())),
        mean_dice=float(keras.ops.convert_to_numpy(dice.result())),
        per_class_iou={CLASS_NAMES[c]: float(per_class[c]) for c in range(4)},
        train_seconds=train_seconds,
        epochs=epochs,
        parameters=model.count_params(),
        history={k: [float(v) for v in vs] for k, vs in history.history.items()},
    )
    return model, result, (x_test, y_test)


def _colour_labels(labels: np.ndarray) -> np.ndarray:
    return CLASS_COLOURS[labels]


def _overlay(image: np.ndarray, labels: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    colours = _colour_labels(labels)
    weight = alpha * (labels > 0)[..., None]
    return image * (1 - weight) + colours * weight


def save_overlays(
    model: UNet,
    images: np.ndarray,
    labels: np.ndarray,
    path: Path,
    count: int = 6,
) -> Path:
    """Image, ground truth and prediction overlays for ``count`` test images."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    predicted = model.predict(images[:count], verbose=0).argmax(-1)
    fig, axes = plt.subplots(3, count, figsize=(2.0 * count, 6.6))
    rows = ("input", "ground truth", "U-Net prediction")
    for j in range(count):
        iou = IoU(len(CLASS_NAMES), class_ids=SHAPE_CLASSES)
        iou.update_state(labels[j : j + 1], np.eye(4)[predicted[j : j + 1]])
        panels = (
            images[j],
            _overlay(images[j], labels[j]),
            _overlay(images[j], predicted[j]),
        )
        for i, panel in enumerate(panels):
            ax = axes[i, j]
            ax.imshow(np.clip(panel, 0, 1), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(rows[i], fontsize=10)
        axes[2, j].set_xlabel(
            f"IoU {float(keras.ops.convert_to_numpy(iou.result())):.2f}", fontsize=9
        )
    handles = [
        mpatches.Patch(color=CLASS_COLOURS[c], label=CLASS_NAMES[c])
        for c in SHAPE_CLASSES
    ]
    fig.legend(handles=handles, loc="lower center", ncol=3, frameon=False)
    fig.suptitle("U-Net on generated shapes: held-out images (mean IoU of shapes)")
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def format_segmentation(result: SegmentationResult) -> str:
    lines = [
        f"U-Net ({result.parameters:,} weights), {result.epochs} epochs in "
        f"{result.train_seconds:.0f} s",
        f"held-out mean IoU of the shapes {result.mean_iou:.3f}, "
        f"mean Dice {result.mean_dice:.3f}",
        "per-class IoU: "
        + ", ".join(
            f"{name} {value:.3f}" for name, value in result.per_class_iou.items()
        ),
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# main
# ---------------------------------------------------------------------------


def main(
    quick: bool = False,
    output_dir: str | os.PathLike[str] | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Runs the example; returns its numbers and the files it wrote."""
    out = Path(output_dir) if output_dir is not None else OUTPUT_DIR
    out.mkdir(parents=True, exist_ok=True)
    model, result, (x_test, y_test) = train_segmentation(quick, seed, verbose)
    overlay = save_overlays(model, x_test, y_test, out / "segmentation_overlays.png")
    report: dict[str, Any] = {"segmentation": result, "files": [overlay]}
    if verbose:
        print(format_segmentation(result))
        print(f"wrote {overlay}")
    return report


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--output-dir", default=None, help="where the PNGs go")
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = _parse(sys.argv[1:])
    main(arguments.quick, arguments.output_dir, arguments.seed)
