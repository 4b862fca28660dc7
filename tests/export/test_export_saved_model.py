import errno
import os
import shutil
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps.export import (
    ExportResult,
    ExportValidationError,
    export_for_serving,
    list_versions,
)
from keras_apps.export import saved_model as saved_model_module
from keras_apps.export.files import TEMP_PREFIX

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _reference(model, inputs):
    return keras.tree.map_structure(
        lambda t: np.asarray(t), model(inputs, training=False)
    )


def _visible(base_path):
    return sorted(os.listdir(base_path))


# -- versions ----------------------------------------------------------------


def test_versions_count_up_and_explicit_versions_continue(
    base_path, batch, make_dense_model
):
    model = make_dense_model()
    first = export_for_serving(model, base_path)
    second = export_for_serving(model, base_path)
    fifth = export_for_serving(model, base_path, version=5)
    sixth = export_for_serving(model, base_path)
    assert [first.version, second.version, fifth.version, sixth.version] == [
        1,
        2,
        5,
        6,
    ]
    assert isinstance(first, ExportResult)
    assert first.path == os.path.join(os.path.abspath(base_path), "1")
    assert list_versions(base_path) == [1, 2, 5, 6]
    assert _visible(base_path) == ["1", "2", "5", "6"]
    for version in (1, 6):
        reloaded = tf.saved_model.load(os.path.join(base_path, str(version)))
        outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
        np.testing.assert_allclose(
            outputs["output"], _reference(model, batch), atol=1e-6
        )


def test_folders_that_are_no_version_are_not_counted(base_path, make_dense_model):
    # The rule the server follows too (keras_apps._layout.parse_version):
    # ASCII digits within int64. Counting 99999999999999999999 wrote a version
    # above int64, which no server can serve.
    for name in ("1", "\u00b2", "\u0661\u0662", "99999999999999999999"):
        os.makedirs(os.path.join(base_path, name))
    assert list_versions(base_path) == [1]
    result = export_for_serving(make_dense_model(), base_path, validate=False)
    assert result.version == 2
    assert list_versions(base_path) == [1, 2]


def test_existing_version_is_refused_unless_overwrite(
    base_path, batch, make_dense_model
):
    old_model, new_model = make_dense_model(seed=0), make_dense_model(seed=1)
    export_for_serving(old_model, base_path, version=3)
    with pytest.raises(FileExistsError, match="Version 3 already exists"):
        export_for_serving(new_model, base_path, version=3)
    reloaded = tf.saved_model.load(os.path.join(base_path, "3"))
    outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
    np.testing.assert_allclose(outputs["output"], _reference(old_model, batch), 1e-6)

    result = export_for_serving(new_model, base_path, version=3, overwrite=True)
    assert result.version == 3
    assert _visible(base_path) == ["3"]  # no aside folder is left
    reloaded = tf.saved_model.load(os.path.join(base_path, "3"))
    outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
    np.testing.assert_allclose(outputs["output"], _reference(new_model, batch), 1e-6)


def test_overwrite_never_leaves_the_version_missing(
    base_path, batch, monkeypatch, make_dense_model
):
    from keras_apps.export import files

    old_model, new_model = make_dense_model(seed=0), make_dense_model(seed=1)
    export_for_serving(old_model, base_path, version=3, validate=False)
    target = os.path.join(base_path, "3")
    steps = []

    def watched(function):
        def step(*args, **kwargs):
            result = function(*args, **kwargs)
            # After every step a kill could strike: version 3 must be whole.
            whole = os.path.isfile(os.path.join(target, "saved_model.pb"))
            steps.append((function.__name__, whole))
            return result

        return step

    monkeypatch.setattr(os, "rename", watched(os.rename))
    monkeypatch.setattr(files, "exchange_paths", watched(files.exchange_paths))
    monkeypatch.setattr(saved_model_module.shutil, "rmtree", watched(shutil.rmtree))
    result = export_for_serving(new_model, base_path, version=3, overwrite=True)
    assert steps and all(whole for _, whole in steps), steps
    assert result.replaced and "publish a new version number" in result.describe()
    assert _visible(base_path) == ["3"]
    reloaded = tf.saved_model.load(target)
    outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
    np.testing.assert_allclose(outputs["output"], _reference(new_model, batch), 1e-6)


