"""Sparsity penalties on the code of an autoencoder (L1 and KL)."""

from __future__ import annotations

import keras

from keras_apps.types import Tensor

_EPSILON = 1e-7


def l1_sparsity_penalty(code: Tensor) -> Tensor:
    """The L1 norm of each example's code, averaged over the batch.

    ``mean_b sum_j |h_bj|``: added to the reconstruction loss it drives most
    code units to exactly zero for each example (Goodfellow et al. 2016,
    section 14.2.1).

    Args:
        code: Codes of shape ``(batch, ...)``.

    Returns:
        A scalar tensor.

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import l1_sparsity_penalty
    >>> code = np.array([[1.0, -2.0], [0.0, 3.0]], dtype="float32")
    >>> float(l1_sparsity_penalty(code))
    3.0
    """
    code = keras.ops.convert_to_tensor(code)
    flat = keras.ops.reshape(keras.ops.abs(code), (keras.ops.shape(code)[0], -1))
    return keras.ops.mean(keras.ops.sum(flat, axis=-1))


def kl_sparsity_penalty(code: Tensor, target: float = 0.05) -> Tensor:
    """``sum_j KL(rho || rho_hat_j)`` of the mean activation of each code unit.

    ``rho_hat_j`` is unit ``j``'s mean activation over the batch, which must
    lie in (0, 1) (a sigmoid code); ``rho`` is the target activation. The
    penalty is ``rho log(rho / rho_hat) + (1 - rho) log((1 - rho) / (1 -
    rho_hat))`` summed over units, zero when every unit is active on a
    fraction ``rho`` of the batch on average (Ng, "Sparse autoencoder",
    CS294A lecture notes, 2011). ``rho_hat`` is clipped to ``[1e-7, 1 -
    1e-7]``.

    Args:
        code: Codes of shape ``(batch, ...)`` with values in (0, 1).
        target: The target mean activation ``rho``, in (0, 1).

    Returns:
        A scalar tensor.

    Example:

    >>> import numpy as np
    >>> from keras_apps.losses import kl_sparsity_penalty
    >>> code = np.full((4, 3), 0.05, dtype="float32")
    >>> round(float(kl_sparsity_penalty(code, target=0.05)), 6)
    0.0
    """
    if not 0.0 < float(target) < 1.0:
        raise ValueError(
            f"Expected `target` in (0, 1), the mean activation wanted of each "
            f"code unit. Received: target={target!r}"
        )
    code = keras.ops.convert_to_tensor(code)
    flat = keras.ops.reshape(code, (keras.ops.shape(code)[0], -1))
    rho_hat = keras.ops.clip(keras.ops.mean(flat, axis=0), _EPSILON, 1.0 - _EPSILON)
    rho = keras.ops.cast(target, rho_hat.dtype)
    kl = rho * keras.ops.log(rho / rho_hat) + (1.0 - rho) * keras.ops.log(
        (1.0 - rho) / (1.0 - rho_hat)
    )
    return keras.ops.sum(kl)
