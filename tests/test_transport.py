"""Recording through real sockets and replaying, for httpx and httpx2, sync and async."""

from __future__ import annotations

import asyncio
import itertools
import random
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import httpx2
import msgspec
import pytest
import trio
from sse_server import FIXTURES, SSE_FIXTURES, Route, SSEServer, json_route, sse_chunks

from streamtape.cassette import Cassette, CassetteWriter, ErrorInfo
from streamtape.decode import EventDecoder
from streamtape.errors import CassetteError, NoMatchError
from streamtape.matching import Matcher
from streamtape.transport import INSTANT, RecordingTransport, ReplayTransport

LIBS = {"httpx": httpx, "httpx2": httpx2}
SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"


@pytest.fixture(params=sorted(LIBS))
def lib(request: pytest.FixtureRequest) -> ModuleType:
    return LIBS[request.param]


@pytest.fixture
def cassette_path(tmp_path: Path) -> Path:
    return tmp_path / "tape.ndjson.zst"


def recorder(lib: ModuleType, path: Path, *, asynchronous: bool = False) -> Any:
    """A client of ``lib`` recording into ``path`` (the writer is closed with the client)."""
    writer = CassetteWriter(path)
    if asynchronous:
        transport = RecordingTransport(lib.AsyncHTTPTransport(), writer)
        client = lib.AsyncClient(transport=transport)
    else:
        transport = RecordingTransport(lib.HTTPTransport(), writer)
        client = lib.Client(transport=transport)
    client._test_writer = writer
    return client


def player(lib: ModuleType, path: Path, *, asynchronous: bool = False, **options: Any) -> Any:
    options.setdefault("speed", INSTANT)
    transport = ReplayTransport(Cassette.load(path), **options)
    if asynchronous:
        return lib.AsyncClient(transport=transport)
    return lib.Client(transport=transport)


def read_sync(
    client: Any, url: str, how: str = "iter_raw", first: int | None = None, **kwargs: Any
) -> list[Any]:
    """The body of a POST to ``url``, read with the response's ``how`` reader; with ``first``,
    only that many pieces: then the caller leaves, closing the stream early."""
    with client.stream("POST", url, **kwargs) as response:
        if how == "read":
            return [response.read()]
        return list(itertools.islice(getattr(response, how)(), first))


async def read_async(
    client: Any, url: str, how: str = "aiter_raw", first: int | None = None, **kwargs: Any
) -> list[Any]:
    """The async twin of :func:`read_sync`."""
    async with client.stream("POST", url, **kwargs) as response:
        if how == "aread":
            return [await response.aread()]
        got = []
        async for piece in getattr(response, how)():
            got.append(piece)
            if len(got) == first:
                break
        return got


def events_of(chunks: list[bytes]) -> list[Any]:
    decoder = EventDecoder()
    events = [e for chunk in chunks for e in decoder.feed(chunk)]
    return events + decoder.close()


# -- record, then replay the same ---------------------------------------------------------------


@pytest.mark.parametrize("fixture", SSE_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_record_then_replay_gives_the_same_chunks_and_events(
    sse_server: SSEServer, cassette_path: Path, fixture: Path
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(fixture), delays=[0.001] * 3))
    with recorder(httpx, cassette_path) as client:
        live = read_sync(client, url, json={"stream": True})
        client._test_writer.close()
    assert b"".join(live) == fixture.read_bytes()
    [inter] = Cassette.load(cassette_path)
    assert [c.data for c in inter.chunks] == live
    assert inter.complete
    assert inter.events() == events_of(live)
    offsets = [c.offset_ns for c in inter.chunks]
    assert offsets == sorted(offsets)
    assert inter.response is not None
    assert 0 < inter.response.offset_ns <= offsets[0]
    requests_before = len(sse_server.requests)
    with player(httpx, cassette_path) as client:
        replayed = read_sync(client, url, json={"stream": True})
    assert replayed == live
    assert events_of(replayed) == events_of(live)
    assert len(sse_server.requests) == requests_before  # replay never touched the server


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_httpx_and_httpx2_record_and_replay(
    sse_server: SSEServer, cassette_path: Path, lib: ModuleType, asynchronous: bool
) -> None:
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/v1/responses", chunks, delays=0.0005))

    async def run_async() -> tuple[list[bytes], list[bytes], Any]:
        async with recorder(lib, cassette_path, asynchronous=True) as client:
            live = await read_async(client, url, json={"n": 1})
            client._test_writer.close()
        async with (
            player(lib, cassette_path, asynchronous=True) as client,
            client.stream("POST", url, json={"n": 1}) as response,
        ):
            replayed = [c async for c in response.aiter_raw()]
        return live, replayed, response

    if asynchronous:
        live, replayed, response = asyncio.run(run_async())
    else:
        with recorder(lib, cassette_path) as client:
            live = read_sync(client, url, json={"n": 1})
            client._test_writer.close()
        with (
            player(lib, cassette_path) as client,
            client.stream("POST", url, json={"n": 1}) as response,
        ):
            replayed = list(response.iter_raw())
    assert isinstance(response, lib.Response)
    assert b"".join(live) == FIXTURE.read_bytes()
    assert replayed == live
    assert response.status_code == 200
    assert response.http_version == "HTTP/1.1"
    assert response.reason_phrase == "OK"
    assert response.headers["content-type"] == "text/event-stream"


