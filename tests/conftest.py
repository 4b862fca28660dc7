import os
import subprocess
import sys
import textwrap
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
if os.environ["KERAS_BACKEND"] == "jax":
    # Two virtual CPU devices for keras.distribution.DataParallel tests; must be
    # set before JAX initializes. The tests' tensors are tiny, so XLA's time
    # goes to compiling, not running: without LLVM's optimization passes a
    # compile costs about half as much CPU, and results stay within the
    # tests' tolerances.
    os.environ.setdefault(
        "XLA_FLAGS",
        "--xla_force_host_platform_device_count=2 --xla_backend_optimization_level=0",
    )
    # Compiled programs are kept on disk (git-ignored), so the two xdist
    # workers share what both compile and a second run compiles little.
    os.environ.setdefault(
        "JAX_COMPILATION_CACHE_DIR",
        str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "jax"),
    )
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")

import keras  # noqa: E402
import pytest  # noqa: E402

# The backend rule: every test is backend-free unless it says otherwise. A test
# that needs TensorFlow carries `@pytest.mark.requires_tensorflow(reason=...)`
# (SavedModels, tf.data, custom TensorFlow train_steps, tf.distribute ...), and
# every test under the directories below needs it by nature. On another
# backend (`KERAS_BACKEND=jax pytest`) those tests are deselected.
TENSORFLOW_ONLY_DIRS = {
    "export": "export writes TensorFlow SavedModels",
    "serving": "serving loads TensorFlow SavedModels",
    # The example scripts default to KERAS_BACKEND=tensorflow; the library
    # parts they use are tested on every backend by their own tests.
    "examples": "the examples run on their default backend, TensorFlow",
}


def _tensorflow_reason(item: pytest.Item) -> str | None:
    marker = item.get_closest_marker("requires_tensorflow")
    if marker is not None:
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "")
        if not reason:
            raise pytest.UsageError(
                f"{item.nodeid}: requires_tensorflow needs a reason "
                "(requires_tensorflow(reason='...'))"
            )
        return reason
    parts = Path(str(item.path)).resolve().relative_to(REPO_ROOT / "tests").parts
    return TENSORFLOW_ONLY_DIRS.get(parts[0]) if len(parts) > 1 else None


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    kept, deselected = [], []
    for item in items:
        reason = _tensorflow_reason(item)
        if backend != "tensorflow" and reason is not None:
            deselected.append(item)
        else:
            kept.append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


def _two_logical_cpus() -> None:
    """Splits the CPU into two logical devices for tf.distribute tests.

    It must happen before TensorFlow initializes its devices, so it runs when
    this conftest is imported. Ops still run on /CPU:0 unless a strategy
    places them, so tests that do not distribute see no difference.
    """
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0],
            [tf.config.LogicalDeviceConfiguration()] * 2,
        )
    except RuntimeError:  # devices already initialized by an earlier import
        pass


if os.environ["KERAS_BACKEND"] == "tensorflow":
    _two_logical_cpus()


@pytest.fixture
def mirrored_strategy():
    """A `tf.distribute.MirroredStrategy` over two logical CPU devices.

    Gradients are summed with `ReductionToOneDevice`: the collective all-reduce
    that MirroredStrategy would otherwise pick assigns collective instance keys
    per replica thread, and on two logical CPUs a retraced train function (as
    after `GradualUnfreezing`) can pair different tensors under one key
    ("Shape mismatch in the collective instance"). The reduction itself is the
    same sum, so the tests still compare against one device exactly.
    """
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    if len(devices) < 2:
        pytest.fail(f"expected two logical CPU devices, found {devices}")
    return tf.distribute.MirroredStrategy(
        devices[:2], cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Each test starts with a clean Keras name scope and a fixed seed.

    Without a full garbage collection each time (``free_memory=False``): it
    takes seconds once a worker holds many traced functions, and Python's own
    collector runs anyway.
    """
    keras.backend.clear_session(free_memory=False)
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
