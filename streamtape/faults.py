"""Faults: frozen descriptions of a change to a replayed interaction, applied at replay time.

A fault turns one recorded interaction into another (``fault.apply(interaction)``): the same
bytes cut elsewhere, other line endings, keep-alive comments between events, a stream cut short
(cleanly or by a connection error), a stall, an in-band error, a missing final event, slower or
jittered timing. ``http_status`` instead answers the first attempts of a request with an HTTP
error before the recorded stream (``fault.preludes(interaction)``). The cassette on disk never
changes: replay applies the faults (``use_cassette(path, faults=[...])``), and ``streamtape
mutate`` writes a derived cassette when a file is wanted.

Faults compose left to right. Each has a ``repr`` that reads as its constructor call, a short
``id`` for test names (``disconnect-after-5``) and a ``spec`` that :func:`parse` reads back
(``disconnect:after_events=5``). An "event" here is an SSE frame that carries data (``[DONE]``
included, comments not): ``after_events=N`` keeps the first N. Faults that work on events leave
interactions that are not event streams alone; every fault leaves an interaction with no
response head alone. A content-encoded (gzip, br, ...) body is decoded first when a fault changes
its bytes, and replayed without its ``Content-Encoding``.

What the client sees and what ``accumulate`` reports for each fault: ``docs/faults.md``.
"""

from __future__ import annotations

import dataclasses
import http
import math
import random as _random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import msgspec

from streamtape._fault_body import (
    EOL,
    Body,
    Event,
    FaultedInteraction,
    describe,
    is_stream,
    pauses_of,
    sse_events,
)
from streamtape._vocabulary import EndState
from streamtape.cassette import (
    Chunk,
    ErrorInfo,
    Interaction,
    RecordedResponse,
    StreamEnd,
)
from streamtape.errors import StreamtapeError
from streamtape.results import Outcome

__all__ = [
    "OPENROUTER_PROCESSING",
    "DisconnectHow",
    "Fault",
    "FaultError",
    "FaultedInteraction",
    "apply",
    "cr",
    "crlf",
    "disconnect",
    "drop_final",
    "http_status",
    "inject_error",
    "jitter",
    "keepalives",
    "matrix",
    "parse",
    "preludes",
    "rechunk",
    "slow",
    "stall",
    "truncate",
]

OPENROUTER_PROCESSING = "OPENROUTER PROCESSING"
"""The comment OpenRouter sends to keep a connection alive (``: OPENROUTER PROCESSING``)."""

_TERMINAL = ("response.completed", "response.incomplete", "response.failed")
_SNAPSHOTS = ("response.created", "response.in_progress", "response.queued")


class FaultError(StreamtapeError, ValueError):
    """A fault that does not fit the interaction it is applied to (e.g. more events asked for
    than the stream has), or a fault spec that cannot be read."""


# -- the faults -----------------------------------------------------------------------------------