def test_a_cassette_recorded_with_httpx_replays_to_httpx2(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with recorder(httpx, cassette_path) as client:
        live = read_sync(client, url)
        client._test_writer.close()
    with player(httpx2, cassette_path) as client:
        assert read_sync(client, url) == live


def test_the_transports_are_typed_as_httpx2_transports_too(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    # written without Any, so that mypy --strict checks both classes as httpx2 transports
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with CassetteWriter(cassette_path) as writer:
        recording = RecordingTransport(httpx2.HTTPTransport(), writer)
        with httpx2.Client(transport=recording) as client:
            live: httpx2.Response = client.post(url)
    replay = ReplayTransport(cassette_path, speed=INSTANT)
    response: httpx2.Response = replay.handle_request(httpx2.Request("POST", url))
    assert response.read() == live.content == FIXTURE.read_bytes()
    old: httpx.Response = ReplayTransport(cassette_path, speed=INSTANT).handle_request(
        httpx.Request("POST", url)
    )
    assert old.read() == live.content


def test_response_headers_replay_as_recorded(sse_server: SSEServer, cassette_path: Path) -> None:
    headers = [("Content-Type", "text/event-stream"), ("X-Dup", "1"), ("x-dup", "2")]
    url = sse_server.add(Route("/h", [b"data: 1\n\n"], headers=headers))
    with recorder(httpx, cassette_path) as client:
        with client.stream("GET", url) as live:
            live.read()
        client._test_writer.close()
    with player(httpx, cassette_path) as client, client.stream("GET", url) as replayed:
        replayed.read()
    assert replayed.headers.raw == live.headers.raw
    assert replayed.headers.get_list("x-dup") == ["1", "2"]


@pytest.mark.parametrize("how", ["iter_raw", "iter_bytes", "iter_lines", "iter_text", "read"])
def test_every_sync_way_of_reading_records_the_whole_stream(
    sse_server: SSEServer, cassette_path: Path, how: str
) -> None:
    url = sse_server.add(Route("/r", sse_chunks(FIXTURE), delays=0.0005))
    with recorder(httpx, cassette_path) as client:
        live = read_sync(client, url, how)
        client._test_writer.close()
    [inter] = Cassette.load(cassette_path)
    assert inter.complete
    assert inter.wire_body == FIXTURE.read_bytes()
    with player(httpx, cassette_path) as client:
        assert read_sync(client, url, how) == live


@pytest.mark.parametrize("how", ["aiter_raw", "aiter_bytes", "aiter_lines", "aiter_text", "aread"])
def test_every_async_way_of_reading_records_the_whole_stream(
    sse_server: SSEServer, cassette_path: Path, how: str
) -> None:
    url = sse_server.add(Route("/r", sse_chunks(FIXTURE), delays=0.0005))

    async def run() -> None:
        async with recorder(httpx2, cassette_path, asynchronous=True) as client:
            live = await read_async(client, url, how)
            client._test_writer.close()
        [inter] = Cassette.load(cassette_path)
        assert inter.complete
        assert inter.wire_body == FIXTURE.read_bytes()
        async with player(httpx2, cassette_path, asynchronous=True) as client:
            assert await read_async(client, url, how) == live

    asyncio.run(run())


# -- live pass-through --------------------------------------------------------------------------


def test_recording_passes_each_chunk_on_as_it_arrives(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    gate = threading.Event()
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/live", chunks, gates={1: gate}))
    try:
        with recorder(httpx, cassette_path) as client, client.stream("POST", url) as response:
            stream = response.iter_raw()
            first = next(stream)
            received_ns = time.perf_counter_ns()
            sent = sse_server.sent_on("/live")
            # the server holds chunk 1 until the client has chunk 0: nothing was buffered
            assert len(sent) == 1
            assert first == sent[0].data
            assert received_ns - sent[0].at_ns < 200_000_000
            gate.set()
            rest = list(stream)
    finally:
        gate.set()
    assert [first, *rest] == chunks


# -- wire time ----------------------------------------------------------------------------------


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_slow_client_records_the_server_gaps_not_its_own(
    sse_server: SSEServer, cassette_path: Path, lib: ModuleType, asynchronous: bool
) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(8)]
    url = sse_server.add(Route("/slow-client", chunks, delays=0.05))
    got: list[bytes] = []

    def sync_run() -> None:
        with recorder(lib, cassette_path) as client, client.stream("POST", url) as response:
            for chunk in response.iter_raw():
                got.append(chunk)
                if len(got) == 1:
                    time.sleep(1.0)  # the client pauses (a tool runs); the server does not
            client._test_writer.close()

    async def async_run() -> None:
        async with recorder(lib, cassette_path, asynchronous=True) as client:
            async with client.stream("POST", url) as response:
                async for chunk in response.aiter_raw():
                    got.append(chunk)
                    if len(got) == 1:
                        await asyncio.sleep(1.0)
            client._test_writer.close()

    asyncio.run(async_run()) if asynchronous else sync_run()
    assert b"".join(got) == b"".join(chunks)
    [inter] = Cassette.load(cassette_path)
    assert inter.complete
    sent = sse_server.sent_on("/slow-client")
    sent_gaps = [(b.at_ns - a.at_ns) / 1e9 for a, b in itertools.pairwise(sent)]
    offsets = [c.offset_ns for c in inter.chunks]
    recorded_gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(offsets)]
    assert len(recorded_gaps) == len(sent_gaps)  # one write, one read: TCP_NODELAY, 50 ms apart
    assert max(recorded_gaps) < 0.5, recorded_gaps  # not the client's 1 s pause
    # each gap is the server's (50 ms), give or take a loaded machine's stalls; never the 1 s
    assert all(abs(r - s) < 0.3 for r, s in zip(recorded_gaps, sent_gaps, strict=True))
    timing = inter.timing()
    assert timing.duration < 1.0  # the stream ended on the wire long before the client read it
    assert timing.client_end is not None
    assert timing.client_end > 1.0


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_read_stream_gives_its_connection_back_to_the_pool(
    sse_server: SSEServer, cassette_path: Path, lib: ModuleType, asynchronous: bool
) -> None:
    url = sse_server.add(Route("/pool", [b"data: 1\n\n", b"data: 2\n\n"]))
    writer = CassetteWriter(cassette_path)
    # one connection, a short pool timeout: a stream that kept it would time the next one out
    limits = lib.Limits(max_connections=1)
    timeout = lib.Timeout(5.0, pool=1.0)

    async def async_run() -> None:
        transport = RecordingTransport(lib.AsyncHTTPTransport(limits=limits), writer)
        async with lib.AsyncClient(transport=transport, timeout=timeout) as client:
            for _ in range(5):
                await read_async(client, url)
            for _ in range(3):
                await read_async(client, url, "aread")

    if asynchronous:
        asyncio.run(async_run())
    else:
        transport = RecordingTransport(lib.HTTPTransport(limits=limits), writer)
        with lib.Client(transport=transport, timeout=timeout) as client:
            for _ in range(5):
                read_sync(client, url)
            for _ in range(3):
                client.post(url)
    writer.close()
    assert len(Cassette.load(cassette_path)) == 8
    assert all(i.complete for i in Cassette.load(cassette_path))


def test_recording_under_trio_reads_inline(sse_server: SSEServer, cassette_path: Path) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(6)]
    url = sse_server.add(Route("/trio", chunks, delays=0.005))

    async def main() -> list[bytes]:
        async with recorder(httpx, cassette_path, asynchronous=True) as client:
            whole = await read_async(client, url)
            async with client.stream("POST", url):
                pass  # closed unread (a break would leave httpx's generators to trio's GC)
            client._test_writer.close()
        return whole

    with pytest.raises(RuntimeError):  # no asyncio loop here: the inline path is the one taken
        asyncio.get_running_loop()
    whole = trio.run(main)
    assert b"".join(whole) == b"".join(chunks)
    complete, closed = Cassette.load(cassette_path)
    assert complete.complete
    assert [c.data for c in complete.chunks] == whole
    assert closed.end is not None
    assert closed.end.outcome == "closed"  # no task to drain with: as before the read-ahead


