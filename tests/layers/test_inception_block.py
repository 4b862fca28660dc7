import keras
import numpy as np
import pytest

from keras_apps.layers.inception_block import InceptionBlock
from keras_apps.testing.test_case import (
    assert_all_close,
    random_inputs,
    run_export_test,
    run_layer_test,
    run_model_saving_test,
)

REDUCED = dict(
    filters_1x1=4, filters_3x3=6, filters_5x5=3, pool_proj=2, reduce_3x3=3, reduce_5x5=2
)
NAIVE = dict(filters_1x1=4, filters_3x3=6, filters_5x5=3, pool_proj=None, mode="naive")


@pytest.mark.parametrize(
    "kwargs, channels, expected_channels, num_weights",
    [
        (REDUCED, 5, 4 + 6 + 3 + 2, 12),
        (NAIVE, 5, 4 + 6 + 3 + 5, 6),
        ({**NAIVE, "pool_proj": 0}, 7, 4 + 6 + 3 + 7, 6),
        ({**REDUCED, "activation": "linear"}, 3, 15, 12),
    ],
)
def test_layer_behaviour(kwargs, channels, expected_channels, num_weights):
    run_layer_test(
        InceptionBlock,
        kwargs,
        input_shape=(None, 6, 5, channels),
        expected_output_shape=(2, 6, 5, expected_channels),
        expected_num_trainable_weights=num_weights,
        expected_num_non_trainable_weights=0,
        expected_num_seed_generators=0,
        expected_num_losses=0,
    )


def test_reductions_default_to_half_of_the_conv_they_feed():
    block = InceptionBlock(filters_1x1=2, filters_3x3=7, filters_5x5=4, pool_proj=1)
    block.build((None, 4, 4, 3))
    assert (block.reduce_3x3, block.reduce_5x5) == (4, 2)
    assert block.branch_3x3[0].kernel.shape == (1, 1, 3, 4)
    assert block.branch_5x5[0].kernel.shape == (1, 1, 3, 2)


def _numpy_max_pool_3x3_same(x):
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf)
    h, w = x.shape[1:3]
    windows = [padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)]
    return np.max(np.stack(windows), axis=0)


def test_naive_branches_match_numpy():
    x = random_inputs((None, 5, 6, 3), seed=3)
    block = InceptionBlock(**NAIVE)
    y = keras.ops.convert_to_numpy(block(x))
    # 1x1 branch: a per-pixel matrix product, then ReLU.
    kernel, bias = (w.numpy() for w in block.branch_1x1.weights)
    expected_1x1 = np.maximum(np.einsum("bhwc,cf->bhwf", x, kernel[0, 0]) + bias, 0)
    np.testing.assert_allclose(y[..., :4], expected_1x1, atol=1e-5)
    # Bare pool branch: the input channels max-pooled, last in the concatenation.
    np.testing.assert_allclose(y[..., -3:], _numpy_max_pool_3x3_same(x), atol=0)


@pytest.mark.parametrize("mode_kwargs", [REDUCED, NAIVE])
def test_matches_functional_graph_of_keras_layers(mode_kwargs):
    x = random_inputs((None, 6, 6, 5), seed=1)
    block = InceptionBlock(**mode_kwargs)
    actual = block(x)

    def conv(filters, size):
        return keras.layers.Conv2D(filters, size, padding="same", activation="relu")

    inputs = keras.Input((6, 6, 5))
    reduced = mode_kwargs.get("mode", "reduced") == "reduced"
    b1 = conv(4, 1)
    b3 = [conv(3, 1), conv(6, 3)] if reduced else [conv(6, 3)]
    b5 = [conv(2, 1), conv(3, 5)] if reduced else [conv(3, 5)]
    pool = [keras.layers.MaxPooling2D(3, 1, padding="same")]
    if reduced:
        pool.append(conv(2, 1))
    outputs = []
    for branch in ([b1], b3, b5, pool):
        h = inputs
        for layer in branch:
            h = layer(h)
        outputs.append(h)
    reference = keras.Model(inputs, keras.layers.Concatenate()(outputs))
    for ref_layer, layer in zip(
        [b1, *b3, *b5, *pool],
        [block.branch_1x1, *block.branch_3x3, *block.branch_5x5, *block.branch_pool],
        strict=True,
    ):
        ref_layer.set_weights(layer.get_weights())
    assert_all_close(actual, reference(x), atol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({**REDUCED, "filters_1x1": 0}, "filters_1x1=0"),
        ({**REDUCED, "filters_3x3": -2}, "filters_3x3=-2"),
        ({**REDUCED, "filters_5x5": 2.5}, "filters_5x5=2.5"),
        ({**REDUCED, "pool_proj": None}, "pool_proj=None"),
        ({**REDUCED, "reduce_3x3": 0}, "reduce_3x3=0"),
        ({**REDUCED, "mode": "fancy"}, "mode='fancy'"),
        ({**NAIVE, "pool_proj": 4}, "bare max-pool branch.*pool_proj=4"),
        ({**NAIVE, "reduce_3x3": 4}, "no 1x1 reductions.*reduce_3x3=4"),
        ({**NAIVE, "reduce_5x5": 2}, "reduce_5x5=2"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InceptionBlock(**kwargs)


def test_all_bad_arguments_reported_at_once():
    with pytest.raises(ValueError, match="filters_1x1=0.*filters_5x5=-1"):
        InceptionBlock(0, 3, -1, 2)


@pytest.mark.parametrize(
    "shape, match",
    [
        ((None, 8, 8), "rank 4"),
        ((None, 4, 4, 4, 2), "rank 4"),
        ((None, 4, 4, None), "channel"),
    ],
)
def test_bad_input_shape_raises(shape, match):
    block = InceptionBlock(**REDUCED)
    with pytest.raises(ValueError, match=match):
        block.build(shape)
    with pytest.raises(ValueError, match=match):
        block.compute_output_shape(shape)


def test_compute_output_shape_keeps_unknown_spatial_dims():
    block = InceptionBlock(**NAIVE)
    assert block.compute_output_shape((None, None, None, 9)) == (None, None, None, 22)


def test_input_spec_checks_rank_and_then_channels():
    block = InceptionBlock(**REDUCED, name="block")
    with pytest.raises(ValueError, match="'block'.*expected ndim=4, found ndim=3"):
        block(np.zeros((1, 4, 4), "float32"))
    block(np.zeros((1, 4, 4, 3), "float32"))
    with pytest.raises(ValueError, match="axis -1 of input shape to have value 3"):
        block(np.zeros((1, 4, 4, 5), "float32"))


def _block_model(kwargs):
    inputs = keras.Input((8, 8, 3))
    return keras.Model(inputs, InceptionBlock(**kwargs)(inputs))


@pytest.mark.parametrize("kwargs", [REDUCED, NAIVE])
def test_saving(kwargs, tmp_path):
    x = random_inputs((None, 8, 8, 3), seed=5)
    run_model_saving_test(_block_model(kwargs), x, directory=str(tmp_path))


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
@pytest.mark.parametrize("kwargs", [REDUCED, NAIVE])
def test_export(kwargs, tmp_path):
    x = random_inputs((None, 8, 8, 3), seed=5)
    run_export_test(_block_model(kwargs), x, directory=str(tmp_path))
