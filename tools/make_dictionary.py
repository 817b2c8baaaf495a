"""Make the zstd dictionary that cassettes are compressed with (streamtape/dictionaries/).

The dictionary is trained only on synthetic interactions generated here: Responses-API streams
of many shapes (text, function calls, reasoning summaries and raw reasoning, web search, refusals,
failed and incomplete responses, error events, OpenRouter-style comments and ``[DONE]``), plain
JSON answers and HTTP errors, with the request bodies and headers of the usual clients and the
response heads of the usual servers. Its prose words, place names and tool names share nothing
topical with the fixtures. Every real recorded fixture in tests/fixtures stays held out, so the
cassette size figure of benchmarks/bench_record_replay.py is measured on data the dictionary
never saw, and no third-party bytes end up in the package.

Each interaction is written with CassetteWriter (no dictionary, default redactor), and its
NDJSON records (request to end record) are one training sample: what the compressor sees of it.
Deterministic: the same seed and zstandard version give the same file.

    python tools/make_dictionary.py [--check] [--seed 1] [--interactions 1500]
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import zstandard

from streamtape.cassette import DICTIONARIES, DICTIONARY_ID, Cassette, CassetteWriter

OUT = Path(__file__).resolve().parents[1] / "streamtape" / "dictionaries"
SIZE = 64 * 1024  # bytes; bigger did not pay on the held-out fixtures
K, D = 1024, 8  # COVER segment and d-mer sizes (fixed, so training is deterministic)
LEVEL = 7  # the writer's default level: the dictionary's tables are tuned for it

VOCABULARY = (
    "the of and to a in is that it for on as with was be by this are or at from an which "
    "have not but can one all will has would there their we more if about when so what also "
    "into other some time only could than then these two may first new any like over such "
    "river mountain garden library music painting bridge harbor today tomorrow week user "
    "asked question answer function call tool result search query results source page step "
    "think reasoning consider check need look first let me should could maybe approach plan "
    "compute value number total sum list item order price data file code error test output "
    "**Answer** **Summary** **Checking the records** **Considering options** - 1. 2. 3. "
    "Oslo Norway Quito Ecuador Hanoi Lima Accra Perth Tallinn Cusco 42 2 4 10 "
    "100 °C °F km/h % — … \u201c \u201d \u2019 é è à ñ ü 你好 こんにちは Привет "
    "`code` ```python\n def "
    "return print( ) [ ] { } : , . ; ! ? \n \n\n"
)
WORDS = VOCABULARY.split(" ")
COOKIE = "domain=.api.openai.com; HttpOnly; Secure; SameSite=None"


class Gen:
    """Random but plausible pieces of Responses-API traffic."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def hexid(self, prefix: str, n: int = 48) -> str:
        return prefix + self.rng.randbytes(n // 2).hex()

    def alnum(self, n: int) -> str:
        return "".join(self.rng.choices(string.ascii_letters + string.digits, k=n))

    def b64(self, n: int) -> str:
        return "".join(self.rng.choices(string.ascii_letters + string.digits + "+/", k=n))

    def text(self, lo: int, hi: int) -> str:
        words = self.rng.choices(WORDS, k=self.rng.randint(lo, hi))
        return " ".join(words).replace(" \n", "\n")

    def pieces(self, text: str) -> list[str]:
        """Split text into token-sized deltas (1-3 words, spaces leading as tokenizers do)."""
        out: list[str] = []
        words = text.split(" ")
        i = 0
        while i < len(words):
            n = self.rng.choice((1, 1, 1, 2, 3))
            out.append((" " if i else "") + " ".join(words[i : i + n]))
            i += n
        return out

    def model(self) -> str:
        return self.rng.choice(
            (
                "gpt-4o-2024-08-06",
                "gpt-4o-mini-2024-07-18",
                "gpt-4.1-2025-04-14",
                "gpt-4.1-nano-2025-04-14",
                "gpt-5-2025-08-07",
                "gpt-5-mini-2025-08-07",
                "gpt-5-nano-2025-08-07",
                "o3-2025-04-16",
                "o4-mini-2025-04-16",
                "openai/gpt-oss-20b",
                "openai/gpt-oss-120b",
                "openai/gpt-4o",
                "anthropic/claude-sonnet-4",
                "deepseek/deepseek-chat",
                "deepseek-reasoner",
            )
        )


def schema(g: Gen) -> dict[str, Any]:
    props = {
        name: {
            "type": g.rng.choice(("string", "integer", "number", "boolean")),
            "description": g.text(2, 8),
        }
        for name in g.rng.sample(
            [
                "location",
                "city",
                "country",
                "unit",
                "query",
                "limit",
                "date",
                "id",
                "name",
                "x",
                "y",
            ],
            g.rng.randint(1, 4),
        )
    }
    return {
        "type": "object",
        "properties": props,
        "required": list(props)[: g.rng.randint(0, len(props))],
        "additionalProperties": False,
    }


def tools(g: Gen) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(g.rng.choice((0, 0, 1, 1, 2, 3))):
        name = g.rng.choice(
            ("fetch_record", "convert_units", "search", "lookup", "compute", "summarize")
        )
        out.append(
            {
                "type": "function",
                "name": name,
                "description": g.rng.choice((None, "", g.text(3, 15))),
                "parameters": schema(g),
                "strict": g.rng.choice((True, False, None)),
            }
        )
    if g.rng.random() < 0.1:
        out.append({"type": "web_search", "search_context_size": "medium", "user_location": None})
    return out


def response_object(
    g: Gen, state: dict[str, Any], status: str, output: list[Any]
) -> dict[str, Any]:
    """The ``response`` object of created / in_progress / completed events."""
    usage = None
    if status in ("completed", "incomplete", "failed"):
        inp, out, rea = g.rng.randint(5, 3000), g.rng.randint(1, 2000), g.rng.randint(0, 1500)
        usage = {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": g.rng.choice((0, 0, 1024))},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": rea},
            "total_tokens": inp + out,
        }
        if state["openrouter"]:
            usage["cost"] = round(g.rng.random() / 100, 8)
    obj: dict[str, Any] = {
        "id": state["resp_id"],
        "object": "response",
        "created_at": state["created"],
        "status": status,
        "background": state["background"],
        "error": None,
        "incomplete_details": None,
        "instructions": state["instructions"],
        "max_output_tokens": state["max_output_tokens"],
        "max_tool_calls": None,
        "model": state["model"],
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": None,
        "reasoning": state["reasoning"],
        "safety_identifier": None,
        "service_tier": g.rng.choice(("auto", "default")),
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": state["tools"],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }
    if state["short"]:  # older / other servers send fewer keys
        for key in ("background", "max_tool_calls", "prompt_cache_key", "safety_identifier"):
            obj.pop(key)
        obj["text"] = {"format": {"type": "text"}}
    if status == "completed" and state["openrouter"]:
        obj["completed_at"] = state["created"] + g.rng.randint(1, 30)
    return obj


class Stream:
    """Builds the SSE frames of one streamed response."""

    def __init__(self, g: Gen, state: dict[str, Any]) -> None:
        self.g, self.state = g, state
        self.frames: list[bytes] = []
        self.seq = 0
        self.output: list[Any] = []

    def emit(self, type_: str, **fields: Any) -> None:
        event = {"type": type_, **fields}
        if self.state["seqnums"]:
            event["sequence_number"] = self.seq
        self.seq += 1
        data = msgspec.json.encode(event)
        if self.state["openrouter"]:
            self.frames.append(b"data: " + data + b"\n\n")
        else:
            self.frames.append(b"event: " + type_.encode() + b"\ndata: " + data + b"\n\n")
        if self.state["openrouter"] and self.g.rng.random() < 0.03:
            self.frames.append(b": OPENROUTER PROCESSING\n\n")

    def message(self, index: int) -> None:
        g = self.g
        msg_id = g.hexid("msg_")
        item: dict[str, Any] = {
            "id": msg_id,
            "type": "message",
            "status": "in_progress",
            "content": [],
            "role": "assistant",
        }
        self.emit("response.output_item.added", output_index=index, item=item)
        ids = {"item_id": msg_id, "output_index": index, "content_index": 0}
        part: dict[str, Any] = {"type": "output_text", "annotations": [], "text": ""}
        if self.state["logprobs"] is not None:
            part["logprobs"] = []
        self.emit("response.content_part.added", **ids, part=part)
        refusal = g.rng.random() < 0.05
        text = g.text(3, 400)
        for piece in g.pieces(text):
            extra: dict[str, Any] = {}
            if self.state["logprobs"] is not None:
                extra["logprobs"] = (
                    [{"token": piece, "logprob": -round(g.rng.random() * 3, 6), "top_logprobs": []}]
                    if self.state["logprobs"]
                    else []
                )
            if self.state["obfuscation"]:
                extra["obfuscation"] = g.alnum(g.rng.randint(1, 15))
            kind = "response.refusal.delta" if refusal else "response.output_text.delta"
            self.emit(kind, **ids, delta=piece, **extra)
        if refusal:
            self.emit("response.refusal.done", **ids, refusal=text)
            part = {"type": "refusal", "refusal": text}
        else:
            done: dict[str, Any] = {"text": text}
            if self.state["logprobs"] is not None:
                done["logprobs"] = []
            self.emit("response.output_text.done", **ids, **done)
            part = {**part, "text": text}
            if g.rng.random() < 0.1:
                part["annotations"] = [
                    {
                        "type": "url_citation",
                        "start_index": 0,
                        "end_index": 10,
                        "title": g.text(2, 6),
                        "url": f"https://example.org/{g.alnum(8)}?utm_source=openai",
                    }
                ]
        self.emit("response.content_part.done", **ids, part=part)
        item = {**item, "status": "completed", "content": [part]}
        self.emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)

    def function_call(self, index: int) -> None:
        g = self.g
        fc_id, call_id = g.hexid("fc_"), "call_" + g.alnum(24)
        name = g.rng.choice(
            ("fetch_record", "convert_units", "search", "lookup", "compute", "summarize")
        )
        item: dict[str, Any] = {
            "id": fc_id,
            "type": "function_call",
            "status": "in_progress",
            "arguments": "",
            "call_id": call_id,
            "name": name,
        }
        self.emit("response.output_item.added", output_index=index, item=item)
        args = msgspec.json.encode(
            {
                k: g.rng.choice((g.text(1, 4), g.rng.randint(0, 99)))
                for k in g.rng.sample(
                    ["location", "city", "country", "query", "unit", "a", "b"], g.rng.randint(1, 3)
                )
            }
        ).decode()
        step = g.rng.choice((1, 3, 5, 8, 1000))
        for i in range(0, len(args), step):
            extra = (
                {"obfuscation": g.alnum(g.rng.randint(1, 15))} if self.state["obfuscation"] else {}
            )
            self.emit(
                "response.function_call_arguments.delta",
                item_id=fc_id,
                output_index=index,
                delta=args[i : i + step],
                **extra,
            )
        self.emit(
            "response.function_call_arguments.done",
            item_id=fc_id,
            output_index=index,
            arguments=args,
        )
        item = {**item, "status": "completed", "arguments": args}
        self.emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)

    def reasoning(self, index: int) -> None:
        g = self.g
        rs_id = g.hexid("rs_")
        item: dict[str, Any] = {"id": rs_id, "type": "reasoning", "summary": []}
        if g.rng.random() < 0.5:
            item["encrypted_content"] = g.b64(g.rng.randint(200, 1500))
        self.emit("response.output_item.added", output_index=index, item=item)
        raw = self.state["openrouter"] and g.rng.random() < 0.7
        summary: list[Any] = []
        content: list[Any] = []
        for s in range(g.rng.choice((0, 1, 1, 2, 3))):
            ids = {"item_id": rs_id, "output_index": index}
            text = g.text(10, 200)
            if raw:
                self.emit(
                    "response.content_part.added",
                    **ids,
                    content_index=s,
                    part={"type": "reasoning_text", "text": ""},
                )
                for piece in g.pieces(text):
                    self.emit("response.reasoning_text.delta", **ids, content_index=s, delta=piece)
                self.emit("response.reasoning_text.done", **ids, content_index=s, text=text)
                part = {"type": "reasoning_text", "text": text}
                self.emit("response.content_part.done", **ids, content_index=s, part=part)
                content.append(part)
                continue
            self.emit(
                "response.reasoning_summary_part.added",
                **ids,
                summary_index=s,
                part={"type": "summary_text", "text": ""},
            )
            for piece in g.pieces(text):
                extra = (
                    {"obfuscation": g.alnum(g.rng.randint(1, 15))}
                    if self.state["obfuscation"]
                    else {}
                )
                self.emit(
                    "response.reasoning_summary_text.delta",
                    **ids,
                    summary_index=s,
                    delta=piece,
                    **extra,
                )
            self.emit("response.reasoning_summary_text.done", **ids, summary_index=s, text=text)
            part = {"type": "summary_text", "text": text}
            self.emit("response.reasoning_summary_part.done", **ids, summary_index=s, part=part)
            summary.append(part)
        item = {**item, "summary": summary}
        if content:
            item["content"] = content
        self.emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)

    def web_search(self, index: int) -> None:
        g = self.g
        ws_id = g.hexid("ws_")
        item: dict[str, Any] = {"id": ws_id, "type": "web_search_call", "status": "in_progress"}
        self.emit("response.output_item.added", output_index=index, item=item)
        for step in ("in_progress", "searching", "completed"):
            self.emit(f"response.web_search_call.{step}", output_index=index, item_id=ws_id)
        item = {**item, "status": "completed", "action": {"type": "search", "query": g.text(2, 8)}}
        self.emit("response.output_item.done", output_index=index, item=item)
        self.output.append(item)

    def body(self) -> list[bytes]:
        g, state = self.g, self.state
        if state["background"] and g.rng.random() < 0.5:
            self.emit("response.queued", response=response_object(g, state, "queued", []))
        self.emit("response.created", response=response_object(g, state, "in_progress", []))
        self.emit("response.in_progress", response=response_object(g, state, "in_progress", []))
        if g.rng.random() < 0.05:
            self.emit(
                "error",
                code=g.rng.choice(("server_error", "rate_limit_exceeded")),
                message=g.text(4, 15),
                param=None,
            )
            return self.frames
        parts: list[Callable[[int], None]] = []
        if state["reasoning"]["effort"] is not None:
            parts.append(self.reasoning)
        if g.rng.random() < 0.1:
            parts.append(self.web_search)
        parts += g.rng.choice(
            (
                [self.message],
                [self.message],
                [self.function_call],
                [self.function_call] * 2,
                [self.message, self.function_call],
            )
        )
        for index, part in enumerate(parts):
            part(index)
        ending = g.rng.random()
        if ending < 0.05:
            failed = response_object(g, state, "failed", self.output)
            failed["error"] = {"code": "server_error", "message": g.text(5, 20)}
            self.emit("response.failed", response=failed)
        elif ending < 0.1:
            incomplete = response_object(g, state, "incomplete", self.output)
            incomplete["incomplete_details"] = {"reason": "max_output_tokens"}
            self.emit("response.incomplete", response=incomplete)
        else:
            self.emit(
                "response.completed", response=response_object(g, state, "completed", self.output)
            )
        if state["openrouter"] or g.rng.random() < 0.05:
            self.frames.append(b"data: [DONE]\n\n")
        return self.frames


