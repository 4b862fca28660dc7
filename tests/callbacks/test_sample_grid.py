import os

import keras
import numpy as np
import pytest
from PIL import Image

from keras_apps.callbacks import SampleGrid, SampleQuality
from keras_apps.metrics import FrechetClassifierDistance, build_sample_classifier
from keras_apps.models import (
    GAN,
    VAE,
    ConditionalGAN,
    dcgan_discriminator,
    dcgan_generator,
)
from keras_apps.testing.test_case import run_serialization_test


def _tiny_vae():
    """A real `keras_apps.models.VAE` decoding 2-D codes to 8x8 sigmoid images."""
    images = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(images)
    encoder = keras.Model(
        images, [keras.layers.Dense(2)(flat), keras.layers.Dense(2)(flat)]
    )
    decoder = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(64, activation="sigmoid"),
            keras.layers.Reshape((8, 8, 1)),
        ]
    )
    return VAE(encoder, decoder, seed=0)


def _png(path):
    return np.asarray(Image.open(path))


def test_grids_for_a_gan_a_conditional_gan_and_a_vae(tmp_path):
    gan = GAN(
        dcgan_generator(4, 16, 3, base_filters=4),
        dcgan_discriminator(16, 3, base_filters=4),
        latent_dim=4,
    )
    grid = SampleGrid(tmp_path / "gan", every_n_epochs=2, num_samples=6, rows=2)
    grid.set_model(gan)
    for epoch in range(4):
        grid.on_epoch_end(epoch)
    assert [os.path.basename(p) for p in grid.paths] == [
        "samples_epoch_002.png",
        "samples_epoch_004.png",
    ]
    # A fixed seed: an unchanged model draws the same grid at every epoch
    # (the titles differ, so compare the samples).
    first, second = grid.samples()[0], grid.samples()[0]
    np.testing.assert_array_equal(first, second)
    assert first.shape == (6, 16, 16, 3)
    assert _png(grid.paths[0]).shape[2] in (3, 4)

    cgan = ConditionalGAN(
        dcgan_generator(4, 16, 1, base_filters=4, num_classes=3),
        dcgan_discriminator(16, 1, base_filters=4, num_classes=3),
        latent_dim=4,
        num_classes=3,
    )
    grid = SampleGrid(tmp_path / "cgan", samples_per_class=4)
    images, rows, labels = grid.samples(cgan)
    assert images.shape == (12, 16, 16, 1) and rows == 3
    assert labels == ["class 0", "class 1", "class 2"]
    path = grid.save(7, cgan)
    assert path.endswith("samples_epoch_007.png") and os.path.getsize(path) > 1000

    vae = _tiny_vae()
    grid = SampleGrid(
        tmp_path / "vae", num_samples=4, rows=2, seed=5, value_range=(0, 1)
    )
    grid.set_model(vae)
    grid.on_epoch_end(0)
    grid.on_epoch_end(1)
    assert len(grid.paths) == 2
    images, rows, labels = grid.samples()
    assert images.shape == (4, 8, 8, 1) and rows == 2 and labels is None
    # The grid's seed: VAE.sample's own draw with that seed, every epoch.
    expected = keras.ops.convert_to_numpy(vae.sample(4, seed=5))
    np.testing.assert_array_equal(images, expected)
    np.testing.assert_array_equal(grid.samples()[0], images)
    assert not np.allclose(images, keras.ops.convert_to_numpy(vae.sample(4, seed=6)))
    np.testing.assert_array_equal(_png(grid.paths[0]).shape, _png(grid.paths[1]).shape)


def test_errors_and_config(tmp_path):
    for kwargs, match in [
        (dict(every_n_epochs=0), "every_n_epochs=0"),
        (dict(num_samples=10, rows=3), "multiple of `rows`"),
        (dict(value_range=(1, 0)), "value_range"),
    ]:
        with pytest.raises(ValueError, match=match):
            SampleGrid(tmp_path, **kwargs)
    grid = SampleGrid(tmp_path)
    grid.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    with pytest.raises(ValueError, match=r"generate\(n, seed\).*sample\(n, seed\)"):
        grid.on_epoch_end(0)
    config = SampleGrid(str(tmp_path), rows=4, num_samples=8).get_config()
    assert SampleGrid.from_config(config).get_config() == config
    run_serialization_test(SampleGrid(str(tmp_path), rows=4, num_samples=8))


def test_sample_quality_logs_distance_and_class_accuracy():
    classifier = build_sample_classifier((16, 16, 1), 3, feature_dim=8)
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (12, 16, 16, 1)).astype("float32")
    labels = np.arange(12) % 3
    cgan = ConditionalGAN(
        dcgan_generator(4, 16, 1, base_filters=4, num_classes=3),
        dcgan_discriminator(16, 1, base_filters=4, num_classes=3),
        latent_dim=4,
        num_classes=3,
    )
    callback = SampleQuality(classifier, real, labels, every_n_epochs=2)
    callback.set_model(cgan)
    logs = {}
    callback.on_epoch_end(0, logs)
    assert logs == {}
    callback.on_epoch_end(1, logs)
    assert sorted(logs) == ["class_accuracy", "frechet_distance"]
    assert logs["frechet_distance"] > 0 and 0 <= logs["class_accuracy"] <= 1
    assert callback.history == {2: logs}
    assert callback.measure() == logs  # fixed seed: the same samples
    # The numbers are those of the metrics on real vs the requested samples.
    generated = cgan.generate(labels, seed=0)
    reference = FrechetClassifierDistance(classifier)
    reference.update_state(real, generated)
    assert logs["frechet_distance"] == pytest.approx(float(reference.result()))
    predicted = np.argmax(keras.ops.convert_to_numpy(classifier(generated)), -1)
    assert logs["class_accuracy"] == pytest.approx(np.mean(predicted == labels))

    with pytest.raises(ValueError, match="needs `real_labels`"):
        SampleQuality(classifier, real).measure(cgan)
    with pytest.raises(ValueError, match="one label per real image"):
        SampleQuality(classifier, real, labels[:5])
