"""JSON paths such as `a.b[0].c`, `items[*].x` or `["dotted.key"]`, parsed into steps.

Shared by redaction (paths to replace) and matching (paths to ignore): both parse with
`parse_path` and find what a path points at with `targets`, then each does its own change.
"""

from __future__ import annotations

import re
from typing import Any, TypeAlias

__all__ = ["STAR", "Step", "Wildcard", "parse_path", "targets"]

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


def targets(doc: Any, steps: tuple[Step, ...]) -> list[tuple[Any, Any]]:
    """Each ``(container, key)`` that ``steps`` points at in ``doc`` (a dict and its key, or a
    list and a non-negative index), found before anything changes, so the caller may delete or
    replace them in any order. Steps that do not fit the document select nothing."""
    found: list[tuple[Any, Any]] = []
    frontier = [doc]
    for depth, step in enumerate(steps):
        last = depth == len(steps) - 1
        deeper: list[Any] = []
        for node in frontier:
            for key in _keys(node, step):
                if last:
                    found.append((node, key))
                else:
                    deeper.append(node[key])
        frontier = deeper
    return found


def _keys(node: Any, step: Step) -> list[Any]:
    if isinstance(node, dict):
        if isinstance(step, Wildcard):
            return list(node)
        return [step] if isinstance(step, str) and step in node else []
    if isinstance(node, list):
        if isinstance(step, Wildcard):
            return list(range(len(node)))
        if isinstance(step, int) and -len(node) <= step < len(node):
            return [step % len(node)]
    return []
