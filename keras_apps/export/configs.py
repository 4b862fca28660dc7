"""TF Serving configuration files: ``models.config`` and batching parameters.

``models.config`` (``--model_config_file``) is written through TF Serving's
own ``ModelServerConfig`` proto and protobuf's text format. The batching
parameters file (``--batching_parameters_file``) is the text format of TF
Serving's ``BatchingParameters`` proto, which the pip package does not ship:
its names and value ranges are checked here. Both files are written to a
temporary file and renamed into place, so a server never reads half a file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from keras_apps._layout import check_model_name
from keras_apps.export.files import atomic_write_text

_MODEL_KEYS = {
    "name",
    "base_path",
    "version_policy",
    "num_versions",
    "versions",
    "version_labels",
    "model_platform",
}
_POLICIES = ("latest", "all", "specific")
_LABEL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")


def _positive_int(value: Any, what: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Expected {what} to be an integer >= {minimum}. Received: {value!r}"
        )
    return value


def _model_config(index: int, spec: Mapping[str, Any]) -> Any:
    from tensorflow_serving.config import model_server_config_pb2

    if not isinstance(spec, Mapping):
        raise TypeError(
            f"Expected models[{index}] to be a dict with keys 'name' and "
            f"'base_path'. Received: {spec!r}"
        )
    unknown = sorted(set(spec) - _MODEL_KEYS)
    if unknown:
        raise ValueError(
            f"models[{index}] has unknown keys {unknown}; expected some of "
            f"{sorted(_MODEL_KEYS)}."
        )
    name = spec.get("name")
    check_model_name(name, f"models[{index}]['name']")
    base_path = spec.get("base_path")
    if not isinstance(base_path, str) or not base_path:
        raise ValueError(
            f"Expected models[{index}]['base_path'] to be the folder that holds "
            f"the version folders. Received: {base_path!r}"
        )
    config = model_server_config_pb2.ModelConfig(
        name=name,
        base_path=base_path,
        model_platform=spec.get("model_platform", "tensorflow"),
    )
    policy = spec.get("version_policy", "latest")
    if policy not in _POLICIES:
        raise ValueError(
            f"Expected models[{index}]['version_policy'] to be one of {_POLICIES}. "
            f"Received: {policy!r}"
        )
    if policy != "latest" and "num_versions" in spec:
        raise ValueError(
            f"models[{index}]: 'num_versions' only goes with version_policy "
            f"'latest'. Received version_policy={policy!r}"
        )
    if policy != "specific" and "versions" in spec:
        raise ValueError(
            f"models[{index}]: 'versions' only goes with version_policy "
            f"'specific'. Received version_policy={policy!r}"
        )
    versions: list[int] = []
    if policy == "latest":
        num = _positive_int(
            spec.get("num_versions", 1), f"models[{index}]['num_versions']"
        )
        config.model_version_policy.latest.num_versions = num
    elif policy == "all":
        config.model_version_policy.all.SetInParent()
    else:
        versions = list(spec.get("versions") or [])
        if not versions:
            raise ValueError(
                f"models[{index}]: version_policy 'specific' needs a non-empty "
                "'versions' list."
            )
        for v in versions:
            _positive_int(v, f"each of models[{index}]['versions']")
        if len(set(versions)) != len(versions):
            raise ValueError(
                f"Expected distinct models[{index}]['versions']. Received: {versions}"
            )
        config.model_version_policy.specific.versions.extend(versions)
    labels = spec.get("version_labels") or {}
    if not isinstance(labels, Mapping):
        raise ValueError(
            f"Expected models[{index}]['version_labels'] to map label to version. "
            f"Received: {labels!r}"
        )
    for label, version in labels.items():
        if not isinstance(label, str) or not _LABEL_RE.match(label):
            raise ValueError(
                f"Expected version labels made of letters, digits, '_' or '-' "
                f"(starting with a letter). Received: {label!r}"
            )
        _positive_int(version, f"the version of label {label!r}")
        if versions and version not in versions:
            # TF Serving refuses a label on a version it does not load.
            raise ValueError(
                f"Label {label!r} points to version {version}, which the "
                f"'specific' policy of models[{index}] does not load ({versions})."
            )
        config.version_labels[label] = version
    return config


def write_model_config(path: str, models: Sequence[Mapping[str, Any]]) -> Any:
    """Writes a ``models.config`` for TF Serving's ``--model_config_file``.

    Args:
        path: The file to write.
        models: One dict per model with ``name`` and ``base_path`` (the folder
            of version folders as the server sees it), and optionally
            ``version_policy`` (``"latest"`` with ``num_versions``, default 1;
            ``"all"``; ``"specific"`` with ``versions``), ``version_labels``
            (label to version, e.g. ``{"stable": 1, "canary": 2}``) and
            ``model_platform`` (default ``"tensorflow"``).

    Returns:
        The written ``ModelServerConfig`` proto.

    Example:
    >>> import os, tempfile
    >>> from keras_apps.export import read_model_config, write_model_config
    >>> path = os.path.join(tempfile.mkdtemp(), "models.config")
    >>> _ = write_model_config(path, [{"name": "digits", "base_path": "/models/d"}])
    >>> read_model_config(path).model_config_list.config[0].name
    'digits'
    """
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    if isinstance(models, Mapping) or not isinstance(models, Sequence) or not models:
        raise ValueError(
            "Expected `models` to be a non-empty list of dicts (one per model). "
            f"Received: {models!r}"
        )
    server_config = model_server_config_pb2.ModelServerConfig()
    names = set()
    for index, spec in enumerate(models):
        config = _model_config(index, spec)
        if config.name in names:
            raise ValueError(f"Model name {config.name!r} appears twice in `models`.")
        names.add(config.name)
        server_config.model_config_list.config.append(config)
    atomic_write_text(path, text_format.MessageToString(server_config))
    return server_config


def read_model_config(path: str) -> Any:
    """Parses a ``models.config`` into a ``ModelServerConfig`` proto."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    return text_format.Parse(text, model_server_config_pb2.ModelServerConfig())


