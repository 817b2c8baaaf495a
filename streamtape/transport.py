"""Record and replay at httpx's transport seam, for httpx and httpx2, sync and async.

`RecordingTransport` sends each request through the real transport and wraps the response
stream: every chunk goes to the caller the moment it arrives and into the cassette with its
offset. `ReplayTransport` answers from a cassette with the same head, the same chunks (bytes and
boundaries) at the recorded offsets divided by ``speed``, and the same error where a stream broke.

One core serves both libraries; a small adapter per library supplies its Response, byte stream
and exception classes, picked from the request object's module. The core methods take the
``send`` callable (``record(request, send)``), so a patched ``HTTPTransport.handle_request`` can
pass the original bound method.
"""

from __future__ import annotations

import asyncio
import builtins
import importlib
import inspect
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, overload

import httpx

from streamtape import faults as _faults
from streamtape._httpx_compat import Httpx2AsyncTransport, Httpx2Transport, library_name
from streamtape._readahead import DRAIN_TIMEOUT, READ_AHEAD_LIMIT, AsyncReadAhead, SyncReadAhead
from streamtape._vocabulary import INSTANT
from streamtape.cassette import (
    Cassette,
    CassetteWriter,
    ErrorInfo,
    Interaction,
    InteractionWriter,
    RecordedRequest,
)
from streamtape.errors import CassetteError
from streamtape.matching import Matcher
from streamtape.redact import DEFAULT_REDACTOR, Redactor

if TYPE_CHECKING:
    import httpx2

__all__ = ["DRAIN_TIMEOUT", "INSTANT", "READ_AHEAD_LIMIT", "RecordingTransport", "ReplayTransport"]


# Held in a tuple so that frozen-time libraries, which swap module attributes, leave them be.
_REAL_TIME: tuple[Callable[[], float], Callable[[float], None]] = (time.perf_counter, time.sleep)
# The last stretch of a real wait is spent yielding in a loop, because sleeps wake up late: the
# OS's by tens of microseconds, asyncio's by up to a millisecond (its epoll timeouts are whole
# milliseconds). The stretches are kept short: spinning costs CPU.
_SPIN = 0.0005
_ASYNC_SPIN = 0.002


def _real_sleep(seconds: float) -> None:
    """Sleep ``seconds`` on the real clock, ending within microseconds of the deadline."""
    clock, sleep = _REAL_TIME
    deadline = clock() + seconds
    if seconds > _SPIN:
        sleep(seconds - _SPIN)
    while clock() < deadline:
        sleep(0)


async def _real_async_sleep(seconds: float) -> None:
    """The async twin of `_real_sleep`: other tasks run while this one waits and yields."""
    clock = _REAL_TIME[0]
    deadline = clock() + seconds
    if seconds > _ASYNC_SPIN:
        await asyncio.sleep(seconds - _ASYNC_SPIN)
    while clock() < deadline:
        await asyncio.sleep(0)


SyncSend = Callable[[Any], Any]
AsyncSend = Callable[[Any], Awaitable[Any]]


class ErrorFactory(Protocol):
    """What replay asks of a stack's adapter: the recorded error as that stack's exception."""

    def exception(self, error: ErrorInfo) -> BaseException: ...


