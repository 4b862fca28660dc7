"""A GAN whose `fit` alternates a discriminator step and a generator step."""

from __future__ import annotations

import copy
import random
from typing import Any

import keras
import numpy as np
from keras import ops

from keras_apps import _backend
from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.losses.adversarial import gan_discriminator_loss, gan_generator_loss

NOISES = ("normal", "uniform")
"""Latent priors: standard normal, or uniform in [-1, 1]."""

DISCRIMINATOR_BATCHES = ("auto", "joint", "separate")
"""How real and generated images meet the discriminator in its step."""

_GENERATE_BATCH = 256


def require_tensorflow(what: str) -> None:
    """The TensorFlow-first train steps: building, generating, saving and the
    loss functions work on every backend."""
    _backend.require_tensorflow(
        what, "is a TensorFlow-first train step (tf.GradientTape, tf.distribute)"
    )


def _model_inputs(model: Any, what: str) -> list[Any]:
    inputs = getattr(model, "inputs", None) if isinstance(model, keras.Model) else None
    if not inputs:
        raise ValueError(
            f"`{what}` must be a built functional or Sequential keras.Model "
            "with a keras.Input (the builders dcgan_generator and "
            "dcgan_discriminator make one). "
            f"Received: {what}={model!r}"
        )
    return list(inputs)


def _fits(produced: tuple[Any, ...], expected: tuple[Any, ...]) -> bool:
    return len(produced) == len(expected) and all(
        a is None or b is None or a == b
        for a, b in zip(produced, expected, strict=True)
    )


def _nested_layers(model: Any) -> list[Any]:
    found = []
    for layer in getattr(model, "layers", []):
        found.append(layer)
        found += _nested_layers(layer)
    return found


def batch_norm_layers(model: Any) -> list[str]:
    """Names of the BatchNormalization layers of ``model``, nested models too."""
    return [
        layer.name
        for layer in _nested_layers(model)
        if isinstance(layer, keras.layers.BatchNormalization)
    ]


def _mixes_samples(model: Any) -> bool:
    """Whether one call on real and generated images together would differ
    from two calls: batch statistics, or an activity regularizer (Keras
    divides it by the batch size)."""
    return bool(batch_norm_layers(model)) or any(
        getattr(layer, "activity_regularizer", None) is not None
        for layer in [model, *_nested_layers(model)]
    )


def _unreduced(loss_fn: Any) -> Any:
    """``loss_fn`` returning one value per sample, never scaled for replicas.

    A `keras.losses.Loss` with a mean reduction divides its result by the
    number of replicas when it runs under a `tf.distribute` strategy. The
    train steps here do that scaling themselves, once, for the gradients
    only, and report the unscaled loss; so they call a copy of the loss
    with ``reduction="none"`` and average it.
    """
    if isinstance(loss_fn, keras.losses.Loss) and loss_fn.reduction not in (
        None,
        "none",
        "sum",
    ):
        config = {**loss_fn.get_config(), "reduction": "none"}
        return type(loss_fn).from_config(config)
    return loss_fn


