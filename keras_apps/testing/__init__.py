"""Shared test helpers for keras-apps and for libraries built on it."""

from keras_apps.testing.test_case import (
    TestCase,
    assert_all_close,
    check_mixed_precision,
    random_inputs,
    run_export_test,
    run_layer_test,
    run_model_saving_test,
    run_serialization_test,
)

__all__ = [
    "TestCase",
    "assert_all_close",
    "check_mixed_precision",
    "random_inputs",
    "run_export_test",
    "run_layer_test",
    "run_model_saving_test",
    "run_serialization_test",
]