_WRAPPED_FIELDS = (
    "max_batch_size",
    "batch_timeout_micros",
    "max_enqueued_batches",
    "num_batch_threads",
)


def _check_batching(params: Mapping[str, Any]) -> None:
    _positive_int(params["max_batch_size"], "max_batch_size")
    _positive_int(params["batch_timeout_micros"], "batch_timeout_micros", minimum=0)
    _positive_int(params["max_enqueued_batches"], "max_enqueued_batches")
    _positive_int(params["num_batch_threads"], "num_batch_threads")
    allowed = params["allowed_batch_sizes"]
    if allowed:
        for size in allowed:
            _positive_int(size, "each of allowed_batch_sizes")
        if any(b <= a for a, b in zip(allowed, allowed[1:], strict=False)):
            raise ValueError(
                "Expected allowed_batch_sizes in increasing order. "
                f"Received: {list(allowed)}"
            )
        if allowed[-1] != params["max_batch_size"]:
            raise ValueError(
                "TF Serving requires the last allowed batch size to equal "
                f"max_batch_size ({params['max_batch_size']}). "
                f"Received: allowed_batch_sizes={list(allowed)}"
            )
    if not isinstance(params["pad_variable_length_inputs"], bool):
        raise ValueError(
            "Expected pad_variable_length_inputs to be True or False. Received: "
            f"{params['pad_variable_length_inputs']!r}"
        )