def test_exchange_paths_swaps_two_folders(tmp_path):
    from keras_apps.export.files import exchange_paths

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "file").write_text(name)
    if not exchange_paths(str(tmp_path / "a"), str(tmp_path / "b")):
        pytest.skip("no atomic exchange on this OS or file system")
    assert (tmp_path / "a" / "file").read_text() == "b"
    assert (tmp_path / "b" / "file").read_text() == "a"
    with pytest.raises(FileNotFoundError):
        exchange_paths(str(tmp_path / "a"), str(tmp_path / "missing"))


def test_overwrite_without_an_atomic_exchange_changes_nothing(
    base_path, batch, monkeypatch, make_dense_model
):
    from keras_apps.export import files

    monkeypatch.setattr(files, "exchange_paths", lambda first, second: False)
    old_model = make_dense_model(seed=0)
    export_for_serving(old_model, base_path, version=1, validate=False)
    with pytest.raises(OSError, match="no atomic folder exchange") as info:
        export_for_serving(
            make_dense_model(seed=1),
            base_path,
            version=1,
            overwrite=True,
            validate=False,
        )
    assert info.value.errno == errno.EOPNOTSUPP
    assert "Publish a new version number" in str(info.value)
    # Version 1 is the old model, and no working folder is left behind.
    assert sorted(os.listdir(base_path)) == ["1"]
    reloaded = tf.saved_model.load(os.path.join(base_path, "1"))
    outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
    np.testing.assert_allclose(outputs["output"], _reference(old_model, batch), 1e-6)


def _disk_full_on_write(monkeypatch):
    """Makes the SavedModel write fail as SaveV2 does on a full disk."""
    write = saved_model_module._write_saved_model

    def full(model, functions, directory):
        write(model, functions, directory)  # leaves files to clean up
        raise tf.errors.ResourceExhaustedError(
            None,
            None,
            f"{directory}/variables/variables_temp/part-00000-of-00001.data; "
            "No space left on device [Op:SaveV2]",
        )

    monkeypatch.setattr(saved_model_module, "_write_saved_model", full)


