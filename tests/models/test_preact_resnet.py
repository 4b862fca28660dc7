import keras
import numpy as np
import pytest

from keras_apps.layers.residual_unit import ResidualUnit
from keras_apps.models.preact_resnet import RESNET_STAGES, PreActResNet
from keras_apps.testing.shapes_only import weights_unset
from keras_apps.testing.test_case import (
    MIXED_PRECISION_POLICIES,
    check_mixed_precision,
    random_inputs,
    run_export_test,
    run_model_saving_test,
    run_serialization_test,
)
from keras_apps.utils import count_multiplies

TINY = dict(
    stages=[1, 1], input_shape=(16, 16, 3), num_classes=5, base_filters=4, stem="cifar"
)


def _preact_params(stages, bottleneck, base=64, channels=3, classes=1000):
    """Closed form of every weight (BN: gamma, beta, mean, variance per channel)."""
    total = 7 * 7 * channels * base + 4 * base  # stem conv + stem BN
    c = base
    for stage, count in enumerate(stages):
        f = base * 2**stage
        out = 4 * f if bottleneck else f
        for unit in range(count):
            if bottleneck:
                convs = [(1, c, f), (3, f, f), (1, f, out)]
            else:
                convs = [(3, c, f), (3, f, f)]
            # Pre-activation: a BN on the input of each conv.
            total += sum(k * k * cin * cout + 4 * cin for k, cin, cout in convs)
            if c != out or (stage > 0 and unit == 0):
                total += c * out  # 1x1 projection, no bias
            c = out
    return total + 4 * c + c * classes + classes  # post BN + classifier


def _bn_channels(model):
    return sum(
        w.shape[0] for w in model.non_trainable_weights if "moving_mean" in w.path
    )


