"""The shared helpers must catch real failures, not only pass good layers."""

import keras
import numpy as np
import pytest

from keras_apps import testing


def test_run_layer_test_on_dense_matches_numpy():
    data = testing.random_inputs((None, 5))
    out = testing.run_layer_test(
        keras.layers.Dense,
        {"units": 3, "kernel_initializer": "ones", "bias_initializer": "zeros"},
        input_data=data,
        expected_output_shape=(2, 3),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=0,
    )
    np.testing.assert_allclose(
        out, np.repeat(data.sum(1, keepdims=True), 3, 1), rtol=1e-5
    )


def test_run_layer_test_catches_wrong_shape():
    with pytest.raises(AssertionError, match="expected output shape"):
        testing.run_layer_test(
            keras.layers.Dense,
            {"units": 3},
            input_shape=(None, 4),
            expected_output_shape=(2, 4),
        )


class _Frozen(keras.layers.Layer):
    """A layer with a trainable weight that never reaches the output."""

    def build(self, input_shape):
        self.used = self.add_weight(shape=(1,), name="used")
        self.unused = self.add_weight(shape=(1,), name="unused")

    def call(self, x):
        return x * self.used

    def compute_output_shape(self, input_shape):
        return input_shape


def test_run_layer_test_catches_weights_that_do_not_train():
    with pytest.raises(AssertionError, match="unchanged"):
        testing.run_layer_test(
            _Frozen, {}, input_shape=(None, 3), run_serialization_check=False
        )


def test_run_layer_test_checks_expected_output():
    data = testing.random_inputs((None, 4))
    testing.run_layer_test(
        keras.layers.ReLU, {}, input_data=data, expected_output=np.maximum(data, 0)
    )
    with pytest.raises(AssertionError, match="expected_output"):
        testing.run_layer_test(
            keras.layers.ReLU, {}, input_data=data, expected_output=data
        )


def test_run_layer_test_counts_seed_generators_and_losses():
    testing.run_layer_test(
        keras.layers.Dropout,
        {"rate": 0.5, "seed": 1},
        input_shape=(None, 4),
        expected_num_seed_generators=1,
        expected_num_losses=0,
    )
    with pytest.raises(AssertionError, match="expected 0 seed generators"):
        testing.run_layer_test(
            keras.layers.Dropout,
            {"rate": 0.5, "seed": 1},
            input_shape=(None, 4),
            expected_num_seed_generators=0,
        )
    with pytest.raises(AssertionError, match="expected 0 losses, received 1"):
        testing.run_layer_test(
            keras.layers.ActivityRegularization,
            {"l1": 0.1},
            input_shape=(None, 4),
            expected_num_losses=0,
        )


class _AlwaysFloat32(keras.layers.Layer):
    """Ignores its dtype policy: casts the output to float32."""

    def call(self, x):
        return keras.ops.cast(x, "float32")

    def compute_output_shape(self, input_shape):
        return input_shape


def test_run_layer_test_catches_a_layer_that_ignores_mixed_precision():
    with pytest.raises(AssertionError, match="mixed_float16.*float32.*float16"):
        testing.run_layer_test(
            _AlwaysFloat32, {}, input_shape=(None, 3), run_serialization_check=False
        )


def test_check_mixed_precision_catches_half_precision_weights():
    def build(policy):
        return keras.layers.Dense(2, dtype="float16")

    with pytest.raises(AssertionError, match="weight .* is float16"):
        testing.check_mixed_precision(
            build, np.ones((1, 3), "float16"), "mixed_float16"
        )


def _two_dense():
    inputs = keras.Input((6,))
    return keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4)(inputs)))


def test_serialization_and_model_saving_round_trips():
    testing.run_serialization_test(keras.layers.Dense(4, activation="relu"))
    testing.run_model_saving_test(_two_dense(), testing.random_inputs((None, 6)))


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export_round_trip():
    testing.run_export_test(_two_dense(), testing.random_inputs((None, 6)))


def test_assert_all_close_reports_difference():
    with pytest.raises(AssertionError, match="tensor #1"):
        testing.assert_all_close([np.zeros(2), np.ones(2)], [np.zeros(2), np.zeros(2)])
