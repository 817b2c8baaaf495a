"""requests and urllib3 through use_cassette, what only they have: ``iter_content`` with a chunk
size and ``iter_lines``, urllib3's own errors where a stream broke, preloaded and
length-delimited bodies, streamed file and text bodies, threads. What every stack does (replay
with the server stopped, timing, matching, redaction, replay into the other stacks, draining a
response closed early) is in tests/test_stacks.py."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import pytest
import requests
import urllib3
from offline import no_connections, own_server
from sse_server import Route, SSEServer, json_route

from streamtape.cassette import Cassette
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

__all__ = ["own_server"]  # the fixture, imported to be used here

CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(6)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "requests.ndjson.zst"


def content(url: str, size: int | None) -> list[bytes]:
    with requests.post(url, json={"input": "hi"}, stream=True) as response:
        assert response.status_code == 200
        return list(response.iter_content(size))


def lines(url: str) -> list[bytes]:
    with requests.post(url, json={"input": "hi"}, stream=True) as response:
        return list(response.iter_lines())


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
