import importlib.util
import os

import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "autoencoders.py"
)


def _load():
    spec = importlib.util.spec_from_file_location("autoencoders", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_autoencoders_example_quick(tmp_path):
    example = _load()
    results = example.main(
        code_sizes=(2,),
        epochs=15,
        pretrain_epochs=3,
        finetune_epochs=20,
        draws=1,
        output_dir=str(tmp_path),
        verbose=False,
    )
    # At a 2-number code the non-linear autoencoder beats PCA.
    assert results["pca"][2]["autoencoder"] < results["pca"][2]["pca"]
    denoising = results["denoising"]
    assert denoising["psnr_denoised"] > denoising["psnr_noisy"] + 3.0
    for values in results["few_label"].values():
        assert all(0.0 <= v <= 1.0 for v in values)
    assert "PCA MSE" in example.format_tables(results)
    for path in results["figures"].values():
        assert os.path.getsize(path) > 5000, path
