"""scikit-learn's digits for the examples, and the PSNR they report.

Shared by examples/autoencoders.py, examples/vae.py and
examples/segmentation.py (an example imports it after putting its own folder
on ``sys.path``).
"""

from __future__ import annotations

import numpy as np


def load_digits_01(seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(x_train, x_test, y_train, y_test)``: (n, 8, 8, 1) float32 in [0, 1].

    A stratified 75/25 split of the 1,797 digits, fixed by ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]
    return tuple(
        train_test_split(
            images,
            digits.target,
            test_size=0.25,
            random_state=seed,
            stratify=digits.target,
        )
    )


def psnr(clean: np.ndarray, other: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(np.mean((np.asarray(clean) - np.asarray(other)) ** 2))
    return 10.0 * np.log10(1.0 / mse)
