"""The aiohttp stack: record and replay ``aiohttp.ClientSession`` requests inside a block.

The seam is aiohttp's own client-middleware chain (aiohttp >= 3.13): while a block is open,
``ClientSession._request`` runs with one more middleware, innermost, which sees each request as
aiohttp is about to send it (URL with its query, merged headers, cookies and auth, the body
payload) and each redirect hop on its own. Replaying returns a ``ClientResponse`` without
connecting; everything above the middleware (redirects, cookies, ``raise_for_status``, timeouts)
is aiohttp's.

Recording taps the response's ``StreamReader`` where the HTTP parser feeds it (``feed_data``,
``feed_eof``, ``set_exception``): each piece is recorded when it comes off the socket, and the
caller reads the reader as usual, chunk by chunk. A caller that releases or closes the response
before its end (or leaves its ``async with``) gets ``release()`` / ``close()`` back at once; the
recorder keeps the connection and reads on (a drain, on the event loop) to the stream's end, for
at most ``drain_timeout`` and the read-ahead limit, then gives the connection back, and the end
record says where the caller stopped, by the read-ahead's rules, as for the other stacks.
Closing the session (one that owns its connector) and leaving an ``async with use_cassette``
block wait for the drains; leaving a ``with`` block, the loop shutting down or the connector
closing end them with what came (``interrupted``).

Replay gives the response a reader that pulls the next recorded chunk only when the caller
waits for data, at its recorded offset, so ``iter_any()`` yields the recorded chunks exactly and
``iter_chunked(n)`` slices them as the network would. When aiohttp decompresses a body, the
decoded bytes are what the caller and the cassette see, so the recorded head leaves out
``Content-Encoding`` and ``Content-Length``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from streamtape._readahead import _State, _Wire
from streamtape._stacks import (
    Resolve,
    WireRequest,
    begin,
    is_timeout,
)
from streamtape.cassette import EndState, ErrorInfo, Interaction, InteractionWriter
from streamtape.seal import serving
from streamtape.transport import (
    RecordingTransport,
    ReplayTransport,
    _ReplayAsync,
    exception_named,
)

if TYPE_CHECKING:
    from aiohttp.client_reqrep import ClientRequest, ClientResponse

__all__ = ["AiohttpStack"]

_Handler = Callable[["ClientRequest"], Awaitable["ClientResponse"]]
_DROPPED_WHEN_DECODED = frozenset({"content-encoding", "content-length"})


class _Errors:
    """Recorded errors as aiohttp exceptions: its own class by name, else the nearest kind."""

    def exception(self, error: ErrorInfo) -> BaseException:
        import aiohttp

        named = exception_named(error, aiohttp)  # None for e.g. ClientConnectorError
        if named is not None:
            return named
        text = f"{error.type}: {error.message}"
        if is_timeout(error):
            return aiohttp.SocketTimeoutError(text)
        if "connect" in error.type.lower():
            return aiohttp.ClientConnectionError(text)
        return aiohttp.ClientPayloadError(text)


_ERRORS = _Errors()


async def _body(req: ClientRequest) -> bytes:
    """The request body as bytes; a streamed payload is read once and put back as bytes."""
    from aiohttp import payload

    body = req.body
    if not body:
        return b""
    if isinstance(body, payload.BytesPayload):
        return await body.as_bytes()
    data = await body.as_bytes()
    await req.update_body(data)
    return data


class _Tap:
    """One response recorded from what aiohttp's parser feeds its ``StreamReader``.

    Each piece is recorded when it is fed (when it came off the socket) and goes on to the
    reader, which the caller reads as usual. When the caller releases or closes the response
    before the stream's end, the tap keeps the connection and drains it: the parser goes on
    feeding the reader, each piece is recorded and dropped (the caller has gone), until the
    stream's end, ``drain_timeout`` or the read-ahead limit; then the connection goes back to
    the pool (a clean end after ``release``) or is closed. The caller's ``release`` / ``close``
    return at once; a task on the loop waits for the drain (so a loop shutting down ends it),
    and closing the session waits for it. When and how the interaction ends and where the
    caller stopped are the read-ahead's rules (`_State`), as for every other stack.
    """

    def __init__(
        self, taps: _Taps, reader: Any, rec: InteractionWriter, recorder: RecordingTransport
    ) -> None:
        self._taps = taps
        self.reader = reader
        self.state = _State(
            rec, recorder.read_ahead_limit, recorder.drain_timeout, drain_cancelled=True
        )
        self.fed_chunks = 0  # what the parser fed before the caller stopped
        self.fed_bytes = 0
        self.quiet = False  # the caller's release is telling the reader: not the wire
        self.connection: Any = None  # held while draining
        self.connector: Any = None
        self.keep = True  # released (True) or closed (False) by the caller
        self.loop: asyncio.AbstractEventLoop | None = None
        self.done: asyncio.Future[None] | None = None  # set when the drain can stop waiting
        self.task: asyncio.Task[None] | None = None

    def taken(self) -> tuple[int, int]:
        """The chunks (any of whose bytes) and bytes the caller has taken from the reader: what
        was fed less what its buffer still holds."""
        buffer = self.reader._buffer
        offset = self.reader._buffer_offset
        left = sum(len(piece) for piece in buffer) - offset
        return self.fed_chunks - len(buffer) + (1 if offset else 0), self.fed_bytes - left

    # -- from the parser (on the loop) --

    def fed(self, data: bytes) -> bool:
        """Record a piece the parser fed; whether the reader should get it (not when drained)."""
        state = self.state
        if state.ended:  # the block ended: the caller reads on without the recording
            return not state.client_gone()
        rec = state.rec
        rec.chunk(data, offset_ns=rec.now_ns())
        if state.stopped_at is None:
            self.fed_chunks += 1
            self.fed_bytes += len(data)
            return True
        state.arrived(data)
        if state.reader_must_stop(rec.now_ns()):
            self._wake()
        return False

    def wire_ended(self, outcome: EndState, error: BaseException | None) -> None:
        """The parser ended the body (``complete``), or it broke (``error``, ``interrupted``)."""
        state = self.state
        wire = _Wire(outcome, error, state.rec.now_ns())
        if state.stopped_at is None:  # the caller reads the reader itself: recorded as it comes
            if not state.ended:
                state.ended_in_step(wire)
            self._taps.pop(self.reader)
        elif state.ended:
            pass
        elif getattr(self.reader._protocol, "transport", True) is None:
            self.finish()  # this side closed the connection under the drain: not the wire's end
        else:
            state.reader_ended(wire)
        self._wake()

    # -- from the caller --

    def stopped(self, resp: ClientResponse, keep: bool) -> None:
        """The caller releases (``keep``) or closes ``resp`` before the stream's end: drain it,
        or (``drain_timeout=0``, or no running loop to drain on) end the recording ``closed``."""
        state = self.state
        if state.client_gone():  # stopped already (aiohttp releases more than once)
            return
        if state.ended:  # the block ended it: nothing more to record
            self._taps.pop(self.reader)
            return
        state.given(*self.taken())
        connection = resp._connection
        protocol = None if connection is None else connection.protocol
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None or connection is None or protocol is None:
            state.drain_ns = 0  # nothing to drain with: recorded as without a drain
        state.stop(state.rec.now_ns(), "closed")
        if state.ended or loop is None or connection is None or protocol is None:
            self._taps.pop(self.reader)
            return
        resp._connection = None  # the caller's release leaves the connection to the drain
        self.connection, self.connector, self.keep = connection, connection._connector, keep
        self.loop = loop
        self.done = loop.create_future()
        self.task = loop.create_task(self._drain(), name="streamtape-drain")
        if protocol._reading_paused:  # the caller lagged behind: the parser waits for it
            protocol.resume_reading()

    # -- the drain --

    async def _drain(self) -> None:
        """Wait while the drain runs: the stream's end (or a cut at the read-ahead limit) wakes
        ``done``; the deadline, the connection closing or the task's cancellation end the
        recording ``interrupted``. Then let the connection go."""
        state = self.state
        assert self.done is not None
        try:
            waits: list[asyncio.Future[Any]] = [self.done]
            # when the connection closes (a future of aiohttp's since 3.12.x; before, the
            # drain's deadline ends a drain whose connection was closed under it)
            closed = getattr(self.connection.protocol, "closed", None)
            if isinstance(closed, asyncio.Future):  # the connection closed under the drain
                closed.add_done_callback(_retrieved)
                waits.append(closed)
            deadline = state.deadline_ns()
            assert deadline is not None
            timeout = max(0.0, (deadline - state.rec.now_ns()) / 1e9)
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            if not state.ended:  # out of time, or the connection was closed under the drain
                state.cut = True
                state.settle()
        except asyncio.CancelledError:  # the loop is shutting down with the stream open
            state.cut = True
            state.settle(now=state.rec.now_ns())
            raise
        finally:
            self._let_go()

    def _let_go(self) -> None:
        """The drain is over: the connection goes back to the pool after a clean end the
        caller released, else it is closed."""
        self._taps.pop(self.reader)
        connection, self.connection = self.connection, None
        if connection is None or self.loop is None or self.loop.is_closed():
            return  # a loop closed with the drain pending keeps it, as its session's others
        wire = self.state.wire
        if self.keep and wire is not None and wire.outcome == "complete" and not self.state.cut:
            connection.release()
        else:
            connection.close()

    def _wake(self) -> None:
        done = self.done
        if done is not None and not done.done():
            done.set_result(None)

    async def drained(self) -> None:
        """Until the drain (if one runs on this loop) is over."""
        task = self.task
        if task is not None and not task.done() and task.get_loop() is asyncio.get_running_loop():
            await asyncio.wait({task})

    def finish(self) -> None:
        """End the recording now with what is known (the block is ending); a drain lets go."""
        state = self.state
        if not state.ended:
            if not state.client_gone():
                state.given(*self.taken())
            state.settle(now=state.rec.now_ns())
        loop, task = self.loop, self.task
        if loop is None or task is None or task.done():
            return
        if loop.is_closed():  # closed without cancelling its tasks: this one can never run
            task._log_destroy_pending = False  # type: ignore[attr-defined]  # asyncio's own flag
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._wake)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """Mark a future's exception as seen (the drain only waits for it to be done)."""
    if not future.cancelled():
        future.exception()


