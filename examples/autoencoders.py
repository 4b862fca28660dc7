"""Autoencoders on scikit-learn's digits: vs PCA, denoising, few-label pretraining.

What it shows:
1. dimensionality reduction: the held-out reconstruction error of a
   `keras_apps.models.dense_autoencoder` against scikit-learn's PCA with the
   same code size (the non-linear autoencoder wins at small codes);
2. denoising: a `DenoisingAutoencoder` trained on Gaussian-corrupted digits,
   PSNR of the noisy inputs vs its outputs on held-out digits;
3. pretraining: the encoder of a `conv_autoencoder` trained on all the
   (unlabelled) training digits, put under a new head with
   `keras_apps.transfer.build_classifier` and trained on a few labels per
   class, either frozen (only the head learns, on the autoencoder's code) or
   fine-tuned with the head, against the same network from random
   initialization, over several label draws (the same labels for all in
   each draw). With 30 labels, fine-tuning the whole encoder at the head's
   rate forgets what pretraining gave it; the frozen code keeps it.

Prints the tables and writes figures to ``examples/output/autoencoders/``.
Run ``python examples/autoencoders.py`` (a few minutes on 2 CPU cores) or
``--quick``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_apps.models import conv_autoencoder, dense_autoencoder  # noqa: E402
from keras_apps.transfer import build_classifier  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "examples"))  # for _digits
from _digits import load_digits_01, psnr  # noqa: E402

OUTPUT_DIR = REPO_ROOT / "examples" / "output" / "autoencoders"


def compare_with_pca(
    x_train: np.ndarray,
    x_test: np.ndarray,
    code_sizes: Sequence[int],
    epochs: int,
    seed: int = 0,
) -> dict[int, dict[str, float]]:
    """Held-out MSE per pixel of PCA and of a dense autoencoder per code size."""
    from sklearn.decomposition import PCA

    flat_train = x_train.reshape(len(x_train), -1)
    flat_test = x_test.reshape(len(x_test), -1)
    table = {}
    for size in code_sizes:
        pca = PCA(n_components=size, random_state=seed).fit(flat_train)
        pca_rec = pca.inverse_transform(pca.transform(flat_test))
        keras.utils.set_random_seed(seed)
        ae = dense_autoencoder((8, 8, 1), code_size=size, hidden_units=(256, 128))
        ae.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
        ae.fit(x_train, epochs=epochs, batch_size=64, verbose=0)
        ae_rec = ae.predict(x_test, verbose=0).reshape(len(x_test), -1)
        table[size] = {
            "pca": float(np.mean((pca_rec - flat_test) ** 2)),
            "autoencoder": float(np.mean((ae_rec - flat_test) ** 2)),
        }
    return table


def denoise(
    x_train: np.ndarray,
    x_test: np.ndarray,
    epochs: int,
    noise_level: float = 0.3,
    seed: int = 0,
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """Trains a Gaussian denoising autoencoder; PSNR before and after."""
    keras.utils.set_random_seed(seed)
    dae = dense_autoencoder(
        (8, 8, 1),
        code_size=32,
        hidden_units=(256,),
        noise="gaussian",
        noise_level=noise_level,
        seed=seed,
    )
    dae.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    dae.fit(x_train, epochs=epochs, batch_size=64, verbose=0)
    noisy = keras.ops.convert_to_numpy(dae.corrupt(x_test))
    denoised = dae.predict(noisy, verbose=0)
    numbers = {
        "noise_level": noise_level,
        "psnr_noisy": psnr(x_test, noisy),
        "psnr_denoised": psnr(x_test, denoised),
    }
    return numbers, noisy, denoised


# Per arm of the few-label comparison: whether the encoder trains, and the
# learning rate (a frozen encoder leaves only the head's 330 weights, which
# take a larger rate).
FEW_LABEL_ARMS = {
    "random init": (True, 1e-3),
    "AE-pretrained, fine-tuned": (True, 1e-3),
    "AE-pretrained, frozen": (False, 1e-2),
}


def _classifier(
    encoder: keras.Model, train_backbone: bool, learning_rate: float
) -> keras.Model:
    model = build_classifier(
        encoder, num_classes=10, train_backbone=train_backbone, dropout=0.2
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def few_label_classification(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    pretrain_epochs: int,
    finetune_epochs: int,
    labels_per_class: int,
    draws: int,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Test accuracy per label draw and arm (`FEW_LABEL_ARMS`)."""
    keras.utils.set_random_seed(seed)
    ae = conv_autoencoder((8, 8, 1), code_size=32, filters=(32, 64))
    ae.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    ae.fit(x_train, epochs=pretrain_epochs, batch_size=64, verbose=0)
    pretrained = ae.encoder.get_weights()
    results: dict[str, list[float]] = {method: [] for method in FEW_LABEL_ARMS}
    for draw in range(draws):
        rng = np.random.default_rng(1000 + draw)
        chosen = np.concatenate(
            [
                rng.choice(
                    np.flatnonzero(y_train == c), labels_per_class, replace=False
                )
                for c in range(10)
            ]
        )
        for method, (train_backbone, learning_rate) in FEW_LABEL_ARMS.items():
            keras.utils.set_random_seed(draw)
            encoder = keras.models.clone_model(ae.encoder)  # fresh random weights
            if method.startswith("AE-pretrained"):
                encoder.set_weights(pretrained)
            model = _classifier(encoder, train_backbone, learning_rate)
            model.fit(
                x_train[chosen],
                y_train[chosen],
                epochs=finetune_epochs,
                batch_size=len(chosen),
                verbose=0,
            )
            _, accuracy = model.evaluate(x_test, y_test, verbose=0)
            results[method].append(float(accuracy))
    return results


