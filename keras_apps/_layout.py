"""What export and serving agree on: TF Serving's directory layout and names.

One definition for both sides, so that the exporter never writes a version
that the server cannot see, and the server never serves a folder that the
exporter would not count. Imports nothing (the TensorFlow-free client reads it
too).
"""

from __future__ import annotations

import re

DEFAULT_SIGNATURE_KEY = "serving_default"
"""TF Serving's ``kDefaultServingSignatureDefKey``."""

WARMUP_DIR = "assets.extra"
WARMUP_FILE = "tf_serving_warmup_requests"
MAX_VERSION = 2**63 - 1
"""Versions are int64 in TF Serving's ``ModelSpec.version``."""

_VERSION_RE = re.compile(r"[0-9]+", flags=re.ASCII)


def parse_version(name: str) -> int | None:
    """The version a folder name stands for, or ``None`` when it is no version.

    A version folder is named by ASCII digits alone (``str.isdigit`` would
    also take ``"²"`` and Arabic-Indic digits) and its number fits in int64,
    TF Serving's version type.

    Example:
    >>> from keras_apps._layout import parse_version
    >>> [parse_version(n) for n in ("1", "0042", "²", "١٢", "99999999999999999999")]
    [1, 42, None, None, None]
    """
    if not _VERSION_RE.fullmatch(name):
        return None
    version = int(name)
    return version if version <= MAX_VERSION else None


_MODEL_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*", flags=re.ASCII)


def check_model_name(name: object, argument: str = "model_name") -> str:
    """Returns ``name`` if it can name a served model, else raises ValueError.

    A model name becomes a folder (``/models/<name>`` in the official image)
    and a URL path segment (``/v1/models/<name>``), so it is ASCII letters,
    digits, ``_``, ``.`` and ``-``, starting with a letter or digit: ``..``,
    ``/``, ``\\``, ``,``, spaces and control characters are refused.

    Example:
    >>> from keras_apps._layout import check_model_name
    >>> check_model_name("digits-v2.1")
    'digits-v2.1'
    >>> try:
    ...     check_model_name("..")
    ... except ValueError as error:
    ...     print(str(error)[-25:])
    Received: model_name='..'
    """
    if not isinstance(name, str) or not _MODEL_NAME_RE.fullmatch(name):
        raise ValueError(
            f"Expected {argument} made of ASCII letters, digits, '_', '.' or '-', "
            "starting with a letter or digit (it names a folder and a URL). "
            f"Received: {argument}={name!r}"
        )
    return name