def request(
    g: Gen, state: dict[str, Any], stream: bool
) -> tuple[str, list[tuple[str, str]], bytes]:
    host = state["host"]
    path = "/api/v1/responses" if state["openrouter"] else "/v1/responses"
    if host.endswith("azure.com"):
        path = "/openai/v1/responses"
    user = {"role": "user", "content": g.text(3, 30)}
    if g.rng.random() < 0.4:
        items: Any = g.text(3, 30)
    else:
        items = [user]
        if g.rng.random() < 0.4:
            call_id = "call_" + g.alnum(24)
            items += [
                {
                    "type": "function_call",
                    "call_id": call_id,
                    "name": "fetch_record",
                    "arguments": '{"id":"r17"}',
                    "id": g.hexid("fc_"),
                },
                {"type": "function_call_output", "call_id": call_id, "output": g.text(3, 20)},
            ]
    body: dict[str, Any] = {"model": state["model"].split("-20")[0], "input": items}
    if state["instructions"] is not None:
        body["instructions"] = state["instructions"]
    if state["tools"]:
        body["tools"] = state["tools"]
    if state["reasoning"]["effort"] is not None:
        body["reasoning"] = state["reasoning"]
    if state["max_output_tokens"] is not None:
        body["max_output_tokens"] = state["max_output_tokens"]
    if stream:
        body["stream"] = True
    if state["background"]:
        body["background"] = True
    encoded = msgspec.json.encode(body)
    headers = [
        ("host", host),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate"),
        ("connection", "keep-alive"),
        ("content-length", str(len(encoded))),
        ("content-type", "application/json"),
        ("authorization", "Bearer sk-" + g.alnum(40)),
    ]
    client = state["client"]
    if client == "openai":
        headers += [
            ("user-agent", f"OpenAI/Python {g.rng.choice(('1.109.1', '2.8.0', '3.1.0'))}"),
            ("x-stainless-arch", g.rng.choice(("x64", "arm64"))),
            ("x-stainless-async", g.rng.choice(("false", "async:asyncio"))),
            ("x-stainless-lang", "python"),
            ("x-stainless-os", g.rng.choice(("Linux", "MacOS"))),
            ("x-stainless-package-version", "1.109.1"),
            ("x-stainless-read-timeout", "600"),
            ("x-stainless-retry-count", "0"),
            ("x-stainless-runtime", "CPython"),
            ("x-stainless-runtime-version", g.rng.choice(("3.11.9", "3.12.7", "3.13.1"))),
        ]
    elif client == "openrouter":
        headers += [
            ("user-agent", "speakeasy-sdk/python 0.0.16 2.680.0 1.0.0 openrouter"),
            ("http-referer", "https://example.com"),
        ]
    else:
        headers += [("user-agent", "python-httpx/0.28.1")]
    if g.rng.random() < 0.5:
        headers.sort()
    return f"https://{host}{path}", headers, encoded


