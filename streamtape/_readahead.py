"""Read a response body ahead of the client while recording: each chunk is stamped when it came
off the socket, not when the client asked for it, and a client that stops early does not cut the
cassette short. Stack-neutral: any HTTP stack's recorder wraps its body iterator in one of these.

API (sync and async twins)::

    SyncReadAhead(chunks, rec, *, close_source=None, limit=READ_AHEAD_LIMIT,
                  drain_timeout=DRAIN_TIMEOUT)
        iter(ra) / ra.close() / ra.finish()
    AsyncReadAhead(chunks, rec, *, aclose_source=None, limit=READ_AHEAD_LIMIT,
                   drain_timeout=DRAIN_TIMEOUT)
        ra.__aiter__() / await ra.aclose() / ra.finish()

``chunks`` is the stack's body iterator (bytes, as read from the wire) and ``rec`` the
:class:`~streamtape.cassette.InteractionWriter` whose response head is recorded. A reader (a daemon
thread; for the async twin a task on the running event loop, started at construction) takes each
chunk as it arrives, records it with the offset read on arrival, then hands it to the client (so
a chunk the client holds is always in the cassette).
Iterating yields the chunks once, in order; an exception the body raised is raised again (the same
object) after the chunks that came before it. At most ``limit`` bytes wait for the client; past
that the reader stops reading (TCP then slows the server) and the end record says for how long
(``backpressure_us``).

The client stops early by closing (``close`` / ``aclose``; leaving the iteration early or an async
cancellation counts too). The reader then keeps reading to the end of the stream, at most
``drain_timeout`` seconds and ``limit`` bytes more, and ``close`` waits for that, so the cassette
holds what the server sent and its end (``complete`` / ``error``) is the server's. A drain that
runs out records ``interrupted``; ``drain_timeout=0`` stops at once and records ``closed`` (or
``interrupted`` for a cancellation), as a plain pass-through would. A KeyboardInterrupt in the
client is never drained: it records ``interrupted``. The end record's time is when the stream
ended on the wire; where the client stopped (chunks, bytes, time) goes into it when that differs
(see ``docs/cassette-format.md``).

Under an event loop other than asyncio (trio), the async twin has no task to read ahead with: it
reads as the client asks, stamps each chunk then, and records an early close as ``closed``.

``close_source`` / ``aclose_source`` closes the stack's stream. The reader calls it when it stops
(never while another read is under way); when the recording was ended from outside first (the
writer closed, or :meth:`finish`) while the client still reads, the reader leaves the source to the
client, which goes on reading it directly and closes it. A reader blocked in a read ends with that
read: its life is bounded by the stack's read timeout. ``finish()`` is for a recorder whose block
ends while the client still holds the stream: it writes the end record at once (the wire's outcome
if the stream ended, else ``interrupted``) and lets the reader go.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections import deque
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
)
from typing import NamedTuple

from streamtape._vocabulary import EndState, StopReason
from streamtape.cassette import ClientStop, InteractionWriter

__all__ = ["DRAIN_TIMEOUT", "READ_AHEAD_LIMIT", "AsyncReadAhead", "SyncReadAhead"]

READ_AHEAD_LIMIT = 64 << 20
"""Bytes read ahead of the client at most (and read at most after the client stopped)."""
DRAIN_TIMEOUT = 5.0
"""Seconds the recorder keeps reading after the client closed early."""

# A client kept up with the wire when it was given the end within 1 ms of its own time after the
# wire ended. Its own time starts when it last woke from waiting for the reader, if that was later:
# how soon a waiting client is woken depends on the machine's load, not on the client.
_CLIENT_SLACK_NS = 1_000_000


class _Wire(NamedTuple):
    """How the source ended: outcome, the exception it raised, and when (ns since the request)."""

    outcome: EndState
    error: BaseException | None
    at_ns: int


class _State:
    """What reader and client share (the sync twin guards it with a lock, the async one keeps it
    on its event loop), and the rules for when and how the interaction ends, written once."""

    def __init__(
        self, rec: InteractionWriter, limit: int, drain_timeout: float, *, drain_cancelled: bool
    ) -> None:
        if limit <= 0:
            raise ValueError(f"the read-ahead limit must be positive, got {limit}")
        if not drain_timeout >= 0:
            raise ValueError(f"drain_timeout must not be negative, got {drain_timeout}")
        self.rec = rec
        self.limit = limit
        self.drain_ns = int(drain_timeout * 1e9)
        self.drain_cancelled = drain_cancelled  # drain after the client was interrupted too
        self.queue: deque[bytes] = deque()
        self.buffered = 0
        self.taken_chunks = 0
        self.taken_bytes = 0
        self.wire: _Wire | None = None
        self.reader_done = False
        self.stopped_at: int | None = None  # when the client stopped before the end
        self.stop_how: StopReason = "closed"
        self.client_end_at: int | None = None  # when the client was given the end
        self.woken_at: int | None = None  # when the client last woke from waiting for the reader
        self.drained = 0  # bytes read after the client stopped
        self.cut = False  # the recorder gave up on the rest of the stream
        self.backpressure_ns = 0
        self.handoff = False  # the reader left the source to the client

    @property
    def ended(self) -> bool:
        """The end record is written (by this read-ahead, or by the writer closing)."""
        return self.rec.ended

    def client_gone(self) -> bool:
        return self.stopped_at is not None or self.client_end_at is not None

    def deadline_ns(self) -> int | None:
        return None if self.stopped_at is None else self.stopped_at + self.drain_ns

    def arrived(self, chunk: bytes) -> None:
        """The reader got ``chunk``: queue it for the client, or count it as drained."""
        if self.stopped_at is None:
            self.queue.append(chunk)
            self.buffered += len(chunk)
        else:
            self.drained += len(chunk)

    def take(self) -> bytes:
        chunk = self.queue.popleft()
        self.buffered -= len(chunk)
        self.taken_chunks += 1
        self.taken_bytes += len(chunk)
        return chunk

    def given(self, chunks: int, nbytes: int) -> None:
        """The client has been given ``chunks`` (``nbytes``) in all: for a recorder whose client
        reads the stack's own buffer rather than this queue, counted from that buffer."""
        self.taken_chunks = chunks
        self.taken_bytes = nbytes

    def reader_must_stop(self, now: int) -> bool:
        """Asked after each chunk: stop reading? Ends the recording when a drain ran out."""
        if self.ended:
            return True
        deadline = self.deadline_ns()
        if deadline is None:
            return False
        if self.drained > self.limit or now >= deadline:
            self.cut = True
            self.settle()
            return True
        return False

    def reader_ended(self, wire: _Wire | None) -> None:
        """The reader stopped: at the source's end (``wire``), whose end record is written once
        it is known; or early (None), when the recording ended from outside or was cut. A
        client still reading then takes the source over (``handoff``): it was never cut."""
        if wire is not None:
            self.wire = wire
            self.settle()
        self.handoff = wire is None and not self.client_gone() and not self.cut
        self.reader_done = True

    def ended_in_step(self, wire: _Wire) -> None:
        """The source ended while the client read it in step (no read-ahead): the client counts
        as given the end when the wire ended, so the end record is written now."""
        self.wire = wire
        if not self.client_gone():
            self.client_end_at = wire.at_ns
        self.settle()

    def stop(self, now: int, how: StopReason) -> None:
        """The client stopped reading before it was given the end."""
        if self.client_gone():
            return
        self.stopped_at = now
        self.stop_how = how
        self.queue.clear()
        self.buffered = 0
        if how == "interrupted" and not self.drain_cancelled:
            self.cut = True
        self.settle()

    def settle(self, *, now: int | None = None) -> None:
        """Write the end record once it is known; with ``now``, at once with what is known (the
        client, if still reading, counts as stopped at ``now``)."""
        if self.ended:
            return
        wire = self.wire
        if wire is not None and (self.client_gone() or now is not None):
            self._end(wire.outcome, wire.error, wire.at_ns, now)
        elif self.stopped_at is not None and (self.cut or self.drain_ns == 0):
            self._end("interrupted" if self.cut else self.stop_how, None, None, now)
        elif now is not None:
            self._end("interrupted", None, None, now)

    def _client(self, now: int | None) -> ClientStop | None:
        """Where the client stopped, when that differs from the wire's end."""
        at = self.stopped_at
        if at is None and self.client_end_at is not None:
            wire = self.wire
            if wire is not None:
                since = max(wire.at_ns, self.woken_at or 0)
                if self.client_end_at - since <= _CLIENT_SLACK_NS:
                    return None
            at = self.client_end_at
        if at is None:
            at = now
        return None if at is None else ClientStop(self.taken_chunks, self.taken_bytes, at)

    def _end(
        self, outcome: EndState, error: BaseException | None, at_ns: int | None, now: int | None
    ) -> None:
        self.rec.end(
            outcome,
            error=error,
            offset_ns=at_ns,
            client=self._client(now),
            backpressure_ns=self.backpressure_ns,
        )


