"""Benchmark harness behind `streamtape bench`: streamtape's decoder against other decoders.

Every decoder ("anchor") decodes the same bytes, split the same way, interleaved in one run
(A B A B ...) so that drift on a noisy machine hits all of them alike; each must decode the same
number of events, or its row is marked failed. Anchors: the `openai` SDK's `Stream` (its SSE decoder
and model building), the `openrouter` SDK's `EventStream`, `httpx-sse` + `json.loads`, a shortcut
that is fast but not exact (one regex `findall` of `data: ` payloads per buffer, decoded together:
no CR line ends, comments, multi-line data or error offsets), and three ceilings: msgspec decoding
pre-split payloads into the event Structs or into dicts, and splitting frames alone. Anchors that
are not installed are skipped with the pip command that adds them.
"""

from __future__ import annotations

import base64
import gc
import importlib.metadata
import importlib.util
import json
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, cast

import msgspec

from streamtape.cassette import Cassette
from streamtape.decode import EventDecoder, iter_events
from streamtape.events import Done, TaggedEvent
from streamtape.sse import SSEParser

__all__ = [
    "ANCHORS",
    "SHAPES",
    "Anchor",
    "BenchInput",
    "BenchReport",
    "Row",
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

SHAPES = {
    "64k": "64 KiB reads (a file or a cassette)",
    "event": "one chunk per event (a live server)",
    "random": "random 1-200 byte chunks (a stress case)",
    "recorded": "the chunks as recorded in the cassette",
}
_SSE_HEADERS = {"content-type": "text/event-stream"}
_URL = "http://127.0.0.1:9/v1/responses"  # never contacted: responses are built in memory
_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_DONE = "[DONE]"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


# ---------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class BenchInput:
    """A named set of streams: whole bodies, plus their recorded chunks when they come from a
    cassette. `shapes` are the chunkings run when the caller names none."""

    name: str
    streams: list[bytes]
    recorded: list[list[bytes]] | None = None
    shapes: tuple[str, ...] = ("64k",)

    @property
    def size(self) -> int:
        return sum(map(len, self.streams))


def chunk(data: bytes, shape: str, seed: int = 0) -> list[bytes]:
    """Split one stream as `shape` says (a key of `SHAPES` other than "recorded")."""
    if shape == "64k":
        return [data[i : i + 65536] for i in range(0, len(data), 65536)]
    if shape == "event":
        cuts = [m.end() for m in _FRAME_END.finditer(data)]
        if not cuts or cuts[-1] != len(data):
            cuts.append(len(data))
        return [data[a:b] for a, b in zip([0, *cuts], cuts, strict=False) if b > a]
    if shape == "random":
        rng = random.Random(seed)
        out: list[bytes] = []
        pos = 0
        while pos < len(data):
            step = rng.randint(1, 200)
            out.append(data[pos : pos + step])
            pos += step
        return out
    raise ValueError(f"unknown chunk shape {shape!r}; known: {', '.join(SHAPES)}")


def _frame(event: dict[str, Any]) -> bytes:
    """One OpenAI-style frame: `event: <type>`, one `data:` line, a blank line."""
    kind: str = event["type"]
    return b"event: " + kind.encode() + b"\ndata: " + msgspec.json.encode(event) + b"\n\n"


def synthetic_stream(*, events: int | None = None, size: int | None = None, seed: int = 0) -> bytes:
    """A complete OpenAI-style text response whose body is small `output_text.delta` events.

    Give `events` (total events, at least 9) or `size` (bytes, approximate). Deterministic for a
    `seed`; the envelope and delta shape copy a real gpt-4.1 stream, `obfuscation` included, and the
    `.done` events carry the joined text, so the stream is a valid one for any consumer.
    """
    if (events is None) == (size is None):
        raise ValueError("give exactly one of events= or size=")
    rng = random.Random(seed)
    resp_id = "resp_" + rng.randbytes(25).hex()
    msg_id = "msg_" + rng.randbytes(25).hex()
    words = (
        "The", "the", "a", "of", "stream", "event", "token", "water", "boils", "at", "100", "°C",
        "sea", "level", "—", "it\u2019s", "café", "naïve", "déjà", "reply", "model", "server",
        "chunk\n", "data", '"quoted"', "tape", "replay", "record,", "fast.", "42", "x²", "→",
    )  # fmt: skip
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    response: dict[str, Any] = {
        "id": resp_id, "object": "response", "created_at": 1762781676, "status": "in_progress",
        "background": False, "error": None, "incomplete_details": None, "instructions": None,
        "max_output_tokens": None, "max_tool_calls": None, "model": "gpt-4.1-nano-2025-04-14",
        "output": [], "parallel_tool_calls": True, "previous_response_id": None,
        "prompt_cache_key": None, "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None, "service_tier": "auto", "store": True, "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto",
        "tools": [], "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled", "usage": None,
        "user": None, "metadata": {},
    }  # fmt: skip
    out: list[bytes] = []
    seq = 0

    def emit(type_: str, **fields: Any) -> None:
        nonlocal seq
        out.append(_frame({"type": type_, "sequence_number": seq, **fields}))
        seq += 1

    ids = {"item_id": msg_id, "output_index": 0, "content_index": 0}
    emit("response.created", response=response)
    emit("response.in_progress", response=response)
    item: dict[str, Any] = {
        "id": msg_id, "type": "message", "status": "in_progress", "content": [],
        "role": "assistant",
    }  # fmt: skip
    emit("response.output_item.added", output_index=0, item=item)
    empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    emit("response.content_part.added", **ids, part=empty_part)
    text: list[str] = []
    written = sum(map(len, out))
    deltas = 0
    while (deltas < events - 8) if events is not None else (written < cast(int, size) - 4000):
        delta = rng.choice(words) + (" " if rng.random() < 0.8 else "")
        obfuscation = "".join(rng.choices(alphabet, k=rng.randint(1, 16)))
        emit("response.output_text.delta", **ids, delta=delta, logprobs=[], obfuscation=obfuscation)
        written += len(out[-1]) + 3 * len(delta.encode())  # the `.done` events repeat the text
        text.append(delta)
        deltas += 1
    joined = "".join(text)
    emit("response.output_text.done", **ids, text=joined, logprobs=[])
    part = {**empty_part, "text": joined}
    emit("response.content_part.done", **ids, part=part)
    item = {**item, "status": "completed", "content": [part]}
    emit("response.output_item.done", output_index=0, item=item)
    usage = {
        "input_tokens": 18, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": deltas,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 18 + deltas,
    }  # fmt: skip
    done = {**response, "status": "completed", "output": [item], "usage": usage}
    emit("response.completed", response=done)
    return b"".join(out)


def huge_line_stream(size: int, seed: int = 0) -> bytes:
    """One `image_generation_call.partial_image` event whose base64 image is `size` characters,
    as image generation sends: a single `data:` line of that length."""
    raw = random.Random(seed).randbytes(size * 3 // 4 + 3)
    image = base64.b64encode(raw)[:size].decode()
    event = {
        "type": "response.image_generation_call.partial_image", "sequence_number": 0,
        "output_index": 0, "item_id": "ig_" + "0" * 48, "partial_image_index": 0,
        "partial_image_b64": image,
    }  # fmt: skip
    return _frame(event)


def _json_lines_to_sse(data: bytes) -> bytes:
    """JSON-lines payloads (one event a line, no framing) framed as an OpenAI stream."""
    lines = [line for line in data.splitlines() if line.strip()]
    return b"".join(_frame(json.loads(line)) for line in lines)


def concat_fixtures(paths: Iterable[Path]) -> bytes:
    """One stream made of recorded bodies (`.sse`) and JSON-lines payloads (`.chunks.txt`).

    `data: [DONE]` frames and top-level `error` events are left out: the SDKs stop at the first
    `[DONE]` and the `openai` SDK raises on `error` events by design, so a stream holding them in
    the middle would not be the same work for every decoder. Everything else is kept byte for byte.
    """
    out: list[bytes] = []
    for path in sorted(paths):
        data = path.read_bytes()
        if path.name.endswith(".chunks.txt"):
            data = _json_lines_to_sse(data)
        for piece in chunk(data, "event"):
            payloads = [f.data for f in SSEParser().feed(piece + b"\n\n")]
            if payloads and (payloads[0] == _DONE or json.loads(payloads[0])["type"] == "error"):
                continue
            out.append(piece)
    return b"".join(out)


def load_input(path: Path) -> BenchInput:
    """A bench input from a file: a cassette (zstd; each streamed interaction is one stream, run
    with its chunks as recorded), a raw SSE body, or JSON-lines payloads (`.chunks.txt`, `.jsonl`,
    `.ndjson`) framed as an OpenAI stream. Raises ValueError for a cassette with no stream and
    `CassetteError` for a damaged one."""
    with path.open("rb") as file:
        if file.read(4) == _ZSTD_MAGIC:
            return _cassette_input(path)
    data = path.read_bytes()
    if path.name.endswith((".chunks.txt", ".jsonl", ".ndjson")):
        data = _json_lines_to_sse(data)
    return BenchInput(path.name, [data])


def _cassette_input(path: Path) -> BenchInput:
    streams: list[bytes] = []
    recorded: list[list[bytes]] = []
    for interaction in Cassette.iter_interactions(path):
        response = interaction.response
        if response is None or "text/event-stream" not in (response.header("content-type") or ""):
            continue
        chunks = list(interaction.iter_body())
        if chunks:
            streams.append(b"".join(chunks))
            recorded.append(chunks)
    if not streams:
        raise ValueError(f"{path}: no interaction with a text/event-stream body")
    return BenchInput(path.name, streams, recorded, shapes=("recorded",))


def default_inputs(
    cassettes: Iterable[Path] = (), generated_size: int = 256 * 1024, seed: int = 0
) -> list[BenchInput]:
    """The inputs of a bare `streamtape bench`: the given (example) cassettes, then a generated
    stream small enough for CI."""
    inputs = [load_input(path) for path in cassettes]
    return [*inputs, BenchInput("generated", [synthetic_stream(size=generated_size, seed=seed)])]


# --------------------------------------------------------------------------------------- anchors


@dataclass(frozen=True)
class Anchor:
    """A decoder to measure. `setup()` imports what it needs and builds its reusable state once,
    untimed, and returns the function that is timed. `presplit` anchors (the msgspec ceilings) get
    each stream's payloads, cut out beforehand and joined by newlines, as their only chunk."""

    name: str
    kind: str  # "subject", "variant" (streamtape another way), "anchor", "shortcut" or "ceiling"
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


def _streamtape() -> Decode:
    def decode(chunks: list[bytes]) -> int:
        decoder = EventDecoder()
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


# ---------------------------------------------------------------------------------------- report


class Row(msgspec.Struct, frozen=True):
    """One decoder on one input split one way. `speedup` is streamtape's speed over this
    decoder's (the median over repeats of their paired time ratios): 100 means streamtape is 100
    times faster; 0.9 against a ceiling means streamtape reaches 90% of it."""

    input: str
    shape: str
    decoder: str
    kind: str
    events: int
    bytes: int
    runs_ns: list[int]
    median_ns: int
    spread: float  # (slowest - fastest) / median
    mb_per_s: float
    events_per_s: float
    ns_per_event: float
    speedup: float | None
    error: str | None = None


class Skipped(msgspec.Struct, frozen=True):
    decoder: str
    reason: str
    install: str


class BenchReport(msgspec.Struct, frozen=True):
    """Everything one run measured, with what it ran on; `render_json` / `render_table` show it."""

    python: str
    platform: str
    repeat: int
    warmup: int
    versions: dict[str, str]
    shapes: dict[str, str]
    rows: list[Row]
    skipped: list[Skipped]

    @property
    def failures(self) -> list[Row]:
        """Rows whose decoder raised or decoded a different number of events than streamtape."""
        return [row for row in self.rows if row.error is not None]


@dataclass
class _Case:
    anchor: Anchor
    decode: Decode
    streams: list[list[bytes]]
    runs: list[int] = field(default_factory=list)
    events: int = -1
    error: str | None = None

    def run(self) -> int:
        # The cyclic GC is paused while timing, as timeit does: otherwise a collection that one
        # decoder's garbage triggers (traversing the SDKs' large heap) is billed to whichever
        # decoder runs then, and a ceiling holding all its events at once pays for the others.
        decode = self.decode
        gc.disable()
        try:
            start = time.perf_counter_ns()
            n = 0
            for chunks in self.streams:
                n += decode(chunks)
            self.runs.append(time.perf_counter_ns() - start)
        finally:
            gc.enable()
        return n


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


def _error(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 200 else text[:197] + "..."


def run_bench(
    inputs: Sequence[BenchInput],
    repeat: int = 5,
    against: Sequence[str] | None = None,
    progress: Progress | None = None,
    *,
    shapes: Sequence[str] | None = None,
    warmup: int = 1,
    seed: int = 0,
) -> BenchReport:
    """Time streamtape and each installed anchor on every input, split every way asked.

    `against` names the anchors (keys of `ANCHORS`; streamtape always runs; None: all of them).
    `shapes` defaults to each input's own. Per input and shape, every decoder first runs `warmup`
    untimed times, then `repeat` timed times interleaved. A decoder that raises or decodes another
    number of events than streamtape gets a row with `error` set (see `BenchReport.failures`).
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
        gc.collect()  # once per case, untimed: a full collection costs ~50 ms with the SDKs loaded
        for round_ in range(warmup + repeat):
            for case in cases:
                if case.error is not None:
                    continue
                if progress is not None:
                    progress(step, total, f"{inp.name} {shape} {case.anchor.name}")
                step += 1
                try:
                    n = case.run()
                except Exception as exc:  # a decoder failing is a result, not a crash
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
    )


def _rows(inp: BenchInput, shape: str, cases: list[_Case]) -> list[Row]:
    base = cases[0]
    out: list[Row] = []
    for case in cases:
        name, kind = case.anchor.name, case.anchor.kind
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


# ------------------------------------------------------------------------------------- rendering


_FOOTNOTE = (
    "{report.repeat} timed run(s) per decoder, interleaved, after {report.warmup} warm-up run(s); "
    "median shown; spread = half the range over the median; streamtape x = streamtape's speed "
    "over the decoder's (median of the paired runs' time ratios)."
)


def render_json(report: BenchReport) -> str:
    """The report as indented JSON (stable key order)."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2).decode()


def render_table(report: BenchReport) -> str:
    """The report as a fixed-width text table, then skipped decoders and failures."""
    head = ("input", "shape", "decoder", "MB/s", "events/s", "ns/event", "median", "spread",
            "streamtape x")  # fmt: skip
    lines: list[tuple[str, ...]] = [head]
    previous = ("", "")
    for row in report.rows:
        key = (row.input, row.shape)
        first = key != previous
        previous = key
        label = (row.input, row.shape) if first else ("", "")
        if row.error is not None:
            lines.append((*label, row.decoder, "failed", "", "", "", "", ""))
            continue
        lines.append(
            (
                *label,
                row.decoder,
                f"{row.mb_per_s:,.2f}",
                f"{row.events_per_s:,.0f}",
                f"{row.ns_per_event:,.0f}",
                _duration(row.median_ns),
                f"±{row.spread * 50:.1f}%",
                "" if row.speedup is None or row.kind == "subject" else _ratio(row.speedup),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = []
    for line in lines:
        cells = [
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
    text.insert(1, "-" * len(text[0]))
    text.append("")
    text.append(_FOOTNOTE.format(report=report))
    for s in report.skipped:
        text.append(f"skipped {s.decoder}: {s.reason} ({s.install})")
    for row in report.failures:
        text.append(f"FAILED {row.decoder} on {row.input} {row.shape}: {row.error}")
    return "\n".join(text)


def render_markdown(report: BenchReport) -> str:
    """The rows as a Markdown table (for docs), then skipped decoders and failures."""
    out = [
        "| input | shape | decoder | MB/s | events/s | ns/event | median | spread | streamtape x |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        if row.error is not None:
            out.append(f"| {row.input} | {row.shape} | {row.decoder} | failed | | | | | |")
            continue
        speedup = "" if row.speedup is None or row.kind == "subject" else _ratio(row.speedup)
        out.append(
            f"| {row.input} | {row.shape} | {row.decoder} | {row.mb_per_s:,.2f} | "
            f"{row.events_per_s:,.0f} | {row.ns_per_event:,.0f} | {_duration(row.median_ns)} | "
            f"±{row.spread * 50:.1f}% | {speedup} |"
        )
    out.append("")
    out.append(_FOOTNOTE.format(report=report))
    out += [f"- skipped {s.decoder}: {s.reason} (`{s.install}`)" for s in report.skipped]
    out += [f"- FAILED {r.decoder} on {r.input} {r.shape}: {r.error}" for r in report.failures]
    return "\n".join(out)


def _duration(ns: int) -> str:
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.2f} s"
    return f"{ns / 1e6:.2f} ms" if ns >= 1_000_000 else f"{ns / 1e3:.0f} µs"


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"


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
