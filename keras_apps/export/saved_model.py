"""`export_for_serving`: a versioned, validated, atomic SavedModel. Needs TensorFlow.

The layout is what TF Serving reads::

    base_path/
      1/
        saved_model.pb
        variables/
        assets.extra/tf_serving_warmup_requests   (with warmup inputs)
      2/
        ...

A version is written into a hidden working folder beside the target and
renamed into place only after it was written, reloaded and checked, so a
server polling ``base_path`` never sees a half-written version.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_apps._layout import MAX_VERSION, parse_version
from keras_apps.export import files
from keras_apps.export.image_to_image import validate_image_to_image
from keras_apps.export.signatures import (
    IMAGE_BYTES_KEY,
    IMAGE_BYTES_SIGNATURE,
    IMAGE_UINT8_KEY,
    IMAGE_UINT8_SIGNATURE,
    SERVING_DEFAULT,
    InputPlan,
    ServingFunctions,
    SignatureInfo,
    build_serving_functions,
    image_input_geometry,
    signature_info,
)
from keras_apps.export.warmup import (
    MAX_WARMUP_RECORDS,
    split_batch,
    write_warmup_requests,
)

logger = logging.getLogger(__name__)

_MAX_VALIDATION_EXAMPLES = 32
_REPLACED_NOTE = (
    "replaced version {version} on disk: a server that already loaded version "
    "{version} keeps serving the old weights (neither TF Serving nor "
    "LocalModelServer reloads a version number it loaded); to update a "
    "running server, publish a new version number instead (version=None)"
)


class ExportValidationError(RuntimeError):
    """The reloaded export does not compute what the in-memory model does."""


@dataclass
class ExportResult:
    """What `export_for_serving` wrote.

    Attributes:
        path: The version folder, ``base_path/<version>``.
        version: The version number.
        signatures: Signature name to `SignatureInfo` (keys, dtypes, shapes).
        model_name: The model name used in the warmup requests.
        validation: Signature name to the largest absolute difference between
            the reloaded signature and the in-memory model (empty when
            ``validate=False``).
        warmup_records: How many warmup requests were written.
        replaced: Whether an existing version was overwritten (a running
            server keeps serving what it loaded under that number).
    """

    path: str
    version: int
    signatures: dict[str, SignatureInfo] = field(default_factory=dict)
    model_name: str = ""
    validation: dict[str, float] = field(default_factory=dict)
    warmup_records: int = 0
    replaced: bool = False

    @property
    def max_abs_diff(self) -> float | None:
        """The largest difference over all signatures, ``None`` if unchecked."""
        return max(self.validation.values()) if self.validation else None

    def describe(self) -> str:
        """A readable summary: version, signatures and the validation result."""
        lines = [f"exported version {self.version} to {self.path}"]
        lines += [info.describe() for _, info in sorted(self.signatures.items())]
        if self.validation:
            diffs = ", ".join(
                f"{k}={v:.3g}" for k, v in sorted(self.validation.items())
            )
            lines.append(f"validation: max abs diff {diffs}")
        else:
            lines.append("validation: skipped")
        if self.warmup_records:
            lines.append(f"warmup: {self.warmup_records} request(s)")
        if self.replaced:
            lines.append(_REPLACED_NOTE.format(version=self.version))
        return "\n".join(lines)


def export_for_serving(
    model: keras.Model,
    base_path: str | os.PathLike[str],
    version: int | None = None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    image_bytes_signature: bool = False,
    warmup_inputs: Any = None,
    validate: bool = True,
    overwrite: bool = False,
    model_name: str | None = None,
    warmup_batch_size: int = 1,
    validation_atol: float = 1e-4,
    image_to_image: bool = False,
    uint8_outputs: Any = None,
) -> ExportResult:
    """Exports a Keras model as ``base_path/<version>/`` for TF Serving.

    The ``serving_default`` signature takes one tensor per model input and
    returns a dict of outputs, with keys that do not depend on the process:
    a named ``keras.Input`` or dict input keeps its name, other inputs are
    ``input`` (or ``input_0``, ``input_1``, ...); dict outputs keep their
    keys, an output layer the user named gives its name, other outputs are
    ``output`` (or ``output_0``, ...).

    The version is written into a hidden folder beside the target, reloaded
    and compared with the in-memory model, and renamed into place; on any
    failure nothing is left behind. Working folders of exports that died
    (killed processes) are removed and never count as versions.

    Args:
        model: A built Keras model: functional, Sequential, subclassed (called
            once) or containing ``keras.layers.TFSMLayer``.
        base_path: The model's folder, as given to TF Serving
            (``--model_base_path``). Created when missing.
        version: A positive integer; default one more than the highest
            existing version (1 in an empty folder).
        input_names: Signature input keys, in the order of
            ``keras.tree.flatten(model inputs)``.
        output_names: Signature output keys, in the order of
            ``keras.tree.flatten(model outputs)`` (dicts by sorted key).
        image_bytes_signature: Also export ``serving_image_bytes`` (a batch of
            encoded JPEG/PNG strings under key ``image_bytes``) and
            ``serving_image_uint8`` (uint8 pixels of any size under key
            ``images``). Both feed the model float pixels in 0..255 resized
            bilinearly to its input size, so they suit models that include
            their own preprocessing (rescaling, normalization). The model must
            have one (batch, height, width, 1 or 3) float input.
        warmup_inputs: A batch in the model's input structure (or a dict keyed
            by signature input key). It is written as TF Serving warmup
            requests of ``warmup_batch_size`` examples each (at most 1000)
            and used as the validation inputs.
        validate: Reload the export and compare every signature with the
            in-memory model.
        overwrite: Replace an existing ``version`` instead of raising
            ``FileExistsError``. The folder is swapped in one atomic step
            (Linux ``renameat2(RENAME_EXCHANGE)``, macOS ``renamex_np(
            RENAME_SWAP)``), so the version is never missing on disk; where
            the OS or file system has no such step, ``OSError`` (EOPNOTSUPP)
            is raised and nothing is changed. A running server does not
            reload a version number it has loaded (TF Serving neither): it
            keeps the old weights until restarted. To update a running
            server, publish a new version number instead.
        model_name: The served model name written into the warmup requests;
            default the last component of ``base_path``.
        warmup_batch_size: Examples per warmup request.
        validation_atol: Largest accepted absolute difference (plus the same
            relative tolerance) between the reloaded export and the model.
        image_to_image: Also export the image-to-image signatures of
            `keras_apps.export.image_to_image` (uint8 images or image bytes
            in, uint8 images out, an optional ``strength`` blend with the
            input), for models with one image input and one 0..255 image
            output, such as `keras_apps.models.FastStyleNet`.
        uint8_outputs: Serve float outputs as uint8 pixels: a ``(low, high)``
            pair for every output, or a dict from output key to its pair. The
            model's values in ``[low, high]`` map linearly onto 0..255,
            clipped and rounded: ``(-1, 1)`` for a tanh image generator
            (`keras_apps.models.dcgan_generator`: latents in, uint8 images
            out), ``(0, 1)`` for a sigmoid, ``(0, 255)`` for float pixels.
            Applies to ``serving_default`` and the image-bytes signatures
            (the image-to-image ones are uint8 already); validation accepts
            one step of difference there (a value on a rounding boundary).

    Returns:
        An `ExportResult` with ``.path``, ``.version``, ``.signatures`` and the
        validation differences.

    Example:
    >>> import tempfile, keras
    >>> from keras_apps.export import export_for_serving
    >>> inputs = keras.Input((3,), name="features")
    >>> model = keras.Model(inputs, keras.layers.Dense(2, name="scores")(inputs))
    >>> result = export_for_serving(model, tempfile.mkdtemp())
    >>> result.version, sorted(result.signatures["serving_default"].inputs)
    (1, ['features'])
    >>> sorted(result.signatures["serving_default"].outputs)
    ['scores']
    """
    if not isinstance(model, keras.Model):
        raise TypeError(
            "Expected a Keras model (keras.Model, keras.Sequential or a "
            f"subclass). Received: model of type {type(model).__name__}"
        )
    if not model.built:
        raise ValueError(
            f"Expected a built model. Received the unbuilt model {model.name!r}: "
            "give it a `keras.Input`, or call it once on a batch, before exporting."
        )
    if version is not None and (
        isinstance(version, bool)
        or not isinstance(version, (int, np.integer))
        or not 1 <= int(version) <= MAX_VERSION
    ):
        raise ValueError(
            "Expected `version` to be a positive integer (TF Serving versions "
            f"are 1, 2, ... up to {MAX_VERSION}) or None for the next one. "
            f"Received: version={version!r}"
        )
    if not isinstance(warmup_batch_size, int) or warmup_batch_size < 1:
        raise ValueError(
            "Expected `warmup_batch_size` to be a positive integer. "
            f"Received: warmup_batch_size={warmup_batch_size!r}"
        )
    functions = build_serving_functions(
        model,
        input_names,
        output_names,
        image_bytes_signature,
        image_to_image,
        uint8_outputs,
    )
    plan = functions.plan
    warmup_flat = None
    if warmup_inputs is not None:
        warmup_flat = _check_inputs(plan, warmup_inputs, "warmup_inputs")
        num_records = -(-len(next(iter(warmup_flat.values()))) // warmup_batch_size)
        if num_records > MAX_WARMUP_RECORDS:
            raise ValueError(
                f"TF Serving reads at most {MAX_WARMUP_RECORDS} warmup records. "
                f"Received warmup_inputs with {num_records * warmup_batch_size} "
                f"examples at warmup_batch_size={warmup_batch_size}."
            )

    # Only now that the arguments are known to be good is anything created.
    base_path = _prepare_base_path(base_path)
    name = model_name or os.path.basename(base_path)
    files.clean_stale_work_dirs(base_path)
    _refuse_version_files(base_path)
    if version is not None:
        version = int(version)
        _refuse_existing(base_path, version, overwrite)
    else:
        files.next_version(base_path)  # refuses a base path at the last version

    # Locked for as long as this process works on it: a later export's
    # clean-up removes it only once the lock is free (this process died).
    work_dir, lock = files.make_work_dir(base_path)
    try:
        signatures = _write_saved_model(model, functions, work_dir)
        warmup_records = 0
        if warmup_flat is not None:
            requests = split_batch(warmup_flat, warmup_batch_size)
            write_warmup_requests(work_dir, requests, name, SERVING_DEFAULT)
            warmup_records = len(requests)
        validation: dict[str, float] = {}
        if validate:
            validation = _validate(
                model, functions, work_dir, warmup_flat, validation_atol
            )
        files.fsync_tree(work_dir)
        version, replaced = _move_into_place(base_path, work_dir, version, overwrite)
    except BaseException as error:
        shutil.rmtree(work_dir, ignore_errors=True)
        if _disk_full(error):
            raise OSError(
                errno.ENOSPC,
                f"No space left on device at {base_path} while writing the "
                "export; nothing was written (the partial version was removed). "
                "Free some space or choose another base_path.",
            ) from error
        raise
    finally:
        files.release_lock(lock)
    path = os.path.join(base_path, str(version))
    logger.info("Exported version %d of %r to %s", version, name, path)
    if replaced:
        logger.warning(_REPLACED_NOTE.format(version=version))
    return ExportResult(
        path=path,
        version=version,
        signatures=signatures,
        model_name=name,
        validation=validation,
        warmup_records=warmup_records,
        replaced=replaced,
    )


def _disk_full(error: BaseException) -> bool:
    """Whether ``error`` says the disk (or the quota) is full.

    TensorFlow reports it as ``ResourceExhaustedError: ...; No space left on
    device [Op:SaveV2]``, Python as ``OSError(ENOSPC)``.
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(error, tf.errors.OpError):
        text = str(error.message).lower()
        return "no space left on device" in text or "disk quota exceeded" in text
    return False