# -- how streams end ----------------------------------------------------------------------------

SYNC_READERS = ["iter_raw", "iter_bytes", "iter_lines", "iter_text"]
ASYNC_READERS = ["aiter_raw", "aiter_bytes", "aiter_lines", "aiter_text"]


@pytest.mark.parametrize("how", SYNC_READERS)
def test_early_close_keeps_the_whole_stream_and_replays_to_the_same_point(
    sse_server: SSEServer, cassette_path: Path, how: str
) -> None:
    chunks = [b"data: %d\n\n" % i for i in range(10)]
    gate = threading.Event()  # the rest comes 0.3 s later: the client has closed by then
    url = sse_server.add(Route("/e", chunks, delays=0.001, gates={5: gate}))

    opener = threading.Timer(0.3, gate.set)
    opener.start()
    try:
        with recorder(httpx, cassette_path) as client:
            live = read_sync(client, url, how, first=3)
            client._test_writer.close()
    finally:
        opener.cancel()
        gate.set()
    [inter] = Cassette.load(cassette_path)
    assert inter.end is not None
    assert inter.end.outcome == "complete"  # the recorder read on after the client closed
    assert inter.wire_body == b"".join(chunks)
    assert inter.end.client is not None
    assert 1 <= inter.end.client.chunks < len(chunks)
    assert inter.end.client.offset_ns <= inter.end.offset_ns
    with player(httpx, cassette_path) as client:
        assert read_sync(client, url, how, first=3) == live
    with player(httpx, cassette_path) as client:
        assert b"".join(read_sync(client, url, "iter_raw")) == b"".join(chunks)


