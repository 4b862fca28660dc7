"""Models built from keras-apps layers. Importing registers them for loading."""

from keras_apps.models.googlenet import GoogLeNet
from keras_apps.models.preact_resnet import PreActResNet

__all__ = ["GoogLeNet", "PreActResNet"]
