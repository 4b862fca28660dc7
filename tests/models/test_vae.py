import os

import keras
import numpy as np
import pytest

from keras_apps.callbacks import KLAnnealing
from keras_apps.models import VAE
from keras_apps.models.vae import gaussian_kl_divergence
from keras_apps.testing.test_case import assert_all_close, run_serialization_test


def _parts(dim=8, latent=2, seed=0, frozen_log_var=None):
    keras.utils.set_random_seed(seed)
    x_in = keras.Input((dim,), name="x")
    h = keras.layers.Dense(16, activation="relu")(x_in)
    z_mean = keras.layers.Dense(latent, name="z_mean")(h)
    log_var_layer = keras.layers.Dense(latent, name="z_log_var")
    z_log_var = log_var_layer(h)
    encoder = keras.Model(x_in, [z_mean, z_log_var], name="encoder")
    if frozen_log_var is not None:
        # A deterministic code: z = z_mean, so losses do not depend on noise.
        log_var_layer.kernel.assign(np.zeros(log_var_layer.kernel.shape))
        log_var_layer.bias.assign(np.full((latent,), frozen_log_var))
        log_var_layer.trainable = False
    decoder = keras.Sequential(
        [
            keras.Input((latent,), name="z"),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(dim, activation="sigmoid", name="image"),
        ],
        name="decoder",
    )
    return encoder, decoder


def _data(n=64, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.random((n, dim)) > 0.5).astype("float32")


def test_kl_closed_form():
    rng = np.random.default_rng(0)
    mean = rng.standard_normal((4, 3)).astype("float32")
    log_var = rng.standard_normal((4, 3)).astype("float32")
    expected = 0.5 * np.sum(np.exp(log_var) + mean**2 - 1.0 - log_var, axis=1)
    assert_all_close(gaussian_kl_divergence(mean, log_var), expected, atol=1e-5)
    assert_all_close(
        gaussian_kl_divergence(np.zeros((2, 5)), np.zeros((2, 5))), np.zeros(2)
    )
    # Monte Carlo check of KL(N(m, s^2) || N(0, 1)) in one dimension.
    m, s = 0.7, 0.5
    z = rng.normal(m, s, 400_000)
    log_q = -0.5 * ((z - m) / s) ** 2 - np.log(s)
    log_p = -0.5 * z**2
    closed = float(gaussian_kl_divergence([[m]], [[2 * np.log(s)]])[0])
    assert closed == pytest.approx(np.mean(log_q - log_p), abs=5e-3)


@pytest.mark.parametrize("reconstruction", ["bernoulli", "gaussian"])
def test_losses_equal_numpy_references(reconstruction):
    encoder, decoder = _parts(frozen_log_var=-30.0)
    vae = VAE(encoder, decoder, beta=0.5, reconstruction=reconstruction, sigma=0.5)
    vae.compile(optimizer="sgd")
    x = _data(16)
    mean, log_var = (np.asarray(t) for t in encoder(x))
    p = np.clip(np.asarray(decoder(mean)), 1e-7, 1 - 1e-7)
    if reconstruction == "bernoulli":
        rec = -np.sum(x * np.log(p) + (1 - x) * np.log(1 - p), axis=1).mean()
    else:
        rec = (0.5 * np.sum(((x - p) / 0.5) ** 2, axis=1)).mean()
    kl = (0.5 * np.sum(np.exp(log_var) + mean**2 - 1 - log_var, axis=1)).mean()
    logs = vae.evaluate(x, batch_size=16, verbose=0, return_dict=True)
    assert logs["reconstruction_loss"] == pytest.approx(rec, rel=1e-4)
    assert logs["kl_loss"] == pytest.approx(kl, rel=1e-4)
    assert logs["loss"] == pytest.approx(rec + 0.5 * kl, rel=1e-4)


def test_fit_trackers_validation_predict_and_sampling():
    vae = VAE(*_parts(), seed=1)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    x = _data()
    history = vae.fit(
        x, epochs=3, batch_size=16, validation_data=(x[:16],), verbose=0
    ).history
    assert set(history) == {
        "loss",
        "reconstruction_loss",
        "kl_loss",
        "val_loss",
        "val_reconstruction_loss",
        "val_kl_loss",
    }
    assert history["loss"][-1] < history["loss"][0]  # the ELBO rises
    for prefix in ("", "val_"):
        for epoch in range(3):
            total = (
                history[f"{prefix}reconstruction_loss"][epoch]
                + (history[f"{prefix}kl_loss"][epoch])
            )
            assert history[f"{prefix}loss"][epoch] == pytest.approx(total, rel=1e-4)
    assert vae.predict(x, verbose=0).shape == x.shape
    z_mean, z_log_var = vae.encode(x)
    assert tuple(z_mean.shape) == tuple(z_log_var.shape) == (64, 2)
    assert tuple(vae.decode(z_mean).shape) == x.shape
    assert_all_close(vae.reconstruct(x), vae.decode(z_mean))
    assert_all_close(vae.sample(5, seed=3), vae.sample(5, seed=3))
    assert not np.allclose(vae.sample(5, seed=3), vae.sample(5, seed=4))
    assert vae.latent_shape == (2,)


