"""Bytes to typed events: the SSE parser joined to one reused msgspec Decoder (sans-IO).

`EventDecoder` is fed bytes and returns events; `decode_event` decodes one JSON payload;
`iter_events` / `aiter_events` drive a decoder from an httpx or httpx2 response (duck-typed, so
neither library is imported here).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any, Protocol

import msgspec

from streamtape.errors import DecodeError
from streamtape.events import (
    EVENT_TYPES,
    Done,
    ErrorEvent,
    Event,
    MalformedEvent,
    OpaqueEvent,
    Response,
    TaggedEvent,
    UnknownEvent,
)
from streamtape.sse import SSEFrame, SSEParser, _OtherPayload, _PayloadBatch

__all__ = ["EventDecoder", "aiter_events", "decode_event", "iter_events"]

# events carrying a response object, and its fields kept as msgspec.Raw (UNSET by default)
_WITH_RESPONSE = frozenset(c for c in EVENT_TYPES.values() if "response" in c.__struct_fields__)
_RAW_FIELDS = tuple(
    name for name in Response.__struct_fields__ if getattr(Response(), name) is msgspec.UNSET
)

_DONE = b"[DONE]"
_DECODER: msgspec.json.Decoder[TaggedEvent] = msgspec.json.Decoder(TaggedEvent)
_decode = _DECODER.decode
_GENERIC = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()
# msgspec's "- at `$.a[0].b`" suffix, and the field named by "missing required field `x`".
_AT_PATH = re.compile(r" - at `([^`]*)`$")
_MISSING = re.compile(r"missing required field `([^`]*)`")
_BAD_TAG = re.compile(r"^Invalid value '.*' - at `(\$[^`]*)\.type`$", re.DOTALL)
_MAX_UNKNOWN_NESTED = 64


class _Raw(Protocol):
    def iter_raw(self) -> Iterator[bytes]: ...
    def iter_bytes(self) -> Iterator[bytes]: ...
    @property
    def headers(self) -> Any: ...


class _AsyncRaw(Protocol):
    def aiter_raw(self) -> AsyncIterator[bytes]: ...
    def aiter_bytes(self) -> AsyncIterator[bytes]: ...
    @property
    def headers(self) -> Any: ...


def _raws_valid(event: Event) -> bool:
    """False when one of the event's ``msgspec.Raw`` fields (the request echoes of a response
    object) holds invalid UTF-8: msgspec checks the strings it decodes, not Raw ones."""
    if type(event) not in _WITH_RESPONSE:
        return True
    response = getattr(event, "response", None)
    for name in _RAW_FIELDS:
        value = getattr(response, name, None)
        if isinstance(value, msgspec.Raw):
            data = bytes(value)
            if not data.isascii() and _utf8(data) is not data:
                return False
    return True


def _utf8(data: bytes) -> bytes:
    """``data`` with invalid UTF-8 replaced by U+FFFD, as the SSE standard decodes a stream
    (WHATWG: UTF-8 decode, with replacement), so a payload read by the fast path (bytes) gives
    the same events as one read by the exact parser (text). Valid input comes back as it is."""
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "replace").encode("utf-8")
    return data


def decode_event(payload: bytes | str, *, strict: bool = True, offset: int = 0) -> Event:
    """Decode one `data:` payload into its event.

    An unknown `type` gives `UnknownEvent` (raw JSON kept); `[DONE]` gives `Done`; an object with no
    `type` but an `error` key gives `ErrorEvent`; any other JSON value with no `type` key (another
    SSE dialect, such as Chat Completions chunks) gives `OpaqueEvent` (raw JSON kept). A payload
    that is not JSON, or an event whose required fields are missing or mistyped, raises
    `DecodeError` (naming the type, field path, `offset` and an excerpt) when `strict`, else
    returns `MalformedEvent`.
    """
    if isinstance(payload, bytes):
        payload = _utf8(payload)
    try:
        return _DECODER.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raw = payload.encode("utf-8", "surrogatepass") if isinstance(payload, str) else payload
        return _decode_slowly(raw, exc, strict, offset)


def _decode_slowly(
    raw: bytes,
    exc: msgspec.ValidationError | msgspec.DecodeError | RecursionError,
    strict: bool,
    offset: int,
) -> Event:
    """The paths off the fast one: sentinel, unknown types, gateway errors and malformed input."""
    if raw.strip() == _DONE:
        return Done()
    try:
        obj = _GENERIC.decode(raw)
    except msgspec.DecodeError as err:
        return _malformed(raw, None, None, f"not JSON ({err})", strict, offset)
    except RecursionError:  # msgspec stops at Python's C recursion limit rather than exhaust the
        # stack: about 1,000 levels up to Python 3.11, 1,500 on 3.12, 10,000 on 3.13
        message = (
            "JSON nested deeper than the decoder goes (1,000 to 10,000 levels by Python version)"
        )
        return _malformed(raw, None, None, message, strict, offset)
    if not isinstance(obj, dict):
        return OpaqueEvent(type="[untyped]", raw=raw)
    kind = obj.get("type")
    if "type" not in obj:
        if "error" in obj:
            return _gateway_error(obj)
        name = obj.get("object")
        return OpaqueEvent(type=name if isinstance(name, str) else "[untyped]", raw=raw)
    if not isinstance(kind, str):  # it claims to be a typed event, and is broken
        return _malformed(raw, None, "$.type", "no string `type` field", strict, offset)
    if kind not in EVENT_TYPES:
        return UnknownEvent(type=kind, raw=raw)
    # A known event that failed: unknown tags inside it (a new output item or part type) are
    # rewritten to the union's `UnknownObject` variant; anything else is a real error.
    for _ in range(_MAX_UNKNOWN_NESTED):
        message = str(exc)
        match = _BAD_TAG.match(message)
        if match is None or not _wrap_unknown(obj, match.group(1)):
            return _malformed(raw, kind, _path_of(message), message, strict, offset)
        try:
            return _DECODER.decode(_ENCODER.encode(obj))
        except msgspec.ValidationError as again:
            exc = again
    return _malformed(raw, kind, None, str(exc), strict, offset)


def _wrap_unknown(obj: Any, path: str) -> bool:
    """Replace the object at msgspec path `path` (e.g. `$.item.content[0]`) by an unknown marker."""
    steps = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]", path[1:])
    parent: Any = None
    key: str | int = ""
    node = obj
    for name, index in steps:
        parent, key = node, (name if name else int(index))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return False
    if parent is None or not isinstance(node, dict) or node.get("type") == "unknown":
        return False
    parent[key] = {"type": "unknown", "original_type": str(node.get("type")), "data": node}
    return True


def _gateway_error(obj: dict[str, Any]) -> ErrorEvent:
    """The chat-completions error shape some gateways send: `{"error": {...}}` with no `type`."""
    error = obj["error"]
    if isinstance(error, dict):
        code = error.get("code")
        return ErrorEvent(
            code=None if code is None else str(code),
            message=str(error.get("message", "")),
            param=error.get("param") if isinstance(error.get("param"), str) else None,
        )
    return ErrorEvent(code=None, message=str(error), param=None)


def _path_of(message: str) -> str | None:
    """The field path msgspec blamed, with a missing field's name appended."""
    match = _AT_PATH.search(message)
    path = match.group(1) if match else "$"
    missing = _MISSING.search(message)
    if missing:
        path = f"{path}.{missing.group(1)}"
    return path


