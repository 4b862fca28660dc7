"""Figures: files written, one axes per image or unit, clear errors."""

import numpy as np
import pytest

from keras_apps.visualize import (
    image_grid,
    plot_grad_cam,
    plot_top_patches,
    top_activating_patches,
)


def test_image_grid(tmp_path):
    path = tmp_path / "grid.png"
    images = np.random.default_rng(0).random((5, 8, 8, 3))
    figure = image_grid(images, rows=2, titles=[f"u{i}" for i in range(5)], path=path)
    assert len(figure.axes) == 5 and figure.axes[4].get_title() == "u4"
    assert path.stat().st_size > 1000
    assert len(image_grid([np.zeros((4, 4)), np.ones((6, 6, 1))], rows=1).axes) == 2
    with pytest.raises(ValueError, match="one title per image"):
        image_grid(images, rows=1, titles=["a"])
    with pytest.raises(ValueError, match="rows >= 1"):
        image_grid(images, rows=0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        image_grid(np.zeros((2, 4, 4, 5)), rows=1)


def test_plot_top_patches_has_a_row_per_layer(tmp_path, vis):
    model = vis.small_cnn()
    images = np.random.default_rng(0).random((12, 12, 12, 3)).astype("float32")
    result = top_activating_patches(model, ["conv1", "conv2"], images, units=3, k=4)
    path = tmp_path / "zf.png"
    figure = plot_top_patches(result, path, value_range=(0, 1), title="top patches")
    assert len(figure.axes) == 6
    assert figure.axes[0].get_ylabel() == "conv1\nRF 3x3"
    assert figure.axes[3].get_ylabel() == "conv2\nRF 8x8"
    assert path.stat().st_size > 1000
    assert len(plot_top_patches(result["conv2"]).axes) == 3
    with pytest.raises(ValueError, match="TopPatches"):
        plot_top_patches([1, 2])


def test_plot_grad_cam(tmp_path):
    path = tmp_path / "sub" / "cam.png"
    figure = plot_grad_cam(np.random.rand(16, 16, 3), np.random.rand(4, 4), path)
    assert len(figure.axes) == 3 and path.stat().st_size > 1000
    with pytest.raises(ValueError, match=r"one heatmap of shape \(H, W\)"):
        plot_grad_cam(np.zeros((8, 8)), np.zeros((2, 8, 8)))