def response_head(g: Gen, state: dict[str, Any], content_type: str) -> list[tuple[str, str]]:
    day = g.rng.choice(("Mon", "Tue", "Wed", "Thu", "Fri"))
    month = g.rng.choice(("Jan", "Mar", "Jun", "Oct"))
    hms = f"{g.rng.randint(0, 23):02d}:{g.rng.randint(0, 59):02d}:{g.rng.randint(0, 59):02d}"
    date = f"{day}, {g.rng.randint(1, 28):02d} {month} 2025 {hms} GMT"
    headers = [
        ("date", date),
        ("content-type", content_type),
        ("transfer-encoding", "chunked"),
        ("connection", "keep-alive"),
    ]
    if state["openrouter"]:
        headers += [
            ("access-control-allow-origin", "*"),
            ("cache-control", "no-cache"),
            ("vary", "Accept-Encoding"),
            (
                "permissions-policy",
                'payment=(self "https://checkout.stripe.com" "https://js.stripe.com")',
            ),
            ("referrer-policy", "no-referrer, strict-origin-when-cross-origin"),
            ("x-content-type-options", "nosniff"),
            ("server", "cloudflare"),
            ("cf-ray", f"{g.rng.randbytes(8).hex()}-{g.rng.choice(('SJC', 'FRA', 'IAD', 'CDG'))}"),
        ]
    elif state["host"].endswith("azure.com"):
        headers += [
            (
                "apim-request-id",
                f"{g.rng.randbytes(4).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(6).hex()}",
            ),
            ("x-ms-region", g.rng.choice(("East US", "Sweden Central"))),
            ("x-ratelimit-remaining-requests", str(g.rng.randint(0, 999))),
            (
                "x-request-id",
                f"{g.rng.randbytes(4).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(2).hex()}-{g.rng.randbytes(6).hex()}",
            ),
            ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
            ("x-content-type-options", "nosniff"),
        ]
    else:
        headers += [
            (
                "openai-organization",
                g.rng.choice(("user-" + g.alnum(24).lower(), "acme-" + g.alnum(6).lower())),
            ),
            ("openai-processing-ms", str(g.rng.randint(20, 900))),
            ("openai-project", "proj_" + g.alnum(24)),
            ("openai-version", "2020-10-01"),
            ("x-request-id", "req_" + g.rng.randbytes(16).hex()),
            ("x-envoy-upstream-service-time", str(g.rng.randint(20, 900))),
            ("strict-transport-security", "max-age=31536000; includeSubDomains; preload"),
            ("cf-cache-status", "DYNAMIC"),
            (
                "set-cookie",
                f"__cf_bm={g.b64(43)}-{g.rng.randint(1700000000, 1760000000)}-1.0.1.1-{g.b64(60)}; "
                f"path=/; expires={date}; {COOKIE}",
            ),
            (
                "set-cookie",
                f"_cfuvid={g.b64(43)}-{g.rng.randint(1700000000, 1760000000)}000-0.0.1.1-"
                f"604800000; path=/; {COOKIE}",
            ),
            ("x-content-type-options", "nosniff"),
            ("server", "cloudflare"),
            ("cf-ray", f"{g.rng.randbytes(8).hex()}-{g.rng.choice(('SJC', 'LAX', 'IAD', 'AMS'))}"),
            ("alt-svc", 'h3=":443"; ma=86400'),
        ]
    if g.rng.random() < 0.3:
        headers = [(k.title(), v) for k, v in headers]
    return headers


