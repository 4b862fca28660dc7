import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with a clean Keras name scope and a fixed seed."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(1234)
    yield


REPO_ROOT = Path(__file__).resolve().parents[1]
_CLOSED_PORT = "http://127.0.0.1:9"


@pytest.fixture
def offline_python():
    """Runs a Python script in a child process that cannot reach the network.

    Every proxy variable points at a closed port on loopback, so the real
    download code (keras.utils.get_file, tensorflow_hub's resolver) runs and
    fails as it would on a machine without the network. Extra environment
    variables are passed as keyword arguments. Returns the CompletedProcess
    with text stdout and stderr.
    """

    def run(script: str, **env: str) -> subprocess.CompletedProcess[str]:
        child_env = {
            **os.environ,
            "KERAS_BACKEND": "tensorflow",
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "HTTP_PROXY": _CLOSED_PORT,
            "HTTPS_PROXY": _CLOSED_PORT,
            "http_proxy": _CLOSED_PORT,
            "https_proxy": _CLOSED_PORT,
            "NO_PROXY": "",
            "no_proxy": "",
            "PYTHONPATH": str(REPO_ROOT),
            **env,
        }
        return subprocess.run(
            [sys.executable, "-c", textwrap.dedent(script)],
            env=child_env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO_ROOT,
        )

    return run
