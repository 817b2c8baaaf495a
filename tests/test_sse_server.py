"""The local streaming server that recording tests run against."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import httpx
import pytest
from sse_server import FIXTURES, SSE_FIXTURES, Route, SSEServer, json_route, sse_chunks


@pytest.mark.parametrize("fixture", SSE_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_streams_each_sse_fixture_in_frame_chunks_with_delays(
    sse_server: SSEServer, fixture: Path
) -> None:
    chunks = sse_chunks(fixture)
    assert b"".join(chunks) == fixture.read_bytes()
    assert all(c.endswith(b"\n\n") for c in chunks[:-1])
    delays = [0.002, 0.002, 0.002]
    url = sse_server.add(Route("/v1/responses", chunks, delays=delays))
    with httpx.stream("POST", url, json={"stream": True}) as response:
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["transfer-encoding"] == "chunked"
        body = b"".join(response.iter_raw())
    assert body == fixture.read_bytes()
    sent = sse_server.sent_on("/v1/responses")
    assert [s.data for s in sent] == chunks
    assert [s.index for s in sent] == list(range(len(chunks)))
    times = [s.at_ns for s in sent]
    assert times == sorted(times)
    # each delayed chunk left at least its delay after the one before
    assert all(b - a >= 2_000_000 for a, b in itertools.pairwise(times[:3]))
    [request] = sse_server.requests
    assert (request.method, request.path, json.loads(request.body)) == (
        "POST",
        "/v1/responses",
        {"stream": True},
    )


def test_chunks_txt_fixtures_become_data_frames() -> None:
    fixture = next(FIXTURES.rglob("*.chunks.txt"))
    chunks = sse_chunks(fixture)
    payloads = [line for line in fixture.read_bytes().splitlines() if line.strip()]
    assert chunks == [b"data: " + p + b"\n\n" for p in payloads]


def test_sse_chunks_keeps_a_tail_without_blank_line() -> None:
    assert sse_chunks(b"data: 1\n\ndata: 2\n") == [b"data: 1\n\n", b"data: 2\n"]


@pytest.mark.parametrize("status", [200, 401, 429, 500])
def test_json_and_error_statuses(sse_server: SSEServer, status: int) -> None:
    url = sse_server.add(json_route("/j", {"error": {"code": status}}, status=status))
    response = httpx.get(url)
    assert response.status_code == status
    assert response.json() == {"error": {"code": status}}
    assert response.headers["content-length"] == str(len(response.content))


def test_gzip_stream(sse_server: SSEServer) -> None:
    chunks = [b"data: %d\n\n" % i for i in range(5)]
    url = sse_server.add(Route("/gz", chunks, gzip=True))
    with httpx.stream("GET", url) as response:
        raw = list(response.iter_raw())
    assert response.headers["content-encoding"] == "gzip"
    assert gzip.decompress(b"".join(raw)) == b"".join(chunks)
    assert len(sse_server.sent_on("/gz")) == 6  # each chunk flushed, plus the gzip trailer


def test_break_mid_stream(sse_server: SSEServer) -> None:
    url = sse_server.add(Route("/b", [b"data: 1\n\n", b"data: 2\n\n"], break_after=1))
    got: list[bytes] = []
    with pytest.raises(httpx.RemoteProtocolError), httpx.stream("GET", url) as response:
        got.extend(response.iter_raw())
    assert got == [b"data: 1\n\n"]


def test_unknown_path_is_404(sse_server: SSEServer) -> None:
    assert httpx.get(sse_server.url + "/nothing").status_code == 404


def test_standalone_server_stops_cleanly() -> None:
    with SSEServer([Route("/x", [b"hi"])]) as server:
        url = server.url
        assert httpx.get(url + "/x").content == b"hi"
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/x")
