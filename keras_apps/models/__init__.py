"""Models built from keras-apps layers. Importing registers them for loading."""

from keras_apps.models.autoencoder import Autoencoder
from keras_apps.models.autoencoder_builders import conv_autoencoder, dense_autoencoder
from keras_apps.models.conditional_gan import ConditionalGAN
from keras_apps.models.dcgan import dcgan_discriminator, dcgan_generator
from keras_apps.models.denoising_autoencoder import DenoisingAutoencoder
from keras_apps.models.fast_style_net import FastStyleNet
from keras_apps.models.gan import GAN
from keras_apps.models.googlenet import GoogLeNet
from keras_apps.models.preact_resnet import PreActResNet
from keras_apps.models.style_transfer import (
    StyleTransfer,
    StyleTransferResult,
    invert_features,
    synthesize_texture,
)
from keras_apps.models.unet import UNet
from keras_apps.models.vae import VAE
from keras_apps.models.wgan_gp import WGANGP

__all__ = [
    "FastStyleNet",
    "GoogLeNet",
    "PreActResNet",
    "StyleTransfer",
    "StyleTransferResult",
    "invert_features",
    "synthesize_texture",
]
__all__ += ["GAN", "ConditionalGAN", "WGANGP", "dcgan_generator", "dcgan_discriminator"]
__all__ += [
    "Autoencoder",
    "DenoisingAutoencoder",
    "VAE",
    "conv_autoencoder",
    "dense_autoencoder",
]
__all__ += ["UNet"]