class _Taps:
    """The responses being recorded, found by their reader from the patched ``StreamReader``
    methods. An entry holds its reader, so the reader's id cannot be reused while it exists."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taps: dict[int, _Tap] = {}

    def add(self, tap: _Tap) -> None:
        with self._lock:
            self._taps[id(tap.reader)] = tap

    def get(self, reader: object) -> _Tap | None:
        with self._lock:
            tap = self._taps.get(id(reader))
        return tap if tap is not None and tap.reader is reader else None

    def pop(self, reader: object) -> None:
        with self._lock:
            tap = self._taps.get(id(reader))
            if tap is not None and tap.reader is reader:
                del self._taps[id(reader)]

    def draining(self, connector: object) -> list[_Tap]:
        with self._lock:
            return [t for t in self._taps.values() if t.connector is connector]

    def clear(self) -> None:
        with self._lock:
            taps = list(self._taps.values())
            self._taps.clear()
        for tap in taps:
            tap.finish()


class _ReplayBody:
    """Feeds a replay ``StreamReader`` one recorded chunk each time its reader waits."""

    def __init__(self, chunks: AsyncIterator[bytes], decoder: Any) -> None:
        self.chunks = chunks
        self.decoder = decoder  # aiohttp's DeflateBuffer when the caller wants decoded bytes


def _replay_reader_class() -> type:
    """A ``StreamReader`` whose wait pulls the next recorded chunk (built once aiohttp is here)."""
    from aiohttp import StreamReader

    class ReplayStreamReader(StreamReader):
        __slots__ = ("_replay",)
        _replay: _ReplayBody

        async def _wait(self, func_name: str) -> None:
            body: _ReplayBody = self._replay
            target = body.decoder if body.decoder is not None else self
            try:
                chunk = await body.chunks.__anext__()
            except StopAsyncIteration:
                target.feed_eof()
                return
            except Exception as exc:
                self.set_exception(exc)
                raise
            target.feed_data(chunk, len(chunk))

    return ReplayStreamReader


def _version(text: str) -> tuple[int, ...]:
    """``"3.13.2"`` as ``(3, 13, 2)`` (the leading numbers of a version string)."""
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


class _NoProtocol:
    """The flow control a replay reader talks to: there is no socket to pause."""

    connected = True
    _reading_paused = False  # read by aiohttp's StreamReader before 3.14

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Sent:
    """Stands for the request writer of a response that was never sent."""

    output_size = 0


class AiohttpStack:
    """Patches ``aiohttp.ClientSession._request`` and ``StreamReader``'s feed methods, and
    ``ClientSession.close`` to wait for the drains on its connector."""

    name = "aiohttp"

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []
        self._taps = _Taps()
        self._reader_class: type | None = None

    def install(self, resolve: Resolve) -> None:
        import aiohttp
        from aiohttp import StreamReader

        session_cls = aiohttp.ClientSession
        original = session_cls.__dict__["_request"]
        if _version(aiohttp.__version__) < (3, 13):
            return  # no middleware seam before 3.12; 3.12's payloads and reader differ
        self._reader_class = _replay_reader_class()
        middleware = functools.partial(self._middleware, resolve)

        @functools.wraps(original)
        async def _request(session: Any, *args: Any, **kwargs: Any) -> Any:
            chain = kwargs.get("middlewares")
            if chain is None:
                chain = session._middlewares
            auto_decompress = kwargs.get("auto_decompress")
            if auto_decompress is None:
                auto_decompress = session._auto_decompress
            mine = functools.partial(middleware, bool(auto_decompress))
            kwargs["middlewares"] = (*chain, mine)
            return await original(session, *args, **kwargs)

        self._saved.append((session_cls, "_request", original))
        setattr(session_cls, "_request", _request)  # noqa: B010
        self._tap_reader(StreamReader)
        self._wait_for_drains(session_cls)

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()
        self._taps.clear()

    # -- recording: the reader's feed methods, as the parser calls them --

    def _tap_reader(self, reader_cls: type) -> None:
        taps = self._taps
        feed_data = reader_cls.__dict__["feed_data"]
        feed_eof = reader_cls.__dict__["feed_eof"]
        set_exception = reader_cls.__dict__["set_exception"]

        @functools.wraps(feed_data)
        def tapped_feed_data(reader: Any, data: bytes, *args: Any) -> Any:
            if data and (tap := taps.get(reader)) is not None and not tap.fed(bytes(data)):
                return False  # drained: the caller has gone
            return feed_data(reader, data, *args)

        @functools.wraps(feed_eof)
        def tapped_feed_eof(reader: Any) -> Any:
            if (tap := taps.get(reader)) is not None:
                tap.wire_ended("complete", None)
            return feed_eof(reader)

        @functools.wraps(set_exception)
        def tapped_set_exception(reader: Any, exc: BaseException, *args: Any) -> Any:
            tap = taps.get(reader)
            if tap is None:
                return set_exception(reader, exc, *args)
            if not tap.quiet:
                tap.wire_ended("error" if isinstance(exc, Exception) else "interrupted", exc)
                return set_exception(reader, exc, *args)
            # the caller's release tells its reader; a drain keeps the reader's end-of-body
            # callbacks (the protocol's), so aiohttp's own handling of the end still runs
            callbacks = list(reader._eof_callbacks)
            result = set_exception(reader, exc, *args)
            if tap.connection is not None:
                reader._eof_callbacks.extend(callbacks)
            return result

        for name, patched in (
            ("feed_data", tapped_feed_data),
            ("feed_eof", tapped_feed_eof),
            ("set_exception", tapped_set_exception),
        ):
            self._saved.append((reader_cls, name, reader_cls.__dict__[name]))
            setattr(reader_cls, name, patched)

    def _wait_for_drains(self, session_cls: type) -> None:
        """Closing a session that owns its connector first waits for the drains on it."""
        taps = self._taps
        original = session_cls.__dict__["close"]

        @functools.wraps(original)
        async def close(session: Any) -> Any:
            connector = session._connector
            if connector is not None and session._connector_owner and not connector.closed:
                try:
                    for tap in taps.draining(connector):
                        await tap.drained()
                except BaseException:  # e.g. cancelled while waiting: close it all the same
                    await original(session)
                    raise
            return await original(session)

        self._saved.append((session_cls, "close", original))
        setattr(session_cls, "close", close)  # noqa: B010

    # -- the middleware --

    async def _middleware(
        self, resolve: Resolve, decode: bool, req: ClientRequest, handler: _Handler
    ) -> ClientResponse:
        if "Upgrade" in req.headers:  # a WebSocket handshake: not an HTTP stream to tape
            return await handler(req)
        wire = WireRequest(req.method, str(req.url), list(req.headers.items()), await _body(req))
        block = resolve(wire)
        if block is None:
            return await handler(req)
        route = block._dispatch(wire)
        if isinstance(route, RecordingTransport):
            return await self._record(route, wire, req, handler, decode)
        player, interaction = route
        return await self._replay(player, interaction, req, decode)

    async def _record(
        self,
        recorder: RecordingTransport,
        wire: WireRequest,
        req: ClientRequest,
        handler: _Handler,
        decode: bool,
    ) -> ClientResponse:
        rec = begin(recorder, wire)
        try:
            with serving():  # streamtape's own connection: the seal lets it pass
                resp = await handler(req)
        except BaseException as exc:
            rec.end("error" if isinstance(exc, Exception) else "interrupted", error=exc)
            raise
        reader = resp.content
        decoded = decode and getattr(reader, "total_compressed_bytes", None) is not None
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp.raw_headers]
        if decoded:
            headers = [(k, v) for k, v in headers if k.lower() not in _DROPPED_WHEN_DECODED]
        version = resp.version
        rec.response(
            resp.status,
            headers,
            http_version=f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1",
            reason=resp.reason or "",
        )
        tap = _Tap(self._taps, reader, rec, recorder)
        # what the parser fed before the head reached us is in the buffer already
        for piece in list(getattr(reader, "_buffer", ())):
            tap.fed(bytes(piece))
        if reader.exception() is not None:
            tap.wire_ended("error", reader.exception())
        elif reader.is_eof():
            tap.wire_ended("complete", None)
        else:
            self._taps.add(tap)
            recorder.track(tap)
            self._on_close(resp, tap)
        return resp

    @staticmethod
    def _on_close(resp: ClientResponse, tap: _Tap) -> None:
        """When the caller releases or closes the response before the stream's end, the tap
        drains it (or records where the caller stopped) before aiohttp lets the reader go."""
        for name, keep in (("release", True), ("close", False)):
            method = getattr(resp, name)

            def wrapper(
                *args: Any, _method: Any = method, _keep: bool = keep, **kwargs: Any
            ) -> Any:
                tap.stopped(resp, _keep)
                tap.quiet = True
                try:
                    return _method(*args, **kwargs)
                finally:
                    tap.quiet = False

            setattr(resp, name, wrapper)

    # -- replay --

    async def _replay(
        self,
        player: ReplayTransport,
        interaction: Interaction,
        req: ClientRequest,
        decode: bool,
    ) -> ClientResponse:
        from aiohttp import HttpVersion
        from multidict import CIMultiDict, CIMultiDictProxy

        schedule = await player.aplay_head(interaction, _ERRORS)
        head = interaction.response
        assert head is not None
        assert self._reader_class is not None
        resp = self._response(req)
        major, _, minor = head.http_version.partition("/")[2].partition(".")
        resp.version = HttpVersion(int(major or 1), int(minor or 0))
        resp.status = head.status
        resp.reason = head.reason or None
        resp._headers = CIMultiDictProxy(CIMultiDict(head.headers))
        resp._raw_headers = tuple(
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in head.headers
        )
        cookies = resp._headers.getall("Set-Cookie", ())
        if cookies:
            resp._raw_cookie_headers = tuple(cookies)
        reader = self._reader_class(_NoProtocol(), 2**16, loop=req.loop)
        encoding = resp._headers.get("Content-Encoding", "").lower()
        decoder = None
        if decode and encoding in ("gzip", "deflate", "br", "zstd"):
            from aiohttp.http_parser import DeflateBuffer

            decoder = DeflateBuffer(reader, encoding)
        chunks = _ReplayAsync(player, _ERRORS, interaction, schedule).__aiter__()
        reader._replay = _ReplayBody(chunks, decoder)
        resp._closed = False
        resp.content = reader
        reader.on_eof(resp._response_eof)
        return resp

    @staticmethod
    def _response(req: ClientRequest) -> ClientResponse:
        """A ``ClientResponse`` for ``req`` as ``ClientRequest.send`` builds one, not sent."""
        response_class = req.response_class
        assert response_class is not None
        options: dict[str, Any] = {
            "writer": None,
            "continue100": None,
            "timer": req._timer,
            "request_info": req.request_info,
            "traces": req._traces,
            "loop": req.loop,
            "session": req._session,
            "stream_writer": _Sent(),
        }
        accepted = inspect.signature(response_class.__init__).parameters
        options = {k: v for k, v in options.items() if k in accepted}
        return response_class(req.method, req.original_url, **options)
