import keras
import numpy as np
import pytest

from keras_apps.models import unet as unet_module
from keras_apps.models.unet import DEFAULT_SKIP_LAYERS, UNet
from keras_apps.testing.shapes_only import weights_unset
from keras_apps.testing.test_case import (
    random_inputs,
    run_model_saving_test,
    run_serialization_test,
)

TINY = dict(input_shape=(16, 16, 1), num_classes=3, depth=2, base_filters=4)


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def _classic_params(depth, base, channels, classes, batch_norm, block_type):
    """Closed form of the weights of the built-in U-Net."""

    def double_conv(cin, cout):
        bias = 0 if batch_norm else cout
        bn = 4 * cout if batch_norm else 0  # gamma, beta, moving mean, variance
        return (9 * cin * cout + bias + bn) + (9 * cout * cout + bias + bn)

    total, cin, skips = 0, channels, []
    for level in range(depth):
        total += double_conv(cin, base * 2**level)
        cin = base * 2**level
        skips.append(cin)
    total += double_conv(cin, base * 2**depth)
    cin = base * 2**depth
    for skip in reversed(skips):
        if block_type == "transpose":
            total += 4 * cin * skip + skip  # 2x2 up-conv halves the channels
            cin = skip
        total += double_conv(cin + skip, skip)
        cin = skip
    return total + cin * classes + classes


@pytest.mark.parametrize(
    "depth, block_type, batch_norm",
    [
        (1, "transpose", True),
        (2, "upsampling", False),
        (3, "transpose", False),
        (3, "upsampling", True),
    ],
)
def test_output_shapes_and_parameter_counts(depth, block_type, batch_norm):
    model = UNet(
        (16, 16, 2),
        num_classes=3,
        depth=depth,
        base_filters=4,
        batch_norm=batch_norm,
        decoder_block_type=block_type,
    )
    output = _numpy(model(random_inputs((2, 16, 16, 2))))
    assert output.shape == (2, 16, 16, 3)
    np.testing.assert_allclose(output.sum(axis=-1), 1.0, atol=1e-5)  # softmax
    assert model.count_params() == _classic_params(
        depth, 4, 2, 3, batch_norm, block_type
    )
    # One skip per level, concatenated at the matching resolution.
    for level in range(1, depth + 1):
        concat = model.get_layer(f"decoder{level}_concat")
        size = 16 // 2 ** (level - 1)
        assert [tuple(t.shape) for t in concat.input] == [
            (
                None,
                size,
                size,
                (4 * 2 ** (level - 1) if block_type == "transpose" else 4 * 2**level),
            ),
            (None, size, size, 4 * 2 ** (level - 1)),
        ]


def test_paper_configuration_parameter_count():
    # Depth 4 from 64 filters, no batch norm, one input channel, two
    # classes: the network of Ronneberger et al. (same-padding convolutions
    # change no weight count), with its well-known 31,030,658 weights. The
    # count follows from shapes: the weights are left unset (no XLA compile
    # per kernel shape on JAX).
    with weights_unset():
        model = UNet((16, 16, 1), num_classes=2, batch_norm=False)
    assert model.count_params() == 31_030_658
    assert model.count_params() == _classic_params(4, 64, 1, 2, False, "transpose")


def test_output_activation():
    x = random_inputs((2, 16, 16, 1))
    binary = _numpy(UNet(**{**TINY, "num_classes": 1})(x))
    assert binary.shape == (2, 16, 16, 1) and ((binary > 0) & (binary < 1)).all()
    assert UNet(**{**TINY, "num_classes": 1}).get_layer("probabilities").activation
    logits_model = UNet(**{**TINY, "output_activation": None})
    assert logits_model.layers[-1].name == "logits"
    keras.utils.set_random_seed(1)
    a = UNet(**{**TINY, "output_activation": None})
    keras.utils.set_random_seed(1)
    b = UNet(**TINY)
    np.testing.assert_allclose(
        _numpy(keras.ops.softmax(a(x), axis=-1)), _numpy(b(x)), atol=1e-5
    )


def test_dropout_blocks():
    model = UNet(**{**TINY, "dropout": 0.3})
    dropouts = [layer for layer in model.layers if "dropout" in layer.name]
    assert len(dropouts) == 2 * 2 + 1  # encoder and decoder levels, bottleneck
    assert all(layer.rate == 0.3 for layer in dropouts)


