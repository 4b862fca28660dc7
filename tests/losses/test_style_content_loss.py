"""StyleContentLoss and total_variation against NumPy references.

Backend-free: the loss is keras.ops only, and these tests run under
``KERAS_BACKEND=jax`` too. Feature extractors are tiny seeded conv stacks.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_apps.losses import StyleContentLoss, total_variation
from keras_apps.testing.test_case import run_serialization_test


def _extractor(kernel: int = 3, seed: int = 0) -> keras.Model:
    """Two small seeded conv layers at two resolutions, any image size."""
    inputs = keras.Input((None, None, 3))
    a = keras.layers.Conv2D(
        4,
        kernel,
        padding="same",
        activation="relu",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed),
        name="a",
    )(inputs / 255.0)
    pooled = keras.layers.AveragePooling2D(2)(a)
    b = keras.layers.Conv2D(
        6,
        kernel,
        padding="same",
        activation="relu",
        kernel_initializer=keras.initializers.GlorotUniform(seed=seed + 1),
        name="b",
    )(pooled)
    return keras.Model(inputs, {"a": a, "b": b})


def _images(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (n, size, size, 3)).astype("float32")


def _features(extractor: keras.Model, images: np.ndarray) -> dict[str, np.ndarray]:
    out = extractor(images)
    return {
        k: np.asarray(keras.ops.convert_to_numpy(v), "float64") for k, v in out.items()
    }


def _reference(
    extractor, styles, content, generated, normalization, lw, sw, cw, stw, tvw
):
    """An independent NumPy implementation of the loss, per image."""
    gen = _features(extractor, generated)
    con = _features(extractor, content)

    def gram(f):  # (h, w, c) -> (c, c), unnormalized
        flat = f.reshape(-1, f.shape[-1])
        return flat.T @ flat

    totals = []
    for i in range(len(generated)):
        content_term = 0.0
        f, p = gen["a"][i], con["a"][i]
        h, w, c = f.shape
        squared = np.sum((f - p) ** 2)
        content_term = {
            "gatys": 0.5 * squared,
            "course": squared / (4 * h * w * c),
            "johnson": squared / (h * w * c),
        }[normalization]
        style_term = 0.0
        for layer, layer_weight in zip(("a", "b"), lw, strict=True):
            g_features = gen[layer][i]
            n_l = g_features.shape[-1]
            m_l = g_features.shape[0] * g_features.shape[1]
            for style, weight in zip(styles, sw, strict=True):
                a_features = _features(extractor, style[None])[layer][0]
                m_s = a_features.shape[0] * a_features.shape[1]
                if normalization == "johnson":
                    g = gram(g_features) / (n_l * m_l)
                    a = gram(a_features) / (n_l * m_s)
                    distance = np.sum((g - a) ** 2)
                else:  # Gatys' E_l = 1 / (4 N^2 M^2) sum (G - A)^2, own M each
                    g = gram(g_features) / (2 * n_l * m_l)
                    a = gram(a_features) / (2 * n_l * m_s)
                    distance = np.sum((g - a) ** 2)
                style_term += layer_weight * weight * distance
        x = generated[i].astype("float64")
        tv = np.sum((x[1:, :-1] - x[:-1, :-1]) ** 2 + (x[:-1, 1:] - x[:-1, :-1]) ** 2)
        totals.append(cw * content_term + stw * style_term + tvw * tv)
    return np.asarray(totals)


@pytest.mark.parametrize("normalization", ["gatys", "course", "johnson"])
def test_loss_equals_numpy_reference(normalization):
    extractor = _extractor()
    styles = [_images(1, 12, seed=5)[0], _images(1, 8, seed=6)[0]]  # two sizes
    content, generated = _images(2, seed=1), _images(2, seed=2)
    loss = StyleContentLoss(
        extractor,
        styles,
        content_layers=["a"],
        style_layers=["a", "b"],
        content_weight=0.7,
        style_weight=3.0,
        tv_weight=1e-3,
        style_layer_weights=[0.25, 0.75],
        style_image_weights=[0.6, 0.4],
        normalization=normalization,
        reduction=None,
    )
    got = np.asarray(keras.ops.convert_to_numpy(loss(content, generated)))
    expected = _reference(
        extractor,
        styles,
        content,
        generated,
        normalization,
        [0.25, 0.75],
        [0.6, 0.4],
        0.7,
        3.0,
        1e-3,
    )
    np.testing.assert_allclose(got, expected, rtol=2e-5)
    parts = loss.last_parts
    total = 0.7 * parts["content"] + 3.0 * parts["style"] + 1e-3 * parts["tv"]
    np.testing.assert_allclose(parts["total"], total, rtol=1e-5)
    np.testing.assert_allclose(
        parts["style"], 0.25 * parts["style/a"] + 0.75 * parts["style/b"], rtol=1e-5
    )


def test_each_layer_is_normalized_by_its_own_size():
    # Gatys' E_l does not grow with the image: a tiled style image has the
    # same Gram matrices per position, so the style loss against it is ~0.
    extractor = _extractor(kernel=1)
    style = _images(1, 8, seed=3)[0]
    tiled = np.tile(style, (2, 2, 1))[None]
    loss = StyleContentLoss(extractor, style, content_layers=[], style_layers=["a"])
    untiled = StyleContentLoss(
        extractor, _images(1, 8, seed=9)[0], content_layers=[], style_layers=["a"]
    )
    assert float(loss(tiled, tiled)) < 1e-6 * float(untiled(tiled, tiled))


def test_content_zero_for_content_and_style_zero_for_style():
    extractor = _extractor()
    style = _images(1, seed=3)
    content = _images(1, seed=4)
    loss = StyleContentLoss(extractor, style[0], ["a", "b"], ["a", "b"], reduction=None)
    loss(content, content)
    assert loss.last_parts["content"] == 0.0
    assert loss.last_parts["style"] > 0.0
    loss(content, style)
    assert loss.last_parts["style"] < 1e-9
    assert loss.last_parts["content"] > 0.0


def test_style_term_compares_gram_matrices_not_positions():
    # Through 1x1 convolutions the features of a pixel depend on that pixel
    # only, so shuffling the positions keeps every Gram matrix.
    extractor = _extractor(kernel=1)
    inputs = keras.Input((None, None, 3))
    one_by_one = keras.Model(inputs, {"a": extractor(inputs)["a"]})
    style = _images(1, 8, seed=3)[0]
    rng = np.random.default_rng(0)
    permuted = style.reshape(-1, 3)[rng.permutation(64)].reshape(8, 8, 3)
    other = _images(1, 8, seed=8)
    loss = StyleContentLoss(one_by_one, style, content_layers=[], style_layers=["a"])
    shuffled = float(loss(permuted[None], permuted[None]))
    different = float(loss(other, other))
    assert shuffled < 1e-6 * different


def test_masks_restrict_a_style_to_a_region():
    extractor = _extractor(kernel=1)
    # Two styles with different colour statistics: dark and bright.
    style_a, style_b = _images(1, seed=1)[0] * 0.3, 255.0 - _images(1, seed=2)[0] * 0.3
    left = np.zeros((8, 8), "float32")
    left[:, :4] = 1.0
    guided = StyleContentLoss(
        extractor,
        [style_a, style_b],
        content_layers=[],
        style_layers=["a"],
        style_masks=[left, 1.0 - left],
        reduction=None,
    )
    # With a mask of ones a style acts as without mask.
    plain = StyleContentLoss(extractor, style_a, [], ["a"], reduction=None)
    ones = StyleContentLoss(
        extractor, style_a, [], ["a"], style_masks=[np.ones((8, 8))], reduction=None
    )
    generated = _images(2, seed=7)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ones(generated, generated)),
        keras.ops.convert_to_numpy(plain(generated, generated)),
        rtol=1e-5,
    )
    # Style a's pixels on the left and style b's on the right fit the masks
    # better than the same halves swapped.
    composed = np.concatenate([style_a[:, :4], style_b[:, 4:]], axis=1)
    swapped = np.concatenate([style_b[:, 4:], style_a[:, :4]], axis=1)
    good = float(keras.ops.convert_to_numpy(guided(composed[None], composed[None]))[0])
    bad = float(keras.ops.convert_to_numpy(guided(swapped[None], swapped[None]))[0])
    assert good < bad


def _gradient(loss, content, image):
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        variable = tf.Variable(image)
        with tf.GradientTape() as tape:
            value = loss(content, variable)
        return tape.gradient(value, variable).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda x: loss(content, x))(image))
    pytest.skip(f"no gradient helper for {backend}")


def test_gradients_reach_the_image():
    extractor = _extractor()
    loss = StyleContentLoss(
        extractor, _images(1, seed=3)[0], ["b"], ["a", "b"], tv_weight=1e-4
    )
    grad = _gradient(loss, _images(1, seed=1), _images(1, seed=2))
    assert grad.shape == (1, 8, 8, 3)
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum() > 0


def test_texture_and_inversion_turn_one_term_off():
    extractor = _extractor()
    texture = StyleContentLoss(
        extractor, _images(1)[0], content_layers=[], style_layers=["a"]
    )
    value = texture(np.zeros((1, 2, 2, 1)), _images(1, seed=5))  # y_true unused
    assert float(value) > 0 and texture.last_parts["content"] == 0.0
    inversion = StyleContentLoss(
        extractor, None, content_layers=["b"], style_layers=["a"]
    )
    inversion(_images(1, seed=1), _images(1, seed=2))
    assert inversion.last_parts["style"] == 0.0 and inversion.last_parts["content"] > 0


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"normalization": "keras"}, "normalization"),
        ({"style_weight": -1.0}, "style_weight"),
        ({"style_layer_weights": [1.0, 2.0]}, "style_layer_weights"),
        ({"style_layers": ["a", "zzz"]}, "No layer named 'zzz'.*Layers"),
        ({"style_image": np.zeros((8, 8))}, "RGB"),
        ({"style_image": np.array([["a"] * 3] * 2)}, "numeric"),
        ({"style_image": None, "content_layers": []}, "both terms are off"),
        ({"style_masks": [np.ones(8)]}, "mask"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    arguments = {
        "style_image": _images(1)[0],
        "content_layers": ["a"],
        "style_layers": ["a"],
        **kwargs,
    }
    with pytest.raises(ValueError, match=match):
        StyleContentLoss(_extractor(), **arguments)


def test_bad_inputs_raise():
    loss = StyleContentLoss(_extractor(), _images(1)[0], ["a"], ["a"])
    with pytest.raises(ValueError, match="RGB"):
        loss(_images(1), np.zeros((1, 8, 8, 1), "float32"))  # a grey image
    with pytest.raises(ValueError, match="as many content images"):
        loss(_images(2), _images(1))


def test_serialization_round_trip_keeps_the_values():
    extractor = _extractor()
    loss = StyleContentLoss(
        extractor,
        [_images(1)[0]],
        ["a"],
        ["a", "b"],
        tv_weight=0.1,
        style_masks=[np.ones((8, 8))],
    )
    revived = run_serialization_test(loss)
    content, generated = _images(2, seed=1), _images(2, seed=2)
    np.testing.assert_allclose(
        float(revived(content, generated)), float(loss(content, generated)), rtol=1e-6
    )


def test_total_variation_equals_numpy():
    x = _images(2, 6, seed=1).astype("float64")
    dx = x[:, :-1, 1:] - x[:, :-1, :-1]
    dy = x[:, 1:, :-1] - x[:, :-1, :-1]
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(total_variation(x.astype("float32"))),
        np.sum(dx**2 + dy**2, axis=(1, 2, 3)),
        rtol=1e-5,
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(total_variation(x.astype("float32"), beta=1.0)),
        np.sum(np.sqrt(dx**2 + dy**2 + 1e-8), axis=(1, 2, 3)),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="beta"):
        total_variation(x, beta=0.5)
    with pytest.raises(ValueError, match="rank 4"):
        total_variation(x[0])
