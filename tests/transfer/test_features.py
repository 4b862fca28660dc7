import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps.transfer import extract_features, features


def _model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    return keras.Model(inputs, outputs)


def _images(n=10):
    return np.random.default_rng(0).standard_normal((n, 8, 8, 3)).astype("float32")


def _reference(model, names, x):
    sub = keras.Model(model.inputs[0], [model.get_layer(n).output for n in names])
    out = sub(x, training=False)
    return [np.array(o) for o in (out if isinstance(out, list) else [out])]


@pytest.mark.parametrize("source", ["array", "dataset", "generator", "xy_dataset"])
def test_matches_a_direct_intermediate_model_call(source):
    model = _model()
    x = _images()
    if source == "array":
        data = x
    elif source == "dataset":
        data = tf.data.Dataset.from_tensor_slices(x).batch(3)
    elif source == "generator":
        data = (x[i : i + 4] for i in range(0, 10, 4))
    else:
        data = tf.data.Dataset.from_tensor_slices((x, np.arange(10))).batch(4)
    result = extract_features(model, data, layers=["conv", "pool"], batch_size=3)
    assert set(result) == {"conv", "pool"}
    conv, pool = _reference(model, ["conv", "pool"], x)
    np.testing.assert_allclose(result["conv"], conv, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(result["pool"], pool, rtol=1e-5, atol=1e-6)
    assert result["pool"].shape == (10, 4)


def test_single_layer_output_and_pooling():
    model = _model()
    x = _images(5)
    np.testing.assert_allclose(
        extract_features(model, x, batch_size=2),
        np.array(model(x)),
        rtol=1e-5,
        atol=1e-6,
    )
    pooled = extract_features(model, x, layers="bn", pooling="avg")
    (bn,) = _reference(model, ["bn"], x)
    np.testing.assert_allclose(pooled, bn.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)
    maxed = extract_features(model, x, layers="bn", pooling="max")
    np.testing.assert_allclose(maxed, bn.max(axis=(1, 2)), rtol=1e-6)


def test_errors():
    model = _model()
    with pytest.raises(ValueError, match=r"No layer named 'fc'.*conv"):
        extract_features(model, _images(), layers="fc")
    with pytest.raises(ValueError, match="batch_size >= 1.*0"):
        extract_features(model, _images(), batch_size=0)
    with pytest.raises(ValueError, match="pooling.*'sum'"):
        extract_features(model, _images(), pooling="sum")
    with pytest.raises(ValueError, match="empty"):
        extract_features(model, _images(0))
    with pytest.raises(ValueError, match="Expected a Keras model"):
        extract_features(keras.layers.Dense(2), _images())
    outer_in = keras.Input((8, 8, 3))
    outer = keras.Model(outer_in, model(outer_in))
    with pytest.raises(ValueError, match="nested model"):
        extract_features(outer, _images(), layers="conv")


def test_docstring_examples():
    result = doctest.testmod(features)
    assert result.attempted > 0 and result.failed == 0
