"""A variational autoencoder on scikit-learn's digits: ELBO, latent map, samples.

What it shows:
1. `keras_apps.models.VAE` with a 2-D latent space trained with plain
   ``model.fit(x, validation_data=(x_val,))``, with `KLAnnealing` warming
   ``beta`` up from 0 to 1; the loss, reconstruction and KL curves;
2. the latent means of held-out digits, coloured by class;
3. a grid of digits decoded from the prior N(0, I) (`VAE.sample`) and the
   decoder over a regular grid of the latent plane;
4. latent interpolations between held-out digits of different classes.

Figures go to ``examples/output/vae/``. Run ``python examples/vae.py``
(about a minute on 2 CPU cores) or ``--quick`` (a few epochs).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_apps.callbacks import KLAnnealing  # noqa: E402
from keras_apps.models import VAE  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "examples"))  # for _digits
from _digits import load_digits_01  # noqa: E402

OUTPUT_DIR = REPO_ROOT / "examples" / "output" / "vae"
LATENT_DIM = 2


def build_vae(latent_dim: int = LATENT_DIM, units: int = 256, seed: int = 0) -> VAE:
    """A dense VAE for 8x8x1 images: 64 -> units -> units/2 -> latent, mirrored."""
    inputs = keras.Input((8, 8, 1), name="image")
    h = keras.layers.Flatten()(inputs)
    h = keras.layers.Dense(units, activation="relu")(h)
    h = keras.layers.Dense(units // 2, activation="relu")(h)
    z_mean = keras.layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = keras.layers.Dense(latent_dim, name="z_log_var")(h)
    encoder = keras.Model(inputs, [z_mean, z_log_var], name="encoder")
    z = keras.Input((latent_dim,), name="z")
    h = keras.layers.Dense(units // 2, activation="relu")(z)
    h = keras.layers.Dense(units, activation="relu")(h)
    h = keras.layers.Dense(64, activation="sigmoid")(h)
    images = keras.layers.Reshape((8, 8, 1), name="image")(h)
    decoder = keras.Model(z, images, name="decoder")
    return VAE(encoder, decoder, seed=seed, name="digits_vae")


def _grid(images: np.ndarray, rows: int, cols: int, pad: int = 1) -> np.ndarray:
    h, w = images.shape[1:3]
    canvas = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad))
    for index, image in enumerate(images[: rows * cols]):
        r, c = divmod(index, cols)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = image[..., 0]
    return canvas


def save_figures(
    vae: VAE,
    history: dict[str, list[float]],
    x_test: np.ndarray,
    y_test: np.ndarray,
    output_dir: Path,
) -> dict[str, Path]:
    """Writes the four PNGs and returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    output_dir.mkdir(parents=True, exist_ok=True)
    paths = {}

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key, title in zip(
        axes,
        ("loss", "reconstruction_loss", "kl_loss"),
        ("loss = reconstruction + beta * KL", "reconstruction (Bernoulli NLL)", "KL"),
        strict=True,
    ):
        ax.plot(epochs, history[key], label="train")
        ax.plot(epochs, history[f"val_{key}"], label="held out")
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.set_ylabel("nats per image")
        ax.legend()
    if "beta" in history:
        twin = axes[0].twinx()
        twin.plot(epochs, history["beta"], color="grey", linestyle=":", label="beta")
        twin.set_ylabel("beta (dotted)")
    fig.tight_layout()
    paths["curves"] = output_dir / "vae_loss_curves.png"
    fig.savefig(paths["curves"], dpi=110)
    plt.close(fig)

    z_mean, _ = vae.encode(x_test)
    z_mean = keras.ops.convert_to_numpy(z_mean)
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    scatter = ax.scatter(z_mean[:, 0], z_mean[:, 1], c=y_test, cmap="tab10", s=12)
    fig.colorbar(scatter, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("z[0] (mean)")
    ax.set_ylabel("z[1] (mean)")
    ax.set_title("Latent means of held-out digits")
    fig.tight_layout()
    paths["latent"] = output_dir / "vae_latent_scatter.png"
    fig.savefig(paths["latent"], dpi=110)
    plt.close(fig)

    samples = keras.ops.convert_to_numpy(vae.sample(100, seed=0))
    grid_values = np.linspace(-2.0, 2.0, 10)
    plane = np.array([[a, b] for b in grid_values[::-1] for a in grid_values])
    manifold = keras.ops.convert_to_numpy(vae.decode(plane.astype("float32")))
    fig, axes = plt.subplots(1, 2, figsize=(10, 5.2))
    axes[0].imshow(_grid(samples, 10, 10), cmap="gray_r", vmin=0, vmax=1)
    axes[0].set_title("100 samples, z ~ N(0, I)")
    axes[1].imshow(_grid(manifold, 10, 10), cmap="gray_r", vmin=0, vmax=1)
    axes[1].set_title("decoder on the grid z in [-2, 2]^2")
    for ax in axes:
        ax.axis("off")
    fig.tight_layout()
    paths["samples"] = output_dir / "vae_samples.png"
    fig.savefig(paths["samples"], dpi=110)
    plt.close(fig)

    pairs = [(0, 1), (3, 8), (4, 9), (5, 6), (2, 7)]
    steps = 10
    rows = []
    for a, b in pairs:
        za = z_mean[np.flatnonzero(y_test == a)[0]]
        zb = z_mean[np.flatnonzero(y_test == b)[0]]
        t = np.linspace(0, 1, steps)[:, None]
        rows.append(((1 - t) * za + t * zb).astype("float32"))
    path_images = keras.ops.convert_to_numpy(vae.decode(np.concatenate(rows)))
    fig, ax = plt.subplots(figsize=(9, 4.8))
    ax.imshow(_grid(path_images, len(pairs), steps), cmap="gray_r", vmin=0, vmax=1)
    ax.set_yticks([4.5 + 9 * i for i in range(len(pairs))])
    ax.set_yticklabels([f"{a} -> {b}" for a, b in pairs])
    ax.set_xticks([])
    ax.set_title("Latent interpolation between held-out digits (linear in z_mean)")
    fig.tight_layout()
    paths["interpolation"] = output_dir / "vae_interpolation.png"
    fig.savefig(paths["interpolation"], dpi=110)
    plt.close(fig)
    return paths


def main(
    epochs: int = 60,
    warmup_epochs: int = 10,
    output_dir: str | os.PathLike[str] = OUTPUT_DIR,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Trains the VAE and writes the figures; returns the measured numbers."""
    keras.utils.set_random_seed(seed)
    x_train, x_test, y_train, y_test = load_digits_01(seed)
    vae = build_vae(seed=seed)
    vae.compile(optimizer=keras.optimizers.Adam(2e-3))
    steps_per_epoch = int(np.ceil(len(x_train) / 64))
    annealing = KLAnnealing(
        "linear", steps=max(1, warmup_epochs * steps_per_epoch), start=0.0, stop=1.0
    )
    history = vae.fit(
        x_train,
        epochs=epochs,
        batch_size=64,
        validation_data=(x_test,),
        callbacks=[annealing],
        verbose=0,
    ).history
    paths = save_figures(vae, history, x_test, y_test, Path(output_dir))
    final = vae.evaluate(x_test, verbose=0, return_dict=True)
    results = {
        "epochs": epochs,
        "first_val_loss": history["val_loss"][0],
        "val_loss": final["loss"],
        "val_reconstruction_loss": final["reconstruction_loss"],
        "val_kl_loss": final["kl_loss"],
        "figures": {k: str(v) for k, v in paths.items()},
    }
    if verbose:
        print(f"VAE on digits, latent dim {LATENT_DIM}, {epochs} epochs")
        print(
            f"held-out negative ELBO {results['first_val_loss']:.1f} (epoch 1) -> "
            f"{final['loss']:.1f} nats per image "
            f"(reconstruction {final['reconstruction_loss']:.1f}, "
            f"KL {final['kl_loss']:.2f})"
        )
        for name, path in paths.items():
            print(f"{name}: {path}")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few epochs only")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--output-dir", default=str(OUTPUT_DIR))
    args = parser.parse_args()
    epochs = 4 if args.quick else args.epochs
    main(
        epochs=epochs,
        warmup_epochs=1 if args.quick else 10,
        output_dir=args.output_dir,
    )
    sys.exit(0)
