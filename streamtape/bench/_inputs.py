"""The inputs of `streamtape bench`: synthetic OpenAI-style streams, recorded fixtures and
cassettes loaded as streams, and the chunk shapes they are split into."""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import msgspec

from streamtape.bench._report import Shape
from streamtape.cassette import Cassette
from streamtape.sse import SSEParser

__all__ = [
    "SHAPES",
    "BenchInput",
    "chunk",
    "concat_fixtures",
    "default_inputs",
    "huge_line_stream",
    "load_input",
    "synthetic_stream",
]

SHAPES: dict[Shape, str] = {
    "64k": "64 KiB reads (a file or a cassette)",
    "event": "one chunk per event (a live server)",
    "random": "random 1-200 byte chunks (a stress case)",
    "recorded": "the chunks as recorded in the cassette",
}
_FRAME_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_DONE = "[DONE]"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


@dataclass(frozen=True)
class BenchInput:
    """A named set of streams: whole bodies, plus their recorded chunks when they come from a
    cassette. `shapes` are the chunkings run when the caller names none."""

    name: str
    streams: list[bytes]
    recorded: list[list[bytes]] | None = None
    shapes: tuple[Shape, ...] = ("64k",)

    @property
    def size(self) -> int:
        return sum(map(len, self.streams))


def chunk(data: bytes, shape: Shape, seed: int = 0) -> list[bytes]:
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
