"""Fixtures shared by the serving tests."""

from __future__ import annotations

from pathlib import Path

import pytest


def save_linear(path: Path, scale: float, input_name: str = "x") -> None:
    """Saves ``y = x @ (scale * ones(4, 2))`` (one variable) as a SavedModel.

    Its ``serving_default`` signature takes ``input_name`` (float32, [-1, 4])
    and gives ``y``. Built from a `tf.Module`, it saves in a fraction of a
    Keras export.
    """
    import tensorflow as tf

    class Linear(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(tf.ones((4, 2)) * scale)

        @tf.function(
            input_signature=[tf.TensorSpec([None, 4], tf.float32, name=input_name)]
        )
        def serve(self, x):
            return {"y": tf.matmul(x, self.w)}

    module = Linear()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})


@pytest.fixture(scope="session")
def linear_saved_model():
    """`save_linear(path, scale)`: a small SavedModel writer for server tests."""
    return save_linear
