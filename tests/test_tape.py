"""use_cassette: record modes, patching for the block only, httpx / httpx2 / openai / openrouter
clients through a real local server, secrets, concurrency and isolation."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import httpx2
import openai
import openrouter
import pytest
from clients import openai_async, openai_sync
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

from streamtape._vocabulary import RecordMode
from streamtape.cassette import Cassette
from streamtape.errors import CassetteError, NoMatchError, StreamtapeError, StreamtapeWarning
from streamtape.redact import DEFAULT_REDACTOR
from streamtape.tape import RECORD_MODES, Tape, TapeStats, use_cassette
from streamtape.transport import INSTANT

LIBS = {"httpx": httpx, "httpx2": httpx2}
FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
SECRET = "sk-proj-PlantedKey0123456789abcdefXYZ"
ORIGINALS = {
    (lib, name): getattr(lib, cls).__dict__[name]
    for lib in LIBS.values()
    for cls, name in (
        ("HTTPTransport", "handle_request"),
        ("AsyncHTTPTransport", "handle_async_request"),
    )
}


@pytest.fixture(params=sorted(LIBS))
def lib(request: pytest.FixtureRequest) -> ModuleType:
    return LIBS[request.param]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "cassettes" / "tape.ndjson.zst"


SOCKET_ORIGINALS = (socket.socket.connect, socket.getaddrinfo)


def nothing() -> pytest.WarningsRecorder:
    """Expect the warning of a recording block that recorded nothing (and wrote no file)."""
    return pytest.warns(StreamtapeWarning, match="recorded nothing, so no cassette was written")


def unpatched() -> bool:
    """Neither the transports nor the seal's socket functions are patched."""
    if (socket.socket.connect, socket.getaddrinfo) != SOCKET_ORIGINALS:
        return False
    return all(
        lib.HTTPTransport.__dict__["handle_request"] is ORIGINALS[(lib, "handle_request")]
        for lib in LIBS.values()
    ) and all(
        lib.AsyncHTTPTransport.__dict__["handle_async_request"]
        is ORIGINALS[(lib, "handle_async_request")]
        for lib in LIBS.values()
    )


def post(lib: ModuleType, url: str, body: str = "hi") -> list[bytes]:
    with lib.Client() as client, client.stream("POST", url, json={"input": body}) as response:
        return list(response.iter_raw())


async def apost(lib: ModuleType, url: str, body: str = "hi") -> list[bytes]:
    async with lib.AsyncClient() as client, client.stream("POST", url, json={"input": body}) as r:
        return [chunk async for chunk in r.aiter_raw()]


# -- record modes -------------------------------------------------------------------------------


def test_an_invalid_mode_names_the_valid_ones(path: Path) -> None:
    with pytest.raises(ValueError, match="none, once, new_episodes, all, rewrite, drift"):
        use_cassette(path, record_mode="sometimes")  # type: ignore[arg-type]
    assert RECORD_MODES == ("none", "once", "new_episodes", "all", "rewrite", "drift")


def test_none_with_a_missing_file_names_file_and_mode(path: Path) -> None:
    tape = use_cassette(path, record_mode="none")
    with pytest.raises(CassetteError, match=r"does not exist.*'none'") as info, tape:
        pass
    assert str(path) in str(info.value)
    assert not path.exists()
    assert unpatched()


def test_once_records_a_missing_file_then_replays_it(sse_server: SSEServer, path: Path) -> None:
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/v1/responses", chunks, delays=0.0005))
    with use_cassette(path) as tape:
        assert tape.mode == "once"
        assert tape.path == path
        live = post(httpx, url)
        assert not path.exists()  # atomic: the file appears whole, at the end of the block
        # ...yet what was recorded so far is there to assert on inside the block
        assert [len(i.chunks) for i in tape.recorded] == [len(chunks)]
        assert tape.result().output_text
        assert tape.timing().chunks == len(chunks)
    assert b"".join(live) == b"".join(chunks)
    assert path.exists()
    assert len(tape.recorded) == 1
    assert len(tape.interactions) == 1
    assert tape.result().output_text == Cassette.load(path)[0].result().output_text
    sse_server.reset()
    with use_cassette(path, speed=INSTANT) as tape:
        assert post(httpx, url) == live
        with pytest.raises(NoMatchError, match="record_mode='new_episodes'"):
            post(httpx, url, "another question")
    assert sse_server.requests == []
    assert len(tape.played) == 1
    assert tape.unplayed == []
    assert tape.recorded == []


