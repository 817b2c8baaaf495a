"""JSON nested thousands of levels deep gives each path its documented result (a DecodeError or
a MalformedEvent, a problem in inspect / verify, a finding-free scan), never a RecursionError;
and the CLI turns any unexpected failure into one line (a traceback only with --debug)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import streamtape.cli
from streamtape.cassette import CassetteWriter
from streamtape.cli import cli
from streamtape.decode import EventDecoder, decode_event
from streamtape.errors import DecodeError
from streamtape.events import MalformedEvent

# Deeper than msgspec and json decode on any supported Python: they stop at Python's C recursion
# limit, about 1,000 levels up to 3.11, 1,500 on 3.12 and 10,000 on 3.13.
DEPTH = 100_000
DEEP = b'{"type":"response.output_text.delta","delta":"x","n":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
DEEP_UNKNOWN = b'{"type":"x.future","n":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
TOO_DEEP = "JSON nested deeper than the decoder goes"


@pytest.mark.parametrize("payload", [DEEP, DEEP_UNKNOWN, b"[" * DEPTH])
def test_decode_event_on_deep_json_raises_decode_error_or_gives_malformed(payload: bytes) -> None:
    with pytest.raises(DecodeError, match=TOO_DEEP):
        decode_event(payload, offset=7)
    event = decode_event(payload, strict=False, offset=7)
    assert isinstance(event, MalformedEvent)
    assert event.offset == 7
    assert TOO_DEEP in event.error


@pytest.mark.parametrize("batch", [False, True])
def test_the_stream_decoder_on_a_deep_event(batch: bool) -> None:
    good = b'data: {"type":"response.keep_alive"}\n\n'
    stream = (good if batch else b"") + b"data: " + DEEP + b"\n\n" + good
    lenient = EventDecoder(strict=False)
    events = lenient.feed(stream) + lenient.close()
    assert [e.type for e in events] == [
        *(["response.keep_alive"] if batch else []),
        "[malformed]",
        "response.keep_alive",
    ]
    strict = EventDecoder()
    with pytest.raises(DecodeError, match=TOO_DEEP) as info:
        strict.feed(stream)
    assert info.value.offset == (len(good) if batch else 0)


@pytest.fixture
def deep_tape(tmp_path: Path) -> Path:
    path = tmp_path / "deep.ndjson.zst"
    body = b'{"model":"m","input":' + b"[" * DEPTH + b"]" * DEPTH + b"}"
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "http://h/v1/responses", [("content-type", "x/json")], body)
        rec.response(200, [("content-type", "text/event-stream")])
        rec.chunk(b"data: " + DEEP + b"\n\n")
        rec.chunk(b"data: " + DEEP_UNKNOWN + b"\n\n")
        rec.end()
    return path


def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamtape", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("command", "code", "expected"),
    [
        (
            ["inspect"],
            0,
            rf"problem +malformed at event 0 \([\d.]+ ms\): cannot decode event: {TOO_DEEP}",
        ),
        (
            ["verify"],
            1,
            rf"interaction 1: at [\d.]+ ms: malformed: cannot decode event: {TOO_DEEP}",
        ),
        # the payload exactly as sent (verify and inspect report it as malformed)
        (
            ["replay", "--events", "--instant"],
            0,
            re.escape('{"type":"response.output_text.delta","delta":"x","n":[[[['),
        ),
        (["cat"], 0, re.escape('"data: {\\"type\\":\\"x.future\\",\\"n\\":[[[[')),
        (["scan"], 0, ""),
    ],
)
def test_each_command_gives_its_documented_result_on_deep_json(
    deep_tape: Path, command: list[str], code: int, expected: str
) -> None:
    done = cli_run(*command, str(deep_tape))
    assert "Traceback" not in done.stderr
    assert "RecursionError" not in done.stdout + done.stderr
    assert done.returncode == code, done.stderr
    assert re.search(expected, done.stdout + done.stderr)


@pytest.mark.parametrize("error", [MemoryError(), RecursionError("too deep"), KeyError("x")])
def test_an_unexpected_error_is_one_line_and_the_traceback_needs_debug(
    deep_tape: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> None:
    def explode(*args: object, **kwargs: object) -> str:
        raise error

    monkeypatch.setattr(streamtape.cli, "render_cat", explode)
    result = CliRunner().invoke(cli, ["cat", str(deep_tape)])
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"Error: unexpected {type(error).__name__}")
    assert line.endswith("(streamtape --debug ... shows where)")
    debug = CliRunner().invoke(cli, ["--debug", "cat", str(deep_tape)])
    assert debug.exception is error
