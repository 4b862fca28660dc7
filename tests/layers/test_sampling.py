import os

import keras
import numpy as np
import pytest

from keras_apps import testing
from keras_apps.layers.sampling import Sampling


def _pair(shape, seed=0):
    z_mean, z_log_var = testing.random_inputs([shape, shape], seed=seed)
    return [z_mean, z_log_var]


@pytest.mark.parametrize("shape", [(None, 1), (None, 4), (None, 3, 5), (None, 2, 2, 3)])
@pytest.mark.parametrize("seed", [None, 0, 42])
def test_behaviour_on_tiny_shapes(shape, seed):
    inputs = _pair(shape)
    out = testing.run_layer_test(
        Sampling,
        {"seed": seed},
        input_data=inputs,
        expected_output_shape=(2, *shape[1:]),
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=1,
        expected_num_losses=0,
    )
    out = np.asarray(out)
    assert np.all(np.isfinite(out))
    assert not np.allclose(out, inputs[0]), "no noise was added"


def test_sample_moments_match_mean_and_variance():
    n = 20_000
    means = np.array([-3.0, 0.0, 0.5, 10.0], "float32")
    log_vars = np.array([-4.0, 0.0, 1.0, 2.5], "float32")
    z_mean = np.broadcast_to(means, (n, 4)).copy()
    z_log_var = np.broadcast_to(log_vars, (n, 4)).copy()
    z = np.asarray(Sampling(seed=3)([z_mean, z_log_var]), "float64")

    variances = np.exp(log_vars.astype("float64"))
    # Five standard errors: the mean of n draws has standard error
    # sigma / sqrt(n); the sample variance has sigma^2 * sqrt(2 / (n - 1)).
    mean_tolerance = 5 * np.sqrt(variances / n)
    var_tolerance = 5 * variances * np.sqrt(2 / (n - 1))
    assert np.all(np.abs(z.mean(axis=0) - means) < mean_tolerance), z.mean(axis=0)
    assert np.all(np.abs(z.var(axis=0, ddof=1) - variances) < var_tolerance), z.var(
        axis=0, ddof=1
    )
    # The noise of different coordinates is independent.
    correlation = np.corrcoef(z, rowvar=False)[np.triu_indices(4, 1)]
    assert np.all(np.abs(correlation) < 5 / np.sqrt(n)), correlation


