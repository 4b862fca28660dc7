"""Pretrained backbones for transfer learning, and publishing your own.

`load_backbone` returns a feature extractor (no classification head) that
carries its own input preprocessing, so that it takes raw 0..255 images. It
knows the ``keras.applications`` networks, keras-cv backbones built from
explicit arguments, and TF Hub / Kaggle handles or local SavedModel
directories (through `keras_apps.layers.HubBackbone`).

`export_hub_module` writes a Keras model as a TF2 reusable SavedModel, the
format TF Hub publishes, so that a backbone you trained can be reused with
`HubBackbone` (or ``hub.load``) elsewhere.

Both need the TensorFlow backend.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import keras

from keras_apps import _backend, _compat
from keras_apps.types import Shape

__all__ = [
    "ImagenetPreprocessing",
    "WeightsUnavailableError",
    "export_hub_module",
    "known_backbones",
    "load_backbone",
]


# ---------------------------------------------------------------------------
# export_hub_module
# ---------------------------------------------------------------------------


def export_hub_module(
    model: keras.Model,
    path: str | os.PathLike[str],
    input_signature: Any = None,
    include_serving_signature: bool = True,
) -> str:
    """Writes ``model`` as a TF2 reusable SavedModel (the TF Hub format).

    The saved object has:

    - ``__call__(inputs, training=False)``: a ``tf.function`` traced for
      ``training=False`` and ``training=True`` (so that batch normalization
      can be fine-tuned);
    - ``variables`` and ``trainable_variables``: lists of ``tf.Variable``;
    - ``regularization_losses``: a list of argument-free ``tf.function``s,
      one per weight regularizer of the model (empty when there is none);
    - a ``serving_default`` signature (``training=False``) when
      ``include_serving_signature`` is True, so that TF Serving and
      ``saved_model_cli`` can use the directory too.

    This is what ``hub.load`` and `keras_apps.layers.HubBackbone` consume.

    Args:
        model: A built Keras model with known inputs (functional, Sequential
            with an ``Input``, or any model when ``input_signature`` is given).
        path: Directory to write. It must not exist yet or be empty.
        input_signature: Optional ``tf.TensorSpec`` (or a nested structure of
            them) describing ``inputs``. Defaults to the model's inputs with
            an unknown batch size.
        include_serving_signature: Whether to add the ``serving_default``
            signature.

    Returns:
        The path written, as a string.

    Example:

    >>> import tempfile, os, keras
    >>> from keras_apps.transfer.backbones import export_hub_module
    >>> model = keras.Sequential(
    ...     [keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3),
    ...      keras.layers.GlobalAveragePooling2D()])
    >>> path = export_hub_module(model, os.path.join(tempfile.mkdtemp(), "m"))
    >>> sorted(os.listdir(path))[:3]
    ['assets', 'assets.extra', 'fingerprint.pb']
    """
    import tensorflow as tf

    _backend.require_tensorflow("export_hub_module", "writes TensorFlow SavedModels")
    if not isinstance(model, keras.Model):
        raise TypeError(
            f"Expected a keras.Model. Received: model of type {type(model).__name__}"
        )
    path = os.fspath(path)
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ValueError(
            f"Expected `path` to be a new or empty directory. Received: "
            f"path={path!r}, which already exists and is not empty."
        )
    if input_signature is None:
        input_signature = _input_signature_of(model)

    def call(inputs: Any, training: bool = False) -> Any:
        return model(inputs, training=training)

    call_fn = tf.function(call, autograph=False)
    inference_fn = call_fn.get_concrete_function(input_signature, training=False)
    call_fn.get_concrete_function(input_signature, training=True)

    # A public trackable whose attributes are saved as they are; tf.Module
    # would not do, its `variables` are read-only properties, not saved.
    module = tf.train.Checkpoint()
    module.__call__ = call_fn
    # Keras variables serialize as the tf.Variables they wrap.
    module.variables = list(model.variables)
    module.trainable_variables = list(model.trainable_variables)
    module.regularization_losses = _regularization_functions(model)
    signatures = None
    if include_serving_signature:
        signatures = {"serving_default": inference_fn}
    tf.saved_model.save(module, path, signatures=signatures)
    # A network with its own Rescaling layer takes raw images: say so, so that
    # load_backbone does not rescale them a second time.
    rescales = any(
        isinstance(layer, keras.layers.Rescaling)
        for layer in _compat.flatten_layers(model)
    )
    extra = os.path.join(path, "assets.extra")
    os.makedirs(extra, exist_ok=True)
    with open(os.path.join(extra, _HUB_METADATA), "w") as file:
        json.dump({"rescales_its_inputs": rescales}, file)
    return path


_HUB_METADATA = "keras_apps_backbone.json"


def _rescales_its_inputs(handle: str) -> bool:
    """Whether a SavedModel from `export_hub_module` rescales its own inputs."""
    path = os.path.join(os.path.expanduser(handle), "assets.extra", _HUB_METADATA)
    if "://" in handle or not os.path.isfile(path):
        return False
    with open(path) as file:
        return bool(json.load(file).get("rescales_its_inputs", False))


def _input_signature_of(model: keras.Model) -> Any:
    import tensorflow as tf

    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    if not inputs:
        raise ValueError(
            "Cannot infer the input signature: the model has no known inputs "
            "(a subclassed model, or a Sequential model without keras.Input). "
            "Pass `input_signature=tf.TensorSpec((None, H, W, C), 'float32')`."
        )
    specs = [
        tf.TensorSpec((None, *tuple(x.shape)[1:]), x.dtype, name=_spec_name(x))
        for x in inputs
    ]
    return specs[0] if len(specs) == 1 else specs


def _spec_name(tensor: Any) -> str:
    name = getattr(tensor, "name", None) or "inputs"
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", name)


def _regularization_functions(model: keras.Model) -> list[Any]:
    import tensorflow as tf

    functions = []
    for weight in model.trainable_weights:
        regularizer = getattr(weight, "regularizer", None)
        if regularizer is None:
            continue

        function = tf.function(
            _penalty(regularizer, weight), input_signature=[], autograph=False
        )
        function.get_concrete_function()
        functions.append(function)
    return functions


def _penalty(regularizer: Any, weight: Any) -> Callable[[], Any]:
    def penalty() -> Any:
        return regularizer(weight)

    return penalty


# ---------------------------------------------------------------------------
# load_backbone
# ---------------------------------------------------------------------------


class WeightsUnavailableError(RuntimeError):
    """Pretrained weights were asked for but could not be downloaded."""


@dataclass(frozen=True)
class _Application:
    constructor: str  # attribute of keras.applications
    module: str  # keras.applications submodule holding preprocess_input
    mode: str  # "caffe", "tf", "torch", or "builtin" (inside the network)
    min_size: int
    has_preprocessing_flag: bool = False  # takes include_preprocessing=


_APPLICATIONS: dict[str, _Application] = {
    "vgg16": _Application("VGG16", "vgg16", "caffe", 32),
    "vgg19": _Application("VGG19", "vgg19", "caffe", 32),
    "resnet50": _Application("ResNet50", "resnet50", "caffe", 32),
    "resnet101": _Application("ResNet101", "resnet", "caffe", 32),
    "resnet152": _Application("ResNet152", "resnet", "caffe", 32),
    "resnet50_v2": _Application("ResNet50V2", "resnet_v2", "tf", 32),
    "resnet101_v2": _Application("ResNet101V2", "resnet_v2", "tf", 32),
    "resnet152_v2": _Application("ResNet152V2", "resnet_v2", "tf", 32),
    "inception_v3": _Application("InceptionV3", "inception_v3", "tf", 75),
    "inception_resnet_v2": _Application(
        "InceptionResNetV2", "inception_resnet_v2", "tf", 75
    ),
    "xception": _Application("Xception", "xception", "tf", 71),
    "mobilenet": _Application("MobileNet", "mobilenet", "tf", 32),
    "mobilenet_v2": _Application("MobileNetV2", "mobilenet_v2", "tf", 32),
    "densenet121": _Application("DenseNet121", "densenet", "torch", 32),
    "densenet169": _Application("DenseNet169", "densenet", "torch", 32),
    "densenet201": _Application("DenseNet201", "densenet", "torch", 32),
    "efficientnet_b0": _Application("EfficientNetB0", "efficientnet", "builtin", 32),
    "efficientnet_v2_b0": _Application(
        "EfficientNetV2B0", "efficientnet_v2", "builtin", 32, True
    ),
    "efficientnet_v2_s": _Application(
        "EfficientNetV2S", "efficientnet_v2", "builtin", 32, True
    ),
    "convnext_tiny": _Application("ConvNeXtTiny", "convnext", "builtin", 32, True),
}

_KERAS_CV_PREFIX = "keras_cv."
_URL_FETCH_FAILURE = re.compile(r"URL fetch failure on (\S+): ")

# Per-channel statistics of ImageNet, as keras.applications uses them.
_CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
_TORCH_RGB_MEAN = (0.485, 0.456, 0.406)
_TORCH_RGB_STD = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="keras_apps")
class ImagenetPreprocessing(keras.layers.Layer):
    """The ``preprocess_input`` of ``keras.applications`` as a layer.

    Takes RGB images with values in 0..255 and applies one of the three
    ImageNet conventions of ``keras.applications.imagenet_utils``:

    - ``"caffe"`` (VGG, ResNet v1): RGB to BGR, then subtract the ImageNet
      mean per channel, no scaling;
    - ``"tf"`` (ResNet v2, Inception, Xception, MobileNet): scale to -1..1;
    - ``"torch"`` (DenseNet): scale to 0..1, then standardize per channel with
      the ImageNet mean and standard deviation.

    Args:
        mode: ``"caffe"``, ``"tf"`` or ``"torch"``.
        data_format: ``"channels_last"`` or ``"channels_first"``. Defaults to
            ``keras.config.image_data_format()``.
        **kwargs: Standard layer arguments.

    Input shape:
        ``(batch, H, W, 3)`` (or ``(batch, 3, H, W)`` for channels_first).

    Output shape:
        Same as the input.

    Example:

    >>> import numpy as np
    >>> from keras_apps.transfer.backbones import ImagenetPreprocessing
    >>> layer = ImagenetPreprocessing("tf")
    >>> np.asarray(layer(np.array([[[[0.0, 127.5, 255.0]]]])))
    array([[[[-1.,  0.,  1.]]]], dtype=float32)
    """

    def __init__(self, mode: str, data_format: str | None = None, **kwargs: Any):
        if mode not in ("caffe", "tf", "torch"):
            raise ValueError(
                "Expected `mode` to be one of 'caffe', 'tf', 'torch'. "
                f"Received: mode={mode!r}"
            )
        data_format = data_format or keras.config.image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(
                "Expected `data_format` to be 'channels_last' or 'channels_first'. "
                f"Received: data_format={data_format!r}"
            )
        super().__init__(**kwargs)
        self.mode = mode
        self.data_format = data_format
        self.channel_axis = -1 if data_format == "channels_last" else 1

    def build(self, input_shape: Shape) -> None:
        channels = input_shape[self.channel_axis]
        if channels != 3:
            raise ValueError(
                f"ImagenetPreprocessing({self.mode!r}) expects RGB images with 3 "
                f"channels on axis {self.channel_axis}. Received: "
                f"input_shape={tuple(input_shape)}"
            )

    def _per_channel(self, values: Sequence[float]) -> Any:
        shape = [1, 1, 1, 1]
        shape[self.channel_axis] = 3
        return keras.ops.reshape(
            keras.ops.convert_to_tensor(values, dtype=self.compute_dtype), shape
        )

    def call(self, inputs: Any) -> Any:
        ops = keras.ops
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            x = x / 255.0
            return (x - self._per_channel(_TORCH_RGB_MEAN)) / self._per_channel(
                _TORCH_RGB_STD
            )
        x = ops.flip(x, axis=self.channel_axis)
        return x - self._per_channel(_CAFFE_BGR_MEAN)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update({"mode": self.mode, "data_format": self.data_format})
        return config


def known_backbones() -> list[str]:
    """Names `load_backbone` knows besides hub handles and SavedModel dirs.

    The ``keras.applications`` names, and the keras-cv backbone classes that
    are built from explicit arguments (``"keras_cv.<ClassName>"``).

    Example:

    >>> from keras_apps.transfer.backbones import known_backbones
    >>> "resnet50" in known_backbones()
    True
    """
    return sorted(_APPLICATIONS) + [
        f"{_KERAS_CV_PREFIX}{name}" for name in _keras_cv_generic_backbones()
    ]


def load_backbone(
    name_or_handle: str | os.PathLike[str],
    input_shape: Shape,
    weights: str | os.PathLike[str] | None = "imagenet",
    include_preprocessing: bool = True,
    hub_input_range: tuple[float, float] | None | str = "auto",
    **kwargs: Any,
) -> keras.Model:
    """Builds a pretrained feature extractor that takes raw 0..255 images.

    Three sources:

    - a ``keras.applications`` name (see `known_backbones`), built with
      ``include_top=False``. With ``include_preprocessing`` the model starts
      with that application's ``preprocess_input`` as a layer
      (`ImagenetPreprocessing`, or the network's own rescaling for
      EfficientNet and ConvNeXt), and its layers sit in the returned
      functional model directly, so that they can be unfrozen by name;
    - ``"keras_cv.<BackboneClass>"`` with the class's architecture arguments
      in ``**kwargs`` (e.g. ``stackwise_filters=...``), built from the class,
      never from a preset download; ``include_rescaling`` follows
      ``include_preprocessing``. Preset aliases such as
      ``ResNet50V2Backbone`` download weights on construction and are
      refused;
    - a TF Hub / Kaggle URL or a local SavedModel directory, wrapped in
      `keras_apps.layers.HubBackbone` (``trainable``, ``signature`` and
      ``output_key`` go through ``**kwargs``). With ``include_preprocessing``
      0..255 images are rescaled to ``hub_input_range``: by default
      (``"auto"``) to (0, 1) as in TF Hub's image conventions, except for a
      SavedModel that `export_hub_module` wrote from a network with its own
      ``Rescaling`` layer, which gets the raw images it was trained on; pass
      ``hub_input_range=None`` for any SavedModel that takes raw values.

    Args:
        name_or_handle: A name from `known_backbones`, a
            ``"keras_cv.<BackboneClass>"`` name, a hub URL or a SavedModel
            directory.
        input_shape: Image shape without the batch, e.g. ``(224, 224, 3)``.
        weights: ``"imagenet"`` (download through ``keras.utils.get_file``
            into the Keras cache), ``None`` (random initialization), or a
            path to a local weights file (for keras.applications, the file
            Keras would download, e.g.
            ``vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5``; or a
            ``.weights.h5`` saved from a backbone built here). keras-cv
            backbones take ``None`` or a path; hub handles carry their own
            weights and take the default.
        include_preprocessing: Whether the model starts with the input
            preprocessing its weights expect.
        hub_input_range: For hub handles, the value range the SavedModel
            expects, ``None`` to feed inputs unchanged, or ``"auto"``
            (default): ``None`` for a network exported with its own
            ``Rescaling`` layer, else ``(0.0, 1.0)``.
        **kwargs: More arguments for the application (``pooling``,
            ``alpha``, ...), the keras-cv class, or `HubBackbone`.

    Returns:
        A functional ``keras.Model`` from images to feature maps (or pooled
        features with ``pooling=``).

    Raises:
        ValueError: An unknown name (the message lists the known ones) or
            bad arguments.
        WeightsUnavailableError: ``weights="imagenet"`` could not be
            downloaded; the message names the file and how to pass it as a
            local path. There is never a silent fallback to random weights.

    Example:

    >>> from keras_apps.transfer.backbones import load_backbone
    >>> backbone = load_backbone("mobilenet_v2", (32, 32, 3), weights=None)
    >>> backbone.output_shape
    (None, 1, 1, 1280)

    With pretrained weights (downloaded once into ``~/.keras/models``):

    ```python
    backbone = load_backbone("resnet50", (224, 224, 3), pooling="avg")
    backbone.trainable = False
    ```
    """
    if not isinstance(name_or_handle, (str, os.PathLike)):
        raise ValueError(
            "Expected `name_or_handle` to be a backbone name, a hub URL or a "
            f"SavedModel directory. Received: {name_or_handle!r}"
        )
    name = os.fspath(name_or_handle)
    input_shape = _check_input_shape(input_shape)
    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise ValueError(
            "Expected `weights` to be 'imagenet', None or a file path. "
            f"Received: weights={weights!r}"
        )
    weights = os.fspath(weights) if weights is not None else None
    key = name.lower().replace("-", "_")
    if key in _APPLICATIONS:
        return _load_application(
            key, input_shape, weights, include_preprocessing, kwargs
        )
    if name.startswith(_KERAS_CV_PREFIX):
        return _load_keras_cv(
            name[len(_KERAS_CV_PREFIX) :],
            input_shape,
            weights,
            include_preprocessing,
            kwargs,
        )
    if "://" in name or os.path.isdir(os.path.expanduser(name)):
        return _load_hub(
            name, input_shape, weights, include_preprocessing, hub_input_range, kwargs
        )
    raise ValueError(
        f"Unknown backbone {name!r}. Expected one of the keras.applications "
        f"names {sorted(_APPLICATIONS)}, a keras-cv backbone built from explicit "
        f"arguments {[_KERAS_CV_PREFIX + n for n in _keras_cv_generic_backbones()]}, "
        "a TF Hub / Kaggle URL, or an existing SavedModel directory."
    )


def _check_input_shape(input_shape: Any) -> tuple[int | None, ...]:
    if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3:
        raise ValueError(
            "Expected `input_shape` to be an image shape (H, W, C) without the "
            f"batch dimension. Received: input_shape={input_shape!r}"
        )
    for dim in input_shape:
        if dim is not None and (not isinstance(dim, int) or dim <= 0):
            raise ValueError(
                "Expected `input_shape` to hold positive ints or None. "
                f"Received: input_shape={input_shape!r}"
            )
    return tuple(input_shape)


def _check_weights_file(weights: str) -> None:
    if not os.path.isfile(os.path.expanduser(weights)):
        raise FileNotFoundError(
            f"Expected `weights` to be 'imagenet', None or an existing weights "
            f"file. Received: weights={weights!r}, which is not a file."
        )


def _load_application(
    key: str,
    input_shape: tuple[int | None, ...],
    weights: str | None,
    include_preprocessing: bool,
    kwargs: dict[str, Any],
) -> keras.Model:
    spec = _APPLICATIONS[key]
    for reserved in ("include_top", "input_tensor", "input_shape", "weights"):
        if reserved in kwargs:
            raise ValueError(
                f"load_backbone sets `{reserved}` itself; remove it from the "
                f"arguments. Received: {reserved}={kwargs[reserved]!r}"
            )
    if weights not in (None, "imagenet"):
        _check_weights_file(weights)
    for dim in input_shape[:2]:
        if dim is not None and dim < spec.min_size:
            raise ValueError(
                f"{key} needs images of at least {spec.min_size}x{spec.min_size}. "
                f"Received: input_shape={input_shape}"
            )
    constructor = getattr(keras.applications, spec.constructor)
    inputs = keras.Input(shape=input_shape, name="images")
    features_in = inputs
    if include_preprocessing and spec.mode != "builtin":
        features_in = ImagenetPreprocessing(spec.mode, name=f"{key}_preprocessing")(
            inputs
        )
    arguments = dict(kwargs)
    if spec.has_preprocessing_flag:
        arguments["include_preprocessing"] = include_preprocessing
    elif spec.mode == "builtin" and not include_preprocessing:
        raise ValueError(
            f"{key} has its input preprocessing built into the network and "
            "cannot leave it out. Received: include_preprocessing=False"
        )
    try:
        model = constructor(
            include_top=False,
            weights="imagenet" if weights == "imagenet" else None,
            input_tensor=features_in,
            input_shape=input_shape,
            **arguments,
        )
    except Exception as error:
        match = _URL_FETCH_FAILURE.search(str(error))
        if weights != "imagenet" or match is None:
            raise
        raise _weights_unavailable(key, match.group(1), error) from error
    if weights not in (None, "imagenet"):
        model.load_weights(os.path.expanduser(weights))
    # keras.applications lists the inputs when given `input_tensor`; a single
    # input keeps calls on a plain tensor free of structure warnings.
    return keras.Model(inputs, model.outputs[0], name=model.name)


def _weights_unavailable(key: str, origin: str, error: Exception) -> Exception:
    file_name = origin.rsplit("/", 1)[-1]
    cached = os.path.join(_compat.keras_home(), "models", file_name)
    return WeightsUnavailableError(
        f"Could not download the ImageNet weights of {key}: the file "
        f"{file_name!r} from {origin} ({error}). Download it on a machine with "
        f"network access and either put it at {cached!r} (the Keras cache, "
        "$KERAS_HOME/models) or pass its path: "
        f"load_backbone({key!r}, input_shape, weights='/path/to/{file_name}'). "
        "Use weights=None for random initialization."
    )


def _keras_cv_generic_backbones() -> list[str]:
    """keras-cv image backbones that are built from explicit arguments.

    Preset aliases (classes with their own ``__new__``, such as
    ``ResNet50V2Backbone``) download on construction and are left out, and so
    are backbones that do not take (H, W, C) images with keras-cv's
    ``include_rescaling`` (point clouds, videos).
    """
    try:
        import keras_cv
    except ImportError:
        return []
    names = []
    for name in dir(keras_cv.models):
        cls: Any = getattr(keras_cv.models, name)
        if (
            not name.endswith("Backbone")
            or name == "Backbone"
            or not isinstance(cls, type)
            or "__new__" in cls.__dict__
        ):
            continue
        parameters = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
        input_shape = parameters.get("input_shape")
        if "include_rescaling" not in parameters or input_shape is None:
            continue
        default = input_shape.default
        if isinstance(default, (tuple, list)) and len(default) == 3:
            names.append(name)
    return sorted(names)


def _load_keras_cv(
    class_name: str,
    input_shape: tuple[int | None, ...],
    weights: str | None,
    include_preprocessing: bool,
    kwargs: dict[str, Any],
) -> keras.Model:
    try:
        import keras_cv
    except ImportError as error:
        raise ImportError(
            f"load_backbone('keras_cv.{class_name}') needs keras-cv: "
            "pip install keras-cv"
        ) from error
    generic = _keras_cv_generic_backbones()
    cls: Any = getattr(keras_cv.models, class_name, None)
    if class_name not in generic:
        hint = ""
        if isinstance(cls, type) and "__new__" in cls.__dict__:
            hint = (
                f" keras_cv.{class_name} is a preset alias that downloads its "
                "configuration and weights on construction; build the generic "
                "class it derives from with explicit arguments instead."
            )
        raise ValueError(
            f"Unknown keras-cv backbone {class_name!r}.{hint} Expected one of "
            f"{[_KERAS_CV_PREFIX + n for n in generic]}."
        )
    if weights == "imagenet":
        raise ValueError(
            "keras-cv backbones are built from explicit arguments here, without "
            "preset downloads, so there are no 'imagenet' weights to fetch. "
            "Pass weights=None, or weights='/path/to/backbone.weights.h5' for a "
            f"file saved from the same architecture. Received: weights={weights!r}"
        )
    if weights is not None:
        _check_weights_file(weights)
    parameters = inspect.signature(cls.__init__).parameters
    arguments = dict(kwargs)
    if "include_rescaling" in parameters:
        arguments.setdefault("include_rescaling", include_preprocessing)
    if "input_shape" in parameters:
        arguments.setdefault("input_shape", input_shape)
    accepts_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
    required = [
        n
        for n, p in parameters.items()
        if n != "self"
        and p.default is p.empty
        and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    missing = [n for n in required if n not in arguments]
    if missing:
        raise ValueError(
            f"keras_cv.{class_name} is built from explicit arguments; missing "
            f"{missing}. Its arguments: {[n for n in parameters if n != 'self']}."
        )
    try:
        model = cls(**arguments)
    except TypeError as error:
        raise ValueError(
            f"keras_cv.{class_name} rejected the arguments {sorted(arguments)} "
            f"({error}). Its arguments: {[n for n in parameters if n != 'self']}"
            + (" and layer keyword arguments." if accepts_any else ".")
        ) from error
    except Exception as error:
        import keras_cv as kcv

        raise RuntimeError(
            f"keras-cv {kcv.__version__} could not build keras_cv.{class_name} "
            f"under Keras {keras.__version__} with {arguments}: {error}"
        ) from error
    if weights is not None:
        model.load_weights(os.path.expanduser(weights))
    return model


def _load_hub(
    handle: str,
    input_shape: tuple[int | None, ...],
    weights: str | None,
    include_preprocessing: bool,
    hub_input_range: tuple[float, float] | None | str,
    kwargs: dict[str, Any],
) -> keras.Model:
    from keras_apps.layers.hub_backbone import HubBackbone

    if weights != "imagenet":
        raise ValueError(
            "A hub handle or SavedModel directory carries its own weights; leave "
            f"`weights` at its default. Received: weights={weights!r}"
        )
    if isinstance(hub_input_range, str):
        if hub_input_range != "auto":
            raise ValueError(
                "Expected `hub_input_range` to be 'auto', None or (low, high). "
                f"Received: hub_input_range={hub_input_range!r}"
            )
        hub_input_range = None if _rescales_its_inputs(handle) else (0.0, 1.0)
    inputs = keras.Input(shape=input_shape, name="images")
    x = inputs
    if include_preprocessing and hub_input_range is not None:
        low, high = (float(v) for v in hub_input_range)
        if not high > low:
            raise ValueError(
                "Expected `hub_input_range` to be (low, high) with high > low. "
                f"Received: hub_input_range={hub_input_range!r}"
            )
        x = keras.layers.Rescaling(
            (high - low) / 255.0, offset=low, name="hub_preprocessing"
        )(x)
    features = HubBackbone(handle, **kwargs)(x)
    return keras.Model(inputs, features, name="hub_backbone")