def test_a_full_disk_is_named_and_cleaned_up(base_path, monkeypatch, make_dense_model):
    _disk_full_on_write(monkeypatch)
    with pytest.raises(OSError) as info:
        export_for_serving(make_dense_model(), base_path, validate=False)
    assert info.value.errno == errno.ENOSPC
    assert f"No space left on device at {base_path}" in str(info.value)
    assert _visible(base_path) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A folder on a real, nearly full file system: ``size -> path``.

    A tmpfs of that size is mounted by a child in its own user and mount
    namespaces (``unshare -rm``, no root needed) and reached through the
    child's ``/proc/PID/root``; it vanishes with the child.
    """
    children = []

    def mount(size: str) -> str:
        point = tmp_path / f"disk-{size}"
        point.mkdir()
        script = f'mount -t tmpfs -o size={size} tmpfs "{point}" && echo ready && cat'
        child = subprocess.Popen(
            ["unshare", "-rm", "sh", "-c", script],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        if child.stdout.readline().strip() != "ready":
            pytest.skip(f"no unprivileged tmpfs here: {child.stderr.read()[-300:]}")
        return f"/proc/{child.pid}/root{point}"

    if shutil.which("unshare") is None:
        pytest.skip("needs the unshare command")
    yield mount
    for child in children:
        child.stdin.close()
        child.wait(timeout=30)
        child.stdout.close()
        child.stderr.close()


@pytest.mark.parametrize(
    "size, full_at", [("8k", "variables.index"), ("24k", "saved_model.pb")]
)
def test_a_real_full_disk_is_named_and_cleaned_up(
    tiny_disk, make_dense_model, size, full_at
):
    # TensorFlow's own errors: ResourceExhaustedError from its checkpoint
    # (SaveV2/MergeV2Checkpoints) or from writing saved_model.pb.
    base = os.path.join(tiny_disk(size), "model")
    with pytest.raises(OSError) as info:
        export_for_serving(make_dense_model(), base, validate=False)
    assert info.value.errno == errno.ENOSPC
    assert f"No space left on device at {base}" in str(info.value)
    cause = info.value.__cause__
    assert isinstance(cause, tf.errors.ResourceExhaustedError), cause
    assert full_at in str(cause)
    assert _visible(base) == []


@pytest.mark.parametrize("kind", ["file", "last version"])
def test_an_unusable_base_path_is_refused_before_writing(
    base_path, monkeypatch, make_dense_model, kind
):
    from keras_apps._layout import MAX_VERSION

    os.makedirs(base_path)
    if kind == "file":
        with open(os.path.join(base_path, "2"), "w") as file:
            file.write("not a version")
        error, match = FileExistsError, "is not a folder but is named like a version"
    else:
        os.makedirs(os.path.join(base_path, str(MAX_VERSION)))
        error, match = ValueError, "the largest version TF Serving can serve"

    def never(*args):
        raise AssertionError("the export was written")

    monkeypatch.setattr(saved_model_module, "_write_saved_model", never)
    with pytest.raises(error, match=match):
        export_for_serving(make_dense_model(), base_path)


# -- atomicity -----------------------------------------------------------------


def test_failure_mid_write_leaves_nothing(base_path, monkeypatch, make_dense_model):
    model = make_dense_model()
    export_for_serving(model, base_path)
    original = tf.saved_model.save
    seen = {}

    def save_then_crash(obj, export_dir, *args, **kwargs):
        original(obj, export_dir, *args, **kwargs)
        seen["dir"] = export_dir
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", save_then_crash)
    with pytest.raises(OSError, match="disk full"):
        export_for_serving(model, base_path)
    assert os.path.basename(seen["dir"]).startswith(TEMP_PREFIX)
    assert _visible(base_path) == ["1"]
    monkeypatch.setattr(tf.saved_model, "save", original)
    assert export_for_serving(model, base_path).version == 2


def test_a_version_claimed_meanwhile_is_skipped(
    base_path, monkeypatch, make_dense_model
):
    # Another exporter claims version 2 between this export's count and rename.
    model = make_dense_model()
    export_for_serving(model, base_path)
    answers = iter([1, 2])  # 1: stale count; 2: the next candidate
    real_next_version = saved_model_module.files.next_version

    def racy_next_version(path):
        value = next(answers, None)
        return real_next_version(path) if value is None else value

    monkeypatch.setattr(saved_model_module.files, "next_version", racy_next_version)
    assert export_for_serving(model, base_path).version == 2
    assert _visible(base_path) == ["1", "2"]


def test_failed_validation_leaves_nothing(base_path, monkeypatch, make_dense_model):
    model = make_dense_model()

    def broken(*args, **kwargs):
        raise ExportValidationError("simulated mismatch")

    monkeypatch.setattr(saved_model_module, "_max_abs_diff", broken)
    with pytest.raises(ExportValidationError, match="simulated mismatch"):
        export_for_serving(model, base_path)
    assert _visible(base_path) == []


_KILLED_EXPORT = """
import sys, time
from conftest import dense_model
from keras_apps.export import export_for_serving
from keras_apps.export import saved_model

original = saved_model._write_saved_model

def write_then_hang(*args, **kwargs):
    signatures = original(*args, **kwargs)
    print("WRITING", flush=True)
    time.sleep(120)
    return signatures

saved_model._write_saved_model = write_then_hang
export_for_serving(dense_model(), sys.argv[1])
"""


@pytest.mark.slow
def test_killed_export_leaves_no_version_and_is_cleaned_up(base_path, make_dense_model):
    model = make_dense_model()
    export_for_serving(model, base_path)
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_EXPORT, base_path],
        cwd=os.path.dirname(os.path.abspath(__file__)),
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": REPO},
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "WRITING"
        leftovers = [n for n in os.listdir(base_path) if n != "1"]
        assert len(leftovers) == 1 and leftovers[0].startswith(TEMP_PREFIX)
        assert os.path.isfile(os.path.join(base_path, leftovers[0], "saved_model.pb"))
        process.kill()  # SIGKILL: no cleanup code runs in the child
    finally:
        process.wait(timeout=60)
        process.stdout.close()
    assert list_versions(base_path) == [1]  # the half-written work is no version
    result = export_for_serving(model, base_path)
    assert result.version == 2
    assert _visible(base_path) == ["1", "2"]  # the dead export's folder is gone


_HOLD_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_SH)
print("LOCKED", flush=True)
sys.stdin.read()
"""


