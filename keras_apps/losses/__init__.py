"""Losses (StyleContentLoss, total variation, segmentation losses).

They arrive with the style-transfer and UNet work; see DESIGN.md.
"""

from keras_apps.losses.sparsity import kl_sparsity_penalty, l1_sparsity_penalty

__all__: list[str] = ["kl_sparsity_penalty", "l1_sparsity_penalty"]