def _refuse_version_files(base_path: str) -> None:
    """Refuses files (or links) named like versions, before anything is written.

    TF Serving reads only folders, so such a file is no version to it, yet it
    takes the name: the export would find out only after writing.
    """
    for entry in os.scandir(base_path):
        if parse_version(entry.name) is not None and not entry.is_dir(
            follow_symlinks=False
        ):
            raise FileExistsError(
                f"{entry.path!r} is not a folder but is named like a version: "
                "TF Serving expects version folders in a model's base path. "
                "Remove or rename it before exporting."
            )


def _prepare_base_path(base_path: str | os.PathLike[str]) -> str:
    if not isinstance(base_path, (str, os.PathLike)) or not os.fspath(base_path):
        raise TypeError(
            f"Expected `base_path` to be a folder path. Received: {base_path!r}"
        )
    path = os.path.abspath(os.fspath(base_path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise NotADirectoryError(
            f"Expected `base_path` to be a folder. Received the file {path!r}."
        )
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise type(error)(
            error.errno,
            f"Cannot create the export folder {path!r}: {error.strerror}. "
            "Choose a writable `base_path`.",
        ) from error
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(
            f"Cannot write into the export folder {path!r}. "
            "Choose a writable `base_path`."
        )
    return path


def _refuse_existing(base_path: str, version: int, overwrite: bool) -> None:
    if not overwrite and os.path.exists(os.path.join(base_path, str(version))):
        raise FileExistsError(
            f"Version {version} already exists in {base_path!r}. Pass "
            "overwrite=True to replace it, or version=None for the next one "
            f"({files.next_version(base_path)})."
        )


def _check_inputs(plan: InputPlan, values: Any, what: str) -> dict[str, np.ndarray]:
    try:
        flat = plan.flatten(values)
    except ValueError as error:
        raise ValueError(f"{what}: {error}") from None
    checked = {}
    for name, spec, value in zip(plan.names, plan.specs, flat, strict=True):
        array = np.asarray(value)
        expected = tuple(spec.shape.as_list())
        fits = len(array.shape) == len(expected) and all(
            e is None or e == a for e, a in zip(expected, array.shape, strict=True)
        )
        if not fits or array.ndim == 0 or array.shape[0] == 0:
            raise ValueError(
                f"{what}: expected input {name!r} of shape {list(expected)} "
                f"(None: any size, batch first, at least one example). "
                f"Received shape {list(array.shape)}."
            )
        try:
            checked[name] = array.astype(spec.dtype.as_numpy_dtype, casting="same_kind")
        except TypeError as error:
            raise ValueError(
                f"{what}: expected input {name!r} of dtype {spec.dtype.name}. "
                f"Received dtype {array.dtype}."
            ) from error
    return checked


def _write_saved_model(
    model: keras.Model, functions: ServingFunctions, directory: str
) -> dict[str, SignatureInfo]:
    archive = keras.export.ExportArchive()
    archive.track(model)
    signatures = {}
    for name, fn in functions.functions.items():
        specs = functions.input_signatures[name]
        endpoint = archive.add_endpoint(name, fn, input_signature=specs)
        signatures[name] = signature_info(name, endpoint.get_concrete_function())
    archive.write_out(directory, verbose=False)
    return signatures


def sample_inputs(plan: InputPlan, batch_size: int = 2, seed: int = 0) -> dict:
    """Random inputs for every signature input key (validation inputs)."""
    rng = np.random.default_rng(seed)
    samples = {}
    for name, spec in zip(plan.names, plan.specs, strict=True):
        shape = [batch_size, *(4 if d is None else d for d in spec.shape[1:])]
        dtype = spec.dtype
        value: np.ndarray
        if dtype.is_floating:
            value = rng.standard_normal(shape)
        elif dtype.is_integer:
            value = rng.integers(0, 10, shape)
        elif dtype.is_bool:
            value = rng.integers(0, 2, shape).astype(bool)
        elif dtype == tf.string:
            value = rng.choice(np.array([b"a", b"b c"], dtype=object), shape)
        else:
            raise ValueError(
                f"Cannot make validation inputs of dtype {dtype.name} for input "
                f"{name!r}: pass `warmup_inputs` or validate=False."
            )
        samples[name] = np.asarray(value).astype(dtype.as_numpy_dtype)
    return samples


def _max_abs_diff(
    actual: dict[str, Any],
    expected: dict[str, Any],
    what: str,
    atol: float,
    pixel_keys: Any = (),
) -> float:
    if set(actual) != set(expected):
        raise ExportValidationError(
            f"{what}: the reloaded export returns keys {sorted(actual)}, "
            f"the model {sorted(expected)}."
        )
    worst = 0.0
    for key in sorted(expected):
        a = np.asarray(actual[key])
        e = np.asarray(expected[key])
        if a.shape != e.shape:
            raise ExportValidationError(
                f"{what}: output {key!r} has shape {list(a.shape)} after reload "
                f"and {list(e.shape)} in the model."
            )
        if np.issubdtype(e.dtype, np.number) or e.dtype == bool:
            a64, e64 = a.astype("float64"), e.astype("float64")
            diff = float(np.max(np.abs(a64 - e64))) if a.size else 0.0
            if key in pixel_keys:
                # uint8 pixels: a value on a rounding boundary may go either way.
                close = diff <= 1.0
                accepted = "1, a rounding step"
            else:
                close = np.allclose(a64, e64, atol=atol, rtol=atol, equal_nan=True)
                accepted = f"{atol:g}"
            if not close:
                raise ExportValidationError(
                    f"{what}: output {key!r} differs from the in-memory model by "
                    f"up to {diff:.3g} (accepted: {accepted}). The export was not "
                    "written."
                )
        else:
            if not np.array_equal(a, e):
                raise ExportValidationError(
                    f"{what}: output {key!r} differs from the in-memory model."
                )
            diff = 0.0
        worst = max(worst, diff)
    return worst


def _to_numpy(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: np.asarray(keras.ops.convert_to_numpy(v)) for k, v in outputs.items()}


def _validate(
    model: keras.Model,
    functions: ServingFunctions,
    directory: str,
    warmup_flat: dict[str, np.ndarray] | None,
    atol: float,
) -> dict[str, float]:
    plan = functions.plan
    reloaded = tf.saved_model.load(directory)
    missing = set(functions.functions) - set(reloaded.signatures)
    if missing:
        raise ExportValidationError(
            f"The reloaded export lacks the signatures {sorted(missing)}."
        )
    if warmup_flat is not None:
        inputs = {k: v[:_MAX_VALIDATION_EXAMPLES] for k, v in warmup_flat.items()}
    else:
        inputs = sample_inputs(plan)
    flat = [tf.constant(inputs[name]) for name in plan.names]
    expected = _to_numpy(functions.functions[SERVING_DEFAULT](*flat))
    actual = _to_numpy(reloaded.signatures[SERVING_DEFAULT](**inputs))
    pixel_keys = functions.uint8_outputs
    diffs = {
        SERVING_DEFAULT: _max_abs_diff(
            actual, expected, SERVING_DEFAULT, atol, pixel_keys
        )
    }

    if IMAGE_BYTES_SIGNATURE in functions.functions:
        height, width, channels, _ = image_input_geometry(plan)
        rng = np.random.default_rng(1)
        pixels = rng.integers(0, 256, (2, height, width, channels), dtype=np.uint8)
        expected = _to_numpy(
            functions.functions[SERVING_DEFAULT](tf.constant(pixels, tf.float32))
        )
        encoded = tf.constant([tf.io.encode_png(p).numpy() for p in pixels])
        actual = _to_numpy(
            reloaded.signatures[IMAGE_BYTES_SIGNATURE](**{IMAGE_BYTES_KEY: encoded})
        )
        diffs[IMAGE_BYTES_SIGNATURE] = _max_abs_diff(
            actual, expected, IMAGE_BYTES_SIGNATURE, atol, pixel_keys
        )
        actual = _to_numpy(
            reloaded.signatures[IMAGE_UINT8_SIGNATURE](
                **{IMAGE_UINT8_KEY: tf.constant(pixels)}
            )
        )
        diffs[IMAGE_UINT8_SIGNATURE] = _max_abs_diff(
            actual, expected, IMAGE_UINT8_SIGNATURE, atol, pixel_keys
        )
    shape = tuple(plan.specs[0].shape) if len(plan.specs) == 1 else ()
    diffs.update(validate_image_to_image(functions.functions, shape, reloaded))
    del reloaded
    return diffs


def _move_into_place(
    base_path: str, work_dir: str, version: int | None, overwrite: bool
) -> tuple[int, bool]:
    """Renames ``work_dir`` to ``base_path/<version>``.

    Returns the version and whether it replaced an existing one.
    """
    if version is None:
        for _ in range(1000):
            candidate = files.next_version(base_path)
            target = os.path.join(base_path, str(candidate))
            if _rename_if_absent(work_dir, target):
                files.fsync_dir(base_path)
                return candidate, False
        raise RuntimeError(f"Could not claim a new version in {base_path!r}.")
    target = os.path.join(base_path, str(version))
    if _rename_if_absent(work_dir, target):
        files.fsync_dir(base_path)
        return version, False
    if not overwrite:
        _refuse_existing(base_path, version, overwrite)
    if files.exchange_paths(work_dir, target):
        # One atomic step: ``target`` is the new version, ``work_dir`` the old
        # one, which the caller's clean-up (or the next export's, after a
        # kill) removes.
        files.fsync_dir(base_path)
        shutil.rmtree(work_dir, ignore_errors=True)
        return version, True
    # No atomic exchange here (see `files.exchange_paths`). Two renames would
    # leave a moment in which the published version is missing (and missing
    # for good if the process is killed between them), so nothing is changed.
    raise OSError(
        errno.EOPNOTSUPP,
        f"Cannot replace version {version} in {base_path} without a moment in "
        "which it is missing: this OS or file system has no atomic folder "
        "exchange (Linux renameat2 RENAME_EXCHANGE, macOS renamex_np "
        "RENAME_SWAP). Nothing was changed. Publish a new version number "
        "instead (a running TF Serving never reloads a version it loaded), or "
        f"remove version {version} first.",
    )


def _rename_if_absent(source: str, target: str) -> bool:
    # os.rename onto an existing empty folder would replace it silently.
    if os.path.lexists(target):
        return False
    try:
        os.rename(source, target)
    except OSError as error:
        if error.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True
