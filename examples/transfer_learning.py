"""Transfer learning on scikit-learn digits: five ways to reuse a network.

A small CNN is pretrained on the digits 0-4, published as a local hub-style
SavedModel (`export_hub_module`), and reused to learn the digits 5-9 from
1, 2 or 5 labelled images per class:

1. from scratch (no transfer, the baseline);
2. frozen hub features + a new head (`load_backbone` over the SavedModel,
   `build_classifier`);
3. fine-tuning with layer-wise learning rates (`layerwise_learning_rates`);
4. checkpoint initialization: `load_from_checkpoint` of the pretrained
   ``.keras`` file into the same network with a new head, then fine-tuning
   of everything;
5. features + scikit-learn logistic regression (`extract_features`).

Pretraining only sees digits 0-4: the upright images and their rotations
and mirror images as 40 classes, each with its one-pixel shifts (see
`pretrain`). Every Keras method trains the same network (or its body and a
new head) with Adam for the same 60 passes over the few images; each
method's learning rate is the best of a grid on label draws that are not
reported (`LR`). Each seed draws other labelled images; the test set is all
other 5-9 digits. The table gives mean and std over seeds, the mean gain
over from scratch on the same draw, and on how many draws the method beat
from scratch. The figure (``examples/output/transfer_learning.png``) plots
accuracy and gain against the labels per class.

What to expect (``python examples/transfer_learning.py``: 8 seeds; test
accuracy mean+-std, mean gain over from scratch on the same draw, seeds won):

    labels/class 1                       2                       5
    from scratch 0.706+-0.050            0.859+-0.036            0.920+-0.011
    hub + head   0.754+-0.084 +0.048 7/8 0.892+-0.015 +0.033 8/8 0.937+-0.014 +0.016 7/8
    fine-tune    0.738+-0.085 +0.032 6/8 0.892+-0.013 +0.033 6/8 0.936+-0.014 +0.015 6/8
    checkpoint   0.686+-0.073 -0.020 3/8 0.870+-0.022 +0.011 3/8 0.928+-0.021 +0.008 6/8
    logreg       0.755+-0.068 +0.049 6/8 0.901+-0.020 +0.042 8/8 0.935+-0.017 +0.015 7/8

Reusing the pretrained features as they are wins most clearly: hub
features + head and logistic regression on features gain 3 to 5 points at
1 and 2 labels per class and beat from scratch on 6 to 8 of the 8 label
draws; at 5 labels per class the gain shrinks to 1.5 points (7 of 8), as
the labels start to teach what 0-4 cannot. Fine-tuning with layer-wise
rates is close behind. Checkpoint initialization, which also reloads
``fc`` (specialised on the pretraining classes) and trains everything at
one rate, gains little and loses at 1 label per class. The spread over
seeds is mostly which images were drawn (one label per class is a
lottery), so compare the paired gains rather than the bars.

Without rotations and mirrors (``--upright-only``: 5 upright classes, same
number of pretraining steps) hub features + head still gain +0.042 (7/8)
and +0.031 (7/8) at 1 and 2 labels per class, but only +0.004 at 5, and
logistic regression gains +0.016 and +0.028 (same learning rates): the
40-way task is what keeps a gain at 5 labels and what makes the features
good enough for a linear classifier.

Run: ``python examples/transfer_learning.py`` (about two minutes on 2 cores,
15 s of it pretraining; ``--seeds 8 --per-class 1 2 5`` are the defaults).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Sequence

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_apps.transfer import (  # noqa: E402
    build_classifier,
    export_hub_module,
    extract_features,
    layerwise_learning_rates,
    load_backbone,
    load_from_checkpoint,
)

METHODS = (
    "from scratch",
    "hub features + new head",
    "fine-tune, layer-wise LR",
    "checkpoint init",
    "features + logistic regression",
)
DEFAULT_OUTPUT = os.path.join(os.path.dirname(__file__), "output")


def load_data() -> tuple[np.ndarray, np.ndarray]:
    """Digits as (N, 8, 8, 1) float32 images in [0, 1] and integer labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    return images, digits.target.astype("int64")


# Filters of conv1 and conv2, units of fc. Wider than the features 5-9 need
# from scratch, so that pretraining leaves features for shapes beyond 0-4.
WIDTHS = (32, 64, 128)