def test_sizes_not_divisible_raise_or_pad():
    with pytest.raises(ValueError, match=r"divisible by 4 \(depth=2\).*20x24"):
        UNet(**{**TINY, "input_shape": (18, 21, 1)})
    model = UNet(**{**TINY, "input_shape": (18, 21, 1), "pad_input": True})
    assert model.get_layer("pad").padding == ((1, 1), (1, 2))
    assert model.get_layer("crop").cropping == ((1, 1), (1, 2))
    output = _numpy(model(random_inputs((2, 18, 21, 1))))
    assert output.shape == (2, 18, 21, 3)
    # A size that fits needs no padding layers.
    fits = UNet(**{**TINY, "pad_input": True})
    assert not [layer for layer in fits.layers if layer.name in ("pad", "crop")]


def test_unknown_size_is_fully_convolutional():
    model = UNet(**{**TINY, "input_shape": (None, None, 1)})
    assert _numpy(model(random_inputs((1, 8, 12, 1)))).shape == (1, 8, 12, 3)
    with pytest.raises(ValueError, match="pad_input=True` needs a known height"):
        UNet(**{**TINY, "input_shape": (None, None, 1), "pad_input": True})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(16, 16)), r"input_shape=\(16, 16\)"),
        (dict(input_shape=(16, 16, None)), r"input_shape=\(16, 16, None\)"),
        (dict(input_shape=(0, 16, 1)), r"input_shape=\(0, 16, 1\)"),
        (dict(num_classes=0), "num_classes=0"),
        (dict(depth=0), "depth=0"),
        (dict(base_filters=2.5), "base_filters=2.5"),
        (dict(dropout=1.0), "dropout=1.0"),
        (dict(decoder_block_type="deconv"), "decoder_block_type='deconv'"),
        (dict(decoder_filters=[8, 0]), r"decoder_filters=\[8, 0\]"),
        (dict(decoder_filters=[8]), r"one entry per decoder level, 2"),
        (dict(output_activation="nope"), "output_activation='nope'"),
        (dict(encoder=3), "encoder of type int"),
        (dict(encoder_freeze=True), "encoder_freeze=True` needs"),
        (dict(skip_layers=["conv1"]), "encoder=None, skip_layers"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        UNet(**{**TINY, **kwargs})


# Spatial size of each default skip at a 64x64 input, deepest first, as
# measured on the real keras.applications models (weights=None).
SKIP_SIZES = {
    "vgg16": [4, 8, 16, 32, 64],
    "resnet50": [4, 8, 16, 32],
    "mobilenet_v2": [4, 8, 16, 32],
}


@pytest.mark.parametrize("name", sorted(SKIP_SIZES))
def test_default_skip_layers_of_real_backbones(name):
    # Layer names and shapes only: the weights are left unset.
    with weights_unset():
        model = UNet((64, 64, 3), num_classes=2, encoder=name, encoder_weights=None)
    encoder = model.encoder
    skips = list(DEFAULT_SKIP_LAYERS[name])
    assert encoder.output_names[: len(skips)] == skips
    assert [t.shape[1] for t in encoder.outputs[:-1]] == SKIP_SIZES[name]
    assert encoder.outputs[-1].shape[1] == 2  # output stride 32
    # Five decoder stages from 1/32 back to the input size; the skips fill
    # the deepest ones, the stages without a skip have no concatenation.
    assert [
        model.get_layer(f"decoder{level}_conv2").filters for level in range(5, 0, -1)
    ] == [256, 128, 64, 32, 16]
    concats = sorted(layer.name for layer in model.layers if "concat" in layer.name)
    assert len(concats) == len(skips)
    assert model.output_shape == (None, 64, 64, 2)


def test_backbone_with_chosen_skips_and_decoder_filters():
    # Layers, shapes and trainable flags only: the weights are left unset.
    with weights_unset():
        model = UNet(
            (32, 32, 3),
            num_classes=1,
            encoder="mobilenet_v2",
            encoder_weights=None,
            skip_layers=["block_6_expand_relu", "block_3_expand_relu"],
            decoder_filters=[40, 30, 20, 10, 5],
            decoder_block_type="upsampling",
            encoder_freeze=True,
        )
    assert model.encoder.output_names == [
        "block_6_expand_relu",
        "block_3_expand_relu",
        "out_relu",
    ]
    # The bottleneck is 1x1: the first stage up-samples to 2x2, where no
    # skip was chosen; the skips join where their size matches, at 4x4 and 8x8.
    concats = {layer.name: layer for layer in model.layers if "concat" in layer.name}
    assert sorted(concats) == ["decoder3_concat", "decoder4_concat"]
    assert [tuple(t.shape) for t in concats["decoder4_concat"].input] == [
        (None, 4, 4, 40),  # bilinear up-sampling keeps the 40 channels of stage 5
        (None, 4, 4, 192),
    ]
    assert model.get_layer("decoder5_conv1").filters == 40
    assert model.output_shape == (None, 32, 32, 1)
    # encoder_freeze: nothing of the backbone trains, its batch norms included.
    assert model.encoder.trainable_weights == []
    norms = [
        layer
        for layer in model.encoder.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    assert len(norms) == 52 and not any(layer.trainable for layer in norms)
    trainable = {w.path.split("/")[0] for w in model.trainable_weights}
    assert trainable and all(n.startswith(("decoder", "logits")) for n in trainable)


def test_skip_layer_errors_list_the_layers():
    kwargs = dict(
        input_shape=(32, 32, 3),
        num_classes=2,
        encoder="mobilenet_v2",
        encoder_weights=None,
    )
    with (
        pytest.raises(
            ValueError,
            match=r"Unknown skip layer\(s\) \['block_99'\]"
            r".*Its layers are: \['images', 'mobilenet_v2_preprocessing'",
        ),
        weights_unset(),
    ):
        UNet(**kwargs, skip_layers=["block_6_expand_relu", "block_99"])


def test_skip_order_and_stage_errors():
    kwargs = dict(input_shape=(16, 16, 3), num_classes=2, encoder=_small_encoder())
    with pytest.raises(
        ValueError,
        match=r"'r2' has a \(8, 8\) output, which matches no decoder stage "
        r"left: the stages up-sample to \[\(8, 8\), \(16, 16\)\]",
    ):
        # Shallowest first: the 16x16 skip joins last, the 8x8 one is left over.
        UNet(**kwargs, skip_layers=["c1", "r2"])
    with pytest.raises(ValueError, match="needs 2 `decoder_filters` entries"):
        UNet(**kwargs, skip_layers=["r2"], decoder_filters=[16, 8, 4])


def _small_encoder(shape=(16, 16, 3)):
    inputs = keras.Input(shape, name="pixels")
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c1")(inputs)
    x = keras.layers.MaxPooling2D(name="p1")(x)
    x = keras.layers.Conv2D(8, 3, padding="same", name="c2")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU(name="r2")(x)
    x = keras.layers.MaxPooling2D(name="p2")(x)
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="c3")(x)
    return keras.Model(inputs, x, name="small_encoder")


def test_any_functional_model_as_encoder():
    encoder = _small_encoder()
    model = UNet(
        (16, 16, 3),
        2,
        encoder=encoder,
        skip_layers=["r2", "c1"],
        decoder_filters=[8, 4],
    )
    assert model.encoder.output_names == ["r2", "c1", "c3"]
    x = random_inputs((2, 16, 16, 3))
    assert _numpy(model(x)).shape == (2, 16, 16, 2)
    with pytest.raises(
        ValueError,
        match=r"No default skip layers.*'small_encoder'"
        r".*Its layers: \['pixels', 'c1', 'p1'",
    ):
        UNet((16, 16, 3), 2, encoder=encoder)
    with pytest.raises(ValueError, match=r"one input of the U-Net's input_shape"):
        UNet((32, 32, 3), 2, encoder=encoder, skip_layers=["c1"])
    with pytest.raises(ValueError, match="at most one skip per stage"):
        UNet((16, 16, 3), 2, encoder=encoder, skip_layers=["r2", "c1", "c1"])


@pytest.mark.parametrize("freeze", [True, False])
def test_frozen_encoder_weights_are_bit_identical_after_fit(freeze):
    model = UNet(
        (16, 16, 3),
        1,
        encoder=_small_encoder(),
        skip_layers=["r2", "c1"],
        decoder_filters=[8, 4],
        encoder_freeze=freeze,
    )
    encoder_weights = model.encoder.weights  # kernels and BN statistics
    assert len(encoder_weights) == 10
    before = [_numpy(w).copy() for w in encoder_weights]
    decoder = model.get_layer("decoder1_conv2").kernel
    decoder_before = _numpy(decoder).copy()
    assert bool(model.encoder.trainable_weights) is not freeze
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (8, 16, 16, 3)).astype("float32")
    y = (x[..., :1] > 0.5).astype("float32")
    # Four steps: on TensorFlow eager steps cost less than tracing a graph;
    # on JAX one compiled step costs less than compiling every op eagerly.
    model.compile(
        optimizer=keras.optimizers.Adam(1e-2),
        loss="binary_crossentropy",
        run_eagerly=keras.backend.backend() != "jax",
    )
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    after = [_numpy(w) for w in encoder_weights]
    identical = [np.array_equal(b, a) for b, a in zip(before, after, strict=True)]
    # Frozen: every kernel and the batch-norm statistics stay bit-identical.
    assert all(identical) if freeze else not any(identical)
    assert not np.array_equal(_numpy(decoder), decoder_before)


