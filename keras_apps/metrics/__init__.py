"""Metrics: IoU and Dice for segmentation, sample quality for generative models.

They arrive with the U-Net and GAN work; see DESIGN.md.
"""

from keras_apps.metrics.dice import Dice
from keras_apps.metrics.frechet import (
    feature_statistics,
    frechet_distance,
    frechet_distance_from_moments,
)
from keras_apps.metrics.frechet_classifier_distance import FrechetClassifierDistance
from keras_apps.metrics.iou import IoU
from keras_apps.metrics.sample_class_accuracy import SampleClassAccuracy
from keras_apps.metrics.sample_classifier import (
    build_sample_classifier,
    train_sample_classifier,
)

__all__: list[str] = []
__all__ += [
    "FrechetClassifierDistance",
    "SampleClassAccuracy",
    "feature_statistics",
    "frechet_distance",
    "frechet_distance_from_moments",
    "build_sample_classifier",
    "train_sample_classifier",
]
__all__ += ["Dice", "IoU"]
