"""Losses (StyleContentLoss, total variation, segmentation losses).

They arrive with the style-transfer and UNet work; see DESIGN.md.
"""

__all__: list[str] = []
