"""examples/export_model.py runs end to end (one epoch)."""

import importlib.util
import os
import re

from keras_apps.export import list_versions, read_model_config

EXAMPLE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
    "examples",
    "export_model.py",
)


def test_example_writes_a_servable_model_folder(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("export_model_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--output", str(tmp_path), "--epochs", "1"])
    out = capsys.readouterr().out
    models = tmp_path / "models"
    assert list_versions(str(models / "digits")) == [1]
    assert sorted(os.listdir(models)) == ["batching.config", "digits", "models.config"]
    config = read_model_config(str(models / "models.config"))
    assert dict(config.model_config_list.config[0].version_labels) == {"stable": 1}
    assert "signature 'serving_image_bytes':" in out
    assert "warmup records read back: 4" in out
    diff = re.search(r"max abs diff to the in-memory model (\S+)", out)
    assert diff is not None and float(diff[1]) < 1e-5
