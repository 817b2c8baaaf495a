"""Cassette format v2: the records, the streaming writer and the streaming reader.

A cassette is a zstd stream (frames back to back) of UTF-8 NDJSON, one record a line: a header,
then ``request`` / ``response`` / ``chunk`` / ``end`` records tagged with an interaction id, so
concurrent streams may interleave. Chunks keep the exact wire bytes and their timing. Frames after
the header's are compressed with a zstd dictionary shipped in the package (v1 files have none and
still read). The layout, the timing unit and the crash/atomicity rules are documented in
``docs/cassette-format.md``.

This package's names are the ones users import; the work is split by job: ``records`` (the
format), ``interaction`` (what a read interaction looks like), ``reader``, ``writer`` and ``lock``
(one writer per file).
"""

from __future__ import annotations

from streamtape._vocabulary import END_STATES, EndState
from streamtape.cassette.interaction import (
    Chunk,
    ClientStop,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamEnd,
    Timing,
)
from streamtape.cassette.reader import Cassette
from streamtape.cassette.records import (
    DICTIONARIES,
    DICTIONARY_ID,
    FORMAT_NAME,
    FORMAT_VERSION,
    ChunkRecord,
    ClientInfo,
    Derivation,
    EndRecord,
    ErrorInfo,
    Header,
    Record,
    RequestRecord,
    ResponseRecord,
)
from streamtape.cassette.writer import DEFAULT_LOCK_TIMEOUT, CassetteWriter, InteractionWriter

Outcome = EndState
"""Former name of `EndState`, kept for code that imported it from here; `Outcome` is the name of
`streamtape.results.Outcome` (how a response ended)."""

__all__ = [
    "DEFAULT_LOCK_TIMEOUT",
    "DICTIONARIES",
    "DICTIONARY_ID",
    "END_STATES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Cassette",
    "CassetteWriter",
    "Chunk",
    "ChunkRecord",
    "ClientInfo",
    "ClientStop",
    "Derivation",
    "EndRecord",
    "EndState",
    "ErrorInfo",
    "Header",
    "Interaction",
    "InteractionWriter",
    "Outcome",
    "Record",
    "RecordedRequest",
    "RecordedResponse",
    "RequestRecord",
    "ResponseRecord",
    "StreamEnd",
    "Timing",
]
