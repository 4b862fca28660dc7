"""receptive_field against closed forms and a brute-force impulse measurement."""

import keras
import numpy as np
import pytest

from keras_apps.visualize import ReceptiveField, feature_maps, receptive_field

L = keras.layers
ONES = {"kernel_initializer": "ones", "bias_initializer": "zeros"}


def _conv(filters=1, kernel=3, **kwargs):
    return L.Conv2D(filters, kernel, **ONES, **kwargs)


def _plain(size):
    return keras.Sequential(
        [keras.Input((size, size, 1)), _conv(name="c1"), _conv(name="c2")]
    )


def _strided_same(size, pool=L.MaxPooling2D):
    return keras.Sequential(
        [
            keras.Input((size, size, 1)),
            _conv(padding="same", strides=2, name="c1"),
            pool(3, strides=2, padding="same", name="pool"),
            _conv(padding="same", name="target"),
        ]
    )


def _dilated(size):
    return keras.Sequential(
        [
            keras.Input((size, size, 1)),
            _conv(dilation_rate=2, name="c1"),
            L.AveragePooling2D(2, name="pool"),
            _conv(dilation_rate=3, padding="same", name="target"),
        ]
    )


def _nested(size):
    inner = keras.Sequential(
        [keras.Input((None, None, 1)), L.ZeroPadding2D(((2, 0), (1, 0))), _conv()],
        name="inner",
    )
    inputs = keras.Input((size, size, 1))
    x = _conv(5, padding="valid", strides=2, name="stem")(inputs)
    x = L.ReLU()(x)
    x = L.Cropping2D(((0, 1), (0, 1)))(x)  # crops away bottom and right only
    x = L.BatchNormalization()(x)
    x = keras.layers.Conv2D(1, 1, **ONES)(x)
    x = inner(x)
    backbone = keras.Model(inputs, x, name="backbone")
    outer_in = keras.Input((size, size, 1))
    y = backbone(outer_in)
    y = _conv(name="target")(y)
    y = L.GlobalAveragePooling2D()(y)
    y = L.Dense(2, name="head")(y)
    return keras.Model(outer_in, y, name="classifier")


def _branches(size):
    inputs = keras.Input((size, size, 1))
    a = _conv(kernel=1, name="a")(inputs)
    b = _conv(kernel=5, padding="same", name="b")(inputs)
    c = _conv(kernel=(3, 1), padding="same", name="c")(inputs)
    x = L.Add()([a, b])
    x = L.Concatenate()([x, c])
    x = L.Conv2D(1, 3, strides=2, padding="same", **ONES, name="target")(x)
    return keras.Model(inputs, x)


def _impulse_boxes(model, layer, size):
    """For each unit of channel 0: the bounding box of input pixels that move it."""
    impulses = np.zeros((size * size, size, size, 1), "float32")
    rows, cols = np.divmod(np.arange(size * size), size)
    impulses[np.arange(size * size), rows, cols] = 1.0
    base = feature_maps(model, layer, np.zeros((1, size, size, 1), "float32"))
    response = feature_maps(model, layer, impulses) - base
    moved = np.abs(response[..., 0]) > 1e-6  # (pixels, h, w)
    boxes = {}
    for i in range(moved.shape[1]):
        for j in range(moved.shape[2]):
            rows, cols = np.divmod(np.flatnonzero(moved[:, i, j]), size)
            if rows.size:
                boxes[(i, j)] = (
                    (rows.min(), rows.max() + 1),
                    (cols.min(), cols.max() + 1),
                )
    return boxes, moved.shape[1:]


def _inside(inner, outer):
    return all(o[0] <= i[0] and i[1] <= o[1] for i, o in zip(inner, outer, strict=True))


@pytest.mark.parametrize(
    "build, layer, size, exact_at_borders",
    [
        (_plain, "c2", 12, True),
        (_strided_same, "target", 24, True),
        (_strided_same, "target", 23, True),  # odd size: 'same' offsets change
        # A dilated kernel has holes: at the border the taps that reach the
        # first pixels can all fall into the padding, so the measured extent
        # of a clipped window may be smaller than the window.
        (_dilated, "target", 24, False),
        (_nested, "target", 21, True),
        (_nested, "backbone/stem", 21, True),
        (_branches, "target", 13, True),
    ],
)
def test_receptive_field_matches_impulse_extent(build, layer, size, exact_at_borders):
    model = build(size)
    field = receptive_field(model, layer)
    boxes, (height, width) = _impulse_boxes(model, layer, size)
    assert len(boxes) == height * width
    interior = 0
    for position, box in boxes.items():
        clipped = field.clipped_box(position, (size, size))
        if exact_at_borders or field.box(position) == clipped:
            assert clipped == box, (position, field)
            interior += field.box(position) == clipped
        else:
            assert _inside(box, clipped), (position, field)
    assert interior > 0


