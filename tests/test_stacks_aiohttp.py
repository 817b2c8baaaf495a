"""aiohttp through use_cassette, what only aiohttp has: ``iter_chunked`` slicing the recorded
chunks, bodies recorded as aiohttp decoded them, the openai SDK's aiohttp backend, the patch
made on import, JSON bodies, cookies and statuses, a websocket passing through. What every
stack does (replay with the server stopped, timing, matching, redaction, replay into the other
stacks) is in tests/test_stacks.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import openai
import pytest
from clients import CLIENTS, openai_async, recorded
from offline import no_connections, own_server
from sse_server import FIXTURES, Route, SSEServer, json_route, sse_chunks

from streamtape.cassette import Cassette
from streamtape.errors import StreamtapeWarning
from streamtape.tape import use_cassette
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


def test_a_response_closed_early_is_recorded_as_closed(sse_server: SSEServer, path: Path) -> None:
    held = threading.Event()  # the server holds chunk 1 until the caller has gone
    url = sse_server.add(Route("/early", CHUNKS, gates={1: held}))

    async def first_only() -> bytes:
        async with aiohttp.ClientSession() as session, session.post(url, data=b"x") as r:
            return await r.content.readany()

    with use_cassette(path, record_mode="rewrite"):
        assert asyncio.run(first_only()) == CHUNKS[0]
    held.set()
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert [c.data for c in inter.chunks] == CHUNKS[:1]


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
