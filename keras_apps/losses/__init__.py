"""Losses (StyleContentLoss, total variation, segmentation losses).

They arrive with the style-transfer and UNet work; see DESIGN.md.
"""

from keras_apps.losses.adversarial import (
    gan_discriminator_loss,
    gan_generator_loss,
    gradient_penalty,
    interpolate,
    wasserstein_critic_loss,
    wasserstein_generator_loss,
)
from keras_apps.losses.cross_entropy_dice_loss import CrossEntropyDiceLoss
from keras_apps.losses.dice_loss import DiceLoss
from keras_apps.losses.sparsity import kl_sparsity_penalty, l1_sparsity_penalty
from keras_apps.losses.style_content_loss import StyleContentLoss
from keras_apps.losses.total_variation import total_variation

__all__: list[str] = ["StyleContentLoss", "total_variation"]
__all__ += [
    "gan_discriminator_loss",
    "gan_generator_loss",
    "gradient_penalty",
    "interpolate",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]
__all__ += ["kl_sparsity_penalty", "l1_sparsity_penalty"]
__all__ += ["CrossEntropyDiceLoss", "DiceLoss"]
