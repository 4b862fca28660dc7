"""A tiny GoogLeNet learns scikit-learn's handwritten digits.

What it shows:
1. `keras_apps.models.GoogLeNet`, a stack of `keras_apps.layers.InceptionBlock`
   layers, trained with plain `model.fit` on the 8x8 digits of
   `sklearn.datasets.load_digits` (upsampled to 32x32), and its held-out
   accuracy;
2. what the 1x1 reductions of the Inception module save, counted with
   `keras_apps.utils.count_multiplies`: the same network with naive blocks,
   and the course's 28x28x192 example;
3. the trained model saved as ``artifacts/googlenet_digits/googlenet_digits.keras``
   and reloaded with equal predictions.

Run it with ``python examples/googlenet_digits.py`` (about a minute on 2 CPU
cores). The functions (`load_data`, `build_model`, `train`, `evaluate`, `save`)
are reusable: ``from examples.googlenet_digits import load_data, build_model``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_apps  # noqa: E402
from keras_apps.models.googlenet import GOOGLENET_BLOCKS  # noqa: E402
from keras_apps.utils import count_multiplies  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "artifacts" / "googlenet_digits"
IMAGE_SIZE = 32
NUM_CLASSES = 10

# Inception 3a, 3b, the max-pool and 4a of the paper's table (scaled by WIDTH).
DEMO_BLOCKS: list[dict[str, Any] | str] = list(GOOGLENET_BLOCKS[:4])
WIDTH = 0.25


def load_data(
    image_size: int = IMAGE_SIZE, test_fraction: float = 0.25, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Loads the digits as float32 images in [0, 1] of ``image_size`` pixels.

    The 8x8 images are upsampled by pixel repetition (``image_size`` must be
    a multiple of 8) and split into a stratified train and held-out set.

    Returns:
        ``(x_train, y_train, x_test, y_test)``; images have shape
        ``(n, image_size, image_size, 1)``, labels are integers 0-9.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    if image_size % 8:
        raise ValueError(
            f"image_size must be a multiple of 8. Received: image_size={image_size}"
        )
    digits = load_digits()
    images = digits.images.astype("float32") / 16.0  # pixel values are 0..16
    factor = image_size // 8
    images = images.repeat(factor, axis=1).repeat(factor, axis=2)[..., None]
    x_train, x_test, y_train, y_test = train_test_split(
        images,
        digits.target.astype("int32"),
        test_size=test_fraction,
        random_state=seed,
        stratify=digits.target,
    )
    return x_train, y_train, x_test, y_test


def build_model(mode: str = "reduced", image_size: int = IMAGE_SIZE) -> keras.Model:
    """A small GoogLeNet (stem, 3a, 3b, pool, 4a at quarter width) for digits."""
    return keras_apps.models.GoogLeNet(
        input_shape=(image_size, image_size, 1),
        num_classes=NUM_CLASSES,
        width_multiplier=WIDTH,
        blocks=DEMO_BLOCKS,
        mode=mode,
        dropout=0.2,
        name=f"googlenet_digits_{mode}",
    )


def train(
    model: keras.Model,
    x_train: np.ndarray,
    y_train: np.ndarray,
    epochs: int = 12,
    batch_size: int = 32,
    verbose: int | str = 2,
) -> keras.callbacks.History:
    """Compiles the model (Adam, sparse cross-entropy) and fits it."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=0.1,
        verbose=verbose,
    )


def evaluate(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of ``model`` on ``(x, y)``."""
    predictions = np.argmax(model.predict(x, batch_size=256, verbose=0), axis=-1)
    return float(np.mean(predictions == y))


def multiplies_report(image_size: int = IMAGE_SIZE) -> list[str]:
    """Lines comparing multiply-accumulates of naive and reduced Inception."""
    reduced = count_multiplies(build_model("reduced", image_size))
    naive = count_multiplies(build_model("naive", image_size))
    block_3a = {k: v for k, v in DEMO_BLOCKS[0].items() if k != "name"}
    course_reduced = count_multiplies(
        keras_apps.layers.InceptionBlock(**block_3a), (28, 28, 192)
    )
    course_naive = count_multiplies(
        keras_apps.layers.InceptionBlock(
            block_3a["filters_1x1"],
            block_3a["filters_3x3"],
            block_3a["filters_5x5"],
            pool_proj=None,
            mode="naive",
        ),
        (28, 28, 192),
    )
    course_5x5 = count_multiplies(
        keras.layers.Conv2D(32, 5, padding="same"), (28, 28, 192)
    )
    course_1x1_5x5 = count_multiplies(
        keras.Sequential(
            [
                keras.Input((28, 28, 192)),
                keras.layers.Conv2D(16, 1),
                keras.layers.Conv2D(32, 5, padding="same"),
            ]
        )
    )
    return [
        f"this demo network, naive blocks:   {naive:>13,} multiplies per image",
        f"this demo network, reduced blocks: {reduced:>13,} "
        f"({naive / reduced:.1f}x fewer)",
        f"inception (3a) on 28x28x192, naive:   {course_naive:>13,}",
        f"inception (3a) on 28x28x192, reduced: {course_reduced:>13,} "
        f"({course_naive / course_reduced:.1f}x fewer)",
        f"32 5x5 filters on 28x28x192:          {course_5x5:>13,}",
        f"16 1x1 then 32 5x5 filters:           {course_1x1_5x5:>13,} "
        f"({course_5x5 / course_1x1_5x5:.1f}x fewer)",
    ]


def save(model: keras.Model, directory: Path = OUTPUT_DIR) -> Path:
    """Saves ``model`` as ``<directory>/googlenet_digits.keras``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "googlenet_digits.keras"
    model.save(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    keras.utils.set_random_seed(0)

    print("[1/4] loading scikit-learn digits (8x8, upsampled to 32x32)", flush=True)
    x_train, y_train, x_test, y_test = load_data()
    print(f"      {len(x_train)} training and {len(x_test)} held-out images")

    model = build_model()
    print(
        f"[2/4] training {model.name}: {model.count_params():,} parameters, "
        f"{args.epochs} epochs",
        flush=True,
    )
    train(model, x_train, y_train, epochs=args.epochs)
    accuracy = evaluate(model, x_test, y_test)
    print(f"      held-out accuracy: {accuracy:.1%}", flush=True)

    print("[3/4] multiply-accumulates, naive vs reduced Inception blocks", flush=True)
    for line in multiplies_report():
        print(f"      {line}")

    path = save(model, args.output_dir)
    reloaded = keras.saving.load_model(path)
    same = np.allclose(
        model.predict(x_test[:64], verbose=0),
        reloaded.predict(x_test[:64], verbose=0),
        atol=1e-5,
    )
    print(f"[4/4] saved {path} (reloaded predictions equal: {same})")
    print(f"done in {time.perf_counter() - start:.0f} s")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