def test_serialization_round_trips():
    run_serialization_test(UNet(**TINY))
    run_serialization_test(
        UNet(
            **{
                **TINY,
                "decoder_block_type": "upsampling",
                "dropout": 0.1,
                "batch_norm": False,
                "output_activation": None,
                "name": "seg",
                "decoder_filters": [6, 3],
            }
        )
    )
    run_serialization_test(
        UNet(
            (16, 16, 3),
            2,
            encoder=_small_encoder(),
            skip_layers=["r2", "c1"],
            decoder_filters=[8, 4],
            encoder_freeze=True,
        )
    )


def test_dtype_policy_reaches_the_layers_and_the_config():
    model = UNet(**{**TINY, "dtype": "float16"})
    assert {layer.dtype_policy.name for layer in model.layers[1:]} == {"float16"}
    assert model.get_config()["dtype"]["config"]["name"] == "float16"
    revived = UNet.from_config(model.get_config())
    assert revived.get_layer("logits").dtype_policy.name == "float16"


def test_keras_round_trip_classic(tmp_path):
    model = UNet(**{**TINY, "input_shape": (12, 12, 1), "pad_input": True})
    x = random_inputs((2, 12, 12, 1), seed=3)
    model(x, training=True)  # moves the batch-norm statistics off their start
    moving_means = [w for w in model.weights if "moving_mean" in w.path]
    assert moving_means and all(_numpy(w).any() for w in moving_means)
    loaded = run_model_saving_test(model, x, directory=str(tmp_path))
    assert type(loaded) is UNet
    assert loaded.get_config() == model.get_config()


