"""Cassette format v2: the records, the streaming writer and the streaming reader.

A cassette is a zstd stream (frames back to back) of UTF-8 NDJSON, one record a line: a header,
then ``request`` / ``response`` / ``chunk`` / ``end`` records tagged with an interaction id, so
concurrent streams may interleave. Chunks keep the exact wire bytes and their timing. Frames after
the header's are compressed with a zstd dictionary shipped in the package (v1 files have none and
still read). The layout, the timing unit and the crash/atomicity rules are documented in
``docs/cassette-format.md``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import itertools
import os
import platform
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import cache
from importlib import metadata, resources
from pathlib import Path
from typing import IO, Literal, NamedTuple, TypeAlias, Union
from urllib.parse import urlsplit

import msgspec
import zstandard

from streamtape._version import __version__
from streamtape.accumulate import StreamResult, accumulate, accumulate_all
from streamtape.decode import EventDecoder
from streamtape.errors import CassetteError
from streamtape.events import Event
from streamtape.redact import DEFAULT_REDACTOR, Redactor

__all__ = [
    "DICTIONARIES",
    "DICTIONARY_ID",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Cassette",
    "CassetteWriter",
    "Chunk",
    "ChunkRecord",
    "EndRecord",
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

FORMAT_NAME = "streamtape-cassette"
FORMAT_VERSION = (2, 0)
"""(major, minor) written by this version; readers refuse a newer major, skip unknown kinds.
Version 2 added the dictionary: its frames cannot be read by a version 1 reader."""

DICTIONARY_ID = 0x53540001
"""The zstd dictionary id new cassettes are compressed with (also recorded in their header)."""
DICTIONARIES: dict[int, str] = {DICTIONARY_ID: "responses-1.zdict"}
"""Every dictionary this version reads: id -> file in ``streamtape/dictionaries/``. Ids are
never reused, and files are never changed or removed, so every cassette stays readable."""

Outcome: TypeAlias = Literal["complete", "error", "closed", "interrupted"]
"""How a stream ended: read to its end, broken by an error, closed early by the caller, or cut
off (KeyboardInterrupt, task cancellation, writer closed while the stream was open)."""

_FLUSH_INTERVAL = 0.25  # seconds: longest time a written record waits to reach the file
_MAX_FRAME_BYTES = 1 << 20  # uncompressed bytes after which a frame ends anyway
_READ_SIZE = 1 << 16
_MAX_HELD_BYTES = 8 << 20  # reader: yield unverified lines of a frame beyond this much


# -- records (one JSON line each) ---------------------------------------------------------------


class Record(msgspec.Struct, tag_field="kind", omit_defaults=True, frozen=True):
    """Base of every cassette line; ``kind`` is the tag."""


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

    @property
    def major(self) -> int:
        """The major format version (``1`` for ``"1.0"``)."""
        return _parse_version(self.version)[0]


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


class EndRecord(Record, tag="end", frozen=True):
    """The end of an interaction: how it ended, and the error if it broke."""

    id: int
    dt: int
    outcome: str
    error: ErrorInfo | None = None


_KNOWN_KINDS = frozenset({"header", "request", "response", "chunk", "end"})
_AnyRecord = Union[Header, RequestRecord, ResponseRecord, ChunkRecord, EndRecord]  # noqa: UP007
_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[_AnyRecord] = msgspec.json.Decoder(_AnyRecord)


class _Probe(msgspec.Struct):
    """Just enough of a line to tell its kind, and a header's format and version."""

    kind: object = None
    format: object = None
    version: object = None


_PROBE = msgspec.json.Decoder(_Probe)


