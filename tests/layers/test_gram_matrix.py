import keras
import numpy as np
import pytest

from keras_apps import testing
from keras_apps.layers.gram_matrix import GramMatrix

OPTIONS = [None, "none", "hw", "hwc", "2hwc"]


def numpy_gram(features, normalize):
    """Gram matrices by an explicit per-image loop: F F^T times the factor."""
    batch, height, width, channels = features.shape
    grams = []
    for image in features.astype("float64"):
        matrix = image.reshape(height * width, channels).T  # (N=C, M=HW)
        grams.append(matrix @ matrix.T)
    gram = np.stack(grams)
    factor = {
        None: 1.0,
        "none": 1.0,
        "hw": 1.0 / (height * width),
        "hwc": 1.0 / (height * width * channels),
        "2hwc": 1.0 / (2 * height * width * channels),
    }[normalize]
    return gram * factor


@pytest.mark.parametrize("normalize", OPTIONS)
@pytest.mark.parametrize("shape", [(None, 1, 1, 1), (None, 3, 5, 4), (None, 8, 8, 16)])
def test_behaviour_on_tiny_shapes(shape, normalize):
    out = testing.run_layer_test(
        GramMatrix,
        {"normalize": normalize},
        input_shape=shape,
        expected_output_shape=(2, shape[-1], shape[-1]),
        expected_output=numpy_gram(testing.random_inputs(shape), normalize),
        expected_output_atol=1e-5,
        expected_output_rtol=1e-5,
        expected_num_seed_generators=0,
        expected_num_losses=0,
        expected_num_trainable_weights=0,
        expected_num_non_trainable_weights=0,
    )
    out = np.asarray(out)
    np.testing.assert_allclose(out, np.swapaxes(out, 1, 2), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("normalize", OPTIONS)
def test_matches_numpy_reference(normalize):
    features = testing.random_inputs((3, 6, 5, 7), seed=1)
    got = GramMatrix(normalize=normalize)(features)
    testing.assert_all_close(got, numpy_gram(features, normalize), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("normalize", OPTIONS)
def test_unknown_height_and_width_are_read_at_call_time(normalize):
    inputs = keras.Input(shape=(None, None, 3))
    model = keras.Model(inputs, GramMatrix(normalize=normalize)(inputs))
    assert model.output.shape == (None, 3, 3)
    for height, width in [(4, 6), (9, 2)]:
        features = testing.random_inputs((2, height, width, 3), seed=height)
        got = model.predict(features, verbose=0)
        np.testing.assert_allclose(
            got, numpy_gram(features, normalize), rtol=1e-5, atol=1e-5
        )


def test_2hwc_folds_the_gatys_style_loss_factor():
    generated = testing.random_inputs((1, 6, 4, 5), seed=2)
    style = testing.random_inputs((1, 6, 4, 5), seed=3)
    n_filters, m_positions = 5, 6 * 4
    gatys = np.sum((numpy_gram(generated, None) - numpy_gram(style, None)) ** 2) / (
        4 * n_filters**2 * m_positions**2
    )
    layer = GramMatrix(normalize="2hwc")
    folded = np.sum((np.asarray(layer(generated)) - np.asarray(layer(style))) ** 2)
    np.testing.assert_allclose(folded, gatys, rtol=1e-5)


def test_constant_features_give_known_values():
    features = np.full((1, 4, 2, 3), 2.0, dtype="float32")  # every product is 4
    expected = {None: 32.0, "hw": 4.0, "hwc": 4.0 / 3, "2hwc": 4.0 / 6}
    for normalize, value in expected.items():
        got = np.asarray(GramMatrix(normalize=normalize)(features))
        np.testing.assert_allclose(got, np.full((1, 3, 3), value), rtol=1e-6)


def test_float16_sums_in_float32_without_overflow():
    # 32 * 32 positions of 10 * 10 sum to 102400, beyond float16's 65504.
    features = np.full((1, 32, 32, 2), 10.0, dtype="float16")
    layer = GramMatrix(normalize="hw", dtype="mixed_float16")
    got = layer(features)
    assert keras.backend.standardize_dtype(got.dtype) == "float16"
    np.testing.assert_allclose(np.asarray(got, "float32"), 100.0, rtol=1e-3)


@pytest.mark.parametrize("normalize", ["HW", "mean", "", 1, True])
def test_rejects_unknown_normalization(normalize):
    with pytest.raises(ValueError, match=r"normalize.*Received: normalize="):
        GramMatrix(normalize=normalize)


@pytest.mark.parametrize("shape", [(2, 8, 3), (2, 4, 4, 4, 3), (2, 3)])
def test_rejects_inputs_that_are_not_rank_4(shape):
    # The layer's InputSpec: Keras names the layer, the rank and the shape.
    keras_message = rf"'gram_matrix'.*expected ndim=4, found ndim={len(shape)}"
    with pytest.raises(ValueError, match=keras_message):
        GramMatrix(name="gram_matrix")(np.zeros(shape, "float32"))
    with pytest.raises(ValueError, match=keras_message):
        GramMatrix(name="gram_matrix")(keras.Input(shape=shape[1:]))
    with pytest.raises(ValueError, match=r"rank 4.*Received: input_shape="):
        GramMatrix().compute_output_shape(shape)


def _model(normalize="2hwc"):
    inputs = keras.Input(shape=(6, 6, 3))
    features = keras.layers.Conv2D(4, 3, padding="same")(inputs)
    return keras.Model(inputs, GramMatrix(normalize=normalize)(features))


def test_keras_file_save_and_load_give_equal_outputs(tmp_path):
    model = _model()
    loaded = testing.run_model_saving_test(
        model, testing.random_inputs((2, 6, 6, 3)), directory=str(tmp_path)
    )
    assert isinstance(loaded.layers[-1], GramMatrix)
    assert loaded.layers[-1].normalize == "2hwc"


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_savedmodel_export_gives_equal_outputs(tmp_path):
    testing.run_export_test(
        _model("hw"), testing.random_inputs((2, 6, 6, 3)), directory=str(tmp_path)
    )
