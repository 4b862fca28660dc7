"""Losses (StyleContentLoss, total variation, segmentation losses).

They arrive with the style-transfer and UNet work; see DESIGN.md.
"""

from keras_apps.losses.cross_entropy_dice_loss import CrossEntropyDiceLoss
from keras_apps.losses.dice_loss import DiceLoss

__all__ = [
    "CrossEntropyDiceLoss",
    "DiceLoss",
]
