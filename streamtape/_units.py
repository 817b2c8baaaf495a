"""Durations as text, one formatter per unit of input.

Recordings keep time in integer nanoseconds (``offset_ns``), `Interaction.timing()` in seconds
and the ``inspect --json`` summary in milliseconds (its ``*_ms`` keys); each formatter is named
for the unit it takes, and each prints milliseconds to a tenth (``"12.3 ms"``), ``"-"`` for None.
"""

from __future__ import annotations

__all__ = ["format_ms", "format_ns", "format_seconds"]


def format_ms(ms: float | None) -> str:
    """``ms`` milliseconds as ``"12.3 ms"``."""
    return "-" if ms is None else f"{ms:.1f} ms"


def format_ns(ns: float | None) -> str:
    """``ns`` nanoseconds as ``"12.3 ms"``."""
    return "-" if ns is None else format_ms(ns / 1e6)


def format_seconds(seconds: float | None) -> str:
    """``seconds`` as ``"12.3 ms"``, or from one second up as ``"1.234 s"``."""
    if seconds is None:
        return "-"
    if seconds >= 1:
        return f"{seconds:.3f} s"
    return format_ms(seconds * 1000)