def _format(value: object) -> str:
    if isinstance(value, tuple):
        return "-".join(_format(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


@dataclass(frozen=True, repr=False)
class Fault:
    """A change to a replayed interaction. Subclasses are the faults of this module."""

    name: ClassVar[str] = ""
    preserves_events: ClassVar[bool] = True
    """True when the client still gets every recorded event (cut, framed or timed otherwise)."""
    expected_outcome: ClassVar[Outcome | None] = None
    """What ``accumulate`` reports for a completed stream replayed with this fault (None: what
    it reported before)."""
    _positional: ClassVar[int] = 0  # leading fields the repr shows without their name

    def apply(self, interaction: Interaction) -> Interaction:
        """The interaction as replay serves it with this fault."""
        return interaction

    def preludes(self, interaction: Interaction) -> tuple[Interaction, ...]:
        """Responses served to the first attempts of the request, before ``interaction``."""
        return ()

    def _given(self) -> list[tuple[str, object]]:
        """The fields that differ from their defaults, in order (the first positional always)."""
        given = []
        for index, field in enumerate(dataclasses.fields(self)):
            value = getattr(self, field.name)
            if index < self._positional or value != field.default:
                given.append((field.name, value))
        return given

    def __repr__(self) -> str:
        parts = [
            repr(value) if index < self._positional else f"{name}={value!r}"
            for index, (name, value) in enumerate(self._given())
        ]
        return f"{self.name}({', '.join(parts)})"

    @property
    def spec(self) -> str:
        """The fault as :func:`parse` and ``--fault`` read it: ``disconnect:after_events=5``."""
        given = self._given()
        if not given:
            return self.name
        parts = [
            _format(v) if i < self._positional else f"{k}={_format(v)}"
            for i, (k, v) in enumerate(given)
        ]
        return f"{self.name}:" + ",".join(parts)

    @property
    def id(self) -> str:
        """A short, stable name for test ids, e.g. ``disconnect-after-5``."""
        return "-".join([self.name.replace("_", "-"), *(_format(v) for _, v in self._given())])

    def __str__(self) -> str:
        return self.id


def _events(fault: Fault, interaction: Interaction, body: Body, asked: int) -> list[Event]:
    """The SSE events of ``body``; FaultError when there are fewer than ``fault`` asks for."""
    events = sse_events(body.data)
    if asked > len(events):
        raise FaultError(
            f"{fault!r} does not fit {describe(interaction)}: its stream has {len(events)} "
            f"event(s), {asked} asked for"
        )
    return events


def _cut_point(
    fault: Fault,
    interaction: Interaction,
    body: Body,
    after_events: int | None,
    at_byte: int | None,
) -> int:
    if at_byte is not None:
        if at_byte > len(body.data):
            raise FaultError(
                f"{fault!r} does not fit {describe(interaction)}: its body has "
                f"{len(body.data)} bytes"
            )
        return at_byte
    assert after_events is not None
    events = _events(fault, interaction, body, after_events)
    return events[after_events - 1].end if after_events else 0


def _one_of(fault: Fault, **options: object) -> None:
    given = [name for name, value in options.items() if value is not None]
    if len(given) != 1:
        raise FaultError(f"{fault.name}: give exactly one of {', '.join(options)}")


def _at_least(fault: Fault, name: str, value: float | None, low: float) -> None:
    if value is not None and not value >= low:
        raise FaultError(f"{fault.name}: {name} must be at least {low:g}, got {value!r}")


_BOUNDARIES = ("every-byte", "mid-utf8", "mid-line", "per-event")


@dataclass(frozen=True, repr=False)
class rechunk(Fault):  # a fault reads as a call: rechunk(size=1)
    """The same bytes cut elsewhere. ``size=N``: chunks of N bytes. ``boundaries``:
    ``every-byte`` (one byte a chunk), ``mid-utf8`` (also a cut inside every multi-byte
    character), ``mid-line`` (also a cut in the middle of every line: inside each JSON payload),
    ``per-event`` (one chunk per SSE frame). ``random=(lo, hi)``: sizes drawn between lo and hi
    from a generator seeded with ``seed``. A new chunk comes when the last of its bytes came."""

    name: ClassVar[str] = "rechunk"
    size: int | None = None
    boundaries: str | None = None
    random: tuple[int, int] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        _one_of(self, size=self.size, boundaries=self.boundaries, random=self.random)
        _at_least(self, "size", self.size, 1)
        if self.boundaries is not None and self.boundaries not in _BOUNDARIES:
            raise FaultError(
                f"rechunk: boundaries must be one of {', '.join(_BOUNDARIES)}, "
                f"got {self.boundaries!r}"
            )
        if self.random is not None:
            lo, hi = self.random
            if not 1 <= lo <= hi:
                raise FaultError(f"rechunk: random needs 1 <= lo <= hi, got {self.random!r}")

    @property
    def id(self) -> str:
        if self.size is not None:
            return f"rechunk-size-{self.size}"
        if self.boundaries is not None:
            return f"rechunk-{self.boundaries}"
        assert self.random is not None
        return f"rechunk-random-{self.random[0]}-{self.random[1]}-seed-{self.seed}"

    def apply(self, interaction: Interaction) -> Interaction:
        if interaction.response is None:
            return interaction
        body, head = Body.of(interaction)
        data, size = body.data, len(body.data)
        if self.size is not None or self.boundaries == "every-byte":
            step = self.size or 1
            body.recut(range(step, size, step))
        elif self.random is not None:
            rng = _random.Random(self.seed)
            cuts, at = [], 0
            while at < size:
                at += rng.randint(*self.random)
                cuts.append(at)
            body.recut(cuts)
        elif self.boundaries == "per-event":
            body.recut(e.end for e in sse_events(data))
        elif self.boundaries == "mid-utf8":
            body.split(i + 1 for i, byte in enumerate(data) if byte >= 0xC0)
        else:  # mid-line
            cuts, pos = [], 0
            for eol in EOL.finditer(data):
                if eol.start() - pos >= 2:
                    cuts.append(pos + (eol.start() - pos) // 2)
                pos = eol.end()
            body.split(cuts)
        return body.build(interaction, head, interaction.end)


@dataclass(frozen=True, repr=False)
class _LineEnds(Fault):
    ending: ClassVar[bytes] = b"\n"

    def apply(self, interaction: Interaction) -> Interaction:
        if not is_stream(interaction):
            return interaction
        body, head = Body.of(interaction)
        edits = [
            (m.start(), m.end(), self.ending)
            for m in EOL.finditer(body.data)
            if m.group() != self.ending
        ]
        body.replace(edits)
        return body.build(interaction, head, interaction.end)


@dataclass(frozen=True, repr=False)
class crlf(_LineEnds):
    """Every line of the event stream ended with CR LF instead (legal SSE)."""

    name: ClassVar[str] = "crlf"
    ending: ClassVar[bytes] = b"\r\n"


@dataclass(frozen=True, repr=False)
class cr(_LineEnds):
    """Every line of the event stream ended with a lone CR instead (legal SSE, rarely seen: a
    parser must not wait for an LF that never comes)."""

    name: ClassVar[str] = "cr"
    ending: ClassVar[bytes] = b"\r"


@dataclass(frozen=True, repr=False)
class keepalives(Fault):
    """A comment frame (``:`` + ``comment``, then a blank line) after every ``every`` events,
    arriving halfway between them; ``comment=OPENROUTER_PROCESSING`` gives OpenRouter's."""

    name: ClassVar[str] = "keepalives"
    every: int = 1
    comment: str = ""

    def __post_init__(self) -> None:
        _at_least(self, "every", self.every, 1)
        if any(c in self.comment for c in "\r\n"):
            raise FaultError("keepalives: comment must be one line")

    @property
    def id(self) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", self.comment.lower()).strip("-")
        if self.comment == OPENROUTER_PROCESSING:
            slug = "openrouter"
        return "-".join(["keepalives", *([slug] if slug else []), f"every-{self.every}"])

    def apply(self, interaction: Interaction) -> Interaction:
        if not is_stream(interaction):
            return interaction
        body, head = Body.of(interaction)
        events = sse_events(body.data)
        points = [e.end for e in events[self.every - 1 :: self.every] if e.end < len(body.data)]
        if not points:
            return body.build(interaction, head, interaction.end)
        body.split(points)
        frame = (b": " + self.comment.encode() if self.comment else b":") + b"\n\n"
        halfway = {p: (body.time_at(p - 1) + body.time_at(p)) // 2 for p in points}
        later = {p: body.time_at(p) for p in points}
        mapping = body.replace([(p, p, frame) for p in points])
        for p in points:
            body.mark(mapping(p), halfway[p])
            body.mark(mapping(p) + len(frame), later[p])
        return body.build(interaction, head, interaction.end)


def _ended(
    body: Body, interaction: Interaction, outcome: EndState, error: ErrorInfo | None = None
) -> StreamEnd:
    """An end right after the last chunk left (at the head when no chunk is left)."""
    head = interaction.response
    return StreamEnd(body.last_time(head.offset_ns if head else 0), outcome, error)


@dataclass(frozen=True, repr=False)
class truncate(Fault):
    """The body ends, cleanly, after ``after_events`` events or at byte ``at_byte`` (which may
    fall inside a frame: the cut-off frame then never decodes, which is the point)."""

    name: ClassVar[str] = "truncate"
    preserves_events: ClassVar[bool] = False
    expected_outcome: ClassVar[Outcome | None] = "truncated"
    after_events: int | None = None
    at_byte: int | None = None

    def __post_init__(self) -> None:
        _one_of(self, after_events=self.after_events, at_byte=self.at_byte)
        _at_least(self, "after_events", self.after_events, 0)
        _at_least(self, "at_byte", self.at_byte, 0)

    @property
    def id(self) -> str:
        if self.at_byte is not None:
            return f"{self.name}-at-byte-{self.at_byte}"
        return f"{self.name}-after-{self.after_events}"

    def apply(self, interaction: Interaction) -> Interaction:
        if interaction.response is None or (
            self.after_events is not None and not is_stream(interaction)
        ):
            return interaction
        body, head = Body.of(interaction)
        body.cut(_cut_point(self, interaction, body, self.after_events, self.at_byte))
        return body.build(interaction, head, self._end(body, interaction))

    def _end(self, body: Body, interaction: Interaction) -> StreamEnd:
        return _ended(body, interaction, "complete")


DisconnectHow = Literal["eof", "reset"]
"""How a `disconnect` breaks the connection: the server closes it mid-body, or resets it."""

_DISCONNECTS: dict[DisconnectHow, ErrorInfo] = {
    # what httpx raises when the server closes mid-body, and when the connection is reset
    "eof": ErrorInfo(
        "RemoteProtocolError",
        "peer closed connection without sending complete message body (incomplete chunked read)",
    ),
    "reset": ErrorInfo("ReadError", "[Errno 104] Connection reset by peer"),
}


@dataclass(frozen=True, repr=False)
class disconnect(truncate):
    """The connection breaks after ``after_events`` events (or at byte ``at_byte``): the stream
    ends with a recorded error, which each client stack's replayer raises as its own read error
    (httpx: ``RemoteProtocolError`` for ``how="eof"``, the server closing mid-body;
    ``ReadError`` for ``how="reset"``)."""

    name: ClassVar[str] = "disconnect"
    how: DisconnectHow = "eof"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.how not in _DISCONNECTS:
            raise FaultError(f"disconnect: how must be eof or reset, got {self.how!r}")

    @property
    def id(self) -> str:
        base = super().id
        return base if self.how == "eof" else base.replace("disconnect", "disconnect-reset", 1)

    def _end(self, body: Body, interaction: Interaction) -> StreamEnd:
        return _ended(body, interaction, "error", _DISCONNECTS[self.how])


@dataclass(frozen=True, repr=False)
class stall(Fault):
    """The server goes quiet for ``seconds`` (wall-clock: speed and ``max_gap`` do not shrink
    it) after ``before_event`` events, before the next. A client whose read timeout is shorter
    gets its own timeout exception (httpx: ``ReadTimeout``) after that timeout."""

    name: ClassVar[str] = "stall"
    before_event: int = 0
    seconds: float = 1.0

    def __post_init__(self) -> None:
        _at_least(self, "before_event", self.before_event, 0)
        _at_least(self, "seconds", self.seconds, 0)

    @property
    def id(self) -> str:
        return f"stall-before-{self.before_event}-{self.seconds:g}s"

    def apply(self, interaction: Interaction) -> Interaction:
        if not is_stream(interaction):
            return interaction
        body, head = Body.of(interaction)
        events = _events(self, interaction, body, self.before_event + 1)
        at = events[self.before_event].start
        body.split([at])
        body.pauses[at] = body.pauses.get(at, 0.0) + self.seconds
        return body.build(interaction, head, interaction.end)


def _frame(payload: bytes, event: str | None, eol: bytes, space: bool) -> bytes:
    lines = [b"event: " + event.encode()] if event is not None else []
    lines.append(b"data:" + (b" " if space else b"") + payload)
    return eol.join(lines) + eol + eol


@dataclass(frozen=True, repr=False)
class inject_error(Fault):
    """After ``after_events`` events the stream says it failed: an ``error`` event, then
    ``response.failed`` (its response the last snapshot streamed, with ``status`` ``failed``,
    this ``error`` and the output items finished so far), then ``[DONE]`` when the recording
    had one. The frames follow the recording's framing (``event:`` lines, line ends) and
    ``sequence_number``s; the ``error`` event's fields are flat in an OpenRouter stream (one that
    ends with ``[DONE]``), nested under ``error`` as OpenAI's live API sends them otherwise."""

    name: ClassVar[str] = "inject_error"
    preserves_events: ClassVar[bool] = False
    expected_outcome: ClassVar[Outcome | None] = "failed"
    after_events: int = 0
    code: str = "server_error"
    message: str = "The server had an error while processing your request."

    def __post_init__(self) -> None:
        _at_least(self, "after_events", self.after_events, 0)

    @property
    def id(self) -> str:
        extra = "" if self.code == "server_error" else f"-{self.code}"
        return f"inject-error{extra}-after-{self.after_events}"

    def apply(self, interaction: Interaction) -> Interaction:
        if not is_stream(interaction):
            return interaction
        body, head = Body.of(interaction)
        events = _events(self, interaction, body, self.after_events)
        kept = events[: self.after_events]
        cut = kept[-1].end if kept else 0
        arrives = body.time_at(cut) if cut < len(body.data) else body.last_time(0)
        sample = body.data[events[0].start : events[0].end] if events else b"data: {}\n\n"
        eol = EOL.search(sample)
        ending = eol.group() if eol else b"\n"
        named = b"event:" in sample
        space = b"data: " in sample
        done = any(e.payload == b"[DONE]" for e in events)
        seq: int | None = None
        snapshot: dict[str, Any] | None = None
        items: dict[int, Any] = {}
        for event in kept:
            obj = event.json() or {}
            if isinstance(obj.get("sequence_number"), int):
                seq = obj["sequence_number"]
            if obj.get("type") in _SNAPSHOTS and isinstance(obj.get("response"), dict):
                snapshot = obj["response"]
            if obj.get("type") == "response.output_item.done" and isinstance(
                obj.get("output_index"), int
            ):
                items[obj["output_index"]] = obj.get("item")
        if seq is None and any(
            isinstance((e.json() or {}).get("sequence_number"), int) for e in events
        ):
            seq = -1
        if snapshot is None:  # no snapshot yet: the first of the stream, else a bare one
            snapshot = next(
                (
                    obj["response"]
                    for e in events
                    if (obj := e.json() or {}).get("type") in _SNAPSHOTS
                    and isinstance(obj.get("response"), dict)
                ),
                {"object": "response"},
            )
        error: dict[str, Any] = {"type": "error"}
        if seq is not None:
            error["sequence_number"] = seq + 1
        fields = {"code": self.code, "message": self.message, "param": None}
        if done:
            error.update(fields)
        else:
            error["error"] = {"type": self.code, **fields}
        response = {
            **snapshot,
            "status": "failed",
            "error": {"code": self.code, "message": self.message},
            "output": [items[i] for i in sorted(items)],
        }
        failed: dict[str, Any] = {"type": "response.failed"}
        if seq is not None:
            failed["sequence_number"] = seq + 2
        failed["response"] = response
        tail = _frame(msgspec.json.encode(error), "error" if named else None, ending, space)
        tail += _frame(
            msgspec.json.encode(failed), "response.failed" if named else None, ending, space
        )
        if done:
            tail += _frame(b"[DONE]", None, ending, space)
        body.cut(cut)
        body.replace([(cut, cut, tail)])
        body.mark(cut, arrives)
        return body.build(interaction, head, StreamEnd(arrives, "complete"))


@dataclass(frozen=True, repr=False)
class drop_final(Fault):
    """The terminal event (``response.completed``, ``.incomplete`` or ``.failed``) never comes;
    everything else, ``[DONE]`` included, does."""

    name: ClassVar[str] = "drop_final"
    preserves_events: ClassVar[bool] = False
    expected_outcome: ClassVar[Outcome | None] = "truncated"

    def apply(self, interaction: Interaction) -> Interaction:
        if not is_stream(interaction):
            return interaction
        body, head = Body.of(interaction)
        final = [e for e in sse_events(body.data) if e.type in _TERMINAL]
        if not final:
            raise FaultError(f"{self!r} does not fit {describe(interaction)}: no terminal event")
        body.replace([(final[-1].start, final[-1].end, b"")])
        return body.build(interaction, head, interaction.end)


_ERROR_BODIES = {
    429: ("rate_limit_exceeded", "Rate limit reached. Please try again later."),
    500: ("server_error", "The server had an error while processing your request."),
    502: ("bad_gateway", "Bad gateway."),
    503: ("service_unavailable", "The server is overloaded or not ready yet."),
}


@dataclass(frozen=True, repr=False)
class http_status(Fault):
    """The first ``times`` attempts of each request get HTTP ``status`` with a JSON error body
    (``{"error": {"message", "type", "code", "param"}}``) before the recorded stream answers the
    next attempt: a client's retry logic meets the real stream. ``retry_after`` (seconds) adds
    ``Retry-After`` (whole seconds, rounded up) and, when not whole, OpenAI's
    ``retry-after-ms``."""

    name: ClassVar[str] = "http_status"
    _positional: ClassVar[int] = 1
    status: int = 429
    retry_after: float | None = None
    times: int = 1

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise FaultError(f"http_status: status must be 400-599, got {self.status!r}")
        _at_least(self, "retry_after", self.retry_after, 0)
        _at_least(self, "times", self.times, 1)

    @property
    def id(self) -> str:
        parts = [f"http-{self.status}"]
        if self.retry_after is not None:
            parts.append(f"retry-after-{self.retry_after:g}")
        if self.times != 1:
            parts.append(f"x{self.times}")
        return "-".join(parts)

    def preludes(self, interaction: Interaction) -> tuple[Interaction, ...]:
        kind, message = _ERROR_BODIES.get(self.status, ("error", "The request failed."))
        payload = msgspec.json.encode(
            {"error": {"message": message, "type": kind, "param": None, "code": kind}}
        )
        at = interaction.response.offset_ns if interaction.response is not None else 0
        headers = [("content-type", "application/json"), ("content-length", str(len(payload)))]
        if self.retry_after is not None:
            headers.append(("retry-after", str(math.ceil(self.retry_after))))
            if self.retry_after != int(self.retry_after):
                headers.append(("retry-after-ms", str(round(self.retry_after * 1000))))
        try:
            reason = http.HTTPStatus(self.status).phrase
        except ValueError:
            reason = ""
        version = interaction.response.http_version if interaction.response else "HTTP/1.1"
        head = RecordedResponse(self.status, version, reason, headers, at)
        answer = Interaction(
            interaction.id,
            interaction.request,
            head,
            [Chunk(at, payload)],
            StreamEnd(at, "complete"),
        )
        return (answer,) * self.times


def _retimed(
    interaction: Interaction, offsets: list[int], end: int | None, head: int | None
) -> Interaction:
    response = interaction.response
    if response is not None and head is not None:
        response = msgspec.structs.replace(response, offset_ns=head)
    chunks = [Chunk(at, c.data) for at, c in zip(offsets, interaction.chunks, strict=True)]
    stream_end = interaction.end
    if stream_end is not None and end is not None:
        stream_end = msgspec.structs.replace(stream_end, offset_ns=end)
    return FaultedInteraction(
        interaction, response, chunks, stream_end, dict(pauses_of(interaction))
    )


@dataclass(frozen=True, repr=False)
class slow(Fault):
    """Every offset (head, chunks, end) times ``factor``: a slower server (or faster, below 1)."""

    name: ClassVar[str] = "slow"
    _positional: ClassVar[int] = 1
    factor: float = 2.0

    def __post_init__(self) -> None:
        if not self.factor > 0:
            raise FaultError(f"slow: factor must be positive, got {self.factor!r}")

    @property
    def id(self) -> str:
        return f"slow-x{self.factor:g}"

    def apply(self, interaction: Interaction) -> Interaction:
        def scaled(at: int) -> int:
            return round(at * self.factor)

        return _retimed(
            interaction,
            [scaled(c.offset_ns) for c in interaction.chunks],
            scaled(interaction.end.offset_ns) if interaction.end else None,
            scaled(interaction.response.offset_ns) if interaction.response else None,
        )


@dataclass(frozen=True, repr=False)
class jitter(Fault):
    """Each chunk comes up to ``ms`` milliseconds earlier or later than recorded (drawn from a
    generator seeded with ``seed``), never before the chunk ahead of it."""

    name: ClassVar[str] = "jitter"
    _positional: ClassVar[int] = 1
    ms: float = 10.0
    seed: int = 0

    def __post_init__(self) -> None:
        _at_least(self, "ms", self.ms, 0)

    @property
    def id(self) -> str:
        return f"jitter-{self.ms:g}ms-seed-{self.seed}"

    def apply(self, interaction: Interaction) -> Interaction:
        rng = _random.Random(self.seed)
        spread = self.ms * 1e6
        floor = interaction.response.offset_ns if interaction.response else 0
        offsets = []
        for chunk in interaction.chunks:
            floor = max(floor, chunk.offset_ns + round(rng.uniform(-spread, spread)))
            offsets.append(floor)
        end = None
        if interaction.end is not None:
            last = interaction.chunks[-1].offset_ns if interaction.chunks else floor
            end = max(floor, interaction.end.offset_ns + (floor - last))
        return _retimed(interaction, offsets, end, None)


# -- using faults ---------------------------------------------------------------------------------

_FAULTS: dict[str, type[Fault]] = {
    cls.name: cls
    for cls in (
        rechunk,
        crlf,
        cr,
        keepalives,
        truncate,
        disconnect,
        stall,
        inject_error,
        drop_final,
        http_status,
        slow,
        jitter,
    )
}


def apply(interaction: Interaction, faults: Iterable[Fault]) -> Interaction:
    """``interaction`` with ``faults`` applied left to right (FaultError: one does not fit)."""
    for fault in faults:
        interaction = fault.apply(interaction)
    return interaction


def preludes(interaction: Interaction, faults: Iterable[Fault]) -> tuple[Interaction, ...]:
    """What the first attempts of ``interaction``'s request get, before the stream, in order."""
    return tuple(answer for fault in faults for answer in fault.preludes(interaction))


def matrix(after_events: int = 5) -> list[Fault]:
    """The standard twelve faults, for one test run against each (``@pytest.mark.
    streamtape_faults()``): four re-chunkings, two line-end framings, OpenRouter keep-alives, a
    429 and a 503 before the stream (retry after 10 ms), and a disconnect, a clean truncation
    and an injected error after ``after_events`` events."""
    return [
        rechunk(size=1),
        rechunk(boundaries="mid-utf8"),
        rechunk(boundaries="mid-line"),
        rechunk(random=(1, 200), seed=0),
        crlf(),
        cr(),
        keepalives(comment=OPENROUTER_PROCESSING),
        http_status(429, retry_after=0.01),
        http_status(503, retry_after=0.01),
        disconnect(after_events=after_events),
        truncate(after_events=after_events),
        inject_error(after_events=after_events),
    ]


def _value(cls: type[Fault], name: str, text: str) -> object:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if name not in fields:
        known = ", ".join(fields) or "none"
        raise FaultError(f"{cls.name} has no option {name!r} (options: {known})")
    kind = str(fields[name].type)
    try:
        if kind.startswith("tuple"):
            lo, sep, hi = text.replace("..", "-").partition("-")
            if not sep:
                raise ValueError(text)
            return (int(lo), int(hi))
        if kind.startswith("int"):
            return int(text)
        if kind.startswith("float"):
            number = float(text)
            return int(number) if number.is_integer() and text.isdigit() else number
    except ValueError:
        raise FaultError(f"{cls.name}: {name}={text!r} is not a {kind.split(' ')[0]}") from None
    return text


def parse(spec: str) -> Fault:
    """A fault from its spec: ``name`` or ``name:key=value,...`` (the first field may be given
    without its key: ``http_status:429``), e.g. ``disconnect:after_events=5``,
    ``rechunk:random=1-200,seed=3``. Raises FaultError naming what is wrong."""
    name, _, rest = spec.strip().partition(":")
    cls = _FAULTS.get(name.strip().replace("-", "_"))
    if cls is None:
        raise FaultError(f"unknown fault {name!r} in {spec!r}; known: {', '.join(_FAULTS)}")
    kwargs: dict[str, object] = {}
    names = [f.name for f in dataclasses.fields(cls)]
    for index, part in enumerate(p for p in rest.split(",") if p.strip()):
        key, eq, text = part.partition("=")
        if not eq:
            if index or not names:
                raise FaultError(f"{spec!r}: expected key=value, got {part!r}")
            key, text = names[0], part
        kwargs[key.strip()] = _value(cls, key.strip(), text.strip())
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise FaultError(f"{spec!r}: {exc}") from None
