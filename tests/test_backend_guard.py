"""The one TensorFlow-backend guard: silent on TensorFlow, a clear error elsewhere."""

import keras
import pytest

from keras_apps._backend import require_tensorflow


def test_guard_names_what_why_and_the_fix():
    if keras.backend.backend() == "tensorflow":
        assert require_tensorflow("Thing", "reads SavedModels") is None
        return
    with pytest.raises(NotImplementedError) as info:
        require_tensorflow("Thing", "reads SavedModels")
    message = str(info.value)
    assert message.startswith("Thing reads SavedModels and needs the TensorFlow")
    assert f"backend={keras.backend.backend()!r}" in message
    assert "KERAS_BACKEND=tensorflow" in message
