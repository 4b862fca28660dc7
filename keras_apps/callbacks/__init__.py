"""Keras callbacks shipped with keras-apps."""

from keras_apps.callbacks.gradual_unfreezing import GradualUnfreezing

__all__: list[str] = ["GradualUnfreezing"]
