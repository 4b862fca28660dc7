"""keras-apps end to end: transfer-learn, export, serve over gRPC, hot-swap.

What `make demo` runs, on scikit-learn's handwritten digits (shipped with the
package, no download):

1. pretrain a small GoogLeNet backbone (`keras_apps.models.GoogLeNet`, built
   from `InceptionBlock`s) on digits 0-4 and publish it as a TF Hub style
   SavedModel with `keras_apps.transfer.export_hub_module`;
2. load it back as a backbone with `keras_apps.transfer.load_backbone` (a
   `HubBackbone` plus the 0..255 input preprocessing), swap the head with
   `build_classifier` and train only the head on all ten digits;
3. export that classifier as version 1 with `export_for_serving` (stable
   signature keys, warmup records, validated against the in-memory model) and
   write TF Serving's ``models.config`` and batching file;
4. start `LocalModelServer` in a separate process on 127.0.0.1 and query it
   with `PredictClient` (status, metadata, held-out predictions): the served
   accuracy equals the in-process accuracy, and latency is measured;
5. fine-tune the backbone with layer-wise learning rates
   (`layerwise_learning_rates`: the backbone learns at a tenth of the head's
   rate), export version 2, and watch the running server switch to it.

The same directory layout and configs run unchanged on the official GPU image:
see ``deploy/README.md``. Run with ``make demo`` (about two minutes on 2 CPU
cores); ``--quick`` trains fewer epochs of a backbone with two inception
blocks instead of three (for the tests).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from googlenet_digits import DEMO_BLOCKS, WIDTH, load_data  # noqa: E402

import keras_apps.models  # noqa: E402
from keras_apps.export import (  # noqa: E402
    export_for_serving,
    write_batching_config,
    write_model_config,
)
from keras_apps.serving import LocalModelServer, PredictClient  # noqa: E402
from keras_apps.transfer import (  # noqa: E402
    build_classifier,
    export_hub_module,
    layerwise_learning_rates,
    load_backbone,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT_DIR = REPO_ROOT / "artifacts" / "demo"
MODEL_NAME = "digits"
IMAGE_SIZE = 32
PRETRAIN_CLASSES = 5


def step(number: int, text: str) -> None:
    print(f"[{number}/5] {text}", flush=True)


def pretrain_backbone(
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    hub_dir: Path,
    blocks: list = DEMO_BLOCKS,
) -> keras.Model:
    """Trains a GoogLeNet feature extractor on digits 0-4; writes it as a hub module."""
    features = keras_apps.models.GoogLeNet(
        input_shape=(IMAGE_SIZE, IMAGE_SIZE, 1),
        width_multiplier=WIDTH,
        blocks=blocks,
        include_top=False,
        pooling="avg",
        name="digits_backbone",
    )
    head = keras.layers.Dense(PRETRAIN_CLASSES, activation="softmax")
    model = keras.Sequential([features, head])
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=2)
    export_hub_module(features, hub_dir)
    return features


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=-1) == labels))


def wait_for_version(client: PredictClient, version: int, timeout: float) -> float:
    """Polls the server's model status until ``version`` is the one it serves."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        states = {s.version: s.state for s in client.status()}
        if states.get(version) == "AVAILABLE" and all(
            state != "AVAILABLE" for v, state in states.items() if v != version
        ):
            return time.perf_counter() - start
        time.sleep(0.2)
    raise TimeoutError(f"version {version} was not served within {timeout} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs, two blocks")
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR)
    args = parser.parse_args(argv)
    pretrain_epochs, head_epochs, finetune_epochs = (
        (3, 3, 2) if args.quick else (10, 12, 6)
    )
    start = time.perf_counter()
    keras.utils.set_random_seed(0)
    if args.output_dir.exists():
        shutil.rmtree(args.output_dir)
    args.output_dir.mkdir(parents=True)
    base_path = args.output_dir / "models" / MODEL_NAME

    x_train, y_train, x_test, y_test = load_data(IMAGE_SIZE)
    pixels_train, pixels_test = x_train * 255.0, x_test * 255.0  # raw 0..255

    few = y_train < PRETRAIN_CLASSES
    step(1, f"pretraining a GoogLeNet backbone on digits 0-4 ({few.sum()} images)")
    pretrain_backbone(
        x_train[few],
        y_train[few],
        pretrain_epochs,
        args.output_dir / "hub_backbone",
        # --quick: inception 3a and 3b only (less to trace, export and serve).
        blocks=DEMO_BLOCKS[:2] if args.quick else DEMO_BLOCKS,
    )

    step(2, "new 10-class head on the frozen hub backbone (load_backbone)")
    backbone = load_backbone(
        str(args.output_dir / "hub_backbone"), (IMAGE_SIZE, IMAGE_SIZE, 1)
    )
    model = build_classifier(backbone, 10, pooling=None, dropout=0.1)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(pixels_train, y_train, epochs=head_epochs, batch_size=32, verbose=2)
    in_process_v1 = model.predict(pixels_test, verbose=0)
    print(f"      in-process held-out accuracy: {accuracy(in_process_v1, y_test):.1%}")

    step(3, f"exporting version 1 to {base_path}")
    result = export_for_serving(
        model, base_path, warmup_inputs=pixels_train[:8], model_name=MODEL_NAME
    )
    print("      " + result.describe().replace("\n", "\n      "))
    config_path = args.output_dir / "models" / "models.config"
    write_model_config(
        str(config_path), [{"name": MODEL_NAME, "base_path": str(base_path.resolve())}]
    )
    write_batching_config(
        str(args.output_dir / "models" / "batching.config"),
        max_batch_size=64,
        batch_timeout_micros=2000,
    )
    print(f"      wrote {config_path.name} and batching.config beside it")

    step(4, "serving with LocalModelServer in a child process on 127.0.0.1")
    with (
        LocalModelServer.spawn(model_config_file=str(config_path)) as server,
        PredictClient(server.target, MODEL_NAME, timeout=30.0) as client,
    ):
        version = client.wait_until_available(timeout=60.0)
        metadata = client.metadata()
        print(f"      {server.target} serves version {version}")
        for kind, tensors in (("input", metadata.inputs), ("output", metadata.outputs)):
            for name, info in tensors.items():
                print(f"      {kind} {name}: {info.dtype} {info.shape}")
        served_v1 = client.predict_batched(pixels_test, batch_size=64)
        (output_name,) = served_v1
        served_v1_probs = served_v1[output_name]
        diff = float(np.abs(served_v1_probs - in_process_v1).max())
        print(
            f"      served accuracy {accuracy(served_v1_probs, y_test):.1%} "
            f"(in-process {accuracy(in_process_v1, y_test):.1%}, "
            f"max abs diff {diff:.1e})"
        )
        latencies = []
        for image in pixels_test[:50]:
            t0 = time.perf_counter()
            client.predict(image[None])
            latencies.append(time.perf_counter() - t0)
        print(
            f"      latency at batch 1: median {statistics.median(latencies) * 1e3:.1f}"
            f" ms over {len(latencies)} requests"
        )

        step(5, "fine-tuning with layer-wise learning rates, exporting version 2")
        model.get_layer(backbone.name).trainable = True
        optimizer = layerwise_learning_rates(
            keras.optimizers.Adam(1e-3), {f"{backbone.name}*": 0.1}, model=model
        )
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
        )
        model.fit(
            pixels_train, y_train, epochs=finetune_epochs, batch_size=32, verbose=2
        )
        in_process_v2 = model.predict(pixels_test, verbose=0)
        export_for_serving(model, base_path, model_name=MODEL_NAME)
        waited = wait_for_version(client, 2, timeout=60.0)
        served_v2 = client.predict_batched(pixels_test, batch_size=64)[output_name]
        diff_v2 = float(np.abs(served_v2 - in_process_v2).max())
        print(
            f"      server switched to version 2 after {waited:.1f} s: "
            f"served accuracy {accuracy(served_v2, y_test):.1%} "
            f"(in-process {accuracy(in_process_v2, y_test):.1%}, "
            f"max abs diff {diff_v2:.1e})"
        )
        print(
            "      versions: "
            + ", ".join(f"{s.version} {s.state}" for s in client.status())
        )
    print(
        f"done in {time.perf_counter() - start:.0f} s; artifacts in {args.output_dir}"
    )
    served_equal = diff <= 1e-5 and diff_v2 <= 1e-5
    if not served_equal:
        print("served outputs differ from the in-process model", file=sys.stderr)
    return 0 if served_equal else 1


if __name__ == "__main__":
    sys.exit(main())
