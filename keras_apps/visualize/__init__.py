"""CNN interpretation: receptive fields, top activating patches (Zeiler & Fergus
2014), feature maps, activation maximization, feature inversion (Mahendran &
Vedaldi 2015), Grad-CAM and the figures that show them.

Every function finds layers at any depth, also inside a backbone nested in a
classifier (``"conv3"`` or the path ``"backbone/conv3"``). The receptive-field
arithmetic, the patch search, feature maps and the figures run on every
backend; the gradient-based functions (`activation_maximization`,
`invert_features`, `grad_cam`) use ``tf.GradientTape`` and need the
TensorFlow backend. matplotlib is imported only by the plotting functions.
"""

# Imported eagerly: several modules share their function's name, and a lazy
# name would be shadowed by its submodule once another module imports it.
from keras_apps.models.style_transfer import invert_features
from keras_apps.visualize.activation_maximization import activation_maximization
from keras_apps.visualize.features import feature_maps
from keras_apps.visualize.grad_cam import grad_cam
from keras_apps.visualize.plots import image_grid, plot_grad_cam, plot_top_patches
from keras_apps.visualize.receptive_field import ReceptiveField, receptive_field
from keras_apps.visualize.top_patches import TopPatches, top_activating_patches

__all__ = [
    "ReceptiveField",
    "TopPatches",
    "activation_maximization",
    "feature_maps",
    "grad_cam",
    "image_grid",
    "invert_features",
    "plot_grad_cam",
    "plot_top_patches",
    "receptive_field",
    "top_activating_patches",
]
