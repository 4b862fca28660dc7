"""Train a tiny digit classifier and export it for TF Serving.

What it shows:
1. a small CNN with its preprocessing inside (pixels 0..255 in, logits out),
   trained with `model.fit` on scikit-learn's 8x8 handwritten digits;
2. `keras_apps.export.export_for_serving` writing version 1 under
   ``artifacts/export_model/models/digits/`` with stable signature keys,
   warmup requests, the image-bytes signature (clients send PNG/JPEG bytes)
   and a validation against the in-memory model;
3. a ``models.config`` (the digits model with a ``stable`` label) and a
   batching parameters file for the server, both read back;
4. the reloaded export answering a PNG of a held-out digit the way the
   in-memory model does.

Serve the result with
``docker run -p 8500:8500 -v $PWD/artifacts/export_model/models:/models
tensorflow/serving --model_config_file=/models/models.config`` or with
``keras-apps serve``. Runs in about 15 s on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_apps.export import (  # noqa: E402
    export_for_serving,
    read_batching_config,
    read_model_config,
    read_warmup_requests,
    write_batching_config,
    write_model_config,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "artifacts" / "export_model"


def load_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as uint8-range float pixels (N, 8, 8, 1) and labels, split 80/20."""
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).astype("float32")[..., None]
    labels = digits.target.astype("int32")
    order = np.random.default_rng(0).permutation(len(images))
    split = int(0.8 * len(images))
    train, test = order[:split], order[split:]
    return images[train], labels[train], images[test], labels[test]


def build_model() -> keras.Model:
    """A few-layer CNN whose first layer rescales 0..255 pixels."""
    keras.utils.set_random_seed(0)
    pixels = keras.Input((8, 8, 1), name="pixels")
    x = keras.layers.Rescaling(1 / 255.0)(pixels)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    logits = keras.layers.Dense(10, name="logits")(x)
    return keras.Model(pixels, logits, name="digits")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=str(OUTPUT_DIR))
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    output = Path(args.output)
    models_dir = output / "models"
    base_path = models_dir / "digits"
    shutil.rmtree(base_path, ignore_errors=True)
    models_dir.mkdir(parents=True, exist_ok=True)

    x_train, y_train, x_test, y_test = load_data()
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=64, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"held-out accuracy: {accuracy:.3f} on {len(x_test)} digits")

    result = export_for_serving(
        model,
        str(base_path),
        version=1,
        image_bytes_signature=True,
        warmup_inputs=x_test[:16],
        warmup_batch_size=4,
    )
    print(result.describe())
    print(f"warmup records read back: {len(read_warmup_requests(result.path))}")

    # Inside the container the models folder is mounted at /models.
    write_model_config(
        str(models_dir / "models.config"),
        [
            {
                "name": "digits",
                "base_path": "/models/digits",
                "version_policy": "specific",
                "versions": [1],
                "version_labels": {"stable": 1},
            }
        ],
    )
    write_batching_config(
        str(models_dir / "batching.config"),
        max_batch_size=32,
        batch_timeout_micros=2000,
        allowed_batch_sizes=[8, 16, 32],
    )
    config = read_model_config(str(models_dir / "models.config"))
    print("models.config:", [c.name for c in config.model_config_list.config])
    print("batching.config:", read_batching_config(str(models_dir / "batching.config")))

    import tensorflow as tf

    digit = x_test[0].round().astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(digit[..., 0]).save(buffer, format="PNG")
    reloaded = tf.saved_model.load(result.path)
    answer = reloaded.signatures["serving_image_bytes"](
        image_bytes=tf.constant([buffer.getvalue()])
    )["logits"].numpy()
    expected = np.asarray(model(digit[None].astype("float32"), training=False))
    print(
        f"PNG of a held-out {y_test[0]}: served class {int(answer.argmax())}, "
        f"max abs diff to the in-memory model {np.abs(answer - expected).max():.2g}"
    )
    print(f"wrote {models_dir}")


if __name__ == "__main__":
    main()
