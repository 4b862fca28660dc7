"""top_activating_patches: the right patches, sorted, streamed with bounded memory."""

import tracemalloc

import numpy as np
import pytest

from keras_apps.visualize import TopPatches, receptive_field, top_activating_patches


def test_top_patch_of_the_detector_contains_the_bright_square(vis):
    model = vis.square_detector()
    images, corners = vis.images_with_squares(60)
    result = top_activating_patches(
        model, "detector", images, units=[0], k=5, batch_size=16, distinct_images=True
    )
    assert isinstance(result, TopPatches) and result.values.shape == (1, 5)
    # Brighter squares were put in later images: the top 5 are the last five.
    expected = sorted(corners, reverse=True)[:5]
    assert result.image_indices[0].tolist() == expected
    assert np.all(np.diff(result.values[0]) < 0)
    for rank, index in enumerate(expected):
        top, left = corners[index]
        # The strongest position is the square's centre: the 3x3 window is it.
        assert tuple(result.positions[0, rank]) == (top + 1, left + 1)
        np.testing.assert_array_equal(
            result.patches[0, rank], images[index, top : top + 3, left : left + 3]
        )
        assert result.patch(0, rank).shape == (3, 3, 1)
        # The activation is the window sum minus the bias, as computed by hand.
        window = images[index, top : top + 3, left : left + 3].sum() - 5.0
        assert result.values[0, rank] == pytest.approx(window, rel=1e-5)


def test_positions_and_images_compete_without_distinct_images(vis):
    model = vis.square_detector(nested=False)
    images, corners = vis.images_with_squares(9)
    result = top_activating_patches(model, "detector", images, units=[0], k=4)
    last = max(corners)
    # The brightest square's neighbourhood fills several of the top 4.
    assert (result.image_indices[0] == last).sum() >= 2
    assert np.all(np.diff(result.values[0]) <= 0)


def test_patches_are_clipped_at_the_border_and_padded(vis):
    model = vis.square_detector()
    images = np.zeros((2, 16, 16, 1), "float32")
    images[1, 0:2, 14:16] = 3.0  # a 2x2 square in the top-right corner
    images[1, 0:2, 13] = -1.0  # so that the window at column 14 scores lower
    result = top_activating_patches(
        model, "detector", images, units=[0], k=1, pad_value=-1.0
    )
    assert result.image_indices[0, 0] == 1
    assert tuple(result.positions[0, 0]) == (0, 15)
    assert result.boxes[0, 0].tolist() == [[0, 2], [14, 16]]
    patch = result.patches[0, 0, ..., 0]
    np.testing.assert_array_equal(patch[0], [-1.0, -1.0, -1.0])  # above the image
    np.testing.assert_array_equal(patch[:, 2], [-1.0, -1.0, -1.0])  # right of it
    np.testing.assert_array_equal(patch[1:, :2], 3.0)
    np.testing.assert_array_equal(result.patch(0, 0)[..., 0], [[3.0, 3.0]] * 2)


def _fields(result):
    return (
        result.units,
        result.image_indices,
        result.positions,
        result.boxes,
        result.patches,
    )