def write_batching_config(
    path: str,
    max_batch_size: int = 32,
    batch_timeout_micros: int = 1000,
    max_enqueued_batches: int = 100,
    num_batch_threads: int = 4,
    allowed_batch_sizes: Sequence[int] | None = None,
    pad_variable_length_inputs: bool = False,
) -> str:
    """Writes TF Serving's ``--batching_parameters_file`` (with ``--enable_batching``).

    Args:
        path: The file to write.
        max_batch_size: Largest batch the server forms.
        batch_timeout_micros: How long to wait for a batch to fill (0: none).
        max_enqueued_batches: Queue length before requests are refused.
        num_batch_threads: Batches processed in parallel.
        allowed_batch_sizes: Sizes batches are padded to, increasing, the last
            equal to ``max_batch_size``; ``None`` for any size.
        pad_variable_length_inputs: Pad inputs of different lengths.

    Returns:
        The written text.

    Example:
    >>> import os, tempfile
    >>> from keras_apps.export import read_batching_config, write_batching_config
    >>> path = os.path.join(tempfile.mkdtemp(), "batching.config")
    >>> print(write_batching_config(path, max_batch_size=8,
    ...                             allowed_batch_sizes=[2, 8]), end="")
    max_batch_size { value: 8 }
    batch_timeout_micros { value: 1000 }
    max_enqueued_batches { value: 100 }
    num_batch_threads { value: 4 }
    allowed_batch_sizes: 2
    allowed_batch_sizes: 8
    pad_variable_length_inputs: false
    >>> read_batching_config(path)["allowed_batch_sizes"]
    [2, 8]
    """
    params: dict[str, Any] = {
        "max_batch_size": max_batch_size,
        "batch_timeout_micros": batch_timeout_micros,
        "max_enqueued_batches": max_enqueued_batches,
        "num_batch_threads": num_batch_threads,
        "allowed_batch_sizes": list(allowed_batch_sizes or []),
        "pad_variable_length_inputs": pad_variable_length_inputs,
    }
    _check_batching(params)
    lines = [f"{name} {{ value: {params[name]} }}" for name in _WRAPPED_FIELDS]
    lines += [f"allowed_batch_sizes: {size}" for size in params["allowed_batch_sizes"]]
    lines.append(
        f"pad_variable_length_inputs: {str(pad_variable_length_inputs).lower()}"
    )
    text = "\n".join(lines) + "\n"
    atomic_write_text(path, text)
    return text


_WRAPPED_RE = re.compile(r"^(\w+)\s*\{\s*value\s*:\s*(-?\d+)\s*\}$")
_PLAIN_RE = re.compile(r"^(\w+)\s*:\s*(\S+)$")


def read_batching_config(path: str) -> dict[str, Any]:
    """Parses a batching parameters file back into `write_batching_config` kwargs.

    Names and values are checked as when writing; fields the file leaves out
    are absent from the result (the server uses its defaults).
    """
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    params: dict[str, Any] = {}
    allowed: list[int] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        wrapped = _WRAPPED_RE.match(line)
        plain = _PLAIN_RE.match(line)
        if wrapped and wrapped[1] in _WRAPPED_FIELDS:
            params[wrapped[1]] = int(wrapped[2])
        elif plain and plain[1] == "allowed_batch_sizes" and plain[2].isdigit():
            allowed.append(int(plain[2]))
        elif plain and plain[1] == "pad_variable_length_inputs":
            if plain[2] not in ("true", "false"):
                raise ValueError(
                    f"{path}:{number}: expected true or false. Received: {plain[2]}"
                )
            params["pad_variable_length_inputs"] = plain[2] == "true"
        else:
            raise ValueError(
                f"{path}:{number}: not a batching parameter: {raw.strip()!r}. "
                f"Expected one of {[*_WRAPPED_FIELDS, 'allowed_batch_sizes']} "
                "('name { value: N }' or 'allowed_batch_sizes: N') or "
                "'pad_variable_length_inputs: true|false'."
            )
    if allowed:
        params["allowed_batch_sizes"] = allowed
    defaults = {
        "max_batch_size": allowed[-1] if allowed else 1,
        "batch_timeout_micros": 0,
        "max_enqueued_batches": 1,
        "num_batch_threads": 1,
        "allowed_batch_sizes": [],
        "pad_variable_length_inputs": False,
    }
    _check_batching({**defaults, **params})
    return params
