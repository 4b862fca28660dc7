"""Figures: image grids, Zeiler-Fergus top-patch figures and Grad-CAM overlays.

Built on ``matplotlib.figure.Figure`` without pyplot, so no global figure
state and no display are needed (PNG files through the Agg canvas).
Backend-free: NumPy arrays in, figures out.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from keras_apps.visualize.top_patches import TopPatches

__all__ = ["image_grid", "plot_grad_cam", "plot_top_patches"]


def _as_image(image: Any, what: str = "image") -> np.ndarray:
    array = np.asarray(image, dtype="float32")
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(
            f"Expected {what} of shape (H, W), (H, W, 1) or (H, W, 3). "
            f"Received: shape {np.shape(image)}"
        )
    return array


def _scale(image: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    """To [0, 1]: by ``value_range``, or by the image's own min and max."""
    finite = image[np.isfinite(image)]
    if value_range is None:
        low, high = (
            (float(finite.min()), float(finite.max())) if finite.size else (0, 1)
        )
    else:
        low, high = (float(v) for v in value_range)
    if high <= low:
        return np.zeros_like(image)
    return np.clip((image - low) / (high - low), 0.0, 1.0)


def _show(ax: Any, image: np.ndarray) -> None:
    if image.ndim == 2:
        ax.imshow(image, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    else:
        ax.imshow(image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _save(figure: Any, path: str | os.PathLike | None) -> None:
    if path is not None:
        directory = os.path.dirname(os.fspath(path))
        if directory:
            os.makedirs(directory, exist_ok=True)
        figure.savefig(path, dpi=100, bbox_inches="tight")


def image_grid(
    images: Any,
    rows: int,
    titles: Sequence[str] | None = None,
    path: str | os.PathLike | None = None,
    value_range: tuple[float, float] | None = None,
    suptitle: str | None = None,
) -> Any:
    """A grid of images, ``rows`` high, filled row by row.

    Args:
        images: ``(N, H, W)``, ``(N, H, W, 1)`` or ``(N, H, W, 3)`` array, or a
            list of images of any sizes.
        rows: Number of rows; the columns follow.
        titles: One title per image, or None.
        path: Where to write the figure (PNG by extension), or None.
        value_range: Pixel range shown black to white; None stretches each
            image to its own minimum and maximum.
        suptitle: Title of the whole figure.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:

    >>> import numpy as np
    >>> from keras_apps.visualize import image_grid
    >>> figure = image_grid(np.random.rand(6, 8, 8), rows=2, titles=list("abcdef"))
    >>> len(figure.axes)
    6
    """
    from matplotlib.figure import Figure

    pictures = [_as_image(image) for image in images]
    if not pictures:
        raise ValueError("Expected at least one image. Received none.")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise ValueError(f"Expected an int rows >= 1. Received: rows={rows!r}")
    if titles is not None and len(titles) != len(pictures):
        raise ValueError(
            f"Expected one title per image ({len(pictures)}). "
            f"Received {len(titles)} titles."
        )
    rows = min(rows, len(pictures))
    columns = math.ceil(len(pictures) / rows)
    figure = Figure(figsize=(1.6 * columns, 1.6 * rows + (0.4 if suptitle else 0)))
    for index, picture in enumerate(pictures):
        ax = figure.add_subplot(rows, columns, index + 1)
        _show(ax, _scale(picture, value_range))
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    _save(figure, path)
    return figure


def _mosaic(patches: np.ndarray, columns: int, gap: int = 1) -> np.ndarray:
    """k patches (k, h, w[, 3]) in [0, 1] as one image with white gaps."""
    count, height, width = patches.shape[:3]
    grid_rows = math.ceil(count / columns)
    shape = (
        grid_rows * height + (grid_rows - 1) * gap,
        columns * width + (columns - 1) * gap,
        *patches.shape[3:],
    )
    canvas = np.ones(shape, dtype="float32")
    for index in range(count):
        r, c = divmod(index, columns)
        top, left = r * (height + gap), c * (width + gap)
        canvas[top : top + height, left : left + width] = patches[index]
    return canvas


def plot_top_patches(
    result: TopPatches | Sequence[TopPatches] | Mapping[str, TopPatches],
    path: str | os.PathLike | None = None,
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> Any:
    """The Zeiler & Fergus figure: one row per layer, one block per unit.

    Each block shows the k patches that most activate one unit (strongest
    first, row by row), cut at the unit's receptive field; the row label
    gives the layer and its receptive-field size, each block its unit.

    Args:
        result: A `TopPatches`, a list of them, or the dict returned by
            `top_activating_patches` for several layers (rows in order).
        path: Where to write the figure, or None.
        value_range: Pixel range of the images (e.g. ``(0, 1)``); None uses
            the minimum and maximum over each layer's patches.
        title: Figure title.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import plot_top_patches, top_activating_patches
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(3, 3, name="conv")])
    >>> images = np.random.default_rng(0).random((10, 8, 8, 1))
    >>> figure = plot_top_patches(top_activating_patches(model, "conv", images, k=4))
    >>> len(figure.axes)
    3
    """
    from matplotlib.figure import Figure

    if isinstance(result, TopPatches):
        layers = [result]
    elif isinstance(result, Mapping):
        layers = list(result.values())
    else:
        layers = list(result)
    if not layers or not all(isinstance(r, TopPatches) for r in layers):
        raise ValueError(
            "Expected a TopPatches, a list of them or a dict name -> TopPatches "
            f"(from top_activating_patches). Received: {type(result).__name__}"
        )
    columns = max(len(r.units) for r in layers)
    figure = Figure(figsize=(1.5 * columns + 0.8, 1.6 * len(layers) + 0.5))
    grid = figure.add_gridspec(len(layers), columns, hspace=0.35, wspace=0.1)
    for row, layer in enumerate(layers):
        patches = layer.patches.astype("float32")
        if patches.shape[-1] == 1:
            patches = patches[..., 0]
        scaled = _scale(patches, value_range)
        per_side = math.ceil(math.sqrt(layer.k))
        for column, unit in enumerate(layer.units):
            ax = figure.add_subplot(grid[row, column])
            _show(ax, _mosaic(scaled[column], per_side))
            ax.set_title(f"unit {int(unit)}", fontsize=7, pad=2)
            if column == 0:
                size = "x".join(str(s) for s in layer.receptive_field.size)
                ax.set_ylabel(f"{layer.layer_name}\nRF {size}", fontsize=8)
    if title:
        figure.suptitle(title)
    _save(figure, path)
    return figure


def plot_grad_cam(
    image: Any,
    heatmap: Any,
    path: str | os.PathLike | None = None,
    title: str | None = None,
    alpha: float = 0.5,
    value_range: tuple[float, float] | None = None,
) -> Any:
    """The image and the image with its Grad-CAM heatmap laid over it.

    Args:
        image: One image ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``.
        heatmap: ``(H, W)`` map in [0, 1], as `grad_cam` returns per image;
            a map of another size is resized (nearest) to the image.
        path: Where to write the figure, or None.
        title: Title above the overlay.
        alpha: Opacity of the heatmap.
        value_range: Pixel range of the image; None stretches min to max.

    Returns:
        The ``matplotlib.figure.Figure``.

    Example:

    >>> import numpy as np
    >>> from keras_apps.visualize import plot_grad_cam
    >>> figure = plot_grad_cam(np.random.rand(16, 16), np.random.rand(16, 16))
    >>> len(figure.axes)
    3
    """
    from matplotlib.figure import Figure

    picture = _scale(_as_image(image), value_range)
    heat = np.asarray(heatmap, dtype="float32")
    if heat.ndim != 2:
        raise ValueError(
            f"Expected one heatmap of shape (H, W). Received: shape {heat.shape}"
        )
    if heat.shape != picture.shape[:2]:
        rows = (np.arange(picture.shape[0]) * heat.shape[0]) // picture.shape[0]
        cols = (np.arange(picture.shape[1]) * heat.shape[1]) // picture.shape[1]
        heat = heat[rows][:, cols]
    figure = Figure(figsize=(6.4, 3.0))
    left, right = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    _show(left, picture)
    left.set_title("image", fontsize=9)
    _show(right, picture)
    overlay = right.imshow(
        heat, cmap="jet", alpha=alpha, vmin=0.0, vmax=1.0, interpolation="bilinear"
    )
    right.set_title(title or "Grad-CAM", fontsize=9)
    figure.colorbar(overlay, ax=right, fraction=0.046, pad=0.04)
    _save(figure, path)
    return figure
