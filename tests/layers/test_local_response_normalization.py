import keras
import numpy as np
import pytest

from keras_apps import testing
from keras_apps.layers.local_response_normalization import (
    LocalResponseNormalization,
)

ARGUMENTS = [
    {},  # AlexNet: depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75
    {"depth_radius": 0, "bias": 1.0, "alpha": 1.0, "beta": 0.5},
    {"depth_radius": 1, "bias": 0.5, "alpha": 0.3, "beta": 1.0},
    {"depth_radius": 3, "bias": 1.5, "alpha": 0.05, "beta": 0.6},
    {"depth_radius": 20, "bias": 2.0, "alpha": 0.01, "beta": 0.75},  # r > C
    {"depth_radius": 2, "bias": 1.0, "alpha": 0.0, "beta": 0.0},  # identity
]


def numpy_lrn(x, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75):
    """The formula of tf.nn.local_response_normalization, one channel at a time."""
    x = x.astype("float64")
    channels = x.shape[-1]
    out = np.empty_like(x)
    for c in range(channels):
        low, high = max(0, c - depth_radius), min(channels, c + depth_radius + 1)
        sqr_sum = np.sum(x[..., low:high] ** 2, axis=-1)
        out[..., c] = x[..., c] / (bias + alpha * sqr_sum) ** beta
    return out


@pytest.mark.parametrize("kwargs", ARGUMENTS)
@pytest.mark.parametrize("shape", [(None, 1, 1, 1), (None, 3, 4, 5), (None, 8, 8, 16)])
def test_behaviour_on_tiny_shapes(shape, kwargs):
    out = testing.run_layer_test(
        LocalResponseNormalization,
        kwargs,
        input_shape=shape,
        expected_output_shape=(2, *shape[1:]),
        expected_output=numpy_lrn(testing.random_inputs(shape), **kwargs),
        expected_output_atol=2e-6,
        expected_output_rtol=2e-6,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
    )
    assert np.all(np.isfinite(np.asarray(out)))


@pytest.mark.parametrize("kwargs", ARGUMENTS)
def test_equals_numpy(kwargs):
    # Scaled so that the sum of squares matters even with alpha = 1e-4.
    x = 30.0 * testing.random_inputs((2, 5, 4, 9), seed=3)
    got = LocalResponseNormalization(**kwargs)(x)
    full = {"depth_radius": 2, "bias": 2.0, "alpha": 1e-4, "beta": 0.75, **kwargs}
    testing.assert_all_close(got, numpy_lrn(x, **full), rtol=2e-6, atol=2e-6)


@pytest.mark.requires_tensorflow(reason="tf.nn.local_response_normalization")
@pytest.mark.parametrize("kwargs", ARGUMENTS)
def test_equals_tensorflow(kwargs):
    import tensorflow as tf

    x = 30.0 * testing.random_inputs((2, 5, 4, 9), seed=3)
    got = LocalResponseNormalization(**kwargs)(x)
    full = {"depth_radius": 2, "bias": 2.0, "alpha": 1e-4, "beta": 0.75, **kwargs}
    expected_tf = tf.nn.local_response_normalization(x, **full)
    testing.assert_all_close(got, expected_tf, rtol=2e-6, atol=2e-6)


def test_alexnet_defaults_change_the_output():
    x = 30.0 * testing.random_inputs((1, 2, 2, 8), seed=4)
    got = np.asarray(LocalResponseNormalization()(x))
    assert not np.allclose(got, x / 2.0**0.75, rtol=1e-3)
    np.testing.assert_allclose(got, numpy_lrn(x), rtol=2e-6)


def test_unknown_spatial_size_in_a_model():
    inputs = keras.Input(shape=(None, None, 6))
    layer = LocalResponseNormalization(depth_radius=1, alpha=0.1)
    model = keras.Model(inputs, layer(inputs))
    for size in (3, 7):
        x = testing.random_inputs((2, size, size + 1, 6), seed=size)
        np.testing.assert_allclose(
            model.predict(x, verbose=0),
            numpy_lrn(x, depth_radius=1, alpha=0.1),
            rtol=2e-6,
            atol=2e-6,
        )


@pytest.mark.requires_tensorflow(reason="tf.GradientTape and tf.nn reference")
def test_gradient_matches_tensorflow():
    import tensorflow as tf

    x = tf.constant(5.0 * testing.random_inputs((1, 3, 3, 7), seed=5))
    kwargs = {"depth_radius": 2, "bias": 1.0, "alpha": 0.2, "beta": 0.75}
    layer = LocalResponseNormalization(**kwargs)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        ours = tf.reduce_sum(tf.sin(layer(x)))
        theirs = tf.reduce_sum(tf.sin(tf.nn.local_response_normalization(x, **kwargs)))
    testing.assert_all_close(
        tape.gradient(ours, x), tape.gradient(theirs, x), rtol=1e-5, atol=1e-5
    )


def test_float16_is_computed_in_float32():
    # Squares of 300 overflow float16 (max 65504).
    x = np.full((1, 2, 2, 3), 300.0, dtype="float16")
    layer = LocalResponseNormalization(depth_radius=1, alpha=1e-4, dtype="float16")
    got = layer(x)
    assert keras.backend.standardize_dtype(got.dtype) == "float16"
    expected = numpy_lrn(x.astype("float32"), depth_radius=1, alpha=1e-4)
    np.testing.assert_allclose(np.asarray(got, "float32"), expected, rtol=1e-3)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"depth_radius": -1}, "depth_radius"),
        ({"depth_radius": 2.0}, "depth_radius"),
        ({"depth_radius": True}, "depth_radius"),
        ({"bias": 0.0}, "bias"),
        ({"bias": -1.0}, "bias"),
        ({"bias": float("nan")}, "bias"),
        ({"alpha": -1e-4}, "alpha"),
        ({"alpha": "small"}, "alpha"),
        ({"beta": -0.5}, "beta"),
        ({"beta": float("inf")}, "beta"),
    ],
)
def test_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}="):
        LocalResponseNormalization(**kwargs)


@pytest.mark.parametrize("shape", [(2, 8, 3), (2, 4, 4, 4, 3)])
def test_rejects_inputs_that_are_not_rank_4(shape):
    # The layer's InputSpec: Keras names the layer, the rank and the shape.
    keras_message = rf"'lrn'.*expected ndim=4, found ndim={len(shape)}"
    with pytest.raises(ValueError, match=keras_message):
        LocalResponseNormalization(name="lrn")(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=keras_message):
        LocalResponseNormalization(name="lrn")(keras.Input(shape=shape[1:]))
    with pytest.raises(ValueError, match=r"rank 4.*Received: input_shape="):
        LocalResponseNormalization().compute_output_shape(shape)


def _model():
    inputs = keras.Input(shape=(8, 8, 3))
    features = keras.layers.Conv2D(6, 3, padding="same")(inputs)
    outputs = LocalResponseNormalization(depth_radius=1, bias=1.0, alpha=0.5)(features)
    return keras.Model(inputs, outputs)


def test_keras_file_save_and_load_give_equal_outputs(tmp_path):
    loaded = testing.run_model_saving_test(
        _model(), testing.random_inputs((2, 8, 8, 3)), directory=str(tmp_path)
    )
    layer = loaded.layers[-1]
    assert isinstance(layer, LocalResponseNormalization)
    assert (layer.depth_radius, layer.bias, layer.alpha) == (1, 1.0, 0.5)


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_savedmodel_export_gives_equal_outputs(tmp_path):
    testing.run_export_test(
        _model(), testing.random_inputs((2, 8, 8, 3)), directory=str(tmp_path)
    )
