import keras
import numpy as np
import pytest

from keras_apps.layers.inception_block import InceptionBlock
from keras_apps.models.googlenet import GOOGLENET_BLOCKS, GoogLeNet
from keras_apps.testing.shapes_only import traced_multiplies, weights_unset
from keras_apps.testing.test_case import (
    MIXED_PRECISION_POLICIES,
    check_mixed_precision,
    random_inputs,
    run_export_test,
    run_model_saving_test,
    run_serialization_test,
)
from keras_apps.utils import count_multiplies

TINY = dict(input_shape=(32, 32, 3), num_classes=10, width_multiplier=1 / 16)
SMALL_TABLE = [
    {
        "name": "a",
        "filters_1x1": 4,
        "reduce_3x3": 3,
        "filters_3x3": 6,
        "reduce_5x5": 2,
        "filters_5x5": 2,
        "pool_proj": 2,
    },
    "pool",
    {"filters_1x1": 2, "filters_3x3": 4, "filters_5x5": 2, "pool_proj": 2},
]


def _conv_params(size, cin, cout):
    return size * size * cin * cout + cout


def _googlenet_params(num_classes=1000, input_channels=3):
    """Closed form: conv kernels and biases of the stem, the blocks and the top."""
    total = (
        _conv_params(7, input_channels, 64)
        + _conv_params(1, 64, 64)
        + _conv_params(3, 64, 192)
    )
    channels = 192
    for b in (b for b in GOOGLENET_BLOCKS if b != "pool"):
        total += (
            _conv_params(1, channels, b["filters_1x1"])
            + _conv_params(1, channels, b["reduce_3x3"])
            + _conv_params(3, b["reduce_3x3"], b["filters_3x3"])
            + _conv_params(1, channels, b["reduce_5x5"])
            + _conv_params(5, b["reduce_5x5"], b["filters_5x5"])
            + _conv_params(1, channels, b["pool_proj"])
        )
        channels = b["filters_1x1"] + b["filters_3x3"] + b["filters_5x5"]
        channels += b["pool_proj"]
    return total + channels * num_classes + num_classes


# Table 1 of Szegedy et al. 2015: "params" (K = 1024 weights) and "ops"
# (M = 10^6 multiply-adds) per layer.
PAPER_PARAMS_K = {
    "conv1_7x7": 2.7,
    "conv2": 112,
    "3a": 159,
    "3b": 380,
    "4a": 364,
    "4b": 437,
    "4c": 463,
    "4d": 580,
    "4e": 840,
    "5a": 1072,
    "5b": 1388,
    "predictions": 1000,
}
PAPER_OPS_M = {
    "3a": 128,
    "3b": 304,
    "4a": 73,
    "4b": 88,
    "4c": 100,
    "4d": 119,
    "4e": 170,
    "5a": 54,
    "5b": 71,
}


