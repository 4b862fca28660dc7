import keras
import numpy as np
import pytest

from keras_apps.models import (
    Autoencoder,
    DenoisingAutoencoder,
    conv_autoencoder,
    dense_autoencoder,
)
from keras_apps.testing.test_case import (
    assert_all_close,
    run_export_test,
    run_model_saving_test,
    run_serialization_test,
)
from keras_apps.transfer import build_classifier


def _images(n=32, shape=(8, 8, 1), seed=0):
    return np.random.default_rng(seed).random((n, *shape)).astype("float32")


@pytest.mark.parametrize(
    "builder, kwargs, code_shape",
    [
        (dense_autoencoder, dict(code_size=3), (None, 3)),
        (dense_autoencoder, dict(code_size=5, hidden_units=()), (None, 5)),
        (conv_autoencoder, dict(code_size=6, filters=(4, 8)), (None, 6)),
        (conv_autoencoder, dict(code_size=None, filters=(4,)), (None, 4, 4, 4)),
    ],
)
def test_builders_shapes(builder, kwargs, code_shape):
    model = builder((8, 8, 1), **kwargs)
    assert model.encoder.output_shape == code_shape
    assert model.decoder.output_shape == (None, 8, 8, 1)
    x = _images(2)
    assert tuple(model(x).shape) == x.shape
    assert model.compute_output_shape((None, 8, 8, 1)) == (None, 8, 8, 1)


