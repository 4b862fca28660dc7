"""The one decorator that makes a keras-apps object public and serializable."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import keras

T = TypeVar("T")

PACKAGE = "keras_apps"


def keras_apps_export(path: str) -> Callable[[T], T]:
    """Registers a class or function under its public path.

    The object is registered with `keras.saving.register_keras_serializable`
    under package ``"keras_apps"``, so that ``.keras`` files refer to it as
    ``"keras_apps>ClassName"``.

    Args:
        path: The public path, for example ``"keras_apps.layers.GramMatrix"``.
            Its last component must be the object's name.
    """
    if not path.startswith(f"{PACKAGE}."):
        raise ValueError(
            f"Expected a public path starting with '{PACKAGE}.'. "
            f"Received: path={path!r}"
        )
    public_name = path.rsplit(".", 1)[-1]

    def decorator(symbol: T) -> T:
        symbol_name = getattr(symbol, "__name__", None)
        if symbol_name != public_name:
            raise ValueError(
                f"The last component of the public path must be the object's name "
                f"{symbol_name!r}. Received: path={path!r}"
            )
        registered = keras.saving.register_keras_serializable(package=PACKAGE)(symbol)
        registered._keras_apps_public_path = path  # type: ignore[attr-defined]
        return registered

    return decorator
