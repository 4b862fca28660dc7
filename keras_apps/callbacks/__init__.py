"""Keras callbacks shipped with keras-apps."""

from keras_apps.callbacks.gradual_unfreezing import GradualUnfreezing
from keras_apps.callbacks.kl_annealing import KLAnnealing

__all__: list[str] = ["GradualUnfreezing", "KLAnnealing"]
