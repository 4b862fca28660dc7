"""The image patches that most activate units (Zeiler & Fergus 2014)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_apps.visualize import _graph
from keras_apps.visualize.features import (
    check_batch_size,
    layer_names,
    stream_activations,
)
from keras_apps.visualize.receptive_field import ReceptiveField, receptive_field

__all__ = ["TopPatches", "top_activating_patches"]


@dataclass
class TopPatches:
    """The k strongest activations of some units of one layer, with their patches.

    Rows follow ``units``; columns are sorted by decreasing activation.

    Attributes:
        layer_name: The layer searched.
        units: Channel indices of the units, shape ``(U,)``.
        values: Activations, shape ``(U, k)``, each row in decreasing order.
        image_indices: Index of the source image in the stream, ``(U, k)``.
        positions: Feature-map position ``(row, col)`` of each activation,
            ``(U, k, 2)``.
        boxes: The receptive-field window of each activation in image pixels,
            clipped at the image borders: ``(U, k, 2, 2)`` holding
            ``((top, bottom), (left, right))``, ends excluded.
        patches: The windows cut from the images, ``(U, k, size_h, size_w,
            channels)``, in the images' dtype. A window that reaches past the
            border keeps its full size and its place in the patch; the part
            outside the image holds ``pad_value`` (see `patch` for the clipped
            crop).
        receptive_field: The layer's `ReceptiveField`.
        pad_value: The value outside the image in ``patches``.
    """

    layer_name: str
    units: np.ndarray
    values: np.ndarray
    image_indices: np.ndarray
    positions: np.ndarray
    boxes: np.ndarray
    patches: np.ndarray
    receptive_field: ReceptiveField
    pad_value: float = field(default=0.0)

    @property
    def k(self) -> int:
        """Number of patches per unit."""
        return int(self.values.shape[1])

    def patch(self, row: int, rank: int) -> np.ndarray:
        """The crop of the image inside the window, clipped at the borders.

        Args:
            row: Row of the unit in ``units``.
            rank: 0 for the strongest activation, up to ``k - 1``.
        """
        (top, bottom), (left, right) = self.boxes[row, rank]
        first_h, first_w = self._window_origin(row, rank)
        return self.patches[
            row,
            rank,
            top - first_h : bottom - first_h,
            left - first_w : right - first_w,
        ]

    def _window_origin(self, row: int, rank: int) -> tuple[int, int]:
        (top, _), (left, _) = self.receptive_field.box(tuple(self.positions[row, rank]))
        return top, left


def _choose_units(units: Any, channels: int, seed: Any) -> np.ndarray:
    if units is None:
        return np.arange(channels)
    if isinstance(units, (int, np.integer)) and not isinstance(units, bool):
        if not 1 <= units <= channels:
            raise ValueError(
                f"Expected `units` between 1 and the layer's {channels} channels "
                f"(that many units drawn at random). Received: units={units}"
            )
        rng = np.random.default_rng(seed)
        return np.sort(rng.choice(channels, size=int(units), replace=False))
    try:
        chosen = np.asarray(list(units))
    except TypeError:
        chosen = np.asarray([])
    if (
        chosen.ndim != 1
        or chosen.size == 0
        or not np.issubdtype(chosen.dtype, np.integer)
        or chosen.min() < 0
        or chosen.max() >= channels
    ):
        raise ValueError(
            "Expected `units` to be None, a number of units to draw, or a list of "
            f"channel indices in [0, {channels}). Received: units={units!r}"
        )
    return chosen.astype("int64")


def _top_k_stable(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest values; ties go to the smallest index.

    Linear time (argpartition, then the tied values at the threshold in
    index order), so streaming and one big batch select the same entries.
    """
    if len(values) <= k:
        return np.lexsort((np.arange(len(values)), -values))
    part = np.argpartition(-values, k - 1)[:k]
    threshold = values[part].min()
    above = np.flatnonzero(values > threshold)
    tied = np.flatnonzero(values == threshold)[: k - len(above)]
    chosen = np.concatenate([above, tied])
    return chosen[np.lexsort((chosen, -values[chosen]))]


