"""LoadedVersion's steps: short ones move from TF's inter-op pool to the caller."""

from __future__ import annotations

import time

import numpy as np

from keras_apps.serving._versions import LoadedVersion, _StepRunner


def _fake_make(step_seconds: float):
    made: list[bool] = []

    def make(inline: bool):
        made.append(inline)

        def run(*arrays):
            if step_seconds:
                time.sleep(step_seconds)
            return "inline" if inline else "pool"

        return run

    return make, made


def test_short_steps_move_to_the_callers_thread():
    make, made = _fake_make(0.0)
    runner = _StepRunner(make)
    answers = [runner() for _ in range(12)]
    # The first step is not timed, the next eight are; then the decision.
    assert answers == ["pool"] * 9 + ["inline"] * 3
    assert runner.inline and made == [False, True]


def test_long_steps_stay_on_the_pool():
    make, made = _fake_make(0.0015)
    runner = _StepRunner(make)
    answers = [runner() for _ in range(11)]
    assert answers == ["pool"] * 11
    assert not runner.inline and made == [False]


def test_a_tiny_savedmodel_runs_inline_with_the_same_answers(
    tmp_path, linear_saved_model
):
    linear_saved_model(tmp_path / "1", 2.0)
    loaded = LoadedVersion(1, tmp_path / "1")
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    # A read-only view, as the server decodes tensor_content, feeds as well.
    view = np.frombuffer(x.tobytes(), dtype=np.float32).reshape(2, 4)
    expected = x @ (2.0 * np.ones((4, 2), np.float32))
    for _ in range(12):
        np.testing.assert_allclose(
            loaded.run("serving_default", {"x": view})["y"], expected
        )
    (runner,) = loaded._callables.values()
    assert runner.inline
