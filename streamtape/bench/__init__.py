"""Benchmark harness behind `streamtape bench`: streamtape's decoder against other decoders.

Every decoder ("anchor") decodes the same bytes, split the same way, interleaved in one run
(A B A B ...) so that drift on a noisy machine hits all of them alike; each must decode the same
number of events, or its row is marked failed. Anchors: the `openai` SDK's `Stream` (its SSE decoder
and model building), the `openrouter` SDK's `EventStream`, `httpx-sse` + `json.loads`, a shortcut
that is fast but not exact (one regex `findall` of `data: ` payloads per buffer, decoded together:
no CR line ends, comments, multi-line data or error offsets), and three ceilings: msgspec decoding
pre-split payloads into the event Structs or into dicts, and splitting frames alone. Anchors that
are not installed are skipped with the pip command that adds them.

The inputs (generated streams, fixtures, cassettes, chunk shapes) live in ``bench._inputs``, the
report and its renderings in ``bench._report``; this module re-exports their public names.
"""

from __future__ import annotations

import gc
import importlib.metadata
import importlib.util
import json
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO, cast

import msgspec

from streamtape.bench._inputs import (
    _DONE,
    SHAPES,
    BenchInput,
    chunk,
    concat_fixtures,
    default_inputs,
    huge_line_stream,
    load_input,
    synthetic_stream,
)
from streamtape.bench._report import (
    AnchorKind,
    BenchReport,
    Row,
    Shape,
    Skipped,
    render_json,
    render_markdown,
    render_table,
)
from streamtape.decode import EventDecoder, iter_events
from streamtape.events import Done, TaggedEvent
from streamtape.sse import SPEEDUPS, SSEParser, _py_find_frames

__all__ = [
    "ANCHORS",
    "SHAPES",
    "Anchor",
    "AnchorKind",
    "BenchInput",
    "BenchReport",
    "Row",
    "Shape",
    "Skipped",
    "chunk",
    "concat_fixtures",
    "default_inputs",
    "huge_line_stream",
    "load_input",
    "render_json",
    "render_markdown",
    "render_table",
    "run_bench",
    "stderr_progress",
    "synthetic_stream",
]

Decode = Callable[[list[bytes]], int]
"""Decodes one stream given as its chunks and returns the number of events it decoded."""
Progress = Callable[[int, int, str], None]
"""Called as `progress(step, total, what)` before each run, and with `step == total` at the end."""

_SSE_HEADERS = {"content-type": "text/event-stream"}
_URL = "http://127.0.0.1:9/v1/responses"  # never contacted: responses are built in memory


# --------------------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """A decoder to measure. `setup()` imports what it needs and builds its reusable state once,
    untimed, and returns the function that is timed. `presplit` anchors (the msgspec ceilings) get
    each stream's payloads, cut out beforehand and joined by newlines, as their only chunk."""

    name: str
    kind: AnchorKind
    about: str
    setup: Callable[[], Decode]
    requires: tuple[str, ...] = ()
    pip: str = ""
    dist: str = "streamtape"
    presplit: bool = False

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here."""
        return [name for name in self.requires if importlib.util.find_spec(name) is None]

    def version(self) -> str:
        """The installed version of the distribution measured ("" for plain Python)."""
        if not self.dist:
            return ""
        try:
            return importlib.metadata.version(self.dist)
        except importlib.metadata.PackageNotFoundError:
            return "?"


def _count(events: Iterable[object]) -> int:
    n = 0
    for _ in events:
        n += 1
    return n


def _streamtape(python: bool = False) -> Decode:
    """`python`: with the decoder's fast path in Python even where the C one is built."""

    def decode(chunks: list[bytes]) -> int:
        decoder = EventDecoder()
        if python:
            decoder._parser._find = _py_find_frames
        feed = decoder.feed
        n = 0
        last: list[Any] = []
        for data in chunks:
            events = feed(data)
            if events:
                n += len(events)
                last = events
        tail = decoder.close()
        if tail:
            n += len(tail)
            last = tail
        return n - 1 if last and type(last[-1]) is Done else n  # `[DONE]` is no event

    return decode


