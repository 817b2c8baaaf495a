"""Closed sets of words shared across layers, in a leaf that imports nothing heavy.

The pytest plugin reads these at start-up in every test run, so they live apart from the
modules that use them (``tape``, ``transport``), which load only when a test needs them.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

__all__ = ["INSTANT", "RECORD_MODES", "RecordMode"]

RecordMode = Literal["none", "once", "new_episodes", "all", "rewrite"]
"""How a ``use_cassette`` block treats its cassette, in vcrpy's words."""

RECORD_MODES: tuple[RecordMode, ...] = get_args(RecordMode)
"""The record modes :func:`streamtape.use_cassette` accepts."""

INSTANT = math.inf
"""``speed=INSTANT`` replays without waiting."""