def test_fit_without_targets_reconstructs_the_inputs():
    model = conv_autoencoder((8, 8, 1), code_size=6, filters=(4, 8))
    x = _images()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    history = model.fit(x, epochs=4, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    prediction = model.predict(x, verbose=0)
    direct = float(np.mean((prediction - x) ** 2))
    assert model.evaluate(x, verbose=0) == pytest.approx(direct, rel=1e-4)
    # With targets, the loss compares with the targets instead.
    zeros = np.zeros_like(x)
    to_zeros = float(np.mean(prediction**2))
    assert model.evaluate(x, zeros, verbose=0) == pytest.approx(to_zeros, rel=1e-4)


def test_sparsity_penalties_enter_the_loss():
    x = _images(8, (4,))
    base = dense_autoencoder(
        (4,), code_size=3, hidden_units=(), code_activation="sigmoid"
    )
    reconstruction = float(np.mean((np.asarray(base(x)) - x) ** 2))
    code = np.asarray(base.encoder(x))
    for sparsity, penalty in [
        ("l1", np.abs(code).sum(axis=1).mean()),
        (
            "kl",
            np.sum(
                0.1 * np.log(0.1 / code.mean(0))
                + 0.9 * np.log(0.9 / (1 - code.mean(0)))
            ),
        ),
    ]:
        model = Autoencoder(
            base.encoder,
            base.decoder,
            sparsity=sparsity,
            sparsity_weight=0.5,
            sparsity_target=0.1,
        )
        model.compile(loss="mse")
        loss = model.evaluate(x, verbose=0)
        assert loss == pytest.approx(reconstruction + 0.5 * penalty, rel=1e-4)


@pytest.mark.parametrize("noise", ["gaussian", "salt_and_pepper", "masking"])
def test_denoising_noise_only_in_training(noise):
    ae = dense_autoencoder((8, 8, 1), code_size=4)
    dae = DenoisingAutoencoder(ae.encoder, ae.decoder, noise=noise, noise_level=0.4)
    x = _images(4)
    clean = np.asarray(ae(x))
    assert_all_close(dae(x), clean)
    assert_all_close(dae(x, training=False), clean)
    assert_all_close(dae.predict(x, verbose=0), clean, atol=1e-6)
    trained_a = np.asarray(dae(x, training=True))
    trained_b = np.asarray(dae(x, training=True))
    assert not np.allclose(trained_a, clean)
    assert not np.allclose(trained_a, trained_b)  # fresh noise per call


def test_noise_statistics_and_seed():
    ae = dense_autoencoder((32, 32, 1), code_size=2)
    x = np.full((4, 32, 32, 1), 0.5, dtype="float32")

    def dae(noise, seed=3):
        return DenoisingAutoencoder(
            ae.encoder, ae.decoder, noise=noise, noise_level=0.2, seed=seed
        )

    gaussian = np.asarray(dae("gaussian").corrupt(x)) - 0.5
    assert abs(gaussian.std() - 0.2) < 0.01 and abs(gaussian.mean()) < 0.01
    salt = np.asarray(dae("salt_and_pepper").corrupt(x))
    assert abs((salt == 0).mean() - 0.1) < 0.02
    assert abs((salt == 1).mean() - 0.1) < 0.02
    assert abs((salt == 0.5).mean() - 0.8) < 0.03
    masked = np.asarray(dae("masking").corrupt(x))
    assert abs((masked == 0).mean() - 0.2) < 0.02
    assert set(np.unique(masked)) == {0.0, 0.5}
    # Same seed, same noise; different seeds, different noise.
    assert_all_close(dae("masking").corrupt(x), dae("masking").corrupt(x))
    assert not np.array_equal(
        np.asarray(dae("masking", 1).corrupt(x)),
        np.asarray(dae("masking", 2).corrupt(x)),
    )
    clipped = np.asarray(
        DenoisingAutoencoder(ae.encoder, ae.decoder, noise_level=5.0).corrupt(x)
    )
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_denoising_training_denoises():
    rng = np.random.default_rng(0)
    # Images that live on a 2-D subspace: smooth bumps.
    grid = np.linspace(0, 1, 8)
    centres = rng.random((256, 2))
    x = np.exp(
        -((grid[None, :, None] - centres[:, 0, None, None]) ** 2)
        - (grid[None, None, :] - centres[:, 1, None, None]) ** 2
    )[..., None].astype("float32")
    dae = dense_autoencoder(
        (8, 8, 1), code_size=4, hidden_units=(32,), noise="gaussian", noise_level=0.2
    )
    assert isinstance(dae, DenoisingAutoencoder)
    dae.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    dae.fit(x, epochs=12, batch_size=32, verbose=0)
    noisy = np.asarray(dae.corrupt(x))
    denoised = dae.predict(noisy, verbose=0)
    assert np.mean((denoised - x) ** 2) < 0.5 * np.mean((noisy - x) ** 2)


def test_encoder_drops_into_build_classifier_and_fine_tunes():
    ae = conv_autoencoder((8, 8, 1), code_size=6, filters=(4, 8))
    x = _images(32)
    y = (x.mean(axis=(1, 2, 3)) > 0.5).astype("int32")
    classifier = build_classifier(
        ae.encoder, num_classes=2, train_backbone=True, dropout=0.0
    )
    classifier.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    kernel = ae.encoder.get_layer("encoder_conv_0").kernel
    before = np.array(kernel.numpy())
    classifier.fit(x, y, epochs=1, verbose=0)
    assert not np.array_equal(before, kernel.numpy())  # the shared encoder trained
    assert classifier.output_shape == (None, 2)


@pytest.mark.parametrize(
    "make",
    [
        lambda: dense_autoencoder((8, 8, 1), code_size=3, sparsity="l1"),
        lambda: conv_autoencoder((8, 8, 1), code_size=None, filters=(4,)),
        lambda: conv_autoencoder(
            (8, 8, 1), code_size=3, filters=(4,), noise="masking", seed=2
        ),
    ],
)
def test_serialization_and_keras_round_trip(make, tmp_path):
    model = make()
    revived = run_serialization_test(model)
    assert type(revived) is type(model)
    x = _images(4)
    loaded = run_model_saving_test(model, x, directory=str(tmp_path))
    assert type(loaded) is type(model)
    nested = ("encoder", "decoder")
    own = {k: v for k, v in model.get_config().items() if k not in nested}
    assert {k: v for k, v in loaded.get_config().items() if k not in nested} == own


def test_dtype_policy_reaches_the_layers_and_the_config():
    model = dense_autoencoder((4,), code_size=2, dtype="float16")
    layers = model.encoder.layers[1:] + model.decoder.layers[1:]
    assert all(layer.dtype_policy.name == "float16" for layer in layers)
    assert model(np.ones((1, 4))).dtype == "float16"
    assert model.get_config()["dtype"]["config"]["name"] == "float16"
    assert type(Autoencoder.from_config(model.get_config())) is Autoencoder


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_export(tmp_path):
    model = conv_autoencoder((8, 8, 1), code_size=3, filters=(4,), noise="gaussian")
    model(_images(2))  # Keras exports a subclassed model once it was called
    run_export_test(model, _images(2), directory=str(tmp_path))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: dense_autoencoder((4,), code_size=0), "code_size=0"),
        (lambda: conv_autoencoder((8, 8, 1), code_size=-1), "code_size=-1"),
        (lambda: dense_autoencoder((4,), 2, hidden_units=(0,)), "hidden_units"),
        (lambda: conv_autoencoder((6, 6, 1), 2, filters=(4, 4)), "divisible by 4"),
        (lambda: conv_autoencoder((8, 8), 2), "input_shape"),
        (lambda: conv_autoencoder((8, 8, 1), 2, filters=()), "filters"),
        (lambda: dense_autoencoder((4,), 2, sparsity="l2"), "sparsity='l2'"),
        (lambda: dense_autoencoder((4,), 2, sparsity_weight=0), "sparsity_weight=0"),
        (lambda: dense_autoencoder((4,), 2, sparsity_target=1.5), "sparsity_target"),
        (lambda: dense_autoencoder((4,), 2, noise="pink"), "noise='pink'"),
        (
            lambda: dense_autoencoder((4,), 2, noise="masking", noise_level=2.0),
            "noise_level=2.0",
        ),
        (lambda: dense_autoencoder((4,), 2, noise="gaussian", seed="x"), "seed='x'"),
        (
            lambda: dense_autoencoder((4,), 2, noise="gaussian", value_range=(1, 0)),
            "value_range",
        ),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_encoder_and_decoder_that_do_not_fit():
    a = dense_autoencoder((8,), code_size=3)
    b = dense_autoencoder((8,), code_size=4)
    c = dense_autoencoder((6,), code_size=3)
    with pytest.raises(ValueError, match=r"code\) has shape \(None, 3\).*\(None, 4\)"):
        Autoencoder(a.encoder, b.decoder)
    with pytest.raises(ValueError, match=r"decoder's output has shape \(None, 6\)"):
        Autoencoder(a.encoder, c.decoder)
    with pytest.raises(ValueError, match="must be a built Keras model"):
        Autoencoder(keras.layers.Dense(3), a.decoder)