@pytest.mark.parametrize("how", SYNC_READERS)
def test_early_close_without_drain_is_recorded_as_closed(
    sse_server: SSEServer, cassette_path: Path, how: str
) -> None:
    chunks = [b"data: %d\n\n" % i for i in range(10)]
    gate = threading.Event()
    url = sse_server.add(Route("/e", chunks, gates={5: gate}))

    writer = CassetteWriter(cassette_path)
    transport = RecordingTransport(httpx.HTTPTransport(), writer, drain_timeout=0)
    try:
        with httpx.Client(transport=transport) as client:
            live = read_sync(client, url, how, first=3)
            writer.close()
    finally:
        gate.set()
    [inter] = Cassette.load(cassette_path)
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert 1 <= len(inter.chunks) <= 5  # the server held chunk 5
    assert inter.wire_body == b"".join(chunks[: len(inter.chunks)])
    assert inter.end.client is not None
    assert inter.end.client.chunks <= len(inter.chunks)
    with player(httpx, cassette_path) as client:
        assert read_sync(client, url, how, first=3) == live
    with player(httpx, cassette_path) as client, pytest.raises(CassetteError, match="closed"):
        read_sync(client, url, how)  # reading past where the recording stopped


@pytest.mark.parametrize("how", ASYNC_READERS)
@pytest.mark.parametrize("drain", [True, False], ids=["drain", "no-drain"])
def test_early_close_async(
    sse_server: SSEServer, cassette_path: Path, how: str, drain: bool
) -> None:
    chunks = [b"data: %d\n\n" % i for i in range(10)]
    gate = threading.Event()
    gates = {} if drain else {5: gate}  # without a drain, the stream is still open at the close
    url = sse_server.add(Route("/e", chunks, delays=0.001, gates=gates))

    async def run() -> None:
        writer = CassetteWriter(cassette_path)
        transport = RecordingTransport(
            httpx.AsyncHTTPTransport(), writer, drain_timeout=5.0 if drain else 0
        )
        async with httpx.AsyncClient(transport=transport) as client:
            live = await read_async(client, url, how, first=3)
            writer.close()
        [inter] = Cassette.load(cassette_path)
        assert inter.end is not None
        assert inter.end.client is not None
        assert 1 <= inter.end.client.chunks <= len(inter.chunks)
        if drain:
            assert inter.end.outcome == "complete"
            assert inter.wire_body == b"".join(chunks)
        else:
            assert inter.end.outcome == "closed"
            assert inter.wire_body == b"".join(chunks[: len(inter.chunks)])
        async with player(httpx, cassette_path, asynchronous=True) as client:
            assert await read_async(client, url, how, first=3) == live

    try:
        asyncio.run(run())
    finally:
        gate.set()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_server_break_replays_the_same_exception_at_the_same_point(
    sse_server: SSEServer, cassette_path: Path, lib: ModuleType, asynchronous: bool
) -> None:
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/broken", chunks, delays=0.0005, break_after=4))

    def run(client_factory: Callable[[], Any]) -> tuple[list[bytes], BaseException]:
        got: list[bytes] = []

        async def go_async() -> None:
            async with client_factory() as client, client.stream("POST", url) as response:
                async for chunk in response.aiter_raw():
                    got.append(chunk)

        def go_sync() -> None:
            with client_factory() as client, client.stream("POST", url) as response:
                got.extend(response.iter_raw())

        with pytest.raises(lib.RemoteProtocolError) as info:
            asyncio.run(go_async()) if asynchronous else go_sync()
        return got, info.value

    writer_client = recorder(lib, cassette_path, asynchronous=asynchronous)
    live, live_error = run(lambda: writer_client)
    writer_client._test_writer.close()
    assert b"".join(live) == b"".join(chunks[:4])
    [inter] = Cassette.load(cassette_path)
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error == ErrorInfo("RemoteProtocolError", str(live_error))
    replayed, replay_error = run(lambda: player(lib, cassette_path, asynchronous=asynchronous))
    assert replayed == live
    assert type(replay_error) is type(live_error)
    assert str(replay_error) == str(live_error)