def exception_named(error: ErrorInfo, *modules: object) -> Exception | None:
    """The recorded error as the exception class of its name in the first of ``modules`` that
    has one, built with the recorded message; None when none has it or the class needs more
    than a message (then each adapter picks the nearest kind of its own)."""
    for module in modules:
        cls = getattr(module, error.type, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(error.message)
            except TypeError:  # needs more than a message (e.g. HTTPStatusError)
                return None
    return None


# -- one adapter per httpx-like library ---------------------------------------------------------


class _Lib:
    """What the core needs from httpx or httpx2: its classes, and stream classes built on them."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.name = module.__name__
        self.recording_sync = type(
            "RecordingSyncStream", (_RecordingSync, module.SyncByteStream), {}
        )
        self.recording_async = type(
            "RecordingAsyncStream", (_RecordingAsync, module.AsyncByteStream), {}
        )
        self.replay_sync = type("ReplaySyncStream", (_ReplaySync, module.SyncByteStream), {})
        self.replay_async = type("ReplayAsyncStream", (_ReplayAsync, module.AsyncByteStream), {})

    def response(self, interaction: Interaction, stream: object) -> Any:
        """A Response of this library with the recorded head and ``stream`` as body."""
        head = interaction.response
        assert head is not None
        return self.module.Response(
            head.status,
            headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in head.headers],
            stream=stream,
            extensions={
                "http_version": head.http_version.encode("ascii"),
                "reason_phrase": head.reason.encode("latin-1"),
            },
        )

    def exception(self, error: ErrorInfo) -> Exception:
        """The recorded exception, as this library's class of that name (or a builtin one)."""
        named = exception_named(error, self.module, builtins)
        if named is not None:
            return named
        transport_error: type[Exception] = self.module.TransportError
        return transport_error(f"{error.type}: {error.message}")

    def read_timeout(self) -> Exception:
        """What this library raises when a read waits longer than the client's read timeout."""
        error: Exception = self.module.ReadTimeout("timed out")
        return error


class _ReadTimeout(NamedTuple):
    """A client's read timeout: no wait lasts longer than ``seconds``; one that would ends, after
    them, in ``error()``, the exception the client's library raises then."""

    seconds: float
    error: Callable[[], BaseException]


def _read_timeout(request: Any, lib: _Lib) -> _ReadTimeout | None:
    """The client's read timeout for ``request`` (None: none)."""
    timeout = getattr(request, "extensions", {}).get("timeout")
    read = timeout.get("read") if isinstance(timeout, dict) else None
    return _ReadTimeout(float(read), lib.read_timeout) if isinstance(read, (int, float)) else None


_LIBS: dict[int, _Lib] = {}


def _lib_named(name: str) -> _Lib:
    """The adapter of the module now imported as ``name``, keyed by the module object itself,
    so a library imported afresh (pytester, importlib.reload) gets adapters of its own classes."""
    module = sys.modules.get(name) or importlib.import_module(name)
    lib = _LIBS.get(id(module))
    if lib is None or lib.module is not module:
        lib = _LIBS[id(module)] = _Lib(module)
    return lib


def _lib_of(request: object) -> _Lib:
    """The adapter for the library that made ``request`` (httpx2 is imported only if used)."""
    return _lib_named(library_name(request))


def _headers(headers: Any) -> list[tuple[str, str]]:
    """httpx Headers as (name, value) pairs as on the wire; latin-1 keeps every byte."""
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers.raw]


# -- recording ----------------------------------------------------------------------------------


class _EndedIfRaised:
    """Around sending the request: what it raises ends the recording (``error``, or
    ``interrupted`` for a KeyboardInterrupt or a cancellation) and goes on to the caller."""

    def __init__(self, rec: InteractionWriter) -> None:
        self._rec = rec

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        if exc is not None:
            self._rec.end("error" if isinstance(exc, Exception) else "interrupted", error=exc)


class _RecordingSync:
    """The body as the caller reads it, read ahead of the caller and recorded by a reader thread
    (`SyncReadAhead`): wire arrival offsets, and the rest of the stream after an early close."""

    def __init__(self, source: Any, rec: InteractionWriter, limit: int, drain_timeout: float):
        self.ahead = SyncReadAhead(
            source, rec, close_source=source.close, limit=limit, drain_timeout=drain_timeout
        )

    def __iter__(self) -> Iterator[bytes]:
        yield from self.ahead

    def close(self) -> None:
        self.ahead.close()