def _streamtape_httpx() -> Decode:
    import httpx

    request = httpx.Request("POST", _URL)

    def decode(chunks: list[bytes]) -> int:
        response = httpx.Response(200, headers=_SSE_HEADERS, content=iter(chunks), request=request)
        n = 0
        for event in iter_events(response):
            n += type(event) is not Done
        return n

    return decode


def _openai_stream(client: Any, chunks: list[bytes]) -> Iterator[Any]:
    """What `client.responses.create(..., stream=True)` returns, over a response holding `chunks`:
    the SDK builds `Stream[ResponseStreamEvent]` over the httpx2 response exactly so."""
    import httpx2
    import openai
    from openai._streaming import extract_stream_chunk_type
    from openai.types.responses import ResponseStreamEvent

    request = httpx2.Request("POST", _URL)
    response = httpx2.Response(200, headers=_SSE_HEADERS, content=iter(chunks), request=request)
    stream_cls = openai.Stream[ResponseStreamEvent]
    stream: Iterator[Any] = stream_cls(
        cast_to=extract_stream_chunk_type(stream_cls), response=response, client=client
    )
    return stream


def _openai() -> Decode:
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=_URL.rsplit("/", 1)[0], max_retries=0)
    return lambda chunks: _count(_openai_stream(client, chunks))


def _openrouter_stream(sdk: Any, chunks: list[bytes]) -> Iterator[Any]:
    """What `OpenRouter().responses.send(..., stream=True)` returns, over a response holding
    `chunks`: the SDK's `EventStream` with the decoder and sentinel its generated code passes."""
    import httpx
    from openrouter import components
    from openrouter.utils.eventstreaming import EventStream
    from openrouter.utils.unmarshal_json_response import unmarshal_json_response

    events_type = components.ResponsesStreamingResponse
    request = httpx.Request("POST", _URL)
    http_res = httpx.Response(200, headers=_SSE_HEADERS, content=iter(chunks), request=request)
    return EventStream(
        http_res,
        lambda raw: unmarshal_json_response(events_type, http_res, raw).data,
        sentinel=_DONE,
        client_ref=sdk,
    )


def _openrouter() -> Decode:
    from openrouter import OpenRouter

    sdk = OpenRouter(api_key="bench", server_url=_URL.rsplit("/", 1)[0])
    return lambda chunks: _count(_openrouter_stream(sdk, chunks))


def _httpx_sse() -> Decode:
    import httpx
    from httpx_sse import EventSource

    request = httpx.Request("POST", _URL)
    loads = json.loads

    def decode(chunks: list[bytes]) -> int:
        response = httpx.Response(200, headers=_SSE_HEADERS, content=iter(chunks), request=request)
        n = 0
        for sse in EventSource(response).iter_sse():
            if sse.data != _DONE:
                loads(sse.data)
                n += 1
        return n

    return decode


def _msgspec_structs() -> Decode:
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(TaggedEvent)
    return lambda chunks: len(decoder.decode_lines(chunks[0]))


def _msgspec_dicts() -> Decode:
    decoder = msgspec.json.Decoder()
    return lambda chunks: len(decoder.decode_lines(chunks[0]))


def _regex_shortcut() -> Decode:
    decoder: msgspec.json.Decoder[Any] = msgspec.json.Decoder(TaggedEvent)
    data_line = re.compile(rb"data: (.*)")

    def decode(chunks: list[bytes]) -> int:
        n = 0
        pending: list[bytes] = []  # bytes after the last blank line, joined once one comes
        for data in chunks:
            if pending:
                pending.append(data)
                if b"\n\n" not in data and data[:1] != b"\n":
                    continue
                data = b"".join(pending)
                pending = []
            cut = data.rfind(b"\n\n") + 2
            if cut < 2:
                pending.append(data)
                continue
            if cut < len(data):
                pending.append(data[cut:])
            payloads = data_line.findall(data, 0, cut)
            if payloads and payloads[-1] == b"[DONE]":
                payloads.pop()
            n += len(decoder.decode_lines(b"\n".join(payloads)))
        return n

    return decode