def test_closed_forms_of_the_course():
    model = keras.Sequential(
        [keras.Input((32, 32, 3))]
        + [L.Conv2D(4, 3, padding="same", name=f"c{i}") for i in (1, 2, 3)]
        + [L.MaxPooling2D(name="pool"), L.Conv2D(4, 3, name="c4")]
    )
    assert receptive_field(model, "c1").size == (3, 3)
    assert receptive_field(model, "c2").size == (5, 5)
    assert receptive_field(model, "c3").size == (7, 7)
    pool = receptive_field(model, "pool")
    assert (pool.size, pool.jump, pool.start) == ((8, 8), (2, 2), (0.5, 0.5))
    c4 = receptive_field(model, "c4")
    # valid 3x3 after the pool: 8 + 2 * 2, jump 2, first window starts at -3.
    assert (c4.size, c4.jump, c4.start, c4.first) == (
        (12, 12),
        (2, 2),
        (2.5, 2.5),
        (-3, -3),
    )
    assert c4.box((1, 0)) == ((-1, 11), (-3, 9))
    assert isinstance(c4, ReceptiveField)


def test_non_square_kernels_strides_and_dilation_per_axis():
    model = keras.Sequential(
        [
            keras.Input((20, 30, 1)),
            L.Conv2D(2, (5, 1), strides=(1, 2), name="a"),
            L.Conv2D(2, 3, dilation_rate=(2, 1), name="b"),
        ]
    )
    field = receptive_field(model, "b")
    assert field.size == (9, 5) and field.jump == (1, 2)


def test_layers_inside_nested_models_by_name_and_path():
    model = _nested(21)
    by_name = receptive_field(model, "stem")
    by_path = receptive_field(model, "backbone/stem")
    assert (by_name.size, by_name.jump, by_name.start) == (
        by_path.size,
        by_path.jump,
        by_path.start,
    )
    assert by_path.layer_name == "backbone/stem"
    whole = receptive_field(model, "backbone")
    inner = receptive_field(model, "inner")
    assert whole.size == inner.size and whole.jump == (2, 2)


@pytest.mark.parametrize(
    "layer, match",
    [
        ("head", "whole input.*global_average_pooling2d"),
        ("global_average_pooling2d", "mixes all positions|whole input"),
    ],
)
def test_dense_and_global_pooling_have_no_receptive_field(layer, match):
    model = _nested(21)
    with pytest.raises(ValueError, match=match):
        receptive_field(model, layer)


def test_dense_after_flatten_and_unknown_layers_are_named():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            L.Conv2D(2, 3, name="conv"),
            L.UpSampling2D(name="up"),
            L.Conv2D(2, 3, name="after_up"),
            L.Flatten(name="flat"),
            L.Dense(3, name="dense"),
        ]
    )
    with pytest.raises(ValueError, match="'flat' \\(Flatten\\).*whole input"):
        receptive_field(model, "dense")
    with pytest.raises(ValueError, match="'up' \\(UpSampling2D\\)"):
        receptive_field(model, "after_up")


def test_bad_layer_names_list_the_layers():
    model = _nested(21)
    with pytest.raises(ValueError, match="No layer named 'conv9'.*backbone/stem"):
        receptive_field(model, "conv9")
    with pytest.raises(ValueError, match="Keras model"):
        receptive_field("model", "conv")


@pytest.mark.requires_tensorflow(reason="input gradients with tf.GradientTape")
def test_receptive_field_is_the_extent_of_the_input_gradient():
    import tensorflow as tf

    from keras_apps.visualize import _graph

    size = 23
    # The gradient of a max pool reaches only the maximum: average instead.
    model = _strided_same(size, pool=L.AveragePooling2D)
    keras.utils.set_random_seed(0)
    for layer in model.layers:  # random weights: gradients of either sign
        layer.set_weights([np.random.rand(*w.shape) + 0.1 for w in layer.get_weights()])
    field = receptive_field(model, "target")
    extractor = _graph.tapped_model(model, [_graph.find_layer(model, "target")])
    x = tf.random.uniform((1, size, size, 1))
    height, width = extractor.outputs[0].shape[1:3]
    for i, j in [(0, 0), (height // 2, width // 2), (height - 1, width - 1)]:
        with tf.GradientTape() as tape:
            tape.watch(x)
            unit = extractor(x)[0, i, j, 0]
        grad = tape.gradient(unit, x).numpy()[0, ..., 0]
        rows, cols = np.nonzero(grad)
        box = ((rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1))
        assert field.clipped_box((i, j), (size, size)) == box
