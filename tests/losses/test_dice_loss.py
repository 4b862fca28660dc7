import keras
import numpy as np
import pytest

from keras_apps.losses import CrossEntropyDiceLoss, DiceLoss
from keras_apps.testing.test_case import run_serialization_test

EPS = 1e-7


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _dice_reference(targets, probs, smooth, class_weights=None):
    """Per-image loss, written out with loops over images and classes."""
    batch, classes = probs.shape[0], probs.shape[-1]
    losses = np.zeros(batch)
    weights = np.ones(classes) if class_weights is None else np.array(class_weights)
    for b in range(batch):
        dice = np.zeros(classes)
        for c in range(classes):
            t, p = targets[b, ..., c].ravel(), probs[b, ..., c].ravel()
            dice[c] = (2 * np.dot(t, p) + smooth) / (t.sum() + p.sum() + smooth)
        losses[b] = 1 - (dice * weights).sum() / weights.sum()
    return losses


def _data(classes, seed=0, shape=(3, 5, 6)):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(*shape, classes)).astype("float32") * 2
    labels = rng.integers(0, max(classes, 2), size=shape)
    return logits, labels


def _value(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


@pytest.mark.parametrize("smooth", [0.0, 1.0])
@pytest.mark.parametrize("from_logits", [False, True])
def test_dice_multiclass_matches_numpy(smooth, from_logits):
    logits, labels = _data(4)
    probs = _softmax(logits)
    one_hot = np.eye(4, dtype="float32")[labels]
    expected = _dice_reference(one_hot, probs, smooth).mean()
    loss = DiceLoss(smooth=smooth, from_logits=from_logits)
    y_pred = logits if from_logits else probs
    # Integer labels, labels with a channel axis and one-hot give one value.
    for y_true in (labels, labels[..., None], one_hot):
        np.testing.assert_allclose(_value(loss(y_true, y_pred)), expected, rtol=1e-5)


def test_dice_binary_and_class_weights_and_sample_weight():
    logits, labels = _data(1, seed=1)
    probs = _sigmoid(logits)
    masks = labels[..., None].astype("float32")
    per_image = _dice_reference(masks, probs, 1.0)
    loss = DiceLoss()
    np.testing.assert_allclose(_value(loss(masks, probs)), per_image.mean(), rtol=1e-5)
    np.testing.assert_allclose(
        _value(DiceLoss(from_logits=True)(labels, logits)), per_image.mean(), rtol=1e-5
    )
    weights = np.array([2.0, 0.0, 1.0])
    np.testing.assert_allclose(
        _value(loss(masks, probs, sample_weight=weights)),
        (per_image * weights).sum() / 3,  # sum over batch size
        rtol=1e-5,
    )
    none = DiceLoss(reduction=None)
    np.testing.assert_allclose(_value(none(masks, probs)), per_image, rtol=1e-5)

    logits, labels = _data(3, seed=2)
    probs, one_hot = _softmax(logits), np.eye(3)[labels]
    class_weights = [0.0, 1.0, 3.0]  # e.g. leave the background out
    np.testing.assert_allclose(
        _value(DiceLoss(class_weights=class_weights)(labels, probs)),
        _dice_reference(one_hot, probs, 1.0, class_weights).mean(),
        rtol=1e-5,
    )


def test_dice_limits():
    mask = np.zeros((2, 4, 4, 1), "float32")
    mask[0, :2] = 1.0
    # Perfect prediction: 0; an empty mask predicted empty is perfect too.
    np.testing.assert_allclose(_value(DiceLoss()(mask, mask)), 0.0, atol=1e-7)
    # Disjoint prediction without smoothing: 1.
    np.testing.assert_allclose(
        _value(DiceLoss(smooth=0.0, reduction=None)(mask[:1], 1 - mask[:1])), [1.0]
    )


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("classes", [1, 3])
def test_cross_entropy_dice_matches_numpy(from_logits, classes):
    logits, labels = _data(classes, seed=3)
    if classes == 1:
        probs = _sigmoid(logits)
        targets = labels[..., None].astype("float32")
        clipped = np.clip(probs, EPS, 1 - EPS)
        pixel_ce = -(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
        pixel_ce = pixel_ce[..., 0]
    else:
        probs = _softmax(logits)
        targets = np.eye(classes)[labels]
        pixel_ce = -(targets * np.log(np.clip(probs, EPS, 1 - EPS))).sum(-1)
    ce = pixel_ce.reshape(len(probs), -1).mean(axis=1)
    dice = _dice_reference(targets, probs, 1.0)
    expected = (0.5 * ce + 2.0 * dice).mean()
    loss = CrossEntropyDiceLoss(ce_weight=0.5, dice_weight=2.0, from_logits=from_logits)
    y_pred = logits if from_logits else probs
    np.testing.assert_allclose(_value(loss(labels, y_pred)), expected, rtol=1e-4)
    # Its Dice part is DiceLoss exactly.
    dice_only = CrossEntropyDiceLoss(ce_weight=0.0, from_logits=from_logits)
    np.testing.assert_allclose(
        _value(dice_only(labels, y_pred)),
        _value(DiceLoss(from_logits=from_logits)(labels, y_pred)),
        rtol=1e-6,
    )


def test_losses_train_a_model():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 8, 8, 1)).astype("float32")
    y = (x > 0.3).astype("float32")  # a mask the model can learn pixel-wise
    for loss in (DiceLoss(), CrossEntropyDiceLoss(from_logits=True)):
        model = keras.Sequential(
            [keras.Input((8, 8, 1)), keras.layers.Conv2D(1, 1)]
            + ([] if loss.name != "dice_loss" else [keras.layers.Activation("sigmoid")])
        )
        model.compile(keras.optimizers.Adam(0.1), loss=loss)
        history = model.fit(x, y, epochs=15, batch_size=8, verbose=0).history["loss"]
        # The start depends on the backend's initial weights; both backends
        # bring the loss down by more than a quarter in 15 epochs (JAX: 0.31 -> 0.16).
        assert history[-1] < 0.75 * history[0], (loss.name, history)


@pytest.mark.parametrize(
    "cls, kwargs, match",
    [
        (DiceLoss, dict(smooth=-1), "smooth=-1"),
        (DiceLoss, dict(class_weights=[1, -1]), r"class_weights=\[1, -1\]"),
        (DiceLoss, dict(class_weights="ab"), "class_weights='ab'"),
        (DiceLoss, dict(class_weights=[0, 0]), r"not all zero"),
        (CrossEntropyDiceLoss, dict(ce_weight=-1), "ce_weight=-1"),
        (CrossEntropyDiceLoss, dict(ce_weight=0, dice_weight=0), "At least one"),
    ],
)
def test_bad_arguments_raise(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_bad_shapes_raise():
    probs = np.full((2, 4, 4, 3), 1 / 3, "float32")
    with pytest.raises(ValueError, match=r"y_true.shape=\(2, 4, 4, 2\)"):
        DiceLoss()(np.zeros((2, 4, 4, 2)), probs)
    with pytest.raises(ValueError, match="has 2 entries but the prediction has 3"):
        DiceLoss(class_weights=[1, 1])(np.zeros((2, 4, 4)), probs)


def test_serialization():
    for loss in (
        DiceLoss(smooth=0.5, from_logits=True, class_weights=[0, 1]),
        CrossEntropyDiceLoss(ce_weight=0.3, dice_weight=0.7, name="combo"),
    ):
        revived = run_serialization_test(loss)
        assert revived.get_config() == loss.get_config()