@pytest.mark.slow
def test_beta_moves_the_balance():
    x = _data(128)
    results = {}
    for beta in (0.05, 5.0):
        vae = VAE(*_parts(seed=0), beta=beta, seed=0)
        vae.compile(optimizer=keras.optimizers.Adam(1e-2))
        vae.fit(x, epochs=8, batch_size=32, verbose=0)
        results[beta] = vae.evaluate(x, verbose=0, return_dict=True)
    assert results[5.0]["kl_loss"] < 0.5 * results[0.05]["kl_loss"], results
    assert results[5.0]["reconstruction_loss"] > results[0.05]["reconstruction_loss"]


def test_save_load_equal_outputs_and_resumed_fit_equals_uninterrupted(tmp_path):
    x = _data()

    def fresh():
        vae = VAE(*_parts(seed=0), seed=7, beta=0.8)
        vae.compile(optimizer=keras.optimizers.Adam(1e-2))
        return vae

    kwargs = dict(batch_size=16, shuffle=False, verbose=0)
    straight = fresh()
    two = straight.fit(x, epochs=2, **kwargs).history

    first = fresh()
    one = first.fit(x, epochs=1, **kwargs).history
    path = os.path.join(tmp_path, "vae.keras")
    first.save(path)
    with _no_skipped_optimizer_warning():
        loaded = keras.saving.load_model(path)
    assert type(loaded) is VAE and loaded.beta == pytest.approx(0.8)
    assert int(loaded.optimizer.iterations.numpy()) == 4
    # Equal outputs: deterministic parts, and the sampled call too, since the
    # noise generator's state is saved.
    assert_all_close(loaded.reconstruct(x), first.reconstruct(x))
    assert_all_close(loaded.sample(3, seed=2), first.sample(3, seed=2))
    reference = keras.saving.load_model(path)
    assert_all_close(loaded(x), reference(x))
    resumed = keras.saving.load_model(path).fit(x, epochs=1, **kwargs).history
    for key in ("loss", "reconstruction_loss", "kl_loss"):
        assert [one[key][0], resumed[key][0]] == pytest.approx(two[key], rel=1e-5)
    final = keras.saving.load_model(path)
    final.fit(x, epochs=1, **kwargs)
    for a, b in zip(final.weights, straight.weights, strict=True):
        assert_all_close(a, b, atol=1e-5, what=a.path)


class _no_skipped_optimizer_warning:
    def __enter__(self):
        import warnings

        self._catcher = warnings.catch_warnings(record=True)
        self._records = self._catcher.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._catcher.__exit__(*exc)
        messages = [str(w.message) for w in self._records]
        assert not [m for m in messages if "Skipping variable loading" in m], messages
        assert not [m for m in messages if "compile()` was not called" in m], messages
        return False


def test_serialization_round_trip():
    vae = VAE(*_parts(), beta=2.0, reconstruction="gaussian", sigma=0.3, seed=4)
    revived = run_serialization_test(vae)
    assert revived.beta == 2.0 and revived.sigma == 0.3


