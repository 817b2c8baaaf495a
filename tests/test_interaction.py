"""An interaction's body is read one way (`Interaction.body_chunks`): content-decoded, each piece
at the offset of the wire chunk it came in, so every view tells the same times."""

from __future__ import annotations

import gzip
import itertools
import json
import re
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner
from sse_server import FIXTURES

from streamtape.cassette import Cassette, CassetteWriter, Chunk, Interaction
from streamtape.cli import cli
from streamtape.render import summarize, timed_events
from streamtape.report import interaction_html

STREAM = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
# the stream's 15 events in four chunks: created + in_progress, the item and part added (no
# text yet), three text deltas, the rest
SPLITS = (2, 4, 7, 15)
OFFSETS_NS = (100_000_000, 180_000_000, 250_000_000, 400_000_000)


def pieces() -> list[bytes]:
    frames = [frame + b"\n\n" for frame in STREAM.read_bytes().split(b"\n\n") if frame.strip()]
    assert len(frames) == SPLITS[-1]
    return [b"".join(frames[a:b]) for a, b in itertools.pairwise((0, *SPLITS))]


def gzipped(parts: list[bytes]) -> list[bytes]:
    """Each part gzip-compressed and flushed, as a server streaming gzip sends it."""
    stream = zlib.compressobj(wbits=zlib.MAX_WBITS | 16)
    out = [stream.compress(part) + stream.flush(zlib.Z_SYNC_FLUSH) for part in parts]
    out[-1] += stream.flush()
    return out


def record(path: Path, chunks: list[bytes], encoding: str | None) -> Interaction:
    headers = [("Content-Type", "text/event-stream")]
    if encoding is not None:
        headers.append(("Content-Encoding", encoding))
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}", start_ns=0)
        rec.response(200, headers, offset_ns=50_000_000)
        for data, at in zip(chunks, OFFSETS_NS, strict=True):
            rec.chunk(data, offset_ns=at)
        rec.end("complete", offset_ns=OFFSETS_NS[-1] + 1_000_000)
    [inter] = Cassette.load(path)
    return inter


@pytest.fixture
def gzip_cassette(tmp_path: Path) -> Path:
    path = tmp_path / "gzip.ndjson.zst"
    record(path, gzipped(pieces()), "gzip")
    return path


def test_body_chunks_decode_each_wire_chunk_at_its_offset(gzip_cassette: Path) -> None:
    [inter] = Cassette.load(gzip_cassette)
    assert [c.data for c in inter.chunks] != pieces()  # the cassette keeps the wire's gzip
    assert list(inter.body_chunks()) == [
        Chunk(at, p) for at, p in zip(OFFSETS_NS, pieces(), strict=True)
    ]
    assert list(inter.iter_body()) == pieces()
    assert inter.body == STREAM.read_bytes()


def test_a_plain_body_is_its_recorded_chunks(tmp_path: Path) -> None:
    inter = record(tmp_path / "plain.ndjson.zst", pieces(), None)
    assert list(inter.body_chunks()) == inter.chunks


def test_a_chunk_that_decodes_to_nothing_keeps_its_place(tmp_path: Path) -> None:
    body = STREAM.read_bytes()
    whole = gzip.compress(body)  # one deflate stream, split anywhere
    chunks = [whole[:10], whole[10:20], whole[20:30], whole[30:]]  # the first: the gzip header
    inter = record(tmp_path / "split.ndjson.zst", chunks, "gzip")
    decoded = list(inter.body_chunks())
    assert decoded[0] == Chunk(OFFSETS_NS[0], b"")
    assert [c.offset_ns for c in decoded] == [*OFFSETS_NS, *[OFFSETS_NS[-1]] * (len(decoded) - 4)]
    assert b"".join(c.data for c in decoded) == body


def test_timing_inspect_and_the_report_agree_on_a_gzip_cassette(gzip_cassette: Path) -> None:
    [inter] = Cassette.load(gzip_cassette)
    timing = inter.timing()
    assert (timing.first_chunk, timing.first_event, timing.first_token) == (0.1, 0.1, 0.25)

    summary = summarize(inter)
    assert summary.first_text_ms == 250.0
    assert [at for at, _ in timed_events(inter)] == [
        at for at, n in zip(OFFSETS_NS, (2, 2, 3, 8), strict=True) for _ in range(n)
    ]

    result = CliRunner().invoke(cli, ["inspect", "--json", str(gzip_cassette)])
    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.output)["interactions"]
    assert shown["first_text_ms"] == 250.0
    assert shown["ttfb_ms"] == 50.0
    result = CliRunner().invoke(cli, ["inspect", str(gzip_cassette)])
    assert "first text 250.0 ms" in result.output

    html = interaction_html(inter, "gzip")
    metrics = dict(re.findall(r'data-metric="([a-z-]+)" data-seconds="([0-9.]*)"', html))
    assert float(metrics["first-event"]) == timing.first_event
    assert float(metrics["first-text"]) == timing.first_token == 0.25
