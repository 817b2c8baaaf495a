"""``streamtape mutate`` and ``streamtape replay --fault``: derived cassettes and their lineage."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path

import httpx2
import pytest
from click.testing import CliRunner
from test_faults import REPLAY_BASE, recorded, the_interaction

from streamtape import faults, use_cassette
from streamtape._cli_mutate import mutate_cassette
from streamtape.cassette import Cassette, CassetteWriter, ClientStop, Derivation
from streamtape.cli import cli
from streamtape.faults import disconnect, http_status, rechunk, stall

__all__ = ["recorded"]  # the fixture, imported to be used here


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mutate_writes_the_faulted_interaction_and_its_lineage(
    recorded: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cut.ndjson.zst"
    before = recorded.read_bytes()
    code, _, err = run(
        "mutate", str(recorded), "-o", str(out), "--fault", "disconnect:after_events=5"
    )
    assert code == 0, err
    assert "wrote 1 interaction(s)" in err
    assert recorded.read_bytes() == before
    derived = Cassette.load(out)
    assert derived.header is not None
    assert derived.header.derived_from == [
        Derivation("openai.ndjson.zst", sha256(recorded), ["disconnect:after_events=5"])
    ]
    [inter] = derived.interactions
    expected = faults.apply(the_interaction(recorded), [disconnect(after_events=5)])
    assert [c.data for c in inter.chunks] == [c.data for c in expected.chunks]
    # offsets are stored in whole microseconds
    assert [c.offset_ns // 1000 for c in inter.chunks] == [
        c.offset_ns // 1000 for c in expected.chunks
    ]
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error is not None
    assert inter.end.error.type == "RemoteProtocolError"
    assert inter.request == the_interaction(recorded).request


def test_a_derived_cassette_of_a_derived_cassette_keeps_the_whole_lineage(
    recorded: Path, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.ndjson.zst", tmp_path / "b.ndjson.zst"
    mutate_cassette(recorded, first, [rechunk(size=7)])
    mutate_cassette(first, second, [disconnect(after_events=3), stall(before_event=1)])
    header = Cassette.load(second).header
    assert header is not None
    assert header.derived_from == [
        Derivation("openai.ndjson.zst", sha256(recorded), ["rechunk:size=7"]),
        Derivation(
            "a.ndjson.zst",
            sha256(first),
            ["disconnect:after_events=3", "stall:before_event=1"],
        ),
    ]
    code, out, _ = run("inspect", str(second))
    assert code == 0
    assert "derived from openai.ndjson.zst" in out
    assert "derived from a.ndjson.zst" in out
    assert "with faults disconnect:after_events=3 stall:before_event=1" in out
    code, out, _ = run("inspect", "--json", str(second))
    assert json.loads(out)["derived_from"][0]["faults"] == ["rechunk:size=7"]
    code, out, _ = run("inspect", "--json", str(recorded))
    assert json.loads(out)["derived_from"] == []


def test_a_stall_becomes_a_recorded_gap(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "stalled.ndjson.zst"
    mutate_cassette(recorded, out, [stall(before_event=2, seconds=3)])
    original, stalled = the_interaction(recorded), the_interaction(out)
    gaps = [b.offset_ns - a.offset_ns for a, b in itertools.pairwise(stalled.chunks)]
    before = [b.offset_ns - a.offset_ns for a, b in itertools.pairwise(original.chunks)]
    assert max(gaps) >= 3_000_000_000 > max(before)
    assert stalled.events() == original.events()


def test_an_http_status_becomes_an_interaction_before_the_stream(
    recorded: Path, tmp_path: Path
) -> None:
    """Replaying the derived cassette, the openai SDK's retry meets the stream."""
    import openai

    out = tmp_path / "retry.ndjson.zst"
    mutate_cassette(recorded, out, [http_status(429, retry_after=0.01)])
    answer, _stream = Cassette.load(out).interactions
    assert answer.response is not None
    assert answer.response.status == 429
    assert answer.response.header("retry-after-ms") == "10"
    statuses: list[int] = []
    hooks = {"response": [lambda r: statuses.append(r.status_code)]}
    with (
        use_cassette(out, record_mode="none", match_on=("method", "path")) as tape,
        openai.OpenAI(
            base_url=REPLAY_BASE,
            api_key="sk-test",
            max_retries=1,
            http_client=httpx2.Client(event_hooks=hooks),
        ) as client,
    ):
        events = list(client.responses.create(model="gpt-4o", input="Weather?", stream=True))
    assert statuses == [429, 200]
    assert events[-1].type == "response.completed"
    assert len(tape.played) == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give at least one --fault"),
        (["--fault", "explode"], "unknown fault 'explode'"),
        (["--fault", "rechunk:size=0"], "size must be at least 1"),
    ],
)
def test_mutate_refuses_bad_usage(
    recorded: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "x.ndjson.zst"
    code, _, err = run("mutate", str(recorded), "-o", str(out), *args)
    assert code == 2
    assert message in err
    assert not out.exists()


def test_mutate_refuses_to_overwrite_its_source(recorded: Path, tmp_path: Path) -> None:
    code, _, err = run("mutate", str(recorded), "-o", str(recorded), "--fault", "crlf")
    assert code == 2
    assert "OUTPUT must not be SRC" in err


def test_a_fault_that_does_not_fit_leaves_no_file(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson.zst"
    code, _, err = run(
        "mutate", str(recorded), "-o", str(out), "--fault", "truncate:after_events=500"
    )
    assert code == 1
    assert "does not fit interaction 1" in err
    assert "500 asked for" in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no partial file either


def test_replay_with_a_fault_shows_what_the_client_meets(recorded: Path) -> None:
    inter = the_interaction(recorded)
    expected = faults.apply(inter, [disconnect(after_events=4)])
    result = CliRunner().invoke(
        cli,
        [
            "replay",
            "--instant",
            str(recorded),
            "--fault",
            "http_status:503",
            "--fault",
            "disconnect:after_events=4",
        ],
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == expected.wire_body
    assert "HTTP 503 Service Unavailable" in result.stderr
    assert "stream broke: RemoteProtocolError" in result.stderr
    events = CliRunner().invoke(
        cli,
        ["replay", "--instant", "--events", str(recorded), "--fault", "truncate:after_events=2"],
    )
    assert [json.loads(line)["type"] for line in events.stdout.splitlines()] == [
        "response.created",
        "response.in_progress",
    ]


def test_mutate_runs_as_a_real_command(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson.zst"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamtape",
            "mutate",
            str(recorded),
            "-o",
            str(out),
            "--fault",
            "inject_error:after_events=3,code=overloaded",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = the_interaction(out).result()
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.code == "overloaded"


def test_cat_shows_the_lineage(recorded: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.ndjson.zst"
    mutate_cassette(recorded, out, [faults.crlf(), faults.drop_final()])
    code, text, _ = run("cat", str(out))
    assert code == 0
    assert (
        f"# derived from openai.ndjson.zst (sha256 {sha256(recorded)}) with crlf drop_final\n"
        in text
    )
    code, text, _ = run("cat", str(recorded))
    assert "derived from" not in text


def stopped_early(path: Path) -> Path:
    """A cassette of one stream its recording client stopped reading after two chunks, once
    held back 5 ms for lagging behind."""
    writer = CassetteWriter(path, redactor=None, clock=lambda: 0)
    rec = writer.begin("POST", "https://api.example/v1/responses", [], b"{}")
    rec.response(200, [("content-type", "text/event-stream")], offset_ns=1_000_000)
    frames = [b'data: {"type":"response.created","sequence_number":%d}\n\n' % i for i in range(4)]
    for i, frame in enumerate(frames):
        rec.chunk(frame, offset_ns=(2 + i) * 1_000_000)
    stop = ClientStop(chunks=2, bytes=len(frames[0] + frames[1]), offset_ns=3_500_000)
    rec.end("complete", offset_ns=6_000_000, client=stop, backpressure_ns=5_000_000)
    writer.close()
    return path


def test_mutate_keeps_where_the_client_stopped_while_the_body_is_unchanged(
    tmp_path: Path,
) -> None:
    """The end record's `client` and `backpressure_us` are copied: an `http_status` fault adds
    an answer before the stream and leaves the stream itself as recorded. A fault that changes
    the body (re-chunking) makes the old stopping point meaningless, so it goes; the recorder's
    hold-off is a fact of the recording and stays."""
    source = stopped_early(tmp_path / "src.ndjson.zst")
    [recorded_end] = [i.end for i in Cassette.load(source).interactions]
    assert recorded_end is not None
    assert recorded_end.client is not None
    assert (recorded_end.client.chunks, recorded_end.client.offset_ns) == (2, 3_500_000)

    kept = tmp_path / "kept.ndjson.zst"
    mutate_cassette(source, kept, [http_status(429)])
    answer, stream = Cassette.load(kept).interactions
    assert answer.end is not None
    assert answer.end.client is None
    assert stream.end == recorded_end

    recut = tmp_path / "recut.ndjson.zst"
    mutate_cassette(source, recut, [rechunk(size=7)])
    [stream] = Cassette.load(recut).interactions
    assert stream.end is not None
    assert stream.end.client is None
    assert stream.end.backpressure_ns == 5_000_000
