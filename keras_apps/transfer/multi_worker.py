"""A MultiWorkerMirroredStrategy that Keras 3's ``model.fit`` can train under."""

from __future__ import annotations

from typing import Any

from keras_apps import _backend


def multi_worker_mirrored_strategy(
    cluster_resolver: Any = None, communication_options: Any = None
) -> Any:
    """``tf.distribute.MultiWorkerMirroredStrategy`` for Keras 3's ``fit``.

    Keras 3 calls the strategy's ``reduce`` in two ways that
    MultiWorkerMirroredStrategy refuses when it spans several workers, so
    ``model.fit`` fails before or at its first step (seen on Keras 3.15.1 with
    TensorFlow 2.21; keras-team/keras#20585, tensorflow/tensorflow#72388):

    - on the whole ``(x, y)`` batch, to build the model before training
      ("Attempt to convert a value (PerReplica ...) to a Tensor"): this
      strategy reduces one value at a time, not a nested structure;
    - with ``axis=0`` on the scalar loss and metrics of each step ("Invalid
      reduction dimension 0 for input with 0 dimensions").

    The returned object is TensorFlow's strategy, created with the same
    arguments, whose ``reduce`` (on this instance only) maps over nested
    values and reduces scalars across the replicas alone (``axis=None``, the
    same mean). For every call the strategy accepted before, the result is
    unchanged, so the wrapper is harmless on a Keras that no longer needs it.
    Use it in place of ``tf.distribute.MultiWorkerMirroredStrategy()`` on
    every worker, with ``TF_CONFIG`` naming the cluster::

        strategy = multi_worker_mirrored_strategy()
        with strategy.scope():
            model = build_classifier(backbone, num_classes=5)
            model.compile(...)
        model.fit(dataset, epochs=3)

    ``tests/transfer/test_scaling_out.py`` trains two workers on 127.0.0.1
    this way and gets the weights of one device for the same global batch.

    Args:
        cluster_resolver: Passed on to the strategy (default: ``TF_CONFIG``).
        communication_options: Passed on (a ``tf.distribute.experimental.
            CommunicationOptions``).

    Returns:
        A ``tf.distribute.MultiWorkerMirroredStrategy``.

    Raises:
        NotImplementedError: On a backend other than TensorFlow.
    """
    _backend.require_tensorflow(
        "multi_worker_mirrored_strategy", "is a tf.distribute strategy"
    )
    import tensorflow as tf

    strategy = tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=cluster_resolver,
        communication_options=communication_options,
    )
    reduce_one = strategy.reduce

    def reduce(reduce_op: Any, value: Any, axis: int | None = None) -> Any:
        def one(item: Any) -> Any:
            local = strategy.experimental_local_results(item)
            scalar = bool(local) and getattr(local[0], "shape", None) == ()
            return reduce_one(reduce_op, item, axis=None if scalar else axis)

        return tf.nest.map_structure(one, value)

    reduce.__doc__ = reduce_one.__doc__
    strategy.reduce = reduce
    return strategy
