"""The benchmark harness: inputs, chunkings, anchors running the real SDK code, the report.

No timing is asserted here (speed lives in benchmarks/); only that every decoder does the same work.
"""

from __future__ import annotations

import io
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import msgspec
import pytest

from streamtape import bench
from streamtape.cassette import CassetteWriter
from streamtape.decode import EventDecoder
from streamtape.events import Done, ErrorEvent, ResponseImageGenerationCallPartialImageEvent
from streamtape.sse import SPEEDUPS

FIXTURES = Path(__file__).parent / "fixtures"
OPENROUTER_SSE = FIXTURES / "pydantic-ai" / "test_openai_responses_raw_cot_stream_openrouter.sse"
OPENAI_SSE = FIXTURES / "openllmetry" / "test_responses_streaming.0.sse"
FIXTURE_FILES = sorted(p for p in FIXTURES.rglob("*") if p.name.endswith((".sse", ".chunks.txt")))


def decode_all(data: bytes) -> list[Any]:
    decoder = EventDecoder()
    return [*decoder.feed(data), *decoder.close()]


def small_inputs() -> list[bench.BenchInput]:
    # An OpenAI-style generated stream, and OpenRouter's framing: a comment first, `data:` lines
    # only, `[DONE]` at the end.
    return [
        bench.BenchInput("generated", [bench.synthetic_stream(events=40, seed=1)]),
        bench.BenchInput("openrouter", [OPENROUTER_SSE.read_bytes()]),
    ]


def test_run_bench_has_a_row_per_installed_decoder_with_equal_event_counts() -> None:
    report = bench.run_bench(small_inputs(), repeat=1, shapes=["64k", "event", "random"])
    data = json.loads(bench.render_json(report))
    installed = {name for name, anchor in bench.ANCHORS.items() if not anchor.missing()}
    assert {s["decoder"] for s in data["skipped"]} == set(bench.ANCHORS) - installed
    assert data["repeat"] == 1
    assert data["fast_path"] == ("C" if SPEEDUPS else "Python")
    dists = {"streamtape", "msgspec", "httpx", "openai", "openrouter", "httpx-sse"}
    assert set(data["versions"]) == {bench.ANCHORS[n].dist for n in installed} - {""}
    assert set(data["versions"]) <= dists
    cases = {(row["input"], row["shape"]) for row in data["rows"]}
    assert cases == {
        (i, s) for i in ("generated", "openrouter") for s in ("64k", "event", "random")
    }
    expected = {"generated": 40, "openrouter": 40}  # the fixture's 40 events; `[DONE]` is none
    for case in cases:
        rows = [row for row in data["rows"] if (row["input"], row["shape"]) == case]
        assert [row["decoder"] for row in rows] == [n for n in bench.ANCHORS if n in installed]
        for row in rows:
            assert row["error"] is None, row
            assert row["events"] == expected[case[0]]
            assert len(row["runs_ns"]) == 1
            for key in ("median_ns", "mb_per_s", "events_per_s", "ns_per_event", "speedup"):
                assert row[key] > 0, (key, row)
        assert rows[0]["decoder"] == "streamtape"
        assert rows[0]["speedup"] == 1.0
    assert report.failures == []


def test_render_table_lists_every_row_and_the_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "httpx_sse", None)  # as if httpx-sse were not installed
    report = bench.run_bench(
        small_inputs()[:1], repeat=2, warmup=0, against=["httpx-sse", "frames"]
    )
    assert [s.decoder for s in report.skipped] == ["httpx-sse"]
    assert report.skipped[0].install == "pip install httpx-sse"
    assert [row.decoder for row in report.rows] == ["streamtape", "frames"]
    assert all(len(row.runs_ns) == 2 for row in report.rows)
    table = bench.render_table(report)
    lines = table.splitlines()
    assert lines[0].split() == [
        "input", "shape", "decoder", "MB/s", "events/s", "ns/event", "median", "spread",
        "streamtape", "x",
    ]  # fmt: skip
    assert lines[2].split()[:3] == ["generated", "64k", "streamtape"]
    assert lines[3].split()[0] == "frames"
    assert lines[3].split()[-1].endswith("x")
    assert "skipped httpx-sse: httpx_sse not installed (pip install httpx-sse)" in table
    assert f"streamtape's SSE fast path ran in {'C' if SPEEDUPS else 'Python'}." in lines


