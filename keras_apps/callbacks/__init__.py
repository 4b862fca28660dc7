"""Keras callbacks shipped with keras-apps."""

from keras_apps.callbacks.gradual_unfreezing import GradualUnfreezing
from keras_apps.callbacks.kl_annealing import KLAnnealing
from keras_apps.callbacks.sample_grid import SampleGrid
from keras_apps.callbacks.sample_quality import SampleQuality

__all__: list[str] = ["GradualUnfreezing"]
__all__ += ["SampleGrid", "SampleQuality"]
__all__ += ["KLAnnealing"]