def save_figures(
    pca_table: dict[int, dict[str, float]],
    x_test: np.ndarray,
    noisy: np.ndarray,
    denoised: np.ndarray,
    denoise_numbers: dict[str, float],
    few_label: dict[str, list[float]],
    labels_per_class: int,
    output_dir: Path,
) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    sizes = sorted(pca_table)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(sizes, [pca_table[s]["pca"] for s in sizes], "o-", label="PCA")
    ax.plot(
        sizes, [pca_table[s]["autoencoder"] for s in sizes], "s-", label="autoencoder"
    )
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("code size")
    ax.set_ylabel("held-out MSE per pixel")
    ax.set_title("Reconstruction error: dense autoencoder vs PCA")
    ax.legend()
    fig.tight_layout()
    paths["pca"] = output_dir / "ae_vs_pca.png"
    fig.savefig(paths["pca"], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(3, 10, figsize=(10, 3.4))
    titles = (
        "clean",
        f"noisy ({denoise_numbers['psnr_noisy']:.1f} dB)",
        f"denoised ({denoise_numbers['psnr_denoised']:.1f} dB)",
    )
    for row, (images, title) in enumerate(
        zip((x_test, noisy, denoised), titles, strict=True)
    ):
        for col in range(10):
            ax = axes[row, col]
            ax.imshow(images[col, ..., 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(title, rotation=0, ha="right", va="center")
    fig.suptitle(
        f"Denoising autoencoder, Gaussian noise sigma={denoise_numbers['noise_level']}"
    )
    fig.tight_layout()
    paths["denoising"] = output_dir / "denoising.png"
    fig.savefig(paths["denoising"], dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    draws = np.arange(1, len(few_label["random init"]) + 1)
    for method, marker in zip(few_label, ("o", "s", "^"), strict=True):
        ax.plot(draws, few_label[method], marker, label=method, markersize=8)
    ax.set_xticks(draws)
    ax.set_xlabel("label draw")
    ax.set_ylabel("held-out accuracy")
    ax.set_title(f"{labels_per_class} labels per class: pretrained encoder vs random")
    ax.legend()
    fig.tight_layout()
    paths["few_label"] = output_dir / "few_label.png"
    fig.savefig(paths["few_label"], dpi=110)
    plt.close(fig)
    return paths


def format_tables(results: dict[str, Any]) -> str:
    lines = ["code size | PCA MSE | AE MSE | AE / PCA"]
    for size, row in sorted(results["pca"].items()):
        ratio = row["autoencoder"] / row["pca"]
        lines.append(
            f"{size:9d} | {row['pca']:.4f}  | {row['autoencoder']:.4f} | {ratio:.2f}"
        )
    d = results["denoising"]
    lines.append(
        f"denoising (sigma={d['noise_level']}): PSNR noisy {d['psnr_noisy']:.1f} dB"
        f" -> denoised {d['psnr_denoised']:.1f} dB"
    )
    few = results["few_label"]
    lines.append(f"{results['labels_per_class']} labels per class, held-out accuracy:")
    for method, values in few.items():
        line = f"  {method:26s} {np.mean(values):.3f} +- {np.std(values):.3f}"
        if method != "random init":
            gains = np.subtract(values, few["random init"])
            line += (
                f"  (vs random init {np.mean(gains):+.3f}, wins "
                f"{int(np.sum(gains > 0))} of {len(gains)} draws)"
            )
        lines.append(line)
    return "\n".join(lines)


def main(
    code_sizes: Sequence[int] = (2, 4, 8, 16, 32),
    epochs: int = 100,
    pretrain_epochs: int = 60,
    finetune_epochs: int = 150,
    labels_per_class: int = 3,
    draws: int = 5,
    output_dir: str | os.PathLike[str] = OUTPUT_DIR,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Runs the three comparisons; returns the numbers and figure paths."""
    x_train, x_test, y_train, y_test = load_digits_01(seed)
    results: dict[str, Any] = {"labels_per_class": labels_per_class}
    results["pca"] = compare_with_pca(x_train, x_test, code_sizes, epochs, seed)
    results["denoising"], noisy, denoised = denoise(x_train, x_test, epochs, seed=seed)
    results["few_label"] = few_label_classification(
        x_train,
        y_train,
        x_test,
        y_test,
        pretrain_epochs,
        finetune_epochs,
        labels_per_class,
        draws,
        seed,
    )
    paths = save_figures(
        results["pca"],
        x_test,
        noisy,
        denoised,
        results["denoising"],
        results["few_label"],
        labels_per_class,
        Path(output_dir),
    )
    results["figures"] = {k: str(v) for k, v in paths.items()}
    if verbose:
        print(format_tables(results))
        for name, path in paths.items():
            print(f"{name}: {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny run")
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR))
    args = parser.parse_args()
    if args.quick:
        main(
            code_sizes=(2, 8),
            epochs=10,
            pretrain_epochs=5,
            finetune_epochs=30,
            draws=2,
            output_dir=args.output_dir,
        )
    else:
        main(output_dir=args.output_dir)
    sys.exit(0)
