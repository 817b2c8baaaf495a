"""JSON paths such as `a.b[0].c`, `items[*].x` or `["dotted.key"]`, parsed into steps.

Shared by redaction (paths to replace) and matching (paths to ignore).
"""

from __future__ import annotations

import re
from typing import TypeAlias

__all__ = ["STAR", "Step", "Wildcard", "parse_path"]

_PATH_TOKEN = re.compile(r"\.?([^.\[\]\"]+)|\[(-?\d+|\*)\]|\[\"([^\"]*)\"\]")


class Wildcard:
    """The ``*`` / ``[*]`` step of a JSON path: every key of an object or item of an array."""

    def __repr__(self) -> str:
        return "*"


STAR = Wildcard()
Step: TypeAlias = "str | int | Wildcard"


def parse_path(path: str) -> tuple[Step, ...]:
    """Parse ``a.b[0].c``, ``items[*].x``, ``["dotted.key"]`` into steps; raise ValueError."""
    steps: list[Step] = []
    pos = 0
    while pos < len(path):
        m = _PATH_TOKEN.match(path, pos)
        # a key needs a dot before it, except the first one
        if m is None or (m.group(1) is not None and (pos == 0) == m.group(0).startswith(".")):
            raise ValueError(f"invalid JSON path {path!r} at offset {pos}")
        name, index, quoted = m.groups()
        if name is not None:
            steps.append(STAR if name == "*" else name)
        elif index is not None:
            steps.append(STAR if index == "*" else int(index))
        else:
            steps.append(quoted)
        pos = m.end()
    if not steps:
        raise ValueError("empty JSON path")
    return tuple(steps)