def test_gzip_stream_is_recorded_as_wire_bytes_and_decoded_on_replay(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    url = sse_server.add(Route("/gz", sse_chunks(FIXTURE), gzip=True, delays=0.0005))
    with recorder(httpx, cassette_path) as client:
        decoded_live = read_sync(client, url, "iter_bytes")
        client._test_writer.close()
    assert b"".join(decoded_live) == FIXTURE.read_bytes()
    [inter] = Cassette.load(cassette_path)
    assert inter.chunks[0].data.startswith(b"\x1f\x8b")  # gzip wire bytes
    assert inter.wire_body == b"".join(s.data for s in sse_server.sent_on("/gz"))
    assert inter.body == FIXTURE.read_bytes()
    assert inter.events() == events_of([FIXTURE.read_bytes()])
    with player(httpx, cassette_path) as client:
        assert read_sync(client, url, "iter_raw") == [c.data for c in inter.chunks]
    with player(httpx, cassette_path) as client:
        assert b"".join(read_sync(client, url, "iter_bytes")) == FIXTURE.read_bytes()


@pytest.mark.parametrize("status", [200, 401, 429, 500])
def test_plain_json_and_http_errors_record_and_replay(
    sse_server: SSEServer, cassette_path: Path, lib: ModuleType, status: int
) -> None:
    document = {"error": {"message": "nope", "code": status}} if status != 200 else {"ok": 1}
    url = sse_server.add(json_route("/j", document, status=status, headers=[("Retry-After", "2")]))
    with recorder(lib, cassette_path) as client:
        live = client.post(url, json={"q": 1})
        client._test_writer.close()
    assert live.status_code == status
    [inter] = Cassette.load(cassette_path)
    assert inter.complete
    assert inter.response is not None
    assert inter.response.status == status
    with player(lib, cassette_path) as client:
        replayed = client.post(url, json={"q": 1})
    assert replayed.status_code == status
    assert replayed.json() == document
    assert replayed.headers.raw == live.headers.raw


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_a_request_that_fails_before_a_response_replays_the_same_error(
    cassette_path: Path, lib: ModuleType, asynchronous: bool
) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1/responses"

    def post(client: Any) -> None:
        if not asynchronous:
            with client:
                client.post(url, json={})
            return

        async def run() -> None:
            async with client:
                await client.post(url, json={})

        asyncio.run(run())

    client = recorder(lib, cassette_path, asynchronous=asynchronous)
    with pytest.raises(lib.ConnectError):
        post(client)
    client._test_writer.close()
    [inter] = Cassette.load(cassette_path)
    assert inter.response is None
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error is not None
    assert inter.end.error.type == "ConnectError"
    with pytest.raises(lib.ConnectError):
        post(player(lib, cassette_path, asynchronous=asynchronous))


@pytest.mark.parametrize("drain", [True, False], ids=["drain", "no-drain"])
def test_a_cancelled_async_read_drains_or_is_recorded_as_interrupted(
    sse_server: SSEServer, cassette_path: Path, drain: bool
) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(40)]
    url = sse_server.add(Route("/slow", chunks, delays=0.02))
    got: list[bytes] = []

    async def consume(client: Any) -> None:
        async with client.stream("POST", url) as response:
            async for chunk in response.aiter_raw():
                got.append(chunk)

    async def record() -> None:
        writer = CassetteWriter(cassette_path)
        transport = RecordingTransport(
            httpx.AsyncHTTPTransport(), writer, drain_timeout=5.0 if drain else 0
        )
        async with httpx.AsyncClient(transport=transport) as client:
            # cancelled once a few chunks have come, not after a set time (a loaded machine
            # could take that long to connect)
            reading = asyncio.create_task(consume(client))
            while len(got) < 3 and not reading.done():
                await asyncio.sleep(0.005)
            reading.cancel()
            with pytest.raises(asyncio.CancelledError):
                await reading
            writer.close()

    asyncio.run(record())
    [inter] = Cassette.load(cassette_path)
    assert inter.end is not None
    assert 0 < len(got) < len(chunks)
    assert inter.end.client is not None
    assert inter.end.client.chunks == len(got)
    if drain:  # the cancelled client's close drained the stream: the server's whole answer
        assert inter.end.outcome == "complete"
        assert [c.data for c in inter.chunks] == chunks
        return
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks][: len(got)] == got
    replayed: list[bytes] = []

    async def replay() -> None:
        async with (
            player(httpx, cassette_path, asynchronous=True) as client,
            client.stream("POST", url) as response,
        ):
            async for chunk in response.aiter_raw():
                replayed.append(chunk)

    with pytest.raises(CassetteError, match="ended as 'interrupted'"):
        asyncio.run(replay())
    assert replayed == [c.data for c in inter.chunks]