def test_a_decoder_that_does_other_work_gets_a_failed_row() -> None:
    # the SDKs stop at the first `[DONE]`; streamtape decodes on
    stream = bench.synthetic_stream(events=40) + b"data: [DONE]\n\n"
    stream += bench.synthetic_stream(events=40)
    report = bench.run_bench([bench.BenchInput("odd", [stream])], repeat=1, against=["openai"])
    streamtape, openai = report.rows
    assert streamtape.error is None
    assert openai.error is not None
    assert "decoded 40 events, streamtape" in openai.error
    assert openai.speedup is None
    assert report.failures == [openai]
    assert "FAILED openai on odd 64k" in bench.render_table(report)


def test_an_sdk_raising_at_a_recorded_error_event_is_not_a_failure() -> None:
    # the openai SDK raises its APIError at an `error` event by design: the example cassette
    # records a stream that failed (quota), so that is what the SDK does on it
    path = Path(__file__).parent.parent / "cassettes" / "failed-stream.ndjson.zst"
    report = bench.run_bench([bench.load_input(path)], repeat=1, against=["openai", "httpx-sse"])
    streamtape, openai, httpx_sse = report.rows
    assert (streamtape.error, httpx_sse.error, httpx_sse.raised) == (None, None, None)
    assert openai.error is None
    assert openai.raised is not None
    assert openai.raised.startswith("APIError: You exceeded your current quota")
    assert openai.speedup is None
    assert report.failures == []
    table = bench.render_table(report)
    row = next(line for line in table.splitlines() if line.split()[:1] == ["openai"])
    assert row.split(None, 1)[1].strip() == "raises on this stream (as recorded)"
    assert "FAILED" not in table
    assert (
        "openai on failed-stream.ndjson.zst recorded raises on this stream (as recorded): "
        "APIError: You exceeded your current quota" in table
    )
    assert "| openai | raises on this stream (as recorded) |" in bench.render_markdown(report)
    assert json.loads(bench.render_json(report))["rows"][1]["raised"] == openai.raised


def test_a_raise_on_a_stream_without_an_error_event_is_still_a_failure() -> None:
    # an event of another type with an `error` field: the openai SDK raises at it, but the
    # stream holds no `error` event, so nothing says the raise is what the recording means
    stream = bench.synthetic_stream(events=5)
    stream += b'data: {"type":"response.other","sequence_number":9,"error":{"message":"x"}}\n\n'
    report = bench.run_bench([bench.BenchInput("bad", [stream])], repeat=1, against=["openai"])
    assert [row.decoder for row in report.failures] == ["openai"]
    assert report.rows[1].raised is None
    assert "APIError" in str(report.rows[1].error)


def test_unknown_names_are_refused() -> None:
    inputs = small_inputs()[:1]
    with pytest.raises(ValueError, match=r"unknown decoder\(s\) nope; known: streamtape"):
        bench.run_bench(inputs, repeat=1, against=["nope"])
    with pytest.raises(ValueError, match="unknown chunk shape 'tiny'"):
        bench.run_bench(inputs, repeat=1, shapes=["tiny"])  # type: ignore[list-item]


def test_recorded_shape_uses_the_recorded_chunks_and_is_left_out_without_them() -> None:
    stream = bench.synthetic_stream(events=20)
    recorded = [stream[i : i + 7] for i in range(0, len(stream), 7)]
    taped = bench.BenchInput("taped", [stream], recorded=[recorded], shapes=("recorded",))
    plain = bench.BenchInput("plain", [stream], shapes=("recorded",))
    report = bench.run_bench([taped, plain], repeat=1, against=["frames"])
    assert {(row.input, row.shape, row.events) for row in report.rows} == {
        ("taped", "recorded", 20)
    }


@pytest.mark.parametrize("shape", ["64k", "event", "random"])
@pytest.mark.parametrize("path", [OPENAI_SSE, OPENROUTER_SSE], ids=["openai", "openrouter"])
def test_chunk_shapes_keep_every_byte(path: Path, shape: bench.Shape) -> None:
    data = path.read_bytes()
    chunks = bench.chunk(data, shape, seed=3)
    assert b"".join(chunks) == data
    assert all(chunks)
    if shape == "64k":
        assert [len(c) for c in chunks[:-1]] == [65536] * (len(chunks) - 1)
    elif shape == "event":
        assert all(c.endswith(b"\n\n") and c.count(b"\n\n") == 1 for c in chunks)
        assert len(chunks) == data.count(b"\n\n")
    else:
        assert all(1 <= len(c) <= 200 for c in chunks)
        assert chunks == bench.chunk(data, shape, seed=3)
        assert chunks != bench.chunk(data, shape, seed=4)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
