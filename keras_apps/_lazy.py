"""Lazy public names for packages whose modules are expensive to import."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    package_globals: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """Returns ``(__getattr__, __dir__, __all__)`` for a package ``__init__``.

    Each public name is imported from its module on first access and cached
    in the package namespace, so that importing the package itself stays
    cheap (``keras_apps.serving`` must not load TensorFlow until a name that
    needs it is used).

    Args:
        package_globals: The package's ``globals()``.
        names: Public name -> the module that defines it.
    """
    package = package_globals["__name__"]
    public = sorted(names)

    def __getattr__(name: str) -> Any:
        module_name = names.get(name)
        if module_name is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module_name), name)
        package_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return list(public)

    return __getattr__, __dir__, public
