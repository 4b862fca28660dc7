"""Metrics: IoU and Dice for segmentation, sample quality for generative models.

They arrive with the U-Net and GAN work; see DESIGN.md.
"""

__all__: list[str] = []