class SyncReadAhead:
    """A sync body read ahead of the client by a reader thread (see the module docstring)."""

    def __init__(
        self,
        chunks: Iterable[bytes],
        rec: InteractionWriter,
        *,
        close_source: Callable[[], object] | None = None,
        limit: int = READ_AHEAD_LIMIT,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self._state = _State(rec, limit, drain_timeout, drain_cancelled=False)
        self._chunks = iter(chunks)
        self._close_source = close_source
        self._source_closed = False
        self._cond = threading.Condition(threading.Lock())
        self._reader_waits = False
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run, args=(self._read,), name="streamtape-read-ahead", daemon=True
        )
        self._thread.start()

    # -- the reader thread --

    def _read(self) -> None:
        state, cond, rec = self._state, self._cond, self._state.rec
        wire: _Wire | None = None
        try:
            for chunk in self._chunks:
                at = rec.now_ns()
                rec.chunk(chunk, offset_ns=at)  # first: a chunk the client holds is recorded
                with cond:
                    state.arrived(chunk)
                    cond.notify_all()
                    if state.buffered > state.limit:
                        self._hold()
                    if state.reader_must_stop(rec.now_ns()):
                        break
            else:
                wire = _Wire("complete", None, rec.now_ns())
        except Exception as exc:
            wire = _Wire("error", exc, rec.now_ns())
        except BaseException as exc:  # e.g. SystemExit raised by the source
            wire = _Wire("interrupted", exc, rec.now_ns())
        with cond:
            state.reader_ended(wire)
            cond.notify_all()
        if not state.handoff:
            self._close()

    def _hold(self) -> None:
        """Wait (lock held) while more than ``limit`` bytes wait for the client."""
        state, rec = self._state, self._state.rec
        since = rec.now_ns()
        self._reader_waits = True
        while state.buffered > state.limit and not state.client_gone() and not state.ended:
            self._cond.wait()
        self._reader_waits = False
        state.backpressure_ns += rec.now_ns() - since

    def _close(self) -> None:
        with self._cond:
            if self._source_closed:
                return
            self._source_closed = True
        if self._close_source is not None:
            self._close_source()

    # -- the client --

    def __iter__(self) -> Generator[bytes, None, None]:
        state, cond, rec = self._state, self._cond, self._state.rec
        try:
            while True:
                with cond:
                    if not state.queue and not state.reader_done:
                        while not state.queue and not state.reader_done:
                            cond.wait()
                        state.woken_at = rec.now_ns()
                    if not state.queue:
                        break
                    chunk = state.take()
                    if self._reader_waits and state.buffered <= state.limit:
                        cond.notify_all()
                yield chunk
            wire = state.wire
            if wire is None:
                if state.handoff:  # the recording ended from outside: read on without it
                    yield from self._chunks
                return
            with cond:
                state.client_end_at = rec.now_ns()
                state.settle()
            if wire.error is not None:
                raise wire.error
        except GeneratorExit:
            self.close()
            raise
        except BaseException:
            with cond:
                if state.client_end_at is None:
                    state.stop(rec.now_ns(), "interrupted")
                cond.notify_all()
            raise

    def close(self) -> None:
        """The client is done with the stream: drain it (up to ``drain_timeout``), then return."""
        state, cond, rec = self._state, self._cond, self._state.rec
        with cond:
            handoff = state.handoff
            if not handoff:
                state.stop(rec.now_ns(), "closed")
                cond.notify_all()
                deadline = state.deadline_ns()
                while deadline is not None and not state.reader_done and not state.ended:
                    remaining = deadline - rec.now_ns()
                    if remaining <= 0:
                        state.cut = True
                        state.settle()
                        break
                    cond.wait(remaining / 1e9)
        if handoff:
            self._close()
        elif state.wire is not None:
            self._thread.join()  # it is closing the source (the connection goes back now)

    def finish(self) -> None:
        """End the recording now with what is known; the reader lets go at its next chunk."""
        with self._cond:
            self._state.settle(now=self._state.rec.now_ns())
            self._cond.notify_all()