def test_none_replays_and_a_miss_is_an_error(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path, record_mode="all"):
        live = post(httpx, url)
    sse_server.reset()
    with use_cassette(path, record_mode="none", speed=INSTANT) as tape:
        assert post(httpx, url) == live
        with pytest.raises(NoMatchError, match=str(path)):
            post(httpx, url)  # each recorded interaction replays once
    assert sse_server.requests == []
    assert [i.id for i in tape.played] == [1]


def test_new_episodes_replays_matches_and_appends_misses(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path, record_mode="new_episodes"):
        first = post(httpx, url, "one")
    assert len(sse_server.requests) == 1
    with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
        assert post(httpx, url, "one") == first  # replayed
        assert post(httpx, url, "two") == first  # recorded
    assert len(sse_server.requests) == 2
    assert [i.id for i in tape.played] == [1]
    assert [i.id for i in tape.recorded] == [2]
    bodies = [i.request.body for i in Cassette.load(path)]
    assert bodies == [b'{"input":"one"}', b'{"input":"two"}']


def test_looking_at_interactions_while_recording_leaves_one_frame_per_session(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE), delays=0.001))
    with use_cassette(path, record_mode="all") as tape:
        for n in range(3):
            body = DEFAULT_REDACTOR.stream()
            settled = 0
            with httpx.Client() as client, client.stream("POST", url, json={"n": n}) as response:
                for chunk in response.iter_raw():
                    # the chunks so far are there to look at while the stream goes on, but for
                    # one that waits for the next because a key could start at its end (and
                    # with those that came off the wire ahead of the client, read ahead)
                    settled += len(body.feed(chunk))
                    assert len(tape.interactions[-1].chunks) >= settled
            assert len(tape.interactions) == n + 1
            assert tape.interactions[-1].complete
    data = path.read_bytes()
    starts = [n for n in range(len(data)) if data.startswith(b"\x28\xb5\x2f\xfd", n)]
    assert len(starts) == 1 + 1  # the header's frame, then one for the writer session
    assert [len(i.chunks) for i in Cassette.load(path)] == [len(sse_chunks(FIXTURE))] * 3


def test_new_episodes_with_an_async_client(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))

    async def run(*inputs: str) -> list[list[bytes]]:
        async with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
            got = [await apost(httpx2, url, text) for text in inputs]
        runs.append(tape)
        return got

    runs: list[Tape] = []
    [first] = asyncio.run(run("one"))
    assert len(sse_server.requests) == 1
    assert asyncio.run(run("one", "two")) == [first, first]
    assert len(sse_server.requests) == 2  # only "two" reached the server
    assert [i.id for i in runs[1].played] == [1]
    assert [i.id for i in runs[1].recorded] == [2]


def test_new_episodes_without_misses_leaves_the_file_alone(
    sse_server: SSEServer, path: Path
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path, record_mode="new_episodes"):
        post(httpx, url)
    before = path.read_bytes()
    with use_cassette(path, record_mode="new_episodes", speed=INSTANT) as tape:
        post(httpx, url)
    assert path.read_bytes() == before
    assert tape.recorded == []
    assert list(path.parent.iterdir()) == [path]  # no temp files left


def test_new_episodes_records_a_missing_file(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path, record_mode="new_episodes") as tape:
        post(httpx2, url)
    assert [i.id for i in Cassette.load(path)] == [1]
    assert [i.id for i in tape.recorded] == [1]


def test_unplayed_lists_what_replay_left(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path):
        post(httpx, url, "one")
        post(httpx, url, "two")
    with use_cassette(path, record_mode="none", speed=INSTANT) as tape:
        post(httpx, url, "two")
    assert [i.request.body for i in tape.unplayed] == [b'{"input":"one"}']
    assert [i.request.body for i in tape.played] == [b'{"input":"two"}']


