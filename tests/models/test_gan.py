"""GAN, ConditionalGAN and WGANGP: construction, the two train steps, saving, resume.

The train steps are TensorFlow-first (tf.GradientTape, tf.distribute); their
tests carry the requires_tensorflow marker. Construction, configs,
generation and .keras files are backend-free.
"""

import json

import keras
import numpy as np
import pytest

from keras_apps.models import (
    GAN,
    WGANGP,
    ConditionalGAN,
    dcgan_discriminator,
    dcgan_generator,
)
from keras_apps.testing.test_case import run_serialization_test

LATENT = 4
TF_STEP = "the GAN train steps are TensorFlow-first (tf.GradientTape)"


def _pair(num_classes=None, g_norm="batch", d_norm="batch", image_size=16):
    generator = dcgan_generator(
        LATENT, image_size, 1, base_filters=4, num_classes=num_classes, norm=g_norm
    )
    discriminator = dcgan_discriminator(
        image_size, 1, base_filters=4, num_classes=num_classes, norm=d_norm
    )
    return generator, discriminator


def _gan(**kwargs):
    g_norm = kwargs.pop("g_norm", "batch")
    d_norm = kwargs.pop("d_norm", "batch")
    kwargs.setdefault("seed", 7)
    return GAN(*_pair(g_norm=g_norm, d_norm=d_norm), LATENT, **kwargs)


def _images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 16, 16, 1)).astype("float32")


def _json(config):
    return json.loads(json.dumps(config))


def _numpy(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


def _changed(before, after):
    return [not np.array_equal(b, a) for b, a in zip(before, after, strict=True)]


# ------------------------------------------------------------ construction
def test_bad_arguments_raise_at_construction():
    g, d = _pair()
    g28, d28 = _pair(image_size=28)
    cg, cd = _pair(num_classes=3, d_norm=None)
    cases = [
        (lambda: GAN(g, d, 0), "latent_dim=0"),
        (lambda: GAN(g, d, -2), "latent_dim=-2"),
        (lambda: GAN(g, d, 5), r"latent input.*\(None, 5\)"),
        (lambda: GAN(g, d28, LATENT), r"must fit.*\(None, 28, 28, 1\)"),
        (lambda: GAN(g28, d, LATENT), r"must fit.*\(None, 28, 28, 1\)"),
        (lambda: GAN(g, d, LATENT, noise="cauchy"), "noise='cauchy'"),
        (lambda: GAN(g, d, LATENT, d_steps=0), "d_steps=0"),
        (lambda: GAN(g, d, LATENT, label_smoothing=1.0), "label_smoothing=1.0"),
        (lambda: GAN(g, d, LATENT, instance_noise=-0.1), "instance_noise=-0.1"),
        (
            lambda: GAN(g, d, LATENT, discriminator_batches="both"),
            "discriminator_batches='both'",
        ),
        (lambda: GAN("generator", d, LATENT), "`generator` must be a built"),
        (lambda: GAN(cg, cd, LATENT), r"inputs latents\. Received a generator with 2"),
        (lambda: ConditionalGAN(g, d, LATENT, 3), r"\[latents, labels\]"),
        (lambda: ConditionalGAN(cg, cd, LATENT, 0), "num_classes=0"),
        (lambda: WGANGP(g, _pair(d_norm=None)[1], LATENT, n_critic=0), "n_critic=0"),
        (lambda: WGANGP(g, d, LATENT), "BatchNormalization layers"),
        (lambda: WGANGP(g, _pair(d_norm=None)[1], LATENT, epsilon=0.0), "epsilon"),
        (lambda: WGANGP(g, _pair(d_norm=None)[1], LATENT, gp_weight=-1), "gp_weight"),
    ]
    for make, match in cases:
        with pytest.raises(ValueError, match=match):
            make()
    gan = GAN(g, d, LATENT)
    adam = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="two optimizer objects"):
        gan.compile(d_optimizer=adam, g_optimizer=adam)
    with pytest.raises(ValueError, match="not 'optimizer'"):
        gan.compile(optimizer="adam")
    wgan = WGANGP(g, _pair(d_norm=None)[1], LATENT)
    with pytest.raises(ValueError, match="loss_fn` must be None"):
        wgan.compile(loss_fn="mse")


