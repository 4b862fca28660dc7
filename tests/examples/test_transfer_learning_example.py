import importlib.util
import os

import numpy as np
import pytest

EXAMPLE = os.path.join(
    os.path.dirname(__file__), "..", "..", "examples", "transfer_learning.py"
)


def _load_example():
    spec = importlib.util.spec_from_file_location("transfer_learning", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_transfer_learning_example_runs_and_transfer_beats_scratch(tmp_path):
    example = _load_example()
    table = example.main(
        per_class=2,
        seeds=(0, 1),
        pretrain_epochs=6,
        epochs=40,
        output_dir=str(tmp_path),
        verbose=False,
    )
    assert list(table) == list(example.METHODS)
    for method, values in table.items():
        assert len(values) == 2, method
        assert all(0.0 <= v <= 1.0 for v in values), (method, values)
        # Five digits: chance is 0.2; every method must learn something.
        assert np.mean(values) > 0.5, (method, values)
    scratch = np.mean(table["from scratch"])
    transfer = np.mean([np.mean(v) for m, v in table.items() if m != "from scratch"])
    assert transfer >= scratch, table
    assert os.path.getsize(tmp_path / "transfer_learning.png") > 1000
    text = example.format_table(table, per_class=2)
    assert "from scratch" in text and "checkpoint init" in text


def test_helpers_of_the_example():
    example = _load_example()
    images, labels = example.load_data()
    assert images.shape == (1797, 8, 8, 1) and images.min() == 0 and images.max() == 1
    x, y = example.shifted_copies(images[:2], labels[:2])
    assert x.shape == (18, 8, 8, 1) and list(y[:4]) == [labels[0], labels[1]] * 2
    # The unshifted copy is the middle one; a shift moves pixels by one.
    np.testing.assert_array_equal(x[8:10], images[:2])
    np.testing.assert_array_equal(x[10][:, :-1], images[0][:, 1:])
    np.testing.assert_array_equal(x[10][:, -1], 0.0)
    train, test = example.few_labels(labels, 3, np.random.default_rng(0))
    assert len(train) == 30 and len(set(train) | set(test)) == 1797
    assert np.bincount(labels[train]).tolist() == [3] * 10