def make_network(num_classes: int, head_name: str) -> keras.Model:
    """The CNN used everywhere: conv1, conv2, fc (the body), then a head.

    From scratch and in every transfer method the network that learns 5-9
    is this one (or its body with a new head), trained with Adam for the
    same number of passes over the same few images.
    """
    conv1, conv2, fc_units = WIDTHS
    inputs = keras.Input((8, 8, 1), name="image")
    x = keras.layers.Conv2D(conv1, 3, padding="same", activation="relu", name="conv1")(
        inputs
    )
    x = keras.layers.Conv2D(conv2, 3, padding="same", activation="relu", name="conv2")(
        x
    )
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(fc_units, activation="relu", name="fc")(x)
    x = keras.layers.Dropout(0.3, name="drop")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name=head_name)(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


BODY_LAYER = "flatten"


def body_of(network: keras.Model) -> keras.Model:
    """The reusable body: images -> the 1024 convolutional features.

    The convolutional layers transfer; ``fc`` has specialised on the
    pretraining classes (features from it score lower on the new digits).
    """
    return keras.Model(network.input, network.get_layer(BODY_LAYER).output, name="body")


def shifted_copies(
    images: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The images and their 8 one-pixel shifts (zero-filled)."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1), (0, 0)))
    copies = [
        padded[:, 1 + dy : 9 + dy, 1 + dx : 9 + dx]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    return np.concatenate(copies), np.tile(labels, len(copies))


def few_labels(
    labels: np.ndarray, per_class: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` training images per class, and the rest."""
    train = np.concatenate(
        [
            rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
            for c in np.unique(labels)
        ]
    )
    test = np.setdiff1d(np.arange(len(labels)), train)
    return train, test


def _fit(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    seed: int,
    batch_size: int = 16,
) -> None:
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    # ``epochs`` passes over the few images, each in a new order, in one call
    # to fit (one pass per fit epoch spends most of the time in overhead).
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(epochs)])
    batch_size = min(batch_size, len(x))
    model.fit(
        x[order], y[order], epochs=1, batch_size=batch_size, shuffle=False, verbose=0
    )


def _accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    predictions = keras.ops.convert_to_numpy(model(x, training=False))
    return float(np.mean(np.argmax(predictions, axis=1) == y))


def rotated_and_mirrored(
    images: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """The 8 rotations and mirror images of each image, each a class of its own.

    Label ``c`` becomes ``c + num_classes * t`` for transform ``t``; the
    unchanged images come first (``t = 0``) and keep their labels.
    """
    copies, targets = [], []
    for quarter_turns in range(4):
        rotated = np.rot90(images, quarter_turns, axes=(1, 2))
        for mirrored in (False, True):
            copies.append(rotated[:, :, ::-1] if mirrored else rotated)
            targets.append(labels + num_classes * len(targets))
    return np.concatenate(copies), np.concatenate(targets)


def pretrain(
    images: np.ndarray,
    labels: np.ndarray,
    epochs: int,
    workdir: str,
    rotations: bool = True,
) -> tuple[keras.Model, str, str]:
    """Trains on digits 0-4; saves a ``.keras`` checkpoint and a hub module.

    The task is to tell apart 40 classes: the digits 0-4, each upright,
    rotated by 90, 180 or 270 degrees, or mirrored (a mirrored 2 is not a 2).
    Only images of digits 0-4 are used, but a 40-way task makes the
    convolutional features describe more shapes than a 5-way one needs to,
    and one-pixel shifts of every image make them less specific to exact
    pixel positions. With ``rotations=False`` the task is the 5 upright
    digits (with their shifts), trained for 8 times the epochs so that both
    tasks take the same number of steps.
    """
    keras.utils.set_random_seed(1000)
    source = labels < 5
    if rotations:
        x, y = rotated_and_mirrored(images[source], labels[source], 5)
    else:
        x, y = images[source], labels[source]
        epochs *= 8
    x, y = shifted_copies(x, y)
    network = make_network(int(y.max()) + 1, head_name="head_pretrain")
    _fit(network, keras.optimizers.Adam(2e-3), x, y, epochs, 1000, batch_size=64)
    checkpoint = os.path.join(workdir, "digits_0_4.keras")
    network.save(checkpoint)
    hub_dir = export_hub_module(body_of(network), os.path.join(workdir, "hub_body"))
    return network, checkpoint, hub_dir


# Adam learning rates, each the best of a grid for its method (scratch 2e-4,
# 5e-4, 1e-3, 2e-3, 5e-3, 1e-2; the others 3e-4 to 1e-1) on label draws of
# their own (seeds 100-105, 1 and 2 labels per class), not on those reported.
LR = {
    "from scratch": 5e-4,
    "hub features + new head": 3e-3,
    "fine-tune, layer-wise LR": 3e-3,
    "checkpoint init": 5e-3,
}
CONV_FACTOR = 0.1


def run_seed(
    seed: int,
    images: np.ndarray,
    labels: np.ndarray,
    pretrained: keras.Model,
    checkpoint: str,
    hub_body: keras.Model,
    per_class: int,
    epochs: int,
) -> dict[str, float]:
    """Test accuracy of the five methods for one draw of the few labels."""
    from sklearn.linear_model import LogisticRegression

    target = labels >= 5
    x_all, y_all = images[target], labels[target] - 5
    train, test = few_labels(y_all, per_class, np.random.default_rng(seed))
    x_train, y_train, x_test, y_test = (
        x_all[train],
        y_all[train],
        x_all[test],
        y_all[test],
    )
    scores: dict[str, float] = {}

    keras.utils.set_random_seed(seed)
    scratch = make_network(5, head_name="head_5_9")
    _fit(
        scratch,
        keras.optimizers.Adam(LR["from scratch"]),
        x_train,
        y_train,
        epochs,
        seed,
    )
    scores["from scratch"] = _accuracy(scratch, x_test, y_test)

    keras.utils.set_random_seed(seed)
    hub_model = build_classifier(hub_body, 5, dropout=0.2)
    _fit(
        hub_model,
        keras.optimizers.Adam(LR["hub features + new head"]),
        x_train,
        y_train,
        epochs,
        seed,
    )
    scores["hub features + new head"] = _accuracy(hub_model, x_test, y_test)

    keras.utils.set_random_seed(seed)
    body = body_of(keras.models.clone_model(pretrained))
    body.set_weights(body_of(pretrained).get_weights())
    tuned = build_classifier(body, 5, train_backbone=True, dropout=0.2)
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(LR["fine-tune, layer-wise LR"]),
        {"conv1": CONV_FACTOR, "conv2": CONV_FACTOR},
        model=tuned,
    )
    _fit(tuned, optimizer, x_train, y_train, epochs, seed)
    scores["fine-tune, layer-wise LR"] = _accuracy(tuned, x_test, y_test)

    keras.utils.set_random_seed(seed)
    initialized = make_network(5, head_name="head_5_9")
    report = load_from_checkpoint(initialized, checkpoint)
    if sorted(report.loaded) != ["conv1", "conv2", "fc"]:
        raise RuntimeError(f"unexpected checkpoint report:\n{report}")
    _fit(
        initialized,
        keras.optimizers.Adam(LR["checkpoint init"]),
        x_train,
        y_train,
        epochs,
        seed,
    )
    scores["checkpoint init"] = _accuracy(initialized, x_test, y_test)

    features = extract_features(pretrained, x_all, layers=BODY_LAYER, batch_size=256)
    classifier = LogisticRegression(C=1.0, max_iter=2000)
    classifier.fit(features[train], y_train)
    scores["features + logistic regression"] = float(
        classifier.score(features[test], y_test)
    )
    return scores


def format_table(table: dict[str, list[float]], per_class: int) -> str:
    """Mean, std and per-seed accuracies, and seeds won against scratch."""
    baseline = np.asarray(table[METHODS[0]])
    lines = [
        f"digits 5-9 from {per_class} label(s) per class, test accuracy "
        f"over {len(baseline)} seeds",
        f"{'method':<32} {'mean':>6} {'std':>6} {'gain':>6} {'wins':>5}",
    ]
    for method, values in table.items():
        values = np.asarray(values)
        if method == METHODS[0]:
            gain, wins = "", ""
        else:
            gain = f"{np.mean(values - baseline):+.3f}"
            wins = f"{int(np.sum(values > baseline))}/{len(values)}"
        lines.append(
            f"{method:<32} {np.mean(values):>6.3f} {np.std(values):>6.3f} "
            f"{gain:>6} {wins:>5}"
        )
    return "\n".join(lines)


SHORT_NAMES = dict(
    zip(
        METHODS,
        ("from scratch", "hub + head", "fine-tune", "checkpoint", "logreg"),
        strict=True,
    )
)


def format_summary(tables: dict[int, dict[str, list[float]]]) -> str:
    """One row per method: mean+-std, gain over scratch and wins per count."""
    counts = sorted(tables)
    seeds = len(tables[counts[0]][METHODS[0]])
    lines = [
        f"mean+-std over {seeds} seeds, gain over from scratch, seeds won",
        f"{'labels/class':<13}" + "".join(f"{c:<24}" for c in counts).rstrip(),
    ]
    for method in METHODS:
        cells = []
        for count in counts:
            values = np.asarray(tables[count][method])
            cell = f"{np.mean(values):.3f}+-{np.std(values):.3f}"
            if method != METHODS[0]:
                baseline = np.asarray(tables[count][METHODS[0]])
                wins = int(np.sum(values > baseline))
                cell += f" {np.mean(values - baseline):+.3f} {wins}/{len(values)}"
            cells.append(f"{cell:<24}")
        lines.append(f"{SHORT_NAMES[method]:<13}" + "".join(cells).rstrip())
    return "\n".join(lines)


def plot(tables: dict[int, dict[str, list[float]]], path: str) -> None:
    """Accuracy, and gain over from scratch, against labels per class.

    Left: mean test accuracy +- std over seeds. Right: the gain over from
    scratch on the same label draw, mean +- std over seeds; the spread of
    the accuracies is mostly which images were drawn, which the gain cancels.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = sorted(tables)
    seeds = len(tables[counts[0]][METHODS[0]])
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, method in enumerate(METHODS):
        values = np.array([tables[c][method] for c in counts])
        gains = values - np.array([tables[c][METHODS[0]] for c in counts])
        scratch = index == 0
        style = {
            "marker": "o",
            "capsize": 3,
            "color": "black" if scratch else f"C{index - 1}",
            "linestyle": "--" if scratch else "-",
            "linewidth": 2 if scratch else 1.3,
            "label": method,
        }
        left.errorbar(counts, values.mean(1), yerr=values.std(1), **style)
        right.errorbar(counts, gains.mean(1), yerr=gains.std(1), **style)
    left.set_ylabel("test accuracy on digits 5-9")
    left.set_title(f"Accuracy ({seeds} seeds, mean +- std)")
    left.legend(loc="lower right", fontsize=8)
    right.set_ylabel("accuracy minus from scratch, same labels")
    right.set_title("Gain over from scratch (mean +- std)")
    for ax in (left, right):
        ax.set_xscale("log")
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("labelled images per class (digits 5-9)")
        ax.grid(alpha=0.3)
    fig.suptitle("Learning digits 5-9 from few labels, with transfer from digits 0-4")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(
    per_class: Sequence[int] = (1, 2, 5),
    seeds: Sequence[int] = tuple(range(8)),
    pretrain_epochs: int = 2,
    epochs: int = 60,
    output_dir: str = DEFAULT_OUTPUT,
    verbose: bool = True,
    rotations: bool = True,
) -> dict[int, dict[str, list[float]]]:
    """Runs the comparison; returns labels per class -> method -> accuracies.

    Args:
        per_class: The numbers of labelled training images per class of the
            5-9 task to evaluate.
        seeds: One run per seed (label draw and initialization).
        pretrain_epochs: Epochs of pretraining on digits 0-4.
        epochs: Passes over the few labelled images, the same for every method.
        output_dir: Where ``transfer_learning.png`` is written.
        verbose: Print progress and the table.
        rotations: Pretrain on the 40-way task (see `pretrain`); False
            pretrains on the 5 upright digits only, for comparison.
    """
    start = time.perf_counter()
    images, labels = load_data()
    tables: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        pretrained, checkpoint, hub_dir = pretrain(
            images, labels, pretrain_epochs, workdir, rotations
        )
        hub_body = load_backbone(hub_dir, (8, 8, 1), include_preprocessing=False)
        if verbose:
            source = labels < 5
            # The upright digits are classes 0-4 of the 40.
            accuracy = _accuracy(pretrained, images[source], labels[source])
            print(
                f"pretrained on digits 0-4 (train accuracy {accuracy:.3f}, "
                f"{time.perf_counter() - start:.0f} s)"
            )
        for count in per_class:
            table: dict[str, list[float]] = {method: [] for method in METHODS}
            for seed in seeds:
                scores = run_seed(
                    seed,
                    images,
                    labels,
                    pretrained,
                    checkpoint,
                    hub_body,
                    count,
                    epochs,
                )
                for method, score in scores.items():
                    table[method].append(score)
                if verbose:
                    print(
                        f"{count} per class, seed {seed}: "
                        + ", ".join(f"{v:.3f}" for v in scores.values())
                    )
            tables[count] = table
    plot(tables, os.path.join(output_dir, "transfer_learning.png"))
    if verbose:
        for count, table in tables.items():
            print(format_table(table, count))
        print(format_summary(tables))
        print(f"({time.perf_counter() - start:.0f} s)")
    return tables


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--pretrain-epochs", type=int, default=2)
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--upright-only",
        action="store_true",
        help="pretrain on the 5 upright digits 0-4 only (no rotations, mirrors)",
    )
    args = parser.parse_args()
    main(
        per_class=args.per_class,
        seeds=tuple(range(args.seeds)),
        pretrain_epochs=args.pretrain_epochs,
        epochs=args.epochs,
        output_dir=args.output_dir,
        rotations=not args.upright_only,
    )
