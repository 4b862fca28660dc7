"""Weight counts and multiply counts of full-size models without running them.

A parameter count or a multiply count depends on the shapes of the weights
and of the activations only, never on their values. On JAX every distinct
(op, shape, dtype) costs an XLA compile the first time it runs eagerly: the
weight initializer of every distinct kernel shape, every op of a forward pass
on zeros. For a full-size GoogLeNet or ResNet-50 that is tens of seconds of
compiling for numbers that follow from shapes alone. These helpers build the
same model with the same code, but leave its weights unset, and trace the
forward pass of `keras_apps.utils.count_multiplies` instead of running it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras

from keras_apps.utils import count_multiplies


@contextlib.contextmanager
def weights_unset() -> Iterator[None]:
    """Models built in this context have weights with shapes but no values.

    It is ``keras.StatelessScope(initialize_variables=False)``: every layer
    builds as usual and creates its variables, whose initializers are kept
    but not run. ``count_params()``, ``weights`` and their shapes are those
    of a normally built model. Use such a model for counts and layer
    checks only, not for outputs.

    Example:

    >>> import keras
    >>> from keras_apps.testing.shapes_only import weights_unset
    >>> with weights_unset():
    ...     model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(4)])
    >>> model.count_params()
    36
    """
    with keras.StatelessScope(initialize_variables=False):
        yield


def traced_multiplies(
    model_or_layer: keras.layers.Layer, input_shape: Any = None
) -> int:
    """`keras_apps.utils.count_multiplies`, traced instead of run on JAX.

    The count comes from the same observed ``call``s; on JAX the forward
    pass runs inside ``jax.eval_shape``, so no op is compiled. On other
    backends it is `count_multiplies` itself.

    Example:

    >>> import keras
    >>> from keras_apps.testing.shapes_only import traced_multiplies
    >>> conv = keras.layers.Conv2D(32, 5, padding="same")
    >>> traced_multiplies(conv, input_shape=(28, 28, 192))
    120422400
    """
    if keras.backend.backend() != "jax":
        return count_multiplies(model_or_layer, input_shape)
    import jax

    counts: list[int] = []
    jax.eval_shape(lambda: counts.append(count_multiplies(model_or_layer, input_shape)))
    return counts[0]
