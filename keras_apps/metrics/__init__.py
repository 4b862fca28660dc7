"""Metrics: IoU and Dice for segmentation, sample quality for generative models.

They arrive with the U-Net and GAN work; see DESIGN.md.
"""

from keras_apps.metrics.dice import Dice
from keras_apps.metrics.iou import IoU

__all__ = [
    "Dice",
    "IoU",
]