@pytest.mark.parametrize(
    "kwargs, expected_shape",
    [
        (dict(), (2, 5)),
        (dict(include_top=False), (2, 8, 8, 8)),
        (dict(include_top=False, pooling="avg"), (2, 8)),
        (dict(include_top=False, pooling="max"), (2, 8)),
        (dict(bottleneck=True, include_top=False), (2, 8, 8, 32)),
        (dict(stem="imagenet", include_top=False), (2, 2, 2, 8)),
        (dict(classifier_activation=None), (2, 5)),
    ],
)
def test_configurations(kwargs, expected_shape):
    model = PreActResNet(**{**TINY, **kwargs})
    output = keras.ops.convert_to_numpy(model(random_inputs((2, 16, 16, 3))))
    assert output.shape == expected_shape
    if kwargs == {}:
        np.testing.assert_allclose(output.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("depth", [18, 50])
def test_stage_layout(depth):
    # Layers, shapes and counts only: the weights are left unset.
    with weights_unset():
        model = PreActResNet(
            depth=depth, input_shape=(32, 32, 3), num_classes=3, base_filters=4
        )
    stages, bottleneck = RESNET_STAGES[depth]
    units = [layer for layer in model.layers if isinstance(layer, ResidualUnit)]
    assert len(units) == sum(stages)
    expansion = 4 if bottleneck else 1
    for stage, count in enumerate(stages):
        for unit in range(count):
            layer = model.get_layer(f"stage{stage + 1}_unit{unit + 1}")
            assert layer.bottleneck is bottleneck
            assert layer.filters == 4 * 2**stage
            assert layer.strides == (2 if stage > 0 and unit == 0 else 1)
            first_changes_width = unit == 0 and (stage > 0 or bottleneck)
            assert layer.uses_projection is first_changes_width
    # 32 -> 16 (stem conv) -> 8 (stem pool) -> 8, 4, 2, 1.
    assert model.get_layer("post_bn").input.shape == (None, 1, 1, 32 * expansion)
    assert model.count_params() == _preact_params(stages, bottleneck, base=4, classes=3)


def test_preact_resnet_18_and_34_parameter_counts():
    for depth, v1_reference in ((18, 11_689_512), (34, 21_797_672)):
        # Counts follow from shapes: the weights are left unset (no XLA
        # compile per kernel shape on JAX).
        with weights_unset():
            model = PreActResNet(depth=depth)
        stages, bottleneck = RESNET_STAGES[depth]
        total = model.count_params()
        assert total == _preact_params(stages, bottleneck)
        trainable = total - 2 * _bn_channels(model)
        # The original ResNet-18/34 (torchvision's counts: 11,689,512 and
        # 21,797,672 trainable) has the same convolutions; batch norms sit on
        # conv outputs instead of inputs, which moves a few thousand weights.
        assert trainable == pytest.approx(v1_reference, rel=2e-4)
    assert (total, trainable) == (21_811_368, 21_796_008)


def test_preact_resnet_50_matches_keras_resnet50v2_up_to_biases():
    with weights_unset():  # counts and shapes only
        ours = PreActResNet(depth=50)
        reference = keras.applications.ResNet50V2(weights=None)
    # ResNet50V2 has the same units but a stem conv with bias and no stem BN,
    # and biases in the last conv of every unit and in the projections.
    stages, _ = RESNET_STAGES[50]
    widths = [64 * 2**s * 4 for s in range(4)]
    biases = 64 + sum(n * w for n, w in zip(stages, widths, strict=True)) + sum(widths)
    stem_bn = 4 * 64
    assert reference.count_params() == 25_613_800
    assert ours.count_params() == reference.count_params() - biases + stem_bn
    assert ours.count_params() == _preact_params(stages, True) == 25_595_048
    conv_kernels = [tuple(w.shape) for w in ours.weights if "kernel" in w.path]
    reference_kernels = [
        tuple(w.shape) for w in reference.weights if "kernel" in w.path
    ]
    assert sorted(conv_kernels) == sorted(reference_kernels)


def test_multiplies_of_a_tiny_network():
    model = PreActResNet(**TINY)
    hw1, hw2 = 16 * 16, 8 * 8
    expected = hw1 * 9 * 3 * 4  # stem
    expected += hw1 * (9 * 4 * 4 + 9 * 4 * 4)  # stage 1, identity
    expected += hw2 * (9 * 4 * 8 + 9 * 8 * 8 + 4 * 8)  # stage 2, projection
    expected += 8 * 5  # classifier
    assert count_multiplies(model) == expected


def test_trains_on_a_few_images():
    x = random_inputs((8, 16, 16, 3), seed=1)
    y = np.arange(8) % 5
    model = PreActResNet(**TINY)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2), loss="sparse_categorical_crossentropy"
    )
    history = model.fit(x, y, epochs=8, batch_size=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=20, stages=None), "depth=20"),
        (dict(depth=18), "either `depth` or `stages`"),
        (dict(stages=[2, 0]), "stages=\\[2, 0\\]"),
        (dict(stages=[]), "stages=\\[\\]"),
        (dict(stages="22"), "stages='22'"),
        (dict(num_classes=0), "num_classes=0"),
        (dict(base_filters=-4), "base_filters=-4"),
        (dict(stem="resnet"), "stem='resnet'"),
        (dict(pooling="sum"), "pooling='sum'"),
        (dict(input_shape=(16, 16)), "input_shape=\\(16, 16\\)"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PreActResNet(**{**TINY, **kwargs})


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),
        dict(bottleneck=True, include_top=False, pooling="avg", name="features"),
        dict(stages=None, depth=18, stem="imagenet"),
    ],
)
def test_serialization(kwargs):
    run_serialization_test(PreActResNet(**{**TINY, **kwargs}))


def test_saving(tmp_path):
    model = PreActResNet(**TINY)
    x = random_inputs((2, 16, 16, 3), seed=4)
    # One step of training moves the batch-norm statistics off their defaults.
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    model.fit(x, np.array([0, 1]), epochs=1, verbose=0)
    loaded = run_model_saving_test(model, x, atol=1e-6, directory=str(tmp_path))
    assert type(loaded) is PreActResNet
    assert loaded.get_config() == model.get_config()


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    model = PreActResNet(**TINY)
    run_export_test(
        model, random_inputs((2, 16, 16, 3), seed=4), directory=str(tmp_path)
    )


@pytest.mark.parametrize("policy", MIXED_PRECISION_POLICIES)
def test_dtype_policy_reaches_every_layer_and_serializes(policy):
    model = PreActResNet(**{**TINY, "stem": "imagenet"}, dtype=policy)
    check_mixed_precision(lambda _: model, random_inputs((2, 16, 16, 3)), policy)
    for layer in model.layers[1:]:  # the image input stays float32
        assert layer.dtype_policy.name == policy, layer.name
    assert model.get_layer("stage1_unit1").norms[0].dtype_policy.name == policy
    revived = run_serialization_test(model)
    assert revived.get_layer("stem_bn").dtype_policy.name == policy
