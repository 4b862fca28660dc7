"""Save a grid of samples from a fixed seed every n epochs."""

from __future__ import annotations

import logging
import os
from typing import Any

import keras
import numpy as np

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error

logger = logging.getLogger(__name__)


def _to_unit_range(images: np.ndarray, value_range: Any) -> np.ndarray:
    images = np.asarray(images, "float32")
    if value_range == "auto":
        low, high = float(images.min()), float(images.max())
        if high <= low:
            high = low + 1.0
    else:
        low, high = value_range
    return np.clip((images - low) / (high - low), 0.0, 1.0)


def save_image_grid(
    images: np.ndarray,
    path: str | os.PathLike[str],
    rows: int,
    title: str = "",
    row_labels: list[str] | None = None,
    value_range: Any = (-1.0, 1.0),
) -> str:
    """Writes ``images`` as a ``rows`` x ``len(images) / rows`` PNG with a title.

    Args:
        images: ``(n, height, width, channels)`` with 1 or 3 channels (other
            counts show their first channel).
        path: The PNG file.
        rows: Number of rows; ``n`` must be a multiple.
        title: Figure title.
        row_labels: One label per row, or None.
        value_range: ``(low, high)`` of the pixel values, or ``"auto"``.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    images = _to_unit_range(images, value_range)
    n = len(images)
    if n == 0 or n % rows:
        raise ValueError(
            f"Expected a number of images that is a positive multiple of rows={rows}. "
            f"Received {n} images."
        )
    cols = n // rows
    if images.shape[-1] not in (1, 3):
        images = images[..., :1]
    figure, axes = plt.subplots(
        rows,
        cols,
        figsize=(0.9 * cols + (0.9 if row_labels else 0.2), 0.9 * rows + 0.5),
        squeeze=False,
    )
    for index, axis in enumerate(axes.flat):
        image = images[index]
        if image.shape[-1] == 1:
            axis.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0)
        else:
            axis.imshow(image)
        axis.set_xticks([])
        axis.set_yticks([])
        for spine in axis.spines.values():
            spine.set_visible(False)
    if row_labels:
        for row, label in enumerate(row_labels):
            axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(os.fspath(path))), exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
    return os.fspath(path)


@keras_apps_export("keras_apps.callbacks.SampleGrid")
class SampleGrid(keras.callbacks.Callback):
    """Every ``every_n_epochs`` epochs, saves a PNG grid of samples from a fixed seed.

    The same seed gives the same latents at every epoch, so the grids show
    how the same latent vectors change as training goes on. The callback
    duck-types the model:

    - a conditional model (a ``num_classes`` attribute and
      ``generate(labels, seed)``, as `keras_apps.models.ConditionalGAN`): one
      row per class, ``samples_per_class`` columns;
    - ``generate(n, seed)`` (`keras_apps.models.GAN`, `WGANGP`) or
      ``sample(n, seed)`` (a VAE): ``num_samples`` images in ``rows`` rows.

    Files are ``directory/<prefix>_epoch_<epoch:03d>.png`` (epochs counted
    from 1); `paths` lists those written.

    Args:
        directory: Folder of the PNGs (created).
        every_n_epochs: Epochs between two grids, >= 1. Defaults to 1.
        num_samples: Images per grid of an unconditional model. Defaults
            to 64.
        rows: Rows of that grid. Defaults to 8.
        samples_per_class: Columns of a conditional grid. Defaults to 8.
        seed: The fixed seed. Defaults to 0.
        value_range: ``(low, high)`` of the model's pixels (``(-1, 1)`` for
            a tanh generator, the default; ``(0, 1)`` for a sigmoid decoder)
            or ``"auto"``.
        prefix: File name prefix. Defaults to ``"samples"``.

    Example:

    >>> import tempfile, numpy as np, keras
    >>> from keras_apps.callbacks import SampleGrid
    >>> class Tiny(keras.Model):
    ...     def sample(self, n, seed=None):
    ...         return np.random.default_rng(seed).random((n, 8, 8, 1))
    >>> grid = SampleGrid(tempfile.mkdtemp(), num_samples=4, rows=2,
    ...                   value_range=(0, 1))
    >>> grid.set_model(Tiny())
    >>> grid.on_epoch_end(0)
    >>> [p.rsplit("/", 1)[-1] for p in grid.paths]
    ['samples_epoch_001.png']
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        every_n_epochs: int = 1,
        num_samples: int = 64,
        rows: int = 8,
        samples_per_class: int = 8,
        seed: int = 0,
        value_range: Any = (-1.0, 1.0),
        prefix: str = "samples",
    ) -> None:
        super().__init__()
        errors = [
            positive_int_error("every_n_epochs", every_n_epochs),
            positive_int_error("num_samples", num_samples),
            positive_int_error("rows", rows),
            positive_int_error("samples_per_class", samples_per_class),
        ]
        if not errors[1] and not errors[2] and num_samples % rows:
            errors.append(
                "`num_samples` must be a multiple of `rows`. Received: "
                f"num_samples={num_samples}, rows={rows}"
            )
        if value_range != "auto" and (
            not isinstance(value_range, (tuple, list))
            or len(value_range) != 2
            or not value_range[1] > value_range[0]
        ):
            errors.append(
                "`value_range` must be (low, high) with high > low, or 'auto'. "
                f"Received: value_range={value_range!r}"
            )
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))
        self.directory = os.fspath(directory)
        self.every_n_epochs = every_n_epochs
        self.num_samples = num_samples
        self.rows = rows
        self.samples_per_class = samples_per_class
        self.seed = seed
        self.value_range = value_range
        self.prefix = prefix
        self.paths: list[str] = []

    def get_config(self) -> dict[str, Any]:
        return {
            "directory": self.directory,
            "every_n_epochs": self.every_n_epochs,
            "num_samples": self.num_samples,
            "rows": self.rows,
            "samples_per_class": self.samples_per_class,
            "seed": self.seed,
            "value_range": self.value_range,
            "prefix": self.prefix,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> SampleGrid:
        return cls(**config)

    def samples(self, model: Any = None) -> tuple[np.ndarray, int, list[str] | None]:
        """The grid's images, its row count and its row labels (None: none)."""
        model = self.model if model is None else model
        num_classes = getattr(model, "num_classes", None)
        if num_classes and hasattr(model, "generate"):
            labels = np.repeat(np.arange(num_classes), self.samples_per_class)
            images = model.generate(labels, seed=self.seed)
            return (
                np.asarray(keras.ops.convert_to_numpy(images)),
                num_classes,
                [f"class {k}" for k in range(num_classes)],
            )
        for method in ("generate", "sample"):
            if callable(getattr(model, method, None)):
                images = getattr(model, method)(self.num_samples, seed=self.seed)
                return np.asarray(keras.ops.convert_to_numpy(images)), self.rows, None
        raise ValueError(
            "SampleGrid needs a model with generate(n, seed) (a GAN), "
            "generate(labels, seed) and num_classes (a conditional GAN) or "
            f"sample(n, seed) (a VAE). Received: {type(model).__name__}"
        )

    def save(self, epoch: int, model: Any = None) -> str:
        """Writes the grid of epoch ``epoch`` (counted from 1) and returns its path."""
        images, rows, row_labels = self.samples(model)
        path = os.path.join(self.directory, f"{self.prefix}_epoch_{epoch:03d}.png")
        name = getattr(model if model is not None else self.model, "name", "model")
        save_image_grid(
            images,
            path,
            rows,
            title=f"{name}, epoch {epoch} (seed {self.seed})",
            row_labels=row_labels,
            value_range=self.value_range,
        )
        self.paths.append(path)
        logger.info("SampleGrid: wrote %s", path)
        return path

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if (epoch + 1) % self.every_n_epochs == 0:
            self.save(epoch + 1)