def test_keras_round_trip_with_backbones(tmp_path, monkeypatch):
    loads = []
    real = unet_module._load_named_backbone

    def spy(encoder, shape, weights):
        loads.append(weights)
        return real(encoder, shape, None)  # no download on the build machines

    monkeypatch.setattr(unet_module, "_load_named_backbone", spy)
    x = random_inputs((2, 32, 32, 3), seed=5) * 50 + 128
    model = UNet(
        (32, 32, 3),
        1,
        encoder="mobilenet_v2",
        encoder_weights="imagenet",
        encoder_freeze=True,
        decoder_filters=[16, 8, 8, 4, 4],
    )
    run_serialization_test(model)  # from_config and deserialize_keras_object
    loaded = run_model_saving_test(model, x, atol=1e-5, directory=str(tmp_path))
    assert loaded.encoder.trainable is False
    # Rebuilding from a config or a .keras file never loads encoder weights:
    # the file brings its own.
    assert loads == ["imagenet", None, None, None]
    encoder_model = UNet(
        (16, 16, 3),
        2,
        encoder=_small_encoder(),
        skip_layers=["r2", "c1"],
        decoder_filters=[8, 4],
    )
    loaded = run_model_saving_test(
        encoder_model, x[:, :16, :16], atol=1e-5, directory=str(tmp_path)
    )
    assert loaded.get_config() == encoder_model.get_config()


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    from keras_apps.export import export_for_serving

    model = UNet(**{**TINY, "input_shape": (12, 12, 1), "pad_input": True})
    x = random_inputs((2, 12, 12, 1), seed=4)
    # The export is reloaded and compared with the model on ``x`` before it
    # is moved into place (validate=True), so one export checks both.
    result = export_for_serving(
        model, str(tmp_path / "unet"), warmup_inputs=x, validation_atol=1e-5
    )
    assert result.version == 1
    assert "serving_default" in result.signatures
    assert result.max_abs_diff is not None and result.max_abs_diff <= 1e-5
    assert result.warmup_records == 2
