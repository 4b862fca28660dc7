"""The one guard for parts of keras-apps that need the TensorFlow backend.

Everything backend-free runs on any Keras 3 backend. A few parts need
TensorFlow by nature (SavedModels, ``tf.GradientTape`` loops, custom
TensorFlow ``train_step``\\ s); they call `require_tensorflow` first, so a user
on JAX or PyTorch gets one clear error instead of a TensorFlow traceback.
"""

from __future__ import annotations

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