class AsyncReadAhead:
    """The async twin of :class:`SyncReadAhead`: a reader task on the running event loop."""

    def __init__(
        self,
        chunks: AsyncIterable[bytes],
        rec: InteractionWriter,
        *,
        aclose_source: Callable[[], Awaitable[object]] | None = None,
        limit: int = READ_AHEAD_LIMIT,
        drain_timeout: float = DRAIN_TIMEOUT,
    ) -> None:
        self._state = _State(rec, limit, drain_timeout, drain_cancelled=True)
        self._chunks = aiter(chunks)
        self._aclose_source = aclose_source
        self._source_closed = False
        self._arrived = asyncio.Event()  # set when the client has something to take
        self._taken = asyncio.Event()  # set when the client took a chunk or left
        self._loop: asyncio.AbstractEventLoop | None
        self._task: asyncio.Task[None] | None = None
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:  # another event loop (trio): chunks are read and stamped inline
            self._loop = None
            self._state.drain_ns = 0
        else:
            self._task = self._loop.create_task(self._read(), name="streamtape-read-ahead")

    # -- the reader task --

    async def _read(self) -> None:
        state, rec = self._state, self._state.rec
        wire: _Wire | None = None
        try:
            async for chunk in self._chunks:
                rec.chunk(chunk, offset_ns=rec.now_ns())
                state.arrived(chunk)
                self._arrived.set()
                if state.buffered > state.limit:
                    since = rec.now_ns()
                    while state.buffered > state.limit and not state.client_gone():
                        if state.ended:
                            break
                        self._taken.clear()
                        await self._taken.wait()
                    state.backpressure_ns += rec.now_ns() - since
                if state.reader_must_stop(rec.now_ns()):
                    break
            else:
                wire = _Wire("complete", None, rec.now_ns())
        except asyncio.CancelledError:
            # the drain ran out, or the loop is shutting down with the stream open
            state.cut = True
            state.settle(now=rec.now_ns())
            raise
        except Exception as exc:
            wire = _Wire("error", exc, rec.now_ns())
        finally:
            state.reader_ended(wire)
            self._arrived.set()
            if not state.handoff:
                await self._aclose()

    async def _aclose(self) -> None:
        if self._source_closed:
            return
        self._source_closed = True
        if self._aclose_source is not None:
            await self._aclose_source()

    # -- the client --

    async def __aiter__(self) -> AsyncIterator[bytes]:
        state, rec = self._state, self._state.rec
        try:
            if self._task is None:
                async for chunk in self._inline():
                    yield chunk
                return
            while True:
                if not state.queue and not state.reader_done:
                    while not state.queue and not state.reader_done:
                        self._arrived.clear()
                        await self._arrived.wait()
                    state.woken_at = rec.now_ns()
                elif not state.reader_done:
                    # A client behind the wire takes queued chunks without waiting: let the loop
                    # run the reader between them, or a chunk arriving meanwhile is stamped only
                    # when the client next waits.
                    await asyncio.sleep(0)
                if not state.queue:
                    break
                chunk = state.take()
                self._taken.set()
                yield chunk
            wire = state.wire
            if wire is None:
                if not state.handoff:  # the reader was cancelled under the client
                    raise asyncio.CancelledError
                async for chunk in self._chunks:  # the recording ended from outside
                    yield chunk
                return
            state.client_end_at = rec.now_ns()
            state.settle()
            if wire.error is not None:
                raise wire.error
        except GeneratorExit:
            state.stop(rec.now_ns(), "closed")
            self._taken.set()
            raise
        except BaseException:
            if state.client_end_at is None:
                state.stop(rec.now_ns(), "interrupted")
                self._taken.set()
            raise

    async def _inline(self) -> AsyncIterator[bytes]:
        """Without an asyncio loop to run a reader task in: read as the client asks, stamp
        each chunk then (the client's time), no draining; recorded as before the read-ahead."""
        state, rec = self._state, self._state.rec
        try:
            async for chunk in self._chunks:
                rec.chunk(chunk, offset_ns=rec.now_ns())
                state.taken_chunks += 1
                state.taken_bytes += len(chunk)
                yield chunk
        except Exception as exc:
            state.ended_in_step(_Wire("error", exc, rec.now_ns()))
            raise
        else:
            state.ended_in_step(_Wire("complete", None, rec.now_ns()))

    async def aclose(self) -> None:
        """The client is done with the stream: drain it (up to ``drain_timeout``), then return."""
        state, rec = self._state, self._state.rec
        if state.handoff or self._task is None:
            state.stop(rec.now_ns(), "closed")
            await self._aclose()
            return
        state.stop(rec.now_ns(), "closed")
        self._taken.set()
        task = self._task
        if not task.done() and state.wire is None:  # else the reader is closing the source
            deadline = state.deadline_ns()
            if state.ended or deadline is None:
                task.cancel()  # nothing more to record
            else:
                try:
                    await asyncio.wait_for(
                        asyncio.shield(task), max(0.0, (deadline - rec.now_ns()) / 1e9)
                    )
                except asyncio.TimeoutError:
                    task.cancel()  # the reader records the cut as interrupted
                except asyncio.CancelledError:
                    task.cancel()
                    raise
        await asyncio.wait({task})  # until the reader closed the source

    def finish(self) -> None:
        """End the recording now with what is known; the reader lets go at its next chunk."""
        self._state.settle(now=self._state.rec.now_ns())
        if self._loop is not None and self._task is not None and not self._task.done():
            with contextlib.suppress(RuntimeError):  # a closed loop took the task with it
                self._loop.call_soon_threadsafe(self._taken.set)