@pytest.mark.parametrize("mode", ["all", "rewrite"])
def test_all_and_rewrite_record_afresh_and_overwrite(
    sse_server: SSEServer, path: Path, mode: RecordMode
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with use_cassette(path, record_mode="once"):
        post(httpx, url, "old")
    with use_cassette(path, record_mode=mode) as tape:
        post(httpx, url, "new")
        post(httpx, url, "new")  # no replay: identical requests go to the server again
        assert Cassette.load(path)[0].request.body == b'{"input":"old"}'  # atomic: old until exit
    assert len(sse_server.requests) == 3
    assert [i.request.body for i in Cassette.load(path)] == [b'{"input":"new"}'] * 2
    assert len(tape.recorded) == 2
    assert tape.played == []
    assert tape.stats.recorded == 2
    assert tape.stats.replayed == 0
    assert tape.stats.chunks == sum(len(i.chunks) for i in Cassette.load(path)) > 0


# -- patching -----------------------------------------------------------------------------------


def test_patching_is_undone_on_exit_and_on_error(path: Path) -> None:
    assert unpatched()
    with nothing(), use_cassette(path, record_mode="all"):
        assert not unpatched()
    assert unpatched()
    with pytest.raises(KeyError), use_cassette(path, record_mode="all"):
        raise KeyError("boom")  # a failed block says nothing more, and writes no empty file
    assert unpatched()
    assert not path.exists()


def test_patching_is_undone_after_async_blocks(path: Path) -> None:
    async def run() -> None:
        with nothing():
            async with use_cassette(path, record_mode="all"):
                assert not unpatched()
                with nothing(), use_cassette(path.with_name("in.ndjson.zst"), record_mode="all"):
                    assert not unpatched()
                assert not unpatched()  # the outer block is still active
        assert unpatched()
        with pytest.raises(KeyError):
            async with use_cassette(path, record_mode="all"):
                raise KeyError("boom")

    asyncio.run(run())
    assert unpatched()


def test_requests_outside_any_block_go_through(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with nothing(), use_cassette(path, record_mode="all"):
        pass
    assert b"".join(post(httpx2, url)) == FIXTURE.read_bytes()
    assert not path.exists()


def test_clients_made_before_the_block_are_intercepted_inside_it(
    sse_server: SSEServer, path: Path, lib: ModuleType
) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    with lib.Client() as client:
        with use_cassette(path):
            live = client.post(url, json={"input": "hi"}).content
        sse_server.reset()
        with use_cassette(path, record_mode="none", speed=INSTANT):
            assert client.post(url, json={"input": "hi"}).content == live
        assert sse_server.requests == []
        assert client.post(url, json={"input": "hi"}).status_code == 404  # after: the network


def test_nested_blocks_use_the_innermost_cassette(sse_server: SSEServer, tmp_path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    outer, inner = tmp_path / "outer.ndjson.zst", tmp_path / "inner.ndjson.zst"
    with use_cassette(outer, record_mode="all"):
        post(httpx, url, "a")
        with use_cassette(inner, record_mode="all"):
            post(httpx, url, "b")
        post(httpx, url, "c")
    assert [i.request.body for i in Cassette.load(outer)] == [b'{"input":"a"}', b'{"input":"c"}']
    assert [i.request.body for i in Cassette.load(inner)] == [b'{"input":"b"}']


# -- httpx and httpx2 ---------------------------------------------------------------------------


def test_sync_record_then_replay_without_the_server(
    sse_server: SSEServer, path: Path, lib: ModuleType
) -> None:
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/v1/responses", chunks, delays=0.0005))
    with use_cassette(path):
        live = post(lib, url)
    assert b"".join(live) == b"".join(chunks)
    sse_server.reset()  # the route is gone: a real request would get a 404
    with use_cassette(path, record_mode="none", speed=INSTANT) as tape:
        assert post(lib, url) == live
    assert sse_server.requests == []
    assert len(tape.played) == 1


def test_async_record_then_replay_without_the_server(
    sse_server: SSEServer, path: Path, lib: ModuleType
) -> None:
    chunks = sse_chunks(FIXTURE)
    url = sse_server.add(Route("/v1/responses", chunks, delays=0.0005))

    async def record() -> list[bytes]:
        async with use_cassette(path):
            return await apost(lib, url)

    async def replay() -> list[bytes]:
        async with use_cassette(path, record_mode="none", speed=INSTANT):
            return await apost(lib, url)

    live = asyncio.run(record())
    assert b"".join(live) == b"".join(chunks)
    sse_server.reset()
    assert asyncio.run(replay()) == live
    assert sse_server.requests == []


def test_decorators_sync_and_async(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))

    @use_cassette(path)
    def sync_call() -> list[bytes]:
        return post(httpx, url)

    @use_cassette(path, speed=INSTANT)
    async def async_call() -> list[bytes]:
        return await apost(httpx2, url)

    assert sync_call.__name__ == "sync_call"
    live = sync_call()  # records
    assert unpatched()
    assert asyncio.run(async_call()) == live  # replays
    assert len(sse_server.requests) == 1
    assert unpatched()


def test_explicit_transports(sse_server: SSEServer, path: Path, lib: ModuleType) -> None:
    url = sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE)))
    tape = use_cassette(path)
    client = lib.Client(transport=tape.transport())
    with pytest.raises(RuntimeError, match="not active"):
        client.post(url, json={"input": "hi"})
    with tape:
        live = client.post(url, json={"input": "hi"}).content
    assert len(tape.recorded) == 1  # recorded once, not again by the patched inner transport

    async def replay() -> bytes:
        async with use_cassette(path, record_mode="none", speed=INSTANT) as player:
            transport = player.async_transport()
            async with lib.AsyncClient(transport=transport) as aclient:
                response = await aclient.post(url, json={"input": "hi"})
                return bytes(response.content)

    assert asyncio.run(replay()) == live
    assert len(sse_server.requests) == 1
    client.close()


