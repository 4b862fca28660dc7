"""Strategy 3: start a new model from the weights of an earlier one."""

from __future__ import annotations

import io
import logging
import os
import zipfile
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from keras_apps import _compat

logger = logging.getLogger(__name__)


@dataclass
class CheckpointReport:
    """What `load_from_checkpoint` did.

    Attributes:
        loaded: Names of the layers whose weights were loaded.
        skipped: Layer name -> reason (``"missing"``: the checkpoint has no
            layer of that name; ``"shape mismatch: ..."``; ``"ambiguous"``:
            several checkpoint layers share the name).
        unused: Checkpoint layers with weights that no layer of the model took.
    """

    loaded: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    unused: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"loaded {len(self.loaded)} layers: {self.loaded}"]
        lines += [f"skipped {name}: {reason}" for name, reason in self.skipped.items()]
        if self.unused:
            lines.append(f"unused checkpoint layers: {self.unused}")
        return "\n".join(lines)


def _read_h5(handle: Any) -> dict[str, list[list[np.ndarray]]]:
    """Layer name -> list of weight lists (one per layer of that name)."""
    import h5py

    found: dict[str, list[list[np.ndarray]]] = {}
    with h5py.File(handle, "r") as h5:

        def visit(path: str, obj: Any) -> None:
            if not (isinstance(obj, h5py.Group) and path.split("/")[-1] == "vars"):
                return
            if not len(obj):
                return
            name = obj.attrs.get("name")
            if isinstance(name, bytes):
                name = name.decode()
            if not name:
                name = path.split("/")[-2]
            keys = sorted(obj.keys(), key=int)
            found.setdefault(str(name), []).append([np.asarray(obj[k]) for k in keys])

        h5.visititems(visit)
    return found


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, list[np.ndarray]]:
    """Reads the weights of a ``.keras`` or ``.weights.h5`` file by layer name.

    Layers whose name occurs more than once (in different nested models) are
    left out.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No checkpoint at {path!r}.")
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            if "model.weights.h5" not in archive.namelist():
                raise ValueError(
                    f"Expected a .keras archive holding 'model.weights.h5'. "
                    f"Received {path!r} with {archive.namelist()}"
                )
            raw = _read_h5(io.BytesIO(archive.read("model.weights.h5")))
    elif path.endswith(".weights.h5") or path.endswith(".h5"):
        raw = _read_h5(path)
    else:
        raise ValueError(
            "Expected a path ending in '.keras' or '.weights.h5'. "
            f"Received: path={path!r}"
        )
    return {name: entries[0] for name, entries in raw.items() if len(entries) == 1}


def _own_variables(layer: keras.layers.Layer) -> list[Any]:
    return _compat.own_variables(layer)


def load_from_checkpoint(
    model: keras.Model, path: str | os.PathLike[str]
) -> CheckpointReport:
    """Loads the layers of an earlier model into ``model`` by name and shape.

    Use it to start from an intermediate or earlier model whose head differs:
    every layer of ``model`` that has weights takes those of the checkpoint
    layer of the same name when all shapes agree; the others (a new head, a
    resized layer) keep their values and are reported as skipped. Both
    ``.keras`` files and ``.weights.h5`` files work; layer names are read
    from the file, so no custom object is needed to read it.

    Args:
        model: The new model; it must be built.
        path: A ``.keras`` or ``.weights.h5`` file.

    Returns:
        A `CheckpointReport` with ``loaded``, ``skipped`` (name -> reason)
        and ``unused``.

    Example:

    >>> import keras, os, tempfile
    >>> from keras_apps.transfer import load_from_checkpoint
    >>> def make(classes):
    ...     return keras.Sequential([keras.Input((4,)), keras.layers.Dense(
    ...         8, name="body"), keras.layers.Dense(classes, name="head")])
    >>> path = os.path.join(tempfile.mkdtemp(), "old.weights.h5")
    >>> make(5).save_weights(path)
    >>> report = load_from_checkpoint(make(3), path)
    >>> report.loaded, report.skipped["head"][:14]
    (['body'], 'shape mismatch')
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(f"Expected a Keras model. Received: {type(model).__name__}")
    if not model.built:
        raise ValueError(
            f"Expected a built model; {model.name!r} has no weights yet. "
            "Build it (call it on data or build it on keras.Input) first."
        )
    source = read_checkpoint(path)
    report = CheckpointReport()
    taken: set[str] = set()
    seen: dict[str, int] = {}
    layers = [
        layer
        for layer in _compat.flatten_layers(model, include_self=False)
        if _own_variables(layer)
    ]
    for layer in layers:
        seen[layer.name] = seen.get(layer.name, 0) + 1
    for layer in layers:
        name = layer.name
        variables = _own_variables(layer)
        if seen[name] > 1:
            report.skipped[name] = "ambiguous: several layers of the model share it"
            continue
        if name not in source:
            report.skipped[name] = "missing: no layer of that name in the checkpoint"
            continue
        arrays = source[name]
        expected = [tuple(v.shape) for v in variables]
        found = [tuple(a.shape) for a in arrays]
        if expected != found:
            report.skipped[name] = (
                f"shape mismatch: model {expected}, checkpoint {found}"
            )
            continue
        for variable, array in zip(variables, arrays, strict=True):
            variable.assign(array)
        report.loaded.append(name)
        taken.add(name)
    report.unused = [name for name in source if name not in taken]
    logger.info("load_from_checkpoint(%s): %s", os.fspath(path), report)
    return report