def test_only_dead_exports_work_folders_are_removed(base_path):
    from keras_apps.export.files import (
        NEW_PREFIX,
        STAGING_SECONDS,
        clean_stale_work_dirs,
        work_dir_name,
    )

    os.makedirs(base_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    # A live exporter whose name says "dead pid on this host" (another PID
    # namespace with the same host name): it holds its lock, so it stays.
    live = os.path.join(base_path, work_dir_name(TEMP_PREFIX))
    live = live.replace(f"-{os.getpid()}-", f"-{child.pid}-")
    os.makedirs(live)
    # A dead exporter whose pid was reused (here: by this live process).
    dead = os.path.join(base_path, work_dir_name(TEMP_PREFIX))
    os.makedirs(os.path.join(dead, "variables"))
    staging_new = os.path.join(base_path, work_dir_name(NEW_PREFIX))
    staging_old = os.path.join(base_path, work_dir_name(NEW_PREFIX))
    os.makedirs(staging_new)
    os.makedirs(staging_old)
    past = time.time() - STAGING_SECONDS - 5
    os.utime(staging_old, (past, past))
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, live],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "LOCKED"
        assert sorted(clean_stale_work_dirs(base_path)) == sorted([dead, staging_old])
        assert os.path.isdir(live) and os.path.isdir(staging_new)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()
    # Its holder gone, the live one is a leftover too.
    assert clean_stale_work_dirs(base_path) == [live]
    assert list_versions(base_path) == []


def test_a_version_moved_aside_by_a_dead_overwrite_is_restored(
    base_path, batch, make_dense_model
):
    from keras_apps.export.files import OLD_PREFIX, clean_stale_work_dirs

    model = make_dense_model()
    export_for_serving(model, base_path, version=3)
    export_for_serving(model, base_path, version=4)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = os.uname().nodename.replace("-", "_")
    for version in (3, 4):
        aside = f"{OLD_PREFIX}-v{version}-{host}-{child.pid}-0a1b"
        os.rename(os.path.join(base_path, str(version)), os.path.join(base_path, aside))
    # Version 4 was already replaced by the new one: its aside copy is removed.
    os.makedirs(os.path.join(base_path, "4"))
    assert len(clean_stale_work_dirs(base_path)) == 2
    assert _visible(base_path) == ["3", "4"]
    reloaded = tf.saved_model.load(os.path.join(base_path, "3"))
    outputs = reloaded.signatures["serving_default"](input=tf.constant(batch))
    np.testing.assert_allclose(outputs["output"], _reference(model, batch), atol=1e-6)


# -- signature keys --------------------------------------------------------------


_KEYS_SCRIPT = """
import sys, keras
from keras_apps.export import export_for_serving


def keys(path, shift):
    for _ in range(shift):  # advance Keras' automatic names
        i = keras.Input((2,))
        keras.Model(i, keras.layers.Dense(1)(i))
    a = keras.Input((4,))
    b = keras.Input((3,))
    h = keras.layers.Concatenate()([a, b])
    outputs = [keras.layers.Dense(2)(h), keras.layers.Dense(1)(h)]
    info = export_for_serving(keras.Model([a, b], outputs), path).signatures
    default = info["serving_default"]
    return f"{sorted(default.inputs)} {sorted(default.outputs)}"


if __name__ == "__main__":
    print(keys(sys.argv[1], int(sys.argv[2])))
"""


