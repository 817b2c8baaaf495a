"""What the CLI prints: lines to stdout or stderr, and colour only on a terminal.

Every command prints through :func:`echo` rather than ``click.echo``. click keeps its text
wrappers of ``sys.stdout`` in a cache that holds each stream a process ever swapped in (as
``CliRunner`` or a program embedding the CLI does), so commands run in a loop in one process
kept all their output alive; these writes keep nothing.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO

import click

__all__ = ["color", "echo", "style", "write"]


def color(stream: Any) -> bool:
    """Colour only on a terminal, and never with NO_COLOR set."""
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def style(text: str, **kwargs: Any) -> str:
    """``text`` styled (``click.style`` keywords) when stdout is a terminal, else as it is."""
    return click.style(text, **kwargs) if color(sys.stdout) else text


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print ``message`` and a line end to stdout (stderr with ``err``), then flush."""
    stream: TextIO = sys.stderr if err else sys.stdout
    text = message + "\n" if nl else message
    try:
        stream.write(text)
    except UnicodeEncodeError:  # a terminal that cannot show every character: replace them
        stream.flush()
        stream.buffer.write(text.encode(stream.encoding or "utf-8", "replace"))
    stream.flush()


def write(text: str) -> None:
    """Write ``text`` to stdout's bytes (UTF-8, lone surrogates as they came), then flush."""
    out = sys.stdout.buffer
    out.write(text.encode("utf-8", "surrogateescape"))
    out.flush()
