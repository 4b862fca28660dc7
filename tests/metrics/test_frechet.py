import keras
import numpy as np
import pytest
from scipy import linalg

from keras_apps.metrics import (
    FrechetClassifierDistance,
    SampleClassAccuracy,
    build_sample_classifier,
    feature_statistics,
    frechet_distance,
    frechet_distance_from_moments,
    train_sample_classifier,
)
from keras_apps.testing.test_case import run_serialization_test


def _reference(mu1, s1, mu2, s2):
    """The textbook formula with scipy's matrix square root (as pytorch-fid)."""
    covmean = linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * covmean))


def _spd(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _f(x):
    return float(keras.ops.convert_to_numpy(x))


def _tolerance():
    # float64 on TensorFlow and NumPy; JAX computes in float32 unless x64 is on.
    return 1e-9 if keras.backend.backend() != "jax" else 2e-4


def test_distance_of_known_gaussians_equals_scipy():
    rng = np.random.default_rng(0)
    for d in (1, 3, 12):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        expected = _reference(mu1, s1, mu2, s2)
        got = _f(frechet_distance_from_moments(mu1, s1, mu2, s2))
        np.testing.assert_allclose(got, expected, rtol=_tolerance() * 100)
    # Closed forms: equal covariances leave the mean term; 1-D Gaussians
    # give (m1 - m2)^2 + (s1 - s2)^2.
    s = _spd(rng, 4)
    np.testing.assert_allclose(
        _f(frechet_distance_from_moments(np.zeros(4), s, np.ones(4), s)), 4.0, rtol=1e-4
    )
    np.testing.assert_allclose(
        _f(frechet_distance_from_moments([1.0], [[4.0]], [3.0], [[9.0]])),
        4.0 + 1.0,
        rtol=1e-5,
    )


def test_distance_of_samples_matches_scipy_and_is_zero_for_the_same_data():
    rng = np.random.default_rng(1)
    a = rng.multivariate_normal(np.zeros(6), _spd(rng, 6), size=4000)
    b = rng.multivariate_normal(np.full(6, 0.5), _spd(rng, 6), size=3000)
    mean_a, cov_a = feature_statistics(a)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(cov_a), np.cov(a.T), atol=1e-5
    )
    expected = _reference(a.mean(0), np.cov(a.T), b.mean(0), np.cov(b.T))
    np.testing.assert_allclose(_f(frechet_distance(a, b)), expected, rtol=1e-4)
    assert _f(frechet_distance(a, a)) < 1e-4
    # Two samples of one distribution: near 0, far below two distributions.
    c = rng.multivariate_normal(np.zeros(6), np.eye(6), size=(2, 4000))
    same = _f(frechet_distance(c[0], c[1]))
    assert same < 0.02 < 100 * same < _f(frechet_distance(c[0], b))


def test_bad_shapes():
    with pytest.raises(ValueError, match=r"shape \(n, d\) with n >= 2"):
        frechet_distance(np.zeros((1, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"means of shape \(d,\)"):
        frechet_distance_from_moments(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_streaming_metrics_on_a_classifier():
    classifier = build_sample_classifier((8, 8, 1), 3, feature_dim=8)
    rng = np.random.default_rng(2)
    real = rng.random((40, 8, 8, 1)).astype("float32")
    fake = (rng.random((30, 8, 8, 1)) ** 2).astype("float32")
    metric = FrechetClassifierDistance(classifier)
    for start in range(0, 40, 16):  # batches of different sizes
        metric.update_state(real[start : start + 16])
    metric.update_state(None, fake[:10])
    metric.update_state(None, fake[10:])
    extractor = keras.Model(
        classifier.inputs[0], classifier.get_layer("features").output
    )
    expected = frechet_distance(
        keras.ops.convert_to_numpy(extractor(real)),
        keras.ops.convert_to_numpy(extractor(fake)),
    )
    np.testing.assert_allclose(_f(metric.result()), _f(expected), rtol=1e-3, atol=1e-6)
    metric.reset_state()
    metric.update_state(real, real)
    assert _f(metric.result()) < 1e-4
    run_serialization_test(metric)
    with pytest.raises(ValueError, match="feature_layer='nope'"):
        FrechetClassifierDistance(classifier, feature_layer="nope")

    accuracy = SampleClassAccuracy(classifier)
    predicted = np.argmax(keras.ops.convert_to_numpy(classifier(real)), axis=-1)
    labels = predicted.copy()
    labels[:10] = (labels[:10] + 1) % 3
    accuracy.update_state(labels, real)
    assert _f(accuracy.result()) == pytest.approx(0.75)
    run_serialization_test(accuracy)


@pytest.mark.slow
def test_trained_classifier_separates_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype("float32")
    y = digits.target
    classifier = train_sample_classifier(x[:1200], y[:1200], 10, epochs=4)
    accuracy = SampleClassAccuracy(classifier)
    accuracy.update_state(y[1200:], x[1200:])
    assert _f(accuracy.result()) > 0.85
    # Real held-out digits are close to the training digits; noise is far.
    fd_real = FrechetClassifierDistance(classifier)
    fd_real.update_state(x[:500], x[1200:1700])
    fd_noise = FrechetClassifierDistance(classifier)
    noise = np.random.default_rng(0).random((500, 8, 8, 1)).astype("float32")
    fd_noise.update_state(x[:500], noise)
    assert 10 * _f(fd_real.result()) < _f(fd_noise.result())
    with pytest.raises(ValueError, match="n labels"):
        train_sample_classifier(x[:5], y[:4])
