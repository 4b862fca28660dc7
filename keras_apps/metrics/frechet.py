"""The Fréchet distance between two Gaussians fitted to features (keras.ops).

``d^2 = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))`` (Dowson &
Landau 1982), the formula of the FID (Heusel et al. 2017). The trace of the
matrix square root is computed without `scipy.linalg.sqrtm`: with
``A = S_a^(1/2)`` (symmetric, from an eigendecomposition), ``S_a S_b`` is
similar to the symmetric positive semi-definite ``A S_b A``, so
``Tr((S_a S_b)^(1/2))`` is the sum of the square roots of its eigenvalues
(as TF-GAN's ``trace_sqrt_product`` does). Only ``keras.ops`` are used, so it
runs on every backend; it computes in float64 where the backend allows it
(on JAX only with ``jax_enable_x64``, float32 otherwise).
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops


def statistics_dtype() -> str:
    """float64, or float32 on JAX without ``jax_enable_x64``."""
    if keras.backend.backend() == "jax":
        import jax

        enabled = bool(getattr(jax.config, "jax_enable_x64", False))
        return "float64" if enabled else "float32"
    return "float64"


def feature_statistics(features: Any) -> tuple[Any, Any]:
    """Mean and (unbiased, ``n - 1``) covariance of ``(n, d)`` features.

    Example:

    >>> import numpy as np
    >>> from keras_apps.metrics import feature_statistics
    >>> mean, cov = feature_statistics(np.array([[0.0, 1.0], [2.0, 3.0]]))
    >>> np.asarray(mean).tolist(), np.asarray(cov).tolist()
    ([1.0, 2.0], [[2.0, 2.0], [2.0, 2.0]])
    """
    x = ops.convert_to_tensor(features, dtype=statistics_dtype())
    if len(x.shape) != 2 or x.shape[0] is not None and x.shape[0] < 2:
        raise ValueError(
            "Expected features of shape (n, d) with n >= 2. "
            f"Received: features of shape {tuple(x.shape)}"
        )
    n = ops.cast(ops.shape(x)[0], x.dtype)
    mean = ops.mean(x, axis=0)
    centered = x - mean
    cov = ops.matmul(ops.transpose(centered), centered) / (n - 1.0)
    return mean, cov


def _symmetric_sqrt(matrix: Any) -> Any:
    values, vectors = ops.eigh(matrix)
    roots = ops.sqrt(ops.maximum(values, 0.0))
    return ops.matmul(vectors * roots[None, :], ops.transpose(vectors))


def frechet_distance_from_moments(
    mean_a: Any, cov_a: Any, mean_b: Any, cov_b: Any
) -> Any:
    """The Fréchet distance between N(mean_a, cov_a) and N(mean_b, cov_b).

    Returns the squared distance ``d^2`` as FID does (clipped at 0 against
    rounding), a scalar tensor.

    Example:

    >>> import numpy as np
    >>> from keras_apps.metrics import frechet_distance_from_moments
    >>> eye = np.eye(2)
    >>> float(frechet_distance_from_moments([0.0, 0.0], eye, [3.0, 4.0], eye))
    25.0
    """
    dtype = statistics_dtype()
    mean_a = ops.convert_to_tensor(mean_a, dtype=dtype)
    mean_b = ops.convert_to_tensor(mean_b, dtype=dtype)
    cov_a = ops.convert_to_tensor(cov_a, dtype=dtype)
    cov_b = ops.convert_to_tensor(cov_b, dtype=dtype)
    if (
        len(mean_a.shape) != 1
        or tuple(mean_a.shape) != tuple(mean_b.shape)
        or tuple(cov_a.shape) != (mean_a.shape[0],) * 2
        or tuple(cov_b.shape) != tuple(cov_a.shape)
    ):
        raise ValueError(
            "Expected means of shape (d,) and covariances of shape (d, d). "
            f"Received: mean_a {tuple(mean_a.shape)}, cov_a {tuple(cov_a.shape)}, "
            f"mean_b {tuple(mean_b.shape)}, cov_b {tuple(cov_b.shape)}"
        )
    root_a = _symmetric_sqrt(cov_a)
    middle = ops.matmul(ops.matmul(root_a, cov_b), root_a)
    middle = 0.5 * (middle + ops.transpose(middle))
    eigenvalues, _ = ops.eigh(middle)
    trace_sqrt = ops.sum(ops.sqrt(ops.maximum(eigenvalues, 0.0)))
    distance = (
        ops.sum(ops.square(mean_a - mean_b))
        + ops.trace(cov_a)
        + ops.trace(cov_b)
        - 2.0 * trace_sqrt
    )
    return ops.maximum(distance, 0.0)


def frechet_distance(features_a: Any, features_b: Any) -> Any:
    """The Fréchet distance between Gaussians fitted to two feature sets.

    Args:
        features_a: ``(n_a, d)`` features, for example of real images.
        features_b: ``(n_b, d)`` features, for example of generated images.

    Example:

    >>> import numpy as np
    >>> from keras_apps.metrics import frechet_distance
    >>> x = np.random.default_rng(0).normal(size=(500, 3))
    >>> float(frechet_distance(x, x)) < 1e-9
    True
    >>> round(float(frechet_distance(x, x + 2.0)), 6)  # 3 axes shifted by 2
    12.0

    Reference:
        Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule
        Converge to a Local Nash Equilibrium", https://arxiv.org/abs/1706.08500
    """
    mean_a, cov_a = feature_statistics(features_a)
    mean_b, cov_b = feature_statistics(features_b)
    return frechet_distance_from_moments(mean_a, cov_a, mean_b, cov_b)
