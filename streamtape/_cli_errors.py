"""One-line errors for every CLI command: what a user sees when a command fails.

Shared by ``cli.py`` and the command modules (``_cli_*.py``) so every command fails the same
way: the message on one line and exit 1, the traceback only with ``streamtape --debug``.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click
import httpx

from streamtape.errors import StreamtapeError

__all__ = ["handled"]

F = TypeVar("F", bound=Callable[..., Any])


def _debug() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().params.get("debug"))


def handled(func: F) -> F:
    """Turn every failure into a one-line error (exit 1) unless ``--debug`` was given: the
    expected ones (bad files, network) as their message, any other (out of memory, a bug) named
    as unexpected."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BrokenPipeError:  # e.g. `streamtape cat x.ndjson.zst | head`: the reader left
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except click.ClickException:
            raise
        except (StreamtapeError, OSError, ValueError, httpx.HTTPError) as exc:
            if _debug():
                raise
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise click.ClickException(message) from None
        except Exception as exc:  # MemoryError, RecursionError, a bug: one line, not a traceback
            if _debug():
                raise
            first = str(exc).splitlines()[0] if str(exc) else ""
            message = f"unexpected {type(exc).__name__}" + (f": {first}" if first else "")
            raise click.ClickException(f"{message} (streamtape --debug ... shows where)") from None

    return wrapper  # type: ignore[return-value]