def test_replay_waits_are_the_recorded_gaps_over_speed(sse_server: SSEServer, path: Path) -> None:
    url = sse_server.add(Route("/t", [b"data: 1\n\n", b"data: 2\n\n"], delays=[0.0, 0.02]))
    with use_cassette(path):
        post(httpx, url)
    [inter] = Cassette.load(path)
    assert inter.response is not None
    assert inter.end is not None
    points = [inter.response.offset_ns, *(c.offset_ns for c in inter.chunks), inter.end.offset_ns]
    gaps = [b - a for a, b in zip([0, *points], points, strict=False)]
    waits: list[float] = []
    with use_cassette(path, record_mode="none", speed=4.0, sleep=waits.append) as tape:
        post(httpx, url)
    assert waits == pytest.approx([g / 1e9 / 4.0 for g in gaps])
    assert tape.stats == TapeStats(
        recorded=0,
        replayed=1,
        unplayed=0,
        chunks=2,
        first_chunk_max=inter.chunks[0].offset_ns / 1e9,
        stream_seconds=inter.end.offset_ns / 1e9,
    )
    assert max(gaps) >= 20_000_000 // 2  # the server's 20 ms pause was recorded


# -- SDKs ---------------------------------------------------------------------------------------


def decompressed(path: Path) -> bytes:
    return Cassette.read_ndjson(path)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_openai_sdk_records_and_replays(
    sse_server: SSEServer, path: Path, asynchronous: bool
) -> None:
    sse_server.add(Route("/v1/responses", sse_chunks(FIXTURE), delays=0.0002))

    def run() -> tuple[list[str], str]:
        if asynchronous:
            return asyncio.run(openai_async(sse_server.url, SECRET))
        return openai_sync(sse_server.url, SECRET)

    with use_cassette(path) as tape:
        live_types, live_text = run()
    assert len(tape.recorded) == 2
    assert "response.output_text.delta" in live_types
    assert live_types[-1] == "response.completed"
    assert live_text
    [received, _] = sse_server.requests
    assert dict((k.lower(), v) for k, v in received.headers)["authorization"] == f"Bearer {SECRET}"
    raw = decompressed(path)
    assert b"authorization" in raw.lower()
    for fragment in (SECRET, SECRET[:16], SECRET[-16:]):
        assert fragment.encode() not in raw
    sse_server.reset()
    with use_cassette(path, record_mode="none", speed=INSTANT) as tape:
        assert run() == (live_types, live_text)
    assert sse_server.requests == []
    assert len(tape.played) == 2


