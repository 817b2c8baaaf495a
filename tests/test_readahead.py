"""The read-ahead recorder, stack-neutral: chunks stamped on arrival, handed over in order,
errors raised at the same point, back-pressure, draining after an early close, sync and async."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sse_server import Route, SSEServer

from streamtape import use_cassette
from streamtape._readahead import AsyncReadAhead, SyncReadAhead
from streamtape.cassette import Cassette, CassetteWriter, Interaction, InteractionWriter

GAP = 0.05  # seconds between chunks of the simulated wire
CHUNKS = [b"data: %d\n\n" % n for n in range(6)]


class Wire:
    """A body source that sends ``chunks`` with ``gap`` seconds before each but the first, can
    stall before chunk ``hold_at`` until released, and logs when each chunk was produced."""

    def __init__(
        self,
        chunks: list[bytes] = CHUNKS,
        gap: float = GAP,
        *,
        fail_after: int | None = None,
        hold_at: int | None = None,
    ) -> None:
        self.chunks = chunks
        self.gap = gap
        self.fail_after = fail_after
        self.hold_at = hold_at
        self.release = threading.Event()
        self.pulled = 0
        self.closed = threading.Event()
        self.error = ConnectionResetError("the peer went away")

    def __iter__(self) -> Iterator[bytes]:
        for n, chunk in enumerate(self.chunks):
            if n == self.fail_after:
                raise self.error
            if n == self.hold_at:
                self.release.wait(10)
            if n:
                time.sleep(self.gap)
            self.pulled += 1
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for n, chunk in enumerate(self.chunks):
            if n == self.fail_after:
                raise self.error
            if n == self.hold_at:
                while not self.release.is_set():
                    await asyncio.sleep(0.005)
            if n:
                await asyncio.sleep(self.gap)
            self.pulled += 1
            yield chunk

    def close(self) -> None:
        self.closed.set()

    async def aclose(self) -> None:
        self.closed.set()


def begin(writer: CassetteWriter) -> InteractionWriter:
    rec = writer.begin("POST", "http://127.0.0.1/v1/responses")
    rec.response(200, [("content-type", "text/event-stream")])
    return rec


def recorded(path: Path) -> Interaction:
    [inter] = Cassette.load(path)
    return inter


def gaps(inter: Interaction) -> list[float]:
    offsets = [c.offset_ns for c in inter.chunks]
    return [(b - a) / 1e9 for a, b in itertools.pairwise(offsets)]


def close_after_one_chunk(path: Path, wire: Wire, **options: Any) -> float:
    """Record ``wire`` into ``path`` through a SyncReadAhead with ``options``, take one chunk
    and close: the seconds the close took. A wire holding chunks back is released after."""
    try:
        with CassetteWriter(path) as writer:
            ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close, **options)
            stream = iter(ahead)  # held: a generator dropped would close the read-ahead
            next(stream)
            started = time.perf_counter()
            ahead.close()
            return time.perf_counter() - started
    finally:
        wire.release.set()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "tape.ndjson.zst"


# -- wire time ----------------------------------------------------------------------------------


def test_a_slow_client_gets_the_wire_gaps_recorded_not_its_own(path: Path) -> None:
    wire = Wire()
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        got = []
        for chunk in ahead:
            got.append(chunk)
            if len(got) == 1:
                time.sleep(1.0)  # the client is busy; the wire is not
        ahead.close()
    assert got == CHUNKS
    inter = recorded(path)
    assert inter.complete
    assert [c.data for c in inter.chunks] == CHUNKS
    assert all(GAP * 0.8 < g < 0.5 for g in gaps(inter)), gaps(inter)
    assert inter.end is not None
    assert inter.end.offset_ns / 1e9 < 1.0  # the stream ended before the client got to it
    timing = inter.timing()
    assert timing.largest_gap < 0.5
    assert timing.client_end is not None
    assert timing.client_end > 1.0  # ...and when the client finished is kept as well
    assert timing.client_chunks == len(CHUNKS)
    assert wire.closed.is_set()


def test_a_client_that_keeps_up_leaves_no_client_record(path: Path) -> None:
    wire = Wire(gap=0.01)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        assert list(ahead) == CHUNKS
        ahead.close()
    inter = recorded(path)
    assert inter.complete
    assert inter.end is not None
    assert inter.end.client is None
    assert inter.timing().client_end is None


def test_a_client_busy_with_the_last_chunk_gets_a_client_record(path: Path) -> None:
    wire = Wire(gap=0.01)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        for chunk in ahead:
            if chunk == CHUNKS[-1]:
                time.sleep(0.2)  # its own work, after the wire ended
        ahead.close()
    timing = recorded(path).timing()
    assert timing.client_end is not None
    assert timing.client_end - timing.duration >= 0.2


LATE_NS = 50_000_000  # a waiting client woken this late by a busy machine


def test_a_waiting_client_woken_late_still_kept_up(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Waiting for more when the wire ended is what counts, not how soon the client woke."""
    wire = Wire(gap=0.01)
    client = threading.get_ident()
    with CassetteWriter(path) as writer:
        rec = begin(writer)
        clock = rec.now_ns
        monkeypatch.setattr(
            rec, "now_ns", lambda: clock() + (LATE_NS if threading.get_ident() == client else 0)
        )
        ahead = SyncReadAhead(wire, rec, close_source=wire.close)
        assert list(ahead) == CHUNKS
        ahead.close()
    end = recorded(path).end
    assert end is not None
    assert end.client is None