def _parse_version(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


@cache
def _dictionary_bytes(dict_id: int) -> bytes:
    """The content of a shipped dictionary (KeyError: this version does not ship ``dict_id``)."""
    return (resources.files("streamtape") / "dictionaries" / DICTIONARIES[dict_id]).read_bytes()


@cache
def _compression_dict(dict_id: int, level: int) -> zstandard.ZstdCompressionDict:
    """A shipped dictionary digested for compressing at ``level`` (shared: read-only once made)."""
    zdict = zstandard.ZstdCompressionDict(_dictionary_bytes(dict_id))
    zdict.precompute_compress(level=level)
    return zdict


def _frame_dict_id(data: bytes) -> int | None:
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


# -- what an interaction looks like once read ---------------------------------------------------


class RecordedRequest(msgspec.Struct, frozen=True):
    """A recorded request (redacted): what matching compares against live requests."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


class RecordedResponse(msgspec.Struct, frozen=True):
    """A recorded response head; ``offset_ns`` is when it came, since the request was sent."""

    status: int
    http_version: str
    reason: str
    headers: list[tuple[str, str]]
    offset_ns: int

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def content_encodings(self) -> list[str]:
        """The content codings applied to the body, in the order they were applied."""
        return _content_encodings(self.headers)


class Chunk(NamedTuple):
    """One body chunk: nanoseconds since the request was sent, and the wire bytes."""

    offset_ns: int
    data: bytes


class StreamEnd(msgspec.Struct, frozen=True):
    """How and when (ns since the request was sent) an interaction ended."""

    offset_ns: int
    outcome: str
    error: ErrorInfo | None = None


class Interaction:
    """One request and everything that came back, with timing.

    ``response`` is None when the request failed before a response head came (``end.error``
    says why); ``end`` is None when the recorder died before the stream ended.
    """

    __slots__ = ("chunks", "end", "id", "request", "response")

    def __init__(
        self,
        id: int,
        request: RecordedRequest,
        response: RecordedResponse | None = None,
        chunks: list[Chunk] | None = None,
        end: StreamEnd | None = None,
    ) -> None:
        self.id = id
        self.request = request
        self.response = response
        self.chunks: list[Chunk] = [] if chunks is None else chunks
        self.end = end

    def __repr__(self) -> str:
        status = self.response.status if self.response else None
        outcome = self.end.outcome if self.end else "unfinished"
        return (
            f"<Interaction {self.id} {self.request.method} {self.request.url} -> {status}, "
            f"{len(self.chunks)} chunks, {outcome}>"
        )

    @property
    def complete(self) -> bool:
        """True when the body was read to its end without error."""
        return self.end is not None and self.end.outcome == "complete"

    @property
    def wire_body(self) -> bytes:
        """The body bytes as they came over the wire (still content-encoded)."""
        return b"".join(c.data for c in self.chunks)

    def iter_body(self) -> Iterator[bytes]:
        """Yield the body chunk by chunk, content-decoded (gzip, deflate, br, zstd).

        Raises CassetteError when a content coding is unknown or the encoded bytes are broken.
        """
        decoders = [_ContentDecoder(e) for e in reversed(self._encodings())]
        for chunk in self.chunks:
            data = chunk.data
            for decoder in decoders:
                data = decoder.decode(data)
            if data:
                yield data
        tail = b""
        for decoder in decoders:
            tail = decoder.decode(tail) + decoder.flush()
        if tail:
            yield tail

    @property
    def body(self) -> bytes:
        """The whole body, content-decoded."""
        return b"".join(self.iter_body())

    def events(self, *, strict: bool = True) -> list[Event]:
        """Decode the (content-decoded) body into typed events with the SSE event decoder."""
        decoder = EventDecoder(strict=strict)
        events: list[Event] = []
        for data in self.iter_body():
            events += decoder.feed(data)
        events += decoder.close()
        return events

    def result(self) -> StreamResult:
        """Fold the events into the final state of the one response streamed (``accumulate``;
        ValueError when the body holds several responses: use :meth:`results`)."""
        return accumulate(self.events())

    def results(self) -> list[StreamResult]:
        """One result per response streamed back to back in the body (``accumulate_all``)."""
        return accumulate_all(self.events())

    def timing(self) -> Timing:
        """Timing facts of the recording, so a test can assert that a response really streamed."""
        offsets = [c.offset_ns for c in self.chunks]
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        first_event: int | None = None
        decoder = EventDecoder(strict=False)
        decoders = [_ContentDecoder(e) for e in reversed(self._encodings())]
        for chunk in self.chunks:
            data = chunk.data
            for content in decoders:
                data = content.decode(data)
            if decoder.feed(data):
                first_event = chunk.offset_ns
                break
        end = self.end.offset_ns if self.end else (offsets[-1] if offsets else 0)
        return Timing(
            chunks=len(self.chunks),
            first_chunk=offsets[0] / 1e9 if offsets else None,
            first_event=None if first_event is None else first_event / 1e9,
            largest_gap=max(gaps, default=0) / 1e9,
            duration=end / 1e9,
        )

    def _encodings(self) -> list[str]:
        return self.response.content_encodings if self.response else []


class Timing(NamedTuple):
    """When things came, in seconds since the request was sent (see `Interaction.timing`)."""

    chunks: int
    first_chunk: float | None
    first_event: float | None
    """When the chunk that completed the first SSE event came (None: no event)."""
    largest_gap: float
    """The longest wait between two consecutive chunks."""
    duration: float
    """Request sent to the end of the body."""


def _content_encodings(headers: Sequence[tuple[str, str]]) -> list[str]:
    codings: list[str] = []
    for name, value in headers:
        if name.lower() == "content-encoding":
            codings += [c.strip().lower() for c in value.split(",") if c.strip()]
    return [c for c in codings if c != "identity"]


class _ContentDecoder:
    """Incremental decoder for one content coding (RFC 9110 section 8.4.1)."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        self._pending_deflate = coding == "deflate"
        self._flush: Callable[[], bytes] = bytes
        self._decompress: Callable[[bytes], bytes]
        if coding in ("gzip", "x-gzip", "deflate"):
            obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if coding != "deflate" else zlib.MAX_WBITS)
            self._decompress, self._flush = obj.decompress, obj.flush
        elif coding == "zstd":
            self._zstd = zstandard.ZstdDecompressor().decompressobj()
            self._decompress = self._zstd_frames
        elif coding == "br":
            self._decompress = _brotli_decompressor()
        else:
            raise CassetteError(f"unknown content-encoding {coding!r}")

    def decode(self, data: bytes) -> bytes:
        """Decode the next piece of the body; raises CassetteError when it is broken."""
        try:
            if self._pending_deflate and data:
                self._pending_deflate = False
                try:  # "deflate" is zlib-wrapped per the spec, raw deflate from some servers
                    return self._decompress(data)
                except zlib.error:
                    obj = zlib.decompressobj(-zlib.MAX_WBITS)
                    self._decompress, self._flush = obj.decompress, obj.flush
            return self._decompress(data)
        except (zlib.error, zstandard.ZstdError) as exc:
            raise CassetteError(f"cannot decode the {self.coding} body: {exc}") from exc

    def flush(self) -> bytes:
        """Whatever the decoder still holds at the end of the body."""
        try:
            return self._flush()
        except zlib.error as exc:
            raise CassetteError(f"cannot decode the {self.coding} body: {exc}") from exc

    def _zstd_frames(self, data: bytes) -> bytes:
        out = b""
        while data:  # a zstd body may hold several frames
            out += self._zstd.decompress(data)
            if not self._zstd.eof:
                break
            data = self._zstd.unused_data
            self._zstd = zstandard.ZstdDecompressor().decompressobj()
        return out


