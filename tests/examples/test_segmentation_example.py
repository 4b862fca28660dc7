import importlib.util
import json
import os
import sys

import numpy as np
import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "segmentation.py"
)


def _load_example():
    spec = importlib.util.spec_from_file_location("segmentation_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_generated_shapes_match_their_labels():
    example = _load_example()
    images, labels = example.make_shapes(12, size=48, seed=3)
    assert images.shape == (12, 48, 48, 3) and labels.shape == (12, 48, 48)
    assert images.min() >= 0.0 and images.max() <= 1.0
    assert set(labels.ravel().tolist()) <= {0, 1, 2, 3}
    # Every image holds at least one shape, and all three classes occur.
    assert all((labels[i] > 0).any() for i in range(12))
    assert {1, 2, 3} <= set(labels.ravel().tolist())
    again, again_labels = example.make_shapes(12, size=48, seed=3)
    assert (again == images).all() and (again_labels == labels).all()


def test_generated_shapes_are_whole_and_apart():
    from scipy import ndimage

    example = _load_example()
    _, labels = example.make_shapes(40, size=48, seed=5)
    for label in labels:
        shapes = label > 0
        # Inside the frame: no shape pixel on the border.
        assert not (shapes[0].any() or shapes[-1].any())
        assert not (shapes[:, 0].any() or shapes[:, -1].any())
        # Apart: each connected blob holds one class, and a class grown by
        # one pixel still misses the others (two pixels or more between).
        blobs, count = ndimage.label(shapes, np.ones((3, 3)))
        for blob in range(1, count + 1):
            assert len(set(label[blobs == blob].tolist())) == 1
        for kind in (1, 2, 3):
            grown = ndimage.binary_dilation(label == kind, np.ones((3, 3)))
            assert not (grown & shapes & (label != kind)).any()


def test_fast_background_blotches_equal_scipy_zoom():
    from scipy.ndimage import zoom

    example = _load_example()
    coarse = np.random.default_rng(0).normal(0, 0.1, (5, 5, 3))
    upsample = example._cubic_upsampling(5, 48)
    fast = np.einsum("yi,xj,ijc->yxc", upsample, upsample, coarse)
    np.testing.assert_allclose(fast, zoom(coarse, (9.6, 9.6, 1), order=3), atol=1e-12)


def test_dihedral_batches_turn_images_and_labels_together():
    example = _load_example()
    images, labels = example.make_shapes(8, size=16, seed=1)
    batches = example.DihedralBatches(images, labels, batch_size=4, seed=0)
    assert len(batches) == 2
    for index in range(len(batches)):
        batch_images, batch_labels = batches[index]
        rows = batches.order[index * 4 : (index + 1) * 4]
        matches = []
        for turns in range(4):
            for flip in (False, True):
                turned = np.rot90(images[rows], turns, (1, 2))
                turned_labels = np.rot90(labels[rows], turns, (1, 2))
                if flip:
                    turned, turned_labels = (
                        turned[:, :, ::-1],
                        turned_labels[:, :, ::-1],
                    )
                if np.array_equal(turned, batch_images):
                    matches.append((turns, flip))
                    np.testing.assert_array_equal(turned_labels, batch_labels)
        assert matches  # one of the eight transforms, the same for the labels
    batches.on_epoch_end()  # a new order every epoch
    assert sorted(batches.order.tolist()) == list(range(8))


def test_denoisers_have_the_same_weight_budget():
    example = _load_example()
    config = example.DenoisingConfig()
    autoencoder, unet = example.build_denoisers(config.unet_base_filters, 32)
    ae_weights, unet_weights = example._weights(autoencoder), unet.count_params()
    assert abs(ae_weights - unet_weights) <= 0.05 * unet_weights
    assert autoencoder.encoder.output_shape == (None, 32)  # its one bottleneck
    assert unet.output_shape == (None, 8, 8, 1)


@pytest.mark.slow
def test_segmentation_example_quick_run(tmp_path):
    example = _load_example()
    report = example.main(quick=True, output_dir=str(tmp_path), verbose=False)
    result = report["segmentation"]
    assert 0.0 <= result.mean_iou <= 1.0 and 0.0 <= result.mean_dice <= 1.0
    assert list(result.per_class_iou) == list(example.CLASS_NAMES)
    assert result.epochs == 1 and len(result.history["val_iou"]) == 1
    assert "mean IoU" in example.format_segmentation(result)
    names = [
        "segmentation_overlays.png",
        "segmentation.json",
        "denoising_comparison.png",
        "denoising_psnr.json",
    ]
    assert report["files"] == [tmp_path / name for name in names]
    for png in ("segmentation_overlays.png", "denoising_comparison.png"):
        assert (tmp_path / png).stat().st_size > 10_000  # a figure, not a canvas
    assert json.loads((tmp_path / "segmentation.json").read_text())["mean_iou"] == (
        pytest.approx(result.mean_iou)
    )
    table = report["denoising"]
    assert json.loads((tmp_path / "denoising_psnr.json").read_text()) == (
        json.loads(json.dumps(table))
    )
    assert list(table["psnr_db"]) == ["noisy input", "conv autoencoder", "U-Net"]
    assert all(np.isfinite(v) for v in table["psnr_db"].values())
    weights = table["parameters"]
    assert abs(weights["conv autoencoder"] - weights["U-Net"]) <= 0.1 * weights["U-Net"]
    text = example.format_denoising(table)
    assert "PSNR" in text and f"{weights['U-Net']:,}" in text