@pytest.mark.parametrize("path", [OPENAI_SSE, OPENROUTER_SSE], ids=["openai", "openrouter"])
def test_frames_ceiling_counts_events_across_any_split(path: Path, size: int) -> None:
    data = path.read_bytes().rstrip(b"\n")  # the last frame has no blank line after it
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    expected = 40 if path == OPENROUTER_SSE else 86  # `[DONE]` and the comment are no events
    assert bench.ANCHORS["frames"].setup()(chunks) == expected
    assert bench.ANCHORS["streamtape"].setup()(chunks) == expected


@pytest.mark.parametrize("size", [1, 2, 3, 7, 4096])
@pytest.mark.parametrize("path", [OPENAI_SSE, OPENROUTER_SSE], ids=["openai", "openrouter"])
def test_regex_shortcut_counts_the_events_of_plain_streams_across_any_split(
    path: Path, size: int
) -> None:
    data = path.read_bytes()
    chunks = [data[i : i + size] for i in range(0, len(data), size)]
    expected = 40 if path == OPENROUTER_SSE else 86
    assert bench.ANCHORS["regex-shortcut"].setup()(chunks) == expected


def test_event_shape_cuts_at_every_kind_of_line_end() -> None:
    data = b"data: 1\r\n\r\ndata: 2\r\rdata: 3\n\ndata: 4"
    assert bench.chunk(data, "event") == [b"data: 1\r\n\r\n", b"data: 2\r\r", b"data: 3\n\n",
                                          b"data: 4"]  # fmt: skip
    with pytest.raises(ValueError, match="unknown chunk shape"):
        bench.chunk(data, "recorded")


def test_synthetic_stream_is_a_valid_deterministic_text_response() -> None:
    data = bench.synthetic_stream(events=300, seed=7)
    assert data == bench.synthetic_stream(events=300, seed=7)
    assert data != bench.synthetic_stream(events=300, seed=8)
    events = decode_all(data)
    assert len(events) == 300
    assert [e.sequence_number for e in events] == list(range(300))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert len(deltas) == 292
    done = next(e for e in events if e.type == "response.output_text.done")
    assert done.text == "".join(deltas)
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.usage.output_tokens == 292


@pytest.mark.parametrize("size", [50_000, 400_000])
def test_synthetic_stream_by_size(size: int) -> None:
    data = bench.synthetic_stream(size=size)
    assert 0.97 * size <= len(data) <= 1.03 * size
    with pytest.raises(ValueError, match="exactly one"):
        bench.synthetic_stream()


def test_huge_line_stream_is_one_event_on_one_line() -> None:
    data = bench.huge_line_stream(1_000_000)
    assert data.count(b"\n") == 3  # `event:` line, `data:` line, blank line
    (event,) = decode_all(data)
    assert isinstance(event, ResponseImageGenerationCallPartialImageEvent)
    assert len(event.partial_image_b64) == 1_000_000


def fixture_event_count(path: Path) -> int:
    """Events of one fixture file, counted without the code under test: no `[DONE]`, no `error`."""
    if path.name.endswith(".chunks.txt"):
        payloads = [line for line in path.read_bytes().splitlines() if line.strip()]
    else:
        payloads = [
            line[6:] for line in path.read_bytes().splitlines() if line.startswith(b"data: ")
        ]
    return sum(1 for p in payloads if p != b"[DONE]" and json.loads(p)["type"] != "error")


def test_concat_fixtures_keeps_every_event_but_done_and_error() -> None:
    data = bench.concat_fixtures(FIXTURE_FILES)
    events = decode_all(data)
    assert len(events) == sum(map(fixture_event_count, FIXTURE_FILES))
    assert len(events) == 8347  # fixtures/README.md: 8,348 events, one of them an `error`
    assert not any(isinstance(e, Done | ErrorEvent) for e in events)
    assert data.count(b": OPENROUTER PROCESSING") == 1  # comments stay


