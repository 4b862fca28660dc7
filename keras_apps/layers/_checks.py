"""Argument and input checks shared by the layers and the models built from them."""

from __future__ import annotations

from typing import Any

from keras_apps.types import Shape


def positive_int_error(name: str, value: Any) -> str | None:
    """The message for a constructor argument that is not a positive int, or None.

    Booleans are refused although they are ints, so that ``filters=True`` is
    an error rather than one filter.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        return f"`{name}` must be a positive integer. Received: {name}={value!r}"
    return None


def check_feature_maps(
    layer_name: str, input_shape: Shape, need_channels: bool = False
) -> None:
    """Raises a clear ValueError unless ``input_shape`` is (B, H, W, C).

    Args:
        layer_name: The class name used in the message.
        input_shape: The shape received, batch axis included.
        need_channels: Whether the channel dimension must be known (layers
            that create weights from it).
    """
    if len(input_shape) != 4:
        raise ValueError(
            f"{layer_name} expects channels-last inputs of rank 4, "
            "(batch, height, width, channels), such as the output of a Conv2D "
            "layer; add a batch axis to a single image. "
            f"Received: input_shape={tuple(input_shape)}"
        )
    if need_channels and input_shape[-1] is None:
        raise ValueError(
            f"{layer_name} needs a known channel dimension. "
            f"Received: input_shape={tuple(input_shape)}"
        )
