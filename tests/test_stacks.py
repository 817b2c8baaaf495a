"""What every HTTP stack does through use_cassette, said once and run for aiohttp, requests
and httpx (tests/clients.py): recorded from a real loopback server as the caller reads,
replayed with the server stopped and no socket connecting, the same chunks at the recorded
offsets, secrets kept out, and a recording made through one stack replayed into each of them.
What only one stack has is in tests/test_stacks_<stack>.py and tests/test_transport.py."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import aiohttp
import httpx
import pytest
import urllib3
from clients import CLIENTS, Client, Request, recorded
from offline import no_connections, own_server
from sse_server import Route, SSEServer

from streamtape.cassette import Cassette, CassetteWriter, Interaction
from streamtape.errors import NoMatchError
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

__all__ = ["own_server"]  # the fixture, imported to be used here

SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(6)]


@pytest.fixture(params=CLIENTS.values(), ids=repr)
def stack(request: pytest.FixtureRequest) -> Client:
    client: Client = request.param
    return client


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "stack.ndjson.zst"


def test_a_stream_replays_its_recorded_chunks_with_the_server_stopped(
    stack: Client, own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/s", CHUNKS, delays=0.01))
    with use_cassette(path, record_mode="rewrite") as tape:
        live = stack.post(url)
    assert b"".join(live) == b"".join(CHUNKS)
    assert len(tape.recorded) == 1
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end is not None
    assert inter.end.outcome == "complete"
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT) as t:
        assert stack.post(url) == CHUNKS
    assert attempts == []
    assert len(t.played) == 1


def test_chunks_reach_the_caller_while_the_server_is_still_sending(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    gate = threading.Event()
    url = sse_server.add(Route("/g", CHUNKS[:2], gates={1: gate}))
    with use_cassette(path, record_mode="rewrite"):
        # the first chunk arrives while the server holds the second back
        assert stack.first_then(url, gate.set) == CHUNKS[:2]
    assert recorded(path) == CHUNKS[:2]  # the held-back chunk too, as it arrived
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"


def test_replay_waits_are_the_recorded_gaps_over_speed(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/t", CHUNKS[:3], delays=[0.0, 0.03, 0.03]))
    with use_cassette(path, record_mode="rewrite"):
        assert b"".join(stack.post(url)) == b"".join(CHUNKS[:3])
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert inter.end is not None
    points = [inter.response.offset_ns, *(c.offset_ns for c in inter.chunks), inter.end.offset_ns]
    gaps = [b - a for a, b in zip([0, *points], points, strict=False)]
    assert max(gaps) >= 15_000_000  # the server's 30 ms pauses were recorded
    waits: list[float] = []
    sleep = stack.fake_sleep(waits)
    with use_cassette(path, record_mode="none", speed=4.0, **sleep):
        assert stack.post(url) == CHUNKS[:3]
    assert waits == pytest.approx([g / 1e9 / 4.0 for g in gaps])
    waits.clear()
    with use_cassette(path, record_mode="none", speed=INSTANT, **sleep):
        assert stack.post(url) == CHUNKS[:3]
    assert waits == []
    with use_cassette(path, record_mode="none", max_gap=0.005, **sleep):
        assert stack.post(url) == CHUNKS[:3]
    assert waits == pytest.approx([min(g / 1e9, 0.005) for g in gaps])
    assert max(waits) == pytest.approx(0.005)  # the 30 ms pauses were capped
    # on the real clock, a replay at speed 2 takes at least half the recorded duration
    start = time.perf_counter()
    with use_cassette(path, record_mode="none", speed=2.0):
        assert stack.post(url) == CHUNKS[:3]
    assert time.perf_counter() - start >= inter.end.offset_ns / 1e9 / 2 * 0.95


def test_a_request_with_no_recording_is_refused_without_connecting(
    stack: Client, own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/n", CHUNKS[:1]))
    with use_cassette(path, record_mode="rewrite"):
        stack.post(url)
    own_server.stop()
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(NoMatchError, match="new_episodes"),
    ):
        stack.post(url, body="something else")
    assert attempts == []


def test_new_episodes_replays_the_match_and_records_the_miss(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/e", CHUNKS[:2]))
    with use_cassette(path, record_mode="rewrite"):
        stack.post(url)
    sse_server.requests.clear()
    with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
        assert stack.post(url) == recorded(path)
        assert b"".join(stack.post(url, body="new")) == b"".join(CHUNKS[:2])
    assert len(tape.played) == 1
    assert len(tape.recorded) == 1
    assert len(sse_server.requests) == 1  # only the miss reached the server
    assert b'"new"' in sse_server.requests[0].body
    assert len(Cassette.load(path).interactions) == 2


def test_drift_mode_goes_live_and_compares_with_the_recording(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/d", CHUNKS[:2]))
    with use_cassette(path, record_mode="rewrite"):
        stack.post(url)
    sse_server.requests.clear()
    with use_cassette(path, record_mode="drift") as tape:
        assert b"".join(stack.post(url)) == b"".join(CHUNKS[:2])
    assert len(sse_server.requests) == 1  # the request went live
    assert len(tape.played) == 1  # and was paired with the recorded one
    [drift] = tape.drift_results
    assert drift.verdict in ("identical", "equivalent")  # the same chunks, at other times


def test_an_authorization_header_is_redacted(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/r", CHUNKS[:1]))
    auth = {"Authorization": f"Bearer {SECRET}"}
    with use_cassette(path, record_mode="rewrite"):
        stack.post(url, headers=auth)
    [received] = sse_server.requests
    assert dict(received.headers)["Authorization"] == f"Bearer {SECRET}"
    raw = Cassette.read_ndjson(path)
    assert b"Authorization" in raw
    for fragment in (SECRET, SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    # the redacted recording still matches the request that carries the secret
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert stack.post(url, headers=auth) == CHUNKS[:1]


@pytest.mark.parametrize("into", sorted(CLIENTS))
def test_a_recording_replays_into_every_stack(
    stack: Client,
    into: str,
    own_server: SSEServer,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = own_server.add(Route("/x", CHUNKS, delays=0.002))
    with use_cassette(path, record_mode="rewrite"):
        stack.post(url)
    live = recorded(path)
    assert live == CHUNKS
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        assert CLIENTS[into].post(url) == live
    assert attempts == []


def test_a_gzip_body_recorded_by_httpx_is_decoded_on_replay(
    stack: Client, own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/z", CHUNKS, delays=0.002, gzip=True))
    with use_cassette(path, record_mode="rewrite"), httpx.Client() as client:
        assert client.post(url, json={"input": "hi"}).content == b"".join(CHUNKS)
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert ("content-encoding", "gzip") in [(k.lower(), v) for k, v in inter.response.headers]
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        assert b"".join(stack.post(url)) == b"".join(CHUNKS)


# -- a response the caller closes before its end ----------------------------------------------


def assert_stopped_where_the_caller_did(inter: Interaction, got: list[bytes]) -> None:
    """The end record says where the caller stopped: the recorded chunks it had been given
    (a caller that lagged behind may have read two of them in one go) and their bytes."""
    assert inter.end is not None
    client = inter.end.client
    assert client is not None
    assert client.bytes == len(b"".join(got))
    assert sum(len(c.data) for c in inter.chunks[: client.chunks]) == client.bytes
    assert client.offset_ns <= inter.end.offset_ns


def test_a_response_closed_early_is_drained_to_its_end_and_replays_whole(
    stack: Client, own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gate = threading.Event()  # chunk 3 comes 0.3 s after the first: the caller has gone by then
    opener = threading.Timer(0.3, gate.set)
    url = own_server.add(Route("/early", CHUNKS, delays=0.01, gates={3: gate}))
    try:
        with use_cassette(path, record_mode="rewrite"):
            got = stack.first(url, 1, opener.start)
    finally:
        opener.cancel()
        gate.set()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"  # the recorder read on after the caller closed
    assert b"".join(c.data for c in inter.chunks) == b"".join(CHUNKS)
    assert_stopped_where_the_caller_did(inter, got)
    assert inter.end.client is not None
    assert inter.end.client.chunks < len(inter.chunks)
    own_server.stop()
    with no_connections(monkeypatch) as attempts:
        with use_cassette(path, "none", speed=INSTANT):
            assert stack.first(url, 1) == got  # the same caller stops at the same point
        for into in CLIENTS.values():  # and any caller that reads on gets the whole stream
            whole: list[bytes] = []
            with use_cassette(path, "none", speed=INSTANT):
                into.read(Request(url), whole)
            assert whole == [c.data for c in inter.chunks]
    assert attempts == []


def test_without_draining_a_response_closed_early_is_recorded_as_closed(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    gate = threading.Event()  # the server holds chunk 3 until the block has ended
    url = sse_server.add(Route("/early", CHUNKS, delays=0.01, gates={3: gate}))
    try:
        with use_cassette(path, record_mode="rewrite", drain_timeout=0):
            got = stack.first(url, 1)
    finally:
        gate.set()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert 1 <= len(inter.chunks) <= 3
    assert [c.data for c in inter.chunks] == CHUNKS[: len(inter.chunks)]
    assert_stopped_where_the_caller_did(inter, got)


def test_a_drain_that_runs_out_of_time_is_recorded_as_interrupted(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    gate = threading.Event()  # the server holds chunk 3 longer than the drain lasts
    url = sse_server.add(Route("/early", CHUNKS, delays=0.01, gates={3: gate}))
    try:
        with use_cassette(path, record_mode="rewrite", drain_timeout=0.3):
            started = time.perf_counter()
            got = stack.first(url, 1)
            waited = time.perf_counter() - started
    finally:
        gate.set()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks] == CHUNKS[:3]  # every chunk that came
    assert_stopped_where_the_caller_did(inter, got)
    # the stack waited for the drain (httpx and requests when the response closes, aiohttp
    # when the session closes), and no longer than drain_timeout
    assert 0.25 < waited < 3.0


def test_a_drain_stops_at_the_read_ahead_limit(
    stack: Client, sse_server: SSEServer, path: Path
) -> None:
    """After the caller closed early, the recorder reads at most ``read_ahead_limit`` more bytes,
    then ends the recording ``interrupted`` with what it read."""
    gate = threading.Event()  # the rest comes once the caller has gone: all of it is drained
    opener = threading.Timer(0.3, gate.set)
    chunks = [CHUNKS[0]] + [b"data: " + b"y" * 1000 + b"\n\n"] * 40
    url = sse_server.add(Route("/big", chunks, delays=0.002, gates={1: gate}))
    try:
        with use_cassette(path, record_mode="rewrite", read_ahead_limit=4000):
            got = stack.first(url, 1, opener.start)
    finally:
        opener.cancel()
        gate.set()
    assert got == chunks[:1]
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    drained = sum(len(c.data) for c in inter.chunks) - len(chunks[0])
    assert 4000 <= drained < 4000 + 2 * len(chunks[1])  # up to the limit and one read past it
    assert_stopped_where_the_caller_did(inter, got)


def test_the_socket_guard_catches_a_request_that_goes_out(
    stack: Client, sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sse_server.add(Route("/out", CHUNKS[:1]))
    with no_connections(monkeypatch) as attempts, pytest.raises(stack.refused):
        stack.post(url)
    assert len(attempts) == 1


@pytest.mark.parametrize(
    ("owner", "name"),
    [
        (urllib3.HTTPConnectionPool, "_make_request"),
        (aiohttp.ClientSession, "_request"),
        (aiohttp.StreamReader, "feed_data"),
    ],
)
def test_a_stacks_patch_is_undone_after_the_block(path: Path, owner: type, name: str) -> None:
    original = owner.__dict__[name]
    with CassetteWriter(path) as writer:  # a cassette to replay: the block records nothing
        writer.begin("GET", "http://127.0.0.1:9/unrelated").end()
    with use_cassette(path, record_mode="none"):
        assert owner.__dict__[name] is not original
    assert owner.__dict__[name] is original