OPENROUTER_FIXTURE = (
    FIXTURES / "pydantic-ai" / "test_openai_responses_raw_cot_stream_openrouter.sse"
)


def described(event: Any) -> str:
    """The SDK's class for an event, its type and any delta text."""
    return f"{type(event).__name__} {event.type} {getattr(event, 'delta', '')}"


def openrouter_events(base: str) -> list[str]:
    with openrouter.OpenRouter(api_key=SECRET, server_url=base + "/api/v1") as client:
        stream = client.beta.responses.send(model="openai/gpt-4o", input="capital?", stream=True)
        with stream:
            return [described(event) for event in stream]


async def openrouter_events_async(base: str) -> list[str]:
    async with openrouter.OpenRouter(api_key=SECRET, server_url=base + "/api/v1") as client:
        stream = await client.beta.responses.send_async(
            model="openai/gpt-4o", input="capital?", stream=True
        )
        async with stream:
            return [described(event) async for event in stream]


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_openrouter_sdk_records_and_replays(
    sse_server: SSEServer, path: Path, asynchronous: bool
) -> None:
    sse_server.add(Route("/api/v1/responses", sse_chunks(OPENROUTER_FIXTURE), delays=0.0002))

    def run() -> list[str]:
        if asynchronous:
            return asyncio.run(openrouter_events_async(sse_server.url))
        return openrouter_events(sse_server.url)

    with use_cassette(path):
        live = run()
    assert any(e.startswith("TextDeltaEvent response.output_text.delta ") for e in live)
    assert SECRET.encode() not in decompressed(path)
    sse_server.reset()
    with use_cassette(path, record_mode="none", speed=INSTANT):
        assert run() == live
    assert sse_server.requests == []


# -- concurrency --------------------------------------------------------------------------------


def numbered_route(sse_server: SSEServer, n: int) -> str:
    return sse_server.add(
        Route(f"/s/{n}", [b"data: %d-%d\n\n" % (n, i) for i in range(3)], delays=0.0005)
    )


def test_fifty_concurrent_streams_replay_to_the_right_callers(
    sse_server: SSEServer, path: Path
) -> None:
    chunks = {n: [b"data: %d-%d\n\n" % (n, i) for i in range(3)] for n in range(50)}
    urls = {n: sse_server.add(Route(f"/s/{n}", chunks[n], delays=0.0005)) for n in range(50)}

    async def one(client: Any, n: int) -> bytes:
        async with client.stream("POST", urls[n], json={"n": n}) as response:
            return b"".join([c async for c in response.aiter_raw()])

    async def run(mode: RecordMode, order: list[int]) -> tuple[list[bytes], Tape]:
        tape = use_cassette(path, record_mode=mode, speed=INSTANT)
        async with tape, httpx2.AsyncClient() as client:
            return list(await asyncio.gather(*(one(client, n) for n in order))), tape

    live, _ = asyncio.run(run("all", list(range(50))))
    assert live == [b"".join(chunks[n]) for n in range(50)]
    assert len(Cassette.load(path)) == 50
    sse_server.reset()
    order = list(range(50))[::-1]  # started in the other order: matching finds each one's stream
    replayed, tape = asyncio.run(run("none", order))
    assert replayed == [b"".join(chunks[n]) for n in order]
    assert sse_server.requests == []
    assert tape.unplayed == []
    assert len(tape.played) == 50


