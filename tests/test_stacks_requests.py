"""requests and urllib3 through use_cassette: recorded from a real loopback server as the caller
reads, replayed with the server stopped and no socket connecting, the same chunks at the
recorded offsets, urllib3's own errors where a stream broke, and into (and from) the other
stacks."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import aiohttp
import httpx
import pytest
import requests
import urllib3
from offline import no_connections, own_server
from sse_server import Route, SSEServer, json_route

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.errors import NoMatchError
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

__all__ = ["own_server"]  # the fixture, imported to be used here

SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(6)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "requests.ndjson.zst"


def content(
    url: str, size: int | None = None, body: str = "hi", headers: dict[str, str] | None = None
) -> list[bytes]:
    with requests.post(url, json={"input": body}, headers=headers, stream=True) as response:
        assert response.status_code == 200
        return list(response.iter_content(size))


def lines(url: str) -> list[bytes]:
    with requests.post(url, json={"input": "hi"}, stream=True) as response:
        return list(response.iter_lines())


def test_iter_content_replays_the_recorded_chunks_with_the_server_stopped(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/s", CHUNKS))
    with use_cassette(path, record_mode="rewrite") as tape:
        live = content(url)
    assert live == CHUNKS  # one HTTP chunk each, forwarded as read
    assert len(tape.recorded) == 1
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end is not None
    assert inter.end.outcome == "complete"
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT) as t:
        assert content(url) == CHUNKS
    assert attempts == []
    assert len(t.played) == 1


@pytest.mark.parametrize("size", [1, 7, 1024])
def test_iter_content_with_a_chunk_size_slices_as_the_network_did(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch, size: int
) -> None:
    url = own_server.add(Route("/c", CHUNKS, delays=0.002))
    with use_cassette(path, record_mode="rewrite"):
        live = content(url, size)
    assert b"".join(live) == b"".join(CHUNKS)
    assert max(map(len, live)) <= size
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        assert content(url, size) == live
    assert attempts == []


def test_iter_lines_replays_the_same_lines(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/l", CHUNKS, delays=0.002))
    with use_cassette(path, record_mode="rewrite"):
        live = lines(url)
    assert [line for line in live if line] == [c.rstrip(b"\n") for c in CHUNKS]
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        assert lines(url) == live
    assert attempts == []


def test_chunks_reach_the_caller_while_the_server_is_still_sending(
    sse_server: SSEServer, path: Path
) -> None:
    gate = threading.Event()
    url = sse_server.add(Route("/g", CHUNKS[:2], gates={1: gate}))
    with use_cassette(path, record_mode="rewrite"):
        response = requests.post(url, data=b"x", stream=True)
        chunks = response.iter_content(None)
        first = next(chunks)  # arrives while chunk 2 is held by the server
        gate.set()
        assert [first, *chunks] == CHUNKS[:2]
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS[:2]
    assert inter.end is not None
    assert inter.end.outcome == "complete"


def test_replay_waits_are_the_recorded_gaps_over_speed(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/t", CHUNKS[:3], delays=[0.0, 0.03, 0.03]))
    with use_cassette(path, record_mode="rewrite"):
        assert content(url) == CHUNKS[:3]
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert inter.end is not None
    points = [inter.response.offset_ns, *(c.offset_ns for c in inter.chunks), inter.end.offset_ns]
    gaps = [b - a for a, b in zip([0, *points], points, strict=False)]
    assert max(gaps) >= 15_000_000  # the server's 30 ms pauses were recorded
    waits: list[float] = []
    with use_cassette(path, record_mode="none", speed=4.0, sleep=waits.append):
        assert content(url) == CHUNKS[:3]
    assert waits == pytest.approx([g / 1e9 / 4.0 for g in gaps])
    waits.clear()
    with use_cassette(path, record_mode="none", speed=INSTANT, sleep=waits.append):
        assert content(url) == CHUNKS[:3]
    assert waits == []
    with use_cassette(path, record_mode="none", max_gap=0.005, sleep=waits.append):
        assert content(url) == CHUNKS[:3]
    assert waits == pytest.approx([min(g / 1e9, 0.005) for g in gaps])
    assert max(waits) == pytest.approx(0.005)  # the 30 ms pauses were capped
    # on the real clock, a replay at speed 2 takes at least half the recorded duration
    start = time.perf_counter()
    with use_cassette(path, record_mode="none", speed=2.0):
        assert content(url) == CHUNKS[:3]
    assert time.perf_counter() - start >= inter.end.offset_ns / 1e9 / 2 * 0.95


def test_a_broken_stream_raises_chunked_encoding_error_at_the_same_chunk(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/b", CHUNKS, delays=0.005, break_after=3))

    def read() -> tuple[list[bytes], BaseException]:
        got: list[bytes] = []
        with requests.post(url, data=b"x", stream=True) as response:
            try:
                for chunk in response.iter_content(None):
                    got.append(chunk)
            except requests.exceptions.ChunkedEncodingError as exc:
                return got, exc
        raise AssertionError("the stream did not break")

    with use_cassette(path, record_mode="rewrite"):
        live, live_error = read()
    assert live == CHUNKS[:3]
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error is not None
    assert inter.end.error.type == "IncompleteRead"  # as http.client read the cut stream
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        replayed, replayed_error = read()
    assert replayed == live
    assert type(replayed_error) is type(live_error)
    assert str(replayed_error) == str(live_error)


def test_urllib3_raises_its_protocol_error_on_replay_of_a_broken_stream(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/u", CHUNKS, delays=0.005, break_after=2))

    def read() -> tuple[list[bytes], str]:
        got: list[bytes] = []
        with urllib3.PoolManager() as pool:
            response = pool.request("GET", url, preload_content=False)
            try:
                for chunk in response.stream(None):
                    got.append(chunk)
            except urllib3.exceptions.ProtocolError as exc:
                return got, str(exc)
        raise AssertionError("the stream did not break")

    with use_cassette(path, record_mode="rewrite"):
        live = read()
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        assert read() == live
    assert live[0] == CHUNKS[:2]


def test_urllib3_preloaded_and_length_delimited_bodies(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(json_route("/j", {"ok": True, "n": 3}))
    with use_cassette(path, record_mode="rewrite"), urllib3.PoolManager() as pool:
        live = pool.request("POST", url, body=b"{}").data
        assert requests.get(url).json() == {"ok": True, "n": 3}
    assert json.loads(live) == {"ok": True, "n": 3}
    interactions = Cassette.load(path).interactions
    assert [i.end.outcome for i in interactions if i.end] == ["complete", "complete"]
    own_server.stop()
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        urllib3.PoolManager() as pool,
    ):
        assert pool.request("POST", url, body=b"{}").data == live
        assert requests.get(url).json() == {"ok": True, "n": 3}
    assert attempts == []


def test_a_request_with_no_recording_is_refused_without_connecting(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/n", CHUNKS[:1]))
    with use_cassette(path, record_mode="rewrite"):
        content(url)
    own_server.stop()
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(NoMatchError, match="new_episodes"),
    ):
        content(url, body="something else")
    assert attempts == []


def test_new_episodes_replays_the_match_and_records_the_miss(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/e", CHUNKS[:2]))
    with use_cassette(path, record_mode="rewrite"):
        live = content(url)
    sse_server.requests.clear()
    with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
        assert content(url) == live
        assert content(url, body="new") == CHUNKS[:2]
    assert len(tape.played) == 1
    assert len(tape.recorded) == 1
    assert len(sse_server.requests) == 1  # only the miss reached the server
    assert b'"new"' in sse_server.requests[0].body
    assert len(Cassette.load(path).interactions) == 2


def test_an_authorization_header_is_redacted(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/r", CHUNKS[:1]))
    auth = {"Authorization": f"Bearer {SECRET}"}
    with use_cassette(path, record_mode="rewrite"):
        content(url, headers=auth)
    [received] = sse_server.requests
    assert dict(received.headers)["Authorization"] == f"Bearer {SECRET}"
    raw = Cassette.read_ndjson(path)
    assert b"Authorization" in raw
    for fragment in (SECRET, SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert content(url, headers=auth) == CHUNKS[:1]


def test_recorded_by_requests_replays_into_httpx_and_aiohttp(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/x", CHUNKS, delays=0.002))
    with use_cassette(path, record_mode="rewrite"):
        live = content(url)

    async def iter_any() -> list[bytes]:
        async with aiohttp.ClientSession() as session, session.post(url, json={"input": "hi"}) as r:
            return [chunk async for chunk in r.content.iter_any()]

    own_server.stop()
    with no_connections(monkeypatch) as attempts:
        with (
            use_cassette(path, "none", speed=INSTANT),
            httpx.Client() as client,
            client.stream("POST", url, json={"input": "hi"}) as response,
        ):
            assert list(response.iter_raw()) == live
        with use_cassette(path, "none", speed=INSTANT):
            assert asyncio.run(iter_any()) == live
    assert attempts == []


def test_recorded_by_httpx_replays_into_requests(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/h", CHUNKS, delays=0.002))
    with (
        use_cassette(path, record_mode="rewrite"),
        httpx.Client() as client,
        client.stream("POST", url, json={"input": "hi"}) as response,
    ):
        live = list(response.iter_raw())
    assert live == CHUNKS
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        assert content(url) == live
    assert attempts == []


def test_a_gzip_body_recorded_by_httpx_is_decoded_by_requests_on_replay(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/z", CHUNKS, delays=0.002, gzip=True))
    with use_cassette(path, record_mode="rewrite"), httpx.Client() as client:
        assert client.post(url, json={"input": "hi"}).content == b"".join(CHUNKS)
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        assert b"".join(content(url)) == b"".join(CHUNKS)


def test_a_response_closed_early_keeps_the_stream_and_where_the_client_stopped(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/early", CHUNKS, delays=0.01))
    with use_cassette(path, record_mode="rewrite"):
        response = requests.post(url, data=b"x", stream=True)
        assert next(response.iter_content(None)) == CHUNKS[0]
        response.close()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"  # drained to the end of what the server sent
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1


def test_without_draining_a_response_closed_early_is_recorded_as_closed(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/early", CHUNKS, delays=0.01))
    with use_cassette(path, record_mode="rewrite", drain_timeout=0):
        response = requests.post(url, data=b"x", stream=True)
        assert next(response.iter_content(None)) == CHUNKS[0]
        response.close()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert [c.data for c in inter.chunks] == CHUNKS[:1]


def test_the_patch_is_undone_after_the_block(path: Path) -> None:
    pool = urllib3.HTTPConnectionPool
    original = pool.__dict__["_make_request"]
    with CassetteWriter(path) as writer:  # a cassette to replay: the block records nothing
        writer.begin("GET", "http://127.0.0.1:9/unrelated").end()
    with use_cassette(path, record_mode="none"):
        assert pool.__dict__["_make_request"] is not original
    assert pool.__dict__["_make_request"] is original


def test_the_socket_guard_catches_a_request_that_goes_out(
    sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sse_server.add(Route("/out", CHUNKS[:1]))
    with no_connections(monkeypatch) as attempts, pytest.raises(requests.ConnectionError):
        requests.get(url)
    assert len(attempts) == 1


@pytest.mark.parametrize("kind", ["generator", "file", "text"])
def test_streamed_file_and_text_bodies_are_recorded_sent_and_matched(
    sse_server: SSEServer, path: Path, kind: str, tmp_path: Path
) -> None:
    url = sse_server.add(Route("/up", CHUNKS[:1]))
    data = b'{"input": "uploaded"}'
    source = tmp_path / "body.json"
    source.write_bytes(data)
    opened: list[BinaryIO] = []

    def body() -> object:
        if kind == "generator":
            return iter([data[:5], data[5:]])
        if kind == "file":
            opened.append(source.open("rb"))
            return opened[-1]
        return data.decode()

    with use_cassette(path, record_mode="rewrite"):
        assert requests.post(url, data=body()).content == CHUNKS[0]  # type: ignore[arg-type]
    assert sse_server.requests[0].body == data  # sent whole
    [inter] = Cassette.load(path)
    assert inter.request.body == data
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert requests.post(url, data=body()).content == CHUNKS[0]  # type: ignore[arg-type]
    for file in opened:
        file.close()


def test_the_recorded_url_names_the_port_only_when_it_is_not_the_default() -> None:
    from streamtape._urllib3 import _origin

    assert _origin(urllib3.HTTPConnectionPool("example.com", 80)) == "http://example.com"
    assert _origin(urllib3.HTTPSConnectionPool("example.com", 443)) == "https://example.com"
    assert _origin(urllib3.HTTPConnectionPool("::1", 8080)) == "http://[::1]:8080"


def test_threads_started_inside_a_block_record_and_replay_there(
    sse_server: SSEServer, path: Path
) -> None:
    urls = [sse_server.add(Route(f"/p{i}", [b"data: %d\n\n" % i])) for i in range(4)]

    def fetch(url: str) -> bytes:
        return requests.get(url).content

    with use_cassette(path, record_mode="rewrite"), ThreadPoolExecutor(4) as pool:
        live = list(pool.map(fetch, urls))
    assert live == [b"data: %d\n\n" % i for i in range(4)]
    sse_server.requests.clear()
    with use_cassette(path, "none", speed=INSTANT) as tape, ThreadPoolExecutor(4) as pool:
        assert list(pool.map(fetch, urls)) == live
    assert sse_server.requests == []
    assert len(tape.played) == 4
