"""Test helpers that every keras-apps layer and model test reuses.

The helpers are plain functions so that they work from pytest functions, and
`TestCase` gathers them as methods for class-based tests. Each one checks real
numbers: outputs after a round trip must equal the outputs before it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from keras_apps.types import Shape

Inputs = Any  # an array, a list of arrays or a dict of arrays


def random_inputs(shape: Any, seed: int = 0, batch_size: int = 2) -> Any:
    """Returns float32 NumPy inputs drawn from N(0, 1).

    Args:
        shape: One shape (a tuple of ints and ``None``) or a list of
            shapes. A leading ``None`` is replaced
            by ``batch_size``.
        seed: Seed of the NumPy generator.
        batch_size: Batch size used where a shape starts with ``None``.
    """
    if shape and isinstance(shape[0], (tuple, list)):
        return [random_inputs(s, seed + i, batch_size) for i, s in enumerate(shape)]
    concrete = tuple(batch_size if d is None else int(d) for d in shape)
    return np.random.default_rng(seed).standard_normal(concrete).astype("float32")


def _to_numpy_tree(values: Any) -> Any:
    return keras.tree.map_structure(
        lambda v: np.asarray(keras.ops.convert_to_numpy(v)), values
    )


def assert_all_close(
    actual: Any,
    expected: Any,
    atol: float = 1e-6,
    rtol: float = 1e-6,
    what: str = "outputs",
) -> None:
    """Asserts that two nested structures of tensors are numerically equal."""
    actual_flat = keras.tree.flatten(_to_numpy_tree(actual))
    expected_flat = keras.tree.flatten(_to_numpy_tree(expected))
    if len(actual_flat) != len(expected_flat):
        raise AssertionError(
            f"{what}: expected {len(expected_flat)} tensors, "
            f"received {len(actual_flat)}"
        )
    for index, (a, e) in enumerate(zip(actual_flat, expected_flat, strict=True)):
        np.testing.assert_allclose(
            a, e, atol=atol, rtol=rtol, err_msg=f"{what}: tensor #{index} differs"
        )


def _tensor_shapes(value: Any) -> list[tuple[int | None, ...]]:
    return [tuple(keras.ops.shape(v)) for v in keras.tree.flatten(value)]


def _is_shape(value: Any) -> bool:
    return isinstance(value, (tuple, list)) and all(
        d is None or isinstance(d, int) for d in value
    )


def _flat_shapes(shapes: Any) -> list[tuple[int | None, ...]]:
    """Flattens a shape or a nested structure of shapes (dicts by sorted key)."""
    if _is_shape(shapes):
        return [tuple(shapes)]
    if isinstance(shapes, dict):
        return [s for key in sorted(shapes) for s in _flat_shapes(shapes[key])]
    return [s for item in shapes for s in _flat_shapes(item)]


MIXED_PRECISION_POLICIES = ("mixed_float16", "mixed_bfloat16")
"""The dtype policies `run_layer_test` checks every layer under."""


def run_layer_test(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: Mapping[str, Any],
    input_shape: Shape | Sequence[Shape] | None = None,
    input_data: Inputs | None = None,
    expected_output_shape: Any = None,
    expected_num_trainable_weights: int | None = None,
    expected_num_non_trainable_weights: int | None = None,
    run_training_check: bool = True,
    call_kwargs: Mapping[str, Any] | None = None,
    expected_output: Any = None,
    expected_output_atol: float = 1e-6,
    expected_output_rtol: float = 1e-6,
    expected_num_seed_generators: int | None = None,
    expected_num_losses: int | None = None,
    run_mixed_precision_check: bool = True,
    run_serialization_check: bool = True,
) -> Any:
    """Builds, calls, serializes and trains one step of a layer.

    Checks, as keras' own ``run_layer_test`` does, that:
    - the eager output shape equals ``expected_output_shape`` (when given) and
      the layer's own ``compute_output_shape``, and the output equals
      ``expected_output`` (when given, within the tolerances);
    - a symbolic call on ``keras.Input`` gives the same shape (batch unknown);
    - the weight counts, the number of ``keras.random.SeedGenerator`` s (seed
      states are in ``layer.variables`` but not in ``layer.weights``) and the
      number of losses the call adds match;
    - the layer survives ``from_config(get_config())`` and Keras
      serialization with an equal config (`run_serialization_test`);
    - under ``mixed_float16`` and ``mixed_bfloat16`` the float outputs have
      the policy's compute dtype (as ``compute_output_spec`` says too), the
      float weights stay float32 and the outputs are finite;
    - one ``model.fit`` step on a model wrapping the layer changes every
      trainable weight and leaves the outputs finite.

    Returns the eager output (float32 policy).
    """
    if input_data is None:
        if input_shape is None:
            raise ValueError("Pass `input_shape` or `input_data`. Received neither.")
        input_data = random_inputs(input_shape)
    call_kwargs = dict(call_kwargs or {})
    layer = layer_cls(**init_kwargs)
    output = layer(input_data, **call_kwargs)
    output_shapes = _tensor_shapes(output)
    if expected_output_shape is not None:
        assert _flat_shapes(expected_output_shape) == output_shapes, (
            f"expected output shape {expected_output_shape}, received {output_shapes}"
        )
    if expected_output is not None:
        assert_all_close(
            output,
            expected_output,
            atol=expected_output_atol,
            rtol=expected_output_rtol,
            what="expected_output",
        )
    concrete_input_shape = keras.tree.map_structure(
        lambda v: tuple(keras.ops.shape(v)), input_data
    )
    if isinstance(input_data, (list, tuple)):
        concrete_input_shape = list(concrete_input_shape)
    computed = _flat_shapes(layer.compute_output_shape(concrete_input_shape))
    assert computed == output_shapes, (
        f"compute_output_shape gave {computed}, the call produced {output_shapes}"
    )

    symbolic_inputs = keras.tree.map_structure(
        lambda v: keras.Input(shape=tuple(keras.ops.shape(v))[1:]), input_data
    )
    symbolic_layer = layer_cls(**init_kwargs)
    symbolic_output = symbolic_layer(symbolic_inputs, **call_kwargs)
    for got, want in zip(_tensor_shapes(symbolic_output), output_shapes, strict=True):
        assert got[1:] == want[1:], f"symbolic shape {got}, eager shape {want}"

    if expected_num_trainable_weights is not None:
        assert len(layer.trainable_weights) == expected_num_trainable_weights, (
            f"expected {expected_num_trainable_weights} trainable weights, "
            f"received {len(layer.trainable_weights)}"
        )
    if expected_num_non_trainable_weights is not None:
        assert len(layer.non_trainable_weights) == expected_num_non_trainable_weights, (
            f"expected {expected_num_non_trainable_weights} non-trainable weights, "
            f"received {len(layer.non_trainable_weights)}"
        )
    if expected_num_seed_generators is not None:
        weights = {id(w) for w in layer.weights}
        seeds = [v for v in layer.variables if id(v) not in weights]
        assert len(seeds) == expected_num_seed_generators, (
            f"expected {expected_num_seed_generators} seed generators, "
            f"received {len(seeds)}"
        )
    if expected_num_losses is not None:
        assert len(layer.losses) == expected_num_losses, (
            f"expected {expected_num_losses} losses, received {len(layer.losses)}"
        )

    if run_serialization_check:
        run_serialization_test(layer)
    if run_mixed_precision_check:
        for policy in MIXED_PRECISION_POLICIES:
            _check_mixed_precision(
                layer_cls, init_kwargs, input_data, call_kwargs, policy
            )

    if run_training_check and symbolic_layer.trainable_weights:
        model = keras.Model(symbolic_inputs, symbolic_output)
        before = [np.array(w.numpy()) for w in symbolic_layer.trainable_weights]
        targets = keras.tree.map_structure(
            lambda o: np.ones(tuple(keras.ops.shape(o)), "float32"), output
        )
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        history = model.fit(input_data, targets, epochs=1, batch_size=64, verbose=0)
        assert np.isfinite(history.history["loss"][0]), (
            "training produced a non-finite loss"
        )
        after = [np.array(w.numpy()) for w in symbolic_layer.trainable_weights]
        unchanged = [
            w.path
            for w, b, a in zip(
                symbolic_layer.trainable_weights, before, after, strict=True
            )
            if np.array_equal(b, a)
        ]
        assert not unchanged, (
            f"one training step left these weights unchanged: {unchanged}"
        )
    return output


def _is_float(dtype: Any) -> bool:
    return keras.backend.standardize_dtype(dtype).startswith(("float", "bfloat"))


def check_mixed_precision(
    build: Any, inputs: Inputs, policy: str, what: str = "layer", **call_kwargs: Any
) -> Any:
    """Checks one layer or model under a mixed-precision dtype policy.

    ``build(dtype)`` makes the layer or model with ``dtype=policy``. Its float
    outputs on ``inputs`` must have the policy's compute dtype and be finite,
    and its float weights must stay float32 (the variable dtype). Returns the
    outputs.
    """
    instance = build(policy)
    compute_dtype = keras.dtype_policies.get(policy).compute_dtype
    outputs = instance(inputs, **call_kwargs)
    for index, tensor in enumerate(keras.tree.flatten(outputs)):
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if _is_float(dtype):
            assert dtype == compute_dtype, (
                f"{what} under {policy}: output #{index} is {dtype}, "
                f"expected {compute_dtype}"
            )
            values = np.asarray(keras.ops.convert_to_numpy(tensor), "float32")
            assert np.all(np.isfinite(values)), (
                f"{what} under {policy}: output #{index} is not finite"
            )
    for weight in instance.weights:
        dtype = keras.backend.standardize_dtype(weight.dtype)
        if _is_float(dtype):
            assert dtype == "float32", (
                f"{what} under {policy}: weight {weight.path} is {dtype}, "
                "expected float32"
            )
    return outputs


def _check_mixed_precision(
    layer_cls: type[keras.layers.Layer],
    init_kwargs: Mapping[str, Any],
    input_data: Inputs,
    call_kwargs: Mapping[str, Any],
    policy: str,
) -> None:
    def build(dtype: str) -> keras.layers.Layer:
        return layer_cls(**{**init_kwargs, "dtype": dtype})

    layer = build(policy)
    outputs = check_mixed_precision(
        lambda _: layer, input_data, policy, what=layer_cls.__name__, **call_kwargs
    )
    # What compute_output_spec promises is what the call gives.
    spec_inputs = keras.tree.map_structure(
        lambda v: keras.KerasTensor(
            tuple(keras.ops.shape(v)),
            dtype=layer.compute_dtype if _is_float(v.dtype) else v.dtype,
        ),
        input_data,
    )
    specs = layer.compute_output_spec(spec_inputs, **call_kwargs)
    for tensor, spec in zip(
        keras.tree.flatten(outputs), keras.tree.flatten(specs), strict=True
    ):
        got = keras.backend.standardize_dtype(tensor.dtype)
        assert got == keras.backend.standardize_dtype(spec.dtype), (
            f"{layer_cls.__name__} under {policy}: compute_output_spec says "
            f"{spec.dtype}, the call gives {got}"
        )


def run_serialization_test(instance: Any) -> Any:
    """Round-trips an object through its config and Keras serialization.

    Checks ``from_config(get_config())`` and
    ``deserialize_keras_object(serialize_keras_object(...))`` both give an
    object of the same class with an equal config. Returns the revived object.
    """
    cls = type(instance)
    config = instance.get_config()
    revived = cls.from_config(config)
    assert type(revived) is cls
    assert revived.get_config() == config, (
        "config changed in from_config round trip:\n"
        f"{config}\n!=\n{revived.get_config()}"
    )
    serialized = keras.saving.serialize_keras_object(instance)
    if getattr(cls, "_keras_apps_public_path", None):
        registered = serialized.get("registered_name") or ""
        assert registered.startswith("keras_apps>"), (
            f"{cls.__name__} is not registered under package keras_apps: {serialized}"
        )
    deserialized = keras.saving.deserialize_keras_object(serialized)
    assert type(deserialized) is cls
    assert deserialized.get_config() == config
    return revived


def run_model_saving_test(
    model: keras.Model, inputs: Inputs, atol: float = 1e-6, directory: str | None = None
) -> keras.Model:
    """Saves ``model`` as ``.keras``, loads it back and compares outputs."""
    expected = model(inputs, training=False)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    actual = loaded(inputs, training=False)
    assert_all_close(actual, expected, atol=atol, what=".keras round trip")
    return loaded


def run_export_test(
    model: keras.Model, inputs: Inputs, atol: float = 1e-5, directory: str | None = None
) -> Any:
    """Exports ``model`` as a SavedModel, reloads it with TensorFlow and compares.

    Uses ``model.export(..., format="tf_saved_model")`` and
    ``tf.saved_model.load``; the reloaded ``serve`` endpoint must give the
    in-memory outputs. Needs the TensorFlow backend.
    """
    import tensorflow as tf

    expected = model(inputs, training=False)
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        path = os.path.join(tmp, "saved_model")
        model.export(path, format="tf_saved_model", verbose=False)
        reloaded = tf.saved_model.load(path)
        actual = reloaded.serve(inputs)
        assert_all_close(actual, expected, atol=atol, what="SavedModel export")
    return actual


class TestCase:
    """Base class for class-style tests; the helpers as methods."""

    run_layer_test = staticmethod(run_layer_test)
    check_mixed_precision = staticmethod(check_mixed_precision)
    run_serialization_test = staticmethod(run_serialization_test)
    run_model_saving_test = staticmethod(run_model_saving_test)
    run_export_test = staticmethod(run_export_test)
    assert_all_close = staticmethod(assert_all_close)