def _brotli_decompressor() -> Callable[[bytes], bytes]:
    try:
        import brotli  # type: ignore[import-not-found]
    except ImportError:
        try:
            import brotlicffi as brotli  # type: ignore[import-not-found]
        except ImportError:
            raise CassetteError(
                "the body is brotli-encoded: install 'brotli' to decode it"
            ) from None
    obj = brotli.Decompressor()
    method: Callable[[bytes], bytes] = getattr(obj, "process", None) or obj.decompress
    return method


# -- writing ------------------------------------------------------------------------------------


@cache
def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _text_or_b64(data: bytes) -> tuple[str | None, str | None]:
    """(text, None) when ``data`` is valid UTF-8 on its own, else (None, base64)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


def _error_info(
    error: BaseException | ErrorInfo | None, redactor: Redactor | None
) -> ErrorInfo | None:
    if error is None or isinstance(error, ErrorInfo):
        return error
    message = str(error)
    if redactor is not None:
        message = redactor.chunk(message.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "replace"
        )
    return ErrorInfo(type=type(error).__name__, message=message)


class InteractionWriter:
    """Appends the records of one interaction; got from :meth:`CassetteWriter.begin`.

    Offsets are nanoseconds since the request was sent; by default they are read from the
    writer's clock at the call. They are stored as whole microseconds, gap by gap.
    """

    def __init__(self, writer: CassetteWriter, id: int, start_ns: int) -> None:
        self.id = id
        self._writer = writer
        self._start_ns = start_ns
        self._last_us = 0
        self._encoded = False
        self.ended = False

    def _dt(self, offset_ns: int | None) -> int:
        if offset_ns is None:
            offset_ns = max(self._writer._clock() - self._start_ns, self._last_us * 1000)
        us = offset_ns // 1000
        if us < self._last_us:
            raise ValueError(f"offset {offset_ns} ns is before the previous record's")
        dt, self._last_us = us - self._last_us, us
        return dt

    def response(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        *,
        http_version: str = "HTTP/1.1",
        reason: str = "",
        offset_ns: int | None = None,
    ) -> None:
        """Record the response head (headers as received, order kept, then redacted)."""
        redactor = self._writer.redactor
        self._encoded = bool(_content_encodings(headers))
        kept = redactor.response_headers(list(headers)) if redactor else list(headers)
        with self._writer._lock:
            if self.ended:
                return
            self._writer._write(
                ResponseRecord(
                    id=self.id,
                    dt=self._dt(offset_ns),
                    status=status,
                    http_version=http_version,
                    headers=kept,
                    reason=reason,
                )
            )

    def chunk(self, data: bytes, *, offset_ns: int | None = None) -> None:
        """Record one body chunk. Content-encoded chunks are kept as they are (redacting
        compressed bytes could only corrupt them); others pass the redactor's chunk rules."""
        redactor = self._writer.redactor
        if redactor is not None and not self._encoded:
            data = redactor.chunk(data)
        text, b64 = _text_or_b64(data)
        with self._writer._lock:
            if self.ended:
                return
            self._writer._write(ChunkRecord(id=self.id, dt=self._dt(offset_ns), text=text, b64=b64))

    def end(
        self,
        outcome: Outcome = "complete",
        *,
        error: BaseException | ErrorInfo | None = None,
        offset_ns: int | None = None,
    ) -> None:
        """Record the end of the interaction (once; later calls do nothing) and end the frame."""
        info = _error_info(error, self._writer.redactor)
        with self._writer._lock:
            if self.ended:
                return
            self.ended = True
            self._writer._open.pop(self.id, None)
            self._writer._write(
                EndRecord(id=self.id, dt=self._dt(offset_ns), outcome=outcome, error=info),
                end_frame=True,
            )