def _malformed(
    raw: bytes, kind: str | None, path: str | None, reason: str, strict: bool, offset: int
) -> MalformedEvent:
    text = raw.decode("utf-8", "replace")
    excerpt = text if len(text) <= 120 else text[:117] + "..."
    where = f" at field {path}" if path else ""
    message = (
        f"cannot decode {kind or 'event'}{where}: {reason} "
        f"(frame at byte offset {offset}; payload: {excerpt})"
    )
    if strict:
        raise DecodeError(message, type=kind, path=path, offset=offset, excerpt=excerpt)
    return MalformedEvent(raw=raw, error=message, offset=offset)


class EventDecoder:
    """Incremental decoder from SSE bytes to typed events: `feed(bytes) -> list[Event]`, `close()`.

    In strict mode (the default) a malformed event raises `DecodeError`; with `strict=False` it
    becomes a `MalformedEvent` and decoding goes on. Unknown event types always give
    `UnknownEvent`. Runs of standard frames are decoded in one msgspec call and other payloads one
    by one, with the events the exact WHATWG parser's frames give.

    `feed_raw` / `close_raw` give each event with its exact payload bytes instead (for printing
    what was sent rather than a re-encoding); a decoder is driven by one pair or the other.
    After `close`, `cut_off` is the byte offset of a last frame the stream ended inside (no
    blank line after it: delivered, but the stream lost its ending), else None.
    """

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict
        self._parser = SSEParser()
        self._feed = self._parser._feed_payloads
        self.cut_off: int | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Decode the next bytes of the stream; return the events they complete."""
        items = self._feed(data)
        if type(items) is bytes:  # exactly one standard frame's payload: the common case
            try:
                event = _decode(items)
                if type(event) not in _WITH_RESPONSE or items.isascii() or _raws_valid(event):
                    return [event]
                return [_DECODER.decode(_utf8(items))]
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                if items == _DONE:
                    return [Done()]
                text = items.decode("utf-8", "replace")
                return [decode_event(text, strict=self.strict, offset=self._parser.last_offset)]
        if not items:
            return []
        if len(items) == 1 and type(items[0]) is _PayloadBatch:
            return self._batch(items[0])
        out: list[Event] = []
        for item in items:
            if type(item) is _PayloadBatch:
                out += self._batch(item)
            else:
                other: _OtherPayload = item  # type: ignore[assignment]
                out.append(decode_event(other.data, strict=self.strict, offset=other.offset))
        return out

    def close(self) -> list[Event]:
        """End of stream: decode a frame cut short (see `SSEParser.close`, and `cut_off`)."""
        return [event for event, _ in self.close_raw()]

    def feed_raw(self, data: bytes) -> list[tuple[Event, bytes]]:
        """Like `feed`, each event with its payload bytes exactly as sent (the `data:` lines'
        values joined by LF). Runs the exact parser: slower than `feed`, which it leaves as is."""
        return [(self._frame(frame), _payload(frame)) for frame in self._parser.feed(data)]

    def close_raw(self) -> list[tuple[Event, bytes]]:
        """Like `close`, each event with its payload bytes."""
        out: list[tuple[Event, bytes]] = []
        for frame in self._parser.close():
            if frame.truncated:
                self.cut_off = frame.offset
            out.append((self._frame(frame), _payload(frame)))
        return out

    def _batch(self, batch: _PayloadBatch) -> list[Event]:
        lines, count = batch.lines, batch.count
        done = lines[-7:] == b"\n[DONE]" or lines == _DONE
        if done:
            lines, count = lines[:-7], count - 1
        try:
            if count == 1:
                events: list[Event] = [_DECODER.decode(lines)]
            else:
                events = _DECODER.decode_lines(lines)  # type: ignore[assignment]
        except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
            return self._one_by_one(batch)
        if len(events) != count:  # an empty payload: decode_lines skipped it
            return self._one_by_one(batch)
        if (
            not lines.isascii()
            and not _WITH_RESPONSE.isdisjoint(map(type, events))  # no Python call per event
            and not all(map(_raws_valid, events))
        ):
            return self._one_by_one(batch)
        if done:
            events.append(Done())
        return events

    def _one_by_one(self, batch: _PayloadBatch) -> list[Event]:
        """A batch with a sentinel, an unknown type or a bad payload among standard ones."""
        events: list[Event] = []
        for payload in batch.payloads:
            try:
                events.append(_DECODER.decode(_utf8(payload)))
                continue
            except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
                event = decode_event(payload.decode("utf-8", "replace"), strict=False)
            if isinstance(event, MalformedEvent):  # re-parse exactly, for the error's offset
                return [self._frame(frame) for frame in batch.frames()]
            events.append(event)
        return events

    def _frame(self, frame: SSEFrame) -> Event:
        return decode_event(frame.data, strict=self.strict, offset=frame.offset)


def _payload(frame: SSEFrame) -> bytes:
    return frame.data.encode("utf-8", "surrogatepass")


def _chunks(response: _Raw) -> Iterator[bytes]:
    encoding = response.headers.get("content-encoding", "identity")
    return response.iter_raw() if encoding in ("", "identity") else response.iter_bytes()


def iter_events(response: _Raw, *, strict: bool = True) -> Iterator[Event]:
    """Yield the events of a streamed httpx / httpx2 response as its bytes arrive."""
    decoder = EventDecoder(strict)
    for chunk in _chunks(response):
        yield from decoder.feed(chunk)
    yield from decoder.close()


async def aiter_events(response: _AsyncRaw, *, strict: bool = True) -> AsyncIterator[Event]:
    """Async twin of `iter_events`."""
    decoder = EventDecoder(strict)
    encoding = response.headers.get("content-encoding", "identity")
    chunks = response.aiter_raw() if encoding in ("", "identity") else response.aiter_bytes()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
    for event in decoder.close():
        yield event


def decode_all(data: bytes | Iterable[bytes], *, strict: bool = True) -> list[Event]:
    """Decode a whole stream given as bytes or as its chunks."""
    decoder = EventDecoder(strict)
    chunks = [data] if isinstance(data, bytes | bytearray) else data
    out: list[Event] = []
    for chunk in chunks:
        out += decoder.feed(bytes(chunk))
    out += decoder.close()
    return out
