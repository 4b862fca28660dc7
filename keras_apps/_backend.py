"""The one guard for parts of keras-apps that need the TensorFlow backend.

Everything backend-free runs on any Keras 3 backend. A few parts need
TensorFlow by nature (SavedModels, ``tf.GradientTape`` loops, custom
TensorFlow ``train_step``\\ s); they call `require_tensorflow` first, so a user
on JAX or PyTorch gets one clear error instead of a TensorFlow traceback.
"""

from __future__ import annotations

from typing import Any

import keras


def require_tensorflow(what: str, because: str) -> None:
    """Raises `NotImplementedError` unless the TensorFlow backend is active.

    Args:
        what: The public name that needs TensorFlow (``"StyleTransfer"``).
        because: Why, completing "``what`` ... and needs the TensorFlow
            backend" (``"optimises the image with tf.GradientTape"``).
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise NotImplementedError(
            f"{what} {because} and needs the TensorFlow backend. Received: "
            f"backend={backend!r}. Set KERAS_BACKEND=tensorflow."
        )


def num_replicas() -> int:
    """Replicas of the current `tf.distribute` strategy (1 off TensorFlow)."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is not None:
        return int(context.num_replicas_in_sync)
    return int(tf.distribute.get_strategy().num_replicas_in_sync)


def per_replica_seed(seed: Any) -> Any:
    """``seed`` folded with the replica id when several replicas draw.

    Under a `tf.distribute` strategy every replica runs the same step with
    the same (mirrored) seed state, so without this each replica would draw
    the same noise for its part of the batch. On one device, and on backends
    that draw for the global batch at once (JAX ``DataParallel``), the seed
    is returned as it is.
    """
    if num_replicas() == 1:
        return seed
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    replica = 0 if context is None else context.replica_id_in_sync_group
    return tf.random.experimental.stateless_fold_in(
        tf.cast(seed, "int64"), tf.cast(replica, "int64")
    )