def split(g: Gen, frames: list[bytes]) -> list[bytes]:
    """Chunks as a transport reads them: mostly one frame each, sometimes several or cut."""
    shape = g.rng.random()
    if shape < 0.6:
        return frames
    data = b"".join(frames)
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        step = g.rng.choice((g.rng.randint(1, 300), g.rng.randint(300, 4096)))
        out.append(data[pos : pos + step])
        pos += step
    return out


def interaction(g: Gen, writer: CassetteWriter) -> None:
    openrouter = g.rng.random() < 0.3
    host = (
        "openrouter.ai"
        if openrouter
        else g.rng.choice(("api.openai.com",) * 4 + ("example-resource.openai.azure.com",))
    )
    effort = g.rng.choice((None, None, "minimal", "low", "medium", "high"))
    state: dict[str, Any] = {
        "openrouter": openrouter,
        "host": host,
        "client": g.rng.choice(
            ("openrouter", "httpx") if openrouter else ("openai", "openai", "httpx")
        ),
        "resp_id": g.hexid("resp_")
        if not openrouter
        else "gen-" + str(g.rng.randint(1700000000, 1760000000)) + "-" + g.alnum(20),
        "created": g.rng.randint(1740000000, 1765000000),
        "model": g.model(),
        "instructions": g.rng.choice((None, None, "", g.text(3, 20))),
        "max_output_tokens": g.rng.choice((None, None, 1024, 4096)),
        "reasoning": {
            "effort": effort,
            "summary": g.rng.choice((None, "auto", "detailed")) if effort else None,
        },
        "tools": tools(g),
        "background": g.rng.random() < 0.05,
        "short": g.rng.random() < 0.3,
        "seqnums": g.rng.random() < 0.85,
        "obfuscation": not openrouter and g.rng.random() < 0.5,
        "logprobs": g.rng.choice((None, [], True)),
    }
    kind = g.rng.random()
    stream = kind < 0.85
    url, headers, body = request(g, state, stream)
    rec = writer.begin("POST", url, headers, body, start_ns=0)
    t = g.rng.randint(80_000, 2_000_000)
    if kind < 0.85:
        rec.response(
            200,
            response_head(g, state, "text/event-stream; charset=utf-8"),
            reason="OK",
            offset_ns=t * 1000,
        )
        chunks = split(g, Stream(g, state).body())
        cut = len(chunks) if g.rng.random() > 0.05 else g.rng.randint(1, len(chunks))
        for data in chunks[:cut]:
            t += g.rng.choice(
                (g.rng.randint(0, 200), g.rng.randint(1000, 60_000), g.rng.randint(60_000, 900_000))
            )
            rec.chunk(data, offset_ns=t * 1000)
        t += g.rng.randint(0, 500)
        if cut < len(chunks):
            rec.end(
                "error",
                error=ConnectionResetError(
                    "peer closed connection without sending complete message body"
                ),
                offset_ns=t * 1000,
            )
        else:
            rec.end(offset_ns=t * 1000)
    elif kind < 0.93:
        output = Stream(g, state)
        output.message(0)
        payload = msgspec.json.encode(response_object(g, state, "completed", output.output))
        rec.response(
            200, response_head(g, state, "application/json"), reason="OK", offset_ns=t * 1000
        )
        rec.chunk(payload, offset_ns=(t + 300) * 1000)
        rec.end(offset_ns=(t + 310) * 1000)
    else:
        status, code, message = g.rng.choice(
            (
                (
                    401,
                    "invalid_api_key",
                    "Incorrect API key provided: sk-abc***xyz. You can find your API key at https://platform.openai.com/account/api-keys.",
                ),
                (
                    429,
                    "rate_limit_exceeded",
                    "Rate limit reached for requests. Please try again in 20s.",
                ),
                (
                    400,
                    "invalid_request_error",
                    "Invalid value for 'input': expected a string or an array.",
                ),
                (
                    500,
                    "server_error",
                    "The server had an error while processing your request. Sorry about that!",
                ),
            )
        )
        payload = msgspec.json.encode(
            {
                "error": {
                    "message": message,
                    "type": "invalid_request_error",
                    "param": None,
                    "code": code,
                }
            }
        )
        rec.response(
            status, response_head(g, state, "application/json"), reason="", offset_ns=t * 1000
        )
        rec.chunk(payload, offset_ns=(t + 50) * 1000)
        rec.end(offset_ns=(t + 60) * 1000)


