"""aiohttp through use_cassette, what only aiohttp has: ``iter_chunked`` slicing the recorded
chunks, bodies recorded as aiohttp decoded them, draining a response the caller let go (its
``release()`` returns at once: the drain runs on the loop, until the session closes, the block
ends or the loop shuts down), the openai SDK's aiohttp backend, the patch made on import, JSON
bodies, cookies and statuses, a websocket passing through. What every stack does (replay with
the server stopped, timing, matching, redaction, replay into the other stacks, draining a
response closed early) is in tests/test_stacks.py."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import aiohttp
import httpx
import openai
import pytest
from clients import CLIENTS, openai_async, recorded
from offline import no_connections, own_server
from sse_server import FIXTURES, Route, SSEServer, json_route, sse_chunks

from streamtape.cassette import Cassette
from streamtape.errors import StreamtapeWarning
from streamtape.tape import Tape, use_cassette
from streamtape.transport import INSTANT

__all__ = ["own_server"]  # the fixture, imported to be used here

SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(6)]
AIOHTTP = CLIENTS["aiohttp"]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "aiohttp.ndjson.zst"


async def iter_chunked(url: str, n: int) -> list[bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, json={"input": "hi"}) as r:
        return [chunk async for chunk in r.content.iter_chunked(n)]


def test_iter_chunked_slices_as_the_network_did(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/c", CHUNKS, delays=0.01))
    with use_cassette(path, record_mode="rewrite"):
        live = asyncio.run(iter_chunked(url, 5))
    assert b"".join(live) == b"".join(CHUNKS)
    # each recorded chunk arrives on its own and read(5) slices it
    sliced = [c[i : i + 5] for c in recorded(path) for i in range(0, len(c), 5)]
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        assert asyncio.run(iter_chunked(url, 5)) == sliced
    assert attempts == []


def test_a_gzip_body_is_recorded_decoded_and_replays_into_both_stacks(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/z", CHUNKS, delays=0.002, gzip=True))
    with use_cassette(path, record_mode="rewrite"):
        live = AIOHTTP.post(url)
    assert b"".join(live) == b"".join(CHUNKS)
    [inter] = Cassette.load(path)
    decoded = recorded(path)
    assert inter.response is not None
    names = {k.lower() for k, _ in inter.response.headers}
    assert "content-encoding" not in names  # the cassette holds what aiohttp decoded
    own_server.stop()
    with no_connections(monkeypatch):
        with use_cassette(path, "none", speed=INSTANT):
            assert AIOHTTP.post(url) == decoded
        with use_cassette(path, "none", speed=INSTANT), httpx.Client() as client:
            assert client.post(url, json={"input": "hi"}).content == b"".join(CHUNKS)


# -- a response the caller lets go before its end -------------------------------------------


def connections_made(made: list[str]) -> aiohttp.TraceConfig:
    """A trace noting in ``made`` whether each request got a new connection or a pooled one."""

    async def created(session: object, context: SimpleNamespace, params: object) -> None:
        made.append("new")

    async def reused(session: object, context: SimpleNamespace, params: object) -> None:
        made.append("pooled")

    trace = aiohttp.TraceConfig()
    trace.on_connection_create_end.append(created)
    trace.on_connection_reuseconn.append(reused)
    return trace


@dataclass(frozen=True)
class Held:
    url: str
    gate: threading.Event


@pytest.fixture
def held(sse_server: SSEServer) -> Iterator[Held]:
    """A stream of CHUNKS, 10 ms apart, whose chunk 3 the server holds until ``gate`` opens: the
    test opens it, or this fixture does when the test has ended."""
    gate = threading.Event()
    yield Held(sse_server.add(Route("/early", CHUNKS, delays=0.01, gates={3: gate})), gate)
    gate.set()


@pytest.mark.parametrize(("how", "then"), [("release", "pooled"), ("close", "new")])
def test_release_returns_at_once_and_the_connection_goes_back_when_the_drain_ends(
    sse_server: SSEServer, held: Held, path: Path, how: str, then: str
) -> None:
    url, gate = held.url, held.gate
    other = sse_server.add(Route("/other", CHUNKS[:1]))
    made: list[str] = []

    async def run() -> float:
        async with aiohttp.ClientSession(trace_configs=[connections_made(made)]) as session:
            async with use_cassette(path, record_mode="rewrite"):
                response = await session.post(url, data=b"x")
                assert await response.content.readany() == CHUNKS[0]
                started = time.perf_counter()
                if how == "release":
                    await response.release()
                else:
                    response.close()
                returned = time.perf_counter() - started
                gate.set()
            # leaving the async block waited for the drain; the connection is free again
            async with session.get(other) as response:
                assert await response.read() == CHUNKS[0]
            return returned

    returned = asyncio.run(run())
    assert returned < 1.0  # not the drain's 5 s: the server was holding chunk 3 meanwhile
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end.client is not None
    assert (inter.end.client.chunks, inter.end.client.bytes) == (1, len(CHUNKS[0]))
    assert made == ["new", then]  # released: back to the pool; closed: closed at the end


def test_a_drained_connection_goes_back_to_the_pool_fit_for_the_next_request(
    sse_server: SSEServer, held: Held, path: Path
) -> None:
    url, gate = held.url, held.gate
    other = sse_server.add(Route("/other", CHUNKS[:1]))
    made: list[str] = []

    async def run() -> bytes:
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(sock_read=0.3), trace_configs=[connections_made(made)]
        ) as session:
            async with use_cassette(path, record_mode="rewrite"):
                async with session.post(url, data=b"x") as response:
                    await response.content.readany()
                gate.set()
            # the read timeout aiohttp stops at the end of a body must not fire in the pool
            await asyncio.sleep(0.5)
            async with session.get(other) as response:
                return await response.read()

    assert asyncio.run(run()) == CHUNKS[0]
    assert made == ["new", "pooled"]
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"


def test_a_caller_that_lagged_behind_is_drained_past_aiohttps_flow_control(
    sse_server: SSEServer, path: Path
) -> None:
    big = [b"data: %s\n\n" % (b"x" * 8000) for _ in range(200)]  # past the reader's high water
    url = sse_server.add(Route("/big", big))

    async def run() -> None:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=b"x") as response,
        ):
            await response.content.readany()
            await asyncio.sleep(0.3)  # the reader fills up and aiohttp stops reading the socket

    with use_cassette(path, record_mode="rewrite", drain_timeout=3.0):
        asyncio.run(run())
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"
    assert b"".join(c.data for c in inter.chunks) == b"".join(big)


def test_leaving_a_with_block_while_a_drain_runs_ends_the_recording_there(
    held: Held, path: Path
) -> None:
    url = held.url

    async def run() -> None:
        async with aiohttp.ClientSession() as session:
            with use_cassette(path, record_mode="rewrite"):  # a sync block cannot wait
                async with session.post(url, data=b"x") as response:
                    assert response.connection is not None
                    protocol = response.connection.protocol
                    await response.content.readany()
            await asyncio.sleep(0.05)
            assert protocol is not None
            assert protocol.transport is None  # the drain let go: the connection is closed

    asyncio.run(run())
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"  # as httpx's streams open when a block ends
    assert 1 <= len(inter.chunks) <= 3
    assert [c.data for c in inter.chunks] == CHUNKS[: len(inter.chunks)]
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1


def test_a_block_that_ends_while_the_caller_reads_ends_the_recording_and_the_caller_reads_on(
    held: Held, path: Path
) -> None:
    url, gate = held.url, held.gate

    async def run() -> list[bytes]:
        async with aiohttp.ClientSession() as session:
            with use_cassette(path, record_mode="rewrite"):
                response = await session.post(url, data=b"x")
                got = [await response.content.readany()]
            gate.set()
            got += [chunk async for chunk in response.content.iter_any()]
            response.release()
            return got

    got = asyncio.run(run())
    assert b"".join(got) == b"".join(CHUNKS)  # the caller lost nothing
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert 1 <= len(inter.chunks) <= 3
    assert [c.data for c in inter.chunks] == CHUNKS[: len(inter.chunks)]
    assert inter.end.client is not None  # where the caller was when the block ended
    assert inter.end.client.bytes == len(got[0])


def test_the_loop_shutting_down_ends_a_drain_as_interrupted_without_leaks(
    held: Held, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = held.url
    left_open: list[aiohttp.ClientSession] = []

    async def run() -> None:
        session = aiohttp.ClientSession()  # never closed: the loop ends with the drain running
        left_open.append(session)
        async with session.post(url, data=b"x") as response:
            await response.content.readany()
        await asyncio.sleep(0.1)  # chunks 1 and 2 come while draining

    with (
        caplog.at_level(logging.WARNING, "asyncio"),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        with use_cassette(path, record_mode="rewrite"):
            asyncio.run(run())
        left_open.clear()
        gc.collect()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks] == CHUNKS[:3]  # nothing that came was lost
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    # aiohttp's own word on the session left open, and nothing else: no "Task was destroyed but
    # it is pending!", nothing about a connection or a socket left open
    logged = {r.getMessage().split("\n")[0] for r in caplog.records}
    assert logged <= {"Unclosed client session"}
    assert [str(w.message).split(" <")[0] for w in caught] == ["Unclosed client session"]


def test_a_loop_closed_without_cancelling_its_tasks_leaves_the_drain_to_the_block_end(
    held: Held, path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = held.url
    left_open: list[aiohttp.ClientSession] = []

    async def run() -> None:
        session = aiohttp.ClientSession()  # never closed, and the loop's tasks never cancelled
        left_open.append(session)
        async with session.post(url, data=b"x") as response:
            await response.content.readany()
        await asyncio.sleep(0.1)  # chunks 1 and 2 come while draining

    with caplog.at_level(logging.WARNING, "asyncio"), warnings.catch_warnings():
        # what the loop's owner left open (the session, and the drain's connection with
        # it) is aiohttp's and asyncio's to warn about
        warnings.simplefilter("ignore", ResourceWarning)
        with use_cassette(path, record_mode="rewrite"):
            loop = asyncio.new_event_loop()
            try:
                loop.run_until_complete(run())
            finally:
                loop.close()
        left_open.clear()
        gc.collect()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"  # ended when the block did
    assert [c.data for c in inter.chunks] == CHUNKS[:3]
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    # no "Task was destroyed but it is pending!", and the drain raised nothing when collected
    assert {r.getMessage().split("\n")[0] for r in caplog.records} <= {"Unclosed client session"}


def test_a_connector_closed_under_a_drain_ends_it_as_interrupted_at_once(
    held: Held, path: Path
) -> None:
    url = held.url

    async def run(tape: Tape) -> None:
        connector = aiohttp.TCPConnector()  # shared: closing the session leaves it open
        async with aiohttp.ClientSession(connector=connector, connector_owner=False) as session:
            async with session.post(url, data=b"x") as response:
                await response.content.readany()
            await asyncio.sleep(0.1)  # chunks 1 and 2 come while draining
            await connector.close()
            await asyncio.sleep(0.1)
            [inter] = tape.recorded  # ended while the loop runs, not at its 5 s drain_timeout
            assert inter.end is not None
            assert inter.end.outcome == "interrupted"
            assert [c.data for c in inter.chunks] == CHUNKS[:3]

    with use_cassette(path, record_mode="rewrite") as tape:
        asyncio.run(run(tape))


def test_a_session_close_cut_short_still_closes_the_session_and_ends_the_drain(
    held: Held, path: Path
) -> None:
    url = held.url

    async def run(tape: Tape) -> None:
        session = aiohttp.ClientSession()
        async with session.post(url, data=b"x") as response:
            await response.content.readany()
        with pytest.raises(asyncio.TimeoutError):  # the close waits for the drain, cut short
            await asyncio.wait_for(session.close(), 0.2)
        assert session.closed
        await asyncio.sleep(0.05)
        [inter] = tape.recorded
        assert inter.end is not None
        assert inter.end.outcome == "interrupted"
        assert [c.data for c in inter.chunks] == CHUNKS[:3]

    with use_cassette(path, record_mode="rewrite") as tape:
        asyncio.run(run(tape))


# -- the openai SDK's aiohttp backend -----------------------------------------------------------


def test_openai_sdk_with_its_aiohttp_client_records_and_replays_offline(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_server.add(Route("/v1/responses", sse_chunks(FIXTURE), delays=0.0002))
    base = own_server.url
    with use_cassette(path) as tape:
        live = asyncio.run(openai_async(base, SECRET, openai.DefaultAioHttpClient()))
    assert len(tape.recorded) == 2
    types, text = live
    assert "response.output_text.delta" in types
    assert types[-1] == "response.completed"
    assert text
    raw = Cassette.read_ndjson(path)
    for fragment in (SECRET, SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    recorded = [c.data for c in tape.recorded[0].chunks]
    assert b"".join(recorded) == b"".join(sse_chunks(FIXTURE))
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT) as t:
        assert asyncio.run(openai_async(base, SECRET, openai.DefaultAioHttpClient())) == live
    assert attempts == []
    assert len(t.played) == 2


def test_a_streamed_request_body_is_recorded_sent_and_matched(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/up", CHUNKS[:1]))
    data = b'{"input": "uploaded"}'

    async def post() -> bytes:
        async def parts() -> AsyncIterator[bytes]:
            yield data[:5]
            yield data[5:]

        async with aiohttp.ClientSession() as session, session.post(url, data=parts()) as r:
            return await r.read()

    with use_cassette(path, record_mode="rewrite"):
        assert asyncio.run(post()) == CHUNKS[0]
    assert sse_server.requests[0].body == data  # sent whole
    [inter] = Cassette.load(path)
    assert inter.request.body == data
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert asyncio.run(post()) == CHUNKS[0]


def test_aiohttp_is_patched_when_imported_inside_a_block_and_not_imported_before(
    tmp_path: Path,
) -> None:
    script = f"""