@pytest.mark.slow
def test_keys_are_equal_across_processes(tmp_path):
    # A fresh process whose automatic names were advanced five times gets the
    # keys this process gets.
    completed = subprocess.run(
        [sys.executable, "-c", _KEYS_SCRIPT, str(tmp_path / "fresh"), "5"],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": REPO},
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    expected = "['input_0', 'input_1'] ['output_0', 'output_1']"
    assert completed.stdout.strip() == expected
    # The same export in this process, where earlier tests advanced the names.
    namespace = {"__name__": "keys_script"}
    exec(_KEYS_SCRIPT, namespace)
    assert namespace["keys"](str(tmp_path / "here"), 0) == expected


def test_keys_are_stable_within_a_process_and_ignore_auto_names(
    tmp_path, make_dense_model
):
    keys = []
    for n in range(2):
        keras.Input((2,))  # every call advances the automatic tensor names
        info = export_for_serving(
            make_dense_model(), str(tmp_path / f"m{n}")
        ).signatures
        keys.append(
            (
                sorted(info["serving_default"].inputs),
                sorted(info["serving_default"].outputs),
            )
        )
    assert keys[0] == keys[1] == (["input"], ["output"])


def test_named_inputs_and_dict_outputs_keep_their_names(base_path):
    keras.utils.set_random_seed(0)
    image = keras.Input((4,), name="features")
    extra = keras.Input((2,), name="extra")
    joined = keras.layers.Concatenate()([image, extra])
    model = keras.Model(
        {"features": image, "extra": extra},
        {
            "class_logits": keras.layers.Dense(3)(joined),
            "box": keras.layers.Dense(4)(joined),
        },
    )
    inputs = {
        "features": np.random.default_rng(1).standard_normal((2, 4)).astype("float32"),
        "extra": np.random.default_rng(2).standard_normal((2, 2)).astype("float32"),
    }
    result = export_for_serving(model, base_path, warmup_inputs=inputs)
    info = result.signatures["serving_default"]
    assert sorted(info.inputs) == ["extra", "features"]
    assert sorted(info.outputs) == ["box", "class_logits"]
    assert info.inputs["features"].shape == (None, 4)
    assert info.outputs["box"].dtype == "float32"
    reloaded = tf.saved_model.load(result.path)
    outputs = reloaded.signatures["serving_default"](
        **{k: tf.constant(v) for k, v in inputs.items()}
    )
    expected = _reference(model, inputs)
    for key in ("box", "class_logits"):
        np.testing.assert_allclose(outputs[key], expected[key], atol=1e-6)


def test_named_output_layers_and_given_names(tmp_path):
    inputs = keras.Input((4,), name="x")
    hidden = keras.layers.Dense(4)(inputs)
    model = keras.Model(
        inputs,
        [keras.layers.Dense(2, name="logits")(hidden), keras.layers.Dense(1)(hidden)],
    )
    info = export_for_serving(model, str(tmp_path / "a")).signatures["serving_default"]
    assert sorted(info.inputs) == ["x"]
    assert sorted(info.outputs) == ["logits", "output_1"]
    info = export_for_serving(
        model, str(tmp_path / "b"), input_names=["features"], output_names=["p", "q"]
    ).signatures["serving_default"]
    assert sorted(info.inputs) == ["features"]
    assert info.outputs == {
        "p": info.outputs["p"],
        "q": info.outputs["q"],
    }
    assert info.outputs["p"].shape == (None, 2) and info.outputs["q"].shape == (None, 1)


# -- model kinds -------------------------------------------------------------------


class TinySubclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(5, activation="tanh")
        self.out = keras.layers.Dense(2)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_sequential_and_subclassed_models(tmp_path, batch):
    sequential = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(3, activation="relu"),
            keras.layers.Dense(2),
        ]
    )
    subclassed = TinySubclassed()
    subclassed(batch)
    for name, model in (("seq", sequential), ("sub", subclassed)):
        result = export_for_serving(model, str(tmp_path / name))
        info = result.signatures["serving_default"]
        assert sorted(info.inputs) == ["input"] and sorted(info.outputs) == ["output"]
        assert result.validation["serving_default"] < 1e-5
        reloaded = tf.saved_model.load(result.path)
        got = reloaded.signatures["serving_default"](input=tf.constant(batch))["output"]
        np.testing.assert_allclose(got, _reference(model, batch), atol=1e-6)


def test_model_with_tfsm_layer(tmp_path, batch, make_dense_model):
    inner = make_dense_model()
    inner_path = str(tmp_path / "inner")
    inner.export(inner_path, format="tf_saved_model", verbose=False)
    inputs = keras.Input((4,))
    features = keras.layers.TFSMLayer(inner_path, call_endpoint="serve")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(features))
    result = export_for_serving(model, str(tmp_path / "outer"), warmup_inputs=batch)
    assert result.validation["serving_default"] < 1e-5
    assert sorted(result.signatures["serving_default"].outputs) == ["head"]
    reloaded = tf.saved_model.load(result.path)
    got = reloaded.signatures["serving_default"](input=tf.constant(batch))["head"]
    np.testing.assert_allclose(got, _reference(model, batch), atol=1e-6)