def samples(seed: int, count: int) -> list[bytes]:
    """The NDJSON of ``count`` synthetic interactions, one sample per interaction."""
    g = Gen(seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.ndjson.zst"
        with CassetteWriter(
            path, dictionary=None, flush_interval=None, recorded_at="2025-01-01T00:00:00Z"
        ) as writer:
            for _ in range(count):
                interaction(g, writer)
        lines = Cassette.read_ndjson(path).splitlines(keepends=True)[1:]  # after the header
    out: list[bytes] = []
    start = 0
    for n, line in enumerate(lines, 1):  # interactions follow each other: one ends, one begins
        if line.startswith(b'{"kind":"end"'):
            out.append(b"".join(lines[start:n]))
            start = n
    return out


def train(seed: int, count: int) -> bytes:
    """Train the dictionary (deterministic for a seed and a zstandard version)."""
    d = zstandard.train_dictionary(
        SIZE, samples(seed, count), k=K, d=D, dict_id=DICTIONARY_ID, level=LEVEL
    )
    return d.as_bytes()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interactions", type=int, default=1500)
    parser.add_argument(
        "--check", action="store_true", help="compare with the shipped file, write nothing"
    )
    args = parser.parse_args(argv)
    data = train(args.seed, args.interactions)
    path = OUT / DICTIONARIES[DICTIONARY_ID]
    if args.check:
        same = path.exists() and path.read_bytes() == data
        print(f"{path.name}: {'identical' if same else 'DIFFERENT'} ({len(data)} bytes)")
        return 0 if same else 1
    path.write_bytes(data)
    print(f"{path.name}: {len(data)} bytes, dictionary id {DICTIONARY_ID}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