def test_tiny_model_outputs_probabilities():
    model = GoogLeNet(**TINY)
    probabilities = keras.ops.convert_to_numpy(model(random_inputs((2, 32, 32, 3))))
    assert probabilities.shape == (2, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert model.get_layer("conv1_7x7").filters == 4
    block = model.get_layer("inception_3a")
    assert isinstance(block, InceptionBlock)
    widths = (block.filters_1x1, block.reduce_3x3, block.filters_3x3)
    widths += (block.reduce_5x5, block.filters_5x5, block.pool_proj)
    assert widths == (4, 6, 8, 1, 2, 2)
    # 32 -> 16 (conv1) -> 8 (pool1) -> 4 (pool2): 3a sees 4x4 maps.
    assert block.input.shape == (None, 4, 4, 12)


# The top, pooling and normalization options on the two-block table (the
# full table runs in test_tiny_model_outputs_probabilities): its last block
# ends with 1 + 1 + 1 + 1 channels at 2x2 (32 -> 16 -> 8 -> 4 -> "pool" 2).
@pytest.mark.parametrize(
    "kwargs, expected_shape",
    [
        (dict(include_top=False), (2, 2, 2, 4)),
        (dict(include_top=False, pooling="avg"), (2, 4)),
        (dict(include_top=False, pooling="max"), (2, 4)),
        (dict(classifier_activation=None, dropout=0.0), (2, 10)),
        (dict(), (2, 10)),
        (dict(mode="naive"), (2, 10)),
        (dict(local_response_normalization=True), (2, 10)),
    ],
)
def test_configurations(kwargs, expected_shape):
    model = GoogLeNet(**{**TINY, "blocks": SMALL_TABLE, **kwargs})
    assert tuple(model(random_inputs((2, 32, 32, 3))).shape) == expected_shape


def test_naive_mode_passes_the_input_channels_through_the_pool_branch():
    model = GoogLeNet(**TINY, blocks=SMALL_TABLE, mode="naive")
    first = model.get_layer("inception_a")
    assert first.mode == "naive" and first.pool_proj is None
    # The table is scaled by 1/16 too (at least 1 filter): 4, 6, 2 -> 1, 1, 1.
    assert (first.filters_1x1, first.filters_3x3, first.filters_5x5) == (1, 1, 1)
    # 12 stem channels pass through the pool branch.
    assert first.output.shape[-1] == 12 + 1 + 1 + 1
    reduced = GoogLeNet(**TINY, blocks=SMALL_TABLE)
    assert count_multiplies(model) > count_multiplies(reduced)


def test_logits_are_the_log_of_the_probabilities_up_to_a_constant():
    x = random_inputs((2, 32, 32, 3), seed=3)
    logits_model = GoogLeNet(**TINY, blocks=SMALL_TABLE, classifier_activation=None)
    softmax_model = GoogLeNet(**TINY, blocks=SMALL_TABLE)
    softmax_model.set_weights(logits_model.get_weights())
    logits = keras.ops.convert_to_numpy(logits_model(x))
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(softmax_model(x), expected, atol=1e-5)


def test_full_size_parameters_and_multiplies_against_the_paper():
    # Counts follow from shapes: the full-size model is built with its
    # weights unset and its forward pass traced (no XLA compile on JAX).
    with weights_unset():
        model = GoogLeNet()
    assert model.count_params() == _googlenet_params() == 6_998_552
    kernels = sum(int(np.prod(w.shape)) for w in model.weights if "kernel" in w.path)
    # The paper's params column sums to 6797.7K (6.8M with K=1024 or 1000);
    # its rows for 4c and 5a do not follow from its own filter table, so the
    # sum of kernels differs from it by 0.4%.
    assert kernels == pytest.approx(sum(PAPER_PARAMS_K.values()) * 1024, rel=0.005)
    biases_3a = 64 + 96 + 128 + 16 + 32 + 32
    assert model.get_layer("inception_3a").count_params() - biases_3a == 159.5 * 1024
    for name, paper_ops in PAPER_OPS_M.items():
        block = model.get_layer(f"inception_{name}")
        ops = traced_multiplies(block, tuple(block.input.shape[1:]))
        assert ops / 1e6 == pytest.approx(paper_ops, rel=0.06), name
    # "a computational budget of 1.5 billion multiply-adds at inference time"
    total = traced_multiplies(model)
    assert total == 1_582_671_872
    assert total / 1e9 == pytest.approx(1.5, rel=0.06)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_classes=0), "num_classes=0"),
        (dict(width_multiplier=0), "width_multiplier=0"),
        (dict(dropout=1.0), "dropout=1.0"),
        (dict(mode="wide"), "mode='wide'"),
        (dict(pooling="sum"), "pooling='sum'"),
        (dict(input_shape=(32, 32)), "input_shape=\\(32, 32\\)"),
        (dict(blocks="pool"), "blocks='pool'"),
        (dict(blocks=["pool"]), "at least one Inception block"),
        (dict(blocks=[{"filters_1x1": 2}]), "Missing: \\['filters_3x3'"),
        (dict(blocks=[{**SMALL_TABLE[0], "stride": 2}]), "unknown: \\['stride'\\]"),
        (dict(blocks=[3]), "Entry 0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GoogLeNet(**{**TINY, **kwargs})


@pytest.mark.parametrize(
    "entry, match",
    [
        ({**SMALL_TABLE[0], "filters_1x1": 0}, "filters_1x1=0"),
        ({**SMALL_TABLE[0], "reduce_3x3": -1}, "reduce_3x3=-1"),
        ({**SMALL_TABLE[0], "pool_proj": None}, "pool_proj=None"),
    ],
)
def test_bad_block_filters_raise_before_scaling(entry, match):
    with pytest.raises(ValueError, match=match):
        GoogLeNet(**TINY, blocks=[entry])


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(blocks=SMALL_TABLE, mode="naive", local_response_normalization=True),
        dict(include_top=False, pooling="avg", name="features"),
    ],
)
def test_serialization(kwargs):
    revived = run_serialization_test(GoogLeNet(**{**TINY, **kwargs}))
    assert revived.get_config()["blocks"] == kwargs.get("blocks")


def test_saving(tmp_path):
    model = GoogLeNet(**TINY, blocks=SMALL_TABLE, local_response_normalization=True)
    x = random_inputs((2, 32, 32, 3), seed=8)
    loaded = run_model_saving_test(model, x, atol=1e-6, directory=str(tmp_path))
    assert type(loaded) is GoogLeNet
    assert loaded.get_config() == model.get_config()


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    model = GoogLeNet(**TINY, blocks=SMALL_TABLE, local_response_normalization=True)
    run_export_test(
        model, random_inputs((2, 32, 32, 3), seed=8), directory=str(tmp_path)
    )


@pytest.mark.parametrize("policy", MIXED_PRECISION_POLICIES)
def test_dtype_policy_reaches_every_layer_and_serializes(policy):
    # The two-block table has every layer kind of the full one: stem convs,
    # normalization, Inception blocks, the pool between them and the top.
    model = GoogLeNet(
        **TINY, blocks=SMALL_TABLE, local_response_normalization=True, dtype=policy
    )
    check_mixed_precision(lambda _: model, random_inputs((2, 32, 32, 3)), policy)
    for layer in model.layers[1:]:  # the image input stays float32
        assert layer.dtype_policy.name == policy, layer.name
    inner = model.get_layer("inception_a").branch_3x3[0]
    assert inner.dtype_policy.name == policy
    revived = run_serialization_test(model)
    assert revived.get_layer("conv1_7x7").dtype_policy.name == policy