def test_kl_annealing_drives_beta_during_fit():
    vae = VAE(*_parts(), beta=1.0)
    vae.compile(optimizer="adam")
    x = _data(32)
    linear = KLAnnealing("linear", steps=4, start=0.0, stop=1.0, unit="batch")
    history = vae.fit(x, epochs=3, batch_size=16, callbacks=[linear], verbose=0)
    # Two batches per epoch: the last batch of each epoch is t = 1, 3, 5.
    assert history.history["beta"] == pytest.approx([0.25, 0.75, 1.0])
    assert vae.beta == pytest.approx(1.0)
    cyclical = KLAnnealing("cyclical", steps=2, ratio=0.5, stop=2.0, unit="epoch")
    history = vae.fit(x, epochs=4, batch_size=16, callbacks=[cyclical], verbose=0)
    assert history.history["beta"] == pytest.approx([0.0, 2.0, 0.0, 2.0])
    # The value reached the loss: with beta = 0 the loss is the reconstruction.
    vae.beta = 0.0
    logs = vae.evaluate(x, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"], rel=1e-5)


def test_kl_annealing_schedules_and_errors():
    linear = KLAnnealing("linear", steps=10, start=0.5, stop=1.5)
    assert [linear.beta_at(t) for t in (0, 5, 10, 20)] == [0.5, 1.0, 1.5, 1.5]
    cyclical = KLAnnealing("cyclical", steps=10, ratio=0.8)
    assert cyclical.beta_at(4) == pytest.approx(0.5)
    assert cyclical.beta_at(9) == cyclical.beta_at(8) == 1.0
    assert cyclical.beta_at(10) == 0.0
    assert KLAnnealing.from_config(cyclical.get_config()).get_config() == (
        cyclical.get_config()
    )
    for kwargs, match in [
        (dict(schedule="cosine"), "schedule='cosine'"),
        (dict(steps=0), "steps=0"),
        (dict(start=-1.0), "start=-1.0"),
        (dict(ratio=0.0), "ratio=0.0"),
        (dict(unit="step"), "unit='step'"),
    ]:
        with pytest.raises(ValueError, match=match):
            KLAnnealing(**kwargs)


def test_bad_arguments():
    encoder, decoder = _parts()
    for kwargs, match in [
        (dict(beta=-1.0), "beta=-1.0"),
        (dict(reconstruction="poisson"), "reconstruction='poisson'"),
        (dict(sigma=0.0), "sigma=0.0"),
        (dict(seed=1.5), "seed=1.5"),
    ]:
        with pytest.raises(ValueError, match=match):
            VAE(encoder, decoder, **kwargs)
    single = keras.Model(encoder.input, encoder.outputs[0])
    with pytest.raises(ValueError, match="two outputs of the same shape"):
        VAE(single, decoder)
    _, wide_decoder = _parts(latent=3)
    with pytest.raises(ValueError, match=r"z_mean has shape \(None, 2\)"):
        VAE(encoder, wide_decoder)
    long_decoder = keras.Sequential([keras.Input((2,)), keras.layers.Dense(9)])
    with pytest.raises(ValueError, match="decoder's output has shape"):
        VAE(encoder, long_decoder)
    vae = VAE(encoder, decoder)
    with pytest.raises(ValueError, match="computes its own loss"):
        vae.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="n=0"):
        vae.sample(0)
    with pytest.raises(ValueError, match="beta=-2"):
        vae.beta = -2


@pytest.mark.requires_tensorflow(reason="exports a TensorFlow SavedModel")
def test_decoder_exports_latent_to_images(tmp_path):
    import tensorflow as tf

    from keras_apps.export import export_for_serving

    vae = VAE(*_parts())
    result = export_for_serving(vae.decoder, tmp_path / "decoder")
    z = np.random.default_rng(0).standard_normal((3, 2)).astype("float32")
    served = tf.saved_model.load(result.path).signatures["serving_default"]
    outputs = served(tf.constant(z))
    (images,) = outputs.values()
    assert_all_close(images, vae.decode(z), atol=1e-5)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_mirrored_strategy_gives_the_single_device_losses(mirrored_strategy):
    # keras-team/keras#20164: a custom step under MirroredStrategy must scale
    # its loss by the replicas (else the summed gradients double) and its
    # trackers must average the replicas. Same global batch, same numbers.
    x = _data(64)

    def train(strategy):
        with strategy.scope():
            vae = VAE(*_parts(seed=0, frozen_log_var=-30.0), beta=0.5)
            vae.compile(optimizer=keras.optimizers.SGD(0.05))
        history = vae.fit(x, epochs=2, batch_size=32, shuffle=False, verbose=0).history
        logs = vae.evaluate(x, batch_size=32, verbose=0, return_dict=True)
        return history, logs, [np.asarray(w.numpy()) for w in vae.weights]

    import tensorflow as tf

    one_history, one_logs, one_weights = train(tf.distribute.get_strategy())
    two_history, two_logs, two_weights = train(mirrored_strategy)
    assert mirrored_strategy.num_replicas_in_sync == 2
    for key in ("loss", "reconstruction_loss", "kl_loss"):
        assert two_history[key] == pytest.approx(one_history[key], rel=1e-4), key
        assert two_logs[key] == pytest.approx(one_logs[key], rel=1e-4), key
    for a, b in zip(two_weights, one_weights, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
