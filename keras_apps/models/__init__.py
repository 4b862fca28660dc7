"""Models built from keras-apps layers. Importing registers them for loading."""

from keras_apps.models.googlenet import GoogLeNet
from keras_apps.models.preact_resnet import PreActResNet
from keras_apps.models.unet import UNet

__all__ = ["GoogLeNet", "PreActResNet", "UNet"]
