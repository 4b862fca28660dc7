"""models.config through TF Serving's proto, and the batching parameters file."""

import os

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_apps.export import (
    read_batching_config,
    read_model_config,
    write_batching_config,
    write_model_config,
)


def test_model_config_round_trip(tmp_path):
    path = str(tmp_path / "models.config")
    written = write_model_config(
        path,
        [
            {"name": "digits", "base_path": "/models/digits"},
            {
                "name": "faces",
                "base_path": "/models/faces",
                "version_policy": "specific",
                "versions": [1, 2],
                "version_labels": {"stable": 1, "canary": 2},
            },
            {"name": "all", "base_path": "/models/all", "version_policy": "all"},
            {
                "name": "two",
                "base_path": "/models/two",
                "num_versions": 2,
                "version_labels": {"stable": 7},
            },
        ],
    )
    parsed = read_model_config(path)
    assert parsed == written
    with open(path) as handle:  # the proto's own parser accepts the file
        text_format.Parse(handle.read(), model_server_config_pb2.ModelServerConfig())
    configs = parsed.model_config_list.config
    assert [c.name for c in configs] == ["digits", "faces", "all", "two"]
    assert configs[0].base_path == "/models/digits"
    assert configs[0].model_platform == "tensorflow"
    assert configs[0].model_version_policy.latest.num_versions == 1
    assert list(configs[1].model_version_policy.specific.versions) == [1, 2]
    assert dict(configs[1].version_labels) == {"stable": 1, "canary": 2}
    assert configs[2].model_version_policy.WhichOneof("policy_choice") == "all"
    assert configs[3].model_version_policy.latest.num_versions == 2
    assert os.listdir(tmp_path) == ["models.config"]  # no temp file left


@pytest.mark.parametrize(
    "models, match",
    [
        ([], "non-empty list"),
        ({"name": "a", "base_path": "/a"}, "non-empty list"),
        (["a"], "to be a dict"),
        ([{"base_path": "/a"}], r"\['name'\]"),
        ([{"name": "a b", "base_path": "/a"}], r"\['name'\]"),
        ([{"name": "a"}], "base_path"),
        ([{"name": "a", "base_path": "/a", "colour": 1}], "unknown keys"),
        ([{"name": "a", "base_path": "/a", "version_policy": "newest"}], "one of"),
        ([{"name": "a", "base_path": "/a", "version_policy": "specific"}], "non-empty"),
        (
            [{"name": "a", "base_path": "/a", "versions": [1]}],
            "only goes with version_policy 'specific'",
        ),
        ([{"name": "a", "base_path": "/a", "num_versions": 0}], ">= 1"),
        (
            [
                {
                    "name": "a",
                    "base_path": "/a",
                    "version_policy": "specific",
                    "versions": [1, 0],
                }
            ],
            ">= 1",
        ),
        (
            [
                {
                    "name": "a",
                    "base_path": "/a",
                    "version_policy": "specific",
                    "versions": [1],
                    "version_labels": {"stable": 2},
                }
            ],
            "does not load",
        ),
        ([{"name": "a", "base_path": "/a", "version_labels": {"1x": 1}}], "labels"),
        ([{"name": "a", "base_path": "/a"}, {"name": "a", "base_path": "/b"}], "twice"),
    ],
)
def test_model_config_errors(tmp_path, models, match):
    path = tmp_path / "models.config"
    with pytest.raises((ValueError, TypeError), match=match):
        write_model_config(str(path), models)
    assert not path.exists()


def test_batching_config_round_trip(tmp_path):
    path = str(tmp_path / "batching.config")
    text = write_batching_config(
        path,
        max_batch_size=16,
        batch_timeout_micros=500,
        max_enqueued_batches=50,
        num_batch_threads=2,
        allowed_batch_sizes=[4, 8, 16],
        pad_variable_length_inputs=True,
    )
    with open(path) as handle:
        assert handle.read() == text
    assert text.splitlines() == [
        "max_batch_size { value: 16 }",
        "batch_timeout_micros { value: 500 }",
        "max_enqueued_batches { value: 50 }",
        "num_batch_threads { value: 2 }",
        "allowed_batch_sizes: 4",
        "allowed_batch_sizes: 8",
        "allowed_batch_sizes: 16",
        "pad_variable_length_inputs: true",
    ]
    assert read_batching_config(path) == {
        "max_batch_size": 16,
        "batch_timeout_micros": 500,
        "max_enqueued_batches": 50,
        "num_batch_threads": 2,
        "allowed_batch_sizes": [4, 8, 16],
        "pad_variable_length_inputs": True,
    }
    write_batching_config(path)  # defaults, no allowed sizes
    assert "allowed_batch_sizes" not in read_batching_config(path)
    assert os.listdir(tmp_path) == ["batching.config"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_batch_size": 0}, "max_batch_size"),
        ({"batch_timeout_micros": -1}, "batch_timeout_micros"),
        ({"num_batch_threads": 1.5}, "num_batch_threads"),
        ({"max_enqueued_batches": True}, "max_enqueued_batches"),
        ({"max_batch_size": 8, "allowed_batch_sizes": [4, 2, 8]}, "increasing"),
        (
            {"max_batch_size": 8, "allowed_batch_sizes": [2, 4]},
            "to equal max_batch_size",
        ),
        ({"allowed_batch_sizes": [0, 32]}, "allowed_batch_sizes"),
        ({"pad_variable_length_inputs": "yes"}, "True or False"),
    ],
)
def test_batching_config_errors(tmp_path, kwargs, match):
    path = tmp_path / "batching.config"
    with pytest.raises(ValueError, match=match):
        write_batching_config(str(path), **kwargs)
    assert not path.exists()


@pytest.mark.parametrize(
    "text, match",
    [
        ("max_batch_size { value: 8 }\nbatch_size: 3\n", "not a batching parameter"),
        ("max_batch_size { value: 0 }\n", "max_batch_size"),
        ("pad_variable_length_inputs: maybe\n", "true or false"),
        ("max_batch_size { value: 8 }\nallowed_batch_sizes: 4\n", "to equal"),
    ],
)
def test_read_batching_config_rejects_bad_files(tmp_path, text, match):
    path = tmp_path / "batching.config"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        read_batching_config(str(path))


def test_temp_files_of_dead_writes_are_removed(tmp_path):
    import fcntl
    import subprocess
    import sys

    from keras_apps.export.files import work_dir_name

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    own = work_dir_name(".keras-apps-tmp")
    dead = own.replace(f"-{os.getpid()}-", f"-{child.pid}-")
    (tmp_path / f".models.config.{dead}").write_text("half")
    (tmp_path / f".models.config.{own}").write_text("a live writer's")
    # A live writer holds a lock on its file; the dead one's lock is gone.
    with open(tmp_path / f".models.config.{own}") as live:
        fcntl.flock(live.fileno(), fcntl.LOCK_SH)
        write_model_config(
            str(tmp_path / "models.config"), [{"name": "a", "base_path": "/a"}]
        )
    assert sorted(os.listdir(tmp_path)) == [f".models.config.{own}", "models.config"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "models.config"
    write_model_config(str(path), [{"name": "a", "base_path": "/a"}])
    before = path.read_text()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        write_model_config(str(path), [{"name": "b", "base_path": "/b"}])
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["models.config"]