def test_blocks_in_two_threads_stay_isolated(sse_server: SSEServer, tmp_path: Path) -> None:
    urls = {name: numbered_route(sse_server, n) for n, name in enumerate(("a", "b"))}
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker(name: str) -> None:
        try:
            with use_cassette(tmp_path / f"{name}.ndjson.zst", record_mode="all"):
                barrier.wait(5)  # both blocks active at once
                for _ in range(3):
                    post(httpx, urls[name], name)
                barrier.wait(5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(name,)) for name in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for name, url in urls.items():
        recorded = Cassette.load(tmp_path / f"{name}.ndjson.zst")
        assert [i.request.url for i in recorded] == [url] * 3
    assert unpatched()


def test_a_tape_is_entered_once_at_a_time(path: Path) -> None:
    tape: Tape = use_cassette(path, record_mode="all")
    with nothing(), tape, pytest.raises(RuntimeError, match="already active"), tape:
        pass
    assert unpatched()


# -- threads started inside a block -------------------------------------------------------------


def in_thread(target: Callable[[], object]) -> object:
    """Run ``target`` in a plain new thread (which does not inherit the caller's context)."""
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(target()))
    thread.start()
    thread.join(10)
    return box[0]


def test_a_thread_started_inside_a_block_records_and_replays_there(
    sse_server: SSEServer, path: Path
) -> None:
    url = numbered_route(sse_server, 7)
    with use_cassette(path, record_mode="all") as tape:
        live = in_thread(lambda: post(httpx, url))
        assert len(tape.interactions) == 1
    sse_server.reset()
    with use_cassette(path, record_mode="none") as tape:
        with ThreadPoolExecutor(2) as pool:
            replayed = pool.submit(post, httpx2, url).result()
        assert tape.unplayed == []
    assert replayed == live
    assert sse_server.requests == []  # replay never reached the network