def test_async_waiting_client_woken_late_still_kept_up(
    path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wire = Wire(gap=0.01)

    async def run() -> list[bytes]:
        with CassetteWriter(path) as writer:
            rec = begin(writer)
            clock = rec.now_ns  # late once the source is closed: the client wakes after that
            monkeypatch.setattr(
                rec, "now_ns", lambda: clock() + (LATE_NS if wire.closed.is_set() else 0)
            )
            ahead = AsyncReadAhead(wire, rec, aclose_source=wire.aclose)
            got = [chunk async for chunk in ahead]
            await ahead.aclose()
            return got

    assert asyncio.run(run()) == CHUNKS
    end = recorded(path).end
    assert end is not None
    assert end.client is None


def test_an_error_reaches_the_client_after_the_chunks_before_it(path: Path) -> None:
    wire = Wire(fail_after=3, gap=0.01)
    got: list[bytes] = []

    def consume(ahead: SyncReadAhead) -> None:
        for chunk in ahead:
            got.append(chunk)
            time.sleep(0.05)  # slower than the wire: the error waits behind the chunks

    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        with pytest.raises(ConnectionResetError) as info:
            consume(ahead)
    assert info.value is wire.error  # the same exception object, in the client's thread
    assert got == CHUNKS[:3]
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "error"
    assert inter.end.error is not None
    assert inter.end.error.type == "ConnectionResetError"
    assert [c.data for c in inter.chunks] == CHUNKS[:3]
    assert inter.end.client is not None  # the client got the error well after it came
    assert inter.end.client.offset_ns > inter.end.offset_ns + 0.05e9


def test_back_pressure_stops_reading_at_the_limit_and_is_recorded(path: Path) -> None:
    chunks = [b"x" * 100 for _ in range(20)]
    wire = Wire(chunks, gap=0.0)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close, limit=250)
        stream = iter(ahead)
        assert next(stream) == chunks[0]
        time.sleep(0.3)
        held = wire.pulled
        assert held <= 5  # 1 taken + 3 waiting past 250 bytes (+1 in hand); not all 20
        assert list(stream) == chunks[1:]
        ahead.close()
    inter = recorded(path)
    assert inter.complete
    assert len(inter.chunks) == 20
    assert inter.end is not None
    assert inter.end.backpressure_ns >= 0.2e9


def test_the_limit_must_be_positive_and_the_drain_not_negative(path: Path) -> None:
    with CassetteWriter(path) as writer:
        rec = begin(writer)
        with pytest.raises(ValueError, match="limit"):
            SyncReadAhead([], rec, limit=0)
        with pytest.raises(ValueError, match="drain_timeout"):
            SyncReadAhead([], rec, drain_timeout=-1)


# -- early close --------------------------------------------------------------------------------