@keras_apps_export("keras_apps.models.GAN")
class GAN(keras.Model):
    """A generative adversarial network trained with `fit` in two parts.

    Every step of ``fit(images)`` does exactly two things:

    1. **Discriminator step** (``d_steps`` times): latents from the prior go
       through the generator, which is idle (a stateless call whose batch
       normalization updates are discarded, no gradient); the discriminator
       sees the real batch labelled real (``1 - label_smoothing``) and the
       generated batch labelled fake (0), and only its weights change. With
       batch normalization it sees them in two separate calls, so that its
       batch statistics never mix them; otherwise in one call on both
       batches joined, as keras.io's GAN does (``discriminator_batches``).
    2. **Generator step**: fresh latents go through the generator, the
       discriminator gives its verdict on the result (again without changing
       its own state), the loss ``loss_fn(1, D(G(z)))`` (the non-saturating
       loss of Goodfellow et al.) is back-propagated through both networks
       and only the generator's weights change.

    Instance noise, when asked for, adds Gaussian noise of standard deviation
    ``instance_noise`` to every image the discriminator sees, real and
    generated. Each discriminator step of one ``fit`` step reuses the real
    batch and draws new latents.

    The train step is **TensorFlow-first** (``tf.GradientTape``,
    ``tf.distribute``): `fit` needs ``KERAS_BACKEND=tensorflow`` and runs
    under ``tf.distribute.MirroredStrategy`` (build and compile inside
    ``strategy.scope()``; the losses are scaled per replica so that the
    gradients equal those of one device on the global batch, and each
    replica draws its own latents). Everything else, `generate`, saving and
    the builders, works on every backend. The discriminator returns logits
    (use ``loss_fn`` with ``from_logits=False`` for a discriminator ending in
    a sigmoid). Losses are not scaled for ``mixed_float16``.

    Serving: export the generator alone,
    ``keras_apps.export.export_for_serving(gan.generator, path)``: latents
    (or ``labels`` and ``latents``) in, float ``images`` out in the
    generator's range (``[-1, 1]`` for the tanh builders); with
    ``uint8_outputs=(-1, 1)`` (``(0, 1)`` for a sigmoid output) the served
    ``images`` are uint8 pixels. From the command line, after
    ``gan.generator.save("generator.keras")``: ``keras-apps export
    generator.keras PATH --uint8-outputs -1 1``.

    History keys: ``d_loss``, ``g_loss``, ``real_accuracy`` (fraction of
    real images the discriminator calls real) and ``fake_accuracy``
    (fraction of generated images it calls fake).

    Args:
        generator: A functional model from ``(batch, latent_dim)`` latents to
            images (`keras_apps.models.dcgan_generator`).
        discriminator: A functional model from images to one logit per image
            (`keras_apps.models.dcgan_discriminator`); its input shape must
            fit the generator's output shape.
        latent_dim: Size of the latent vectors, > 0.
        noise: The latent prior, ``"normal"`` (default) or ``"uniform"``
            (in [-1, 1]).
        d_steps: Discriminator steps per generator step, >= 1. Defaults to 1.
        label_smoothing: One-sided label smoothing of the real target, in
            [0, 1). Defaults to 0; 0.1 is common (Salimans et al. 2016).
        instance_noise: Standard deviation of the instance noise, >= 0.
            Defaults to 0 (none).
        discriminator_batches: ``"joint"``: the discriminator step makes one
            discriminator call on the real and the generated batch joined
            (fewer, larger ops: the speed of keras.io's GAN); ``"separate"``:
            two calls, one per batch, so that batch statistics are computed
            on real and on generated images apart (DCGAN practice; needed
            for any layer that mixes the samples of a batch, such as a
            minibatch-deviation layer). ``"auto"`` (default): separate when
            the discriminator has BatchNormalization layers (nested models
            are searched) or an activity regularizer, joint otherwise. The
            losses are the same either way for a discriminator that treats
            samples independently.
        seed: Seed of the training latents (and instance noise); their
            stream state is a weight of the model, so resumed training
            draws the same latents (Dropout layers inside the networks keep
            Keras's own seed streams, which are not saved). Defaults to None
            (random).
        name: Model name. Defaults to ``"gan"``.
        **kwargs: Further `keras.Model` arguments (``dtype``).

    Example:

    >>> import numpy as np
    >>> from keras_apps.models import GAN, dcgan_discriminator, dcgan_generator
    >>> gan = GAN(dcgan_generator(latent_dim=8, image_size=16, base_filters=8),
    ...           dcgan_discriminator(image_size=16, base_filters=8),
    ...           latent_dim=8, seed=0)
    >>> gan.compile()
    >>> history = gan.fit(np.zeros((8, 16, 16, 1), "float32"), batch_size=4,
    ...                   epochs=1, verbose=0)
    >>> sorted(history.history)
    ['d_loss', 'fake_accuracy', 'g_loss', 'real_accuracy']
    >>> gan.generate(3, seed=1).shape
    (3, 16, 16, 1)

    Reference:
        Goodfellow et al. 2014, "Generative Adversarial Nets",
        https://arxiv.org/abs/1406.2661; Salimans et al. 2016, "Improved
        Techniques for Training GANs" (one-sided label smoothing),
        https://arxiv.org/abs/1606.03498; Sønderby et al. 2017, "Amortised
        MAP Inference for Image Super-resolution" (instance noise),
        https://arxiv.org/abs/1610.04490
    """

    num_classes: int | None = None

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        latent_dim: int,
        noise: str = "normal",
        d_steps: int = 1,
        label_smoothing: float = 0.0,
        instance_noise: float = 0.0,
        discriminator_batches: str = "auto",
        seed: int | None = None,
        name: str = "gan",
        **kwargs: Any,
    ) -> None:
        errors = [
            positive_int_error("latent_dim", latent_dim),
            positive_int_error("d_steps", d_steps),
        ]
        if noise not in NOISES:
            errors.append(
                f"`noise` must be 'normal' or 'uniform'. Received: noise={noise!r}"
            )
        if not isinstance(label_smoothing, (int, float)) or not (
            0 <= label_smoothing < 1
        ):
            errors.append(
                "`label_smoothing` must be in [0, 1) (the real target is "
                f"1 - label_smoothing). Received: label_smoothing={label_smoothing!r}"
            )
        if not isinstance(instance_noise, (int, float)) or instance_noise < 0:
            errors.append(
                "`instance_noise` must be a standard deviation >= 0. "
                f"Received: instance_noise={instance_noise!r}"
            )
        if discriminator_batches not in DISCRIMINATOR_BATCHES:
            errors.append(
                "`discriminator_batches` must be 'auto', 'joint' or 'separate'. "
                f"Received: discriminator_batches={discriminator_batches!r}"
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            errors.append(f"`seed` must be an int or None. Received: seed={seed!r}")
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))
        self._check_networks(generator, discriminator, latent_dim)

        super().__init__(name=name, **kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.latent_dim = latent_dim
        self.noise = noise
        self.d_steps = d_steps
        self.label_smoothing = float(label_smoothing)
        self.instance_noise = float(instance_noise)
        self.discriminator_batches = discriminator_batches
        self.joint_discriminator_batch = discriminator_batches == "joint" or (
            discriminator_batches == "auto" and not _mixes_samples(discriminator)
        )
        self.seed = seed
        # The training latents' seed stream, [seed, counter], as a weight of
        # the model (a SeedGenerator's state is not saved by Keras), so that a
        # resumed run (.keras file, BackupAndRestore) draws the same latents.
        initial = seed if seed is not None else random.randint(1, 2**31 - 1)
        self.latent_seed_state = self.add_weight(
            shape=(2,),
            initializer=keras.initializers.Constant([initial, 0]),
            dtype="int64",
            trainable=False,
            aggregation="only_first_replica",
            name="latent_seed_state",
        )
        self._make_trackers()
        self.d_optimizer: Any = None
        self.g_optimizer: Any = None
        self.loss_fn: Any = None
        self._loss_values: Any = None
        self.built = True

    # ------------------------------------------------------------ checks
    def _expected_inputs(self) -> int:
        return 1

    def _check_networks(
        self, generator: Any, discriminator: Any, latent_dim: int
    ) -> None:
        g_inputs = _model_inputs(generator, "generator")
        d_inputs = _model_inputs(discriminator, "discriminator")
        wanted = self._expected_inputs()
        kind = type(self).__name__
        what = "latents" if wanted == 1 else "[latents, labels]"
        if len(g_inputs) != wanted:
            raise ValueError(
                f"{kind} expects a generator with inputs {what}. Received a "
                f"generator with {len(g_inputs)} inputs: "
                f"{[tuple(i.shape) for i in g_inputs]}"
            )
        if len(d_inputs) != wanted:
            what = "images" if wanted == 1 else "[images, labels]"
            raise ValueError(
                f"{kind} expects a discriminator with inputs {what}. Received a "
                f"discriminator with {len(d_inputs)} inputs: "
                f"{[tuple(i.shape) for i in d_inputs]}"
            )
        latent_shape = tuple(g_inputs[0].shape[1:])
        if latent_shape != (latent_dim,):
            raise ValueError(
                f"The generator's latent input must have shape (batch, "
                f"latent_dim) = (None, {latent_dim}). Received: generator input "
                f"shape {tuple(g_inputs[0].shape)} with latent_dim={latent_dim}."
            )
        outputs = list(generator.outputs)
        produced = tuple(outputs[0].shape[1:])
        expected = tuple(d_inputs[0].shape[1:])
        if len(outputs) != 1 or not _fits(produced, expected):
            raise ValueError(
                "The generator's output must fit the discriminator's image "
                f"input. Received: generator output shape "
                f"{[tuple(o.shape) for o in outputs]}, discriminator input shape "
                f"{tuple(d_inputs[0].shape)}."
            )
        d_outputs = list(discriminator.outputs)
        if len(d_outputs) != 1 or tuple(d_outputs[0].shape[1:]) not in ((1,), ()):
            raise ValueError(
                "The discriminator must return one score per image, shape "
                "(batch, 1). Received: discriminator output shape "
                f"{[tuple(o.shape) for o in d_outputs]}."
            )

    def _make_trackers(self) -> None:
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.real_accuracy_tracker = keras.metrics.Mean(name="real_accuracy")
        self.fake_accuracy_tracker = keras.metrics.Mean(name="fake_accuracy")

    @property
    def metrics(self) -> list[Any]:
        return [
            self.d_loss_tracker,
            self.g_loss_tracker,
            self.real_accuracy_tracker,
            self.fake_accuracy_tracker,
        ]

    # ----------------------------------------------------------- compile
    def _default_optimizers(self) -> tuple[Any, Any]:
        # Radford et al. 2016: Adam, learning rate 2e-4, beta_1 0.5.
        return (
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="d_adam"),
            keras.optimizers.Adam(2e-4, beta_1=0.5, name="g_adam"),
        )

    def compile(  # type: ignore[override]
        self,
        d_optimizer: Any = None,
        g_optimizer: Any = None,
        loss_fn: Any = None,
        **kwargs: Any,
    ) -> None:
        """Sets the two optimizers and the loss; builds both optimizers.

        Args:
            d_optimizer: Optimizer of the discriminator (instance, name or
                config). Defaults to Adam(2e-4, beta_1=0.5).
            g_optimizer: Optimizer of the generator; must be another object
                than ``d_optimizer``. Defaults to Adam(2e-4, beta_1=0.5).
            loss_fn: ``loss_fn(y_true, y_pred)`` on the discriminator's
                outputs. Defaults to
                ``keras.losses.BinaryCrossentropy(from_logits=True)``.
            **kwargs: ``run_eagerly``, ``jit_compile``,
                ``steps_per_execution`` of `keras.Model.compile`.
        """
        for key in ("optimizer", "loss", "metrics"):
            if key in kwargs:
                raise ValueError(
                    f"{type(self).__name__}.compile takes d_optimizer, "
                    f"g_optimizer and loss_fn, not {key!r}. Received: {key}="
                    f"{kwargs[key]!r}"
                )
        default_d, default_g = self._default_optimizers()
        d_opt = keras.optimizers.get(d_optimizer) if d_optimizer else default_d
        g_opt = keras.optimizers.get(g_optimizer) if g_optimizer else default_g
        if d_opt is g_opt:
            raise ValueError(
                "`d_optimizer` and `g_optimizer` must be two optimizer objects: "
                "one optimizer cannot keep the state of both networks. "
                f"Received the same object twice: {d_opt!r}"
            )
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_opt
        self.g_optimizer = g_opt
        self.loss_fn = self._resolve_loss(loss_fn)
        self._loss_values = _unreduced(self.loss_fn)
        # Built now, on exactly the variables each one trains, so that their
        # state loads from a .keras file or a BackupAndRestore checkpoint.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def _resolve_loss(self, loss_fn: Any) -> Any:
        if loss_fn is None:
            return keras.losses.BinaryCrossentropy(from_logits=True)
        return keras.losses.get(loss_fn)

    def get_compile_config(self) -> dict[str, Any]:
        if not self.compiled or self.d_optimizer is None:
            return {}
        return {
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "loss_fn": keras.saving.serialize_keras_object(self.loss_fn),
        }

    def compile_from_config(self, config: dict[str, Any]) -> None:
        self.compile(
            d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
            g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]),
            loss_fn=keras.saving.deserialize_keras_object(config.get("loss_fn")),
        )

    # ---------------------------------------------------------- sampling
    def sample_latents(self, n: int, seed: int | None = None) -> Any:
        """``n`` latent vectors from the prior (any backend).

        Args:
            n: Number of vectors.
            seed: An int for a reproducible draw; None draws from Keras's
                global random state (the training stream is not touched).
        """
        shape = (int(n), self.latent_dim)
        if self.noise == "uniform":
            return keras.random.uniform(shape, -1.0, 1.0, seed=seed)
        return keras.random.normal(shape, seed=seed)

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """``n`` images from the generator (inference mode) as a NumPy array.

        The same ``seed`` gives the same latents, so calls at different
        epochs can be compared. Works on every backend.
        """
        error = positive_int_error("n", n)
        if error:
            raise ValueError(error)
        return self._run_generator(self.sample_latents(n, seed))

    def _run_generator(self, latents: Any, labels: Any = None) -> np.ndarray:
        chunks = []
        total = int(latents.shape[0])
        for start in range(0, total, _GENERATE_BATCH):
            z = latents[start : start + _GENERATE_BATCH]
            if labels is None:
                inputs: Any = z
            else:
                inputs = [
                    z,
                    ops.convert_to_tensor(labels[start : start + _GENERATE_BATCH]),
                ]
            chunks.append(ops.convert_to_numpy(self.generator(inputs, training=False)))
        return np.concatenate(chunks, axis=0)

    def call(self, inputs: Any, training: bool = False) -> Any:
        """The generator: latents (``[latents, labels]``) to images."""
        return self.generator(inputs, training=training)

    # ------------------------------------------------- the two train steps
    def _labels(self, data: Any) -> tuple[Any, Any]:
        images, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return images, None

    def _generator_inputs(self, latents: Any, labels: Any) -> Any:
        return latents if labels is None else [latents, labels]

    def _discriminator_inputs(self, images: Any, labels: Any) -> Any:
        return images if labels is None else [images, labels]

    def _next_seed(self) -> Any:
        """A stateless seed: the model's stream, folded with the replica id
        when several replicas draw (one device draws from the stream as is)."""
        import tensorflow as tf

        seed = tf.convert_to_tensor(self.latent_seed_state)
        self.latent_seed_state.assign(seed + tf.constant([0, 1], "int64"))
        return _backend.per_replica_seed(seed)

    def _per_replica(self, loss: Any) -> Any:
        """``loss`` scaled so that summed replica gradients are those of the
        global batch (a no-op on one device)."""
        replicas = self._num_replicas()
        return loss if replicas == 1 else loss / replicas

    def _num_replicas(self) -> int:
        return _backend.num_replicas()

    def _train_latents(self, batch_size: Any) -> Any:
        import tensorflow as tf

        shape = tf.stack([tf.cast(batch_size, "int32"), self.latent_dim])
        if self.noise == "uniform":
            return tf.random.stateless_uniform(shape, self._next_seed(), -1.0, 1.0)
        return tf.random.stateless_normal(shape, self._next_seed())

    def _with_instance_noise(self, images: Any) -> Any:
        if not self.instance_noise:
            return images
        import tensorflow as tf

        noise = tf.random.stateless_normal(
            tf.shape(images), self._next_seed(), dtype=images.dtype
        )
        return images + self.instance_noise * noise

    def discriminator_loss(self, real_logits: Any, fake_logits: Any) -> Any:
        """The discriminator's loss (`keras_apps.losses.gan_discriminator_loss`)."""
        return gan_discriminator_loss(
            real_logits, fake_logits, self.label_smoothing, self._loss_values
        )

    def generator_loss(self, fake_logits: Any) -> Any:
        """The generator's loss (`keras_apps.losses.gan_generator_loss`)."""
        return gan_generator_loss(fake_logits, self._loss_values)

    def _discriminate(self, real: Any, fake: Any, labels: Any) -> tuple[Any, Any]:
        """The discriminator's outputs on the real and the generated batch:
        one call on both joined, or two calls (``discriminator_batches``)."""
        if not self.joint_discriminator_batch:
            real_logits = self.discriminator(
                self._discriminator_inputs(real, labels), training=True
            )
            fake_logits = self.discriminator(
                self._discriminator_inputs(fake, labels), training=True
            )
            return real_logits, fake_logits
        import tensorflow as tf

        both = tf.concat([real, fake], axis=0)
        both_labels = None if labels is None else tf.concat([labels, labels], axis=0)
        logits = self.discriminator(
            self._discriminator_inputs(both, both_labels), training=True
        )
        count = tf.shape(real)[0]
        return logits[:count], logits[count:]

    def _discriminator_objective(
        self, real: Any, fake: Any, labels: Any
    ) -> tuple[Any, Any, Any, dict[str, Any]]:
        """Runs inside the tape of the discriminator step."""
        real_logits, fake_logits = self._discriminate(real, fake, labels)
        loss = self.discriminator_loss(real_logits, fake_logits)
        return loss, real_logits, fake_logits, {}

    def _check_compiled(self) -> None:
        if self.d_optimizer is None or self.g_optimizer is None:
            raise ValueError(
                f"{type(self).__name__} is not compiled: call "
                "compile(d_optimizer=..., g_optimizer=..., loss_fn=...) first."
            )

    def discriminator_step(
        self, real_images: Any, labels: Any = None, latents: Any = None
    ) -> dict[str, Any]:
        """Part 1: one update of the discriminator; the generator is idle.

        TensorFlow-first. Changes only discriminator variables (and the
        latent seed). Returns ``d_loss``, ``real_logits`` and ``fake_logits``
        (and, for WGAN-GP, ``gradient_penalty``).

        Args:
            real_images: A batch of real images.
            labels: Their class labels (conditional models only).
            latents: Latents for the generated batch; default drawn from the
                prior with the model's seed stream.
        """
        require_tensorflow(f"{type(self).__name__}.discriminator_step")
        import tensorflow as tf

        self._check_compiled()
        real_images = tf.convert_to_tensor(real_images)
        if latents is None:
            latents = self._train_latents(tf.shape(real_images)[0])
        generator = self.generator
        fake, _ = generator.stateless_call(
            generator.trainable_variables,
            generator.non_trainable_variables,
            self._generator_inputs(latents, labels),
            training=True,
        )
        fake = tf.stop_gradient(tf.cast(fake, real_images.dtype))
        real = self._with_instance_noise(real_images)
        fake = self._with_instance_noise(fake)
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss, real_logits, fake_logits, extra = self._discriminator_objective(
                real, fake, labels
            )
            if self.discriminator.losses:
                loss = loss + tf.add_n(self.discriminator.losses)
            scaled = self._per_replica(loss)
        gradients = tape.gradient(scaled, variables)
        self.d_optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {
            "d_loss": loss,
            "real_logits": real_logits,
            "fake_logits": fake_logits,
            **extra,
        }

    def generator_step(
        self, batch_size: Any, labels: Any = None, latents: Any = None
    ) -> dict[str, Any]:
        """Part 2: one update of the generator through the discriminator's verdict.

        TensorFlow-first. Back-propagates through both networks, changes only
        generator variables (the discriminator runs statelessly). Returns
        ``g_loss`` and ``fake_logits``.

        Args:
            batch_size: How many images to generate.
            labels: Their requested classes (conditional models only).
            latents: The latents; default drawn from the prior.
        """
        require_tensorflow(f"{type(self).__name__}.generator_step")
        import tensorflow as tf

        self._check_compiled()
        if latents is None:
            latents = self._train_latents(batch_size)
        discriminator = self.discriminator
        variables = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(
                self._generator_inputs(latents, labels), training=True
            )
            fake = self._with_instance_noise(fake)
            fake_logits, _ = discriminator.stateless_call(
                discriminator.trainable_variables,
                discriminator.non_trainable_variables,
                self._discriminator_inputs(fake, labels),
                training=True,
            )
            loss = self.generator_loss(fake_logits)
            if self.generator.losses:
                loss = loss + tf.add_n(self.generator.losses)
            scaled = self._per_replica(loss)
        gradients = tape.gradient(scaled, variables)
        self.g_optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return {"g_loss": loss, "fake_logits": fake_logits}

    def _decision_threshold(self) -> float:
        return 0.0 if getattr(self.loss_fn, "from_logits", True) else 0.5

    def _update_discriminator_trackers(self, result: dict[str, Any]) -> None:
        import tensorflow as tf

        threshold = self._decision_threshold()
        self.d_loss_tracker.update_state(result["d_loss"])
        self.real_accuracy_tracker.update_state(
            tf.cast(result["real_logits"] > threshold, "float32")
        )
        self.fake_accuracy_tracker.update_state(
            tf.cast(result["fake_logits"] < threshold, "float32")
        )

    def train_step(self, data: Any, *rest: Any) -> dict[str, Any]:
        """``d_steps`` discriminator steps, then one generator step.

        TensorFlow-first (see the class docstring).
        """
        require_tensorflow(f"{type(self).__name__}.train_step")
        import tensorflow as tf

        images, labels = self._labels(data)
        images = tf.convert_to_tensor(images)
        for _ in range(self.d_steps):
            result = self._discriminator_step_for_fit(images, labels)
            self._update_discriminator_trackers(result)
        generated = self.generator_step(tf.shape(images)[0], labels)
        self.g_loss_tracker.update_state(generated["g_loss"])
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_step_for_fit(self, images: Any, labels: Any) -> dict[str, Any]:
        return self.discriminator_step(images, labels)

    # ----------------------------------------------------------- config
    def get_config(self) -> dict[str, Any]:
        return {
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "latent_dim": self.latent_dim,
            "noise": self.noise,
            "d_steps": self.d_steps,
            "label_smoothing": self.label_smoothing,
            "instance_noise": self.instance_noise,
            "discriminator_batches": self.discriminator_batches,
            "seed": self.seed,
            "name": self.name,
            "trainable": self.trainable,
            "dtype": self.dtype_policy.name,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(
                copy.deepcopy(config[key])
            )
        return cls(**config)
