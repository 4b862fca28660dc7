"""Losses (StyleContentLoss, total variation, segmentation losses).

They arrive with the style-transfer and UNet work; see DESIGN.md.
"""

from keras_apps.losses.style_content_loss import StyleContentLoss
from keras_apps.losses.total_variation import total_variation

__all__: list[str] = ["StyleContentLoss", "total_variation"]
