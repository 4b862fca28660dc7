import keras
import numpy as np
import pytest

from keras_apps.models import dcgan_discriminator, dcgan_generator
from keras_apps.testing.test_case import run_model_saving_test

SIZES = [(16, 1), (28, 1), (32, 3), (64, 3), (16, 5)]


def test_generator_and_discriminator_fit_each_other():
    for image_size, channels in SIZES:
        _check_pair(image_size, channels)


def _check_pair(image_size, channels):
    generator = dcgan_generator(4, image_size, channels, base_filters=4)
    discriminator = dcgan_discriminator(image_size, channels, base_filters=4)
    assert generator.output_shape == (None, image_size, image_size, channels)
    assert discriminator.input_shape == generator.output_shape
    z = np.random.default_rng(0).normal(size=(2, 4)).astype("float32")
    images = keras.ops.convert_to_numpy(generator(z))
    assert images.shape == (2, image_size, image_size, channels)
    assert np.all(np.abs(images) <= 1.0)  # tanh
    logits = keras.ops.convert_to_numpy(discriminator(images))
    assert logits.shape == (2, 1)
    assert np.all(np.isfinite(logits))


def test_layout_of_the_paper():
    generator = dcgan_generator(16, 32, 3, base_filters=8)
    names = [layer.name for layer in generator.layers]
    # 4x4x32 -> 8x8x16 -> 16x16x8 -> 32x32x3, batch norm and ReLU between.
    assert generator.get_layer("reshape").output.shape == (None, 4, 4, 32)
    assert generator.get_layer("up2").output.shape == (None, 16, 16, 8)
    assert "up1_norm" in names and "up2_relu" in names
    assert generator.get_layer("images").activation.__name__ == "tanh"
    discriminator = dcgan_discriminator(32, 3, base_filters=8, norm="batch")
    names = [layer.name for layer in discriminator.layers]
    assert "down1_norm" not in names and "down2_norm" in names  # not on the input
    assert discriminator.get_layer("down3").output.shape == (None, 4, 4, 32)
    # 28 px starts from 7x7.
    assert dcgan_generator(8, 28).get_layer("reshape").output.shape[1:3] == (7, 7)
    assert dcgan_discriminator(28).get_layer("features").output.shape == (
        None,
        7 * 7 * 128,
    )


def test_label_map_is_one_class_channel_per_pixel():
    discriminator = dcgan_discriminator(16, 2, base_filters=4, num_classes=5)
    probe = keras.Model(
        discriminator.inputs, discriminator.get_layer("label_map").output
    )
    labels = np.array([0, 3, 4, 3], "int32")
    images = np.zeros((4, 16, 16, 2), "float32")
    maps = keras.ops.convert_to_numpy(probe([images, labels]))
    assert maps.shape == (4, 16, 16, 5)
    expected = np.broadcast_to(np.eye(5)[labels][:, None, None, :], maps.shape)
    np.testing.assert_array_equal(maps, expected)  # the same one-hot at every pixel
    joined = discriminator.get_layer("images_and_labels").output
    assert joined.shape == (None, 16, 16, 7)


def test_conditional_generator_and_projection_discriminator_use_labels():
    generator = dcgan_generator(4, 16, 1, base_filters=4, num_classes=3)
    discriminator = dcgan_discriminator(
        16, 1, base_filters=4, num_classes=3, conditioning="projection"
    )
    z = np.zeros((3, 4), "float32")
    labels = np.array([0, 1, 2], "int32")
    images = keras.ops.convert_to_numpy(generator([z, labels]))
    # Same latents, different labels: different images.
    assert not np.allclose(images[0], images[1])
    same_images = np.repeat(images[:1], 3, axis=0)
    scores = keras.ops.convert_to_numpy(discriminator([same_images, labels]))
    assert scores.shape == (3, 1)
    assert len(np.unique(np.round(scores, 6))) == 3


def test_builders_save_and_load():
    generator = dcgan_generator(4, 16, 1, base_filters=4, num_classes=3)
    inputs = [np.ones((2, 4), "float32"), np.array([1, 2], "int32")]
    run_model_saving_test(generator, inputs)
    discriminator = dcgan_discriminator(16, 1, 4, num_classes=3, norm="layer")
    run_model_saving_test(
        discriminator, [np.ones((2, 16, 16, 1), "float32"), np.array([1, 2], "int32")]
    )


def test_dtype_policy_reaches_the_layers():
    generator = dcgan_generator(4, 16, base_filters=4, dtype="bfloat16")
    assert {layer.dtype_policy.name for layer in generator.layers[1:]} == {"bfloat16"}


BAD_ARGUMENTS = [
    (dcgan_generator, dict(image_size=20), "image_size.*Received: image_size=20"),
    (dcgan_generator, dict(latent_dim=0), "latent_dim=0"),
    (dcgan_generator, dict(channels=0), "channels=0"),
    (dcgan_generator, dict(norm="group"), "norm='group'"),
    (dcgan_discriminator, dict(image_size=8), "image_size=8"),
    (dcgan_discriminator, dict(conditioning="concat"), "conditioning='concat'"),
    (dcgan_discriminator, dict(dropout=1.0), "dropout=1.0"),
    (dcgan_discriminator, dict(num_classes=-1), "num_classes=-1"),
]


def test_bad_arguments():
    for builder, kwargs, match in BAD_ARGUMENTS:
        with pytest.raises(ValueError, match=match):
            builder(**kwargs)