def test_a_thread_goes_to_the_innermost_of_nested_blocks(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    url = numbered_route(sse_server, 8)
    outer, inner = tmp_path / "outer.ndjson.zst", tmp_path / "inner.ndjson.zst"
    with nothing(), use_cassette(outer, record_mode="all"), use_cassette(inner, record_mode="all"):
        in_thread(lambda: post(httpx, url))
    assert len(Cassette.load(inner)) == 1
    assert not outer.exists()


def test_a_thread_with_no_block_while_separate_blocks_are_open_is_refused(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    url = numbered_route(sse_server, 9)
    opened, done = threading.Barrier(3), threading.Event()

    def hold(name: str) -> None:
        # each block records nothing: the warning saying so (an error under `-W error`) is not
        # what this test is about
        with (
            contextlib.suppress(StreamtapeWarning),
            use_cassette(tmp_path / f"{name}.ndjson.zst", record_mode="all"),
        ):
            opened.wait(5)
            done.wait(5)

    holders = [threading.Thread(target=hold, args=(name,)) for name in ("a", "b")]
    for holder in holders:
        holder.start()
    opened.wait(5)
    try:
        with pytest.raises(StreamtapeError, match=r"no use_cassette block is in force.*2 separate"):
            post(httpx, url)
    finally:
        done.set()
        for holder in holders:
            holder.join()
    assert sse_server.requests == []
    assert unpatched()


# -- early close while recording ----------------------------------------------------------------

ERROR_STREAM = FIXTURES / "vercel-ai" / "openai" / "openai-error.1.chunks.txt"


def openai_events(base: str, asynchronous: bool) -> list[str]:
    """Stream a response with the openai SDK; it raises at the ``error`` event and closes."""
    seen: list[str] = []

    def sync_run() -> None:
        with openai.OpenAI(base_url=base + "/v1", api_key="sk-test", max_retries=0) as client:
            for event in client.responses.create(model="gpt-4o", input="Hello", stream=True):
                seen.append(event.type)

    async def async_run() -> None:
        async with openai.AsyncOpenAI(
            base_url=base + "/v1", api_key="sk-test", max_retries=0
        ) as client:
            stream = await client.responses.create(model="gpt-4o", input="Hello", stream=True)
            async for event in stream:
                seen.append(event.type)

    with pytest.raises(openai.APIError, match="exceeded your current quota"):
        asyncio.run(async_run()) if asynchronous else sync_run()
    return seen


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_an_sdk_that_stops_at_an_error_event_still_records_the_failed_response(
    sse_server: SSEServer, path: Path, asynchronous: bool
) -> None:
    chunks = sse_chunks(ERROR_STREAM)
    assert [c.startswith(b'data: {"type":"error"') for c in chunks].index(True) == 2
    sse_server.add(Route("/v1/responses", chunks, delays=0.03))
    with use_cassette(path, record_mode="all") as tape:
        live = openai_events(sse_server.url, asynchronous)
    assert live == ["response.created", "response.in_progress"]
    [inter] = tape.interactions
    assert inter.complete  # the server's outcome, though the client closed early
    assert inter.wire_body == b"".join(chunks)
    assert [e.type for e in inter.events()][-1] == "response.failed"
    assert tape.result().outcome == "failed"
    assert inter.end is not None
    assert inter.end.client is not None
    assert inter.end.client.chunks == 3  # where the SDK stopped: right after the error event
    assert tape.timing().client_chunks == 3
    sse_server.reset()
    with use_cassette(path, record_mode="none", speed=INSTANT) as replay:
        assert openai_events(sse_server.url, asynchronous) == live  # stops at the same point
    assert len(replay.played) == 1
    assert replay.result().outcome == "failed"
    assert sse_server.requests == []


@pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
def test_drain_timeout_zero_keeps_only_what_the_client_read(
    sse_server: SSEServer, path: Path, asynchronous: bool
) -> None:
    chunks = sse_chunks(ERROR_STREAM)
    gate = threading.Event()
    sse_server.add(Route("/v1/responses", chunks, gates={3: gate}))
    try:
        with use_cassette(path, record_mode="all", drain_timeout=0) as tape:
            openai_events(sse_server.url, asynchronous)
    finally:
        gate.set()
    [inter] = tape.interactions
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert inter.wire_body == b"".join(chunks[:3])
    assert tape.result().outcome != "failed"


def test_a_drain_that_times_out_records_interrupted(sse_server: SSEServer, path: Path) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(5)]
    gate = threading.Event()
    url = sse_server.add(Route("/v1/responses", chunks, gates={2: gate}))
    try:
        with use_cassette(path, record_mode="all", drain_timeout=0.2) as tape:
            with httpx.Client() as client, client.stream("POST", url) as response:
                next(response.iter_raw())
            assert tape.drain_timeout == 0.2
    finally:
        gate.set()
    [inter] = tape.interactions
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert inter.wire_body == b"".join(chunks[:2])


def test_drain_timeout_goes_with_the_decorator_and_is_checked(path: Path) -> None:
    with pytest.raises(ValueError, match="drain_timeout"):
        use_cassette(path, drain_timeout=-1)
    with pytest.raises(ValueError, match="read_ahead_limit must be positive"):
        use_cassette(path, read_ahead_limit=0)
    seen: list[float] = []

    @use_cassette(path, record_mode="all", drain_timeout=1.5)
    def decorated() -> None:
        seen.append(1.5)

    with pytest.warns(StreamtapeWarning, match="recorded nothing"):
        decorated()
    assert seen == [1.5]
    assert Tape(path, drain_timeout=1.5)._settings()["drain_timeout"] == 1.5


def test_a_block_that_ends_with_a_stream_open_records_what_the_wire_did(
    sse_server: SSEServer, path: Path
) -> None:
    chunks = [b"data: %d\n\n" % n for n in range(4)]
    url = sse_server.add(Route("/v1/responses", chunks))
    client = httpx.Client()
    with use_cassette(path, record_mode="all") as tape:
        response = client.send(client.build_request("POST", url), stream=True)
        first = next(response.iter_raw())
        deadline = time.monotonic() + 10
        while len(tape.recorded[0].chunks) < len(chunks):  # read ahead, while the client waits
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.2)  # and the end of the body, which came with the last chunk
    [inter] = tape.interactions
    assert inter.complete  # not "interrupted": the stream had ended on the wire
    assert inter.wire_body == b"".join(chunks)
    assert inter.end is not None
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    assert first == chunks[0]
    response.close()
    client.close()
