"""Closed sets of words shared across layers, in a leaf that imports nothing heavy.

The pytest plugin reads these at start-up in every test run, so they live apart from the
modules that use them (``tape``, ``transport``), which load only when a test needs them.
"""

from __future__ import annotations

import math
from typing import Literal, TypeGuard, TypeVar, get_args

__all__ = [
    "END_STATES",
    "INSTANT",
    "RECORD_MODES",
    "STOP_REASONS",
    "VERDICTS",
    "EndState",
    "RecordMode",
    "StopReason",
    "Verdict",
    "one_of",
]

_Word = TypeVar("_Word", bound=str)

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite", "drift"]
"""How a ``use_cassette`` block treats its cassette, in vcrpy's words (and ``drift``: compare
live streams with the recording)."""

RECORD_MODES: tuple[RecordMode, ...] = get_args(RecordMode)
"""The record modes :func:`streamtape.use_cassette` accepts."""

Verdict = Literal["identical", "equivalent", "changed", "different"]
"""What ``streamtape diff`` and drift mode say of two streams, mildest first."""

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
"""The verdicts, mildest first."""

StopReason = Literal["closed", "interrupted"]
"""Why a recording ended before the stream did: the client closed the response (draining off),
or the recording stopped with the stream open. `streamtape.results.Stopped.reason` is one."""

STOP_REASONS: tuple[StopReason, ...] = get_args(StopReason)

EndState = Literal["complete", "error", StopReason]
"""How a recorded stream ended on the wire: the ``outcome`` of the cassette's end record
(``docs/cassette-format.md``): read to its end, broken by an error, closed early by the caller
with draining off, or cut off (KeyboardInterrupt or task cancellation with draining off, a drain
that ran out of time or size, the writer closed while the stream was open). Not to be confused
with `streamtape.results.Outcome`, how the *response* ended (``completed``, ``failed``...)."""

END_STATES: tuple[EndState, ...] = get_args(EndState)
"""The end states this version writes (a newer minor version of the format may add some)."""


def one_of(value: object, words: tuple[_Word, ...]) -> TypeGuard[_Word]:
    """True when ``value`` is one of ``words`` (a closed set above): narrows a ``str`` read from
    a file, an ini key or a command line to the set's type."""
    return value in words


INSTANT = math.inf
"""``speed=INSTANT`` replays without waiting."""