def _frames() -> Decode:
    def decode(chunks: list[bytes]) -> int:
        n = 0
        pending: list[bytes] = []  # the unfinished frame, joined only once it ends (linear)
        for data in chunks:
            if b"\n\n" not in data and not (
                data[:1] == b"\n" and pending and pending[-1][-1:] == b"\n"
            ):
                pending.append(data)
                continue
            if pending:
                pending.append(data)
                data = b"".join(pending)
                pending = []
            frames = data.split(b"\n\n")
            tail = frames.pop()
            if tail:
                pending.append(tail)
            n += sum(1 for f in frames if b"data:" in f and not f.endswith(b"data: [DONE]"))
        tail = b"".join(pending)
        return n + (b"data:" in tail and not tail.rstrip().endswith(b"data: [DONE]"))

    return decode


ANCHORS: dict[str, Anchor] = {
    a.name: a
    for a in [
        Anchor("streamtape", "subject", "EventDecoder.feed(chunk) for each chunk", _streamtape),
        Anchor(
            "streamtape-python", "variant", "EventDecoder.feed with the parser's fast path in "
            "Python (what runs without a C compiler at install)",
            lambda: _streamtape(python=True),
        ),
        Anchor(
            "streamtape-httpx", "variant", "iter_events() over an httpx response",
            _streamtape_httpx, ("httpx",), "pip install httpx", "httpx",
        ),
        Anchor(
            "openai", "anchor", "openai SDK Stream[ResponseStreamEvent] over an httpx2 response",
            _openai, ("openai", "httpx2"), "pip install openai", "openai",
        ),
        Anchor(
            "openrouter", "anchor", "openrouter SDK EventStream over an httpx response",
            _openrouter, ("openrouter", "httpx"), "pip install openrouter", "openrouter",
        ),
        Anchor(
            "httpx-sse", "anchor", "httpx-sse EventSource.iter_sse() + json.loads", _httpx_sse,
            ("httpx_sse", "httpx"), "pip install httpx-sse", "httpx-sse",
        ),
        Anchor(
            "regex-shortcut", "shortcut", "one findall of `data: ` payloads per buffer, no SSE "
            "guarantees", _regex_shortcut, dist="msgspec",
        ),
        Anchor(
            "msgspec-structs", "ceiling", "pre-split payloads, one decode_lines into the Structs",
            _msgspec_structs, dist="msgspec", presplit=True,
        ),
        Anchor(
            "msgspec-dicts", "ceiling", "pre-split payloads, one decode_lines into dicts",
            _msgspec_dicts, dist="msgspec", presplit=True,
        ),
        Anchor("frames", "ceiling", "split at blank lines only (LF framing)", _frames, dist=""),
    ]
}  # fmt: skip


def _presplit(stream: bytes) -> bytes:
    """The stream's event payloads (no `[DONE]`), joined by newlines: the ceilings' input."""
    parser = SSEParser()
    frames = [*parser.feed(stream), *parser.close()]
    return b"\n".join(f.data.encode() for f in frames if f.data != _DONE)


# ---------------------------------------------------------------------------------------- runner


_MIN_RUN_NS = 20_000_000  # a timed run lasts at least this long, if the warm-up says so


