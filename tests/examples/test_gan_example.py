import importlib.util
import json
import os

import numpy as np
import pytest

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "gan.py")


def _load_example():
    spec = importlib.util.spec_from_file_location("gan_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="the example fits GANs (TensorFlow-first)")
def test_gan_example_quick_run_writes_its_figures_and_numbers(tmp_path):
    example = _load_example()
    assert example.main(["--quick", "--output-dir", str(tmp_path)]) == 0
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    reference = results["real_held_out"]
    assert reference["class_accuracy"] > 0.5  # the classifier learned digits
    assert 0 <= reference["frechet_distance"] < 50
    for name in ("DCGAN", "conditional GAN"):
        history = results["histories"][name]
        assert len(history["frechet_distance"]) == 2, name
        assert np.all(np.isfinite(history["frechet_distance"])), name
        assert np.all(np.isfinite(history["d_loss"] + history["g_loss"])), name
        assert len(results["sample_grids"][name]) == 2
    accuracy = results["histories"]["conditional GAN"]["class_accuracy"]
    assert all(0.0 <= a <= 1.0 for a in accuracy)
    for path in [
        "loss_curves.png",
        "sample_quality.png",
        "dcgan/samples_epoch_001.png",
        "dcgan/samples_epoch_002.png",
        "conditional/samples_epoch_002.png",
    ]:
        assert os.path.getsize(tmp_path / path) > 2000, path
