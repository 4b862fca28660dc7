"""examples/style_transfer.py --quick writes every promised PNG."""

import importlib.util
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "style_transfer.py"
)
PNGS = (
    "stylized.png",
    "texture.png",
    "reconstructions.png",
    "loss_curve.png",
    "fast_style_net.png",
)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="StyleTransfer's loop uses tf.GradientTape")
def test_style_transfer_example_quick(tmp_path):
    spec = importlib.util.spec_from_file_location("style_transfer_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    numbers = module.main(["--quick", "--output-dir", str(tmp_path)])
    for name in PNGS:
        assert os.path.getsize(tmp_path / name) > 5000, name
    first, last = numbers["stylize_loss"]
    assert last < first
    first, last = numbers["texture_style_loss"]
    assert last < first
    for layer in ("block2_conv2", "block4_conv2"):
        first, last = numbers[f"inversion_{layer}"]
        assert last < first, layer
    assert numbers["fast_style_net_loss"] > 0