def test_load_input_frames_json_lines(tmp_path: Path) -> None:
    source = FIXTURES / "vercel-ai" / "azure" / "azure-text.1.chunks.txt"
    framed = bench.load_input(source)
    assert framed.name == "azure-text.1.chunks.txt"
    events = decode_all(framed.streams[0])
    assert [msgspec.json.decode(msgspec.json.encode(e))["sequence_number"] for e in events] == [
        json.loads(line)["sequence_number"] for line in source.read_bytes().splitlines()
    ]
    raw = bench.load_input(OPENAI_SSE)
    assert raw.streams == [OPENAI_SSE.read_bytes()]
    assert raw.size == OPENAI_SSE.stat().st_size


def write_cassette(path: Path, streams: list[list[bytes]]) -> None:
    """A cassette as the recorder writes it: one JSON reply, then each stream with its chunks."""
    with CassetteWriter(path) as writer:
        json_reply = writer.begin("GET", "https://api.example.com/v1/models")
        json_reply.response(200, [("content-type", "application/json")])
        json_reply.chunk(b'{"data": []}')
        json_reply.end()
        for chunks in streams:
            interaction = writer.begin("POST", "https://api.example.com/v1/responses", body=b"{}")
            interaction.response(200, [("content-type", "text/event-stream; charset=utf-8")])
            for data in chunks:
                interaction.chunk(data)
            interaction.end()


def test_cassette_input_keeps_each_stream_and_its_recorded_chunks(tmp_path: Path) -> None:
    first = bench.chunk(bench.synthetic_stream(events=30, seed=1), "random", seed=1)
    second = bench.chunk(OPENAI_SSE.read_bytes(), "event")
    path = tmp_path / "two.ndjson.zst"
    write_cassette(path, [first, second])
    taped = bench.load_input(path)
    assert taped.name == "two.ndjson.zst"
    assert taped.recorded == [first, second]
    assert taped.streams == [b"".join(first), b"".join(second)]
    assert taped.shapes == ("recorded",)
    report = bench.run_bench([taped], repeat=1, against=["httpx-sse"])
    assert [(row.shape, row.events, row.error) for row in report.rows] == [
        ("recorded", 30 + 86, None),
        ("recorded", 30 + 86, None),
    ]


def test_cassette_without_a_stream_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "none.ndjson.zst"
    write_cassette(path, [])
    with pytest.raises(ValueError, match="no interaction with a text/event-stream body"):
        bench.load_input(path)


def test_default_inputs_are_the_cassettes_then_a_small_generated_stream(tmp_path: Path) -> None:
    (generated,) = bench.default_inputs()
    assert generated.name == "generated"
    assert generated.size < 300_000
    path = tmp_path / "one.ndjson.zst"
    write_cassette(path, [[OPENAI_SSE.read_bytes()]])
    assert [i.name for i in bench.default_inputs([path])] == ["one.ndjson.zst", "generated"]


def test_stderr_progress_keeps_one_line_and_clears_it() -> None:
    out = io.StringIO()
    progress = bench.stderr_progress(out)
    progress(0, 2, "generated 64k streamtape")
    progress(1, 2, "generated 64k openai")
    progress(2, 2, "done")
    text = out.getvalue()
    assert "\n" not in text
    assert "bench [1/2] generated 64k streamtape" in text
    assert "bench [2/2] generated 64k openai" in text
    assert text.endswith("\r" + " " * len("bench [1/2] generated 64k streamtape") + "\r")


# The anchors must run the SDKs' own code: what they yield equals what the real clients return
# for the same body served by a real HTTP server.


