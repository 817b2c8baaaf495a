"""httpx and httpx2, two libraries with one API: which one made a request, which are installed.

Each is found by module name, never imported for nothing: httpx2 loads only when it is installed
and asked for (as pytest_httpx's ``_httpx_compat`` does for httpx versions).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType

__all__ = ["NAMES", "installed", "library_name", "module_of"]

NAMES = ("httpx", "httpx2")
"""The libraries with httpx's API, in the order they are patched."""


def library_name(request: object) -> str:
    """``"httpx"`` or ``"httpx2"``: the library whose classes made ``request`` (TypeError if
    neither did)."""
    for cls in type(request).__mro__:
        root = cls.__module__.partition(".")[0]
        if root in NAMES:
            return root
    raise TypeError(f"not an httpx or httpx2 request: {request!r}")


def module_of(request: object) -> ModuleType:
    """The module now imported under the name of the library that made ``request``."""
    name = library_name(request)
    return sys.modules.get(name) or importlib.import_module(name)


def installed() -> list[ModuleType]:
    """httpx, and httpx2 when it is installed."""
    return [
        importlib.import_module(name)
        for name in NAMES
        if name in sys.modules or importlib.util.find_spec(name) is not None
    ]