class _UnitSearch:
    """Running top-k of the units of one layer, with their patches."""

    def __init__(
        self,
        name: str,
        units: np.ndarray,
        k: int,
        field_: ReceptiveField,
        distinct_images: bool,
        pad_value: float,
    ) -> None:
        self.name = name
        self.units = units
        self.k = k
        self.field = field_
        self.distinct = distinct_images
        self.pad_value = pad_value
        count = len(units)
        self.values = [np.zeros(0, "float64") for _ in range(count)]
        self.keys = [np.zeros(0, "int64") for _ in range(count)]
        self.patches: list[list[np.ndarray]] = [[] for _ in range(count)]
        self.map_shape: tuple[int, int] = (0, 0)
        self.image_shape: tuple[int, ...] = ()
        self.dtype: Any = None

    def update(self, images: np.ndarray, activations: np.ndarray, offset: int) -> None:
        _graph.channels_last_map(self.name, activations.shape)
        batch, height, width, _ = activations.shape
        self.map_shape = (height, width)
        self.image_shape = images.shape[1:]
        self.dtype = images.dtype
        positions = height * width
        # (U, batch * positions), one row per unit.
        chosen = activations[..., self.units].reshape(batch, positions, -1)
        for row in range(len(self.units)):
            unit = chosen[:, :, row]
            if self.distinct:
                where = unit.argmax(axis=1)
                candidates = unit[np.arange(batch), where].astype("float64")
                local = np.arange(batch) * positions + where
            else:
                candidates = unit.reshape(-1).astype("float64")
                local = np.arange(batch * positions)
            pick = _top_k_stable(candidates, self.k)
            new_values = candidates[pick]
            new_keys = offset * positions + local[pick]
            values = np.concatenate([self.values[row], new_values])
            keys = np.concatenate([self.keys[row], new_keys])
            order = np.lexsort((keys, -values))[: self.k]
            old = len(self.values[row])
            patches = [
                self.patches[row][i]
                if i < old
                else self._crop(images, int(keys[i]) - offset * positions, positions)
                for i in order
            ]
            self.values[row] = values[order]
            self.keys[row] = keys[order]
            self.patches[row] = patches

    def _crop(self, images: np.ndarray, local_key: int, positions: int) -> np.ndarray:
        image = images[local_key // positions]
        position = divmod(local_key % positions, self.map_shape[1])
        box = self.field.box(position)
        size = self.field.size
        patch = np.full((*size, *image.shape[2:]), self.pad_value, dtype=image.dtype)
        (top, bottom), (left, right) = self.field.clipped_box(position, image.shape[:2])
        if bottom > top and right > left:
            patch[
                top - box[0][0] : bottom - box[0][0],
                left - box[1][0] : right - box[1][0],
            ] = image[top:bottom, left:right]
        return patch

    def result(self) -> TopPatches:
        positions = self.map_shape[0] * self.map_shape[1]
        keys = np.stack(self.keys)
        flat = keys % positions
        pos = np.stack([flat // self.map_shape[1], flat % self.map_shape[1]], axis=-1)
        boxes = np.zeros((*keys.shape, 2, 2), dtype="int64")
        for row in range(keys.shape[0]):
            for rank in range(keys.shape[1]):
                boxes[row, rank] = self.field.clipped_box(
                    tuple(pos[row, rank]), self.image_shape[:2]
                )
        return TopPatches(
            layer_name=self.name,
            units=self.units,
            values=np.stack(self.values).astype("float32"),
            image_indices=keys // positions,
            positions=pos,
            boxes=boxes,
            patches=np.stack([np.stack(p) for p in self.patches]),
            receptive_field=self.field,
            pad_value=self.pad_value,
        )


def top_activating_patches(
    model: keras.Model,
    layer_name: str | Sequence[str],
    images: Any,
    units: int | Sequence[int] | None = None,
    k: int = 9,
    seed: int | None = None,
    batch_size: int = 256,
    distinct_images: bool = False,
    pad_value: float = 0.0,
) -> TopPatches | dict[str, TopPatches]:
    """The k image patches that most activate each unit (Zeiler & Fergus 2014).

    Streams the images through the model once, batch by batch, and keeps for
    each chosen unit (a channel of the layer) its k highest activations over
    all positions and all images, with the image patch under each one: the
    unit's receptive field (`receptive_field`) at that position, cut from the
    image (clipped at the borders). Memory holds one batch of images and
    activations plus ``units * k`` patches, whatever the number of images.
    Ties are broken by stream order (earlier image, then earlier position),
    so the result does not depend on ``batch_size``.

    Layers inside nested models (a backbone in a classifier) are found by
    name or path. Backend-free: the model runs with ``predict_on_batch`` and
    the search is NumPy.

    Args:
        model: A functional or Sequential model with one image input.
        layer_name: A convolution or pooling layer (channels last), or a list
            of them, searched in the same pass.
        images: A NumPy array ``(N, H, W, C)``, a ``tf.data.Dataset`` of
            batches, or an iterable of batches (``(x, y)`` batches are
            accepted, ``y`` is ignored).
        units: None for all channels, an int to draw that many channels at
            random (with ``seed``), or a list of channel indices.
        k: Patches per unit (fewer if there are fewer candidates).
        seed: Seed of the random choice of units.
        batch_size: Batch size used to split arrays.
        distinct_images: If True, each image contributes at most one patch
            per unit (its strongest position), as in the usual figure;
            otherwise neighbouring positions of one image can fill the top k.
        pad_value: Value of the patch pixels outside the image.

    Returns:
        A `TopPatches` for one layer name, or a dict name -> `TopPatches`.

    Raises:
        ValueError: For unknown layers (listing the model's layers), layers
            without spatial maps or receptive fields, bad ``units``/``k``,
            and images that do not fit the model input.

    Example:

    >>> import keras, numpy as np
    >>> from keras_apps.visualize import top_activating_patches
    >>> model = keras.Sequential([keras.Input((8, 8, 1)),
    ...     keras.layers.Conv2D(2, 3, name="conv")])
    >>> images = np.random.default_rng(0).random((20, 8, 8, 1), "float32")
    >>> result = top_activating_patches(model, "conv", images, k=4)
    >>> result.patches.shape, result.values.shape
    ((2, 4, 3, 3, 1), (2, 4))
    >>> bool(np.all(np.diff(result.values, axis=1) <= 0))
    True

    Reference:
        Zeiler & Fergus, "Visualizing and Understanding Convolutional
        Networks", ECCV 2014.
    """
    model = _graph.check_model(model)
    names, single = layer_names(layer_name)
    batch_size = check_batch_size(batch_size)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"Expected an int k >= 1. Received: k={k!r}")
    layers = [_graph.find_layer(model, name) for name in names]
    fields = [receptive_field(model, name) for name in names]
    extractor = _graph.tapped_model(model, layers)
    searches = []
    for name, field_, output in zip(names, fields, extractor.outputs, strict=True):
        shape = tuple(output.shape)
        _graph.channels_last_map(name, shape)
        if len(field_.size) != 2:
            raise ValueError(
                f"Expected a 2D image model. Received layer {name!r} with a "
                f"{len(field_.size)}D receptive field."
            )
        searches.append(
            _UnitSearch(
                name,
                _choose_units(units, int(shape[-1]), seed),
                int(k),
                field_,
                distinct_images,
                pad_value,
            )
        )
    offset = 0
    for batch, activations in stream_activations(model, extractor, images, batch_size):
        for search, values in zip(searches, activations, strict=True):
            search.update(batch, values, offset)
        offset += len(batch)
    results = {search.name: search.result() for search in searches}
    return results[names[0]] if single else results
