import importlib.util
import os

import pytest

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def _load(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(EXAMPLES, f"{name}.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_vae_example_quick(tmp_path):
    results = _load("vae").main(
        epochs=3, warmup_epochs=1, output_dir=str(tmp_path), verbose=False
    )
    # The held-out negative ELBO falls from its first epoch.
    assert results["val_loss"] < results["first_val_loss"]
    assert results["val_kl_loss"] > 0
    for name in ("curves", "latent", "samples", "interpolation"):
        assert os.path.getsize(results["figures"][name]) > 5000, name
