import doctest

import keras
import numpy as np
import pytest

from keras_apps.transfer import finetune, unfreeze
from keras_apps.transfer.finetune import weight_carrying_layers


def _backbone():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(4, 3, name="conv1"),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.Conv2D(4, 3, name="conv2"),
            keras.layers.BatchNormalization(name="bn2"),
            keras.layers.Conv2D(4, 3, name="conv3"),
        ],
        name="backbone",
    )


def _classifier():
    backbone = _backbone()
    inputs = keras.Input((8, 8, 1))
    x = backbone(inputs, training=False)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs, name="clf")
    backbone.trainable = False
    return model


def _trainable_leaves(model):
    return [
        leaf.layer.name
        for leaf in weight_carrying_layers(model)
        if leaf.layer.trainable and all(a.trainable for a in leaf.ancestors)
    ]


def test_weight_carrying_layers_recurse_in_order():
    names = [leaf.layer.name for leaf in weight_carrying_layers(_classifier())]
    assert names == ["conv1", "bn1", "conv2", "bn2", "conv3", "head"]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_top_n_makes_exactly_the_top_k_trainable(k):
    model = _classifier()
    model.trainable = False
    made = unfreeze(model, top_n=k)
    expected = ["conv1", "conv2", "conv3", "head"][4 - k :]
    assert made == expected
    assert _trainable_leaves(model) == expected
    for name in ("bn1", "bn2"):
        assert not model.get_layer("backbone").get_layer(name).trainable
    trainable_paths = sorted(v.path for v in model.trainable_variables)
    expected_paths = sorted(
        v.path
        for name in expected
        for v in (
            model.get_layer(name)
            if name == "head"
            else model.get_layer("backbone").get_layer(name)
        ).weights
    )
    assert trainable_paths == expected_paths


def test_batchnorm_counted_and_unfrozen_when_not_kept_frozen():
    model = _classifier()
    model.trainable = False
    made = unfreeze(model, top_n=3, keep_batchnorm_frozen=False)
    assert made == ["bn2", "conv3", "head"]
    assert _trainable_leaves(model) == ["bn2", "conv3", "head"]


def test_from_layer_and_layers_above_stay_and_nothing_is_frozen():
    model = _classifier()  # head trainable, backbone frozen
    made = unfreeze(model.get_layer("backbone"), from_layer="conv2")
    assert made == ["conv2", "conv3"]
    assert _trainable_leaves(model) == ["conv2", "conv3", "head"]
    # A layer without weights starts the range at the next weighted layer.
    model = _classifier()
    assert unfreeze(model, from_layer="relu1") == ["conv2", "conv3", "head"]


def test_unfreeze_all_and_training_moves_only_unfrozen():
    model = _classifier()
    model.trainable = False
    unfreeze(model, top_n=2)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 1)).astype("float32")
    y = np.ones((4, 3), "float32")
    backbone = model.get_layer("backbone")
    before = {
        n: backbone.get_layer(n).get_weights()[0].copy()
        for n in ("conv1", "conv2", "conv3")
    }
    model.fit(x, y, epochs=1, verbose=0)
    assert np.array_equal(before["conv1"], backbone.get_layer("conv1").get_weights()[0])
    assert np.array_equal(before["conv2"], backbone.get_layer("conv2").get_weights()[0])
    assert not np.allclose(
        before["conv3"], backbone.get_layer("conv3").get_weights()[0]
    )
    assert unfreeze(model) == ["conv1", "conv2", "conv3", "head"]


def test_errors():
    model = _classifier()
    with pytest.raises(ValueError, match="not both"):
        unfreeze(model, top_n=1, from_layer="conv1")
    with pytest.raises(ValueError, match=r"top_n.*>= 0.*-1"):
        unfreeze(model, top_n=-1)
    with pytest.raises(ValueError, match=r"<= 4.*top_n=9"):
        unfreeze(model, top_n=9)
    with pytest.raises(ValueError, match=r"No layer named 'conv9'.*conv1"):
        unfreeze(model, from_layer="conv9")


def test_docstring_examples():
    result = doctest.testmod(finetune)
    assert result.attempted > 0 and result.failed == 0