def test_an_early_close_drains_the_rest_and_records_where_the_client_stopped(path: Path) -> None:
    wire = Wire(gap=0.02, hold_at=3)  # the rest comes 0.3 s later: the client has left by then
    opener = threading.Timer(0.3, wire.release.set)
    opener.start()
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        stream = ahead.__iter__()  # the generator itself, to close it
        taken = [next(stream), next(stream)]
        stream.close()  # leaving the iteration counts as closing
        assert wire.closed.is_set()  # close waited for the drain, which closed the source
        ahead.close()  # and a second close is harmless
    inter = recorded(path)
    assert taken == CHUNKS[:2]
    assert inter.complete  # the server's outcome
    assert [c.data for c in inter.chunks] == CHUNKS
    assert inter.end is not None
    assert inter.end.client is not None
    assert inter.end.client.chunks == 2
    assert inter.end.client.bytes == len(b"".join(CHUNKS[:2]))
    assert inter.end.client.offset_ns < inter.end.offset_ns
    assert inter.timing().client_chunks == 2


def test_drain_timeout_zero_stops_at_once_as_closed(path: Path) -> None:
    wire = Wire(hold_at=3)
    assert close_after_one_chunk(path, wire, drain_timeout=0) < 0.5  # no drain: at once
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "closed"
    assert 1 <= len(inter.chunks) <= 3
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    assert wire.closed.wait(5)  # the reader closed the source once its read came back


def test_a_drain_that_runs_out_of_time_is_recorded_as_interrupted(path: Path) -> None:
    wire = Wire(hold_at=3, gap=0.0)
    assert 0.25 < close_after_one_chunk(path, wire, drain_timeout=0.3) < 2.0
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks] == CHUNKS[:3]
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    assert wire.closed.wait(5)


def test_a_drain_stops_at_the_size_limit(path: Path) -> None:
    chunks = [b"y" * 100 for _ in range(50)]
    close_after_one_chunk(path, Wire(chunks, gap=0.0), limit=1000)
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert len(inter.chunks) < 50


def test_finish_ends_the_recording_and_the_client_reads_on_without_it(path: Path) -> None:
    wire = Wire(gap=0.02)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        stream = iter(ahead)
        first = next(stream)
        ahead.finish()  # e.g. the recording block ended while the client holds the stream
        rest = list(stream)
        ahead.close()
    assert [first, *rest] == CHUNKS  # the client lost nothing
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    assert wire.closed.is_set()


def test_finish_after_the_wire_ended_records_the_wire_outcome(path: Path) -> None:
    wire = Wire(gap=0.0)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        stream = iter(ahead)
        next(stream)
        assert wire.closed.wait(5)  # the reader got to the end
        ahead.finish()
    inter = recorded(path)
    assert inter.complete
    assert len(inter.chunks) == len(CHUNKS)
    assert inter.end is not None
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1


def test_the_reader_thread_ends_with_the_stream(path: Path) -> None:
    wire = Wire(gap=0.0)
    with CassetteWriter(path) as writer:
        ahead = SyncReadAhead(wire, begin(writer), close_source=wire.close)
        assert list(ahead) == CHUNKS
        ahead._thread.join(5)
        assert not ahead._thread.is_alive()


# -- async --------------------------------------------------------------------------------------


def test_async_slow_client_gets_the_wire_gaps(path: Path) -> None:
    wire = Wire()

    async def run() -> list[bytes]:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(wire, begin(writer), aclose_source=wire.aclose)
            got = []
            async for chunk in ahead:
                got.append(chunk)
                if len(got) == 1:
                    await asyncio.sleep(1.0)
            await ahead.aclose()
            return got

    assert asyncio.run(run()) == CHUNKS
    inter = recorded(path)
    assert inter.complete
    assert all(GAP * 0.8 < g < 0.5 for g in gaps(inter)), gaps(inter)
    timing = inter.timing()
    assert timing.duration < 1.0
    assert timing.client_end is not None
    assert timing.client_end > 1.0


def test_async_error_reaches_the_client_after_the_chunks_before_it(path: Path) -> None:
    wire = Wire(fail_after=2, gap=0.01)
    got: list[bytes] = []

    async def run() -> None:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(wire, begin(writer), aclose_source=wire.aclose)
            async for chunk in ahead:
                got.append(chunk)
                await asyncio.sleep(0.05)

    with pytest.raises(ConnectionResetError) as info:
        asyncio.run(run())
    assert info.value is wire.error
    assert got == CHUNKS[:2]
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "error"


