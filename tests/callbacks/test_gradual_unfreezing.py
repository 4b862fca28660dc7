import doctest

import keras
import numpy as np
import pytest

from keras_apps.callbacks import GradualUnfreezing, gradual_unfreezing
from keras_apps.transfer import LayerwiseLearningRateOptimizer, layerwise_learning_rates


def _model():
    backbone = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(6, name="block1_a"),
            keras.layers.BatchNormalization(name="block1_bn"),
            keras.layers.Dense(6, name="block2_a"),
            keras.layers.Dense(6, name="block2_b"),
            keras.layers.Dense(6, name="block3_a"),
        ],
        name="backbone",
    )
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="head")(backbone(inputs, training=False))
    backbone.trainable = False
    return keras.Model(inputs, outputs)


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((16, 4)).astype("float32"), rng.standard_normal(
        (16, 2)
    ).astype("float32")


class _Recorder(keras.callbacks.Callback):
    """Kernels of every layer at the end of each epoch."""

    def __init__(self, names):
        super().__init__()
        self.names = names
        self.snapshots = []

    def _kernels(self):
        backbone = self.model.get_layer("backbone")
        return {n: np.array(backbone.get_layer(n).get_weights()[0]) for n in self.names}

    def on_train_begin(self, logs=None):
        self.snapshots.append(self._kernels())

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(self._kernels())


def _first_change(snapshots, name):
    for epoch in range(1, len(snapshots)):
        if not np.array_equal(snapshots[epoch - 1][name], snapshots[epoch][name]):
            return epoch - 1
    return None


@pytest.mark.parametrize("wrap", [False, True])
def test_layers_start_changing_at_their_epoch(wrap):
    model = _model()
    optimizer = keras.optimizers.Adam(0.01)
    if wrap:
        optimizer = layerwise_learning_rates(optimizer, {"block3*": 0.5}, model=model)
    model.compile(optimizer=optimizer, loss="mse")
    names = ["block1_a", "block2_a", "block2_b", "block3_a"]
    recorder = _Recorder(names)
    callback = GradualUnfreezing(every_n_epochs=2, layers_per_step=1)
    model.fit(
        *_data(), epochs=6, batch_size=8, verbose=0, callbacks=[callback, recorder]
    )
    first = {n: _first_change(recorder.snapshots, n) for n in names}
    assert first == {"block3_a": 2, "block2_b": 4, "block2_a": None, "block1_a": None}
    assert callback.unfrozen_at == {"block3_a": 2, "block2_b": 4}
    bn = model.get_layer("backbone").get_layer("block1_bn")
    assert not bn.trainable
    np.testing.assert_array_equal(np.array(bn.moving_mean), 0.0)
    if wrap:
        assert isinstance(model.optimizer, LayerwiseLearningRateOptimizer)
        assert model.optimizer.multipliers == {"block3*": 0.5}


def test_blocks_unfreeze_together_inside_named_layer():
    model = _model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    names = ["block1_a", "block2_a", "block2_b", "block3_a"]
    recorder = _Recorder(names)
    callback = GradualUnfreezing(
        every_n_epochs=1, blocks=["block3*", "block2*"], layer="backbone"
    )
    model.fit(
        *_data(), epochs=3, batch_size=16, verbose=0, callbacks=[callback, recorder]
    )
    first = {n: _first_change(recorder.snapshots, n) for n in names}
    assert first == {"block3_a": 1, "block2_b": 2, "block2_a": 2, "block1_a": None}


def test_first_step_matches_plain_sgd_on_unfrozen_layer():
    # The step of a newly unfrozen layer is exactly -lr * grad (NumPy check).
    inputs = keras.Input((1,))
    body = keras.layers.Dense(1, use_bias=False, name="body")
    head = keras.layers.Dense(1, use_bias=False, name="head")
    model = keras.Model(inputs, head(body(inputs)))
    body.set_weights([np.array([[2.0]])])
    head.set_weights([np.array([[3.0]])])
    body.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x, y = np.array([[1.0]], "float32"), np.array([[0.0]], "float32")
    callback = GradualUnfreezing(every_n_epochs=1)
    model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])
    # Epoch 0: only the head moved: w_h -= 0.1 * 2 * (2*3 - 0) * 2 = 2.4.
    np.testing.assert_allclose(head.get_weights()[0], [[3.0 - 2.4]], rtol=1e-6)
    np.testing.assert_array_equal(body.get_weights()[0], [[2.0]])
    w_b, w_h = 2.0, 0.6
    model.fit(x, y, epochs=2, initial_epoch=1, verbose=0, callbacks=[callback])
    grad_b = 2 * (w_b * w_h) * w_h
    np.testing.assert_allclose(body.get_weights()[0], [[w_b - 0.1 * grad_b]], rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match="every_n_epochs.*>= 1.*0"):
        GradualUnfreezing(every_n_epochs=0)
    with pytest.raises(ValueError, match="layers_per_step.*2.5"):
        GradualUnfreezing(layers_per_step=2.5)
    with pytest.raises(ValueError, match="list of layer-name patterns"):
        GradualUnfreezing(blocks="block5*")
    model = _model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"'blockX\*' matches no.*block3_a"):
        model.fit(
            *_data(),
            epochs=1,
            verbose=0,
            callbacks=[GradualUnfreezing(blocks=["blockX*"])],
        )
    with pytest.raises(ValueError, match="no layer named 'body'.*backbone"):
        model.fit(
            *_data(), epochs=1, verbose=0, callbacks=[GradualUnfreezing(layer="body")]
        )


@pytest.mark.requires_tensorflow(
    reason="on JAX the optimizer is rebuilt at each step, its state carried over"
)
def test_an_optimizer_that_stepped_on_fewer_variables_is_refused():
    model = _model()
    model.compile(optimizer="adam", loss="mse")
    model.fit(*_data(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="already taken steps"):
        model.fit(*_data(), epochs=1, verbose=0, callbacks=[GradualUnfreezing()])


def test_config_round_trip():
    callback = GradualUnfreezing(every_n_epochs=3, blocks=["b5*"], layer="backbone")
    revived = GradualUnfreezing.from_config(callback.get_config())
    assert revived.get_config() == callback.get_config()


def test_docstring_examples():
    result = doctest.testmod(gradual_unfreezing)
    assert result.attempted > 0 and result.failed == 0
