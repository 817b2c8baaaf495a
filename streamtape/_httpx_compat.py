"""httpx and httpx2, two libraries with one API: which one made a request, which are installed.

Each is found by module name, never imported for nothing: httpx2 loads only when it is installed
and asked for (as pytest_httpx's ``_httpx_compat`` does for httpx versions).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING

__all__ = [
    "NAMES",
    "Httpx2AsyncTransport",
    "Httpx2Transport",
    "installed",
    "library_name",
    "module_of",
]

if TYPE_CHECKING:  # the transports serve httpx2 clients too, and say so to type checkers
    from httpx2 import AsyncBaseTransport as Httpx2AsyncTransport
    from httpx2 import BaseTransport as Httpx2Transport
else:  # at run time httpx2 is not imported for this: empty bases stand in for its classes

    class Httpx2Transport:
        __slots__ = ()

    class Httpx2AsyncTransport:
        __slots__ = ()


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