class CassetteWriter:
    """Writes a cassette as the interactions happen, safe to share between threads and tasks.

    Every record passes ``redactor`` first (None keeps everything). A zstd frame ends at each
    interaction's end (and after 1 MiB); while records are pending they are flushed to the file
    as a complete zstd block at least every ``flush_interval`` seconds (a background thread sees
    to it during stalls), so a killed process leaves a file whose records read back up to the
    last flush. Block flushes keep the compression history that a frame end would throw away.
    The NDJSON depends on the input only; the compressed bytes also depend on when flushes fell,
    so pass ``flush_interval=None`` where identical files matter (conversions).

    With ``atomic=True`` the records go to ``<name>.<random>.partial`` next to ``path``, renamed
    over ``path`` by :meth:`close`: readers never see half a file, and after a crash the
    ``.partial`` file is the readable artefact. ``atomic=False`` writes ``path`` in place.
    ``append=True`` keeps the interactions already in ``path`` (new ids continue after them);
    it raises CassetteError when that file is damaged or of a newer major version.

    The header gets a zstd frame of its own without a dictionary, so any zstd tool (and a reader
    without the dictionary, to refuse the file by its version) can read it; the frames after it
    use the shipped ``dictionary`` (an id of :data:`DICTIONARIES`; None: no dictionary, bigger
    files). Appending keeps the dictionary the file's header names (none for a version 1 file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        redactor: Redactor | None = DEFAULT_REDACTOR,
        level: int = 7,
        atomic: bool = True,
        append: bool = False,
        flush_interval: float | None = _FLUSH_INTERVAL,
        clock: Callable[[], int] = time.perf_counter_ns,
        recorded_at: str | datetime.datetime | None = None,
        source: str | None = None,
        dictionary: int | None = DICTIONARY_ID,
    ) -> None:
        self.path = Path(path)
        self.source = source
        self.redactor = redactor
        self.atomic = atomic
        self._clock = clock
        self._interval_ns = None if flush_interval is None else int(flush_interval * 1e9)
        if isinstance(recorded_at, datetime.datetime):
            recorded_at = recorded_at.astimezone(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        self._recorded_at = recorded_at
        self._level = level
        self._lock = threading.Condition(threading.RLock())
        self._open: dict[int, InteractionWriter] = {}
        self._pending_since: int | None = None  # clock time of the oldest unflushed record
        self._frame_bytes = 0  # uncompressed bytes in the current frame (0: no frame open)
        self._timer: threading.Thread | None = None
        self.closed = False

        existing = self._scan_existing() if append else None
        old_ids: int | None = None
        if existing is not None:
            old_ids, dictionary = existing
        if dictionary is not None and dictionary not in DICTIONARIES:
            known = ", ".join(map(str, DICTIONARIES))
            raise CassetteError(
                f"{self.path}: unknown cassette dictionary id {dictionary} (this streamtape "
                f"{__version__} has {known}): upgrade streamtape",
                path=str(self.path),
            )
        self.dictionary = dictionary
        self._cctx = zstandard.ZstdCompressor(
            level=level,
            write_checksum=True,
            dict_data=None if dictionary is None else _compression_dict(dictionary, level),
        )
        self._cobj = self._cctx.compressobj()
        self._next_id = 1 if old_ids is None else old_ids + 1
        self._header_written = old_ids is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if atomic:
            self.temp_path: Path | None = self._create_temp()
            self._file: IO[bytes] = open(self.temp_path, "wb")  # noqa: SIM115 - closed in close()
            if old_ids is not None:
                with open(self.path, "rb") as old:
                    while block := old.read(_READ_SIZE):
                        self._file.write(block)
        else:
            self.temp_path = None
            mode = "ab" if old_ids is not None else "wb"
            self._file = open(self.path, mode)  # noqa: SIM115 - closed in close()

    def _scan_existing(self) -> tuple[int, int | None] | None:
        """Check an existing cassette for appending; return its highest interaction id and the
        dictionary its header names."""
        try:
            if self.path.stat().st_size == 0:
                return None
        except FileNotFoundError:
            return None
        top = 0
        dictionary: int | None = None
        try:
            for record in Cassette.iter_records(self.path):
                if isinstance(record, RequestRecord):
                    top = max(top, record.id)
                elif isinstance(record, Header):
                    dictionary = record.dictionary
        except CassetteError as exc:
            raise CassetteError(
                f"cannot append to {self.path}: {exc}",
                path=str(self.path),
                record=exc.record,
                offset=exc.offset,
            ) from exc
        return top, dictionary

    def _create_temp(self) -> Path:
        while True:
            temp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.partial")
            try:
                fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return temp

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def begin(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        start_ns: int | None = None,
    ) -> InteractionWriter:
        """Record a request (redacted) and return the writer for the rest of its interaction.

        ``start_ns`` is the writer-clock time the request was sent (default: now).
        """
        if self.redactor is not None:
            url, kept, body = self.redactor.request(method, url, list(headers), body)
        else:
            kept = list(headers)
        text, b64 = _text_or_b64(body)
        with self._lock:
            if self.closed:
                raise CassetteError("the cassette writer is closed", path=str(self.path))
            if not self._header_written:
                self._write_header(url)
            inter = InteractionWriter(
                self, self._next_id, self._clock() if start_ns is None else start_ns
            )
            self._next_id += 1
            self._open[inter.id] = inter
            self._write(
                RequestRecord(
                    id=inter.id,
                    method=method,
                    url=url,
                    headers=kept,
                    body=text or "",
                    body_b64=b64 or "",
                )
            )
        return inter

    def _write_header(self, url: str | None) -> None:
        host = None
        if url:
            parts = urlsplit(url)
            host = parts.netloc.rpartition("@")[2] or None
        recorded_at = self._recorded_at or datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        self._header_written = True
        header = Header(
            format=FORMAT_NAME,
            version=f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}",
            streamtape=__version__,
            recorded_at=recorded_at,
            python=platform.python_version(),
            httpx=_dist_version("httpx"),
            httpx2=_dist_version("httpx2"),
            host=host,
            source=self.source,
            dictionary=self.dictionary,
        )
        # a frame of its own, without the dictionary: any zstd tool or older reader can read it
        plain = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
        self._file.write(plain.compress(_ENCODER.encode(header) + b"\n"))
        self._file.flush()

    def _write(self, record: Record, *, end_frame: bool = False) -> None:
        """Compress one line; end the frame when asked or big, flush when due. Lock held."""
        line = _ENCODER.encode(record) + b"\n"
        out = self._cobj.compress(line)
        if out:
            self._file.write(out)
        self._frame_bytes += len(line)
        now = self._clock()
        if self._pending_since is None:
            self._pending_since = now
            self._start_timer()
        if end_frame or self._frame_bytes >= _MAX_FRAME_BYTES:
            self._end_frame()
        elif self._interval_ns is not None and now - self._pending_since >= self._interval_ns:
            self._flush_block()

    def _flush_block(self) -> None:
        """Hand everything written so far to the OS as complete zstd blocks. Lock held."""
        self._file.write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        self._file.flush()
        self._pending_since = None

    def _end_frame(self) -> None:
        """Finish the current zstd frame and hand it to the OS. Lock held."""
        if not self._frame_bytes:
            return
        self._file.write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
        self._file.flush()
        self._cobj = self._cctx.compressobj()
        self._pending_since = None
        self._frame_bytes = 0

    def _start_timer(self) -> None:
        if self._interval_ns is None:
            return
        if self._timer is None:
            self._timer = threading.Thread(
                target=self._run_timer, name="streamtape-cassette-flush", daemon=True
            )
            self._timer.start()
        else:
            self._lock.notify_all()

    def _run_timer(self) -> None:
        """Flush pending records once they are ``flush_interval`` old, even if no record comes."""
        assert self._interval_ns is not None
        with self._lock:
            while not self.closed:
                if self._pending_since is None:
                    self._lock.wait()
                    continue
                remaining = self._pending_since + self._interval_ns - self._clock()
                if remaining <= 0:
                    self._flush_block()
                else:
                    self._lock.wait(remaining / 1e9)

    def flush(self) -> None:
        """End the current frame now, so everything written so far is readable and verified."""
        with self._lock:
            if not self.closed:
                self._end_frame()

    def close(self) -> None:
        """End open interactions as ``interrupted``, finish the file and (atomic) rename it."""
        self._finish()
        if self.temp_path is not None:
            os.replace(self.temp_path, self.path)

    def discard(self) -> None:
        """Stop writing; with ``atomic=True`` delete the temp file and leave ``path`` untouched."""
        self._finish()
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)

    def _finish(self) -> None:
        with self._lock:
            if self.closed:
                return
            for inter in list(self._open.values()):
                inter.end("interrupted")
            if not self._header_written:
                self._write_header(None)
            self._end_frame()
            self.closed = True
            self._lock.notify_all()
            self._file.close()
        if self._timer is not None:
            self._timer.join()


# -- reading ------------------------------------------------------------------------------------


class _Damage(Exception):
    """Internal: the file is damaged (truncated, corrupt); lenient reading stops quietly."""

    def __init__(self, error: CassetteError) -> None:
        super().__init__(str(error))
        self.error = error


class _Reader:
    """Decode a cassette file line by line in constant memory.

    Lines are held until the zstd frame holding them has ended (and so passed its checksum);
    the complete lines of a truncated last frame are still given out. Each frame is decompressed
    with the dictionary its own frame header names (none: none), so files mixing frames with and
    without a dictionary read. Damage stops the iteration and is left in ``error``; refusals (not
    a cassette, newer major, a dictionary this version does not ship) raise.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)
        self.error: CassetteError | None = None
        self.record = 0  # number of the last line given out (1 = the header)
        self.frame_offset = 0  # file offset of the frame holding that line
        self.header: Header | None = None
        self._plain = zstandard.ZstdDecompressor()
        self._dctx: dict[int, zstandard.ZstdDecompressor] = {}

    def _fail(self, message: str, record: int, offset: int) -> CassetteError:
        return CassetteError(
            f"{self.path}: record {record} at byte {offset}: {message}",
            path=self.path,
            record=record,
            offset=offset,
        )

    def __iter__(self) -> Iterator[Record]:
        try:
            yield from self._records()
        except _Damage as damage:
            self.error = damage.error

    def _records(self) -> Iterator[Record]:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CassetteError(f"cannot open cassette {self.path}: {exc}", path=self.path) from exc
        with file:
            dobj: zstandard.ZstdDecompressionObj | None = None
            frame_start = pos = 0
            head = b""  # the start of a frame whose frame header is not complete yet
            buf = bytearray()  # decompressed bytes after the last newline
            held: list[tuple[bytes, int]] = []  # complete lines, with their frame's offset
            held_bytes = 0
            number = 0
            while data := file.read(_READ_SIZE):
                if head:
                    data, head = head + data, b""
                while data:
                    if dobj is None:
                        dict_id = _frame_dict_id(data)
                        if dict_id is None:
                            head, data = data, b""
                            break
                        frame_start = pos
                        dobj = self._decompressor(dict_id, number + 1, pos).decompressobj()
                    try:
                        out = dobj.decompress(data)
                    except zstandard.ZstdError as exc:
                        if pos == 0:  # not even the first frame: not a cassette at all
                            message = f"not a streamtape cassette: not zstd data ({exc})"
                            raise self._fail(message, 1, 0) from exc
                        raise _Damage(
                            self._fail(f"corrupt zstd frame ({exc})", number + 1, frame_start)
                        ) from exc
                    if dobj.eof:
                        rest = dobj.unused_data
                        pos += len(data) - len(rest)
                        data, dobj = rest, None
                    else:
                        pos += len(data)
                        data = b""
                    buf += out
                    cut = buf.rfind(b"\n")
                    if cut >= 0:
                        lines = bytes(buf[:cut]).split(b"\n")
                        del buf[: cut + 1]
                        held += [(line, frame_start) for line in lines]
                        held_bytes += cut
                    if dobj is None or held_bytes > _MAX_HELD_BYTES:
                        for line, offset in held:
                            number += 1
                            record = self._decode(line, number, offset)
                            if record is not None:
                                yield record
                        held.clear()
                        held_bytes = 0
            # the end of the file
            for line, offset in held:
                number += 1
                record = self._decode(line, number, offset)
                if record is not None:
                    yield record
            if dobj is not None or head:
                if head:
                    frame_start = pos
                raise _Damage(
                    self._fail(
                        f"truncated: the zstd frame starting here is cut off at byte "
                        f"{pos + len(head)} (file end)",
                        number + 1,
                        frame_start,
                    )
                )
            if buf:
                number += 1
                record = self._decode(bytes(buf), number, frame_start)
                if record is not None:
                    yield record
            if self.header is None:
                raise _Damage(self._fail("empty cassette: no header record", 1, 0))

    def _decompressor(self, dict_id: int, number: int, offset: int) -> zstandard.ZstdDecompressor:
        """A decompressor for a frame made with dictionary ``dict_id`` (0: none)."""
        if dict_id == 0:
            return self._plain
        dctx = self._dctx.get(dict_id)
        if dctx is None:
            try:
                zdict = zstandard.ZstdCompressionDict(_dictionary_bytes(dict_id))
            except KeyError:
                error = self._fail(
                    f"the zstd frame starting here needs dictionary id {dict_id}, which this "
                    f"streamtape ({__version__}) does not have: upgrade streamtape",
                    number,
                    offset,
                )
                if self.header is not None and self.header.dictionary == dict_id:
                    raise error from None  # a newer streamtape made the file: refuse it
                raise _Damage(error) from None  # no header names it: a corrupt frame header
            dctx = self._dctx[dict_id] = zstandard.ZstdDecompressor(dict_data=zdict)
        return dctx

    def _decode(self, line: bytes, number: int, offset: int) -> Record | None:
        """Decode one line; None for blank lines and unknown kinds (newer minor versions)."""
        self.record, self.frame_offset = number, offset
        if not line.strip():
            return None
        try:
            record: Record = _DECODER.decode(line)
        except msgspec.DecodeError as exc:
            self._undecodable(line, number, offset, exc)  # raises, or skips an unknown kind
            return None
        if self.header is None:
            if not isinstance(record, Header):
                raise self._fail(
                    "not a streamtape cassette: no header record first", number, offset
                )
            if record.format != FORMAT_NAME:
                raise self._fail(
                    "not a streamtape cassette (the first record is not its header)", number, offset
                )
            self._check_version(record.version, number, offset)
            self.header = record
        return record

    def _check_version(self, version: str, number: int, offset: int) -> None:
        """Refuse a header whose version is malformed or of a newer major."""
        try:
            major, _minor = _parse_version(version)
        except ValueError:
            raise self._fail(f"bad format version {version!r}", number, offset) from None
        if major > FORMAT_VERSION[0]:
            raise self._fail(
                f"cassette format {version} is newer than this streamtape ({__version__}) "
                f"reads ({FORMAT_VERSION[0]}.x): upgrade streamtape",
                number,
                offset,
            )

    def _undecodable(self, line: bytes, number: int, offset: int, exc: msgspec.DecodeError) -> None:
        """Raise the right error for a line that did not decode; return for unknown kinds."""
        try:
            probe = _PROBE.decode(line)
        except msgspec.DecodeError:
            raise _Damage(self._fail(f"not a JSON record ({exc})", number, offset)) from None
        if self.header is None:
            if probe.kind != "header" or probe.format != FORMAT_NAME:
                raise self._fail(
                    "not a streamtape cassette (the first record is not its header)", number, offset
                )
            version = probe.version if isinstance(probe.version, str) else ""
            self._check_version(version, number, offset)
            raise self._fail(f"bad header ({exc})", number, offset)
        if isinstance(probe.kind, str) and probe.kind not in _KNOWN_KINDS:
            return  # a kind added by a newer minor version: skipped
        raise _Damage(self._fail(f"invalid {probe.kind} record ({exc})", number, offset))


