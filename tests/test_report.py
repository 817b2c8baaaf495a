"""`streamtape report`: a self-contained, escaped HTML page per cassette, checked as text and
rendered in headless Chromium (tests/browser.py) at a desktop and a phone width."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from browser import Browser, BrowserMissingError
from click.testing import CliRunner
from sse_server import FIXTURES, sse_chunks

from streamtape.cassette import Cassette, CassetteWriter, Interaction
from streamtape.cli import cli
from streamtape.render import summarize
from streamtape.report import LANES, lane_of, render_report, write_report

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "cassettes"
WIDTHS = (1280, 390)
HOSTILE = '<script>alert("x")</script></pre><img src=x onerror=alert(1)>&amp;'


def write_cassette(
    path: Path,
    chunks: Sequence[bytes],
    offsets_ms: Sequence[float],
    body: Mapping[str, Any] | None = None,
) -> Path:
    """One interaction with the given chunks arriving at the given offsets (ms)."""
    request = json.dumps(body or {"model": "gpt-test", "input": "hi", "stream": True}).encode()
    with CassetteWriter(path) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], request, start_ns=0)
        rec.response(200, [("Content-Type", "text/event-stream")], reason="OK", offset_ns=100_000)
        for chunk, at in zip(chunks, offsets_ms, strict=True):
            rec.chunk(chunk, offset_ns=int(at * 1e6))
        rec.end("complete", offset_ns=int((offsets_ms[-1] + 1) * 1e6))
    return path


def text_stream(text: str) -> list[bytes]:
    events = [
        {"type": "response.created", "sequence_number": 0, "response": {"id": "r", "status": "x"}},
        {"type": "response.output_item.added", "sequence_number": 1, "output_index": 0,
         "item": {"type": "message", "id": "m", "role": "assistant", "content": []}},
        {"type": "response.content_part.added", "sequence_number": 2, "output_index": 0,
         "item_id": "m", "content_index": 0, "part": {"type": "output_text", "text": ""}},
        {"type": "response.output_text.delta", "sequence_number": 3, "output_index": 0,
         "item_id": "m", "content_index": 0, "delta": text},
        {"type": "response.completed", "sequence_number": 4,
         "response": {"id": "r", "status": "completed", "output": [
             {"type": "message", "id": "m", "role": "assistant", "status": "completed",
              "content": [{"type": "output_text", "text": text, "annotations": []}]}]}},
    ]  # fmt: skip
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events]


@pytest.fixture(scope="module")
def big_cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """xAI's 1,757-event x_search stream, 3 ms a chunk with a 500 ms stall in the middle."""
    chunks = sse_chunks(FIXTURES / "vercel-ai/xai/xai-x-search-tool.chunks.txt")
    offsets = [300 + 3 * i + (500 if i > len(chunks) // 2 else 0) for i in range(len(chunks))]
    return write_cassette(tmp_path_factory.mktemp("big") / "big.ndjson.zst", chunks, offsets)


@pytest.fixture(scope="module")
def hostile_cassette(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "hostile.ndjson.zst"
    body = {
        "model": "m<b>x</b>",
        "input": HOSTILE,
        "tools": [{"type": "function", "name": HOSTILE}],
    }
    chunks = text_stream(HOSTILE)
    return write_cassette(path, chunks, [10.0 * (i + 1) for i in range(len(chunks))], body)


def report_of(path: Path, out: Path) -> tuple[str, Interaction]:
    write_report([path], out)
    return out.read_text(), Cassette.load(path).interactions[0]


# -- the page as text ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.ndjson.zst")))
def test_a_report_fetches_nothing_and_runs_no_script(name: str, tmp_path: Path) -> None:
    html, _ = report_of(EXAMPLES / name, tmp_path / "r.html")
    assert "<script" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.I)
    assert "@import" not in html
    assert "url(" not in html
    assert "Content-Security-Policy\" content=\"default-src 'none'" in html


def test_recorded_text_is_escaped_everywhere(hostile_cassette: Path, tmp_path: Path) -> None:
    html, _ = report_of(hostile_cassette, tmp_path / "r.html")
    assert "<script" not in html
    assert "<img" not in html
    assert "<b>x</b>" not in html
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;/pre&gt;&lt;img src=x"
    assert escaped in html  # the text is shown, as text
    assert "&amp;amp;" in html  # an entity in the stream stays literal


def test_every_event_gets_one_mark_in_one_lane(big_cassette: Path) -> None:
    inter = Cassette.load(big_cassette).interactions[0]
    events = inter.events(strict=False)
    assert len(events) == 1757
    html = render_report([("big", [inter])])
    marks = re.findall(r'<line class="ev (\w+)"', html)
    assert len(marks) == len(events)
    assert set(marks) <= set(LANES)
    assert marks.count("text") == sum(e.type == "response.output_text.delta" for e in events)


def test_lanes_tell_text_reasoning_tools_keepalives_and_errors_apart() -> None:
    from streamtape.decode import decode_event

    def lane(payload: dict[str, object]) -> str:
        return lane_of(decode_event(json.dumps(payload).encode()))

    assert lane({"type": "response.output_text.delta", "item_id": "m", "output_index": 0,
                 "content_index": 0, "delta": "a"}) == "text"  # fmt: skip
    assert lane({"type": "response.reasoning_summary_text.delta", "item_id": "r",
                 "output_index": 0, "summary_index": 0, "delta": "a"}) == "reasoning"  # fmt: skip
    assert lane({"type": "response.function_call_arguments.delta", "item_id": "f",
                 "output_index": 0, "delta": "{"}) == "tool"  # fmt: skip
    assert lane({"type": "keepalive"}) == "keepalive"
    assert lane({"type": "error", "code": "x", "message": "boom"}) == "error"
    assert lane({"type": "response.created", "response": {"id": "r"}}) == "lifecycle"


def test_a_failed_stream_shows_its_error_as_a_problem(tmp_path: Path) -> None:
    html, _ = report_of(EXAMPLES / "failed-stream.ndjson.zst", tmp_path / "r.html")
    assert 'data-outcome="failed"' in html
    assert "insufficient_quota" in html
    assert re.search(r'<line class="ev error"', html)


def test_report_of_several_cassettes_names_each(tmp_path: Path) -> None:
    paths = [EXAMPLES / "text-answer.ndjson.zst", EXAMPLES / "function-call.ndjson.zst"]
    write_report(paths, tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert html.count('<section class="interaction"') == 2
    assert "Olá!" in html
    assert "get_capital" in html


def test_cli_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(
        cli, ["report", str(EXAMPLES / "reasoning.ndjson.zst"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    assert "Florence" in out.read_text()


def test_cli_refuses_a_file_that_is_no_cassette(tmp_path: Path) -> None:
    bad = tmp_path / "x.ndjson.zst"
    bad.write_bytes(b"not a cassette")
    result = CliRunner().invoke(cli, ["report", str(bad), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 1
    assert str(bad) in result.output


def test_open_hands_the_file_to_the_browser(tmp_path: Path) -> None:
    """``--open`` goes through the webbrowser module, which runs $BROWSER with the URL."""
    seen = tmp_path / "seen.txt"
    opener = tmp_path / "opener.py"
    opener.write_text(f"import sys, pathlib\npathlib.Path({str(seen)!r}).write_text(sys.argv[1])\n")
    out = tmp_path / "r.html"
    env = {**os.environ, "BROWSER": f"{sys.executable} {opener} %s"}
    args = [sys.executable, "-m", "streamtape", "report", str(EXAMPLES / "text-answer.ndjson.zst")]
    subprocess.run([*args, "-o", str(out), "--open"], env=env, check=True, timeout=60)
    assert seen.read_text() == out.resolve().as_uri()


# -- the page in a real browser ------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    try:
        instance = Browser()
    except BrowserMissingError as exc:
        pytest.fail(str(exc), pytrace=False)
    with instance:
        yield instance


def _cases() -> list[str]:
    return ["text-answer", "reasoning", "failed-stream", "big", "hostile", "troubled"]


@pytest.mark.parametrize("case", _cases())
def test_report_renders_in_chromium(
    case: str,
    browser: Browser,
    big_cassette: Path,
    hostile_cassette: Path,
    tmp_path: Path,
) -> None:
    source = {"big": big_cassette, "hostile": hostile_cassette}.get(
        case, EXAMPLES / f"{case}.ndjson.zst"
    )
    if case == "troubled":
        source = troubled_cassette(tmp_path / "troubled.ndjson.zst")
    out = tmp_path / "report.html"
    _, inter = report_of(source, out)
    timing = inter.timing()
    events = inter.events(strict=False)
    for width in WIDTHS:
        page = browser.open(out, width)
        assert page.errors == [], page.errors
        assert page.requests == [page.url], "the page asked for something besides itself"
        assert page.evaluate("document.querySelectorAll('svg .ev').length") == len(events)
        assert page.evaluate("document.querySelectorAll('svg .chunk').length") == len(inter.chunks)
        metrics = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('.metric')]"
            ".map(m => [m.dataset.metric, m.dataset.seconds]))"
        )
        shown = {k: float(v) if v else None for k, v in metrics.items()}
        assert shown["ttft"] == timing.first_token
        assert shown["ttfb"] == timing.first_chunk
        assert shown["first-event"] == timing.first_event
        assert shown["duration"] == timing.duration
        assert shown["largest-gap"] == timing.largest_gap
        first_text = summarize(inter).first_text_ms
        assert shown["first-text"] == (None if first_text is None else first_text / 1000)
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        # nothing wider than the window: readable without sideways scrolling
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        shot = page.screenshot(tmp_path / f"{case}-{width}.png")
        png = shot.read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") == width
    if case == "hostile":
        text = page.evaluate("document.querySelector('.output-text').textContent")
        assert text == inter.result().output_text
        assert text.startswith("<script>")


# -- what goes wrong is shown --------------------------------------------------------------------


def troubled_cassette(path: Path) -> Path:
    """A stream with an unreadable frame, an unknown event type, an in-band error, and a
    connection reset before any terminal event; the input given as content parts."""
    body = {
        "model": "gpt-test",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "Hi there"}]}],
    }
    chunks = [
        b'data: {"type":"response.created","sequence_number":0,"response":{"id":"r"}}\n\n',
        b"data: {not json\n\n",
        b'data: {"type":"response.weird","sequence_number":2}\n\n',
        b'data: {"type":"error","sequence_number":3,"code":"overloaded","message":"busy"}\n\n',
    ]
    with CassetteWriter(path) as writer:
        rec = writer.begin(
            "POST",
            "https://api.example.com/v1/responses",
            [],
            json.dumps(body).encode(),
            start_ns=0,
        )
        rec.response(200, [("Content-Type", "text/event-stream")], offset_ns=1_000_000)
        for i, chunk in enumerate(chunks):
            rec.chunk(chunk, offset_ns=(i + 2) * 1_000_000)
        rec.end("error", error=ConnectionResetError("peer reset"), offset_ns=9_000_000)
    return path


def test_problems_unreadable_frames_and_unknown_events_are_shown(tmp_path: Path) -> None:
    html, inter = report_of(troubled_cassette(tmp_path / "t.ndjson.zst"), tmp_path / "r.html")
    problems = html[html.index('<div class="problems">') : html.index("</ul></div>")]
    assert "stream ended with ConnectionResetError: peer reset" in problems
    assert "overloaded: busy" in problems
    assert "malformed: " in problems
    assert "(event #1, " in problems  # where, in events and ms
    assert "Hi there" in html  # the input excerpt, from content parts
    assert "response.weird" in html
    assert re.search(r"<td>\[malformed\]</td>|<code>\[malformed\]</code>", html)
    marks = re.findall(r'<line class="ev (\w+)"', html)
    assert marks.count("error") == 2  # the error event and the unreadable frame
    assert len(marks) == len(inter.events(strict=False))


def error_response_cassette(path: Path) -> Path:
    """A 429 with a JSON body: no event stream at all."""
    with CassetteWriter(path) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}", start_ns=0)
        rec.response(429, [("Content-Type", "application/json")], offset_ns=1_000_000)
        rec.chunk(b'{"error": {"message": "<slow down>"}}', offset_ns=2_000_000)
        rec.end("complete", offset_ns=3_000_000)
    return path


def test_a_json_error_response_shows_its_body_and_status(tmp_path: Path) -> None:
    path = error_response_cassette(tmp_path / "e.ndjson.zst")
    html, _ = report_of(path, tmp_path / "r.html")
    assert "HTTP status 429" in html
    assert 'data-outcome="failed"' in html
    assert "Body (not an event stream)" in html
    assert "&lt;slow down&gt;" in html


def test_a_truncated_cassette_shows_what_it_holds_and_why(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson.zst"
    data = (EXAMPLES / "reasoning.ndjson.zst").read_bytes()
    path.write_bytes(data[: len(data) - 7])
    write_report([path], tmp_path / "r.html")
    html = (tmp_path / "r.html").read_text()
    assert '<div class="problems"><h4>Cassette</h4>' in html


def test_a_report_prints_whole(browser: Browser, tmp_path: Path) -> None:
    """In print, long text and the event table are not cut to a scrolling box."""
    out = tmp_path / "r.html"
    write_report([EXAMPLES / "reasoning.ndjson.zst"], out)
    page = browser.open(out, 1280)
    style = "getComputedStyle(document.querySelector('.reasoning-text')).maxHeight"
    assert page.evaluate(style) != "none"
    page.emulate_print()
    assert page.evaluate(style) == "none"
    assert page.evaluate("getComputedStyle(document.querySelector('.scroll')).overflow") == (
        "visible"
    )
    pdf = page.pdf()
    assert pdf.startswith(b"%PDF-")
    assert (
        pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page\r") + pdf.count(b"/Type/Page>") >= 1
    )
