"""aiohttp through use_cassette: recorded chunk by chunk from a real loopback server, replayed
with the server stopped and no socket connecting, chunk-exact, on the recorded schedule, and
into (and from) the other stacks."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import httpx
import openai
import pytest
import requests
from offline import no_connections, own_server
from sse_server import FIXTURES, Route, SSEServer, json_route, sse_chunks

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.errors import NoMatchError, StreamtapeWarning
from streamtape.tape import use_cassette
from streamtape.transport import INSTANT

__all__ = ["own_server"]  # the fixture, imported to be used here

SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
CHUNKS = [b'data: {"n": %d}\n\n' % i for i in range(6)]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "aiohttp.ndjson.zst"


async def iter_any(
    url: str, body: str = "hi", headers: dict[str, str] | None = None
) -> list[bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"input": body}, headers=headers) as response,
    ):
        assert response.status == 200
        return [chunk async for chunk in response.content.iter_any()]


async def iter_chunked(url: str, n: int) -> list[bytes]:
    async with aiohttp.ClientSession() as session, session.post(url, json={"input": "hi"}) as r:
        return [chunk async for chunk in r.content.iter_chunked(n)]


def recorded(path: Path, i: int = 0) -> list[bytes]:
    """The body chunks of interaction ``i`` as the cassette holds them (what the wire gave:
    a caller that lags behind may have read two of them in one go)."""
    return [c.data for c in Cassette.load(path).interactions[i].chunks]


def record(server: SSEServer, path: Path, route: Route) -> tuple[str, list[bytes]]:
    url = server.add(route)
    with use_cassette(path, record_mode="rewrite") as tape:
        live = asyncio.run(iter_any(url))
    assert len(tape.recorded) == 1
    return url, live


def test_iter_any_replays_the_recorded_chunks_with_the_server_stopped(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, live = record(own_server, path, Route("/s", CHUNKS, delays=0.01))
    assert b"".join(live) == b"".join(CHUNKS)
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end is not None
    assert inter.end.outcome == "complete"
    own_server.stop()
    with no_connections(monkeypatch) as attempts, use_cassette(path, "none", speed=INSTANT) as t:
        assert asyncio.run(iter_any(url)) == CHUNKS
    assert attempts == []
    assert len(t.played) == 1


def test_chunks_reach_the_caller_while_the_server_is_still_sending(
    sse_server: SSEServer, path: Path
) -> None:
    gate = threading.Event()
    url = sse_server.add(Route("/g", CHUNKS[:2], gates={1: gate}))

    async def first_then_release() -> list[bytes]:
        async with aiohttp.ClientSession() as session, session.post(url, data=b"x") as r:
            first = await r.content.readany()  # arrives while chunk 2 is held by the server
            gate.set()
            return [first, *[c async for c in r.content.iter_any()]]

    with use_cassette(path, record_mode="rewrite"):
        assert asyncio.run(first_then_release()) == CHUNKS[:2]
    assert recorded(path) == CHUNKS[:2]  # the held-back chunk too, as it arrived
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"


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


def test_replay_waits_are_the_recorded_gaps_over_speed(sse_server: SSEServer, path: Path) -> None:
    record(sse_server, path, Route("/t", CHUNKS[:3], delays=[0.0, 0.03, 0.03]))
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert inter.end is not None
    points = [inter.response.offset_ns, *(c.offset_ns for c in inter.chunks), inter.end.offset_ns]
    gaps = [b - a for a, b in zip([0, *points], points, strict=False)]
    assert max(gaps) >= 15_000_000  # the server's 30 ms pauses were recorded
    waits: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        waits.append(seconds)

    url = sse_server.url + "/t"
    with use_cassette(path, record_mode="none", speed=4.0, async_sleep=fake_sleep):
        assert asyncio.run(iter_any(url)) == CHUNKS[:3]
    assert waits == pytest.approx([g / 1e9 / 4.0 for g in gaps])
    waits.clear()
    with use_cassette(path, record_mode="none", speed=INSTANT, async_sleep=fake_sleep):
        assert asyncio.run(iter_any(url)) == CHUNKS[:3]
    assert waits == []
    with use_cassette(path, record_mode="none", max_gap=0.005, async_sleep=fake_sleep):
        assert asyncio.run(iter_any(url)) == CHUNKS[:3]
    assert waits == pytest.approx([min(g / 1e9, 0.005) for g in gaps])
    assert max(waits) == pytest.approx(0.005)  # the 30 ms pauses were capped
    # on the real clock, a replay at speed 2 takes at least half the recorded duration
    start = time.perf_counter()
    with use_cassette(path, record_mode="none", speed=2.0):
        assert asyncio.run(iter_any(url)) == CHUNKS[:3]
    assert time.perf_counter() - start >= inter.end.offset_ns / 1e9 / 2 * 0.95


def test_a_broken_stream_raises_client_payload_error_at_the_same_chunk(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/b", CHUNKS, delays=0.005, break_after=3))

    async def read() -> tuple[list[bytes], BaseException]:
        got: list[bytes] = []
        async with aiohttp.ClientSession() as session, session.post(url, data=b"x") as r:
            try:
                async for chunk in r.content.iter_any():
                    got.append(chunk)
            except aiohttp.ClientPayloadError as exc:
                return got, exc
        raise AssertionError("the stream did not break")

    with use_cassette(path, record_mode="rewrite"):
        live, live_error = asyncio.run(read())
    assert b"".join(live) == b"".join(CHUNKS[:3])
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == CHUNKS[:3]
    assert inter.end is not None
    assert inter.end.outcome == "error"
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        replayed, replayed_error = asyncio.run(read())
    assert replayed == CHUNKS[:3]
    assert type(replayed_error) is type(live_error)
    assert str(replayed_error) == str(live_error)


def test_a_request_with_no_recording_is_refused_without_connecting(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = record(own_server, path, Route("/n", CHUNKS[:1]))
    own_server.stop()
    with (
        no_connections(monkeypatch) as attempts,
        use_cassette(path, "none", speed=INSTANT),
        pytest.raises(NoMatchError, match="new_episodes"),
    ):
        asyncio.run(iter_any(url, body="something else"))
    assert attempts == []


def test_new_episodes_replays_the_match_and_records_the_miss(
    sse_server: SSEServer, path: Path
) -> None:
    url, _ = record(sse_server, path, Route("/e", CHUNKS[:2]))
    [old] = Cassette.load(path)
    sse_server.requests.clear()
    with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
        assert asyncio.run(iter_any(url)) == [c.data for c in old.chunks]
        assert b"".join(asyncio.run(iter_any(url, body="new"))) == b"".join(CHUNKS[:2])
    assert len(tape.played) == 1
    assert len(tape.recorded) == 1
    assert len(sse_server.requests) == 1  # only the miss reached the server
    assert b'"new"' in sse_server.requests[0].body
    assert len(Cassette.load(path).interactions) == 2


def test_an_authorization_header_is_redacted(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/r", CHUNKS[:1]))
    with use_cassette(path, record_mode="rewrite"):
        asyncio.run(iter_any(url, headers={"Authorization": f"Bearer {SECRET}"}))
    [received] = sse_server.requests
    assert dict(received.headers)["Authorization"] == f"Bearer {SECRET}"
    raw = Cassette.read_ndjson(path)
    assert b"Authorization" in raw
    for fragment in (SECRET, SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    # the redacted recording still matches the request that carries the secret
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert asyncio.run(iter_any(url, headers={"Authorization": f"Bearer {SECRET}"}))


def test_recorded_by_aiohttp_replays_into_httpx_and_requests(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ = record(own_server, path, Route("/x", CHUNKS, delays=0.002))
    live = recorded(path)
    assert live == CHUNKS
    own_server.stop()
    with no_connections(monkeypatch) as attempts:
        with (
            use_cassette(path, "none", speed=INSTANT),
            httpx.Client() as client,
            client.stream("POST", url, json={"input": "hi"}) as response,
        ):
            assert list(response.iter_raw()) == live
        with use_cassette(path, "none", speed=INSTANT):
            answer = requests.post(url, json={"input": "hi"}, stream=True)
            assert list(answer.iter_content(None)) == live
    assert attempts == []


def test_recorded_by_httpx_replays_into_aiohttp(
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
        assert asyncio.run(iter_any(url)) == live
    assert attempts == []


def test_a_gzip_body_is_recorded_decoded_and_replays_into_both_stacks(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/z", CHUNKS, delays=0.002, gzip=True))
    with use_cassette(path, record_mode="rewrite"):
        live = asyncio.run(iter_any(url))
    assert b"".join(live) == b"".join(CHUNKS)
    [inter] = Cassette.load(path)
    decoded = recorded(path)
    assert inter.response is not None
    names = {k.lower() for k, _ in inter.response.headers}
    assert "content-encoding" not in names  # the cassette holds what aiohttp decoded
    own_server.stop()
    with no_connections(monkeypatch):
        with use_cassette(path, "none", speed=INSTANT):
            assert asyncio.run(iter_any(url)) == decoded
        with use_cassette(path, "none", speed=INSTANT), httpx.Client() as client:
            assert client.post(url, json={"input": "hi"}).content == b"".join(CHUNKS)


def test_a_gzip_body_recorded_by_httpx_is_decoded_by_aiohttp_on_replay(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = own_server.add(Route("/zz", CHUNKS, delays=0.002, gzip=True))
    with use_cassette(path, record_mode="rewrite"), httpx.Client() as client:
        assert client.post(url, json={"input": "hi"}).content == b"".join(CHUNKS)
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert ("content-encoding", "gzip") in [(k.lower(), v) for k, v in inter.response.headers]
    own_server.stop()
    with no_connections(monkeypatch), use_cassette(path, "none", speed=INSTANT):
        assert b"".join(asyncio.run(iter_any(url))) == b"".join(CHUNKS)


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


def test_the_patches_are_undone_after_the_block(path: Path) -> None:
    request = aiohttp.ClientSession.__dict__["_request"]
    feed = aiohttp.StreamReader.__dict__["feed_data"]
    with CassetteWriter(path) as writer:  # a cassette to replay: the block records nothing
        writer.begin("GET", "http://127.0.0.1:9/unrelated").end()
    with use_cassette(path, record_mode="none"):
        assert aiohttp.ClientSession.__dict__["_request"] is not request
        assert aiohttp.StreamReader.__dict__["feed_data"] is not feed
    assert aiohttp.ClientSession.__dict__["_request"] is request
    assert aiohttp.StreamReader.__dict__["feed_data"] is feed


# -- the openai SDK's aiohttp backend -----------------------------------------------------------


async def openai_aiohttp(base: str) -> tuple[list[str], str]:
    async with openai.AsyncOpenAI(
        base_url=base + "/v1",
        api_key=SECRET,
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    ) as client:
        stream = await client.responses.create(model="gpt-4o", input="capital?", stream=True)
        types: list[str] = [event.type async for event in stream]
        async with client.responses.stream(model="gpt-4o", input="capital?") as managed:
            types += [event.type async for event in managed]
            final = await managed.get_final_response()
    return types, final.output_text


def test_openai_sdk_with_its_aiohttp_client_records_and_replays_offline(
    own_server: SSEServer, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    own_server.add(Route("/v1/responses", sse_chunks(FIXTURE), delays=0.0002))
    base = own_server.url
    with use_cassette(path) as tape:
        live = asyncio.run(openai_aiohttp(base))
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
        assert asyncio.run(openai_aiohttp(base)) == live
    assert attempts == []
    assert len(t.played) == 2


def test_the_socket_guard_catches_a_request_that_goes_out(
    sse_server: SSEServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = sse_server.add(Route("/out", CHUNKS[:1]))
    with no_connections(monkeypatch) as attempts, pytest.raises(aiohttp.ClientConnectionError):
        asyncio.run(iter_any(url))
    assert len(attempts) == 1


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