def test_configs_round_trip():
    gan = run_serialization_test(
        _gan(
            noise="uniform",
            d_steps=2,
            label_smoothing=0.1,
            instance_noise=0.05,
            discriminator_batches="joint",
        )
    )
    assert (gan.noise, gan.d_steps, gan.label_smoothing) == ("uniform", 2, 0.1)
    assert gan.discriminator_batches == "joint" and gan.joint_discriminator_batch
    cgan = run_serialization_test(
        ConditionalGAN(*_pair(num_classes=3), LATENT, 3, seed=1)
    )
    assert cgan.num_classes == 3
    wgan = run_serialization_test(
        WGANGP(*_pair(d_norm=None), LATENT, n_critic=3, gp_weight=5.0, seed=2)
    )
    assert (wgan.n_critic, wgan.d_steps, wgan.gp_weight) == (3, 3, 5.0)


def test_generate_is_seeded_and_backend_free():
    gan = _gan(noise="uniform")
    first, again = gan.generate(5, seed=3), gan.generate(5, seed=3)
    assert first.shape == (5, 16, 16, 1) and isinstance(first, np.ndarray)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, gan.generate(5, seed=4))
    latents = keras.ops.convert_to_numpy(gan.sample_latents(2000, seed=0))
    assert latents.shape == (2000, LATENT)
    assert -1 <= latents.min() < -0.99 and 0.99 < latents.max() <= 1
    normal = keras.ops.convert_to_numpy(_gan().sample_latents(4000, seed=0))
    assert abs(normal.std() - 1.0) < 0.05 and normal.min() < -2.5
    with pytest.raises(ValueError, match="n=0"):
        gan.generate(0)

    cgan = ConditionalGAN(*_pair(num_classes=3), LATENT, 3)
    images = cgan.generate([0, 1, 2, 2], seed=0)
    assert images.shape == (4, 16, 16, 1)
    np.testing.assert_array_equal(images, cgan.generate([0, 1, 2, 2], seed=0))
    for bad in ([0, 3], [-1], [[0, 1]], [0.5], []):
        with pytest.raises(ValueError, match=r"class labels in \[0, 3\)"):
            cgan.generate(bad)


def test_keras_file_keeps_both_optimizers(tmp_path):
    for model in (
        _gan(label_smoothing=0.1),
        WGANGP(*_pair(d_norm=None), LATENT, n_critic=2, seed=1),
        ConditionalGAN(*_pair(num_classes=3), LATENT, 3, seed=1),
    ):
        model.compile(
            d_optimizer=keras.optimizers.Adam(3e-4, beta_1=0.4),
            g_optimizer=keras.optimizers.RMSprop(1e-3),
        )
        path = str(tmp_path / f"{model.name}.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert type(loaded) is type(model)
        assert _json(loaded.get_config()) == _json(model.get_config())
        for name in ("d_optimizer", "g_optimizer"):
            ours, theirs = getattr(model, name), getattr(loaded, name)
            assert type(theirs) is type(ours)
            assert theirs.get_config() == ours.get_config()
            assert len(theirs.variables) == len(ours.variables) > 1
        labels = [0, 2] if model.num_classes else None
        if labels:
            np.testing.assert_allclose(
                loaded.generate(labels, seed=5), model.generate(labels, seed=5)
            )
        else:
            np.testing.assert_allclose(loaded.generate(2, seed=5), model.generate(2, 5))


# ------------------------------------------------------ the two train steps
@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_each_step_changes_only_its_own_network():
    gan = _gan(instance_noise=0.1)  # batch norm in both networks
    gan.compile()
    real = _images(8)
    g_vars, d_vars = gan.generator.variables, gan.discriminator.variables
    g_before, d_before = _numpy(g_vars), _numpy(d_vars)

    result = gan.discriminator_step(real)
    assert np.isfinite(float(result["d_loss"]))
    assert not any(_changed(g_before, _numpy(g_vars))), "D step changed G"
    d_changed = _changed(d_before, _numpy(d_vars))
    trainable = {id(v) for v in gan.discriminator.trainable_variables}
    assert all(c for v, c in zip(d_vars, d_changed, strict=True) if id(v) in trainable)
    assert any(  # its batch-norm statistics moved too
        c for v, c in zip(d_vars, d_changed, strict=True) if "moving" in v.path
    )

    d_after = _numpy(d_vars)
    result = gan.generator_step(8)
    assert np.isfinite(float(result["g_loss"]))
    assert not any(_changed(d_after, _numpy(d_vars))), "G step changed D"
    g_changed = _changed(g_before, _numpy(g_vars))
    trainable = {id(v) for v in gan.generator.trainable_variables}
    assert all(c for v, c in zip(g_vars, g_changed, strict=True) if id(v) in trainable)
    assert int(gan.d_optimizer.iterations) == 1
    assert int(gan.g_optimizer.iterations) == 1


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_generator_step_raises_the_discriminators_score_on_its_images():
    gan = _gan(g_norm=None, d_norm=None)
    gan.compile(
        d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.05)
    )
    latents = keras.ops.convert_to_numpy(gan.sample_latents(64, seed=0))

    def score():
        images = gan.generator(latents, training=False)
        return float(keras.ops.mean(gan.discriminator(images, training=False)))

    for _ in range(3):
        before = score()
        gan.generator_step(64, latents=latents)
        assert score() > before
    # And the discriminator step lowers it (it learns to call them fake).
    before = score()
    gan.discriminator_step(_images(64), latents=latents)
    assert score() < before