@dataclass
class _Case:
    anchor: Anchor
    decode: Decode
    streams: list[list[bytes]]
    runs: list[int] = field(default_factory=list)
    events: int = -1
    error: str | None = None
    raised: str | None = None  # the SDK's own error at an `error` event: what it does by design
    number: int = 1  # decodes a timed run makes (set by the warm-up: see `calibrate`)

    def run(self) -> int:
        """Decode the streams `number` times; record the time of one pass; return its events."""
        # The cyclic GC is paused while timing, as timeit does: otherwise a collection that one
        # decoder's garbage triggers (traversing the SDKs' large heap) is billed to whichever
        # decoder runs then, and a ceiling holding all its events at once pays for the others.
        decode = self.decode
        gc.disable()
        try:
            start = time.perf_counter_ns()
            for _ in range(self.number):
                n = 0
                for chunks in self.streams:
                    n += decode(chunks)
            self.runs.append((time.perf_counter_ns() - start) // self.number)
        finally:
            gc.enable()
        return n

    def calibrate(self) -> None:
        """After a warm-up pass: when it was short, time one more (warm) pass and repeat the
        decode within each timed run up to `_MIN_RUN_NS`, as timeit's autorange does, so a small
        input is not timed right after another decoder has evicted it from the CPU caches
        (which costs tens of microseconds)."""
        if self.runs and self.runs[-1] < _MIN_RUN_NS:
            self.run()
            self.number = max(1, min(10_000, -(-_MIN_RUN_NS // max(self.runs[-1], 1))))


def _select(against: Sequence[str] | None) -> tuple[list[Anchor], list[Skipped]]:
    names = list(ANCHORS) if against is None else ["streamtape", *against]
    unknown = [n for n in names if n not in ANCHORS]
    if unknown:
        raise ValueError(f"unknown decoder(s) {', '.join(unknown)}; known: {', '.join(ANCHORS)}")
    chosen: list[Anchor] = []
    skipped: list[Skipped] = []
    for name in dict.fromkeys(names):
        anchor = ANCHORS[name]
        missing = anchor.missing()
        if missing:
            skipped.append(Skipped(name, f"{', '.join(missing)} not installed", anchor.pip))
        else:
            chosen.append(anchor)
    return chosen, skipped


def _holds_error_event(streams: Iterable[bytes]) -> bool:
    """True when a stream carries an `error` event, at which SDKs raise by design."""
    for stream in streams:
        decoder = EventDecoder(strict=False)
        events = [*decoder.feed(stream), *decoder.close()]
        if any(getattr(e, "type", None) == "error" for e in events):
            return True
    return False


def _raises_by_design(anchor: Anchor, exc: BaseException, holds_error: bool) -> bool:
    """An SDK raising its own error on a stream that holds an `error` event is the SDK working:
    its row says so instead of counting as a failure."""
    root = type(exc).__module__.partition(".")[0]
    return holds_error and anchor.kind == "anchor" and root == anchor.requires[0]


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."


def run_bench(
    inputs: Sequence[BenchInput],
    repeat: int = 5,
    against: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    shapes: Sequence[Shape] | None = None,
    warmup: int = 1,
    seed: int = 0,
) -> BenchReport:
    """Time streamtape and each installed anchor on every input, split every way asked.

    `against` names the anchors (keys of `ANCHORS`; streamtape always runs; None: all of them).
    `shapes` defaults to each input's own. Per input and shape, every decoder first runs `warmup`
    untimed times, then `repeat` timed times interleaved; a decode shorter than 20 ms is repeated
    within each timed run to last that long (see `_Case.calibrate`). A decoder that raises or
    decodes another number of events than streamtape gets a row with `error` set (see
    `BenchReport.failures`); an SDK that raises its own error on a stream holding an `error`
    event gets `raised` instead: it does what it was built to do there, as the recording shows.
    Raises ValueError for an unknown anchor or shape name.
    """
    anchors, skipped = _select(against)
    for shape in shapes or ():
        if shape not in SHAPES:
            raise ValueError(f"unknown chunk shape {shape!r}; known: {', '.join(SHAPES)}")
    setups = {a.name: a.setup() for a in anchors}
    plan = [
        (inp, shape)
        for inp in inputs
        for shape in (shapes or inp.shapes)
        if shape != "recorded" or inp.recorded is not None
    ]
    total = len(plan) * len(anchors) * (warmup + repeat)
    step = 0
    rows: list[Row] = []
    for inp, shape in plan:
        if shape == "recorded":
            split = cast(list[list[bytes]], inp.recorded)
        else:
            split = [chunk(s, shape, seed) for s in inp.streams]
        presplit = [[_presplit(s)] for s in inp.streams] if any(a.presplit for a in anchors) else []
        cases = [_Case(a, setups[a.name], presplit if a.presplit else split) for a in anchors]
        holds_error = _holds_error_event(inp.streams)
        gc.collect()  # once per case, untimed: a full collection costs ~50 ms with the SDKs loaded
        for round_ in range(warmup + repeat):
            for case in cases:
                if case.error is not None or case.raised is not None:
                    continue
                if progress is not None:
                    progress(step, total, f"{inp.name} {shape} {case.anchor.name}")
                step += 1
                try:
                    n = case.run()
                    if round_ < warmup:
                        case.calibrate()
                except Exception as exc:  # a decoder failing is a result, not a crash
                    if _raises_by_design(case.anchor, exc, holds_error):
                        case.raised = _error(exc)
                    else:
                        case.error = _error(exc)
                    continue
                if round_ < warmup:
                    case.runs.clear()
                expected = cases[0].events
                if case.events < 0:
                    case.events = n
                    if case is not cases[0] and cases[0].error is None and n != expected:
                        case.error = f"decoded {n} events, streamtape {expected}"
                elif n != case.events:
                    case.error = f"decoded {n} events, then {case.events}"
        rows += _rows(inp, shape, cases)
    if progress is not None:
        progress(total, total, "done")
    return BenchReport(
        python=platform.python_version(),
        platform=platform.platform(),
        repeat=repeat,
        warmup=warmup,
        versions={a.dist: a.version() for a in anchors if a.dist},
        shapes={s: SHAPES[s] for s in dict.fromkeys(shape for _, shape in plan)},
        rows=rows,
        skipped=skipped,
        fast_path="C" if SPEEDUPS else "Python",
    )


def _rows(inp: BenchInput, shape: Shape, cases: list[_Case]) -> list[Row]:
    base = cases[0]
    out: list[Row] = []
    for case in cases:
        name, kind = case.anchor.name, case.anchor.kind
        if case.raised is not None:
            out.append(Row(inp.name, shape, name, kind, max(case.events, 0), inp.size, [], 0, 0.0,
                           0.0, 0.0, 0.0, None, None, case.raised))  # fmt: skip
            continue
        if case.error is not None or not case.runs:
            error = case.error or "no timed run"
            out.append(Row(inp.name, shape, name, kind, max(case.events, 0), inp.size, [], 0, 0.0,
                           0.0, 0.0, 0.0, None, error))  # fmt: skip
            continue
        median = statistics.median(case.runs)
        seconds = max(median, 1) / 1e9
        speedup = None
        if base.error is None and len(base.runs) == len(case.runs):
            speedup = statistics.median(
                t / max(b, 1) for t, b in zip(case.runs, base.runs, strict=True)
            )
        out.append(
            Row(
                input=inp.name,
                shape=shape,
                decoder=name,
                kind=kind,
                events=case.events,
                bytes=inp.size,
                runs_ns=case.runs,
                median_ns=int(median),
                spread=(max(case.runs) - min(case.runs)) / max(median, 1),
                mb_per_s=inp.size / seconds / 1e6,
                events_per_s=case.events / seconds,
                ns_per_event=median / max(case.events, 1),
                speedup=speedup,
            )
        )
    return out


def stderr_progress(stream: TextIO | None = None) -> Progress:
    """A progress callback that keeps one line on stderr up to date and clears it at the end."""
    out = stream if stream is not None else sys.stderr
    width = 0

    def progress(step: int, total: int, what: str) -> None:
        nonlocal width
        line = "" if step >= total else f"bench [{step + 1}/{total}] {what}"
        out.write("\r" + line.ljust(width) + ("\r" if step >= total else ""))
        out.flush()
        width = max(width, len(line))

    return progress
