import doctest
import os

import keras
import numpy as np
import pytest

from keras_apps.testing.test_case import run_model_saving_test
from keras_apps.transfer import learning_rates
from keras_apps.transfer.learning_rates import (
    LayerwiseLearningRateOptimizer,
    layerwise_learning_rates,
)


def _model():
    return keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(4, name="block1_dense"),
            keras.layers.Dense(4, name="block5_dense"),
            keras.layers.Dense(2, name="head"),
        ],
        name="net",
    )


def _data():
    rng = np.random.default_rng(0)
    return (
        rng.standard_normal((8, 3)).astype("float32"),
        rng.standard_normal((8, 2)).astype("float32"),
    )


def _weights(model, name):
    return [np.array(w) for w in model.get_layer(name).get_weights()]


def test_multiplier_zero_is_bit_identical_under_adam_while_head_moves():
    model = _model()
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(0.05), {"block1_dense": 0.0}
    )
    model.compile(optimizer=optimizer, loss="mse")
    frozen_before = _weights(model, "block1_dense")
    head_before = _weights(model, "head")
    model.fit(*_data(), epochs=3, batch_size=4, verbose=0)
    for before, after in zip(
        frozen_before, _weights(model, "block1_dense"), strict=True
    ):
        assert np.array_equal(before, after)
        assert before.tobytes() == after.tobytes()
    for before, after in zip(head_before, _weights(model, "head"), strict=True):
        assert not np.allclose(before, after)


STATELESS = pytest.param(
    "stateless_apply",
    marks=pytest.mark.skipif(
        keras.backend.backend() != "jax",
        reason="the JAX trainer's path; TensorFlow refuses stateless_apply",
    ),
)


@pytest.mark.parametrize("path", ["apply", STATELESS])
@pytest.mark.parametrize("learning_rate", [0.1, 0.03])
def test_multiplier_under_sgd_scales_the_step_exactly(learning_rate, path):
    model = _model()
    optimizer = layerwise_learning_rates(
        keras.optimizers.SGD(learning_rate), {"block5*": 0.1}
    )
    variables = model.trainable_variables
    optimizer.build(variables)
    # Any gradient will do: SGD's step is -rate * gradient whatever it is.
    rng = np.random.default_rng(1)
    grads = [rng.standard_normal(v.shape).astype("float32") for v in variables]
    before = {v.path: np.array(v) for v in variables}
    tensors = [keras.ops.convert_to_tensor(g) for g in grads]
    if path == "apply":
        optimizer.apply(tensors, variables)
        after = [np.array(v) for v in variables]
    else:  # the JAX trainer's path: values in, values out, variables untouched
        new_values, _ = optimizer.stateless_apply(
            [v.value for v in optimizer.variables],
            tensors,
            [v.value for v in variables],
        )
        after = [np.asarray(keras.ops.convert_to_numpy(v)) for v in new_values]
        for variable in variables:
            np.testing.assert_array_equal(np.array(variable), before[variable.path])
    for variable, grad, new in zip(variables, grads, after, strict=True):
        step = before[variable.path] - new
        plain = np.float32(learning_rate) * np.array(grad)
        factor = np.float32(0.1) if variable.path.startswith("net/block5") else 1
        # The step is factor x the plain SGD step (up to the float32 rounding
        # of w - step), and the new weights equal w - (lr * factor) * g.
        np.testing.assert_allclose(step, factor * plain, rtol=1e-3, atol=1e-7)
        rate = np.float32(learning_rate) * np.float32(factor)
        expected = before[variable.path] - np.array(grad) * rate
        np.testing.assert_array_max_ulp(new, expected, maxulp=1)


def test_works_with_learning_rate_schedule():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([1], [0.1, 0.01])
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, name="d")])
    model.get_layer("d").set_weights([np.zeros((1, 1)), np.zeros(1)])
    optimizer = layerwise_learning_rates(keras.optimizers.SGD(schedule), {"d": 0.5})
    variables = model.trainable_variables
    optimizer.build(variables)
    kernel = model.get_layer("d").kernel
    ones = [keras.ops.ones((1, 1)), keras.ops.zeros((1,))]
    optimizer.apply(ones, variables)  # step 0: lr 0.1 * 0.5
    np.testing.assert_allclose(np.array(kernel), [[-0.05]], rtol=1e-6)
    optimizer.apply(ones, variables)  # step 1: still lr 0.1 (step <= boundary)
    np.testing.assert_allclose(np.array(kernel), [[-0.1]], rtol=1e-6)
    optimizer.apply(ones, variables)  # step 2: lr 0.01 * 0.5
    np.testing.assert_allclose(np.array(kernel), [[-0.105]], rtol=1e-6)
    assert optimizer.iterations.numpy() == 3