def test_discriminator_batches_auto_joins_only_sample_independent_networks():
    assert not _gan().joint_discriminator_batch  # batch norm: two calls
    assert _gan(d_norm=None).joint_discriminator_batch
    assert _gan(d_norm="layer").joint_discriminator_batch  # per sample
    assert not _gan(
        d_norm=None, discriminator_batches="separate"
    ).joint_discriminator_batch
    assert _gan(discriminator_batches="joint").joint_discriminator_batch
    g, d = _pair(d_norm=None)
    d.get_layer("logits").activity_regularizer = keras.regularizers.L2(0.1)
    assert not GAN(g, d, LATENT).joint_discriminator_batch  # divided by the batch


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_joint_and_separate_discriminator_batches_agree():
    real = _images(8)
    latents = np.random.default_rng(1).normal(size=(8, LATENT)).astype("float32")
    runs = {}
    for batches in ("joint", "separate"):
        keras.utils.set_random_seed(0)
        gan = _gan(d_norm="layer", label_smoothing=0.1, discriminator_batches=batches)
        gan.compile(d_optimizer=keras.optimizers.SGD(0.5))
        result = gan.discriminator_step(real, latents=latents)
        runs[batches] = (result, _numpy(gan.discriminator.trainable_variables))
    (joint, joint_weights), (separate, separate_weights) = runs.values()
    for key in ("d_loss", "real_logits", "fake_logits"):
        np.testing.assert_allclose(joint[key], separate[key], rtol=1e-5, atol=1e-6)
    for a, b in zip(joint_weights, separate_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_fit_reports_trackers_and_resumes_from_a_keras_file(tmp_path):
    gan = _gan(d_steps=2, label_smoothing=0.1, instance_noise=0.1)
    gan.compile()  # one trace: the compiled step with every option
    history = gan.fit(_images(8), batch_size=8, shuffle=False, verbose=0)
    assert sorted(history.history) == [
        "d_loss",
        "fake_accuracy",
        "g_loss",
        "real_accuracy",
    ]
    for key, values in history.history.items():
        assert len(values) == 1 and np.isfinite(values[0]), key
        if key.endswith("accuracy"):
            assert 0.0 <= values[0] <= 1.0, key
    assert int(gan.g_optimizer.iterations) == 1  # 1 batch
    assert int(gan.d_optimizer.iterations) == 2  # 2 discriminator steps

    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert int(loaded.d_optimizer.iterations) == 2
    loaded.run_eagerly = True  # the compiled and the eager step agree too
    for model in (gan, loaded):
        model.fit(_images(8, seed=1), batch_size=8, shuffle=False, verbose=0)
    # Same weights, optimizer moments and latent stream: the same next epoch.
    for a, b in zip(_numpy(gan.variables), _numpy(loaded.variables), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_accuracy_trackers_count_real_called_real_and_fake_called_fake():
    real = np.array([[2.0], [-1.0], [0.5], [3.0]], "float32")
    fake = np.array([[-2.0], [1.0], [-0.1], [0.2]], "float32")
    for loss_fn, threshold in (
        (None, 0.0),  # logits
        (keras.losses.BinaryCrossentropy(), 0.5),  # probabilities
    ):
        gan = _gan(d_norm=None)
        gan.compile(loss_fn=loss_fn)
        gan._update_discriminator_trackers(
            {"d_loss": 1.5, "real_logits": real, "fake_logits": fake}
        )
        gan._update_discriminator_trackers(
            {"d_loss": 0.5, "real_logits": real[:2], "fake_logits": fake[:2]}
        )
        results = {m.name: float(m.result()) for m in gan.metrics}
        seen_real = np.concatenate([real, real[:2]])
        seen_fake = np.concatenate([fake, fake[:2]])
        assert results["real_accuracy"] == pytest.approx(np.mean(seen_real > threshold))
        assert results["fake_accuracy"] == pytest.approx(np.mean(seen_fake < threshold))
        assert results["d_loss"] == pytest.approx(1.0)
    # The two thresholds give different counts on these scores.
    assert np.mean(real > 0.0) != np.mean(real > 0.5)


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_instance_noise_has_the_requested_deviation():
    import tensorflow as tf

    gan = _gan(instance_noise=0.3)
    images = tf.zeros((64, 16, 16, 1))
    noisy = gan._with_instance_noise(images).numpy()
    assert abs(noisy.std() - 0.3) < 0.01 and abs(noisy.mean()) < 0.01


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_conditional_gan_fits_on_images_and_labels():
    cgan = ConditionalGAN(*_pair(num_classes=3, d_norm=None), LATENT, 3, seed=0)
    cgan.compile(run_eagerly=True)
    labels = np.arange(6) % 3
    history = cgan.fit(_images(6), labels, batch_size=6, epochs=1, verbose=0)
    assert set(history.history) == {
        "d_loss",
        "g_loss",
        "real_accuracy",
        "fake_accuracy",
    }
    with pytest.raises(ValueError, match="needs images and their labels"):
        cgan.fit(_images(6), batch_size=6, epochs=1, verbose=0)


# ------------------------------------------------------------------ resume
def _fit_copy(epochs=1, **fit_kwargs):
    keras.utils.set_random_seed(11)
    gan = _gan(label_smoothing=0.1, instance_noise=0.05)
    gan.compile(run_eagerly=True)  # four steps: cheaper than three traces
    gan.fit(
        _images(8), batch_size=8, epochs=epochs, shuffle=False, verbose=0, **fit_kwargs
    )
    return gan


class _Interrupt(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise RuntimeError("interrupted")


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_backup_and_restore_resumes_to_the_same_weights(tmp_path):
    straight = _fit_copy(epochs=2)

    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError, match="interrupted"):
        _fit_copy(
            epochs=2,
            callbacks=[keras.callbacks.BackupAndRestore(backup), _Interrupt()],
        )
    # A fresh process would build a fresh model: different initial weights.
    keras.utils.set_random_seed(99)
    resumed = _gan(label_smoothing=0.1, instance_noise=0.05)
    resumed.compile(run_eagerly=True)
    resumed.fit(
        _images(8),
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[keras.callbacks.BackupAndRestore(backup)],
    )
    assert int(resumed.g_optimizer.iterations) == 2
    for a, b in zip(_numpy(straight.variables), _numpy(resumed.variables), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


# ------------------------------------------------------------ distribution
def _latent_free_generator():
    """G(z) does not depend on z (a frozen zero kernel): every run is deterministic."""
    latents = keras.Input((LATENT,), name="latents")
    x = keras.layers.Dense(
        8, use_bias=False, kernel_initializer="zeros", trainable=False
    )(latents)
    x = keras.layers.Dense(16 * 16, activation="tanh", bias_initializer="zeros")(x)
    return keras.Model(latents, keras.layers.Reshape((16, 16, 1), name="images")(x))


def _distributed_run(strategy, run_eagerly=False):
    keras.utils.set_random_seed(3)
    with strategy.scope():
        gan = GAN(
            _latent_free_generator(),
            dcgan_discriminator(16, 1, base_filters=4),
            LATENT,
            label_smoothing=0.1,
            seed=0,
        )
        # SGD: an update proportional to the gradient (Adam's first steps
        # hide a wrongly scaled gradient).
        gan.compile(
            d_optimizer=keras.optimizers.SGD(0.1),
            g_optimizer=keras.optimizers.SGD(0.1),
            run_eagerly=run_eagerly,
        )
    history = gan.fit(_images(16), batch_size=8, epochs=1, shuffle=False, verbose=0)
    return history.history, _numpy(gan.variables)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_mirrored_strategy_gives_the_losses_of_one_device(mirrored_strategy):
    import tensorflow as tf

    # One device eagerly (no trace to pay for), two replicas compiled.
    one_history, one_weights = _distributed_run(tf.distribute.get_strategy(), True)
    two_history, two_weights = _distributed_run(mirrored_strategy)
    assert mirrored_strategy.num_replicas_in_sync == 2
    for key in one_history:
        # keras.losses scale themselves by 1 / replicas under a strategy; the
        # train step must not scale twice (that halves every loss and step).
        np.testing.assert_allclose(two_history[key], one_history[key], rtol=1e-4)
    for a, b in zip(one_weights[:-1], two_weights[:-1], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_each_replica_draws_its_own_latents(mirrored_strategy):
    import tensorflow as tf

    with mirrored_strategy.scope():
        gan = _gan(seed=5)

    @tf.function
    def draw():
        return mirrored_strategy.run(lambda: gan._train_latents(4))

    per_replica = mirrored_strategy.experimental_local_results(draw())
    assert len(per_replica) == 2
    assert not np.allclose(per_replica[0].numpy(), per_replica[1].numpy())


def _steps_on(strategy, make, real, latents, labels=None):
    """Both steps of ``make()`` on ``strategy``, eagerly (no trace to pay
    for): each replica gets its slice of the batch. Returns the losses
    (mean over replicas) and the weights after the two updates."""
    import tensorflow as tf

    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = make()
        model.compile(
            d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1)
        )
    replicas = strategy.num_replicas_in_sync
    size = len(real) // replicas

    def split(array):
        if array is None:
            return None
        return strategy.experimental_distribute_values_from_function(
            lambda context: tf.constant(
                array[context.replica_id_in_sync_group * size :][:size]
            )
        )

    def steps(images, codes, classes):
        d = model.discriminator_step(images, classes, latents=codes)
        g = model.generator_step(size, classes, latents=codes)
        return d["d_loss"], g["g_loss"]

    args = (split(real), split(latents), split(labels))
    if replicas == 1:
        losses = steps(*[tf.constant(a) if a is not None else None for a in args])
    else:
        per_replica = strategy.run(steps, args=args)
        losses = [strategy.reduce("MEAN", v, axis=None) for v in per_replica]
    return [float(v) for v in losses], _numpy(model.trainable_variables)


@pytest.mark.requires_tensorflow(reason="tf.distribute.MirroredStrategy")
def test_wgan_gp_and_conditional_steps_on_two_replicas_equal_one_device(
    mirrored_strategy,
):
    import tensorflow as tf

    rng = np.random.default_rng(4)
    real = _images(8, seed=3)
    latents = rng.normal(size=(8, LATENT)).astype("float32")
    labels = (np.arange(8) % 3).astype("int32")
    # A linear critic has one input gradient everywhere, so the penalty does
    # not depend on the alpha each replica draws; generators without batch
    # norm make the same images from a half batch as from the whole.
    critic_weights = rng.normal(size=(16, 16, 1)).astype("float32") * 0.05
    cases = {
        "wgan_gp": (
            lambda: WGANGP(
                dcgan_generator(LATENT, 16, base_filters=4, norm=None),
                _linear_critic(critic_weights),
                LATENT,
                seed=0,
            ),
            None,
        ),
        "conditional_gan": (
            lambda: ConditionalGAN(
                *_pair(num_classes=3, g_norm=None, d_norm=None),
                LATENT,
                3,
                label_smoothing=0.1,
                seed=0,
            ),
            labels,
        ),
    }
    for name, (make, classes) in cases.items():
        one = _steps_on(tf.distribute.get_strategy(), make, real, latents, classes)
        two = _steps_on(mirrored_strategy, make, real, latents, classes)
        np.testing.assert_allclose(two[0], one[0], rtol=1e-5, err_msg=name)
        for a, b in zip(one[1], two[1], strict=True):
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=name)


# ----------------------------------------------------------------- WGAN-GP
def _linear_critic(weights):
    images = keras.Input((16, 16, 1), name="images")
    flat = keras.layers.Flatten()(images)
    dense = keras.layers.Dense(1, name="logits")
    scores = dense(flat)
    critic = keras.Model(images, scores)
    dense.set_weights([weights.reshape(-1, 1), np.zeros(1, "float32")])
    return critic


@pytest.mark.requires_tensorflow(reason="the gradient penalty needs tf.GradientTape")
def test_gradient_penalty_equals_independent_computations():
    import tensorflow as tf

    rng = np.random.default_rng(0)
    real, fake = _images(6, seed=1), _images(6, seed=2)
    alpha = rng.uniform(size=6).astype("float32")

    # A linear critic has the same gradient w everywhere: GP = (|w| - 1)^2.
    w = rng.normal(size=(16, 16, 1)).astype("float32") * 0.05
    wgan = WGANGP(
        dcgan_generator(LATENT, 16, base_filters=4), _linear_critic(w), LATENT
    )
    expected = (np.sqrt(np.sum(w.astype("float64") ** 2)) - 1.0) ** 2
    got = float(wgan.gradient_penalty(real, fake, alpha=alpha))
    np.testing.assert_allclose(got, expected, rtol=1e-5)

    # A convolutional critic: one tape per sample, norm and mean in NumPy.
    wgan = WGANGP(*_pair(d_norm="layer"), LATENT, seed=0)
    norms = []
    for i in range(6):
        x = tf.constant(
            real[i : i + 1] + alpha[i] * (fake[i : i + 1] - real[i : i + 1])
        )
        with tf.GradientTape() as tape:
            tape.watch(x)
            score = wgan.discriminator(x, training=True)[0, 0]
        g = tape.gradient(score, x).numpy().astype("float64")
        norms.append(np.sqrt(np.sum(g**2)))
    expected = np.mean((np.array(norms) - 1.0) ** 2)
    got = float(wgan.gradient_penalty(real, fake, alpha=alpha))
    np.testing.assert_allclose(got, expected, rtol=1e-4)


@pytest.mark.requires_tensorflow(reason="WGANGP draws alpha with tf.random")
def test_interpolation_weights_are_uniform_per_sample():
    from scipy import stats

    wgan = WGANGP(*_pair(d_norm=None), LATENT, seed=0)
    alpha = wgan.interpolation_weights(20000).numpy()
    assert alpha.shape == (20000,)
    assert 0.0 <= alpha.min() and alpha.max() <= 1.0
    assert abs(alpha.mean() - 0.5) < 0.01 and abs(alpha.var() - 1 / 12) < 0.005
    assert stats.kstest(alpha, "uniform").pvalue > 0.01
    assert not np.allclose(alpha, wgan.interpolation_weights(20000).numpy())


@pytest.mark.requires_tensorflow(reason="second-order gradients with tf.GradientTape")
def test_zero_critic_gradients_give_no_nan():
    import tensorflow as tf

    critic = _linear_critic(np.zeros((16, 16, 1), "float32"))
    wgan = WGANGP(dcgan_generator(LATENT, 16, base_filters=4), critic, LATENT)
    with tf.GradientTape() as tape:
        penalty = wgan.gradient_penalty(_images(4), _images(4, 1))
    kernel = critic.get_layer("logits").kernel
    gradient = tape.gradient(penalty, kernel)
    assert float(penalty) == pytest.approx(1.0, abs=1e-5)
    assert gradient is not None and np.all(np.isfinite(gradient.numpy()))


@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_zero_gp_weight_computes_no_penalty(monkeypatch):
    from keras_apps.losses import wasserstein_critic_loss

    wgan = WGANGP(*_pair(d_norm=None), LATENT, gp_weight=0.0, seed=0)
    wgan.compile()

    def not_called(*args, **kwargs):
        raise AssertionError("the penalty was computed at gp_weight=0")

    monkeypatch.setattr(wgan, "gradient_penalty", not_called)
    result = wgan.discriminator_step(_images(4))
    assert float(result["gradient_penalty"]) == 0.0
    expected = wasserstein_critic_loss(result["real_logits"], result["fake_logits"])
    assert float(result["d_loss"]) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.slow
@pytest.mark.requires_tensorflow(reason=TF_STEP)
def test_wgan_gp_fits_with_n_critic_steps_and_resumes(tmp_path):
    wgan = WGANGP(*_pair(d_norm="layer"), LATENT, n_critic=2, seed=0)
    # Eager: the compiled WGAN-GP step runs in WGANGP's docstring example.
    wgan.compile(run_eagerly=True)
    history = wgan.fit(_images(4), batch_size=4, epochs=1, shuffle=False, verbose=0)
    assert sorted(history.history) == [
        "d_loss",
        "g_loss",
        "gradient_penalty",
        "wasserstein_estimate",
    ]
    assert all(np.isfinite(v[0]) for v in history.history.values())
    assert int(wgan.d_optimizer.iterations) == 2  # n_critic per batch
    assert int(wgan.g_optimizer.iterations) == 1
    path = str(tmp_path / "wgan.keras")
    wgan.save(path)  # with both optimizers (keras-io#729)
    loaded = keras.saving.load_model(path)
    assert int(loaded.d_optimizer.iterations) == 2
    loaded.run_eagerly = True
    for model in (wgan, loaded):
        model.fit(_images(4, 1), batch_size=4, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(_numpy(wgan.variables), _numpy(loaded.variables), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


# ----------------------------------------------------------------- serving
def _assert_pixels(served, floats, low, high):
    """uint8 ``served`` equals ``floats`` mapped from [low, high] onto 0..255."""
    assert served.dtype == np.uint8
    expected = np.round(np.clip((floats - low) * 255 / (high - low), 0, 255))
    steps = np.abs(served.astype("int64") - expected)
    assert steps.max() <= 1  # a value on a rounding boundary may go either way
    assert np.mean(steps) < 0.01
    assert served.max() > served.min()  # not a constant image


@pytest.mark.requires_tensorflow(reason="export_for_serving writes a SavedModel")
def test_the_generator_alone_is_served_as_uint8_images(tmp_path):
    import tensorflow as tf

    from keras_apps.export import export_for_serving

    # A tanh generator: latents in, images in [-1, 1] mapped onto 0..255.
    gan = _gan()
    latents = keras.ops.convert_to_numpy(gan.sample_latents(4, seed=0))
    result = export_for_serving(
        gan.generator, tmp_path / "gan", warmup_inputs=latents, uint8_outputs=(-1, 1)
    )
    signature = result.signatures["serving_default"]
    assert sorted(signature.inputs) == ["latents"]
    assert signature.outputs["images"].dtype == "uint8"
    assert result.validation["serving_default"] <= 1
    served = tf.saved_model.load(result.path).signatures["serving_default"]
    images = served(latents=tf.constant(latents))["images"].numpy()
    assert images.shape == (4, 16, 16, 1)
    _assert_pixels(images, gan.generate(4, seed=0), -1.0, 1.0)

    # A conditional sigmoid generator: labels and latents in, [0, 1] mapped.
    generator = dcgan_generator(
        LATENT, 16, 1, base_filters=4, num_classes=3, output_activation="sigmoid"
    )
    cgan = ConditionalGAN(generator, _pair(num_classes=3)[1], LATENT, 3)
    labels = np.array([0, 2, 1, 1], "int32")
    result = export_for_serving(
        cgan.generator,
        tmp_path / "cgan",
        uint8_outputs={"images": (0, 1)},
        validate=False,  # reloaded and compared right here
    )
    signature = result.signatures["serving_default"]
    assert sorted(signature.inputs) == ["labels", "latents"]
    assert signature.outputs["images"].dtype == "uint8"
    served = tf.saved_model.load(result.path).signatures["serving_default"]
    images = served(latents=tf.constant(latents), labels=tf.constant(labels))
    _assert_pixels(images["images"].numpy(), cgan.generate(labels, seed=0), 0.0, 1.0)
