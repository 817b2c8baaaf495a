"""Text renderings of cassettes for the CLI: the ``cat`` listing, inspect summaries, timelines.

Everything here is a pure function of the cassette, so ``cat`` output is byte-identical across
runs (it is meant as a git textconv).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgspec

from streamtape.cassette import Cassette, Interaction
from streamtape.decode import EventDecoder
from streamtape.events import (
    Event,
    ResponseOutputItemAddedEvent,
    ResponseOutputTextDeltaEvent,
    UnknownObject,
)
from streamtape.reading import Dialect, Reading, decode_timed, read_exchange
from streamtape.results import Outcome, StreamResult

__all__ = [
    "InteractionSummary",
    "TextFollower",
    "render_cat",
    "summarize",
    "timed_events",
    "timeline",
]


def _pretty_body(body: bytes) -> list[str]:
    if not body:
        return []
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False).splitlines()
    except (ValueError, RecursionError):  # not JSON, or nested too deep: shown as it is
        return body.decode("utf-8", "replace").splitlines()


def render_cat(cassette: Cassette) -> str:
    """A readable, deterministic listing: header, each request (JSON body pretty-printed), the
    response head, each chunk with its offset in ms, and how the stream ended."""
    lines: list[str] = []
    if cassette.header is not None:
        h = cassette.header
        lines.append(f"# {h.format} {h.version} (streamtape {h.streamtape}, {h.recorded_at})")
        if h.source:
            lines.append(f"# source: {h.source}")
        for step in h.derived_from or []:
            faults = " ".join(step.faults)
            lines.append(f"# derived from {step.source} (sha256 {step.sha256}) with {faults}")
    for inter in cassette:
        req = inter.request
        lines.append("")
        lines.append(f"== interaction {inter.id}: {req.method} {req.url}")
        lines.extend(f"> {name}: {value}" for name, value in req.headers)
        lines.extend(f">   {line}" for line in _pretty_body(req.body))
        resp = inter.response
        if resp is not None:
            lines.append(
                f"< [{resp.offset_ns / 1e6:10.3f} ms] {resp.http_version} {resp.status} "
                f"{resp.reason}".rstrip()
            )
            lines.extend(f"< {name}: {value}" for name, value in resp.headers)
        for chunk in inter.chunks:
            text = json.dumps(chunk.data.decode("utf-8", "backslashreplace"), ensure_ascii=False)
            lines.append(f"  [{chunk.offset_ns / 1e6:10.3f} ms] {len(chunk.data):6d} B {text}")
        end = inter.end
        if end is None:
            lines.append("-- unfinished")
        else:
            error = f" {end.error.type}: {end.error.message}" if end.error else ""
            lines.append(f"-- [{end.offset_ns / 1e6:10.3f} ms] {end.outcome}{error}")
    if cassette.truncated:
        lines.append(f"!! truncated: {cassette.error}")
    return "\n".join(lines) + "\n"


def timed_events(inter: Interaction) -> Iterator[tuple[int, Event]]:
    """Each event with the offset (ns) of the chunk that completed it (lenient decoding, see
    `streamtape.reading.decode_timed`)."""
    return iter(decode_timed(inter, EventDecoder(strict=False))[0])


@dataclass
class InteractionSummary:
    """What ``inspect`` reports about one interaction (also its ``--json`` form).

    `outcome` is how the recording ended (the cassette's end record), `response_status` how the
    response did (`StreamResult.outcome`: ``http_error`` for an HTTP error answer, ``stopped``
    when the client stopped reading early). `dialect` is ``other`` for a body that is not a
    Responses-API stream, with `note` saying what it holds; `http` the HTTP error's status,
    code, message and Retry-After; `stopped` where and why the client stopped reading.
    """

    id: int
    method: str
    url: str
    model: str | None
    status: int | None
    outcome: str
    error: str | None
    chunks: int
    bytes: int
    events: int
    event_counts: dict[str, int]
    ttfb_ms: float | None
    first_text_ms: float | None
    duration_ms: float | None
    usage: dict[str, Any] | None
    problems: list[dict[str, Any]] = field(default_factory=list)
    output_text: str = ""
    response_status: Outcome | None = None
    response_error: str | None = None
    client_chunks: int | None = None
    """Chunks the recording client took, when it stopped or finished apart from the wire."""
    client_end_ms: float | None = None
    """When the recording client stopped or finished reading, when apart from the wire's end."""
    backpressure_ms: float = 0.0
    dialect: Dialect = "responses"
    note: str | None = None
    resumed: bool = False
    http: dict[str, Any] | None = None
    stopped: dict[str, Any] | None = None


def _model(body: bytes) -> str | None:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    model = doc.get("model") if isinstance(doc, dict) else None
    return model if isinstance(model, str) else None


def summarize(inter: Interaction, reading: Reading | None = None) -> InteractionSummary:
    """Summarize one interaction: timing, events by type, usage, results' problems, text
    (``streamtape.reading.read_exchange``, given or read here)."""
    if reading is None:
        reading = read_exchange(inter)
    timed = reading.timed
    results = reading.results
    counts = Counter(event.type for _, event in timed)
    first_text = next(
        (at for at, e in timed if isinstance(e, ResponseOutputTextDeltaEvent) and e.delta), None
    )
    end = inter.end
    duration = end.offset_ns if end else (inter.chunks[-1].offset_ns if inter.chunks else None)
    problems = [
        {
            "kind": p.kind,
            "message": p.message,
            "event": p.index,
            "offset_ms": timed[p.index][0] / 1e6 if p.index < len(timed) else None,
        }
        for r in results
        for p in r.problems
    ]
    usage = next((r.usage for r in reversed(results) if r.usage is not None), None)
    last = results[-1] if results else None
    return InteractionSummary(
        id=inter.id,
        method=inter.request.method,
        url=inter.request.url,
        model=_model(inter.request.body),
        status=inter.response.status if inter.response else None,
        outcome=end.outcome if end else "unfinished",
        error=f"{end.error.type}: {end.error.message}" if end and end.error else None,
        chunks=len(inter.chunks),
        bytes=sum(len(c.data) for c in inter.chunks),
        events=len(timed),
        event_counts=dict(sorted(counts.items())),
        ttfb_ms=inter.response.offset_ns / 1e6 if inter.response else None,
        first_text_ms=None if first_text is None else first_text / 1e6,
        duration_ms=None if duration is None else duration / 1e6,
        usage=msgspec.to_builtins(usage) if usage is not None else None,
        problems=problems,
        output_text="".join(r.output_text for r in results),
        response_status=last.outcome if last is not None else None,
        response_error=_error_text(results),
        client_chunks=end.client.chunks if end and end.client else None,
        client_end_ms=end.client.offset_ns / 1e6 if end and end.client else None,
        backpressure_ms=end.backpressure_ns / 1e6 if end else 0.0,
        dialect=reading.dialect,
        note=reading.note,
        resumed=any(r.resumed for r in results),
        http=msgspec.to_builtins(last.http) if last is not None and last.http else None,
        stopped=msgspec.to_builtins(last.stopped) if last is not None and last.stopped else None,
    )


def _error_text(results: list[StreamResult]) -> str | None:
    for r in results:
        if r.error is not None:
            code = r.error.code or r.error.type or "error"
            return f"{code}: {r.error.message}"
    return None


class TextFollower:
    """A stream's output text as it can be printed live, so that what is printed in the end is
    the result's `output_text` (what `inspect` shows).

    `feed(event)` returns the text to print now: the deltas of items this stream announced. From
    the first delta of an item begun before the stream (a resumed stream lacks its beginning),
    text waits: `rest(final)` then gives what is still to print, or None when the printed text
    is not the beginning of `final` (the deltas disagreed with the final text).
    """

    def __init__(self) -> None:
        self._announced: set[str] = set()
        self._held = False
        self._printed: list[str] = []

    def feed(self, event: Event) -> str:
        """The text to print for `event` now ("" for none)."""
        if isinstance(event, ResponseOutputItemAddedEvent):
            item = event.item
            item_id = item.data.get("id") if isinstance(item, UnknownObject) else item.id
            if isinstance(item_id, str):
                self._announced.add(item_id)
        elif isinstance(event, ResponseOutputTextDeltaEvent) and not self._held:
            if event.item_id in self._announced:
                self._printed.append(event.delta)
                return event.delta
            self._held = True
        return ""

    def rest(self, final: str) -> str | None:
        """What remains to print of `final`, or None if the printed text does not begin it."""
        printed = "".join(self._printed)
        return final[len(printed) :] if final.startswith(printed) else None


_BARS = " ▁▂▃▄▅▆▇█"


def timeline(inter: Interaction, width: int = 60) -> list[str]:
    """One terminal bar per time bucket: bar height is the bytes that arrived in the bucket,
    and buckets where nothing arrived show as ``·`` so stalls stand out."""
    if not inter.chunks:
        return ["(no chunks)"]
    span = max(inter.chunks[-1].offset_ns, 1)
    width = max(1, min(width, len(inter.chunks) * 4))
    buckets = [0] * width
    for chunk in inter.chunks:
        buckets[min(width - 1, chunk.offset_ns * width // span)] += len(chunk.data)
    top = max(buckets) or 1
    bar = "".join(
        "·" if b == 0 else _BARS[max(1, round(b / top * (len(_BARS) - 1)))] for b in buckets
    )
    return [
        f"|{bar}|",
        f" 0 ms{'':{max(0, width - 14)}}{span / 1e6:8.1f} ms",
        f" {width} buckets of {span / width / 1e6:.1f} ms; peak {top} B per bucket",
    ]
