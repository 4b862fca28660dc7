import keras
import numpy as np
import pytest

from keras_apps.layers.residual_unit import ResidualUnit
from keras_apps.testing.test_case import (
    assert_all_close,
    random_inputs,
    run_export_test,
    run_layer_test,
    run_model_saving_test,
)


@pytest.mark.parametrize(
    "kwargs, channels, expected_shape, trainable, non_trainable",
    [
        # basic, identity: 2 convs + 2 BN (gamma, beta) trainable, 2x2 moving
        (dict(filters=4), 4, (2, 8, 8, 4), 6, 4),
        # basic, strided projection: + shortcut conv
        (dict(filters=6, strides=2), 4, (2, 4, 4, 6), 7, 4),
        # bottleneck: 3 convs, 3 BN; 4 -> 16 channels needs a projection
        (dict(filters=4, bottleneck=True), 4, (2, 8, 8, 16), 10, 6),
        (dict(filters=2, bottleneck=True, strides=2), 8, (2, 4, 4, 8), 10, 6),
        # original form: projection has its own BN
        (dict(filters=6, preactivation=False), 4, (2, 8, 8, 6), 9, 6),
        (dict(filters=4, preactivation=False), 4, (2, 8, 8, 4), 6, 4),
        (dict(filters=4, shortcut="projection"), 4, (2, 8, 8, 4), 7, 4),
        (dict(filters=4, kernel_size=5, strides=3), 3, (2, 3, 3, 4), 7, 4),
    ],
)
def test_layer_behaviour(kwargs, channels, expected_shape, trainable, non_trainable):
    run_layer_test(
        ResidualUnit,
        kwargs,
        input_shape=(None, 8, 8, channels),
        expected_output_shape=expected_shape,
        expected_num_trainable_weights=trainable,
        expected_num_non_trainable_weights=non_trainable,
        expected_num_seed_generators=0,
        expected_num_losses=0,
    )


def _zero_last_conv(unit):
    kernel = unit.convs[-1].kernel
    kernel.assign(np.zeros(kernel.shape, "float32"))


@pytest.mark.parametrize("bottleneck, filters", [(False, 4), (True, 1)])
def test_identity_shortcut_with_zero_last_conv_is_the_identity(bottleneck, filters):
    x = random_inputs((None, 6, 6, 4), seed=2)
    unit = ResidualUnit(filters, bottleneck=bottleneck, shortcut="identity")
    unit.build(x.shape)
    _zero_last_conv(unit)
    assert unit.uses_projection is False
    assert_all_close(unit(x, training=False), x)
    assert_all_close(unit(x, training=True), x)


def test_post_activation_unit_with_zero_last_branch_is_relu():
    x = random_inputs((None, 6, 6, 4), seed=2)
    unit = ResidualUnit(4, preactivation=False)
    unit.build(x.shape)
    # The last BN's gamma and beta zero the residual branch.
    for weight in unit.norms[-1].trainable_weights:
        weight.assign(np.zeros(weight.shape, "float32"))
    assert_all_close(unit(x, training=False), np.maximum(x, 0))


def _randomize(unit, seed):
    """Random BN statistics too, so that inference-mode BN is not the identity."""
    rng = np.random.default_rng(seed)
    for weight in unit.weights:
        if "variance" in weight.path:
            weight.assign(rng.uniform(0.5, 2.0, weight.shape).astype("float32"))
        else:
            weight.assign(rng.normal(0, 0.5, weight.shape).astype("float32"))


def _conv(filters, size, strides=1):
    return keras.layers.Conv2D(
        filters, size, strides=strides, padding="same", use_bias=False
    )


def _bn():
    return keras.layers.BatchNormalization(epsilon=1.001e-5)


def _reference_preact(inputs, specs, projection):
    """BN-ReLU-Conv per spec, projection on the pre-activated input."""
    norms, convs = [_bn() for _ in specs], [_conv(*s) for s in specs]
    preact = keras.layers.ReLU()(norms[0](inputs))
    proj = _conv(specs[-1][0], 1, specs[0][2] if len(specs) == 2 else specs[1][2])
    shortcut = proj(preact) if projection else inputs
    x = convs[0](preact)
    for bn, conv in zip(norms[1:], convs[1:], strict=True):
        x = conv(keras.layers.ReLU()(bn(x)))
    layers = [*norms, *convs, proj] if projection else [*norms, *convs]
    return keras.layers.Add()([shortcut, x]), layers


def _reference_postact(inputs, specs, projection):
    """Conv-BN-ReLU ... Conv-BN, add, ReLU; Conv-BN projection on the input."""
    norms, convs = [_bn() for _ in specs], [_conv(*s) for s in specs]
    stride = specs[0][2] if len(specs) == 2 else specs[1][2]
    proj, proj_bn = _conv(specs[-1][0], 1, stride), _bn()
    shortcut = proj_bn(proj(inputs)) if projection else inputs
    x = inputs
    for i, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
        x = bn(conv(x))
        if i < len(specs) - 1:
            x = keras.layers.ReLU()(x)
    x = keras.layers.ReLU()(keras.layers.Add()([shortcut, x]))
    layers = [*norms, *convs, proj, proj_bn] if projection else [*norms, *convs]
    return x, layers


def _unit_layers(unit):
    layers = [*unit.norms, *unit.convs]
    if unit.uses_projection:
        layers.append(unit.projection)
        if unit.projection_norm is not None:
            layers.append(unit.projection_norm)
    return layers


