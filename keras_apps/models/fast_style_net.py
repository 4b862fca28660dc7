"""The feed-forward style network of Johnson et al. 2016 (fast style transfer)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras

from keras_apps.api_export import keras_apps_export
from keras_apps.layers._checks import positive_int_error
from keras_apps.types import Shape, Tensor

_UPSAMPLINGS = ("nearest", "transpose")


@keras.saving.register_keras_serializable(package="keras_apps")
class _FastStyleNetCrop(keras.layers.Layer):
    """Crops ``inputs[0]`` to the height and width of ``inputs[1]``.

    The strided convolutions and the upsampling of `FastStyleNet` give back
    ``4 * ceil(H / 4)`` rows; this trims them to the input's ``H`` (and ``W``).
    A helper of `FastStyleNet`, not part of the public API.
    """

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        image, reference = inputs
        shape = keras.ops.shape(reference)
        return image[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        image, reference = input_shape
        return (image[0], reference[1], reference[2], image[3])


@keras.saving.register_keras_serializable(package="keras_apps")
class _FastStyleNetResidualOutput(keras.layers.Layer):
    """``127.5 * (1 + tanh(atanh(x / 127.5 - 1) + r))`` for ``[r, x]``.

    The change ``r`` is added to the image ``x`` in tanh-logit space, so the
    result stays in 0..255 with gradients everywhere and ``r = 0`` gives back
    ``x`` (up to ``margin``, which keeps ``atanh`` finite at 0 and 255).
    A helper of `FastStyleNet` (``residual_output=True``), not public API.
    """

    def __init__(self, margin: float = 0.01, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.margin = float(margin)

    def call(self, inputs: Sequence[Tensor]) -> Tensor:
        change, images = inputs
        images = keras.ops.cast(images, change.dtype)
        scaled = keras.ops.clip(
            images / 127.5 - 1.0, -1.0 + self.margin, 1.0 - self.margin
        )
        return 127.5 * (1.0 + keras.ops.tanh(keras.ops.arctanh(scaled) + change))

    def compute_output_shape(self, input_shape: Sequence[Shape]) -> Shape:
        return tuple(input_shape[0])

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "margin": self.margin}


@keras_apps_export("keras_apps.models.FastStyleNet")
class FastStyleNet(keras.Model):
    """Johnson et al.'s image transformation network for real-time style transfer.

    ``c9s1-f0, d-f1, d-f2, R-f2 x residual_blocks, u-f1, u-f0, c9s1-3``: a
    9x9 convolution, two stride-2 3x3 convolutions, residual blocks (two 3x3
    convolutions with instance normalization, ReLU between, identity
    shortcut; ``ResidualUnit`` uses batch normalization and a ReLU after the
    addition, which this network does not), two x2 upsamplings and a 9x9
    convolution to RGB. Every convolution but the last is followed by
    instance normalization (Ulyanov et al. 2016, ``GroupNormalization
    (groups=-1)``) and a ReLU; the last by ``tanh`` scaled to 0..255.

    ``upsampling_normalization=False`` leaves the two upsampling
    convolutions without instance normalization (ReLU only). Trained with
    ``residual_output=True`` for a few hundred steps, the normalized network
    tends to put its change into a few saturated blobs in flat regions (one
    strong local activation sets the per-image statistics of the map, like
    the "droplet" artefacts Karras et al. 2020 trace to the instance
    normalization of StyleGAN); without these two normalizations the change
    spreads over the image.

    Upsampling is nearest-neighbour resizing followed by a 3x3 convolution
    (``"nearest"``, default: no checkerboard artefacts, Odena et al. 2016) or
    the paper's stride-2 transposed convolution (``"transpose"``).

    With ``residual_output=True`` the network predicts a change to its input
    instead of the image itself (global residual learning, as VDSR does for
    super-resolution, Kim et al. 2016): ``output = 127.5 * (1 + tanh(atanh(x
    / 127.5 - 1) + r))`` with ``r`` the last convolution, which starts at
    zero, so the untrained network is the identity and the content survives
    from the first step; it then only learns the stylization. This is not in
    Johnson et al. (whose network must first learn to reproduce its input,
    thousands of steps); it trains to a recognisable result in a few hundred
    steps, which is what a CPU allows.

    The network is fully convolutional: it takes RGB images of any size in
    0..255 and returns images of the same size in 0..255 (sizes that are not
    a multiple of 4 are cropped back). Train it with ``model.fit`` on content
    images with a `keras_apps.losses.StyleContentLoss` (``y_true`` = the
    content images):

    ```python
    loss = StyleContentLoss("vgg16", style_image, normalization="johnson",
                            style_weight=1e5, tv_weight=1e-6)
    net = FastStyleNet()
    net.compile(keras.optimizers.Adam(1e-3), loss=loss)
    net.fit(images, images, batch_size=4, epochs=2)
    ```

    Args:
        filters: Filters of the three resolutions. Defaults to
            ``(32, 64, 128)``.
        residual_blocks: Number of residual blocks. Defaults to 5.
        outer_kernel_size: Kernel size of the first and last convolutions.
            Defaults to 9.
        upsampling: ``"nearest"`` (default) or ``"transpose"``.
        residual_output: Predict a change to the input image (see above)
            instead of the image. Defaults to False (Johnson et al.).
        upsampling_normalization: Instance-normalize the two upsampling
            convolutions (Johnson et al.). Defaults to True.
        epsilon: Epsilon of the instance normalizations. Defaults to 1e-5.
        name: Model name. Defaults to ``"fast_style_net"``.
        dtype: Dtype policy for every layer (e.g. ``"mixed_float16"``).
        **kwargs: Further `keras.Model` keyword arguments (``trainable``).

    Input shape:
        ``(batch, height, width, 3)``, 0..255, any height and width.

    Output shape:
        ``(batch, height, width, 3)``, 0..255.

    Example:

    >>> import numpy as np
    >>> from keras_apps.models import FastStyleNet
    >>> net = FastStyleNet(filters=(4, 8, 8), residual_blocks=1)
    >>> tuple(net(np.zeros((1, 18, 22, 3), "float32")).shape)
    (1, 18, 22, 3)

    Reference:
        - Johnson, Alahi and Fei-Fei, "Perceptual Losses for Real-Time Style
          Transfer and Super-Resolution", ECCV 2016.
        - Ulyanov, Vedaldi and Lempitsky, "Instance Normalization: The
          Missing Ingredient for Fast Stylization", 2016.
        - Karras et al., "Analyzing and Improving the Image Quality of
          StyleGAN", CVPR 2020 (blob artefacts of instance normalization).
    """

    def __init__(
        self,
        filters: Sequence[int] = (32, 64, 128),
        residual_blocks: int = 5,
        outer_kernel_size: int = 9,
        upsampling: str = "nearest",
        epsilon: float = 1e-5,
        residual_output: bool = False,
        upsampling_normalization: bool = True,
        name: str = "fast_style_net",
        dtype: Any = None,
        **kwargs: Any,
    ) -> None:
        errors: list[str | None] = []
        filters_ok = (
            isinstance(filters, (list, tuple))
            and len(filters) == 3
            and all(positive_int_error("f", f) is None for f in filters)
        )
        if not filters_ok:
            errors.append(
                "`filters` must be three positive integers. "
                f"Received: filters={filters!r}"
            )
        errors.append(positive_int_error("residual_blocks", residual_blocks))
        errors.append(positive_int_error("outer_kernel_size", outer_kernel_size))
        if upsampling not in _UPSAMPLINGS:
            errors.append(
                f"`upsampling` must be one of {_UPSAMPLINGS}. "
                f"Received: upsampling={upsampling!r}"
            )
        if not isinstance(residual_output, bool):
            errors.append(
                "`residual_output` must be True or False. "
                f"Received: residual_output={residual_output!r}"
            )
        if not isinstance(upsampling_normalization, bool):
            errors.append(
                "`upsampling_normalization` must be True or False. Received: "
                f"upsampling_normalization={upsampling_normalization!r}"
            )
        messages = [e for e in errors if e]
        if messages:
            raise ValueError(" ".join(messages))
        f0, f1, f2 = (int(f) for f in filters)

        def conv(
            x: Any, out: int, size: int, stride: int, label: str, **options: Any
        ) -> Any:
            return keras.layers.Conv2D(
                out,
                size,
                strides=stride,
                padding="same",
                dtype=dtype,
                name=label,
                **options,
            )(x)

        def norm_relu(x: Any, label: str, relu: bool = True) -> Any:
            x = keras.layers.GroupNormalization(
                groups=-1, epsilon=epsilon, dtype=dtype, name=f"{label}_in"
            )(x)
            if relu:
                x = keras.layers.ReLU(dtype=dtype, name=f"{label}_relu")(x)
            return x

        inputs = keras.Input((None, None, 3), name="images")
        x = keras.layers.Rescaling(1 / 127.5, offset=-1.0, dtype=dtype, name="scale")(
            inputs
        )
        x = norm_relu(conv(x, f0, outer_kernel_size, 1, "conv1"), "conv1")
        x = norm_relu(conv(x, f1, 3, 2, "down1"), "down1")
        x = norm_relu(conv(x, f2, 3, 2, "down2"), "down2")
        for block in range(1, residual_blocks + 1):
            label = f"res{block}"
            y = norm_relu(conv(x, f2, 3, 1, f"{label}_conv1"), f"{label}_conv1")
            y = norm_relu(
                conv(y, f2, 3, 1, f"{label}_conv2"), f"{label}_conv2", relu=False
            )
            x = keras.layers.Add(dtype=dtype, name=f"{label}_add")([x, y])
        for index, out in enumerate((f1, f0), start=1):
            label = f"up{index}"
            if upsampling == "nearest":
                x = keras.layers.UpSampling2D(
                    2, interpolation="nearest", dtype=dtype, name=f"{label}_resize"
                )(x)
                x = conv(x, out, 3, 1, label)
            else:
                x = keras.layers.Conv2DTranspose(
                    out, 3, strides=2, padding="same", dtype=dtype, name=label
                )(x)
            if upsampling_normalization:
                x = norm_relu(x, label)
            else:
                x = keras.layers.ReLU(dtype=dtype, name=f"{label}_relu")(x)
        if residual_output:
            # A zero last convolution: the untrained network is the identity.
            x = conv(x, 3, outer_kernel_size, 1, "to_rgb", kernel_initializer="zeros")
            x = _FastStyleNetCrop(dtype=dtype, name="crop")([x, inputs])
            outputs = _FastStyleNetResidualOutput(dtype=dtype, name="to_pixels")(
                [x, inputs]
            )
        else:
            x = conv(x, 3, outer_kernel_size, 1, "to_rgb")
            x = keras.layers.Activation("tanh", dtype=dtype, name="tanh")(x)
            x = keras.layers.Rescaling(
                127.5, offset=127.5, dtype=dtype, name="to_pixels"
            )(x)
            outputs = _FastStyleNetCrop(dtype=dtype, name="crop")([x, inputs])
        super().__init__(
            inputs=inputs, outputs=outputs, name=name, dtype=dtype, **kwargs
        )
        self.filters = (f0, f1, f2)
        self.residual_blocks = residual_blocks
        self.outer_kernel_size = outer_kernel_size
        self.upsampling = upsampling
        self.epsilon = epsilon
        self.residual_output = residual_output
        self.upsampling_normalization = upsampling_normalization
        # The policy of the layers (a functional model keeps no policy of its
        # own from `dtype=`).
        self.layers_dtype = None if dtype is None else keras.dtype_policies.get(dtype)

    def get_config(self) -> dict[str, Any]:
        return {
            "filters": list(self.filters),
            "residual_blocks": self.residual_blocks,
            "outer_kernel_size": self.outer_kernel_size,
            "upsampling": self.upsampling,
            "epsilon": self.epsilon,
            "residual_output": self.residual_output,
            "upsampling_normalization": self.upsampling_normalization,
            "name": self.name,
            "dtype": None
            if self.layers_dtype is None
            else keras.dtype_policies.serialize(self.layers_dtype),
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FastStyleNet:
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.dtype_policies.deserialize(config["dtype"])
        return cls(**config)
