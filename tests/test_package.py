import subprocess
import sys

import keras
import pytest

from keras_apps import cli
from keras_apps.api_export import keras_apps_export


def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_import_keras_apps_is_cheap():
    loaded = _modules_after("import keras_apps")
    heavy = {"tensorflow", "keras", "grpc", "tensorflow_serving"} & loaded
    assert not heavy, f"import keras_apps loaded {sorted(heavy)}"


def test_a_process_that_only_spawns_a_server_does_not_load_tensorflow():
    # LocalModelServer.spawn runs the server in a child; the parent needs
    # grpcio for the client but not TensorFlow.
    loaded = _modules_after("from keras_apps.serving import LocalModelServer")
    assert "keras_apps.serving.server" in loaded
    heavy = {"tensorflow", "tensorflow_serving"} & loaded
    assert not heavy, f"importing LocalModelServer loaded {sorted(heavy)}"


def test_subpackages_load_on_attribute_access():
    loaded = _modules_after("import keras_apps; keras_apps.layers")
    assert "keras_apps.layers.gram_matrix" in loaded
    assert "grpc" not in loaded


def test_export_registers_under_keras_apps_package():
    @keras_apps_export("keras_apps.layers.ExportProbe")
    class ExportProbe(keras.layers.Layer):
        pass

    assert keras.saving.get_registered_name(ExportProbe) == "keras_apps>ExportProbe"
    assert keras.saving.get_registered_object("keras_apps>ExportProbe") is ExportProbe


@pytest.mark.parametrize(
    "path, match",
    [
        ("other.layers.Thing", "starting with 'keras_apps.'"),
        ("keras_apps.layers.Wrong", "name"),
    ],
)
def test_export_rejects_bad_paths(path, match):
    with pytest.raises(ValueError, match=match):

        @keras_apps_export(path)
        class Thing:
            pass


def test_cli_version(capsys):
    from keras_apps import __version__

    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.strip() == __version__
