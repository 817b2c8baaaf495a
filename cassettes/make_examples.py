"""Regenerate the example cassettes in this directory.

Each example is a real stream from tests/fixtures, served by the local test server
(tests/sse_server.py) on 127.0.0.1 with small, realistic delays, and recorded through
streamtape's RecordingTransport with a real httpx client.

Run: ``python cassettes/make_examples.py``.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import httpx

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests"))

from sse_server import FIXTURES, Route, SSEServer, sse_chunks  # noqa: E402

from streamtape.cassette import CassetteWriter  # noqa: E402
from streamtape.transport import RecordingTransport  # noqa: E402

# name -> (fixture, path served, request body, seconds before the head, mean gap between chunks)
EXAMPLES: dict[str, tuple[str, str, dict[str, object], float, float]] = {
    "text-answer": (
        "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.sse",
        "/v1/responses",
        {"model": "gpt-4o", "input": "Say hi in Portuguese", "stream": True},
        0.25,
        0.015,
    ),
    "function-call": (
        "pydantic-ai/test_openai_responses_stream.0.sse",
        "/v1/responses",
        {
            "model": "gpt-4o",
            "input": [{"role": "user", "content": "What is the capital of France?"}],
            "tools": [{"type": "function", "name": "get_capital", "parameters": {}}],
            "stream": True,
        },
        0.3,
        0.02,
    ),
    "reasoning": (
        "fantasy/TestOpenAIResponsesWithSummaryThinking/openai-gpt-5/thinking-streaming.0.sse",
        "/v1/responses",
        {
            "model": "gpt-5",
            "input": "What is the weather in Florence, Italy?",
            "reasoning": {"effort": "medium", "summary": "auto"},
            "stream": True,
        },
        0.4,
        0.008,
    ),
    "openrouter-done": (
        "pydantic-ai/test_openai_responses_raw_cot_stream_openrouter.sse",
        "/api/v1/responses",
        {"model": "openai/gpt-oss-20b", "input": "What is 2+2?", "stream": True},
        0.35,
        0.02,
    ),
    "failed-stream": (
        "vercel-ai/openai/openai-error.1.chunks.txt",
        "/v1/responses",
        {"model": "gpt-4o", "input": "Hello", "stream": True},
        0.2,
        0.03,
    ),
}


def record(server: SSEServer, name: str, seed: int) -> Path:
    """Serve one fixture with jittered delays and record it to ``<name>.tape``."""
    fixture, path, body, head_delay, gap = EXAMPLES[name]
    chunks = sse_chunks(FIXTURES / fixture)
    rng = random.Random(seed)
    delays = [0.0] + [rng.uniform(0.3, 1.7) * gap for _ in chunks[1:]]
    if name == "reasoning":
        delays[len(delays) // 3] = 0.6  # a visible stall while the model thinks
    url = server.add(Route(path, chunks, delays=delays, head_delay=head_delay))
    out = HERE / f"{name}.ndjson.zst"
    with (
        CassetteWriter(
            out,
            source=f"made by cassettes/make_examples.py: {fixture} replayed by a local test "
            "server with realistic delays",
        ) as writer,
        httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), writer)) as client,
        client.stream(
            "POST", url, content=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as response,
    ):
        for _ in response.iter_raw():
            pass
    return out


def main() -> None:
    with SSEServer() as server:
        for seed, name in enumerate(EXAMPLES):
            out = record(server, name, seed)
            print(f"{out.name}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