class _RecordingAsync:
    """The async twin of `_RecordingSync`, read ahead by a task (`AsyncReadAhead`)."""

    def __init__(self, source: Any, rec: InteractionWriter, limit: int, drain_timeout: float):
        self.ahead = AsyncReadAhead(
            source, rec, aclose_source=source.aclose, limit=limit, drain_timeout=drain_timeout
        )

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.ahead:
            yield chunk

    async def aclose(self) -> None:
        await self.ahead.aclose()


class _AnyClient(
    httpx.BaseTransport, httpx.AsyncBaseTransport, Httpx2Transport, Httpx2AsyncTransport
):
    """A transport of sync and async clients of httpx and httpx2 alike: one class serves all
    four at run time, and type checkers take it for each library's transport."""

    @overload
    def handle_request(self, request: httpx.Request) -> httpx.Response: ...
    @overload
    def handle_request(self, request: httpx2.Request) -> httpx2.Response: ...
    def handle_request(self, request: Any) -> Any:
        return self._send(request)

    @overload
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response: ...
    @overload
    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response: ...
    async def handle_async_request(self, request: Any) -> Any:
        return await self._asend(request)

    def _send(self, request: Any) -> Any:
        raise NotImplementedError

    async def _asend(self, request: Any) -> Any:
        raise NotImplementedError


class LiveRecording(Protocol):
    """A stream being recorded that :meth:`RecordingTransport.finish` ends if still open."""

    def finish(self) -> None: ...


class RecordingTransport(_AnyClient):
    """Send requests through ``wrapped`` and record every interaction into ``writer``.

    Serves sync and async clients of httpx and httpx2. The response streams to the caller chunk
    by chunk as it arrives; the body is read ahead of the caller (at most ``read_ahead_limit``
    bytes), so the cassette gets each chunk with the offset it came off the socket at and, at
    the end, how and when the stream ended (read to the end, or broken with an error). When the
    caller closes early, the recorder reads on to the end for up to ``drain_timeout`` seconds
    (0: stop at once and record ``closed``) and records where the caller stopped. The writer
    belongs to the caller: closing this transport closes ``wrapped`` only; :meth:`finish` ends
    the recording of streams the caller still holds.
    """

    def __init__(
        self,
        wrapped: Any,
        writer: CassetteWriter,
        *,
        drain_timeout: float = DRAIN_TIMEOUT,
        read_ahead_limit: int = READ_AHEAD_LIMIT,
    ) -> None:
        if not drain_timeout >= 0:
            raise ValueError(f"drain_timeout must not be negative, got {drain_timeout}")
        self.wrapped = wrapped
        self.writer = writer
        self.drain_timeout = drain_timeout
        self.read_ahead_limit = read_ahead_limit
        self._live: weakref.WeakSet[LiveRecording] = weakref.WeakSet()

    def _send(self, request: Any) -> Any:
        return self.record(request, self.wrapped.handle_request)

    async def _asend(self, request: Any) -> Any:
        return await self.arecord(request, self.wrapped.handle_async_request)

    def record(self, request: Any, send: SyncSend) -> Any:
        """Send ``request`` with ``send`` (e.g. an original ``handle_request``) and record it."""
        lib = _lib_of(request)
        rec = self._begin(request, request.read())
        with _EndedIfRaised(rec):
            response = send(request)
        return self._recorded(rec, response, lib.recording_sync)

    async def arecord(self, request: Any, send: AsyncSend) -> Any:
        """The async twin of :meth:`record`."""
        lib = _lib_of(request)
        rec = self._begin(request, await request.aread())
        with _EndedIfRaised(rec):
            response = await send(request)
        return self._recorded(rec, response, lib.recording_async)

    def finish(self) -> None:
        """End the recording of every stream still open now (its end record says where the
        caller was), so a writer closed next has nothing left open; the readers let go."""
        for live in list(self._live):
            live.finish()

    async def drained(self) -> None:
        """Until the streams still draining on the running event loop have drained (each for at
        most ``drain_timeout``): those a stack drains on its own after the caller let them go
        (aiohttp's; the read-ahead streams drain while their client closes them)."""
        for live in list(self._live):
            drained = getattr(live, "drained", None)
            if drained is not None:
                await drained()

    def track(self, live: LiveRecording) -> None:
        """Have :meth:`finish` end ``live`` too (held weakly): for a stack adapter that records
        a stream its own way rather than through this transport's read-ahead streams."""
        self._live.add(live)

    def _begin(self, request: Any, body: bytes) -> InteractionWriter:
        return self.writer.begin(request.method, str(request.url), _headers(request.headers), body)

    def _recorded(
        self,
        rec: InteractionWriter,
        response: Any,
        recording: Callable[[Any, InteractionWriter, int, float], _RecordingSync | _RecordingAsync],
    ) -> Any:
        """``response`` with its head recorded into ``rec`` and its body swapped for a
        ``recording`` stream, which reads the real one ahead of the caller into ``rec``."""
        ext = response.extensions
        rec.response(
            response.status_code,
            _headers(response.headers),
            http_version=ext.get("http_version", b"HTTP/1.1").decode("ascii", "replace"),
            reason=ext.get("reason_phrase", b"").decode("latin-1"),
        )
        stream = recording(response.stream, rec, self.read_ahead_limit, self.drain_timeout)
        self._live.add(stream.ahead)
        response.stream = stream
        return response

    def close(self) -> None:
        if hasattr(self.wrapped, "close"):
            self.wrapped.close()

    async def aclose(self) -> None:
        if hasattr(self.wrapped, "aclose"):
            await self.wrapped.aclose()