def test_weight_decay_is_scaled_and_skipped_at_zero():
    model = keras.Sequential(
        [
            keras.Input((1,)),
            keras.layers.Dense(1, use_bias=False, name="a"),
            keras.layers.Dense(1, use_bias=False, name="b"),
        ]
    )
    model.get_layer("a").set_weights([np.ones((1, 1))])
    model.get_layer("b").set_weights([np.ones((1, 1))])
    inner = keras.optimizers.SGD(0.1, weight_decay=0.5)
    optimizer = layerwise_learning_rates(inner, {"a": 0.0, "b": 0.2})
    variables = model.trainable_variables
    optimizer.build(variables)
    optimizer.apply([keras.ops.zeros((1, 1))] * 2, variables)
    assert np.array(model.get_layer("a").kernel)[0, 0] == 1.0
    # Decoupled decay: w -= w * wd * lr * factor = 1 * 0.5 * 0.1 * 0.2
    np.testing.assert_allclose(np.array(model.get_layer("b").kernel), [[0.99]])


def test_last_matching_pattern_wins_and_unmatched_get_one():
    optimizer = layerwise_learning_rates(
        keras.optimizers.SGD(0.1), {"*": 0.1, "head": 1.0, "block5*": 0.5}
    )
    assert optimizer.factor_for("net/head/kernel") == 1.0
    assert optimizer.factor_for("net/block5_dense/bias") == 0.5
    assert optimizer.factor_for("net/block1_dense/bias") == 0.1
    plain = layerwise_learning_rates(keras.optimizers.SGD(0.1), {"x": 0.3})
    assert plain.factor_for("net/head/kernel") == 1.0
    assert plain.learning_rate_for("x/kernel") == pytest.approx(0.03)


def test_nested_model_name_matches_all_its_variables():
    backbone = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="inner")], name="backbone"
    )
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, name="head")(backbone(inputs))
    model = keras.Model(inputs, outputs)
    optimizer = layerwise_learning_rates(
        keras.optimizers.SGD(0.1), {"backbone": 0.0}, model=model
    )
    optimizer.build(model.trainable_variables)
    factors = {v.path: optimizer.factor_for(v) for v in model.trainable_variables}
    assert factors == {
        "backbone/inner/kernel": 0.0,
        "backbone/inner/bias": 0.0,
        "head/kernel": 1.0,
        "head/bias": 1.0,
    }


def _functional_backbone_under_a_head():
    # As keras.applications builds a backbone: the layers exist before the
    # model, so the model's name is not in the paths of its weights.
    image = keras.Input((3,))
    features = keras.layers.Dense(2, name="inner")(image)
    backbone = keras.Model(image, features, name="backbone")
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(1, name="head")(backbone(inputs))
    return keras.Model(inputs, outputs, name="classifier"), backbone


def test_functional_backbone_name_scales_its_weights_exactly():
    model, backbone = _functional_backbone_under_a_head()
    assert backbone.weights[0].path == "inner/kernel"  # the name is not in it
    x, y = _data()
    y = y[:, :1]
    steps = {}
    for factor in (1.0, 0.1, 0.0):
        keras.utils.set_random_seed(0)
        model, backbone = _functional_backbone_under_a_head()
        optimizer = layerwise_learning_rates(
            keras.optimizers.SGD(0.1), {"backbone": factor}, model=model
        )
        model.compile(optimizer=optimizer, loss="mse")
        before = [np.array(w) for w in model.get_weights()]
        model.train_on_batch(x, y)
        steps[factor] = [
            np.array(w) - b for w, b in zip(model.get_weights(), before, strict=True)
        ]
    # SGD: the step is factor * learning_rate * gradient, the head's unscaled.
    inner = [0, 1]  # inner/kernel, inner/bias
    for index, (full, tenth, zero) in enumerate(
        zip(steps[1.0], steps[0.1], steps[0.0], strict=True)
    ):
        assert np.abs(full).max() > 0
        if index in inner:
            np.testing.assert_allclose(tenth, 0.1 * full, rtol=1e-5, atol=1e-7)
            assert not zero.any()
        else:
            np.testing.assert_allclose(tenth, full, rtol=1e-5, atol=1e-7)


