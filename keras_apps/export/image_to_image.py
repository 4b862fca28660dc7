"""Image-to-image serving signatures: uint8 pixels or image bytes in, uint8 out.

For any model with one image input and one image output in 0..255 (a style
network, a denoiser, a segmentation map rendered as RGB ...),
``export_for_serving(..., image_to_image=True)`` adds:

- ``serving_image_to_image``: ``images`` (uint8, ``(batch, H, W, C)``) ->
  ``images`` (uint8);
- ``serving_image_to_image_strength``: the same plus ``strength`` (float32
  scalar in [0, 1]): the output is ``input + strength * (model(input) -
  input)``, so 0 gives the input back and 1 the model's output (needs an
  output of the input's shape);
- ``serving_image_bytes_to_image``: ``image_bytes`` (a batch of encoded
  JPEG/PNG/GIF/BMP strings, all of one size) -> ``images`` (uint8).

Inputs are fed as float pixels in 0..255, resized bilinearly to the model's
input size when it has a fixed one; outputs are clipped to 0..255, rounded
and cast to uint8. Needs TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

IMAGE_TO_IMAGE_SIGNATURE = "serving_image_to_image"
IMAGE_TO_IMAGE_STRENGTH_SIGNATURE = "serving_image_to_image_strength"
IMAGE_BYTES_TO_IMAGE_SIGNATURE = "serving_image_bytes_to_image"
IMAGES_KEY = "images"
STRENGTH_KEY = "strength"
IMAGE_BYTES_KEY = "image_bytes"

SIGNATURES = (
    IMAGE_TO_IMAGE_SIGNATURE,
    IMAGE_TO_IMAGE_STRENGTH_SIGNATURE,
    IMAGE_BYTES_TO_IMAGE_SIGNATURE,
)


def to_uint8(images: Any) -> Any:
    """Float pixels to uint8: clipped to 0..255 and rounded."""
    return tf.cast(tf.round(tf.clip_by_value(images, 0.0, 255.0)), tf.uint8)


def image_to_image_functions(
    plan: Any, output_names: list[str], serve: Callable[..., dict[str, Any]]
) -> tuple[dict[str, Callable[..., Any]], dict[str, list[tf.TensorSpec]]]:
    """The image-to-image functions and their input specs.

    Args:
        plan: The `InputPlan` of the model (one float image input).
        output_names: The model's output keys (exactly one).
        serve: The ``serving_default`` function (float pixels -> outputs).
    """
    if len(plan.specs) != 1 or len(output_names) != 1:
        raise ValueError(
            "image_to_image signatures need a model with one image input and "
            f"one image output. Received inputs {plan.names} and outputs "
            f"{output_names}."
        )
    spec = plan.specs[0]
    shape = tuple(spec.shape)
    if len(shape) != 4 or shape[3] not in (1, 3) or not spec.dtype.is_floating:
        raise ValueError(
            "image_to_image signatures need one float image input of shape "
            f"(batch, height, width, 1 or 3). Received: input {plan.names[0]!r} "
            f"of shape {list(shape)} and dtype {spec.dtype.name}."
        )
    height, width, channels = shape[1], shape[2], int(shape[3])
    dtype = spec.dtype
    output_key = output_names[0]

    def to_model_input(pixels: Any) -> Any:
        pixels = tf.cast(pixels, tf.float32)
        if height is not None and width is not None:
            size = tf.shape(pixels)[1:3]
            pixels = tf.cond(
                tf.reduce_all(tf.equal(size, [height, width])),
                lambda: pixels,
                lambda: tf.image.resize(pixels, (height, width), method="bilinear"),
            )
            pixels = tf.ensure_shape(pixels, (None, height, width, channels))
        return pixels

    def styled(pixels: Any) -> Any:
        output = serve(tf.cast(pixels, dtype))[output_key]
        return tf.cast(output, tf.float32)

    def serve_uint8(images: Any) -> dict[str, Any]:
        return {IMAGES_KEY: to_uint8(styled(to_model_input(images)))}

    def serve_strength(images: Any, strength: Any) -> dict[str, Any]:
        pixels = to_model_input(images)
        output = styled(pixels)
        strength = tf.clip_by_value(tf.cast(strength, tf.float32), 0.0, 1.0)
        return {IMAGES_KEY: to_uint8(pixels + strength * (output - pixels))}

    def decode_one(encoded: Any) -> Any:
        image = tf.io.decode_image(encoded, channels=channels, expand_animations=False)
        return tf.cast(image, tf.float32)

    def serve_bytes(image_bytes: Any) -> dict[str, Any]:
        images = tf.map_fn(
            decode_one,
            image_bytes,
            fn_output_signature=tf.TensorSpec((None, None, channels), tf.float32),
        )
        return serve_uint8(images)

    uint8_spec = tf.TensorSpec((None, None, None, channels), tf.uint8, name=IMAGES_KEY)
    functions: dict[str, Callable[..., Any]] = {
        IMAGE_TO_IMAGE_SIGNATURE: serve_uint8,
        IMAGE_TO_IMAGE_STRENGTH_SIGNATURE: serve_strength,
        IMAGE_BYTES_TO_IMAGE_SIGNATURE: serve_bytes,
    }
    specs = {
        IMAGE_TO_IMAGE_SIGNATURE: [uint8_spec],
        IMAGE_TO_IMAGE_STRENGTH_SIGNATURE: [
            uint8_spec,
            tf.TensorSpec((), tf.float32, name=STRENGTH_KEY),
        ],
        IMAGE_BYTES_TO_IMAGE_SIGNATURE: [
            tf.TensorSpec((None,), tf.string, name=IMAGE_BYTES_KEY)
        ],
    }
    return functions, specs


def validate_image_to_image(
    functions: dict[str, Callable[..., Any]],
    input_shape: tuple[int | None, ...],
    reloaded: Any,
) -> dict[str, float]:
    """Compares each reloaded image-to-image signature with the in-memory one.

    uint8 outputs may differ by one step where a value sits on a rounding
    boundary; anything more raises `ExportValidationError`.
    """
    from keras_apps.export.saved_model import ExportValidationError

    if IMAGE_TO_IMAGE_SIGNATURE not in functions:
        return {}
    height = input_shape[1] or 12
    width = input_shape[2] or 12
    channels = int(input_shape[3] or 3)
    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (2, height, width, channels), dtype=np.uint8)
    encoded = tf.constant([tf.io.encode_png(p).numpy() for p in pixels])
    strength = tf.constant(0.5, tf.float32)
    cases = {
        IMAGE_TO_IMAGE_SIGNATURE: ({IMAGES_KEY: tf.constant(pixels)},),
        IMAGE_TO_IMAGE_STRENGTH_SIGNATURE: (
            {IMAGES_KEY: tf.constant(pixels), STRENGTH_KEY: strength},
        ),
        IMAGE_BYTES_TO_IMAGE_SIGNATURE: ({IMAGE_BYTES_KEY: encoded},),
    }
    diffs = {}
    for name, (inputs,) in cases.items():
        expected = functions[name](**inputs)[IMAGES_KEY].numpy().astype("int32")
        actual = reloaded.signatures[name](**inputs)[IMAGES_KEY].numpy().astype("int32")
        if actual.shape != expected.shape:
            raise ExportValidationError(
                f"{name}: output 'images' has shape {list(actual.shape)} after "
                f"reload and {list(expected.shape)} in the model."
            )
        diff = float(np.max(np.abs(actual - expected))) if actual.size else 0.0
        if diff > 1:
            raise ExportValidationError(
                f"{name}: output 'images' differs from the in-memory model by up "
                f"to {diff:g} (accepted: 1, a rounding step). The export was not "
                "written."
            )
        diffs[name] = diff
    return diffs
