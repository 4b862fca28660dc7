import keras
import numpy as np
import pytest

from keras_apps.metrics import Dice, IoU
from keras_apps.testing.test_case import run_serialization_test


def _counts(true_labels, pred_labels, classes, weights=None):
    weights = np.ones(true_labels.shape) if weights is None else weights
    tp, pred, act = np.zeros(classes), np.zeros(classes), np.zeros(classes)
    for c in range(classes):
        tp[c] = (weights * ((true_labels == c) & (pred_labels == c))).sum()
        pred[c] = (weights * (pred_labels == c)).sum()
        act[c] = (weights * (true_labels == c)).sum()
    return tp, pred, act


def _reference(kind, tp, pred, act, class_ids=None):
    if kind == "iou":
        num, den = tp, pred + act - tp
    else:
        num, den = 2 * tp, pred + act
    scores = np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)
    keep = den > 0
    if class_ids is not None:
        keep &= np.isin(np.arange(len(tp)), class_ids)
    mean = scores[keep].mean() if keep.any() else 0.0
    return scores, mean


def _batches(classes, n=4, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        labels = rng.integers(0, classes, size=(3, 6, 5))
        logits = rng.normal(size=(3, 6, 5, classes)) + 2.0 * np.eye(classes)[labels]
        yield labels, logits.astype("float32")


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("cls, kind", [(IoU, "iou"), (Dice, "dice")])
@pytest.mark.parametrize("class_ids", [None, [1], [0, 2]])
def test_streams_over_batches_like_numpy(cls, kind, class_ids):
    classes = 4
    metric = cls(classes, class_ids=class_ids)
    all_true, all_pred = [], []
    for step, (labels, logits) in enumerate(_batches(classes)):
        # Each batch in another target format: labels, labels[..., None], one-hot.
        y_true = [labels, labels[..., None], np.eye(classes)[labels]][step % 3]
        metric.update_state(y_true, logits)
        all_true.append(labels)
        all_pred.append(logits.argmax(-1))
        counts = _counts(np.concatenate(all_true), np.concatenate(all_pred), classes)
        scores, mean = _reference(kind, *counts, class_ids=class_ids)
        np.testing.assert_allclose(_numpy(metric.result()), mean, rtol=1e-6)
        np.testing.assert_allclose(_numpy(metric.per_class_result()), scores, rtol=1e-6)
    # The streamed score is the score of all pixels, not a mean of batch scores.
    metric.reset_state()
    assert float(_numpy(metric.result())) == 0.0


def test_binary_sigmoid_threshold_and_sample_weight():
    rng = np.random.default_rng(1)
    masks = (rng.uniform(size=(4, 8, 8, 1)) > 0.6).astype("float32")
    probs = np.clip(masks * 0.6 + rng.uniform(size=masks.shape) * 0.5, 0, 1)
    weights = np.array([1.0, 0.0, 2.0, 0.5])
    pixel_weights = np.broadcast_to(weights[:, None, None], (4, 8, 8))
    for threshold in (0.5, 0.7):
        metric = IoU(2, class_ids=[1], threshold=threshold)
        metric.update_state(masks, probs, sample_weight=weights)
        counts = _counts(masks[..., 0], probs[..., 0] > threshold, 2, pixel_weights)
        scores, _ = _reference("iou", *counts)
        np.testing.assert_allclose(_numpy(metric.result()), scores[1], rtol=1e-6)
    # Per-pixel weights, with and without the channel axis.
    pixel = rng.uniform(size=(4, 8, 8)).astype("float32")
    dice = Dice(2)
    dice.update_state(masks, probs, sample_weight=pixel[..., None])
    counts = _counts(masks[..., 0], probs[..., 0] > 0.5, 2, pixel)
    np.testing.assert_allclose(
        _numpy(dice.result()), _reference("dice", *counts)[1], rtol=1e-5
    )


def test_dice_equals_two_iou_over_one_plus_iou_per_class():
    iou, dice = IoU(3), Dice(3)
    for labels, logits in _batches(3, seed=2):
        iou.update_state(labels, logits)
        dice.update_state(labels, logits)
    per_iou = _numpy(iou.per_class_result())
    np.testing.assert_allclose(
        _numpy(dice.per_class_result()), 2 * per_iou / (1 + per_iou), rtol=1e-6
    )


def test_absent_classes_leave_the_mean():
    metric = IoU(3)
    labels = np.array([[[0, 0, 1, 1]]])
    metric.update_state(labels, np.eye(3)[labels])  # class 2 never appears
    assert _numpy(metric.per_class_result()).tolist() == [1.0, 1.0, 0.0]
    assert float(_numpy(metric.result())) == 1.0


def test_in_fit_and_evaluate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = (x > 0).astype("float32")
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 1, activation="sigmoid")]
    )
    metrics = [IoU(2, class_ids=[1], name="iou_fg"), Dice(2, name="dice")]
    model.compile(keras.optimizers.Adam(0.1), "binary_crossentropy", metrics=metrics)
    history = model.fit(x, y, epochs=10, batch_size=4, verbose=0).history
    assert history["iou_fg"][-1] > 0.9 and history["dice"][-1] > 0.9, history
    results = model.evaluate(x, y, batch_size=5, verbose=0, return_dict=True)
    pred = _numpy(model.predict(x, verbose=0))[..., 0] > 0.5
    _, expected = _reference("iou", *_counts(y[..., 0], pred, 2), class_ids=[1])
    np.testing.assert_allclose(results["iou_fg"], expected, rtol=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(num_classes=1), "num_classes=1"),
        (dict(num_classes=3, class_ids=[3]), r"class_ids=\[3\]"),
        (dict(num_classes=3, class_ids=1), "class_ids=1"),
        (dict(num_classes=2, threshold=1.5), "threshold=1.5"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    for cls in (IoU, Dice):
        with pytest.raises(ValueError, match=match):
            cls(**kwargs)


def test_bad_shapes_raise():
    metric = IoU(3)
    with pytest.raises(ValueError, match=r"expects predictions with 3 channels"):
        metric.update_state(np.zeros((1, 4, 4)), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(1, 4, 4, 2\)"):
        metric.update_state(np.zeros((1, 4, 4, 2)), np.zeros((1, 4, 4, 3)))


def test_serialization():
    for metric in (IoU(3, class_ids=[1, 2], name="fg"), Dice(2, threshold=0.3)):
        run_serialization_test(metric)
