"""`make demo` is the main job: run it quickly, end to end, in a real process."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.requires_tensorflow(
    reason="the demo exports and serves TensorFlow SavedModels"
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.slow
def test_demo_serves_what_it_trained_and_hot_swaps(tmp_path):
    completed = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "demo.py"),
            "--quick",
            "--output-dir",
            tmp_path,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=EXAMPLES,
    )
    assert completed.returncode == 0, (
        completed.stdout[-3000:] + completed.stderr[-3000:]
    )
    out = completed.stdout
    for step in range(1, 6):
        assert f"[{step}/5]" in out
    served = re.findall(
        r"served accuracy (\S+)% \(in-process (\S+)%, max abs diff (\S+)\)", out
    )
    assert len(served) == 2, out
    for served_accuracy, in_process_accuracy, diff in served:
        assert served_accuracy == in_process_accuracy
        assert float(diff) <= 1e-5
        assert 10.0 < float(served_accuracy) <= 100.0  # above chance (10 classes)
    assert "versions: 1 END, 2 AVAILABLE" in out
    assert (tmp_path / "models" / "digits" / "2" / "saved_model.pb").is_file()
    assert (tmp_path / "models" / "models.config").is_file()
