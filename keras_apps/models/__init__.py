"""Models built from keras-apps layers. Importing registers them for loading."""

from keras_apps.models.autoencoder import Autoencoder
from keras_apps.models.autoencoder_builders import conv_autoencoder, dense_autoencoder
from keras_apps.models.denoising_autoencoder import DenoisingAutoencoder
from keras_apps.models.googlenet import GoogLeNet
from keras_apps.models.preact_resnet import PreActResNet
from keras_apps.models.vae import VAE

__all__ = [
    "Autoencoder",
    "DenoisingAutoencoder",
    "GoogLeNet",
    "PreActResNet",
    "VAE",
    "conv_autoencoder",
    "dense_autoencoder",
]