import sys
import streamtape
path = {str(tmp_path / "lazy.ndjson.zst")!r}
with streamtape.use_cassette(path, record_mode="rewrite"):
    assert "aiohttp" not in sys.modules, "entering a block imported aiohttp"
    import aiohttp
    assert hasattr(aiohttp.ClientSession.__dict__["_request"], "__wrapped__")  # patched
with streamtape.use_cassette(path, record_mode="rewrite"):
    assert hasattr(aiohttp.ClientSession.__dict__["_request"], "__wrapped__")
assert not hasattr(aiohttp.ClientSession.__dict__["_request"], "__wrapped__")
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_json_bodies_statuses_and_raise_for_status_replay_as_recorded(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ok = own_server.add(json_route("/ok", {"answer": 42}, headers=[("Set-Cookie", "s=1")]))
    missing = own_server.add(json_route("/missing", {"error": "nope"}, status=404))

    async def run() -> tuple[object, str, int, str]:
        async with aiohttp.ClientSession() as session:
            async with session.get(ok) as r:
                answer = await r.json()
                cookie = r.cookies["s"].value
            with pytest.raises(aiohttp.ClientResponseError) as raised:
                await session.get(missing, raise_for_status=True)
            return answer, cookie, raised.value.status, raised.value.message

    with use_cassette(path, record_mode="rewrite"):
        live = asyncio.run(run())
    assert live == ({"answer": 42}, "1", 404, "Not Found")
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT):
        answer, cookie, status, message = asyncio.run(run())
    assert attempts == []
    assert (answer, status, message) == (live[0], live[2], live[3])
    assert cookie == "<redacted>"  # Set-Cookie values never reach the cassette


def test_a_websocket_handshake_passes_through_untaped(path: Path) -> None:
    from aiohttp import web

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async for message in ws:
            await ws.send_str(message.data.upper())
        return ws

    async def run() -> str:
        app = web.Application()
        app.router.add_get("/ws", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"http://127.0.0.1:{port}/ws") as ws,
            ):
                await ws.send_str("hi")
                return (await ws.receive()).data  # type: ignore[no-any-return]
        finally:
            await runner.cleanup()

    # not taped, so the seal says so: the block recorded nothing and aiohttp connected
    with (
        pytest.warns(StreamtapeWarning, match=r"recorded nothing(.|\n)* by aiohttp"),
        use_cassette(path, record_mode="rewrite") as tape,
    ):
        assert asyncio.run(run()) == "HI"
    assert tape.interactions == []