class _SSEHandler(BaseHTTPRequestHandler):
    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def sse_server() -> Iterator[tuple[str, type[_SSEHandler]]]:
    handler = type("Handler", (_SSEHandler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize("path", [OPENAI_SSE, OPENROUTER_SSE], ids=["openai", "openrouter"])
def test_openai_anchor_yields_what_the_sdk_client_returns(
    sse_server: tuple[str, type[_SSEHandler]], path: Path
) -> None:
    import openai

    url, handler = sse_server
    handler.body = path.read_bytes()
    client = openai.OpenAI(api_key="sk-test", base_url=f"{url}/v1", max_retries=0)
    with client.responses.create(model="m", input="hi", stream=True) as stream:
        real = [(type(e), e.model_dump()) for e in stream]
    ours = [
        (type(e), e.model_dump())
        for e in bench._openai_stream(client, bench.chunk(handler.body, "event"))
    ]
    assert len(real) == 40 if path == OPENROUTER_SSE else len(real) == 86
    assert ours == real


@pytest.mark.parametrize("path", [OPENAI_SSE, OPENROUTER_SSE], ids=["openai", "openrouter"])
def test_openrouter_anchor_yields_what_the_sdk_client_returns(
    sse_server: tuple[str, type[_SSEHandler]], path: Path
) -> None:
    from openrouter import OpenRouter

    url, handler = sse_server
    handler.body = path.read_bytes()
    with OpenRouter(api_key="test", server_url=f"{url}/api/v1") as sdk:
        real = [(type(e), e.model_dump()) for e in sdk.responses.send(input="hi", stream=True)]
        ours = [
            (type(e), e.model_dump())
            for e in bench._openrouter_stream(sdk, bench.chunk(handler.body, "random"))
        ]
    assert len(real) == 40 if path == OPENROUTER_SSE else len(real) == 86
    assert ours == real


# The benchmark scripts' own helpers (the scripts live outside the package, in benchmarks/).


@pytest.fixture
def scripts(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.syspath_prepend(str(Path(__file__).parent.parent / "benchmarks"))
    import bench_scaling

    return bench_scaling


def test_scaling_slope_tells_linear_from_constant_and_quadratic(scripts: Any) -> None:
    def series(f: Any) -> Any:
        points = [scripts.Point(n, n, f(n) * 1e-9, int(f(n))) for n in (10**3, 10**4, 10**5)]
        return scripts.Series("s", "events", points)

    assert series(lambda n: 7 * n).slope("seconds") == pytest.approx(1.0)
    assert series(lambda n: 5000).slope("peak") == pytest.approx(0.0)
    assert series(lambda n: n * n).slope("seconds") == pytest.approx(2.0)
    assert "NOT LINEAR" in scripts.verdict(series(lambda n: n * n))
    assert scripts.verdict(series(lambda n: 3 * n)).endswith(": linear")


def test_scaling_svg_is_one_polyline_per_series(scripts: Any) -> None:
    from xml.dom import minidom

    all_series = [
        scripts.Series(name, "events", [scripts.Point(10**k, 10**k, 10**k * 1e-6, 4096)
                                        for k in (2, 4, 6)])
        for name in ("a", "b & c")
    ]  # fmt: skip
    svg = minidom.parseString(scripts.svg_loglog(all_series, "seconds", "t", "time"))
    assert len(svg.getElementsByTagName("polyline")) == 2
    assert len(svg.getElementsByTagName("circle")) == 6
    texts = {
        t.firstChild.data
        for t in svg.getElementsByTagName("text")
        if isinstance(t.firstChild, minidom.Text)
    }
    assert {"a", "b & c", "slope 1 (linear)", "100 B", "1 MB"} <= texts


def test_write_section_replaces_only_its_own_section(scripts: Any, tmp_path: Path) -> None:
    from bench_decode import write_section

    doc = tmp_path / "benchmarks.md"
    write_section(doc, "one", "first")
    write_section(doc, "two", "second")
    write_section(doc, "one", "again")
    assert doc.read_text() == (
        "# Benchmarks\n\n<!-- one:begin -->\nagain\n<!-- one:end -->\n\n"
        "<!-- two:begin -->\nsecond\n<!-- two:end -->\n"
    )


def test_docs_show_no_output_paths(scripts: Any) -> None:
    from bench_decode import shown_args

    given = ["--repeat", "3", "--json", "out/x.json", "--write-docs", "--json=y.json", "--quick"]
    assert shown_args(given) == ["--repeat", "3", "--quick"]


def test_a_short_decode_is_repeated_within_each_timed_run() -> None:
    calls: list[int] = []

    def decode(chunks: list[bytes]) -> int:
        calls.append(len(chunks))
        return 3

    case = bench._Case(bench.ANCHORS["frames"], decode, [[b"x"]])
    assert case.run() == 3
    assert (case.number, len(calls)) == (1, 1)
    case.calibrate()  # a pass of microseconds: repeat it up to 20 ms, within the 10,000 cap
    assert case.number > 100
    calls.clear()
    case.runs.clear()
    assert case.run() == 3
    assert len(calls) == case.number
    assert len(case.runs) == 1  # one figure: the time of one pass
