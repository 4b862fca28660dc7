import keras
import numpy as np
import pytest

from keras_apps.layers.inception_block import InceptionBlock
from keras_apps.layers.residual_unit import ResidualUnit
from keras_apps.utils import count_multiplies

# GoogLeNet's inception (3a) on its 28x28x192 input (Szegedy et al. 2015, Table 1).
BLOCK_3A = dict(filters_1x1=64, filters_3x3=128, filters_5x5=32)
REDUCTIONS_3A = dict(reduce_3x3=96, reduce_5x5=16, pool_proj=32)


def test_course_5x5_convolution_costs_120_million_multiplies():
    conv = keras.layers.Conv2D(32, 5, padding="same")
    assert count_multiplies(conv, input_shape=(28, 28, 192)) == 120_422_400
    assert (
        count_multiplies(conv, input_shape=(28, 28, 192)) == 28 * 28 * 32 * 5 * 5 * 192
    )


def test_course_1x1_bottleneck_costs_12_million_multiplies():
    model = keras.Sequential(
        [
            keras.Input((28, 28, 192)),
            keras.layers.Conv2D(16, 1),
            keras.layers.Conv2D(32, 5, padding="same"),
        ]
    )
    assert count_multiplies(model) == 12_443_648
    assert 28 * 28 * 16 * 192 + 28 * 28 * 32 * 5 * 5 * 16 == 12_443_648


def test_inception_3a_naive_versus_reduced():
    hw = 28 * 28
    reduced = InceptionBlock(**BLOCK_3A, **REDUCTIONS_3A)
    naive = InceptionBlock(**BLOCK_3A, pool_proj=None, mode="naive")
    expected_reduced = hw * (
        192 * 64 + 192 * 96 + 9 * 96 * 128 + 192 * 16 + 25 * 16 * 32 + 192 * 32
    )
    expected_naive = hw * (192 * 64 + 9 * 192 * 128 + 25 * 192 * 32)
    assert count_multiplies(reduced, (28, 28, 192)) == expected_reduced == 128_049_152
    assert count_multiplies(naive, (28, 28, 192)) == expected_naive == 303_464_448
    # The paper's Table 1 lists 128M ops for inception (3a).
    assert round(expected_reduced / 1e6) == 128
    assert expected_naive / expected_reduced == pytest.approx(2.37, abs=0.01)


@pytest.mark.parametrize("preactivation", [True, False])
def test_residual_unit_counts_its_convolutions_and_projection(preactivation):
    unit = ResidualUnit(8, strides=2, preactivation=preactivation)
    # 8x8x4 input, stride 2: every conv has 4x4 outputs.
    expected = 16 * (9 * 4 * 8 + 9 * 8 * 8 + 4 * 8)
    assert count_multiplies(unit, (8, 8, 4)) == expected
    bottleneck = ResidualUnit(2, bottleneck=True)
    expected = 64 * (4 * 2 + 9 * 2 * 2 + 2 * 8 + 4 * 8)
    assert count_multiplies(bottleneck, (8, 8, 4)) == expected


def test_recurses_into_nested_models_and_counts_shared_layers_per_call():
    inner_in = keras.Input((6, 6, 3))
    inner = keras.Model(inner_in, keras.layers.Conv2D(5, 3)(inner_in))  # 4x4x5
    shared = keras.layers.Dense(2)
    inputs = keras.Input((6, 6, 3))
    features = keras.layers.Flatten()(inner(inputs))
    outputs = keras.layers.Add()([shared(features), shared(features)])
    outputs = keras.layers.Dropout(0.5)(outputs)
    model = keras.Model(inputs, outputs)
    expected = 16 * 9 * 3 * 5 + 2 * (80 * 2)
    assert count_multiplies(model) == expected


@pytest.mark.parametrize(
    "layer, input_shape, expected",
    [
        (keras.layers.Dense(4), (7,), 7 * 4),
        # Dense on a sequence applies per position.
        (keras.layers.Dense(4), (5, 7), 5 * 7 * 4),
        (keras.layers.Conv2D(6, 3, groups=2), (6, 6, 4), 16 * 9 * 2 * 6),
        (
            keras.layers.Conv2D(6, 3, strides=2, padding="same"),
            (7, 7, 4),
            16 * 9 * 4 * 6,
        ),
        (keras.layers.Conv1D(3, 2), (5, 4), 4 * 2 * 4 * 3),
        (keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (5, 5, 4), 9 * 9 * 4 * 2),
        (keras.layers.SeparableConv2D(8, 3), (5, 5, 4), 9 * (9 * 4 + 4 * 8)),
        (keras.layers.Conv2DTranspose(3, 2, strides=2), (4, 4, 5), 16 * 4 * 3 * 5),
        (keras.layers.MaxPooling2D(), (4, 4, 5), 0),
    ],
)
def test_layer_formulas(layer, input_shape, expected):
    assert count_multiplies(layer, input_shape) == expected


def test_counting_leaves_an_unbuilt_layer_unbuilt_and_unhooked():
    block = InceptionBlock(**BLOCK_3A, **REDUCTIONS_3A)
    count_multiplies(block, (8, 8, 16))
    assert not block.built
    conv = keras.layers.Conv2D(2, 1)
    conv.build((None, 4, 4, 3))
    assert count_multiplies(conv) == 16 * 3 * 2
    assert "call" not in vars(conv)
    assert conv(np.ones((1, 4, 4, 3), "float32")).shape == (1, 4, 4, 2)


def test_hooks_removed_after_an_error():
    conv = keras.layers.Conv2D(2, 3)
    conv.build((None, 8, 8, 3))
    with pytest.raises(ValueError):
        count_multiplies(conv, (8, 8, 5))  # wrong channel count
    assert "call" not in vars(conv)


def test_unbuilt_layer_without_input_shape_raises():
    with pytest.raises(ValueError, match="not built and no input shape.*input_shape="):
        count_multiplies(keras.layers.Conv2D(2, 3))
    with pytest.raises(ValueError, match="not built"):
        count_multiplies(keras.Sequential([keras.layers.Dense(2)]))


def test_unknown_dimensions_and_non_layers_raise():
    with pytest.raises(ValueError, match="fully known input shape.*None"):
        count_multiplies(keras.layers.Conv2D(2, 3), input_shape=(None, 8, 3))
    with pytest.raises(TypeError, match="keras.Model or keras.layers.Layer"):
        count_multiplies(np.zeros(3), input_shape=(3,))
