"""What a recorded exchange says: its responses' results, read with what only the recording knows.

The events alone cannot tell an HTTP error answer from a stream that never began, a resumed
stream (`GET /responses/{id}?stream=true&starting_after=N`) from a broken one, a last frame the
stream ended inside from a clean end, a client that stopped reading from a server that stopped
sending, or another SSE dialect from a malformed Responses stream. The request, the response head
and the end of the recording can; this module joins them to the fold (`accumulate`), so the
library (`Interaction.results()`, `Tape.results()`) and every CLI command read an interaction the
same way.

The interaction is duck-typed (`Exchange`): this module sits below the cassette layer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias
from urllib.parse import parse_qs, urlsplit

import msgspec

from streamtape._vocabulary import STOP_REASONS, one_of
from streamtape.accumulate import Accumulator
from streamtape.decode import EventDecoder
from streamtape.events import (
    BaseEvent,
    Event,
    MalformedEvent,
    OpaqueEvent,
    ResponseError,
    UnknownEvent,
)
from streamtape.results import HttpError, Stopped, StreamResult

__all__ = [
    "Dialect",
    "Exchange",
    "Reading",
    "decode_timed",
    "http_error",
    "read_exchange",
    "read_exchanges",
    "resume_point",
]

Dialect: TypeAlias = Literal["responses", "other"]
"""`responses`: a Responses-API stream (or an HTTP error of one); `other`: any other body."""

_BODY_EXCERPT = 2000


class _Request(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def url(self) -> str: ...


class _Head(Protocol):
    @property
    def status(self) -> int: ...
    def header(self, name: str) -> str | None: ...


class _End(Protocol):
    @property
    def outcome(self) -> str: ...
    @property
    def offset_ns(self) -> int: ...


class Exchange(Protocol):
    """What is read of a recorded interaction (`streamtape.cassette.Interaction` is one)."""

    @property
    def request(self) -> _Request: ...
    @property
    def response(self) -> _Head | None: ...
    @property
    def chunks(self) -> Sequence[tuple[int, bytes]]: ...
    @property
    def end(self) -> _End | None: ...
    def body_chunks(self) -> Iterator[tuple[int, bytes]]: ...


@dataclass
class Reading:
    """One interaction read: its events with the offset (ns since the request) of the chunk that
    completed each, its results, and what kind of body it was.

    `results` is empty for a body of another dialect, which `note` then describes ("not a
    Responses-API stream: N frames, M bytes"). `frames` counts the SSE payloads, `bytes` the
    (content-decoded) body. `cut_off` is the byte offset of a last frame the body ended inside,
    `status` the HTTP status, `resume` the request's `(response id, starting_after)` when it
    fetched a stored response's stream (see `resume_point`).
    """

    dialect: Dialect
    timed: list[tuple[int, Event]]
    results: list[StreamResult]
    frames: int
    bytes: int
    cut_off: int | None = None
    note: str | None = None
    status: int | None = None
    resume: tuple[str, int | None] | None = None


def resume_point(method: str, url: str) -> tuple[str, int | None] | None:
    """`(response id, starting_after)` when the request fetches a stored response's stream
    (`GET .../responses/{id}?stream=true[&starting_after=N]`), else None."""
    if method.upper() != "GET":
        return None
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) < 2 or segments[-2] != "responses":
        return None
    query = parse_qs(parts.query)
    if query.get("stream", ["false"])[-1].lower() != "true":
        return None
    after = query.get("starting_after", [None])[-1]
    return segments[-1], int(after) if after is not None and after.isdigit() else None


def decode_timed(inter: Exchange, decoder: EventDecoder) -> tuple[list[tuple[int, Event]], int]:
    """Each event of the (content-decoded) body with the offset (ns since the request) of the
    chunk that completed it, and the body's size; what the decoder gives only at the end (a last
    frame cut off) comes at the last chunk's offset. Every timed reading of events is this one
    (`Interaction.events()` and `.timing()`, `inspect`, the report, the diff)."""
    out: list[tuple[int, Event]] = []
    size = 0
    at = 0
    for at, data in inter.body_chunks():
        size += len(data)
        out += [(at, event) for event in decoder.feed(data)]
    out += [(at, event) for event in decoder.close()]
    return out, size


def _dialect(inter: Exchange, timed: list[tuple[int, Event]], size: int) -> Dialect:
    """`responses` when any payload is a Responses-API event (an `error` event counts) or a
    broken one, or the response-typed unknown events or empty body of a Responses URL; else
    `other` (payloads with no `type`, other dialects' types, or a body with no frames)."""
    if any(isinstance(event, BaseEvent | MalformedEvent) for _, event in timed):
        return "responses"
    if any(isinstance(event, OpaqueEvent) for _, event in timed):
        return "other"
    if any(isinstance(event, UnknownEvent) for _, event in timed):
        known = all(e.type.startswith("response.") for _, e in timed if isinstance(e, UnknownEvent))
        return "responses" if known else "other"
    if size:
        return "other"
    path = urlsplit(inter.request.url).path
    return "responses" if "/responses" in path else "other"


def http_error(status: int, retry_after: str | None, body: bytes, events: int = 0) -> StreamResult:
    """The result of an HTTP error answer: status, the error its JSON body names (OpenAI's or
    OpenRouter's `{"error": {...}}`, or a flat `{"message": ...}`), and `Retry-After`."""
    text = body.decode("utf-8", "replace")
    found: dict[str, Any] = {}
    try:
        doc = msgspec.json.decode(body)
    except msgspec.DecodeError:
        doc = None
    if isinstance(doc, dict):
        inner = doc.get("error")
        found = inner if isinstance(inner, dict) else doc
        if isinstance(inner, str):
            found = {"message": inner}

    def text_of(key: str) -> str | None:
        value = found.get(key)
        return None if value is None or isinstance(value, dict | list) else str(value)

    message = text_of("message") or text_of("detail") or text.strip()[:_BODY_EXCERPT]
    http = HttpError(
        status=status,
        code=text_of("code"),
        message=message,
        type=text_of("type"),
        param=text_of("param"),
        retry_after=retry_after,
        body=text[:_BODY_EXCERPT],
    )
    return StreamResult(
        outcome="http_error",
        response=None,
        output_text="",
        function_calls=(),
        reasoning=(),
        refusal="",
        usage=None,
        error=ResponseError(code=http.code, message=message, param=http.param, type=http.type),
        items=(),
        problems=(),
        event_count=events,
        event_counts={},
        http=http,
    )


def _client_stop(inter: Exchange, size: int, events: int) -> Stopped | None:
    """Where and why the recording client stopped reading early, if it did.

    Today's recorders end such a recording `closed` (or `interrupted`) where the client
    stopped. A recorder that drains the stream to its real end after an early close records the
    server's outcome instead, with where the client stopped in the end record's `client`
    (`chunks`, `bytes`, `offset_ns`): that is read too when present.
    """
    end = inter.end
    if end is None:
        return None
    client = getattr(end, "client", None)
    taken = getattr(client, "chunks", None)
    if isinstance(taken, int) and taken < len(inter.chunks):
        decoder = EventDecoder(strict=False)
        given = itertools.islice(inter.body_chunks(), taken)
        seen = sum(len(decoder.feed(data)) for _, data in given)
        return Stopped(
            reason="closed",
            offset_ns=int(getattr(client, "offset_ns", end.offset_ns)),
            bytes=int(getattr(client, "bytes", sum(len(d) for _, d in inter.chunks[:taken]))),
            events=seen,
        )
    if not one_of(end.outcome, STOP_REASONS):
        return None
    return Stopped(reason=end.outcome, offset_ns=end.offset_ns, bytes=size, events=events)


def _fold(inter: Exchange, acc: Accumulator, strict: bool) -> Reading:
    """Read one interaction, folding a Responses stream into `acc`."""
    decoder = EventDecoder(strict=strict)
    timed, size = decode_timed(inter, decoder)
    status = inter.response.status if inter.response is not None else None
    resume = resume_point(inter.request.method, inter.request.url)
    reading = Reading(
        dialect="responses",
        timed=timed,
        results=[],
        frames=len(timed),
        bytes=size,
        cut_off=decoder.cut_off,
        status=status,
        resume=resume,
    )
    if inter.response is not None and inter.response.status >= 400:
        body = b"".join(data for _, data in inter.body_chunks())
        retry = inter.response.header("retry-after")
        reading.results = [http_error(inter.response.status, retry, body, len(timed))]
        return reading
    if _dialect(inter, timed, size) == "other":
        reading.dialect = "other"
        reading.note = f"not a Responses-API stream: {len(timed)} frames, {size} bytes"
        return reading
    begun = acc.response_count
    if resume is not None:
        acc.begin_stream(response_id=resume[0], starting_after=resume[1])
    elif begun:
        acc.begin_stream()
    for _, event in timed:
        acc.feed(event)
    if decoder.cut_off is not None:
        acc.cut_off(decoder.cut_off)
    stop = _client_stop(inter, size, len(timed))
    if stop is not None:
        acc.stop(stop)
    return reading


def read_exchange(inter: Exchange, *, strict: bool = False) -> Reading:
    """Read one interaction on its own: its events, dialect and one result per response.

    `strict` makes a malformed payload raise `DecodeError` instead of becoming a `malformed`
    problem.
    """
    acc = Accumulator()
    reading = _fold(inter, acc, strict)
    if reading.dialect == "responses" and not reading.results:
        reading.results = acc.results() or [acc.snapshot()]
    return reading


def read_exchanges(inters: Iterable[Exchange], *, strict: bool = False) -> list[StreamResult]:
    """One result per response across interactions, in the order they began: a resumed stream
    is joined to the response it continues (by the request's response id, its events' response
    and item ids, and the events it replays), HTTP errors are results of their own, and bodies of
    other dialects give none."""
    acc = Accumulator()
    order: list[StreamResult | int] = []  # results of HTTP errors, or indexes of the fold's runs
    for inter in inters:
        before = acc.response_count
        reading = _fold(inter, acc, strict)
        if reading.results:
            order += reading.results
        order += range(before, acc.response_count)
    folded = acc.results()
    return [folded[entry] if isinstance(entry, int) else entry for entry in order]