@pytest.mark.parametrize("drain", [5.0, 0.0], ids=["drain", "no-drain"])
def test_async_early_close(path: Path, drain: float) -> None:
    wire = Wire(gap=0.02, hold_at=None if drain else 3)  # no drain: still open at the close

    async def run() -> None:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(
                wire, begin(writer), aclose_source=wire.aclose, drain_timeout=drain
            )
            async for _ in ahead:
                break
            await ahead.aclose()
            assert wire.closed.is_set()

    try:
        asyncio.run(run())
    finally:
        wire.release.set()
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.client is not None
    assert inter.end.client.chunks == 1
    if drain:
        assert inter.complete
        assert [c.data for c in inter.chunks] == CHUNKS
    else:
        assert inter.end.outcome == "closed"
        assert len(inter.chunks) < len(CHUNKS)


def test_async_drain_out_of_time_cancels_the_read_and_is_interrupted(path: Path) -> None:
    wire = Wire(hold_at=2, gap=0.0)

    async def run() -> float:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(
                wire, begin(writer), aclose_source=wire.aclose, drain_timeout=0.2
            )
            async for _ in ahead:
                break
            started = time.perf_counter()
            await ahead.aclose()
            assert wire.closed.is_set()  # an async read is cancelled: the source closes now
            return time.perf_counter() - started

    try:
        waited = asyncio.run(run())
    finally:
        wire.release.set()
    assert 0.15 < waited < 2.0
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks] == CHUNKS[:2]


def test_async_back_pressure(path: Path) -> None:
    chunks = [b"z" * 100 for _ in range(20)]
    wire = Wire(chunks, gap=0.0)

    async def run() -> None:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(wire, begin(writer), aclose_source=wire.aclose, limit=250)
            stream = aiter(ahead)
            assert await anext(stream) == chunks[0]
            await asyncio.sleep(0.2)
            assert wire.pulled <= 5
            assert [c async for c in stream] == chunks[1:]
            await ahead.aclose()

    asyncio.run(run())
    inter = recorded(path)
    assert inter.complete
    assert inter.end is not None
    assert inter.end.backpressure_ns >= 0.1e9


def test_async_finish_lets_the_client_read_on(path: Path) -> None:
    wire = Wire(gap=0.01)

    async def run() -> list[bytes]:
        with CassetteWriter(path) as writer:
            ahead = AsyncReadAhead(wire, begin(writer), aclose_source=wire.aclose)
            stream = aiter(ahead)
            got = [await anext(stream)]
            ahead.finish()
            got += [c async for c in stream]
            await ahead.aclose()
            return got

    assert asyncio.run(run()) == CHUNKS
    inter = recorded(path)
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert wire.closed.is_set()


def test_async_client_working_through_a_backlog_leaves_the_reader_room(
    sse_server: SSEServer, path: Path
) -> None:
    """An async client behind the wire takes queued chunks without waiting for the reader. Each
    chunk it takes lets the event loop run the reader, so what the server writes while the
    client works through its backlog (blocking the loop a few ms a chunk) is read and stamped as
    it comes, each write its own chunk, not all at once when the client next waits."""
    chunks = [b"data: %d\n\n" % n for n in range(24)]
    url = sse_server.add(Route("/v1/responses", chunks, delays=0.03))

    async def run() -> None:
        async with httpx.AsyncClient() as client, client.stream("POST", url) as response:
            taken = 0
            async for _ in response.aiter_raw():
                taken += 1
                if taken == 1:
                    await asyncio.sleep(0.45)  # falls about 15 chunks behind
                else:
                    time.sleep(0.008)  # works through them, holding the loop

    with use_cassette(path, record_mode="rewrite"):
        asyncio.run(run())
    sent = sse_server.sent_on("/v1/responses")
    inter = recorded(path)
    assert [c.data for c in inter.chunks] == chunks  # no write waited to be read with the next
    first_sent, first_recorded = sent[0].at_ns, inter.chunks[0].offset_ns
    late = [
        (c.offset_ns - first_recorded) - (s.at_ns - first_sent)
        for c, s in zip(inter.chunks, sent, strict=True)
    ]
    assert max(late) < 40_000_000, late  # ns: a chunk's worth of the client's work, and slack
