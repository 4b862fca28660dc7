"""Top activating patches: streaming batches vs a per-image loop.

Over 10,000 random 32x32x3 images, `top_activating_patches` (A: batches of
256 through one compiled extractor, a running top-k per unit, patches cut
only for the survivors) against the naive loop (B: the model run on one
image at a time with ``predict_on_batch``, every activation kept, one sort
per unit at the end, then the patches cut). Both find the top 9 patches of
9 units of the last conv layer and must agree. Target: A at least 5x faster.
Each side is timed once (the naive loop takes tens of seconds).
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.harness import Result  # noqa: E402
from keras_apps.visualize import receptive_field, top_activating_patches  # noqa: E402

IMAGES = 10_000
UNITS = [0, 3, 5, 8, 13, 17, 21, 26, 30]
K = 9


def _model() -> keras.Model:
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1"),
            layers.MaxPooling2D(name="pool1"),
            layers.Conv2D(32, 3, padding="same", activation="relu", name="conv2"),
        ]
    )


def _naive(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """One image per call, everything kept, sorted at the end."""
    extractor = keras.Model(model.inputs, model.get_layer("conv2").output)
    maps = []
    for image in images:
        maps.append(np.asarray(extractor.predict_on_batch(image[None]))[0])
    stacked = np.stack(maps)[..., UNITS]  # (N, H, W, U)
    field = receptive_field(model, "conv2")
    height, width = stacked.shape[1:3]
    indices = np.zeros((len(UNITS), K), "int64")
    for row in range(len(UNITS)):
        flat = stacked[..., row].reshape(-1)
        order = np.argsort(-flat, kind="stable")[:K]
        indices[row] = order // (height * width)
        for key in order:
            image, position = divmod(int(key), height * width)
            box = field.clipped_box(divmod(position, width), (32, 32))
            _ = images[image, box[0][0] : box[0][1], box[1][0] : box[1][1]].copy()
    return indices


def run() -> list[Result]:
    keras.utils.set_random_seed(0)
    model = _model()
    images = np.random.default_rng(0).random((IMAGES, 32, 32, 3), dtype="float32")
    # Warm both paths up (tracing, first calls) on a few images.
    top_activating_patches(model, "conv2", images[:300], units=UNITS, k=K)
    _naive(model, images[:5])
    start = time.perf_counter()
    result = top_activating_patches(
        model, "conv2", images, units=UNITS, k=K, batch_size=256
    )
    streaming = time.perf_counter() - start
    start = time.perf_counter()
    indices = _naive(model, images)
    naive = time.perf_counter() - start
    agree = bool(np.array_equal(indices, result.image_indices))
    return [
        Result(
            name="visualize: top patches, 10k images",
            a_label="streaming",
            a_seconds=streaming,
            b_label="per-image loop",
            b_seconds=naive,
            ratio=naive / streaming,
            minimum=5.0,
            note=f"9 units x top 9 of conv2, 32x32x3 images; same images: {agree}",
        )
    ]