@pytest.mark.parametrize(
    "kwargs, channels, specs",
    [
        (dict(filters=4), 4, [(4, 3, 1), (4, 3, 1)]),
        (dict(filters=6, strides=2), 4, [(6, 3, 2), (6, 3, 1)]),
        (dict(filters=2, bottleneck=True), 4, [(2, 1, 1), (2, 3, 1), (8, 1, 1)]),
        (
            dict(filters=2, bottleneck=True, strides=2, kernel_size=5),
            8,
            [(2, 1, 1), (2, 5, 2), (8, 1, 1)],
        ),
        (dict(filters=4, preactivation=False), 4, [(4, 3, 1), (4, 3, 1)]),
        (dict(filters=6, strides=2, preactivation=False), 4, [(6, 3, 2), (6, 3, 1)]),
        (
            dict(filters=2, bottleneck=True, preactivation=False),
            4,
            [(2, 1, 1), (2, 3, 1), (8, 1, 1)],
        ),
    ],
)
@pytest.mark.parametrize("training", [False, True])
def test_matches_functional_graph_of_keras_layers(kwargs, channels, specs, training):
    x = random_inputs((None, 8, 8, channels), seed=4)
    unit = ResidualUnit(**kwargs)
    unit.build(x.shape)
    _randomize(unit, seed=7)
    inputs = keras.Input((8, 8, channels))
    build = (
        _reference_preact if kwargs.get("preactivation", True) else _reference_postact
    )
    outputs, ref_layers = build(inputs, specs, unit.uses_projection)
    reference = keras.Model(inputs, outputs)
    unit_layers = _unit_layers(unit)
    assert len(ref_layers) == len(unit_layers)
    for ref_layer, layer in zip(ref_layers, unit_layers, strict=True):
        ref_layer.set_weights(layer.get_weights())
    assert_all_close(
        unit(x, training=training), reference(x, training=training), atol=1e-4
    )


def test_shortcut_choice():
    auto = ResidualUnit(4)
    auto.build((None, 8, 8, 4))
    assert auto.uses_projection is False
    strided = ResidualUnit(4, strides=2)
    strided.build((None, 8, 8, 4))
    assert strided.uses_projection is True
    assert strided.projection.kernel.shape == (1, 1, 4, 4)
    widened = ResidualUnit(8)
    widened.build((None, 8, 8, 4))
    assert widened.uses_projection is True
    forced = ResidualUnit(4, shortcut="projection")
    forced.build((None, 8, 8, 4))
    assert forced.uses_projection is True


@pytest.mark.parametrize(
    "kwargs, input_channels",
    [
        (dict(filters=8, shortcut="identity"), 4),
        (dict(filters=4, strides=2, shortcut="identity"), 4),
        (dict(filters=4, bottleneck=True, shortcut="identity"), 4),
    ],
)
def test_identity_shortcut_with_shape_change_raises(kwargs, input_channels):
    unit = ResidualUnit(**kwargs)
    with pytest.raises(ValueError, match="identity shortcut.*shortcut='auto'"):
        unit.build((None, 8, 8, input_channels))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(filters=0), "filters=0"),
        (dict(filters=4, kernel_size=-1), "kernel_size=-1"),
        (dict(filters=4, strides=1.5), "strides=1.5"),
        (dict(filters=4, shortcut="skip"), "shortcut='skip'"),
        (dict(filters=4, preactivation="yes"), "preactivation='yes'"),
        (dict(filters=4, bottleneck=1), "bottleneck=1"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ResidualUnit(**kwargs)


@pytest.mark.parametrize(
    "shape, match", [((None, 8, 8), "rank 4"), ((None, 8, 8, None), "channel")]
)
def test_bad_input_shape_raises(shape, match):
    with pytest.raises(ValueError, match=match):
        ResidualUnit(4).build(shape)


def test_compute_output_shape_rounds_up_like_same_padding():
    unit = ResidualUnit(3, strides=2, bottleneck=True)
    assert unit.compute_output_shape((None, 7, None, 5)) == (None, 4, None, 12)


def test_input_spec_checks_rank_and_then_channels():
    unit = ResidualUnit(4, name="unit")
    with pytest.raises(ValueError, match="'unit'.*expected ndim=4, found ndim=2"):
        unit(np.zeros((1, 4), "float32"))
    unit(np.zeros((1, 4, 4, 4), "float32"))
    with pytest.raises(ValueError, match="axis -1 of input shape to have value 4"):
        unit(np.zeros((1, 4, 4, 2), "float32"))


@pytest.mark.parametrize(
    "kwargs", [dict(filters=4), dict(filters=2, strides=2, preactivation=False)]
)
def test_saving(kwargs, tmp_path):
    inputs = keras.Input((8, 8, 4))
    unit = ResidualUnit(**kwargs)
    model = keras.Model(inputs, unit(inputs))
    _randomize(unit, seed=3)
    x = random_inputs((None, 8, 8, 4), seed=6)
    loaded = run_model_saving_test(model, x, atol=1e-5, directory=str(tmp_path))
    assert loaded.layers[-1].uses_projection == unit.uses_projection


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    inputs = keras.Input((8, 8, 4))
    unit = ResidualUnit(filters=2, strides=2, preactivation=False)
    model = keras.Model(inputs, unit(inputs))
    _randomize(unit, seed=3)
    x = random_inputs((None, 8, 8, 4), seed=6)
    run_export_test(model, x, atol=1e-4, directory=str(tmp_path))
