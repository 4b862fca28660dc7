import importlib.util
import os
import sys

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


@pytest.mark.slow
def test_segmentation_example_quick_run(tmp_path):
    example = _load_example()
    report = example.main(quick=True, output_dir=str(tmp_path), verbose=False)
    result = report["segmentation"]
    assert 0.0 <= result.mean_iou <= 1.0 and 0.0 <= result.mean_dice <= 1.0
    assert list(result.per_class_iou) == list(example.CLASS_NAMES)
    assert result.epochs == 2 and len(result.history["loss"]) == 2
    overlay = tmp_path / "segmentation_overlays.png"
    assert report["files"] == [overlay]
    assert overlay.stat().st_size > 20_000  # a real figure, not an empty canvas
    assert "mean IoU" in example.format_segmentation(result)
