"""Gram matrices as a style representation, on scikit-image pictures.

Two crops from each of five images (textures and photos shipped with
scikit-image) go through a small VGG-like stack of random, fixed 3x3
convolutions; `keras_apps.layers.GramMatrix` turns each block's feature maps
into channel correlations. With ``normalize="2hwc"`` the summed squared
difference of two Gram matrices is exactly the per-layer style loss of Gatys
et al. 2016, ``1 / (4 N^2 M^2) * sum((G - A)^2)``.

Even untrained features carry texture statistics, so two crops of the same
picture end up closer in style than crops of different pictures. The script
saves a figure with the crops, their Gram matrices and the matrix of style
distances, and prints how many crops find their sibling as nearest neighbour.

Run: ``python examples/gram_matrix_style.py [--output-dir examples/output]``
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import skimage.data  # noqa: E402
from skimage.transform import resize  # noqa: E402

from keras_apps.layers import GramMatrix  # noqa: E402

IMAGES = ("brick", "grass", "gravel", "immunohistochemistry", "chelsea")
CROP = 96


def load_crops() -> tuple[np.ndarray, list[str]]:
    """Two non-overlapping square crops (left and right half) per image."""
    crops, labels = [], []
    for name in IMAGES:
        image = getattr(skimage.data, name)().astype("float32") / 255.0
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=-1)
        side = min(image.shape[0], image.shape[1] // 2)
        for half in (0, 1):
            square = image[:side, half * side : (half + 1) * side, :3]
            crops.append(resize(square, (CROP, CROP), anti_aliasing=True))
            labels.append(f"{name}:{'LR'[half]}")
    return np.stack(crops).astype("float32"), labels


def vgg_like_features(seed: int = 0) -> keras.Model:
    """Three VGG-style blocks of random 3x3 convolutions; outputs every block."""
    initializer = keras.initializers.HeNormal(seed=seed)
    inputs = keras.Input(shape=(CROP, CROP, 3))
    x = inputs
    outputs = []
    for block, filters in enumerate((16, 32, 64), start=1):
        for conv in range(2):
            x = keras.layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                kernel_initializer=initializer,
                name=f"block{block}_conv{conv + 1}",
            )(x)
        outputs.append(x)
        x = keras.layers.MaxPooling2D(2)(x)
    return keras.Model(inputs, outputs)


def style_distances(grams: list[np.ndarray]) -> np.ndarray:
    """Gatys' style loss between every pair, summed over the blocks."""
    total = 0.0
    for gram in grams:
        diff = gram[:, None, :, :] - gram[None, :, :, :]
        total = total + np.sum(diff**2, axis=(2, 3))
    return np.asarray(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="examples/output", type=Path)
    args = parser.parse_args()
    args.output_dir.mkdir(parents=True, exist_ok=True)

    crops, labels = load_crops()
    features = vgg_like_features()(crops - crops.mean(axis=(1, 2), keepdims=True))
    gram_layer = GramMatrix(normalize="2hwc")
    grams = [np.asarray(gram_layer(f)) for f in features]
    distances = style_distances(grams)

    masked = distances + np.diag(np.full(len(labels), np.inf))
    nearest = masked.argmin(axis=1)
    siblings = np.arange(len(labels)) ^ 1  # crops 2k and 2k + 1 share an image
    hits = int(np.sum(nearest == siblings))
    print(f"{hits} of {len(labels)} crops have their sibling as nearest in style")

    figure = plt.figure(figsize=(1.6 * len(labels), 9))
    grid = figure.add_gridspec(3, len(labels), height_ratios=(1, 1, 3.2))
    for column, label in enumerate(labels):
        crop_axis = figure.add_subplot(grid[0, column])
        crop_axis.imshow(np.clip(crops[column], 0, 1))
        crop_axis.set_title(label.replace("immunohistochemistry", "ihc"), fontsize=8)
        gram_axis = figure.add_subplot(grid[1, column])
        gram_axis.imshow(grams[1][column], cmap="magma")
        gram_axis.set_title("Gram, block 2", fontsize=8)
        crop_axis.axis("off")
        gram_axis.axis("off")
    heatmap = figure.add_subplot(grid[2, 2:-2])
    off_diagonal = np.where(np.eye(len(labels), dtype=bool), np.nan, distances)
    image = heatmap.imshow(np.log10(off_diagonal), cmap="viridis")
    short = [label.replace("immunohistochemistry", "ihc") for label in labels]
    heatmap.set_xticks(range(len(labels)), short, rotation=90, fontsize=8)
    heatmap.set_yticks(range(len(labels)), short, fontsize=8)
    heatmap.set_title("log10 style distance (Gatys loss summed over 3 blocks)")
    figure.colorbar(image, ax=heatmap, shrink=0.8)
    figure.tight_layout()
    path = args.output_dir / "gram_matrix_style.png"
    figure.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