# -- replay -------------------------------------------------------------------------------------


class _Schedule:
    """When each recorded event of one replayed interaction is due.

    Waits are the recorded gaps divided by ``speed``, each capped at ``max_gap``. With a clock,
    time the caller spent between reads is taken off the next wait (no drift), never making a
    wait longer than its gap. Without one (an injected sleep), the waits are the gaps as they are.
    ``wait`` is called for the head, each chunk and the end, in that order; ``pauses`` (chunk
    index -> seconds, from a ``stall`` fault) add wall-clock time before chunks, whatever the
    speed.
    """

    def __init__(
        self,
        speed: float,
        max_gap: float | None,
        clock: Callable[[], float] | None,
        start: float | None = None,
        pauses: dict[int, float] | None = None,
    ):
        self._speed = speed
        self._max_gap = max_gap
        self._clock = clock
        self._pauses = pauses or {}
        self._calls = 0
        self._last_ns = 0
        if clock is None:
            self._deadline = 0.0
        else:
            self._deadline = clock() if start is None else start

    def wait(self, offset_ns: int) -> float | None:
        """Seconds to wait before the event at ``offset_ns``; None when replaying instantly."""
        gap_ns, self._last_ns = offset_ns - self._last_ns, offset_ns
        pause = self._pauses.get(self._calls - 1, 0.0)  # call 0 is the head's
        self._calls += 1
        if self._speed == INSTANT:
            return pause or None
        wait = gap_ns / 1e9 / self._speed
        if self._max_gap is not None:
            wait = min(wait, self._max_gap)
        wait += pause
        if self._clock is None:
            return wait
        self._deadline += wait
        return min(wait, max(0.0, self._deadline - self._clock()))


def _finish_error(lib: ErrorFactory, interaction: Interaction, where: str) -> BaseException | None:
    """What replay raises after the last recorded chunk: None for a complete stream."""
    end = interaction.end
    if end is not None and end.outcome == "complete":
        return None
    if end is not None and end.outcome == "error" and end.error is not None:
        return lib.exception(end.error)
    how = (
        "the recorder stopped before the stream ended"
        if end is None
        else f"the stream ended as {end.outcome!r} while recording"
    )
    return CassetteError(
        f"interaction {interaction.id} ({interaction.request.method} {interaction.request.url}) "
        f"has nothing recorded {where}: {how}; re-record to replay further"
    )


