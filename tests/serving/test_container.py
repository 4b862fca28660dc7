"""tf_serving_command, the docker check, `keras-apps serve --docker` and deploy/."""

from __future__ import annotations

import shlex
import stat
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from keras_apps import cli
from keras_apps.serving.container import (
    check_docker,
    publish_warning,
    tf_serving_command,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def test_one_model_gpu_command():
    assert tf_serving_command("digits", "/srv/models/digits") == [
        "docker",
        "run",
        "--rm",
        "--gpus",
        "all",
        "-p",
        "127.0.0.1:8500:8500",
        "-p",
        "127.0.0.1:8501:8501",
        "--mount",
        "type=bind,source=/srv/models/digits,target=/models/digits,readonly",
        "-e",
        "MODEL_NAME=digits",
        "tensorflow/serving:latest-gpu",
        "--enable_model_warmup=true",
        "--enable_serialization_as_tensor_content=true",
    ]


def test_config_file_batching_and_ports_command():
    command = tf_serving_command(
        model_config_file="/srv/models/models.config",
        grpc_port=9000,
        rest_port=9001,
        batching_parameters_file="/srv/batching.config",
        extra_args=["--rest_api_timeout_in_ms=5000"],
    )
    assert command == [
        "docker",
        "run",
        "--rm",
        "--gpus",
        "all",
        "-p",
        "127.0.0.1:9000:8500",
        "-p",
        "127.0.0.1:9001:8501",
        "--mount",
        "type=bind,source=/srv/models,target=/models,readonly",
        "--mount",
        "type=bind,source=/srv/batching.config,target=/config/batching.config,readonly",
        "tensorflow/serving:latest-gpu",
        "--model_config_file=/models/models.config",
        "--model_config_file_poll_wait_seconds=60",
        "--enable_batching=true",
        "--batching_parameters_file=/config/batching.config",
        "--enable_model_warmup=true",
        "--enable_serialization_as_tensor_content=true",
        "--rest_api_timeout_in_ms=5000",
    ]


def test_cpu_command_without_warmup_or_tensor_content(tmp_path):
    command = tf_serving_command(
        model_base_path=tmp_path / "mnist",
        gpu=False,
        enable_warmup=False,
        tensor_content=False,
    )
    assert command == [
        "docker",
        "run",
        "--rm",
        "-p",
        "127.0.0.1:8500:8500",
        "-p",
        "127.0.0.1:8501:8501",
        "--mount",
        f"type=bind,source={tmp_path / 'mnist'},target=/models/mnist,readonly",
        "-e",
        "MODEL_NAME=mnist",
        "tensorflow/serving:latest",
    ]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "either model_base_path"),
        (
            {"model_base_path": "/m", "model_config_file": "/c/models.config"},
            "either model_base_path",
        ),
        ({"model_name": "a", "model_config_file": "/c/models.config"}, "model_name"),
        ({"model_base_path": "/m", "grpc_port": 0}, "grpc_port must be in"),
        ({"model_base_path": "/m", "rest_port": 8500}, "must differ"),
        ({"model_base_path": "/m", "model_name": ".."}, "Received: model_name='..'"),
        ({"model_base_path": "/srv/.."}, "Received: model_name='..'"),
        ({"model_base_path": "/m", "model_name": "a/b"}, "model_name='a/b'"),
        ({"model_base_path": "/m", "model_name": "a\\b"}, "ASCII letters"),
        ({"model_base_path": "/m", "publish_host": ""}, "publish_host"),
        ({"model_base_path": "/a,b/m"}, "cannot contain ','"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        tf_serving_command(**kwargs)


def _fake_docker(tmp_path: Path, info_ok: bool) -> Path:
    """A docker client stand-in: `info` succeeds or fails like a missing engine."""
    script = tmp_path / "docker"
    log = tmp_path / "docker.log"
    info = (
        "echo 'Server Version: 28.2.2'; exit 0"
        if info_ok
        # As the real client: its own report on stdout, the reason on stderr.
        else "printf 'Client:\\n Version: 28.2.2\\n\\nServer:\\n'; "
        "echo 'Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?' >&2; exit 1"
    )
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = info ]; then {info}; fi\n'
        f'printf "%s\\n" "$@" > "{log}"\n'
        "exit 0\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return script


