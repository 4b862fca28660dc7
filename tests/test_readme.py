"""The README's quick start must run as written."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_shows_the_two_commands():
    text = README.read_text()
    assert "make demo" in text and "make test" in text


@pytest.mark.slow
def test_quick_start_runs(tmp_path):
    blocks = _python_blocks()
    assert len(blocks) >= 2, "expected the model and the serving quick start"
    script = tmp_path / "quick_start.py"
    script.write_text("\n".join(blocks))
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.splitlines()
    assert int(lines[0]) > 0  # count_multiplies of the quick-start model
    assert "exported version 1" in completed.stdout
    assert lines[-1] == "(8, 10)"
    assert (tmp_path / "classifier.keras").is_file()
    assert (tmp_path / "models" / "classifier" / "1" / "saved_model.pb").is_file()
