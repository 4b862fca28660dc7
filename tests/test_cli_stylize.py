"""`keras-apps stylize`: style transfer from the command line."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from keras_apps import cli

pytestmark = pytest.mark.requires_tensorflow(
    reason="StyleTransfer's loop uses tf.GradientTape"
)


def _write(path, seed):
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(path)
    return str(path)


@pytest.mark.slow
def test_stylize_writes_the_png(tmp_path, capsys):
    content = _write(tmp_path / "content.png", 0)
    style = _write(tmp_path / "style.png", 1)
    out = tmp_path / "out.png"
    code = cli.main(
        [
            "stylize",
            content,
            style,
            "-o",
            str(out),
            "--steps",
            "2",
            "--size",
            "32",
            "--weights",
            "none",
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    with Image.open(out) as image:
        assert image.size == (32, 27) and image.mode == "RGB"
    assert "wrote" in capsys.readouterr().out


def test_stylize_says_when_the_weights_cannot_be_had(tmp_path, capsys):
    content = _write(tmp_path / "content.png", 0)
    code = cli.main(
        [
            "stylize",
            content,
            content,
            "-o",
            str(tmp_path / "o.png"),
            "--weights",
            str(tmp_path / "missing.h5"),
            "--quiet",
        ]
    )
    assert code == 1
    assert "missing.h5" in capsys.readouterr().err
    code = cli.main(["stylize", str(tmp_path / "nope.png"), content, "-o", "x.png"])
    assert code == 1
    assert "cannot read" in capsys.readouterr().err
