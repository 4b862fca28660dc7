"""load_backbone, ImagenetPreprocessing and export_hub_module.

No weights are downloaded: backbones are built with ``weights=None`` or from
files the tests write, and the download-failure path runs the real
``keras.utils.get_file`` in a subprocess whose Keras cache is empty and whose
HTTP(S) proxy is a closed local port, so it fails at once on any machine.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_apps.layers import HubBackbone
from keras_apps.testing.test_case import (
    assert_all_close,
    run_export_test,
    run_layer_test,
    run_model_saving_test,
)
from keras_apps.transfer.backbones import (
    ImagenetPreprocessing,
    export_hub_module,
    known_backbones,
    load_backbone,
)

pytestmark = pytest.mark.requires_tensorflow(
    reason="load_backbone wraps TensorFlow SavedModels, keras-cv and TF preprocessing"
)


def _raw_images(shape=(32, 32, 3), n: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, *shape)).astype("float32")


# --------------------------------------------------------------------------
# ImagenetPreprocessing == keras.applications' preprocess_input
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, module",
    [
        ("caffe", keras.applications.vgg16),
        ("caffe", keras.applications.resnet50),
        ("tf", keras.applications.mobilenet_v2),
        ("tf", keras.applications.xception),
        ("torch", keras.applications.densenet),
    ],
)
def test_preprocessing_equals_preprocess_input(mode, module):
    x = _raw_images()
    expected = module.preprocess_input(x.copy())
    assert_all_close(ImagenetPreprocessing(mode)(x), expected, atol=1e-5, rtol=1e-6)


def test_preprocessing_channels_first_matches_the_formula():
    x = _raw_images((3, 4, 5))
    layer = ImagenetPreprocessing("caffe", data_format="channels_first")
    expected = x[:, ::-1] - np.array([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1)
    assert_all_close(layer(x), expected, atol=1e-4)


def test_preprocessing_layer_contract():
    run_layer_test(
        ImagenetPreprocessing,
        {"mode": "torch"},
        input_shape=(None, 4, 4, 3),
        expected_output_shape=(2, 4, 4, 3),
        expected_num_trainable_weights=0,
    )
    layer = ImagenetPreprocessing("tf", name="pre")
    revived = ImagenetPreprocessing.from_config(layer.get_config())
    assert revived.get_config() == layer.get_config()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "rgb"}, "Received: mode='rgb'"),
        ({"mode": "tf", "data_format": "nhwc"}, "Received: data_format='nhwc'"),
    ],
)
def test_preprocessing_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ImagenetPreprocessing(**kwargs)


def test_preprocessing_needs_three_channels():
    with pytest.raises(ValueError, match=r"3 channels.*\(None, 8, 8, 1\)"):
        ImagenetPreprocessing("tf")(keras.Input((8, 8, 1)))


# --------------------------------------------------------------------------
# keras.applications
# --------------------------------------------------------------------------

FAST_APPLICATIONS = [
    ("vgg16", keras.applications.VGG16, keras.applications.vgg16),
    ("mobilenet_v2", keras.applications.MobileNetV2, keras.applications.mobilenet_v2),
]


@pytest.mark.parametrize(
    "name, constructor, module",
    FAST_APPLICATIONS,
    ids=[n for n, *_ in FAST_APPLICATIONS],
)
def test_application_takes_raw_images(name, constructor, module):
    backbone = load_backbone(name, (32, 32, 3), weights=None)
    assert backbone.get_layer(f"{name}_preprocessing") is backbone.layers[1]
    # The application's own layers sit in the returned model, by name.
    assert backbone.get_layer("block_1_expand" if "mobile" in name else "block1_conv1")
    plain = constructor(include_top=False, weights=None, input_shape=(32, 32, 3))
    plain.set_weights(backbone.get_weights())
    x = _raw_images()
    expected = plain(module.preprocess_input(x.copy()))
    assert_all_close(backbone(x), expected, atol=1e-4, rtol=1e-4)
    assert backbone.output_shape == plain.output_shape


@pytest.mark.slow
def test_application_saves_and_exports_with_its_preprocessing(tmp_path):
    backbone = load_backbone("mobilenet", (32, 32, 3), weights=None, alpha=0.25)
    x = _raw_images()
    loaded = run_model_saving_test(backbone, x, atol=1e-5, directory=str(tmp_path))
    assert isinstance(
        loaded.get_layer("mobilenet_preprocessing"), ImagenetPreprocessing
    )
    run_export_test(backbone, x, atol=1e-4, directory=str(tmp_path))


def test_application_without_preprocessing_and_with_pooling():
    backbone = load_backbone(
        "vgg16", (32, 32, 3), weights=None, include_preprocessing=False, pooling="avg"
    )
    assert not any(
        isinstance(layer, ImagenetPreprocessing) for layer in backbone.layers
    )
    assert backbone.output_shape == (None, 512)


# Every ImageNet application name: the keras.applications constructor it must
# call, the module whose preprocess_input its preprocessing layer must equal,
# and the smallest input size it accepts. Written out here, not read from
# the package, so that a wrong entry in load_backbone's table fails.
APPLICATION_TABLE = {
    "vgg16": ("VGG16", keras.applications.vgg16, 32),
    "vgg19": ("VGG19", keras.applications.vgg19, 32),
    "resnet50": ("ResNet50", keras.applications.resnet50, 32),
    "resnet101": ("ResNet101", keras.applications.resnet, 32),
    "resnet152": ("ResNet152", keras.applications.resnet, 32),
    "resnet50_v2": ("ResNet50V2", keras.applications.resnet_v2, 32),
    "resnet101_v2": ("ResNet101V2", keras.applications.resnet_v2, 32),
    "resnet152_v2": ("ResNet152V2", keras.applications.resnet_v2, 32),
    "inception_v3": ("InceptionV3", keras.applications.inception_v3, 75),
    "inception_resnet_v2": (
        "InceptionResNetV2",
        keras.applications.inception_resnet_v2,
        75,
    ),
    "xception": ("Xception", keras.applications.xception, 71),
    "mobilenet": ("MobileNet", keras.applications.mobilenet, 32),
    "mobilenet_v2": ("MobileNetV2", keras.applications.mobilenet_v2, 32),
    "densenet121": ("DenseNet121", keras.applications.densenet, 32),
    "densenet169": ("DenseNet169", keras.applications.densenet, 32),
    "densenet201": ("DenseNet201", keras.applications.densenet, 32),
}


def test_every_application_name_calls_its_constructor_after_its_preprocessing(
    monkeypatch,
):
    """The name -> (constructor, preprocessing, size) table, for every name.

    The constructor is replaced by a recorder that returns a one-layer
    network on the tensor it is given, so the whole table is checked without
    building sixteen ImageNet networks; `test_application_takes_raw_images`
    and `test_heavier_applications_build_with_their_preprocessing` build
    real ones for each preprocessing mode and the two larger minimum sizes.
    """
    calls = []

    def recorder(constructor_name):
        def construct(**kwargs):
            calls.append((constructor_name, kwargs))
            tensor = kwargs["input_tensor"]
            inputs = keras.utils.get_source_inputs(tensor)
            return keras.Model(inputs, keras.layers.Identity()(tensor))

        return construct

    for constructor_name, _, _ in APPLICATION_TABLE.values():
        monkeypatch.setattr(
            keras.applications, constructor_name, recorder(constructor_name)
        )
    for name, (constructor_name, module, size) in APPLICATION_TABLE.items():
        shape = (size, size, 3)
        with pytest.raises(ValueError, match=f"at least {size}x{size}"):
            load_backbone(name, (size - 1, size, 3), weights=None)
        calls.clear()
        backbone = load_backbone(name, shape, weights=None, pooling="avg")
        assert [c for c, _ in calls] == [constructor_name], name
        kwargs = calls[0][1]
        assert kwargs["include_top"] is False and kwargs["weights"] is None, name
        assert kwargs["input_shape"] == shape and kwargs["pooling"] == "avg", name
        assert backbone.layers[1] is backbone.get_layer(f"{name}_preprocessing")
        x = _raw_images(shape, n=1)
        # The constructor received the preprocessed images.
        assert_all_close(
            backbone(x), module.preprocess_input(x.copy()), atol=1e-4, what=name
        )
    assert set(APPLICATION_TABLE) | {"efficientnet_b0", "efficientnet_v2_b0"} <= set(
        known_backbones()
    )

    # EfficientNetV2 rescales inside the network: no preprocessing layer, and
    # include_preprocessing is passed on; EfficientNet (v1) cannot leave it out.
    monkeypatch.setattr(
        keras.applications, "EfficientNetV2B0", recorder("EfficientNetV2B0")
    )
    for flag in (True, False):
        calls.clear()
        backbone = load_backbone(
            "efficientnet_v2_b0", (32, 32, 3), weights=None, include_preprocessing=flag
        )
        assert [c for c, _ in calls] == ["EfficientNetV2B0"]
        assert calls[0][1]["include_preprocessing"] is flag
        assert not any(isinstance(x, ImagenetPreprocessing) for x in backbone.layers)
    with pytest.raises(ValueError, match="include_preprocessing=False"):
        load_backbone(
            "efficientnet_b0", (32, 32, 3), weights=None, include_preprocessing=False
        )


@pytest.mark.slow
def test_heavier_applications_build_with_their_preprocessing():
    # Real networks: "torch" preprocessing (DenseNet) and the two larger
    # minimum sizes; "caffe" (VGG16) and "tf" (MobileNetV2) are built in
    # test_application_takes_raw_images, the name table is checked in full
    # above.
    cases = {
        "inception_v3": (
            (75, 75, 3),
            keras.applications.inception_v3,
            (None, 1, 1, 2048),
        ),
        "xception": ((71, 71, 3), keras.applications.xception, (None, 3, 3, 2048)),
        "densenet121": ((32, 32, 3), keras.applications.densenet, (None, 1, 1, 1024)),
    }
    for name, (shape, module, output_shape) in cases.items():
        backbone = load_backbone(name, shape, weights=None)
        assert backbone.output_shape == output_shape, name
        x = _raw_images(shape, n=1)
        preprocessing = backbone.get_layer(f"{name}_preprocessing")
        assert_all_close(
            preprocessing(x), module.preprocess_input(x.copy()), atol=1e-4, what=name
        )
        keras.backend.clear_session()

    # EfficientNetV2 rescales inside the network (its preprocess_input is the
    # identity); that include_preprocessing is passed on is checked above.
    backbone = load_backbone("efficientnet_v2_b0", (32, 32, 3), weights=None)
    assert backbone.output_shape == (None, 1, 1, 1280)
    assert any(isinstance(layer, keras.layers.Rescaling) for layer in backbone.layers)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="Unknown backbone 'resnet5'") as info:
        load_backbone("resnet5", (32, 32, 3), weights=None)
    message = str(info.value)
    for name in ("vgg16", "resnet50", "mobilenet_v2", "keras_cv.ResNetBackbone"):
        assert name in message
    names = known_backbones()
    for name in (
        "vgg16",
        "vgg19",
        "resnet50",
        "resnet50_v2",
        "inception_v3",
        "xception",
        "mobilenet_v2",
        "efficientnet_v2_b0",
        "keras_cv.ResNetV2Backbone",
    ):
        assert name in names


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (("vgg16", (16, 16, 3)), {}, ValueError, r"at least 32x32.*\(16, 16, 3\)"),
        (("xception", (64, 64, 3)), {}, ValueError, "at least 71x71"),
        (("vgg16", (32, 32)), {}, ValueError, r"input_shape=\(32, 32\)"),
        (("vgg16", (32, -1, 3)), {}, ValueError, "positive ints"),
        (("vgg16", (32, 32, 3)), {"include_top": True}, ValueError, "include_top"),
        (("vgg16", (32, 32, 3)), {"weights": 3}, ValueError, "weights=3"),
        ((3, (32, 32, 3)), {}, ValueError, "Received: 3"),
        (
            ("vgg16", (32, 32, 3)),
            {"weights": "/no/such/file.h5"},
            FileNotFoundError,
            "/no/such/file.h5",
        ),
    ],
)
def test_bad_arguments(args, kwargs, error, match):
    kwargs = {"weights": None, **kwargs}
    with pytest.raises(error, match=match):
        load_backbone(*args, **kwargs)


def test_weights_from_a_local_file(tmp_path):
    """The file Keras would download (legacy .h5 of the plain application)."""
    from keras.src.legacy.saving import legacy_h5_format

    keras.utils.set_random_seed(3)
    plain = keras.applications.MobileNet(
        include_top=False, weights=None, input_shape=(32, 32, 3), alpha=0.25
    )
    path = str(tmp_path / "mobilenet_notop.h5")
    import h5py

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, plain)
    backbone = load_backbone("mobilenet", (32, 32, 3), weights=path, alpha=0.25)
    x = _raw_images()
    expected = plain(keras.applications.mobilenet.preprocess_input(x.copy()))
    assert_all_close(backbone(x), expected, atol=1e-4, rtol=1e-4)

    # ... and a .weights.h5 saved from a backbone built here.
    own = str(tmp_path / "backbone.weights.h5")
    backbone.save_weights(own)
    again = load_backbone("mobilenet", (32, 32, 3), weights=own, alpha=0.25)
    assert_all_close(again(x), backbone(x), atol=1e-6)


@pytest.mark.slow
def test_failed_download_raises_a_clear_error_without_fallback(
    tmp_path, offline_python
):
    """Runs the real keras.utils.get_file with no way to reach the network."""
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    result = offline_python(
        """
        from keras_apps.transfer.backbones import (
            WeightsUnavailableError, load_backbone)
        try:
            load_backbone("mobilenet_v2", (96, 96, 3))
        except WeightsUnavailableError as error:
            print("ERROR:", error)
        else:
            print("NO ERROR")
        """,
        KERAS_HOME=str(keras_home),
    )
    output = result.stdout
    assert "ERROR:" in output, result.stdout + result.stderr
    wanted = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_96_no_top.h5"
    assert wanted in output
    assert "weights='/path/to/" in output
    assert str(keras_home / "models" / wanted) in output
    assert not (keras_home / "models" / wanted).exists()


# --------------------------------------------------------------------------
# keras-cv backbones from explicit arguments
# --------------------------------------------------------------------------

RESNET_ARGS = {
    "stackwise_filters": [8, 16],
    "stackwise_blocks": [1, 1],
    "stackwise_strides": [1, 2],
}


def test_keras_cv_backbone_rescales_raw_images(tmp_path):
    import keras_cv

    backbone = load_backbone(
        "keras_cv.ResNetBackbone", (32, 32, 3), weights=None, **RESNET_ARGS
    )
    assert isinstance(backbone, keras_cv.models.ResNetBackbone)
    assert backbone.output_shape == (None, 4, 4, 64)
    plain = keras_cv.models.ResNetBackbone(
        include_rescaling=False, input_shape=(32, 32, 3), **RESNET_ARGS
    )
    plain.set_weights(backbone.get_weights())
    x = _raw_images()
    assert_all_close(backbone(x), plain(x / 255.0), atol=1e-4, rtol=1e-4)

    path = str(tmp_path / "resnet.weights.h5")
    backbone.save_weights(path)
    keras.utils.set_random_seed(99)
    reloaded = load_backbone(
        "keras_cv.ResNetBackbone", (32, 32, 3), weights=path, **RESNET_ARGS
    )
    assert_all_close(reloaded(x), backbone(x), atol=1e-6)


def test_keras_cv_resnet_v2():
    backbone = load_backbone(
        "keras_cv.ResNetV2Backbone",
        (32, 32, 3),
        weights=None,
        stackwise_filters=[8, 16],
        stackwise_blocks=[2, 2],
        stackwise_strides=[1, 2],
    )
    assert backbone.output_shape == (None, 4, 4, 64)


def test_keras_cv_construction_failure_is_reported():
    # keras-cv 0.9 names two layers alike in a ResNetV2 stack of one block,
    # which Keras 3 refuses.
    with pytest.raises(RuntimeError, match=r"could not build keras_cv.ResNetV2"):
        load_backbone(
            "keras_cv.ResNetV2Backbone", (32, 32, 3), weights=None, **RESNET_ARGS
        )


@pytest.mark.parametrize(
    "name, kwargs, match",
    [
        ("keras_cv.ResNet50V2Backbone", {}, "preset alias"),
        ("keras_cv.Nope", {}, "Unknown keras-cv backbone 'Nope'"),
        ("keras_cv.ResNetBackbone", {}, r"missing \['stackwise_filters'"),
        (
            "keras_cv.ResNetBackbone",
            {**RESNET_ARGS, "weights": "imagenet"},
            "no 'imagenet' weights",
        ),
    ],
)
def test_keras_cv_errors(name, kwargs, match):
    kwargs = {"weights": None, **kwargs}
    with pytest.raises(ValueError, match=match):
        load_backbone(name, (32, 32, 3), **kwargs)


# --------------------------------------------------------------------------
# hub handles and SavedModel directories; export_hub_module
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_cnn_dir(tmp_path_factory):
    keras.utils.set_random_seed(5)
    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    path = export_hub_module(cnn, tmp_path_factory.mktemp("cnn") / "hub")
    return cnn, path


def test_hub_directory_backbone_rescales_to_the_hub_range(small_cnn_dir):
    cnn, path = small_cnn_dir
    backbone = load_backbone(path, (8, 8, 3))
    assert isinstance(backbone.layers[-1], HubBackbone)
    assert backbone.layers[-1].trainable is False
    x = _raw_images((8, 8, 3))
    assert_all_close(backbone(x), cnn(x / 255.0), atol=1e-5)

    signed = load_backbone(path, (8, 8, 3), hub_input_range=(-1.0, 1.0), trainable=True)
    assert signed.layers[-1].trainable is True
    assert_all_close(signed(x), cnn(x / 127.5 - 1.0), atol=1e-5)
    raw = load_backbone(path, (8, 8, 3), include_preprocessing=False)
    assert_all_close(raw(x), cnn(x), atol=1e-5)


def test_network_with_its_own_rescaling_is_not_rescaled_twice(tmp_path):
    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Rescaling(1 / 255.0),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ]
    )
    path = export_hub_module(cnn, tmp_path / "hub")
    backbone = load_backbone(path, (8, 8, 3))
    assert "hub_preprocessing" not in [layer.name for layer in backbone.layers]
    x = _raw_images((8, 8, 3))
    assert_all_close(backbone(x), cnn(x), atol=1e-5)
    # An explicit range still applies.
    ranged = load_backbone(path, (8, 8, 3), hub_input_range=(0.0, 1.0))
    assert_all_close(ranged(x), cnn(x / 255.0), atol=1e-5)
    with pytest.raises(ValueError, match="hub_input_range='raw'"):
        load_backbone(path, (8, 8, 3), hub_input_range="raw")


def test_hub_directory_refuses_other_weights(small_cnn_dir):
    _, path = small_cnn_dir
    with pytest.raises(ValueError, match="carries its own weights.*weights=None"):
        load_backbone(path, (8, 8, 3), weights=None)
    with pytest.raises(ValueError, match="hub_input_range"):
        load_backbone(path, (8, 8, 3), hub_input_range=(1.0, 0.0))


def test_export_hub_module_format(small_cnn_dir):
    cnn, path = small_cnn_dir
    loaded = tf.saved_model.load(path)
    x = _raw_images((8, 8, 3)) / 255.0
    assert_all_close(loaded(x, training=False), cnn(x), atol=1e-6)
    assert_all_close(loaded(x, training=True), cnn(x, training=True), atol=1e-6)
    assert len(loaded.variables) == 2
    assert len(loaded.trainable_variables) == 2
    assert list(loaded.regularization_losses) == []
    serving = loaded.signatures["serving_default"]
    (output,) = serving(tf.constant(x)).values()
    assert_all_close(output, cnn(x), atol=1e-6)


def test_export_hub_module_errors(small_cnn_dir, tmp_path):
    cnn, path = small_cnn_dir
    with pytest.raises(ValueError, match="not empty"):
        export_hub_module(cnn, path)
    with pytest.raises(TypeError, match="Expected a keras.Model"):
        export_hub_module(keras.layers.Dense(2), tmp_path / "layer")

    class Subclassed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    model = Subclassed()
    model(np.zeros((1, 3), "float32"))
    with pytest.raises(ValueError, match="input_signature"):
        export_hub_module(model, tmp_path / "subclassed")
    written = export_hub_module(
        model,
        tmp_path / "subclassed_ok",
        input_signature=tf.TensorSpec((None, 3), tf.float32),
    )
    x = np.ones((2, 3), "float32")
    assert_all_close(HubBackbone(written)(x), model(x), atol=1e-6)