class _Replay:
    """One interaction's body as replay plays it: when each chunk and the end are due (its
    ``schedule``) and how the stream ends. The sync and async streams below only wait, each
    wait cut short at the client's read ``timeout``."""

    def __init__(
        self,
        player: ReplayTransport,
        lib: ErrorFactory,
        inter: Interaction,
        schedule: _Schedule,
        timeout: _ReadTimeout | None = None,
    ):
        self._player, self._lib, self._inter, self._schedule = player, lib, inter, schedule
        self._timeout = timeout

    def _steps(self) -> Iterator[tuple[float | None, bytes | None]]:
        """(seconds to wait, chunk to hand over) for each recorded chunk, then (seconds, None)
        for the recorded end; each wait is reckoned when the step is asked for."""
        for chunk in self._inter.chunks:
            yield self._schedule.wait(chunk.offset_ns), chunk.data
        if self._inter.end is not None:
            yield self._schedule.wait(self._inter.end.offset_ns), None

    def _finish(self) -> None:
        """Raise what the recording says came after the last chunk (nothing when complete)."""
        where = f"after chunk {len(self._inter.chunks)}"
        error = _finish_error(self._lib, self._inter, where)
        if error is not None:
            raise error


class _ReplaySync(_Replay):
    def __iter__(self) -> Iterator[bytes]:
        for seconds, data in self._steps():
            self._player._wait(seconds, self._timeout)
            if data is not None:
                yield data
        self._finish()

    def close(self) -> None:
        pass


class _ReplayAsync(_Replay):
    async def __aiter__(self) -> AsyncIterator[bytes]:
        for seconds, data in self._steps():
            await self._player._await(seconds, self._timeout)
            if data is not None:
                yield data
        self._finish()

    async def aclose(self) -> None:
        pass


