"""The README's code runs as written.

Its ```python blocks run, in order, as one script: the quick start trains on
digits, the serving quick start exports and serves it, the offline transfer
snippet pretrains, publishes and reuses a backbone. ```py blocks are sketches
that need several devices or machines (the scaling-out set-ups, tested in
tests/transfer/test_scaling_out.py).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="the quick start exports a SavedModel")
def test_readme_code_runs_and_trains(tmp_path):
    blocks = _python_blocks()
    assert len(blocks) == 3, "quick start, serving quick start, offline transfer"
    script = tmp_path / "readme.py"
    script.write_text("\n".join(blocks))
    completed = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    out = completed.stdout
    lines = out.splitlines()
    assert int(lines[0]) > 0  # count_multiplies of the quick-start model
    # The quick start trains as shown (chance is 0.1).
    accuracy = float(re.search(r"validation accuracy (\S+)", out).group(1))
    assert accuracy > 0.8, out
    assert "exported version 1" in out
    assert "(8, 10)" in lines
    transfer = float(re.search(r"from frozen features: (\S+)", out).group(1))
    assert transfer > 0.6, out  # chance is 0.2
    assert (tmp_path / "classifier.keras").is_file()
    assert (tmp_path / "models" / "classifier" / "1" / "saved_model.pb").is_file()
