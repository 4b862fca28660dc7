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
        testing.run_layer_test(_Frozen, {}, input_shape=(None, 3))


def test_serialization_model_saving_and_export_round_trips():
    testing.run_serialization_test(keras.layers.Dense(4, activation="relu"))
    inputs = keras.Input((6,))
    model = keras.Model(inputs, keras.layers.Dense(2)(keras.layers.Dense(4)(inputs)))
    data = testing.random_inputs((None, 6))
    testing.run_model_saving_test(model, data)
    testing.run_export_test(model, data)


def test_assert_all_close_reports_difference():
    with pytest.raises(AssertionError, match="tensor #1"):
        testing.assert_all_close([np.zeros(2), np.ones(2)], [np.zeros(2), np.zeros(2)])
