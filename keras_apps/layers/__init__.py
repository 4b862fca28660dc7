"""Reusable, serializable Keras 3 layers (``keras.ops`` only, any backend).

Importing this package registers every layer for ``.keras`` deserialization.
"""

from keras_apps.layers.gram_matrix import GramMatrix
from keras_apps.layers.hub_backbone import HubBackbone, trust_saved_models
from keras_apps.layers.inception_block import InceptionBlock
from keras_apps.layers.local_response_normalization import LocalResponseNormalization
from keras_apps.layers.residual_unit import ResidualUnit
from keras_apps.layers.sampling import Sampling

__all__ = [
    "GramMatrix",
    "HubBackbone",
    "InceptionBlock",
    "LocalResponseNormalization",
    "ResidualUnit",
    "Sampling",
    "trust_saved_models",
]
