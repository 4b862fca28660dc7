"""keras_apps._compat: each private API it reaches still exists and works, and
no other module reaches one.

An upgrade of Keras or TensorFlow that removes one of them fails here, under
the name of the function that uses it.
"""

import ast
from pathlib import Path

import keras
import numpy as np
import pytest

from keras_apps import _compat

PACKAGE = Path(__file__).resolve().parents[1] / "keras_apps"


def _nested_model():
    inner = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="inner_dense")], name="inner"
    )
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, name="head")(inner(inputs))
    return keras.Model(inputs, outputs, name="outer")


def test_flatten_layers_sees_nested_and_attribute_sublayers():
    model = _nested_model()
    assert hasattr(model, "_flatten_layers")
    names = [layer.name for layer in _compat.flatten_layers(model)]
    assert names[0] == "outer"
    assert {"inner", "inner_dense", "head"} <= set(names)
    top = _compat.flatten_layers(model, include_self=False, recursive=False)
    assert "inner_dense" not in [layer.name for layer in top]
    # Sublayers held as attributes of a custom layer, which `.layers` misses.
    from keras_apps.layers import InceptionBlock

    block = InceptionBlock(2, 2, 2, 1)
    block.build((None, 4, 4, 3))
    inside = {layer.name for layer in _compat.flatten_layers(block)}
    assert {"branch_1x1", "branch_3x3", "pool_proj"} <= inside


def test_own_variables_leave_out_sublayers():
    layer = keras.layers.BatchNormalization()
    layer.build((None, 3))
    assert hasattr(layer, "_trainable_variables")
    assert hasattr(layer, "_non_trainable_variables")
    assert [v.name for v in _compat.own_variables(layer)] == [
        "gamma",
        "beta",
        "moving_mean",
        "moving_variance",
    ]
    assert _compat.own_variables(_nested_model()) == []


def test_optimizer_variable_key_and_knows():
    model = _nested_model()
    optimizer = keras.optimizers.Adam()
    assert hasattr(optimizer, "_var_key")
    optimizer.build(model.trainable_variables[:2])
    assert hasattr(optimizer, "_trainable_variables_indices")
    first, second, third = model.trainable_variables[:3]
    assert _compat.optimizer_variable_key(optimizer, first) != (
        _compat.optimizer_variable_key(optimizer, second)
    )
    assert _compat.optimizer_knows(optimizer, [first, second]) is True
    assert _compat.optimizer_knows(optimizer, [first, third]) is False


def test_weight_decay_route_and_scaled_learning_rate():
    variable = keras.Variable(np.ones((1,), "float32"))
    optimizer = keras.optimizers.SGD(0.1, weight_decay=0.5)
    optimizer.build([variable])
    seen = []

    def replacement(original):
        def apply_weight_decay(variables):
            seen.append(len(variables))
            with _compat.scaled_learning_rate(optimizer, 0.2):
                assert float(optimizer.learning_rate) == pytest.approx(0.02)
                original(variables)

        return apply_weight_decay

    assert _compat.route_weight_decay(optimizer, replacement)
    optimizer.apply([keras.ops.zeros((1,))], [variable])
    assert seen == [1]
    # w -= w * wd * lr * 0.2 = 1 * 0.5 * 0.1 * 0.2
    np.testing.assert_allclose(np.array(variable), [0.99], rtol=1e-6)
    assert float(optimizer.learning_rate) == pytest.approx(0.1)


def test_in_safe_mode_follows_the_safe_mode_scope():
    # The scope keras.saving.load_model(path, safe_mode=...) enters.
    from keras.src.saving import serialization_lib

    assert _compat.in_safe_mode() is False  # no deserialization running
    with serialization_lib.SafeModeScope(False):
        assert _compat.in_safe_mode() is False
    with serialization_lib.SafeModeScope(True):
        assert _compat.in_safe_mode() is True


def test_keras_home_is_a_directory_name():
    from keras.src.backend import config

    assert _compat.keras_home() == str(config.keras_home())


def test_producing_layer_and_functional_structures():
    model = _nested_model()
    assert _compat.producing_layer(model.output) is model.get_layer("head")
    assert _compat.producing_layer(np.zeros(2)) is None
    inputs, outputs = _compat.functional_structures(model)
    assert inputs is model.input and outputs is model.output

    class Subclassed(keras.Model):
        def call(self, x):
            return x

    assert _compat.functional_structures(Subclassed()) is None


@pytest.mark.requires_tensorflow(reason="a TF1 Session")
def test_session_callable_runs_a_graph():
    import tensorflow as tf
    from tensorflow.core.protobuf import config_pb2

    graph = tf.Graph()
    with graph.as_default():
        x = tf.compat.v1.placeholder(tf.float32, (None,), name="x")
        tf.multiply(x, 2.0, name="y")
    session = tf.compat.v1.Session(graph=graph)
    assert hasattr(session, "_make_callable_from_options")
    options = config_pb2.CallableOptions(feed=["x:0"], fetch=["y:0"])
    runner = _compat.session_callable(session, options)
    (result,) = runner(np.array([1.0, 2.0], "float32"))
    np.testing.assert_array_equal(result, [2.0, 4.0])
    session.close()


def _private_keras_names() -> set[str]:
    """Private attribute names of the Keras objects keras-apps works with."""
    names = set(_compat.PRIVATE_NAMES)
    dense = keras.layers.Dense(2)
    dense.build((None, 3))
    objects = [
        keras.layers.Layer,
        keras.Model,
        keras.optimizers.Adam,
        keras.Variable,
        keras.KerasTensor,
        keras.callbacks.Callback,
        dense,
        keras.optimizers.Adam(),
    ]
    for obj in objects:
        names |= {n for n in dir(obj) if n.startswith("_") and not n.startswith("__")}
    # Too generic to mean Keras' own: keras-apps' servers have their own locks.
    return names - {"_lock"}


def _violations(path: Path, private: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            ("keras.src", "tensorflow.python")
        ):
            found.append(f"{where} imports {node.module}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(("keras.src", "tensorflow.python")):
                    found.append(f"{where} imports {alias.name}")
        elif isinstance(node, ast.Attribute):
            if node.attr in private:
                found.append(f"{where} uses .{node.attr}")
            elif node.attr in ("__internal__", "src") and isinstance(
                node.value, ast.Name
            ):
                found.append(f"{where} uses {node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in private:
            found.append(f"{where} names {node.value!r}")
    return found


def test_no_other_module_reaches_private_keras_or_tensorflow_apis():
    private = _private_keras_names()
    assert {"_flatten_layers", "_track_variable", "_var_key"} <= private
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name != "_compat.py":
            violations.extend(_violations(path, private))
    assert not violations, (
        "Private Keras/TensorFlow APIs outside keras_apps/_compat.py:\n"
        + "\n".join(violations)
    )


def test_the_check_catches_a_private_use(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from keras.src import backend\n"
        "def f(model, layer):\n"
        "    layer._track_variable(1)\n"
        "    return getattr(model, '_flatten_layers')\n"
    )
    found = _violations(probe, _private_keras_names())
    assert len(found) == 3, found
