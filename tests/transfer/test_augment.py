import doctest

import numpy as np
import pytest
import tensorflow as tf

from keras_apps.transfer import augment, augment_dataset, build_augmenter

pytestmark = pytest.mark.requires_tensorflow(reason="augment builds tf.data pipelines")


def _images():
    from sklearn.datasets import load_sample_images

    image = load_sample_images().images[0][::16, ::16][:24, :24]
    rng = np.random.default_rng(0)
    batch = np.stack([np.roll(image, int(s), axis=1) for s in rng.integers(0, 24, 8)])
    return batch.astype("float32")


def _dataset(images):
    labels = np.arange(len(images))
    return tf.data.Dataset.from_tensor_slices((images, labels)).batch(4)


def _collect(ds):
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_range_shape_labels_and_images_changed():
    images = _images()
    x, y = _collect(augment_dataset(_dataset(images), magnitude=0.5, seed=3))
    assert x.shape == images.shape and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 255.0
    np.testing.assert_array_equal(y, np.arange(8))
    changed = np.abs(x - images).reshape(8, -1).mean(axis=1)
    assert (changed > 1.0).sum() >= 6


def test_seeded_flip_is_reproducible():
    images = _images()
    runs = [
        _collect(augment_dataset(_dataset(images), seed=s, rand_augment=False))[0]
        for s in (3, 3, 4, 5)
    ]
    np.testing.assert_array_equal(runs[0], runs[1])
    # Each image is flipped or not; other seeds give other choices.
    flipped = [
        [not np.array_equal(x, image) for x, image in zip(run, images, strict=True)]
        for run in runs
    ]
    assert any(flipped[0]) and not all(flipped[0])
    assert flipped[0] != flipped[2] or flipped[0] != flipped[3]


def test_unit_range_images_only_and_parallel_calls():
    images = _images() / 255.0
    ds = tf.data.Dataset.from_tensor_slices(images).batch(4)
    out = augment_dataset(
        ds, value_range=(0, 1), num_parallel_calls=tf.data.AUTOTUNE, flip=None
    )
    x = np.concatenate([b.numpy() for b in out])
    assert x.shape == images.shape and 0.0 <= x.min() and x.max() <= 1.0
    assert not np.allclose(x, images)


def test_flip_only_is_an_exact_mirror_or_identity():
    images = _images()
    aug = build_augmenter(rand_augment=False, flip="horizontal", seed=0)
    x, _ = _collect(augment_dataset(_dataset(images), augmenter=aug))
    for got, image in zip(x, images, strict=True):
        assert np.array_equal(got, image) or np.array_equal(got, image[:, ::-1])


def test_errors():
    with pytest.raises(ValueError, match=r"value_range.*\(255, 0\)"):
        build_augmenter(value_range=(255, 0))
    with pytest.raises(ValueError, match="flip.*'diagonal'"):
        build_augmenter(flip="diagonal")
    with pytest.raises(ValueError, match="magnitude.*2"):
        build_augmenter(magnitude=2)
    with pytest.raises(ValueError, match="Nothing to apply"):
        build_augmenter(rand_augment=False, flip=None)
    with pytest.raises(ValueError, match="tf.data.Dataset.*ndarray"):
        augment_dataset(_images())
    with pytest.raises(ValueError, match="not both"):
        augment_dataset(_dataset(_images()), augmenter=lambda x: x, magnitude=0.1)


def test_docstring_examples():
    result = doctest.testmod(augment)
    assert result.attempted > 0 and result.failed == 0


def test_augmented_dataset_feeds_model_fit():
    import keras

    images = _images()
    ds = augment_dataset(_dataset(images), seed=1).map(lambda x, y: (x / 255.0, y % 2))
    model = keras.Sequential(
        [
            keras.Input((24, 24, 3)),
            keras.layers.Conv2D(2, 3),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
