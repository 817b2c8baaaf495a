"""The command line, through click's CliRunner and as real subprocesses."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sse_server import FIXTURES, Route, SSEServer, sse_chunks
from test_redact_planted import delta

from streamtape.cassette import Cassette, CassetteWriter, ClientStop
from streamtape.cli import cli
from streamtape.decode import EventDecoder
from streamtape.errors import CassetteError

EXAMPLES = Path(__file__).parent.parent / "cassettes"
EXAMPLE_TAPES = sorted(EXAMPLES.glob("*.ndjson.zst"))
TEXT_SSE = FIXTURES / "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.sse"
OPENROUTER_SSE = FIXTURES / "pydantic-ai/test_openai_responses_raw_cot_stream_openrouter.sse"
COMMANDS = ["record", "inspect", "replay", "cat", "verify", "convert", "scan", "bench"]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def decode_all(data: bytes) -> list[object]:
    decoder = EventDecoder(strict=False)
    return [*decoder.feed(data), *decoder.close()]


def write_tape(path: Path, chunks: list[bytes], *, redactor: bool = True) -> Path:
    kwargs = {} if redactor else {"redactor": None}
    with CassetteWriter(path, flush_interval=None, **kwargs) as writer:  # type: ignore[arg-type]
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b'{"model":"m"}')
        rec.response(200, [("content-type", "text/event-stream")], offset_ns=1_000_000)
        for n, chunk in enumerate(chunks):
            rec.chunk(chunk, offset_ns=(n + 2) * 1_000_000)
        rec.end("complete", offset_ns=(len(chunks) + 2) * 1_000_000)
    return path


def test_examples_exist_and_are_small() -> None:
    assert len(EXAMPLE_TAPES) >= 4
    assert all(p.stat().st_size < 50_000 for p in EXAMPLE_TAPES)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_has_an_example(command: str) -> None:
    code, out, _ = run(command, "--help")
    assert code == 0
    assert "Example" in out


# -- record ---------------------------------------------------------------------------------------


def test_record_posts_and_writes_the_stream(sse_server: SSEServer, tmp_path: Path) -> None:
    chunks = sse_chunks(TEXT_SSE)
    url = sse_server.add(Route("/v1/responses", chunks))
    out = tmp_path / "t.ndjson.zst"
    body = '{"model": "gpt-4o", "stream": true}'
    code, _, err = run(
        "record",
        url,
        "-o",
        str(out),
        "--data",
        body,
        "-H",
        "X-Trace: 7",
        "--auth-env",
        "TEST_KEY",
        env={"TEST_KEY": "sk-or-v1-0123456789abcdef0123456789"},
    )
    assert code == 0, err
    assert "events" in err
    assert "complete" in err
    received = sse_server.requests[0]
    assert received.method == "POST"
    assert received.body == body.encode()
    sent = dict((n.lower(), v) for n, v in received.headers)
    assert sent["authorization"] == "Bearer sk-or-v1-0123456789abcdef0123456789"
    assert sent["x-trace"] == "7"
    inter = Cassette.load(out)[0]
    assert inter.complete
    assert inter.body == TEXT_SSE.read_bytes()
    headers = dict((n.lower(), v) for n, v in inter.request.headers)
    assert "sk-or" not in headers["authorization"]
    assert headers["x-trace"] == "7"


def test_record_get_and_data_from_file(sse_server: SSEServer, tmp_path: Path) -> None:
    url = sse_server.add(Route("/s", sse_chunks(OPENROUTER_SSE)))
    code, _, _ = run("record", url, "-o", str(tmp_path / "a.ndjson.zst"), "-q")
    assert code == 0
    assert sse_server.requests[-1].method == "GET"
    (tmp_path / "req.json").write_text('{"a": 1}')
    code, _, _ = run(
        "record", url, "-o", str(tmp_path / "b.ndjson.zst"), "--data", f"@{tmp_path}/req.json"
    )
    assert code == 0
    assert sse_server.requests[-1].body == b'{"a": 1}'
    assert Cassette.load(tmp_path / "b.ndjson.zst")[0].request.body == b'{"a": 1}'


def test_record_http_error_exits_1(sse_server: SSEServer, tmp_path: Path) -> None:
    url = sse_server.add(Route("/bad", [b'{"error": "no"}'], status=429))
    code, _, _ = run("record", url, "-o", str(tmp_path / "e.ndjson.zst"))
    assert code == 1
    assert Cassette.load(tmp_path / "e.ndjson.zst")[0].response.status == 429  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "args",
    [["-H", "no colon"], ["--auth-env", "STREAMTAPE_SURELY_UNSET_VAR"], []],
)
def test_record_bad_usage_exits_2(tmp_path: Path, args: list[str]) -> None:
    extra = ["-o", str(tmp_path / "x.ndjson.zst")] if args else []
    code, _, _ = run("record", "http://127.0.0.1:9/x", *extra, *args)
    assert code == 2


def test_record_connection_error_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["record", "http://127.0.0.1:9/x", "-o", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.output


def test_record_against_a_refused_connection_writes_no_file(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on: bound, never listening
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/responses"
        out = tmp_path / "refused.ndjson.zst"
        code, _, err = run("record", url, "-o", str(out), "--data", "{}")
        assert code == 1
        assert err.startswith(f"Error: {url}: ")
        assert err.rstrip().endswith("; no cassette written")
        assert not out.exists()
        assert list(tmp_path.iterdir()) == []


def test_sigint_mid_stream_leaves_an_interrupted_cassette(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    gate = threading.Event()
    chunks = sse_chunks(TEXT_SSE)
    url = sse_server.add(Route("/slow", chunks, gates={4: gate}))
    out = tmp_path / "i.ndjson.zst"
    # A background job inherits SIGINT as ignored, and Python then leaves it ignored: give the
    # child Python's own handler back before the CLI starts.
    argv = ["streamtape", "record", url, "-o", str(out), "--data", "{}"]
    child = (
        "import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
        f"sys.argv = {argv!r}; runpy.run_module('streamtape', run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", child],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(sse_server.sent_on("/slow")) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        while time.monotonic() < deadline:  # until the client has recorded a chunk
            if out.exists() and any(i.chunks for i in Cassette.load(out, strict=False)):
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert b"interrupted" in err
    inter = Cassette.load(out)[0]
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert 1 <= len(inter.chunks) <= 4
    code, out_text, _ = run("verify", str(out))
    assert code == 0
    assert "interrupted" in out_text


# -- inspect, replay, cat -------------------------------------------------------------------------


def test_inspect_text_answer() -> None:
    code, out, _ = run("inspect", str(EXAMPLES / "text-answer.ndjson.zst"))
    assert code == 0
    assert "gpt-4o" in out
    assert "Olá!" in out
    assert "200" in out
    assert "response.output_text.delta 2" in out
    assert "20 in, 3 out, 23 total" in out


@pytest.mark.parametrize(
    ("client", "shown"),
    [
        (ClientStop(1, 7, 2_500_000), "client     stopped after chunk 1 of 3 at 2.5 ms"),
        (ClientStop(3, 21, 900_000_000), "client     took every chunk, finished at 900.0 ms"),
        (None, None),
    ],
)
def test_inspect_shows_where_the_recording_client_stopped(
    tmp_path: Path, client: ClientStop | None, shown: str | None
) -> None:
    path = tmp_path / "c.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
        rec.response(200, [("content-type", "text/event-stream")], offset_ns=1_000_000)
        for n in range(3):
            rec.chunk(b"data: %d\n\n" % n, offset_ns=(n + 2) * 1_000_000)
        rec.end(offset_ns=5_000_000, client=client)
    code, out, _ = run("inspect", str(path))
    assert code == 0
    assert "duration 5.0 ms" in out  # the wire's end
    if shown is None:
        assert "client " not in out
    else:
        assert shown in out
    code, out, _ = run("inspect", "--json", str(path))
    [entry] = json.loads(out)["interactions"]
    assert entry["client_chunks"] == (None if client is None else client.chunks)


def test_inspect_json_events_and_failed_stream() -> None:
    code, out, _ = run("inspect", "--json", "--events", str(EXAMPLES / "failed-stream.ndjson.zst"))
    assert code == 0
    doc = json.loads(out)
    (inter,) = doc["interactions"]
    assert inter["response_status"] == "failed"
    assert inter["response_error"].startswith("insufficient_quota")
    assert [e["type"] for e in inter["event_list"]] == [
        "response.created",
        "response.in_progress",
        "error",
        "response.failed",
    ]
    assert inter["model"] == "gpt-4o"


def test_inspect_openrouter_usage_cost_and_events_list() -> None:
    code, out, _ = run("inspect", "--events", str(EXAMPLES / "openrouter-done.ndjson.zst"))
    assert code == 0
    assert "cost" in out
    assert out.rstrip().endswith("[DONE]")


def test_inspect_timeline_shows_gaps() -> None:
    code, out, _ = run("inspect", "--timeline", str(EXAMPLES / "reasoning.ndjson.zst"))
    assert code == 0
    bar = next(line for line in out.splitlines() if line.strip().startswith("|"))
    assert "·" in bar  # the time before the head, and the stall, are empty buckets
    assert "█" in bar


def test_replay_modes() -> None:
    tape = str(EXAMPLES / "openrouter-done.ndjson.zst")
    body = Cassette.load(tape)[0].body
    code, out, _ = run("replay", "--instant", tape)
    assert code == 0
    assert out.encode() == body
    code, out, _ = run("replay", "--instant", "--events", tape)
    lines = out.encode().splitlines()
    assert len(lines) == len(decode_all(body))
    assert lines[-1] == b"[DONE]"  # the payload as sent
    assert json.loads(lines[0])["type"] == "response.created"
    code, out, _ = run(
        "replay", "--speed", "1000", "--text", str(EXAMPLES / "text-answer.ndjson.zst")
    )
    assert (code, out) == (0, "Olá!\n")


def test_cat_is_byte_identical_and_readable() -> None:
    tape = str(EXAMPLES / "function-call.ndjson.zst")
    first, second = run("cat", tape), run("cat", tape)
    assert first == second
    assert first[0] == 0
    text = first[1]
    assert text.startswith("# streamtape-cassette 2.0")
    assert '    "model": "gpt-4o",' in text  # pretty request JSON
    assert " ms]" in text
    assert "-- [" in text
    assert "complete" in text


# -- verify ---------------------------------------------------------------------------------------


def test_verify_examples_ok() -> None:
    code, out, _ = run("verify", *map(str, EXAMPLE_TAPES))
    assert code == 0
    assert f"{len(EXAMPLE_TAPES)} cassette(s) ok" in out


def test_verify_truncated_file(tmp_path: Path) -> None:
    data = (EXAMPLES / "reasoning.ndjson.zst").read_bytes()
    cut = tmp_path / "cut.ndjson.zst"
    cut.write_bytes(data[: len(data) // 2])
    code, _, err = run("verify", str(cut), str(EXAMPLES / "text-answer.ndjson.zst"))
    assert code == 1
    assert "cut.ndjson.zst" in err
    assert "damaged" in err
    assert "text-answer" not in err


def test_verify_protocol_problem_names_interaction_and_offset(tmp_path: Path) -> None:
    frames = sse_chunks(TEXT_SSE)
    tape = write_tape(tmp_path / "gap.ndjson.zst", [*frames[:3], *frames[4:]])  # a sequence gap
    code, out, err = run("verify", str(tape))
    assert code == 1
    assert "gap.ndjson.zst: interaction 1: at 5.0 ms: sequence" in err
    code, out, _ = run("verify", "--json", str(tape))
    assert json.loads(out)["problems"][0]["kind"] == "sequence"


# -- convert --------------------------------------------------------------------------------------


def test_convert_yaml_then_export(tmp_path: Path) -> None:
    src = FIXTURES / "openllmetry/test_responses_streaming.yaml"
    code, _, err = run("convert", str(src), "-o", str(tmp_path / "c.ndjson.zst"))
    assert code == 0, err
    assert len(Cassette.load(tmp_path / "c.ndjson.zst")) == 2
    code, _, err = run(
        "convert", str(tmp_path / "c.ndjson.zst"), "--to", "sse", "-o", str(tmp_path / "o.sse")
    )
    assert code == 0
    for n in (0, 1):  # one file per interaction, named by its id
        fixture = FIXTURES / f"openllmetry/test_responses_streaming.{n}.sse"
        assert (tmp_path / f"o.{n + 1}.sse").read_bytes() == fixture.read_bytes()
        assert f"wrote interaction {n + 1} ({len(fixture.read_bytes())} bytes)" in err
    expected = b"".join(
        (FIXTURES / f"openllmetry/test_responses_streaming.{n}.sse").read_bytes() for n in (0, 1)
    )
    code, _, _ = run(
        "convert", str(tmp_path / "c.ndjson.zst"), "--to", "ndjson", "-o", str(tmp_path / "j")
    )
    assert code == 0
    assert len((tmp_path / "j").read_text().splitlines()) == len(decode_all(expected))


@pytest.mark.parametrize(
    ("source", "to"), [("cassette", None), ("cassette", "cassette"), ("yaml", "sse")]
)
def test_convert_wrong_direction_exits_2(tmp_path: Path, source: str, to: str | None) -> None:
    src = (
        EXAMPLE_TAPES[0]
        if source == "cassette"
        else FIXTURES / "openllmetry/test_responses_streaming.yaml"
    )
    args = ["convert", str(src), "-o", str(tmp_path / "x")] + (["--to", to] if to else [])
    assert run(*args)[0] == 2


# -- scan -----------------------------------------------------------------------------------------


def test_scan_finds_a_planted_key(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write_tape(tmp_path / "sub/clean.ndjson.zst", [b"data: {}\n\n"])
    leaked = write_tape(
        tmp_path / "sub/leak.ndjson.zst",
        [b"data: {}\n\n", b'data: {"k": "sk-proj-abcdefghij0123456789abcd"}\n\n'],
        redactor=False,
    )
    (tmp_path / "notes.txt").write_text("sk-proj-abcdefghij0123456789abcd")  # not a cassette
    code, out, _ = run("scan", str(tmp_path))
    assert code == 1
    code, doc, _ = run("scan", "--json", str(tmp_path))
    assert code == 1
    assert json.loads(doc)["findings"] == [
        {"file": str(leaked), "record": 5, "finding": "key pattern sk-proj-..."}
    ]
    assert json.loads(doc)["scanned"] == 2
    assert out.splitlines() == [f"{leaked}: record 5: key pattern sk-proj-..."]


def test_scan_finds_a_key_split_across_chunks_and_across_deltas(tmp_path: Path) -> None:
    key = "sk-or-v1-" + "0123456789abcdef" * 4

    frame = b'data: {"type":"error","message":"key ' + key.encode() + b'","code":null}\n\n'
    cut = frame.index(b"0123")  # the chunks split the key itself
    # written without redaction, as an older streamtape or another tool would have left it
    across_chunks = write_tape(
        tmp_path / "chunks.ndjson.zst", [frame[:cut], frame[cut:]], redactor=False
    )
    across_deltas = write_tape(
        tmp_path / "deltas.ndjson.zst", [delta(key[:12], 1), delta(key[12:], 2)], redactor=False
    )
    code, doc, _ = run("scan", "--json", str(tmp_path))
    assert code == 1
    assert json.loads(doc)["findings"] == [
        {
            "file": str(across_chunks),
            "record": 2,
            "finding": "key pattern sk-or-v1... in the body, split across chunks",
        },
        {
            "file": str(across_deltas),
            "record": 2,
            "finding": "key pattern sk-or-v1... in the streamed text, split across deltas",
        },
    ]
    assert run("scan", str(EXAMPLES))[0] == 0


def test_scan_clean_examples_and_unredacted_header(tmp_path: Path) -> None:
    assert run("scan", str(EXAMPLES))[0] == 0
    with CassetteWriter(tmp_path / "h.ndjson.zst", redactor=None) as writer:
        writer.begin("GET", "https://x/", [("Authorization", "Bearer abc")]).end()
    code, out, _ = run("scan", str(tmp_path / "h.ndjson.zst"))
    assert code == 1
    assert "record 2: unredacted Authorization header" in out


# -- bench, errors, colour, subprocesses ------------------------------------------------------


def test_bench_json(tmp_path: Path) -> None:
    code, out, _ = run(
        "bench",
        str(EXAMPLES / "text-answer.ndjson.zst"),
        "--repeat",
        "1",
        "--against",
        "frames",
        "--json",
    )
    assert code == 0
    doc = json.loads(out)
    assert {row["decoder"] for row in doc["rows"]} >= {"streamtape", "frames"}


def test_bare_bench_takes_the_cassettes_here_and_a_generated_stream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("bench", "--repeat", "1", "--against", "frames", "--json")
    assert code == 0
    assert {row["input"] for row in json.loads(out)["rows"]} == {"generated"}
    (tmp_path / "cassettes").mkdir()
    shutil.copy(EXAMPLES / "function-call.ndjson.zst", tmp_path / "cassettes")
    code, out, _ = run("bench", "--repeat", "1", "--against", "frames,msgspec-dicts", "--json")
    assert code == 0
    rows = json.loads(out)["rows"]
    assert {row["decoder"] for row in rows} == {"streamtape", "frames", "msgspec-dicts"}
    inputs = [row["input"] for row in rows]
    assert inputs[0] == "function-call.ndjson.zst"
    assert inputs[-1] == "generated"


def test_bench_on_a_recorded_failed_stream_is_no_failure() -> None:
    path = EXAMPLES / "failed-stream.ndjson.zst"
    code, out, _ = run("bench", str(path), "--repeat", "1", "--against", "openai")
    assert code == 0  # the SDK raising at the recorded `error` event is not a failed decoder
    assert "raises on this stream (as recorded)" in out
    assert "FAILED" not in out


def test_bench_unknown_anchor_is_one_line_error() -> None:
    code, _, err = run("bench", str(EXAMPLES / "text-answer.ndjson.zst"), "--against", "nope")
    assert code == 1
    assert err.startswith("Error: ")
    assert err.count("\n") == 1


def test_damaged_input_one_line_error_or_traceback_with_debug(tmp_path: Path) -> None:
    junk = tmp_path / "junk.ndjson.zst"
    junk.write_bytes(b"not a cassette")
    code, _, err = run("replay", str(junk))
    assert code == 1
    assert err.count("\n") == 1
    assert "junk.ndjson.zst" in err
    result = CliRunner().invoke(cli, ["--debug", "replay", str(junk)])
    assert isinstance(result.exception, CassetteError)


def test_installed_entry_point_and_module_run() -> None:
    script = Path(sys.executable).with_name("streamtape")
    done = subprocess.run(
        [str(script), "verify", *map(str, EXAMPLE_TAPES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "streamtape", "inspect", "nonexistent.ndjson.zst"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr


def test_record_gzip_stream_counts_decoded_events(sse_server: SSEServer, tmp_path: Path) -> None:
    chunks = sse_chunks(OPENROUTER_SSE)
    url = sse_server.add(Route("/gz", chunks, gzip=True))
    code, _, err = run("record", url, "-o", str(tmp_path / "g.ndjson.zst"))
    assert code == 0
    assert f"{len(decode_all(OPENROUTER_SSE.read_bytes()))} events" in err
    inter = Cassette.load(tmp_path / "g.ndjson.zst")[0]
    assert inter.response is not None
    assert inter.response.content_encodings == ["gzip"]
    assert inter.body == OPENROUTER_SSE.read_bytes()
