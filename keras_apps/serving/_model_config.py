"""Which models to serve: TF Serving's ``ModelServerConfig`` (one room of the server).

`read_config_file` reads a ``models.config`` text proto as TF Serving does, and
`configs_from_proto` turns its ``model_config_list`` into `ModelConfig`s, one
per model: name, base path, version policy and version labels.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2


@dataclass(frozen=True)
class ModelConfig:
    """One model of the config: where its versions are and which to serve."""

    name: str
    base_path: Path
    policy: str = "latest"
    num_versions: int = 1
    versions: tuple[int, ...] = ()
    labels: Mapping[str, int] = field(default_factory=dict)

    def select(self, available: Sequence[int]) -> list[int]:
        """The versions of ``available`` that the version policy serves."""
        if self.policy == "all":
            return sorted(available)
        if self.policy == "specific":
            return sorted(set(available) & set(self.versions))
        return sorted(available)[-self.num_versions :]


def read_config_file(
    path: str | os.PathLike[str],
) -> model_server_config_pb2.ModelServerConfig:
    """Parses a ``models.config`` text proto.

    A malformed file gives TF Serving's two texts: protobuf's "Error parsing
    text-format tensorflow.serving.ModelServerConfig: LINE:COLUMN: ..." and
    "Invalid protobuf file: 'PATH'".

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not a ``ModelServerConfig`` text proto.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"model_config_file {str(path)!r} does not exist; expected a "
            "ModelServerConfig text proto (see keras_apps.export.write_model_config)"
        )
    try:
        return text_format.Parse(
            path.read_text(), model_server_config_pb2.ModelServerConfig()
        )
    except text_format.ParseError as error:
        detail = str(error)
        if error.GetLine() is not None:
            detail = detail.split(" : ", 1)[-1]
            detail = f"{error.GetLine()}:{error.GetColumn()}: {detail}"
        raise ValueError(
            "Error parsing text-format tensorflow.serving.ModelServerConfig: "
            f"{detail}. Invalid protobuf file: '{path}'"
        ) from error


def configs_from_proto(
    config: model_server_config_pb2.ModelServerConfig, relative_to: Path | None
) -> list[ModelConfig]:
    if config.WhichOneof("config") != "model_config_list":
        raise ValueError(
            "ServerModelConfig type not supported: only model_config_list is "
            f"supported, received {config.WhichOneof('config')!r}"
        )
    models = []
    names: set[str] = set()
    for entry in config.model_config_list.config:
        if not entry.name:
            raise ValueError("every model config needs a name; received an empty one")
        if entry.name in names:
            raise ValueError(f"model name {entry.name!r} appears twice in the config")
        names.add(entry.name)
        if entry.model_platform not in ("", "tensorflow"):
            raise ValueError(
                f"model {entry.name!r}: model_platform must be 'tensorflow', "
                f"received {entry.model_platform!r}"
            )
        base = Path(entry.base_path)
        if not entry.base_path:
            raise ValueError(f"model {entry.name!r} has no base_path")
        if not base.is_absolute() and relative_to is not None:
            base = relative_to / base
        policy = entry.model_version_policy
        kind = policy.WhichOneof("policy_choice") or "latest"
        num_versions = 1
        versions: tuple[int, ...] = ()
        if kind == "latest":
            num_versions = policy.latest.num_versions or 1
        elif kind == "specific":
            versions = tuple(policy.specific.versions)
            if not versions:
                raise ValueError(
                    f"model {entry.name!r}: the specific version policy lists no "
                    "versions"
                )
        models.append(
            ModelConfig(
                name=entry.name,
                base_path=base,
                policy=kind,
                num_versions=num_versions,
                versions=versions,
                labels=dict(entry.version_labels),
            )
        )
    return models