def test_functional_backbone_name_needs_the_model_and_survives_saving(tmp_path):
    model, _ = _functional_backbone_under_a_head()
    without_model = layerwise_learning_rates(keras.optimizers.SGD(), {"backbone": 0.0})
    with pytest.raises(ValueError, match=r"\['backbone'\].*nested.*model=model"):
        without_model.build(model.trainable_variables)
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(0.05), {"backbone": 0.0}, model=model
    )
    assert optimizer.factor_for("inner/kernel") == 0.0
    assert optimizer.factor_for("head/kernel") == 1.0
    model.compile(optimizer=optimizer, loss="mse")
    x, y = _data()
    y = y[:, :1]
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    loaded = run_model_saving_test(model, x, directory=str(tmp_path))
    frozen = _weights(loaded.get_layer("backbone"), "inner")
    head = _weights(loaded, "head")
    loaded.fit(x, y, epochs=1, batch_size=4, verbose=0)
    after = _weights(loaded.get_layer("backbone"), "inner")
    for a, b in zip(frozen, after, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(head[0], _weights(loaded, "head")[0])


def test_errors():
    with pytest.raises(ValueError, match="finite factor >= 0.*'head'"):
        layerwise_learning_rates(keras.optimizers.SGD(), {"head": -0.1})
    with pytest.raises(ValueError, match="Expected a number"):
        layerwise_learning_rates(keras.optimizers.SGD(), {"head": "fast"})
    with pytest.raises(ValueError, match="dict mapping layer names"):
        layerwise_learning_rates(keras.optimizers.SGD(), [("head", 1.0)])
    model = _model()
    with pytest.raises(ValueError, match=r"match no layer.*\['nope'\].*block1_dense"):
        layerwise_learning_rates(keras.optimizers.SGD(), {"nope": 0.1}, model=model)
    optimizer = layerwise_learning_rates(keras.optimizers.SGD(), {"blok*": 0.1})
    with pytest.raises(ValueError, match=r"\['blok\*'\].*block1_dense"):
        optimizer.build(model.trainable_variables)
    with pytest.raises(ValueError, match="already has layer-wise"):
        LayerwiseLearningRateOptimizer(optimizer, {"a": 1.0})
    with pytest.raises(ValueError, match="inner_optimizer"):
        LayerwiseLearningRateOptimizer("sgd", {"a": 1.0})


def test_serialization_round_trip():
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(
            keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
        ),
        {"block1*": 0.0, "head": 2.0},
    )
    config = optimizer.get_config()
    revived = LayerwiseLearningRateOptimizer.from_config(config)
    assert revived.multipliers == {"block1*": 0.0, "head": 2.0}
    assert revived.get_config() == config
    serialized = keras.saving.serialize_keras_object(optimizer)
    assert serialized["registered_name"] == (
        "keras_apps>LayerwiseLearningRateOptimizer"
    )
    again = keras.saving.deserialize_keras_object(serialized)
    assert type(again) is LayerwiseLearningRateOptimizer
    assert type(again.inner_optimizer) is keras.optimizers.Adam
    assert again.get_config() == config


def test_keras_round_trip_keeps_multipliers_and_state(tmp_path):
    model = _model()
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(0.05), {"block1_dense": 0.0, "block5*": 0.1}
    )
    model.compile(optimizer=optimizer, loss="mse")
    x, y = _data()
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    loaded = run_model_saving_test(model, x, directory=str(tmp_path))
    assert isinstance(loaded.optimizer, LayerwiseLearningRateOptimizer)
    assert loaded.optimizer.multipliers == {"block1_dense": 0.0, "block5*": 0.1}
    assert int(loaded.optimizer.iterations.numpy()) == 2
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(np.array(a), np.array(b))
    frozen = _weights(loaded, "block1_dense")
    model.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(frozen, _weights(loaded, "block1_dense"), strict=True):
        assert np.array_equal(a, b)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_docstring_examples():
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    result = doctest.testmod(learning_rates, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.requires_tensorflow(reason="HubBackbone loads a TensorFlow SavedModel")
def test_hub_backbone_fine_tunes_with_adam_at_its_own_rate(tmp_path):
    from keras_apps.transfer import build_classifier, export_hub_module, load_backbone

    body = keras.Sequential(
        [keras.Input((6, 6, 1)), keras.layers.Conv2D(3, 3), keras.layers.Flatten()]
    )
    handle = export_hub_module(body, str(tmp_path / "hub"))
    backbone = load_backbone(handle, (6, 6, 1), include_preprocessing=False)
    model = build_classifier(backbone, 2, train_backbone=True, dropout=0.0)
    hub_layer = [
        layer for layer in backbone.layers if type(layer).__name__ == "HubBackbone"
    ][0]
    optimizer = layerwise_learning_rates(
        keras.optimizers.Adam(0.01), {hub_layer.name: 0.0}, model=model
    )
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    before = [np.array(w) for w in hub_layer.trainable_weights]
    head_before = model.get_layer("head").get_weights()[0].copy()
    assert before, "the hub layer has trainable weights"
    x = np.random.default_rng(0).uniform(size=(8, 6, 6, 1)).astype("float32")
    model.fit(x, np.arange(8) % 2, epochs=2, batch_size=4, verbose=0)
    for b, w in zip(before, hub_layer.trainable_weights, strict=True):
        np.testing.assert_array_equal(b, np.array(w))
    assert not np.allclose(head_before, model.get_layer("head").get_weights()[0])
    # With factor 1 the hub weights do move under Adam (no ':0' scope error).
    keras.backend.clear_session()
    optimizer = layerwise_learning_rates(keras.optimizers.Adam(0.01), {"head": 1.0})
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(8) % 2, epochs=1, batch_size=4, verbose=0)
    assert not all(
        np.array_equal(b, np.array(w))
        for b, w in zip(before, hub_layer.trainable_weights, strict=True)
    )