class _Assembler:
    """Turns records into interactions, checking that they fit together."""

    def __init__(self, reader: _Reader, *, keep: bool = True) -> None:
        self._reader = reader
        self._keep = keep  # keep every interaction in ``order`` (load) or only the open ones
        self.open: dict[int, tuple[Interaction, list[int]]] = {}  # id -> (interaction, [µs])
        self.order: list[Interaction] = []
        self._seen: set[int] = set()

    def _fail(self, message: str) -> _Damage:
        r = self._reader
        return _Damage(r._fail(message, r.record, r.frame_offset))

    def feed(self, record: Record) -> Interaction | None:
        """Add one record; return the interaction it ended, if any."""
        if isinstance(record, Header):
            if self._reader.record != 1:
                raise self._fail("a second header record")
            return None
        if isinstance(record, RequestRecord):
            if record.id in self._seen:
                raise self._fail(f"interaction {record.id} is recorded twice")
            self._seen.add(record.id)
            try:
                body = (
                    base64.b64decode(record.body_b64, validate=True)
                    if record.body_b64
                    else (record.body.encode("utf-8"))
                )
            except binascii.Error as exc:
                raise self._fail(f"bad base64 body ({exc})") from None
            inter = Interaction(
                record.id, RecordedRequest(record.method, record.url, record.headers, body)
            )
            self.open[record.id] = (inter, [0])
            if self._keep:
                self.order.append(inter)
            return None
        assert isinstance(record, (ResponseRecord, ChunkRecord, EndRecord))
        try:
            inter, clock = self.open[record.id]
        except KeyError:
            kind = type(record).__struct_config__.tag
            raise self._fail(f"{kind} record of unknown or ended interaction {record.id}") from None
        if record.dt < 0:
            raise self._fail("negative time gap")
        clock[0] += record.dt
        offset_ns = clock[0] * 1000
        if isinstance(record, ResponseRecord):
            inter.response = RecordedResponse(
                record.status, record.http_version, record.reason, record.headers, offset_ns
            )
        elif isinstance(record, ChunkRecord):
            try:
                data = (
                    base64.b64decode(record.b64, validate=True)
                    if record.b64 is not None
                    else (record.text or "").encode("utf-8")
                )
            except binascii.Error as exc:
                raise self._fail(f"bad base64 chunk ({exc})") from None
            inter.chunks.append(Chunk(offset_ns, data))
        else:
            inter.end = StreamEnd(offset_ns, record.outcome, record.error)
            del self.open[record.id]
            return inter
        return None


