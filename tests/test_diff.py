"""`streamtape diff`: verdicts on pairs of real streams, re-recorded through the loopback server
with what always changes changed (ids, sequence numbers, obfuscation, timing) or with a real
change (another answer, another outcome, another tool call)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser import Browser, BrowserMissingError
from click.testing import CliRunner
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

from streamtape.cassette import Cassette
from streamtape.cli import cli
from streamtape.diff import DiffOptions, align, diff_cassettes, diff_interactions, word_diff
from streamtape.tape import use_cassette

EXAMPLES = Path(__file__).parent.parent / "cassettes"
THINKING = "TestOpenAIResponsesWithSummaryThinking/openai-gpt-5/thinking-streaming"
AZURE_THINKING = "TestAzureResponsesWithSummaryThinking/azure-gpt-5-mini/thinking-streaming"
GPT5_CALL = FIXTURES / "fantasy" / f"{THINKING}.0.sse"  # reasoning, then weather(Florence)
GPT5_ANSWER = FIXTURES / "fantasy" / f"{THINKING}.1.sse"  # the turn after: reasoning, then text
AZURE_CALL = FIXTURES / "fantasy" / f"{AZURE_THINKING}.0.sse"  # the same request, gpt-5-mini
BODY = {"model": "gpt-5", "input": "What is the weather in Florence, Italy?", "stream": True}


def rewrite_events(
    chunks: Sequence[bytes], change: Callable[[dict[str, Any]], None]
) -> list[bytes]:
    """The frames with ``change`` applied to each JSON payload (SSE framing kept)."""
    out = []
    for chunk in chunks:
        lines = []
        for line in chunk.split(b"\n"):
            if line.startswith(b"data: {"):
                event = json.loads(line[6:])
                change(event)
                line = b"data: " + json.dumps(event).encode()
            lines.append(line)
        out.append(b"\n".join(lines))
    return out


def new_ids(event: dict[str, Any]) -> None:
    """What a re-recording changes: every id, the sequence numbers' start, obfuscation,
    timestamps, encrypted content."""

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key in ("id", "item_id", "call_id") and isinstance(item, str):
                    value[key] = item[::-1]
                elif key in ("sequence_number", "created_at") and isinstance(item, int):
                    value[key] = item + 1000
                elif key in ("obfuscation", "encrypted_content") and isinstance(item, str):
                    value[key] = "re" + item
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(event)


def record(
    server: SSEServer,
    path: Path,
    chunks: Sequence[bytes],
    delay: float = 0.002,
    body: dict[str, Any] | None = None,
) -> Cassette:
    """Serve ``chunks`` on the loopback server and record them through httpx."""
    url = server.add(Route("/v1/responses", list(chunks), delays=delay))
    with (
        use_cassette(path, record_mode="all"),
        httpx.Client() as client,
        client.stream("POST", url, json=body or BODY) as response,
    ):
        response.read()
    return Cassette.load(path)


# -- verdicts on pairs ---------------------------------------------------------------------------


def test_a_stream_against_itself_is_identical() -> None:
    cassette = Cassette.load(EXAMPLES / "reasoning.ndjson.zst")
    result = diff_cassettes(cassette, cassette)
    assert result.verdict == "identical"
    assert result.text().splitlines()[0] == "identical"


def test_re_recorded_with_new_ids_is_equivalent(sse_server: SSEServer, tmp_path: Path) -> None:
    chunks = sse_chunks(GPT5_CALL)
    a = record(sse_server, tmp_path / "a.ndjson.zst", chunks)
    b = record(sse_server, tmp_path / "b.ndjson.zst", rewrite_events(chunks, new_ids))
    assert a[0].events() != b[0].events()  # the payloads really differ
    timing_aside = DiffOptions(timing_floor=math.inf)  # two loopback runs: timing is noise
    result = diff_cassettes(a, b, timing_aside)
    assert result.verdict == "equivalent", result.text()
    sections = {s.name: s.verdict for s in result.interactions[0].sections}
    assert sections["event sequence"] == "identical"
    assert sections["other fields"] == "identical"
    assert sections["tool calls"] == "identical"


def test_volatile_keys_can_be_compared_after_all(sse_server: SSEServer, tmp_path: Path) -> None:
    chunks = sse_chunks(GPT5_CALL)
    a = record(sse_server, tmp_path / "a.ndjson.zst", chunks)
    b = record(sse_server, tmp_path / "b.ndjson.zst", rewrite_events(chunks, new_ids))
    options = DiffOptions(volatile=DiffOptions().volatile - {"obfuscation"})
    result = diff_interactions(a[0], b[0], options)
    assert result.verdict == "changed"
    other = next(s for s in result.sections if s.name == "other fields")
    assert any("obfuscation" in line for line in other.lines)


def test_same_request_on_another_deployment_is_changed(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    """gpt-5 and Azure's gpt-5-mini answered the same request with the same tool call after
    different reasoning: the meaning held, the words did not."""
    a = record(sse_server, tmp_path / "a.ndjson.zst", sse_chunks(GPT5_CALL))
    b = record(sse_server, tmp_path / "b.ndjson.zst", sse_chunks(AZURE_CALL))
    result = diff_interactions(a[0], b[0])
    sections = {s.name: s for s in result.sections}
    assert result.verdict == "changed"
    assert sections["tool calls"].verdict == "identical"
    assert sections["tool calls"].lines == ['weather({"location": "Florence, Italy"})']
    assert sections["final text"].verdict == "changed"
    assert sections["final text"].lines[0].startswith("reasoning (")
    assert sections["usage"].lines[0] == "~ output_tokens: 121 -> 139"


def test_a_text_answer_instead_of_a_tool_call_is_different(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    a = record(sse_server, tmp_path / "a.ndjson.zst", sse_chunks(GPT5_CALL))
    b = record(sse_server, tmp_path / "b.ndjson.zst", sse_chunks(GPT5_ANSWER))
    result = diff_interactions(a[0], b[0])
    sections = {s.name: s for s in result.sections}
    assert result.verdict == "different"
    assert sections["tool calls"].verdict == "different"
    assert sections["tool calls"].lines == ['- weather({"location": "Florence, Italy"})']
    assert sections["event sequence"].verdict == "different"
    assert "+ output_text.delta x29" in sections["event sequence"].lines


def test_a_failed_stream_is_different_in_outcome() -> None:
    a = Cassette.load(EXAMPLES / "text-answer.ndjson.zst")
    b = Cassette.load(EXAMPLES / "failed-stream.ndjson.zst")
    result = diff_cassettes(a, b)
    outcome = result.interactions[0].sections[1]
    assert result.verdict == "different"
    assert outcome.name == "outcome"
    assert outcome.lines == [
        "- HTTP 200, stream complete, completed",
        "+ HTTP 200, stream complete, failed",
    ]


def test_other_words_are_changed_with_a_word_diff(sse_server: SSEServer, tmp_path: Path) -> None:
    def paris_to_rome(event: dict[str, Any]) -> None:
        for key in ("delta", "text"):
            if isinstance(event.get(key), str):
                event[key] = event[key].replace("Florence", "Rome")

    chunks = sse_chunks(GPT5_CALL)
    a = record(sse_server, tmp_path / "a.ndjson.zst", chunks)
    b = record(sse_server, tmp_path / "b.ndjson.zst", rewrite_events(chunks, paris_to_rome))
    result = diff_interactions(a[0], b[0])
    text = next(s for s in result.sections if s.name == "final text")
    assert result.verdict == "changed"
    assert "[-Florence,-]{+Rome,+}" in text.lines[0]


def test_timing_beyond_the_ratio_is_changed(tmp_path: Path) -> None:
    from test_report import write_cassette

    chunks = sse_chunks(FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse")
    fast = write_cassette(tmp_path / "a.ndjson.zst", chunks, [1.0 + i for i in range(15)])
    slow = write_cassette(tmp_path / "b.ndjson.zst", chunks, [1.0 + 50 * i for i in range(15)])
    a, b = Cassette.load(fast)[0], Cassette.load(slow)[0]
    result = diff_interactions(a, b)
    timing = result.sections[-1]
    assert timing.name == "timing"
    assert result.verdict == "changed"
    assert timing.verdict == "changed"
    assert timing.lines == [
        "! TTFT: 5.0 ms -> 201.0 ms (x40.20)",
        "! duration: 16.0 ms -> 702.0 ms (x43.87)",
        "  largest gap: 1.0 ms -> 50.0 ms (x50.00)",  # 50 times, but under the 0.1 s floor
    ]
    assert diff_interactions(a, b, DiffOptions(timing_ratio=1000)).verdict == "equivalent"
    assert diff_interactions(a, b, DiffOptions(timing_floor=1.0)).verdict == "equivalent"


def test_word_diff_marks_removed_and_added_words() -> None:
    ratio, text = word_diff("the cat sat", "the dog sat")
    assert text == "the [-cat-]{+dog+} sat"
    assert 0 < ratio < 1
    assert word_diff("same", "same") == (1.0, "same")


def test_cassettes_of_different_lengths_are_different() -> None:
    three = Cassette.load(FIXTURES / "streamtape-v2" / "three-interactions.ndjson.zst")
    result = diff_cassettes(three, three.interactions[:2])
    assert result.verdict == "different"
    assert result.notes == ["! interactions: 3 in A, 2 in B"]


# -- the command ---------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["diff", *args])


def test_cli_exit_status_follows_the_verdict() -> None:
    reasoning = str(EXAMPLES / "reasoning.ndjson.zst")
    assert run(reasoning, reasoning).exit_code == 0
    different = run(
        str(EXAMPLES / "text-answer.ndjson.zst"), str(EXAMPLES / "failed-stream.ndjson.zst")
    )
    assert different.exit_code == 2
    assert different.output.splitlines()[0] == "different"


def test_cli_changed_exits_1_and_json_says_why(sse_server: SSEServer, tmp_path: Path) -> None:
    record(sse_server, tmp_path / "a.ndjson.zst", sse_chunks(GPT5_CALL))
    record(sse_server, tmp_path / "b.ndjson.zst", sse_chunks(AZURE_CALL))
    result = run(str(tmp_path / "a.ndjson.zst"), str(tmp_path / "b.ndjson.zst"), "--json")
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["verdict"] == "changed"
    names = [s["name"] for s in doc["interactions"][0]["sections"]]
    assert names[:6] == [
        "request",
        "outcome",
        "event sequence",
        "tool calls",
        "final text",
        "usage",
    ]
    assert names[-1] == "timing"


def test_cli_picks_interactions_with_a_hash() -> None:
    three = str(FIXTURES / "streamtape-v2" / "three-interactions.ndjson.zst")
    same = run(f"{three}#2", f"{three}#2")
    assert same.exit_code == 0
    assert f"{three}#2 vs {three}#2" in same.output
    missing = run(f"{three}#9", three)
    assert missing.exit_code == 3
    assert "has no interaction 9" in missing.output


def test_cli_html_puts_both_reports_side_by_side(tmp_path: Path) -> None:
    out = tmp_path / "diff.html"
    a, b = str(EXAMPLES / "text-answer.ndjson.zst"), str(EXAMPLES / "failed-stream.ndjson.zst")
    assert run(a, b, "--html", str(out)).exit_code == 2
    html = out.read_text()
    assert 'data-verdict="different"' in html
    assert html.count('<section class="interaction"') == 2
    try:
        browser = Browser()
    except BrowserMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    with browser:
        page = browser.open(out, 1280)
        assert page.errors == []
        assert page.requests == [page.url]
        events = len(Cassette.load(a)[0].events()) + len(Cassette.load(b)[0].events())
        assert page.evaluate("document.querySelectorAll('svg .ev').length") == events
        tops = page.evaluate("[...document.querySelectorAll('.side')].map(s => s.offsetTop)")
        assert tops[0] == tops[1]  # side by side at 1280 px
        ends = page.evaluate(
            "[...document.querySelectorAll('.side .axis')].map(a => a.lastChild.textContent)"
        )
        assert ends == ["300 ms", "300 ms"]  # one time scale for both sides


def test_request_differences_and_hosts(tmp_path: Path) -> None:
    from test_report import text_stream, write_cassette

    chunks = text_stream("hello")
    offsets = [float(i + 1) for i in range(len(chunks))]
    base = {"model": "m", "input": "hi", "metadata": {"run": "1"}}
    a = write_cassette(tmp_path / "a.ndjson.zst", chunks, offsets, base)
    b = write_cassette(tmp_path / "b.ndjson.zst", chunks, offsets, base | {"metadata": {"run": 2}})
    c = write_cassette(tmp_path / "c.ndjson.zst", chunks, offsets, base | {"input": "hey"})
    same, volatile, other = (Cassette.load(p)[0] for p in (a, b, c))
    assert diff_interactions(same, volatile).sections[0].verdict == "equivalent"
    request = diff_interactions(same, other).sections[0]
    assert request.verdict == "changed"
    assert request.lines == ['~ input: "hi" -> "hey"']


def test_cli_refuses_a_malformed_interaction_number() -> None:
    result = run(str(EXAMPLES / "reasoning.ndjson.zst#x"), str(EXAMPLES / "reasoning.ndjson.zst"))
    assert result.exit_code == 2
    assert "expected PATH or PATH#N" in result.output


def test_an_error_response_against_a_stream_is_different(tmp_path: Path) -> None:
    from test_report import error_response_cassette

    a = Cassette.load(EXAMPLES / "openrouter-done.ndjson.zst")
    b = Cassette.load(error_response_cassette(tmp_path / "e.ndjson.zst"))
    result = diff_interactions(a[0], b[0])
    sections = {s.name: s for s in result.sections}
    assert result.verdict == "different"
    assert sections["outcome"].lines[1] == "+ HTTP 429, stream complete, no events"
    assert "  TTFT: 451.1 ms -> -" in sections["timing"].lines
    assert any("cost" in line for line in sections["usage"].lines)


def test_word_diff_reads_neighbouring_changes_as_one() -> None:
    _, text = word_diff("I need to call the tool now", "I want to use a tool later")
    assert text == "I [-need-]{+want+} to [-call the-]{+use a+} tool [-now-]{+later+}"


def test_align_gives_opcodes_that_rebuild_the_second_sequence() -> None:
    pairs = [("abcab", "bcaab"), ("", "xyz"), ("xyz", ""), ("same", "same"), ("abxcd", "abycd")]
    for a, b in pairs:
        codes, ratio = align(list(a), list(b))
        rebuilt = []
        for op, i1, i2, j1, j2 in codes:
            if op == "equal":
                assert a[i1:i2] == b[j1:j2]
            rebuilt += list(b[j1:j2])
        assert "".join(rebuilt) == b
        assert 0.0 <= ratio <= 1.0
    assert align(list("abxcd"), list("abycd"))[1] == pytest.approx(0.8)


def test_align_stays_linear_on_long_unlike_texts() -> None:
    """Two 20,000-word texts with nothing in common at their ends: difflib alone takes minutes
    (its time grows with the square); the middle is reported as replaced instead."""
    a = [f"a{i % 500}" for i in range(20_000)]
    b = [f"a{(i * 7) % 500}" for i in range(20_000)]
    b[0] = a[0]
    codes, ratio = align(a, b)
    assert codes == [("equal", 0, 1, 0, 1), ("replace", 1, 20_000, 1, 20_000)]
    assert ratio == pytest.approx(1 / 20_000)
