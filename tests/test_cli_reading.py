"""The CLI commands agree on what an interaction says (text, outcome) for resumed streams, HTTP
errors, cut-off frames and other dialects; `replay --events` prints payloads exactly as sent;
`convert --to sse` writes one file per SSE body."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from test_convert import sse_payloads
from test_deep_and_unexpected import cli_run
from test_reading import CHUNKS, RESPONSES, TEXT, answer, cassette, resume_url, sse

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.cli import cli
from streamtape.convert import convert_yaml

FIXTURES = Path(__file__).parent / "fixtures"
RATE_LIMIT = json.dumps(
    {
        "error": {
            "message": "Rate limit reached",
            "type": "requests",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    }
).encode()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def resumed_and_429(tmp_path: Path) -> Path:
    """A stream cut by a network error, its resume (starting_after=6), and an HTTP 429."""
    payloads = answer()
    cassette(
        tmp_path,
        {"chunks": [sse(payloads[:7])], "end": "error"},
        {"method": "GET", "url": resume_url(6), "chunks": [sse(payloads[7:])]},
        {
            "status": 429,
            "headers": [("content-type", "application/json"), ("retry-after", "20")],
            "chunks": [RATE_LIMIT],
        },
    )
    return tmp_path / "t.ndjson.zst"


def check_agreement(inspect_json: str, replay_text: str, verify_code: int, verify: str) -> None:
    doc = json.loads(inspect_json)["interactions"]
    texts = replay_text.split("\n")[:3]
    assert [i["output_text"] for i in doc] == texts  # inspect and replay --text: the same text
    assert texts == [TEXT[:12], TEXT, ""]
    assert [i["response_status"] for i in doc] == ["truncated", "completed", "http_error"]
    assert [i["resumed"] for i in doc] == [False, True, False]
    assert doc[2]["http"]["status"] == 429
    assert doc[2]["http"]["code"] == "rate_limit_exceeded"
    assert doc[2]["http"]["retry_after"] == "20"
    assert all(i["problems"] == [] for i in doc)
    assert verify_code == 0  # a resumed stream and an HTTP error are not protocol problems
    assert "interaction 3: http_error (rate_limit_exceeded: Rate limit reached)" in verify


def test_commands_agree_on_a_resumed_stream_and_a_429(tmp_path: Path) -> None:
    tape = str(resumed_and_429(tmp_path))
    _, inspect_json, _ = run("inspect", "--json", tape)
    _, replay_text, _ = run("replay", "--instant", "--text", tape)
    code, verify, _ = run("verify", tape)
    check_agreement(inspect_json, replay_text, code, verify)
    _, human, _ = run("inspect", tape)
    assert "HTTP 429 rate_limit_exceeded: Rate limit reached; retry after 20" in human
    assert "completed, resumed mid-response" in human
    # ... and the response the two streams carried, joined
    assert f"joined: response resp_1 streamed over 2 interactions: completed, {len(TEXT)}" in human
    joined = json.loads(inspect_json)["joined"]
    assert joined == [
        {"response_id": "resp_1", "outcome": "completed", "streams": 2, "output_text": TEXT}
    ]


def test_commands_agree_as_subprocesses(tmp_path: Path) -> None:
    tape = str(resumed_and_429(tmp_path))

    inspect_run = cli_run("inspect", "--json", tape)
    replay_run = cli_run("replay", "--instant", "--text", tape)
    verify_run = cli_run("verify", tape)
    assert inspect_run.returncode == replay_run.returncode == 0, inspect_run.stderr
    check_agreement(inspect_run.stdout, replay_run.stdout, verify_run.returncode, verify_run.stdout)


def test_replay_text_holds_a_resumed_beginning_until_it_is_known(tmp_path: Path) -> None:
    # The resume begins inside the message: its deltas lack the beginning, so printing them live
    # would print the wrong text; the text comes out whole, as inspect shows it.
    tail = [p for p in answer() if p["sequence_number"] > 5]
    cassette(tmp_path, {"method": "GET", "url": resume_url(5), "chunks": [sse(tail)]})
    tape = str(tmp_path / "t.ndjson.zst")
    assert run("replay", "--instant", "--text", tape)[1] == TEXT + "\n"
    doc = json.loads(run("inspect", "--json", tape)[1])
    assert doc["interactions"][0]["output_text"] == TEXT
    assert run("verify", tape)[0] == 0


def test_verify_reports_a_cut_off_frame(tmp_path: Path) -> None:
    cassette(tmp_path, {"chunks": [sse(answer())[:-1]]})
    code, _, err = run("verify", str(tmp_path / "t.ndjson.zst"))
    assert code == 1
    assert "cut_off_frame: the stream ended inside the frame at byte offset" in err


def test_verify_and_inspect_say_a_chat_completions_stream_is_another_dialect(
    tmp_path: Path,
) -> None:
    body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in CHUNKS) + b"data: [DONE]\n\n"
    url = "https://api.openai.com/v1/chat/completions"
    cassette(tmp_path, {"url": url, "chunks": [body]})
    tape = str(tmp_path / "t.ndjson.zst")
    code, out, err = run("verify", tape)
    note = f"not a Responses-API stream: 3 frames, {len(body)} bytes"
    assert (code, err) == (0, "")
    assert f"interaction 1: {note}" in out
    assert note in run("inspect", tape)[1]


# -- replay --events: the payloads as recorded, byte for byte ----------------------------------


def fixture_cassettes(tmp_path: Path) -> list[tuple[str, Path, list[bytes]]]:
    """Every fixture as a cassette, with the payloads its bodies hold (by the reference)."""
    out: list[tuple[str, Path, list[bytes]]] = []
    for n, path in enumerate(sorted(FIXTURES.rglob("*"))):
        name = str(path.relative_to(FIXTURES))
        target = tmp_path / f"{n}.ndjson.zst"
        if path.name.endswith((".sse", ".chunks.txt")):
            data = path.read_bytes()
            if path.name.endswith(".chunks.txt"):  # one payload a line, no framing
                data = b"".join(b"data: " + line + b"\n\n" for line in data.splitlines() if line)
            writer = CassetteWriter(target, flush_interval=None)
            rec = writer.begin("POST", RESPONSES, [], b"{}")
            rec.response(200, [("content-type", "text/event-stream")])
            for start in range(0, len(data), 977):  # frames split across chunks
                rec.chunk(data[start : start + 977])
            rec.end("complete")
            writer.close()
        elif path.name.endswith(".yaml"):
            convert_yaml(path, target)
        elif path.name.endswith(".ndjson.zst"):
            target = path
        else:
            continue
        expected = [p for inter in Cassette.load(target) for p in sse_payloads(inter.body)]
        out.append((name, target, expected))
    return out


def test_replay_events_prints_every_fixture_payload_as_recorded(tmp_path: Path) -> None:
    cases = fixture_cassettes(tmp_path)
    assert len(cases) > 60  # every kind of fixture is here
    assert sum(len(expected) for _, _, expected in cases) > 8000
    for name, tape, expected in cases:
        code, out, _ = run("replay", "--instant", "--events", str(tape))
        assert code == 0, name
        assert out.encode().split(b"\n")[:-1] == expected, name


def test_convert_to_ndjson_writes_the_payloads_as_recorded(tmp_path: Path) -> None:
    src = FIXTURES / "fantasy/TestAzureResponsesWithSummaryThinking/azure-gpt-5-mini"
    convert_yaml(src / "thinking-streaming.yaml", tmp_path / "c.ndjson.zst")
    out = tmp_path / "x.jsonl"
    assert run("convert", str(tmp_path / "c.ndjson.zst"), "--to", "ndjson", "-o", str(out))[0] == 0
    expected = [
        p for n in (0, 1) for p in sse_payloads((src / f"thinking-streaming.{n}.sse").read_bytes())
    ]
    written = out.read_bytes().split(b"\n")[:-1]
    assert written == expected
    assert any(b'"obfuscation"' in line for line in written)  # kept, as sent
    assert any(b'"content_filters"' in line for line in written)  # Azure's, kept


# -- convert --to sse --------------------------------------------------------------------------


def mixed(tmp_path: Path) -> Path:
    """A JSON call, a stream, an audio answer: what a vcrpy cassette of an agent may hold."""
    audio: dict[str, Any] = {"headers": [("content-type", "audio/mpeg")], "chunks": [b"\xff\xfb"]}
    cassette(
        tmp_path,
        {"headers": [("content-type", "application/json")], "chunks": [b'{"ok": true}']},
        {"chunks": [sse(answer())]},
        audio,
    )
    return tmp_path / "t.ndjson.zst"


def test_convert_to_sse_writes_only_sse_bodies_and_says_what_it_skipped(tmp_path: Path) -> None:
    tape = mixed(tmp_path)
    out = tmp_path / "out.sse"
    code, _, err = run("convert", str(tape), "--to", "sse", "-o", str(out))
    assert code == 0
    assert out.read_bytes() == sse(answer())  # the one SSE body, alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.sse", "t.ndjson.zst"]
    assert "skipped interaction 1: not an SSE body (application/json), 12 bytes" in err
    assert "skipped interaction 3: not an SSE body (audio/mpeg), 2 bytes" in err
    assert f"wrote interaction 2 ({len(sse(answer()))} bytes) to {out}" in err


def test_convert_to_sse_one_interaction(tmp_path: Path) -> None:
    tape = mixed(tmp_path)
    out = tmp_path / "two.sse"
    assert run("convert", str(tape), "--to", "sse", "--interaction", "2", "-o", str(out))[0] == 0
    assert out.read_bytes() == sse(answer())
    result = CliRunner().invoke(
        cli, ["convert", str(tape), "--to", "sse", "--interaction", "1", "-o", str(out)]
    )
    assert result.exit_code == 1
    assert "interaction 1: not an SSE body (application/json)" in result.stderr
    result = CliRunner().invoke(
        cli, ["convert", str(tape), "--to", "sse", "--interaction", "9", "-o", str(out)]
    )
    assert "no interaction 9 (it has 1, 2, 3)" in result.stderr


@pytest.mark.parametrize("count", [2, 3])
def test_convert_to_sse_names_files_by_interaction(tmp_path: Path, count: int) -> None:
    streams = [{"chunks": [sse(answer(f"resp_{n}", f"text {n}"))]} for n in range(count)]
    cassette(tmp_path, *streams)
    out = tmp_path / "o.sse"
    code, _, _ = run("convert", str(tmp_path / "t.ndjson.zst"), "--to", "sse", "-o", str(out))
    assert code == 0
    for n in range(count):
        written = tmp_path / f"o.{n + 1}.sse"
        assert written.read_bytes() == sse(answer(f"resp_{n}", f"text {n}"))
    assert not out.exists()
