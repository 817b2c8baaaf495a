"""What an interaction looks like once read: the recorded request, response head, body chunks
with their timing and end, plus content decoding (gzip, deflate, br, zstd) of the body."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Callable, Iterator, Sequence
from typing import NamedTuple

import msgspec
import zstandard

from streamtape.accumulate import StreamResult
from streamtape.cassette.records import ErrorInfo
from streamtape.decode import EventDecoder
from streamtape.errors import CassetteError
from streamtape.events import Event
from streamtape.reading import decode_timed, read_exchange

__all__ = [
    "Chunk",
    "ClientStop",
    "Interaction",
    "RecordedRequest",
    "RecordedResponse",
    "StreamEnd",
    "Timing",
    "content_encodings",
    "is_token",
]


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
        return content_encodings(self.headers)


class Chunk(NamedTuple):
    """One body chunk: nanoseconds since the request was sent, and the wire bytes."""

    offset_ns: int
    data: bytes


class ClientStop(NamedTuple):
    """Where the recording client stopped reading: after ``chunks`` chunks (``bytes`` bytes),
    at ``offset_ns`` since the request was sent."""

    chunks: int
    bytes: int
    offset_ns: int


class StreamEnd(msgspec.Struct, frozen=True):
    """How and when (ns since the request was sent) the stream ended on the wire.

    ``outcome`` is the end record's, as read: one of `streamtape.cassette.EndState` (a file of
    a newer 2.x version may hold a state this version does not know). ``client`` is where the
    recording client stopped, when that differs from the wire's end (it closed early, or
    finished reading well after the stream ended); ``backpressure_ns`` is how long the recorder
    held off reading because the client lagged a read-ahead limit behind."""

    offset_ns: int
    outcome: str
    error: ErrorInfo | None = None
    client: ClientStop | None = None
    backpressure_ns: int = 0


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

    def body_chunks(self) -> Iterator[Chunk]:
        """The body as it came, content-decoded (gzip, deflate, br, zstd), with its timing: one
        `Chunk` per recorded chunk, at that chunk's offset, holding what decoding it gave (empty
        while a decoder holds bytes back), then, at the last chunk's offset, what the decoders
        still held at the end (when there is any). Without a content coding these are the
        recorded chunks. Every reading of the body goes through here.

        Raises CassetteError when a content coding is unknown or the encoded bytes are broken.
        """
        codings = self.response.content_encodings if self.response else []
        if not codings:
            yield from self.chunks
            return
        decoders = [_ContentDecoder(c) for c in reversed(codings)]
        at = 0
        for at, data in self.chunks:
            for decoder in decoders:
                data = decoder.decode(data)
            yield Chunk(at, data)
        tail = b""
        for decoder in decoders:
            tail = decoder.decode(tail) + decoder.flush()
        if tail:
            yield Chunk(at, tail)

    def iter_body(self) -> Iterator[bytes]:
        """Yield the body chunk by chunk, content-decoded (see :meth:`body_chunks`)."""
        return (chunk.data for chunk in self.body_chunks() if chunk.data)

    @property
    def body(self) -> bytes:
        """The whole body, content-decoded."""
        return b"".join(self.iter_body())

    def events(self, *, strict: bool = True) -> list[Event]:
        """Decode the (content-decoded) body into typed events with the SSE event decoder."""
        return [event for _, event in decode_timed(self, EventDecoder(strict=strict))[0]]

    def result(self) -> StreamResult:
        """The final state of the one response streamed (see :meth:`results`); ValueError when
        the body holds several responses (use :meth:`results`) or is not a Responses stream."""
        results = self.results()
        if len(results) != 1:
            reading = read_exchange(self)
            raise ValueError(
                f"interaction {self.id}: "
                + (reading.note or f"the body holds {len(results)} responses; use results()")
            )
        return results[0]

    def results(self) -> list[StreamResult]:
        """One result per response streamed in the body (``accumulate_all``), read with what the
        recording knows: an HTTP error status gives outcome ``http_error``, a resumed stream
        (``starting_after``) is marked ``resumed``, a last frame cut off is a ``cut_off_frame``
        problem, a client that stopped reading early gives outcome ``stopped``; a body of
        another SSE dialect gives no result. Raises DecodeError on a malformed payload."""
        return read_exchange(self, strict=True).results

    def timing(self) -> Timing:
        """Timing facts of the recording, so a test can assert that a response really streamed:
        wire arrival times, and where the recording client stopped when that differs."""
        offsets = [c.offset_ns for c in self.chunks]
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        timed = decode_timed(self, EventDecoder(strict=False))[0]
        first_event = timed[0][0] if timed else None
        first_token = next((at for at, event in timed if is_token(event)), None)
        end = self.end.offset_ns if self.end else (offsets[-1] if offsets else 0)
        client = self.end.client if self.end else None
        return Timing(
            chunks=len(self.chunks),
            first_chunk=offsets[0] / 1e9 if offsets else None,
            first_event=None if first_event is None else first_event / 1e9,
            first_token=None if first_token is None else first_token / 1e9,
            largest_gap=max(gaps, default=0) / 1e9,
            duration=end / 1e9,
            client_chunks=None if client is None else client.chunks,
            client_end=None if client is None else client.offset_ns / 1e9,
        )


class Timing(NamedTuple):
    """When things came, in seconds since the request was sent (see `Interaction.timing`)."""

    chunks: int
    first_chunk: float | None
    first_event: float | None
    """When the chunk that completed the first SSE event came (None: no event)."""
    first_token: float | None
    """When the chunk came that completed the first delta of model output (text, reasoning,
    tool arguments...): the time to first token (None: nothing was generated)."""
    largest_gap: float
    """The longest wait between two consecutive chunks."""
    duration: float
    """Request sent to the end of the body on the wire."""
    client_chunks: int | None = None
    """Chunks the recording client took before it stopped; None: the same as the wire's."""
    client_end: float | None = None
    """When the recording client stopped or finished reading; None: with the wire's end."""


def is_token(event: Event) -> bool:
    """True for an event that streams model output: a ``*.delta`` event with a non-empty delta."""
    return event.type.endswith(".delta") and bool(getattr(event, "delta", None))


def content_encodings(headers: Sequence[tuple[str, str]]) -> list[str]:
    """The content codings ``headers`` say were applied to a body, in the order applied
    (``identity`` left out)."""
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
