"""grad_cam: peaks on the evidence, through a nested backbone, as computed by hand."""

import keras
import numpy as np
import pytest

from keras_apps.visualize import grad_cam

pytestmark = pytest.mark.requires_tensorflow(reason="gradients with tf.GradientTape")


@pytest.mark.parametrize("method", ["gradcam", "gradcam++"])
@pytest.mark.parametrize("nested", [True, False])
def test_heatmap_peaks_on_the_square(method, nested, vis):
    model = vis.square_detector(nested=nested)
    images = (0.1 * np.random.default_rng(0).random((3, 16, 16, 1))).astype("float32")
    corners = [(2, 9), (10, 3), (6, 6)]
    for image, (top, left) in zip(images, corners, strict=True):
        image[top : top + 3, left : left + 3] = 1.0
    heatmaps = grad_cam(model, "detector", images, class_index=1, method=method)
    assert heatmaps.shape == (3, 16, 16)
    assert heatmaps.max() == pytest.approx(1.0) and heatmaps.min() >= 0.0
    for heatmap, (top, left) in zip(heatmaps, corners, strict=True):
        peak = np.unravel_index(heatmap.argmax(), heatmap.shape)
        assert peak == (top + 1, left + 1)
        outside = heatmap.copy()
        outside[max(top - 1, 0) : top + 4, max(left - 1, 0) : left + 4] = 0.0
        assert outside.max() < 0.05


def test_grad_cam_equals_a_manual_computation_through_the_backbone(vis):
    import tensorflow as tf

    model = vis.small_cnn()
    images = np.random.default_rng(1).random((4, 12, 12, 3)).astype("float32")
    backbone = model.get_layer("backbone")
    head = keras.Sequential([model.layers[-2], model.layers[-1]])
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        activations = backbone(x)
        tape.watch(activations)
        scores = head(activations)
        chosen = tf.argmax(scores, axis=1)
        target = tf.gather(scores, chosen, axis=1, batch_dims=1)
    grads = tape.gradient(target, activations).numpy()
    weights = grads.mean(axis=(1, 2), keepdims=True)
    expected = np.maximum((weights * activations.numpy()).sum(-1), 0)
    peak = expected.max(axis=(1, 2), keepdims=True)
    expected = np.where(peak > 0, expected / np.where(peak > 0, peak, 1), 0)
    got = grad_cam(model, "conv2", images, upsample=False)  # predicted classes
    np.testing.assert_allclose(got, expected, atol=1e-5)
    same = grad_cam(
        model, "backbone/conv2", images, class_index=chosen.numpy().tolist()
    )
    assert same.shape == (4, 12, 12)


def test_errors(vis):
    model = vis.small_cnn()
    images = np.zeros((2, 12, 12, 3), "float32")
    with pytest.raises(ValueError, match=r"class_index in \[0, 3\)"):
        grad_cam(model, "conv2", images, class_index=3)
    with pytest.raises(ValueError, match="one class_index per image"):
        grad_cam(model, "conv2", images, class_index=[0])
    with pytest.raises(ValueError, match="method in"):
        grad_cam(model, "conv2", images, method="cam")
    with pytest.raises(ValueError, match="No layer named 'conv5'.*backbone/conv2"):
        grad_cam(model, "conv5", images)
    with pytest.raises(ValueError, match="Expected `images` of shape"):
        grad_cam(model, "conv2", np.zeros((2, 12, 12, 1)))
    with pytest.raises(ValueError, match="feature maps"):
        grad_cam(model, "head", images)
