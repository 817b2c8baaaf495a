"""The cassette format's records: one msgspec struct per NDJSON line kind, the format version,
and the zstd dictionaries shipped in the package (with the dictionary id of a frame).

The writer and the reader both build on these; the layout is documented in
``docs/cassette-format.md``.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Union

import msgspec
import zstandard

FORMAT_NAME = "streamtape-cassette"
FORMAT_VERSION = (2, 0)
"""(major, minor) written by this version; readers refuse a newer major, skip unknown kinds.
Version 2 added the dictionary: its frames cannot be read by a version 1 reader."""

DICTIONARY_ID = 0x53540001
"""The zstd dictionary id new cassettes are compressed with (also recorded in their header)."""
DICTIONARIES: dict[int, str] = {DICTIONARY_ID: "responses-1.zdict"}
"""Every dictionary this version reads: id -> file in ``streamtape/dictionaries/``. Ids are
never reused, and files are never changed or removed, so every cassette stays readable."""

READ_SIZE = 1 << 16
"""Bytes read from a cassette file at a time."""

__all__ = [
    "DECODER",
    "DICTIONARIES",
    "DICTIONARY_ID",
    "ENCODER",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "KNOWN_KINDS",
    "PROBE",
    "READ_SIZE",
    "ChunkRecord",
    "ClientInfo",
    "Derivation",
    "EndRecord",
    "ErrorInfo",
    "Header",
    "Record",
    "RequestRecord",
    "ResponseRecord",
    "compression_dict",
    "dictionary_bytes",
    "frame_dict_id",
    "parse_version",
]


# -- records (one JSON line each) ---------------------------------------------------------------


class Record(msgspec.Struct, tag_field="kind", omit_defaults=True, frozen=True):
    """Base of every cassette line; ``kind`` is the tag."""


class Derivation(msgspec.Struct, frozen=True):
    """One step of a derived cassette's lineage (``streamtape mutate``): the file it was made
    from (its name and the SHA-256 of its bytes) and the faults applied (their specs)."""

    source: str
    sha256: str
    faults: list[str]


class Header(Record, tag="header", omit_defaults=False, frozen=True):
    """Line 1: the format name and version, plus where and with what the cassette was made."""

    format: str
    version: str
    streamtape: str
    recorded_at: str
    python: str | None = None
    httpx: str | None = None
    httpx2: str | None = None
    host: str | None = None
    source: str | None = None  # how the cassette was made when not recorded live
    dictionary: int | None = None  # zstd dictionary id of the frames after the header (v2)
    derived_from: list[Derivation] | None = None  # lineage of a derived cassette, oldest first

    @property
    def major(self) -> int:
        """The major format version (``1`` for ``"1.0"``)."""
        return parse_version(self.version)[0]


class RequestRecord(Record, tag="request", frozen=True):
    """A request as sent (after redaction); the body is text, or base64 when not UTF-8."""

    id: int
    method: str
    url: str
    headers: list[tuple[str, str]] = []
    body: str = ""
    body_b64: str = ""


class ResponseRecord(Record, tag="response", frozen=True):
    """The response head; ``dt`` is microseconds since the request was sent."""

    id: int
    dt: int
    status: int
    http_version: str
    headers: list[tuple[str, str]] = []
    reason: str = ""


class ChunkRecord(Record, tag="chunk", frozen=True):
    """One body chunk exactly as read from the wire: ``text`` when it is valid UTF-8 on its own,
    else ``b64``. ``dt`` is microseconds since the previous record of this interaction."""

    id: int
    dt: int
    text: str | None = None
    b64: str | None = None


class ErrorInfo(msgspec.Struct, frozen=True):
    """An exception as recorded: its class name (e.g. ``RemoteProtocolError``) and message."""

    type: str
    message: str = ""


class ClientInfo(msgspec.Struct, frozen=True):
    """Where the recording client stopped reading: the chunks and bytes it was given, and
    ``at``, microseconds since the request was sent (absolute, not a gap: it may come before
    the end record's own time, when the client stopped before the stream ended)."""

    chunks: int
    bytes: int
    at: int


class EndRecord(Record, tag="end", frozen=True):
    """The end of an interaction: how it ended, and the error if it broke. ``client`` says
    where the client stopped when that differs from the wire's end (added in 2.0, optional);
    ``backpressure_us`` is how long the recorder stopped reading because the client was a
    read-ahead limit behind (offsets after that include the wait)."""

    id: int
    dt: int
    outcome: str  # an EndState when written; read as any string: a newer 2.x may add states
    error: ErrorInfo | None = None
    client: ClientInfo | None = None
    backpressure_us: int = 0


KNOWN_KINDS = frozenset({"header", "request", "response", "chunk", "end"})
"""The record kinds this version reads (a reader skips others, see ``docs/cassette-format.md``)."""
_AnyRecord = Union[Header, RequestRecord, ResponseRecord, ChunkRecord, EndRecord]  # noqa: UP007
ENCODER = msgspec.json.Encoder()
"""The one encoder of every record written (the same input gives the same bytes)."""
DECODER: msgspec.json.Decoder[_AnyRecord] = msgspec.json.Decoder(_AnyRecord)
"""The decoder of a record of a known kind."""


class _Probe(msgspec.Struct):
    """Just enough of a line to tell its kind, and a header's format and version."""

    kind: object = None
    format: object = None
    version: object = None


PROBE = msgspec.json.Decoder(_Probe)
"""The decoder of a line whose kind or version is not known yet (see `_Probe`)."""


def parse_version(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a header's ``"major.minor"`` (ValueError when not numbers)."""
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


@cache
def dictionary_bytes(dict_id: int) -> bytes:
    """The content of a shipped dictionary (KeyError: this version does not ship ``dict_id``)."""
    return (resources.files("streamtape") / "dictionaries" / DICTIONARIES[dict_id]).read_bytes()


@cache
def compression_dict(dict_id: int, level: int) -> zstandard.ZstdCompressionDict:
    """A shipped dictionary digested for compressing at ``level`` (shared: read-only once made)."""
    zdict = zstandard.ZstdCompressionDict(dictionary_bytes(dict_id))
    zdict.precompute_compress(level=level)
    return zdict


def frame_dict_id(data: bytes) -> int | None:
    """The dictionary id in the header of the zstd frame ``data`` starts with: 0 for none (or
    not a zstd frame at all: the decompressor then says what is wrong), None while the frame
    header is not complete yet."""
    if len(data) < 5:
        return None
    try:
        if len(data) < zstandard.frame_header_size(data[:18]):
            return None
        return int(zstandard.get_frame_parameters(data[:18]).dict_id)
    except zstandard.ZstdError:
        return 0