class ReplayTransport(_AnyClient):
    """Answer requests from a cassette, never touching the network.

    A request (redacted with ``redactor``, as recorded ones were) plays the first unplayed
    interaction that ``matcher`` matches, so identical requests replay in recorded order; none
    left raises NoMatchError. The response has the recorded head and chunks, each due at its
    recorded offset divided by ``speed`` (``INSTANT``: no waiting), no single wait longer than
    ``max_gap`` seconds. A stream that broke while recording raises the same exception class at
    the same point. ``sleep`` (sync; its result is awaited for async clients when awaitable) or
    ``async_sleep`` replace the real sleeps, e.g. for a fake clock; ``clock`` (seconds) lets
    replay subtract the caller's own time from the waits, as the default real clock does. A wait
    longer than the client's read timeout (``request.extensions["timeout"]["read"]``) ends,
    after that timeout, with the client library's ``ReadTimeout``, as it would live.

    ``faults`` (see :mod:`streamtape.faults`; settable between requests) change each
    interaction as it is played, left to right; an ``http_status`` fault answers the first
    attempts of a request before its interaction plays (attempts are counted per interaction).
    """

    def __init__(
        self,
        cassette: Cassette | str | os.PathLike[str],
        *,
        speed: float = 1.0,
        max_gap: float | None = None,
        sleep: Callable[[float], object] | None = None,
        async_sleep: Callable[[float], Awaitable[object]] | None = None,
        clock: Callable[[], float] | None = None,
        matcher: Matcher | None = None,
        redactor: Redactor | None = DEFAULT_REDACTOR,
        record_hint: str | None = None,
        faults: Sequence[_faults.Fault] = (),
    ) -> None:
        if not speed > 0:
            raise ValueError(f"speed must be positive, got {speed}")
        if max_gap is not None and max_gap < 0:
            raise ValueError(f"max_gap must not be negative, got {max_gap}")
        self.cassette = cassette if isinstance(cassette, Cassette) else Cassette.load(cassette)
        self.speed = speed
        self.max_gap = max_gap
        self._sleep = sleep
        self._async_sleep = async_sleep
        if clock is None and sleep is None and async_sleep is None:
            clock = _REAL_TIME[0]
        self._clock = clock
        self.matcher = matcher if matcher is not None else Matcher()
        self.redactor = redactor
        self.record_hint = record_hint
        self._lock = threading.Lock()
        self._played: list[Interaction] = []
        self._played_ids: set[int] = set()
        self._arrived: dict[int, float | None] = {}  # interaction id -> clock when taken
        self.faults: tuple[_faults.Fault, ...] = tuple(faults)
        self._attempts: dict[int, int] = {}  # interaction id -> requests that matched it

    @property
    def played(self) -> list[Interaction]:
        """Interactions replayed so far, in the order they were played."""
        with self._lock:
            return list(self._played)

    @property
    def unplayed(self) -> list[Interaction]:
        """Interactions not replayed yet, in recorded order."""
        with self._lock:
            return [i for i in self.cassette.interactions if i.id not in self._played_ids]

    def _send(self, request: Any) -> Any:
        return self.replay(request)

    async def _asend(self, request: Any) -> Any:
        return await self.areplay(request)

    def replay(self, request: Any) -> Any:
        """Answer ``request`` (httpx or httpx2) from the cassette; NoMatchError if none fits."""
        return self.respond(request, self._match(request, request.read()))

    async def areplay(self, request: Any) -> Any:
        """The async twin of :meth:`replay`."""
        return await self.arespond(request, self._match(request, await request.aread()))

    def _match(self, request: Any, body: bytes) -> Interaction:
        """What :meth:`take` finds for ``request``; NoMatchError when nothing is left to play."""
        interaction = self.take(request, body)
        if interaction is None:
            raise self._no_match(request, body)
        return interaction

    def _sent(self, request: Any, body: bytes) -> RecordedRequest:
        method, url, headers = request.method, str(request.url), _headers(request.headers)
        if self.redactor is not None:
            url, headers, body = self.redactor.request(method, url, headers, body)
        return RecordedRequest(method, url, headers, body)

    def take(self, request: Any, body: bytes) -> Interaction | None:
        """Find the first unplayed interaction matching ``request`` and mark it played.

        The replay clock is read first: :meth:`respond` counts the recorded offsets from then,
        so the time matching takes does not delay the stream."""
        arrived = self._clock() if self._clock is not None else None
        sent = self._sent(request, body)
        with self._lock:
            for interaction in self.cassette.interactions:
                if interaction.id not in self._played_ids and self.matcher.matches(
                    interaction.request, sent
                ):
                    played = interaction
                    if self.faults:  # an error before the stream, or the stream changed
                        attempt = self._attempts.get(interaction.id, 0)
                        before = _faults.preludes(interaction, self.faults)
                        if attempt >= len(before):
                            played = _faults.apply(interaction, self.faults)
                        self._attempts[interaction.id] = attempt + 1
                        if attempt < len(before):
                            self._arrived[interaction.id] = arrived
                            return before[attempt]
                    self._played_ids.add(interaction.id)
                    self._played.append(interaction)
                    self._arrived[interaction.id] = arrived
                    return played
        return None

    def _no_match(self, request: Any, body: bytes) -> Exception:
        sent = self._sent(request, body)
        interactions = self.cassette.interactions
        error = self.matcher.no_match_error(
            sent,
            [i.request for i in interactions],
            cassette=self.cassette.path,
            record_hint=self.record_hint,
        )
        used = [i.id for i in interactions if self.matcher.matches(i.request, sent)]
        if used:
            note = (
                f"\nIt matches interaction(s) {used}, all already played: each recorded "
                "interaction replays once."
            )
            error = type(error)(f"{error}{note}")
        return error

    def _schedule(self, interaction: Interaction) -> _Schedule:
        """The timing of ``interaction``'s replay, counted from when :meth:`take` found it."""
        with self._lock:
            arrived = self._arrived.pop(interaction.id, None)
        pauses = getattr(interaction, "pauses", None)
        return _Schedule(self.speed, self.max_gap, self._clock, arrived, pauses)

    def respond(self, request: Any, interaction: Interaction) -> Any:
        """The response for ``interaction``, after waiting for its head like the server did."""
        lib = _lib_of(request)
        timeout = _read_timeout(request, lib)
        schedule = self.play_head(interaction, lib, timeout)
        stream = lib.replay_sync(self, lib, interaction, schedule, timeout)
        return lib.response(interaction, stream)

    async def arespond(self, request: Any, interaction: Interaction) -> Any:
        """The async twin of :meth:`respond`."""
        lib = _lib_of(request)
        timeout = _read_timeout(request, lib)
        schedule = await self.aplay_head(interaction, lib, timeout)
        stream = lib.replay_async(self, lib, interaction, schedule, timeout)
        return lib.response(interaction, stream)

    def play_head(
        self, interaction: Interaction, errors: ErrorFactory, timeout: _ReadTimeout | None = None
    ) -> _Schedule:
        """Wait until ``interaction``'s response head is due, counted from when :meth:`take`
        found it; return the schedule of the rest. Raises the recorded error (as ``errors``
        builds it) when the interaction broke before its head, and the client's read timeout
        error when the head is due later than ``timeout``."""
        schedule = self._schedule(interaction)
        self._wait(schedule.wait(self._head_offset(interaction)), timeout)
        self._check_head(errors, interaction)
        return schedule

    async def aplay_head(
        self, interaction: Interaction, errors: ErrorFactory, timeout: _ReadTimeout | None = None
    ) -> _Schedule:
        """The async twin of :meth:`play_head`."""
        schedule = self._schedule(interaction)
        await self._await(schedule.wait(self._head_offset(interaction)), timeout)
        self._check_head(errors, interaction)
        return schedule

    @staticmethod
    def _head_offset(interaction: Interaction) -> int:
        if interaction.response is not None:
            return interaction.response.offset_ns
        return interaction.end.offset_ns if interaction.end is not None else 0

    @staticmethod
    def _check_head(errors: ErrorFactory, interaction: Interaction) -> None:
        """Raise the recorded error of an interaction that broke before its response head."""
        if interaction.response is None:
            error = _finish_error(errors, interaction, "(no response head)")
            assert error is not None  # no response head: the interaction cannot be complete
            raise error

    def _wait(
        self,
        seconds: float | None,
        timeout: _ReadTimeout | None = None,
    ) -> None:
        """Wait ``seconds``; past the client's read ``timeout``, wait that long and raise its
        error."""
        seconds, timed_out = _within(seconds, timeout)
        if seconds is None:
            pass
        elif self._sleep is None:
            if seconds > 0:
                _real_sleep(seconds)
        else:
            result = self._sleep(seconds)
            if inspect.isawaitable(result):
                if inspect.iscoroutine(result):
                    result.close()
                raise TypeError("sleep returned an awaitable in a sync client: pass async_sleep")
        if timed_out is not None:
            raise timed_out()

    async def _await(
        self,
        seconds: float | None,
        timeout: _ReadTimeout | None = None,
    ) -> None:
        """The async twin of :meth:`_wait`."""
        seconds, timed_out = _within(seconds, timeout)
        if seconds is None:
            pass
        elif self._async_sleep is not None:
            await self._async_sleep(seconds)
        elif self._sleep is not None:
            result = self._sleep(seconds)
            if inspect.isawaitable(result):
                await result
        elif seconds > 0:
            await _real_async_sleep(seconds)
        if timed_out is not None:
            raise timed_out()


def _within(
    seconds: float | None, timeout: _ReadTimeout | None
) -> tuple[float | None, Callable[[], BaseException] | None]:
    """The wait to make for ``seconds`` and what to raise after it: a wait longer than the
    client's read ``timeout`` lasts that timeout, then its error is raised."""
    if seconds is not None and timeout is not None and seconds > timeout.seconds:
        return timeout.seconds, timeout.error
    return seconds, None