def test_same_seed_gives_same_draws_in_fresh_layers():
    inputs = _pair((8, 3))
    first, second = Sampling(seed=11), Sampling(seed=11)
    draws_first = [np.asarray(first(inputs)) for _ in range(3)]
    draws_second = [np.asarray(second(inputs)) for _ in range(3)]
    for a, b in zip(draws_first, draws_second, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.allclose(draws_first[0], draws_first[1]), "calls repeat noise"
    other = np.asarray(Sampling(seed=12)(inputs))
    assert not np.allclose(draws_first[0], other), "seeds 11 and 12 agree"


@pytest.mark.requires_tensorflow(reason="tf.GradientTape")
def test_gradients_follow_the_reparameterization():
    import tensorflow as tf

    z_mean, z_log_var = (tf.constant(v) for v in _pair((4, 3), seed=5))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([z_mean, z_log_var])
        z = Sampling(seed=1)([z_mean, z_log_var])
        total = tf.reduce_sum(z)
    # dz/dmean = 1 and dz/dlogvar = 0.5 * exp(0.5 * logvar) * eps = 0.5 (z - mean).
    testing.assert_all_close(tape.gradient(total, z_mean), np.ones((4, 3)))
    testing.assert_all_close(
        tape.gradient(total, z_log_var), 0.5 * (z - z_mean), atol=1e-6, rtol=1e-5
    )


@pytest.mark.parametrize(
    "mean_shape, log_var_shape, symbolic_too",
    [
        ((2, 3), (2, 4), True),
        ((2, 3), (2, 3, 1), True),
        ((2, 3), (1, 3), False),  # batch sizes are only known at call time
        ((4, 3), (2, 3), False),
    ],
)
def test_rejects_mismatched_shapes(mean_shape, log_var_shape, symbolic_too):
    match = r"same shape.*z_mean.shape=.*z_log_var.shape="
    mean = np.zeros(mean_shape, "float32")
    log_var = np.zeros(log_var_shape, "float32")
    with pytest.raises(ValueError, match=match):
        Sampling()([mean, log_var])
    if symbolic_too:
        with pytest.raises(ValueError, match=match):
            Sampling()([keras.Input(mean_shape[1:]), keras.Input(log_var_shape[1:])])


def test_rejects_a_mismatch_after_build():
    layer = Sampling()
    layer(_pair((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        layer([np.zeros((2, 3), "float32"), np.zeros((1, 3), "float32")])


def test_rejects_inputs_that_are_not_a_pair():
    with pytest.raises(ValueError, match=r"two inputs, \[z_mean, z_log_var\]"):
        Sampling()(np.zeros((2, 3), "float32"))
    with pytest.raises(ValueError, match="two inputs"):
        Sampling()(_pair((2, 3)) + [np.zeros((2, 3), "float32")])


@pytest.mark.parametrize("seed", [1.5, "7", True])
def test_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match="Received: seed="):
        Sampling(seed=seed)


def _encoder_head(seed=7):
    features = keras.Input(shape=(5,))
    z_mean = keras.layers.Dense(3, name="z_mean")(features)
    z_log_var = keras.layers.Dense(3, name="z_log_var")(features)
    return keras.Model(features, Sampling(seed=seed)([z_mean, z_log_var]))


def test_keras_file_round_trip_continues_the_same_noise(tmp_path):
    model = _encoder_head()
    features = testing.random_inputs((4, 5))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)  # the generator state is saved before any draw
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded.layers[-1], Sampling)
    for call in range(2):
        testing.assert_all_close(
            loaded(features), model(features), what=f".keras round trip call {call}"
        )


def test_keras_file_round_trip_without_noise(tmp_path):
    # With z_log_var -> -inf the draw is z_mean, whatever the generator state.
    model = _encoder_head()
    model.get_layer("z_log_var").set_weights(
        [np.zeros((5, 3), "float32"), np.full((3,), -200.0, "float32")]
    )
    features = testing.random_inputs((4, 5))
    loaded = testing.run_model_saving_test(model, features, directory=str(tmp_path))
    testing.assert_all_close(
        loaded(features), loaded.get_layer("z_mean")(features), atol=1e-6
    )


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_savedmodel_export_continues_the_same_noise(tmp_path):
    import tensorflow as tf

    model = _encoder_head()
    features = testing.random_inputs((4, 5))
    path = os.path.join(tmp_path, "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    reloaded = tf.saved_model.load(path)
    for call in range(2):
        testing.assert_all_close(
            reloaded.serve(features),
            model(features),
            what=f"SavedModel call {call}",
        )


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_savedmodel_export_without_noise(tmp_path):
    model = _encoder_head()
    model.get_layer("z_log_var").set_weights(
        [np.zeros((5, 3), "float32"), np.full((3,), -200.0, "float32")]
    )
    testing.run_export_test(
        model, testing.random_inputs((4, 5)), directory=str(tmp_path)
    )


@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_each_replica_draws_its_own_noise(mirrored_strategy):
    import tensorflow as tf

    with mirrored_strategy.scope():
        layer = Sampling(seed=3)
    zeros = tf.zeros((256, 4))

    @tf.function
    def draw():
        return mirrored_strategy.run(lambda: layer([zeros, zeros]))

    per_replica = mirrored_strategy.experimental_local_results(draw())
    first, second = (np.asarray(v) for v in per_replica)
    # Standard normal noise on each replica, and not the same noise.
    for noise in (first, second):
        assert abs(noise.mean()) < 0.1 and abs(noise.std() - 1.0) < 0.1
    assert np.corrcoef(first.ravel(), second.ravel())[0, 1] < 0.1
    # The next step draws new noise on each replica.
    again = np.asarray(mirrored_strategy.experimental_local_results(draw())[0])
    assert not np.allclose(again, first)