def test_streaming_equals_one_batch_for_several_layers(vis):
    model = vis.small_cnn()
    images = np.random.default_rng(1).random((70, 12, 12, 3)).astype("float32")
    layers = ["conv1", "backbone/pool1", "conv2"]
    small = top_activating_patches(
        model, layers, images, units=4, k=6, seed=3, batch_size=9
    )
    whole = top_activating_patches(
        model, layers, images, units=4, k=6, seed=3, batch_size=70
    )
    assert list(small) == layers
    for name in layers:
        for a, b in zip(_fields(small[name]), _fields(whole[name]), strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_allclose(small[name].values, whole[name].values, rtol=1e-5)
        # 4 of conv1's 6 channels, drawn with the seed, sorted.
        assert len(small[name].units) == 4
    assert small["conv2"].patches.shape[2:4] == receptive_field(model, "conv2").size
    # Brute force: every activation, sorted with ties by stream order.
    from keras_apps.visualize import feature_maps

    maps = feature_maps(model, "conv2", images)
    for row, unit in enumerate(whole["conv2"].units):
        flat = maps[..., unit].reshape(-1)
        order = np.lexsort((np.arange(flat.size), -flat))[:6]
        np.testing.assert_allclose(whole["conv2"].values[row], flat[order], rtol=1e-5)
        hw = maps.shape[1] * maps.shape[2]
        np.testing.assert_array_equal(whole["conv2"].image_indices[row], order // hw)


def test_units_argument(vis):
    model = vis.small_cnn()
    images = np.random.default_rng(2).random((5, 12, 12, 3)).astype("float32")
    all_units = top_activating_patches(model, "conv1", images, k=2)
    assert all_units.units.tolist() == list(range(6))
    a = top_activating_patches(model, "conv1", images, units=3, seed=7, k=2)
    b = top_activating_patches(model, "conv1", images, units=3, seed=7, k=2)
    assert a.units.tolist() == b.units.tolist() and len(set(a.units.tolist())) == 3
    chosen = top_activating_patches(model, "conv1", images, units=[5, 1], k=2)
    assert chosen.units.tolist() == [5, 1]
    np.testing.assert_array_equal(chosen.values[1], all_units.values[1])
    many = top_activating_patches(model, "conv1", images[:1], k=1000)
    assert many.k == 100  # 10x10 positions of one image


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"units": 7}, "between 1 and the layer's 6 channels"),
        ({"units": [0, 6]}, r"channel indices in \[0, 6\)"),
        ({"units": "all"}, "Expected `units`"),
        ({"k": 0}, "k >= 1"),
        ({"batch_size": 0}, "batch_size >= 1"),
        ({"layer_name": "head"}, "no local receptive field"),
        ({"layer_name": "conv7"}, "No layer named 'conv7'.*backbone/conv1"),
    ],
)
def test_bad_arguments(kwargs, match, vis):
    model = vis.small_cnn()
    images = np.zeros((3, 12, 12, 3), "float32")
    arguments = {"layer_name": "conv1", **kwargs}
    with pytest.raises(ValueError, match=match):
        top_activating_patches(model, images=images, **arguments)


@pytest.mark.parametrize(
    "shape", [(3, 12, 12), (3, 12, 12, 1), (3, 10, 12, 3), (12, 12, 3)]
)
def test_wrong_image_shapes(shape, vis):
    model = vis.small_cnn()
    with pytest.raises(
        ValueError, match=r"Expected `images` of shape \(N, 12, 12, 3\)"
    ):
        top_activating_patches(model, "conv1", np.zeros(shape, "float32"))


def test_empty_images(vis):
    with pytest.raises(ValueError, match="no images"):
        top_activating_patches(vis.small_cnn(), "conv1", np.zeros((0, 12, 12, 3)))


def test_memory_stays_bounded_on_a_stream_larger_than_a_batch(vis):
    model = vis.small_cnn(size=16)
    batch, batches = 32, 60  # 60 batches of 96 KiB images: 5.6 MiB streamed

    def stream():
        rng = np.random.default_rng(0)
        for _ in range(batches):
            yield rng.random((batch, 16, 16, 3), dtype="float32")

    reference = top_activating_patches(model, "conv2", stream(), units=[0, 1], k=4)
    tracemalloc.start()
    try:
        result = top_activating_patches(model, "conv2", stream(), units=[0, 1], k=4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    streamed = batch * batches * 16 * 16 * 3 * 4
    one_batch = batch * 16 * 16 * 3 * 4
    # Peak memory is a few batches (images and activations), not the stream.
    assert peak < 12 * one_batch, (peak, one_batch)
    assert peak < streamed / 4
    assert result.image_indices.max() < batch * batches
    np.testing.assert_array_equal(result.image_indices, reference.image_indices)


@pytest.mark.requires_tensorflow(reason="streams a tf.data.Dataset")
def test_tf_data_datasets_stream_like_arrays(vis):
    import tensorflow as tf

    model = vis.small_cnn()
    images = np.random.default_rng(4).random((40, 12, 12, 3)).astype("float32")
    labels = np.zeros(40, "int64")
    dataset = tf.data.Dataset.from_tensor_slices((images, labels)).batch(6)
    from_data = top_activating_patches(model, "conv2", dataset, units=[0, 2], k=5)
    from_array = top_activating_patches(model, "conv2", images, units=[0, 2], k=5)
    for a, b in zip(_fields(from_data), _fields(from_array), strict=True):
        np.testing.assert_array_equal(a, b)