def test_model_with_hub_backbone(tmp_path):
    from keras_apps.layers import HubBackbone
    from keras_apps.transfer.backbones import export_hub_module

    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    handle = export_hub_module(cnn, str(tmp_path / "hub"))
    inputs = keras.Input((8, 8, 3), name="pixels")
    features = HubBackbone(handle, trainable=True)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(2, name="scores")(features))
    pixels = np.random.default_rng(0).uniform(0, 255, (3, 8, 8, 3)).astype("float32")
    result = export_for_serving(
        model, str(tmp_path / "served"), image_bytes_signature=True
    )
    assert result.validation["serving_image_bytes"] < 1e-4
    reloaded = tf.saved_model.load(result.path)
    got = reloaded.signatures["serving_default"](pixels=tf.constant(pixels))
    np.testing.assert_allclose(got["scores"], _reference(model, pixels), atol=1e-5)


# -- validation and tools -------------------------------------------------------------


def test_validation_reports_every_signature(base_path, make_image_model):
    result = export_for_serving(
        make_image_model(), base_path, image_bytes_signature=True
    )
    assert (
        set(result.validation)
        == set(result.signatures)
        == {
            "serving_default",
            "serving_image_bytes",
            "serving_image_uint8",
        }
    )
    assert result.max_abs_diff is not None and result.max_abs_diff < 1e-5
    assert "validation: max abs diff" in result.describe()
    skipped = export_for_serving(make_image_model(), base_path, validate=False)
    assert skipped.validation == {} and skipped.max_abs_diff is None


@pytest.mark.slow
def test_saved_model_cli_reads_the_export(base_path, make_image_model):
    result = export_for_serving(
        make_image_model(), base_path, image_bytes_signature=True
    )
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run(
        [cli, "show", "--all", "--dir", result.path],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in result.signatures:
        assert f"signature_def['{name}']" in shown
    assert "inputs['pixels']" in shown
    assert "inputs['image_bytes']" in shown
    assert "outputs['scores']" in shown


# -- errors ----------------------------------------------------------------------------


def test_bad_arguments_give_clear_errors(tmp_path, batch, make_dense_model):
    model = make_dense_model()
    with pytest.raises(
        TypeError, match="Expected a Keras model.*Received: model of type"
    ):
        export_for_serving(keras.layers.Dense(2), str(tmp_path / "m"))
    with pytest.raises(ValueError, match="unbuilt"):
        export_for_serving(
            keras.Sequential([keras.layers.Dense(2)]), str(tmp_path / "m")
        )
    for version in (0, -1, 1.5, True, "2", 2**63):  # int64 ends at 2**63 - 1
        with pytest.raises(ValueError, match="positive integer"):
            export_for_serving(model, str(tmp_path / "m"), version=version)
    with pytest.raises(
        ValueError, match=r"warmup_inputs: expected input 'input' of shape"
    ):
        export_for_serving(model, str(tmp_path / "m"), warmup_inputs=np.ones((2, 5)))
    with pytest.raises(ValueError, match="Expected 1 input name"):
        export_for_serving(model, str(tmp_path / "m"), input_names=["a", "b"])
    with pytest.raises(ValueError, match="Expected distinct output names"):
        two = keras.Model(model.inputs, [model.outputs[0], model.outputs[0]])
        export_for_serving(two, str(tmp_path / "m"), output_names=["y", "y"])
    with pytest.raises(ValueError, match="starting with a letter"):
        export_for_serving(model, str(tmp_path / "m"), input_names=["0bad"])
    with pytest.raises(ValueError, match="one float image input"):
        export_for_serving(model, str(tmp_path / "m"), image_bytes_signature=True)
    file_path = tmp_path / "a_file"
    file_path.write_text("x")
    with pytest.raises(NotADirectoryError, match="Expected `base_path` to be a folder"):
        export_for_serving(model, str(file_path))
    # A refused call creates nothing.
    assert not os.path.exists(tmp_path / "m")


def test_unwritable_base_path(make_dense_model):
    # /proc refuses new folders even to root, unlike a chmod-ed folder.
    with pytest.raises(OSError, match="Choose a writable `base_path`"):
        export_for_serving(make_dense_model(), "/proc/keras_apps_export/model")