# -- secrets ------------------------------------------------------------------------------------


def test_a_planted_key_leaves_no_trace_in_the_cassette(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    request: dict[str, Any] = {
        "url": f"{url}?api_key={SECRET}",
        "headers": {"Authorization": f"Bearer {SECRET}", "X-Api-Key": SECRET},
        "json": {"input": f"my key is {SECRET}", "stream": True},
    }
    with recorder(httpx, cassette_path) as client:
        live = read_sync(client, **request)
        client._test_writer.close()
    [received] = sse_server.requests
    assert SECRET in received.path  # the server got the real key
    raw = Cassette.read_ndjson(cassette_path)
    assert SECRET.encode() not in raw
    for fragment in (SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    # replay redacts the live request the same way, so it still matches
    with player(httpx, cassette_path) as client:
        assert read_sync(client, **request) == live


# -- replay timing ------------------------------------------------------------------------------


def timed_cassette(path: Path, offsets_ms: list[float], head_ms: float = 3.0) -> list[int]:
    """A cassette of one stream with chunks at ``offsets_ms``; returns every gap in ns."""
    with CassetteWriter(path) as writer:
        rec = writer.begin("POST", "http://api.test/v1/responses", start_ns=0)
        rec.response(200, [("content-type", "text/event-stream")], offset_ns=int(head_ms * 1e6))
        for i, ms in enumerate(offsets_ms):
            rec.chunk(b"data: %d\n\n" % i, offset_ns=int(ms * 1e6))
        rec.end(offset_ns=int((offsets_ms[-1] + 0.5) * 1e6))
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert inter.end is not None
    points = [inter.response.offset_ns, *[c.offset_ns for c in inter.chunks], inter.end.offset_ns]
    return [b - a for a, b in zip([0, *points], points, strict=False)]


OFFSETS_MS = [5.0, 6.25, 16.0, 40.0, 40.001, 140.0]


@pytest.mark.parametrize(
    ("speed", "max_gap"), [(1.0, None), (2.0, None), (0.5, None), (1.0, 0.004), (3.0, 0.01)]
)
def test_replay_waits_are_the_recorded_gaps_over_speed(
    cassette_path: Path, speed: float, max_gap: float | None
) -> None:
    gaps = timed_cassette(cassette_path, OFFSETS_MS)
    expected = [g / 1e9 / speed for g in gaps]
    if max_gap is not None:
        expected = [min(w, max_gap) for w in expected]
    sleeps: list[float] = []
    transport = ReplayTransport(cassette_path, speed=speed, max_gap=max_gap, sleep=sleeps.append)
    with httpx.Client(transport=transport) as client:
        body = read_sync(client, "http://api.test/v1/responses")
    assert len(body) == len(OFFSETS_MS)
    assert sleeps == expected
    if max_gap is not None:
        assert max(sleeps) == max_gap


def test_replay_waits_async_with_a_fake_async_sleep(cassette_path: Path) -> None:
    gaps = timed_cassette(cassette_path, OFFSETS_MS)
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def run() -> None:
        transport = ReplayTransport(cassette_path, speed=4.0, async_sleep=fake_sleep)
        async with httpx.AsyncClient(transport=transport) as client:
            await read_async(client, "http://api.test/v1/responses")

    asyncio.run(run())
    assert sleeps == [g / 1e9 / 4.0 for g in gaps]


def test_a_sync_fake_sleep_serves_async_clients_too(cassette_path: Path) -> None:
    gaps = timed_cassette(cassette_path, OFFSETS_MS)
    sleeps: list[float] = []

    async def run() -> None:
        transport = ReplayTransport(cassette_path, sleep=sleeps.append)
        async with httpx2.AsyncClient(transport=transport) as client:
            await read_async(client, "http://api.test/v1/responses")

    asyncio.run(run())
    assert sleeps == [g / 1e9 for g in gaps]


def test_instant_replay_never_sleeps(cassette_path: Path) -> None:
    timed_cassette(cassette_path, OFFSETS_MS)
    sleeps: list[float] = []
    transport = ReplayTransport(cassette_path, speed=INSTANT, sleep=sleeps.append)
    with httpx.Client(transport=transport) as client:
        assert len(read_sync(client, "http://api.test/v1/responses")) == len(OFFSETS_MS)
    assert sleeps == []


def test_an_async_sleep_in_a_sync_client_is_refused(cassette_path: Path) -> None:
    timed_cassette(cassette_path, OFFSETS_MS)

    async def fake_sleep(seconds: float) -> None:
        pass

    transport = ReplayTransport(cassette_path, sleep=fake_sleep)
    with httpx.Client(transport=transport) as client, pytest.raises(TypeError, match="async_sleep"):
        client.post("http://api.test/v1/responses")


def test_time_spent_matching_counts_against_the_first_wait(cassette_path: Path) -> None:
    """Offsets count from the request's arrival, so slow matching does not delay the stream."""
    gaps = timed_cassette(cassette_path, OFFSETS_MS)
    now = [100.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        now[0] += seconds

    def slow_match(recorded: object, sent: object) -> bool:
        now[0] += 0.002  # matching took 2 ms of the replay clock
        return True

    transport = ReplayTransport(
        cassette_path, sleep=sleep, clock=lambda: now[0], matcher=Matcher(custom=[slow_match])
    )
    with httpx.Client(transport=transport) as client:
        read_sync(client, "http://api.test/v1/responses")
    assert sleeps[0] == pytest.approx(gaps[0] / 1e9 - 0.002)
    assert sleeps[1:] == pytest.approx([g / 1e9 for g in gaps[1:]])
    assert now[0] - 100.0 == pytest.approx(sum(gaps) / 1e9)


def test_real_clock_replay_keeps_the_gaps_loosely(cassette_path: Path) -> None:
    offsets_ms = [20.0, 40.0, 60.0, 80.0]
    timed_cassette(cassette_path, offsets_ms, head_ms=10.0)
    transport = ReplayTransport(cassette_path)
    arrivals: list[int] = []
    with httpx.Client(transport=transport) as client:
        start = time.perf_counter_ns()
        with client.stream("POST", "http://api.test/v1/responses") as response:
            for _ in response.iter_raw():
                arrivals.append(time.perf_counter_ns() - start)
    for arrival, expected_ms in zip(arrivals, offsets_ms, strict=True):
        assert arrival >= (expected_ms - 1) * 1e6
        assert arrival < (expected_ms + 500) * 1e6


# -- matching and bookkeeping -------------------------------------------------------------------


def two_identical_requests(path: Path) -> None:
    with CassetteWriter(path) as writer:
        for n in (1, 2):
            rec = writer.begin("POST", "http://api.test/r", [], b'{"same":true}')
            rec.response(200, [("content-type", "text/event-stream")])
            rec.chunk(b"data: %d\n\n" % n)
            rec.end()


def test_identical_requests_replay_in_recorded_order_once_each(cassette_path: Path) -> None:
    two_identical_requests(cassette_path)
    transport = ReplayTransport(cassette_path, speed=INSTANT)
    with httpx.Client(transport=transport) as client:
        assert transport.played == []
        assert [i.id for i in transport.unplayed] == [1, 2]
        assert client.post("http://api.test/r", json={"same": True}).content == b"data: 1\n\n"
        assert [i.id for i in transport.played] == [1]
        assert client.post("http://api.test/r", json={"same": True}).content == b"data: 2\n\n"
        assert transport.unplayed == []
        with pytest.raises(NoMatchError, match="already played"):
            client.post("http://api.test/r", json={"same": True})


def test_an_unmatched_request_raises_no_match(cassette_path: Path) -> None:
    two_identical_requests(cassette_path)
    with httpx.Client(transport=ReplayTransport(cassette_path)) as client:
        with pytest.raises(NoMatchError, match=r"api\.test/other"):
            client.post("http://api.test/other", json={"same": True})
        with pytest.raises(NoMatchError):
            client.post("http://api.test/r", json={"same": False})


def test_replay_transport_takes_a_path(cassette_path: Path) -> None:
    two_identical_requests(cassette_path)
    transport = ReplayTransport(str(cassette_path), speed=INSTANT)
    assert len(transport.cassette) == 2
    with pytest.raises(ValueError, match="speed"):
        ReplayTransport(transport.cassette, speed=0)


def test_a_recording_cut_short_refuses_to_invent_the_rest(cassette_path: Path) -> None:
    writer = CassetteWriter(cassette_path, atomic=False)
    rec = writer.begin("GET", "http://api.test/x")
    rec.response(200, [])
    rec.chunk(b"data: 1\n\n")
    writer.flush()  # a killed recorder: no end record
    cassette = Cassette.load(cassette_path)
    writer.discard()
    assert cassette[0].end is None
    got: list[bytes] = []
    with (
        httpx.Client(transport=ReplayTransport(cassette, speed=INSTANT)) as client,
        pytest.raises(CassetteError, match="recorder stopped"),
        client.stream("GET", "http://api.test/x") as response,
    ):
        got.extend(response.iter_raw())
    assert got == [b"data: 1\n\n"]


# -- concurrency --------------------------------------------------------------------------------


def test_fifty_concurrent_async_streams_in_one_cassette(
    sse_server: SSEServer, cassette_path: Path
) -> None:
    count = 50
    url = sse_server.url + "/many"
    for n in range(count):
        chunks = [b'data: {"stream":%d,"part":%d}\n\n' % (n, k) for k in range(5)]
        sse_server.add(Route(f"/many/{n}", chunks, delays=0.002))

    async def one(client: Any, n: int) -> list[bytes]:
        return await read_async(client, f"{url}/{n}", json={"n": n})

    async def record() -> list[list[bytes]]:
        async with recorder(httpx, cassette_path, asynchronous=True) as client:
            got = await asyncio.gather(*(one(client, n) for n in range(count)))
            client._test_writer.close()
        return list(got)

    async def replay(order: list[int]) -> dict[int, list[bytes]]:
        async with player(httpx, cassette_path, asynchronous=True, speed=1.0) as client:
            got = await asyncio.gather(*(one(client, n) for n in order))
        return dict(zip(order, got, strict=True))

    live = asyncio.run(record())
    for n, chunks in enumerate(live):
        assert b"".join(chunks) == b"".join(
            b'data: {"stream":%d,"part":%d}\n\n' % (n, k) for k in range(5)
        )
    ids = [
        msgspec.json.decode(line)["id"]
        for line in Cassette.read_ndjson(cassette_path).splitlines()[1:]
    ]
    assert ids != sorted(ids)  # the streams' records interleave in the file
    cassette = Cassette.load(cassette_path)
    assert len(cassette) == count
    assert all(i.complete for i in cassette)
    order = list(range(count))
    random.Random(7).shuffle(order)
    replayed = asyncio.run(replay(order))
    assert [replayed[n] for n in range(count)] == live


# -- crash safety -------------------------------------------------------------------------------

RECORDER_SCRIPT = textwrap.dedent(
    """
    import sys
    import httpx
    from streamtape.cassette import CassetteWriter
    from streamtape.transport import RecordingTransport

    writer = CassetteWriter(sys.argv[2])
    print(writer.temp_path, flush=True)
    with httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), writer)) as client:
        with client.stream("POST", sys.argv[1], json={"stream": True}) as response:
            for i, chunk in enumerate(response.iter_raw()):
                print("chunk", i, flush=True)
    """
)


def _lines(process: subprocess.Popen[str]) -> Iterator[str]:
    assert process.stdout is not None
    yield from iter(process.stdout.readline, "")


def test_a_recorder_killed_mid_stream_leaves_a_readable_cassette(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    chunks = sse_chunks(FIXTURE)
    gate = threading.Event()
    url = sse_server.add(Route("/v1/responses", chunks, gates={5: gate}))
    final = tmp_path / "killed.ndjson.zst"
    process = subprocess.Popen(
        [sys.executable, "-c", RECORDER_SCRIPT, url, str(final)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = _lines(process)
        partial = Path(next(lines).strip())
        for line in lines:
            if line.strip() == "chunk 4":
                break
        # the stream now stalls (chunk 5 is held); the writer's timer flushes on its own
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            got = Cassette.load(partial, strict=False)
            if got.interactions and len(got[0].chunks) == 5:
                break
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        gate.set()
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    assert not final.exists()  # atomic: the final path never saw a half file
    # the stream's zstd frame never ended: a strict read names the cut, a lenient one reads on
    with pytest.raises(CassetteError, match="truncated") as info:
        Cassette.load(partial)
    assert info.value.path == str(partial)
    cassette = Cassette.load(partial, strict=False)
    assert cassette.truncated
    [inter] = cassette
    assert [c.data for c in inter.chunks] == chunks[:5]
    assert inter.end is None
    assert inter.request.method == "POST"
