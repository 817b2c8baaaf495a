"""Closed sets of words shared across layers, in a leaf that imports nothing heavy.

The pytest plugin reads these at start-up in every test run, so they live apart from the
modules that use them (``tape``, ``transport``), which load only when a test needs them.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

__all__ = ["INSTANT", "RECORD_MODES", "VERDICTS", "RecordMode", "Verdict"]

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite", "drift"]
"""How a ``use_cassette`` block treats its cassette, in vcrpy's words (and ``drift``: compare
live streams with the recording)."""

RECORD_MODES: tuple[RecordMode, ...] = get_args(RecordMode)
"""The record modes :func:`streamtape.use_cassette` accepts."""

Verdict = Literal["identical", "equivalent", "changed", "different"]
"""What ``streamtape diff`` and drift mode say of two streams, mildest first."""

VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
"""The verdicts, mildest first."""

INSTANT = math.inf
"""``speed=INSTANT`` replays without waiting."""