def test_check_docker_reports_a_missing_engine(tmp_path):
    problem = check_docker(str(_fake_docker(tmp_path, info_ok=False)))
    assert problem is not None
    assert "Docker engine is not reachable" in problem
    assert "Cannot connect to the Docker daemon" in problem


def test_check_docker_reports_a_missing_client(tmp_path):
    problem = check_docker(str(tmp_path / "no-docker-here"))
    assert problem is not None and "was not found on PATH" in problem


def test_check_docker_accepts_a_working_engine(tmp_path):
    assert check_docker(str(_fake_docker(tmp_path, info_ok=True))) is None


def test_serve_docker_says_clearly_when_the_engine_is_missing(tmp_path, capsys):
    docker = _fake_docker(tmp_path, info_ok=False)
    code = cli.main(
        [
            "serve",
            "--docker",
            "--docker-binary",
            str(docker),
            "--model-name",
            "digits",
            "--model-base-path",
            str(tmp_path / "digits"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "Docker engine is not reachable" in err
    assert "tensorflow/serving:latest-gpu" in err  # the command it would have run
    assert not (tmp_path / "docker.log").exists()


def test_serve_docker_runs_the_command(tmp_path):
    docker = _fake_docker(tmp_path, info_ok=True)
    args = ["--model-name", "digits", "--model-base-path", str(tmp_path / "digits")]
    code = cli.main(["serve", "--docker", "--docker-binary", str(docker), *args])
    assert code == 0
    ran = (tmp_path / "docker.log").read_text().splitlines()
    expected = tf_serving_command("digits", tmp_path / "digits", docker=str(docker))[1:]
    assert ran == expected


def test_serve_docker_dry_run_prints_the_command(tmp_path, capsys):
    code = cli.main(
        [
            "serve",
            "--docker",
            "--dry-run",
            "--no-gpu",
            "--port",
            "9500",
            "--model-base-path",
            str(tmp_path / "digits"),
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "docker run --rm -p 127.0.0.1:9500:8500 -p 127.0.0.1:8501:8501 --mount "
    )
    assert "tensorflow/serving:latest " in out


def _dry_run(tmp_path, *flags: str) -> list[str]:
    return [
        "serve",
        "--docker",
        "--dry-run",
        "--model-base-path",
        str(tmp_path / "digits"),
        *flags,
    ]


def test_serve_docker_publish_host_opens_the_ports_with_a_loud_warning(
    tmp_path, capsys
):
    code = cli.main(_dry_run(tmp_path, "--publish-host", "0.0.0.0", "--port", "9500"))
    assert code == 0
    captured = capsys.readouterr()
    assert "-p 0.0.0.0:9500:8500 -p 0.0.0.0:8501:8501 --mount " in captured.out
    assert captured.err.startswith("WARNING: TF Serving's gRPC port 9500 and REST")
    assert "every interface of this host" in captured.err
    assert "no authentication" in captured.err
    code = cli.main(_dry_run(tmp_path, "--publish-host", "10.1.2.3"))
    assert code == 0
    captured = capsys.readouterr()
    assert "-p 10.1.2.3:8500:8500 -p 10.1.2.3:8501:8501 " in captured.out
    assert "published on '10.1.2.3', beyond loopback." in captured.err


def test_serve_docker_publishes_on_loopback_quietly(tmp_path, capsys):
    for flags, published in [
        ((), "127.0.0.1"),
        (("--publish-host", "127.0.0.1"), "127.0.0.1"),
        (("--publish-host", "::1"), "[::1]"),
        (("--publish-host", "localhost"), "localhost"),
    ]:
        assert cli.main(_dry_run(tmp_path, *flags)) == 0
        captured = capsys.readouterr()
        command = shlex.split(captured.out)
        assert command[5:9] == [
            "-p",
            f"{published}:8500:8500",
            "-p",
            f"{published}:8501:8501",
        ]
        assert captured.err == "", flags


def test_publish_flags_go_where_they_are_used(tmp_path, capsys):
    # --host binds the local server; with --docker it would be ignored.
    assert cli.main(_dry_run(tmp_path, "--host", "0.0.0.0")) == 2
    assert "--publish-host 0.0.0.0" in capsys.readouterr().err
    local = ["serve", "--model-base-path", str(tmp_path), "--publish-host", "::"]
    assert cli.main(local) == 2
    assert "--publish-host goes with --docker" in capsys.readouterr().err
    assert cli.main(_dry_run(tmp_path, "--publish-host", "a/b")) == 2
    assert "Received: publish_host='a/b'" in capsys.readouterr().err


def test_publish_warning_names_what_is_exposed():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"):
        assert publish_warning(host) is None, host
    warning = publish_warning("192.168.1.5", grpc_port=9000, rest_port=9001)
    assert warning is not None
    assert "gRPC port 9000 and REST port 9001" in warning
    assert "TLS-terminating proxy" in warning
    assert "every interface" in publish_warning("::")


def test_serve_needs_a_model_source(capsys):
    assert cli.main(["serve"]) == 2
    assert "--model-base-path" in capsys.readouterr().err


def test_deploy_model_config_is_a_model_server_config():
    text = (DEPLOY / "models" / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    (entry,) = config.model_config_list.config
    assert entry.base_path.startswith("/models/")
    assert entry.model_platform == "tensorflow"


def test_compose_file_passes_the_flags_of_tf_serving_command():
    compose = (DEPLOY / "docker-compose.gpu.yml").read_text()
    command = tf_serving_command(
        model_config_file=DEPLOY / "models" / "models.config",
        batching_parameters_file=DEPLOY / "batching.config",
    )
    server_flags = command[command.index("tensorflow/serving:latest-gpu") + 1 :]
    for flag in server_flags:
        assert f"- {flag}\n" in compose, flag
    for needed in (
        "image: tensorflow/serving:latest-gpu",
        '"${TF_SERVING_PUBLISH_HOST:-127.0.0.1}:8500:8500"',
        '"${TF_SERVING_PUBLISH_HOST:-127.0.0.1}:8501:8501"',
        "${KERAS_APPS_MODELS:-./models}:/models:ro",
        "${KERAS_APPS_BATCHING_CONFIG:-./batching.config}:/config/batching.config:ro",
        "capabilities: [gpu]",
    ):
        assert needed in compose, needed


def test_ports_are_published_on_loopback_unless_opened():
    command = tf_serving_command("digits", "/srv/digits", publish_host="0.0.0.0")
    assert command[5:9] == ["-p", "0.0.0.0:8500:8500", "-p", "0.0.0.0:8501:8501"]
    command = tf_serving_command("digits", "/srv/digits", publish_host="::1")
    assert command[6] == "[::1]:8500:8500"


def test_a_fresh_clone_serves_what_keras_apps_export_writes(tmp_path, capsys):
    import shutil

    import keras

    from keras_apps.export import list_versions

    # A fresh clone: deploy/ as tracked, no model exported yet.
    clone = tmp_path / "deploy"
    shutil.copytree(DEPLOY, clone, ignore=shutil.ignore_patterns("*[0-9]"))
    text = (clone / "models" / "models.config").read_text()
    config = text_format.Parse(text, model_server_config_pb2.ModelServerConfig())
    inputs = keras.Input((3,))
    path = str(tmp_path / "model.keras")
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    for entry in config.model_config_list.config:
        # The compose file mounts its models folder at /models.
        assert entry.base_path.startswith("/models/")
        base = clone / "models" / entry.base_path[len("/models/") :]
        assert cli.main(["export", path, str(base), "--no-validate"]) == 0
        assert list_versions(str(base)) == [1]
    compose = (clone / "docker-compose.gpu.yml").read_text()
    assert "- ${KERAS_APPS_MODELS:-./models}:/models:ro" in compose
    assert f"keras-apps export model.keras deploy/models/{entry.name}" in compose