class Cassette:
    """The interactions of a cassette, in the order their requests were recorded.

    ``truncated`` is True (and ``error`` says where) when a lenient load stopped at damage.
    """

    def __init__(
        self,
        interactions: Iterable[Interaction] = (),
        *,
        header: Header | None = None,
        path: str | os.PathLike[str] | None = None,
        error: CassetteError | None = None,
    ) -> None:
        self.interactions = list(interactions)
        self.header = header
        self.path = None if path is None else str(path)
        self.error = error

    @property
    def truncated(self) -> bool:
        """True when reading stopped early at a damaged (cut off or corrupt) part of the file."""
        return self.error is not None

    def __repr__(self) -> str:
        flag = ", truncated" if self.truncated else ""
        return f"<Cassette {self.path!r}: {len(self.interactions)} interactions{flag}>"

    def __len__(self) -> int:
        return len(self.interactions)

    def __iter__(self) -> Iterator[Interaction]:
        return iter(self.interactions)

    def __getitem__(self, index: int) -> Interaction:
        return self.interactions[index]

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, strict: bool = True) -> Cassette:
        """Read a whole cassette.

        Raises CassetteError naming the file, record number and byte offset when the file is
        cut off or corrupt (``strict=False`` instead returns every interaction read before the
        damage, with ``truncated`` set), and always when it is not a cassette or its major
        version is newer than this reader.
        """
        reader = _Reader(path)
        assembler = _Assembler(reader)
        try:
            for record in reader:
                assembler.feed(record)
        except _Damage as damage:
            reader.error = damage.error
        if reader.error is not None and strict:
            raise reader.error
        return cls(assembler.order, header=reader.header, path=path, error=reader.error)

    @staticmethod
    def iter_records(path: str | os.PathLike[str]) -> Iterator[Record]:
        """Yield every record (header first) in constant memory.

        Unknown record kinds are skipped. Damage raises CassetteError (file, record number, byte
        offset of the broken zstd frame) after every complete record before it was yielded.
        """
        reader = _Reader(path)
        yield from reader
        if reader.error is not None:
            raise reader.error

    @staticmethod
    def read_ndjson(path: str | os.PathLike[str]) -> bytes:
        """The whole decompressed NDJSON of a file, unparsed (for inspection and tests), each
        frame decompressed with its own dictionary; raises CassetteError on damage."""
        data = Path(path).read_bytes()
        view = memoryview(data)  # frames are handed on without copying the rest of the file
        out: list[bytes] = []
        reader = _Reader(path)
        pos = 0
        while pos < len(data):
            dict_id = _frame_dict_id(data[pos : pos + 18])
            try:
                dobj = reader._decompressor(dict_id or 0, 0, pos).decompressobj()
                out.append(dobj.decompress(view[pos:]))
            except (zstandard.ZstdError, _Damage) as exc:
                message = f"{path}: corrupt zstd frame at byte {pos} ({exc})"
                raise CassetteError(message, path=str(path), offset=pos) from exc
            if not dobj.eof:
                message = f"{path}: truncated zstd frame at byte {pos}"
                raise CassetteError(message, path=str(path), offset=pos)
            pos = len(data) - len(dobj.unused_data)
        return b"".join(out)

    @staticmethod
    def iter_interactions(
        path: str | os.PathLike[str], *, strict: bool = True
    ) -> Iterator[Interaction]:
        """Yield each interaction when its end record is read (memory: the open ones only),
        then the unfinished ones; damage raises as in :meth:`load` unless ``strict=False``."""
        reader = _Reader(path)
        assembler = _Assembler(reader, keep=False)
        try:
            for record in reader:
                done = assembler.feed(record)
                if done is not None:
                    yield done
        except _Damage as damage:
            reader.error = damage.error
        yield from (inter for inter, _ in assembler.open.values())
        if reader.error is not None and strict:
            raise reader.error
