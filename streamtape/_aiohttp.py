"""The aiohttp stack: record and replay ``aiohttp.ClientSession`` requests inside a block.

The seam is aiohttp's own client-middleware chain (aiohttp >= 3.12): while a block is open,
``ClientSession._request`` runs with one more middleware, innermost, which sees each request as
aiohttp is about to send it (URL with its query, merged headers, cookies and auth, the body
payload) and each redirect hop on its own. Replaying returns a ``ClientResponse`` without
connecting; everything above the middleware (redirects, cookies, ``raise_for_status``, timeouts)
is aiohttp's.

Recording taps the response's ``StreamReader`` where the HTTP parser feeds it (``feed_data``,
``feed_eof``, ``set_exception``): each piece is recorded when it comes off the socket, and the
caller reads the reader as usual, chunk by chunk. Replay gives the response a reader that pulls
the next recorded chunk only when the caller waits for data, at its recorded offset, so
``iter_any()`` yields the recorded chunks exactly and ``iter_chunked(n)`` slices them as the
network would. When aiohttp decompresses a body, the decoded bytes are what the caller and the
cassette see, so the recorded head leaves out ``Content-Encoding`` and ``Content-Length``.
"""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from streamtape._stacks import (
    Resolve,
    WireRequest,
    begin,
    is_timeout,
)
from streamtape.cassette import ErrorInfo, Interaction, InteractionWriter
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


class _Taps:
    """The readers being recorded, found by identity from the patched ``StreamReader`` methods.

    An entry holds its reader, so the reader's id cannot be reused while the entry exists."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._taps: dict[int, tuple[object, InteractionWriter]] = {}

    def add(self, reader: object, rec: InteractionWriter) -> None:
        with self._lock:
            self._taps[id(reader)] = (reader, rec)

    def get(self, reader: object, pop: bool = False) -> InteractionWriter | None:
        with self._lock:
            tap = self._taps.pop(id(reader), None) if pop else self._taps.get(id(reader))
        return None if tap is None else tap[1]

    def clear(self) -> None:
        with self._lock:
            for _, rec in self._taps.values():
                rec.end("interrupted")
            self._taps.clear()


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


class _NoProtocol:
    """The flow control a replay reader talks to: there is no socket to pause."""

    connected = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Sent:
    """Stands for the request writer of a response that was never sent."""

    output_size = 0


class AiohttpStack:
    """Patches ``aiohttp.ClientSession._request`` and ``StreamReader``'s feed methods."""

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
        if "middlewares" not in inspect.signature(original).parameters:
            return  # aiohttp < 3.12: no middleware seam to use
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
            if data and (rec := taps.get(reader)) is not None:
                rec.chunk(bytes(data))
            return feed_data(reader, data, *args)

        @functools.wraps(feed_eof)
        def tapped_feed_eof(reader: Any) -> Any:
            if (rec := taps.get(reader, pop=True)) is not None:
                rec.end("complete")
            return feed_eof(reader)

        @functools.wraps(set_exception)
        def tapped_set_exception(reader: Any, exc: BaseException, *args: Any) -> Any:
            if (rec := taps.get(reader, pop=True)) is not None:
                rec.end("error" if isinstance(exc, Exception) else "interrupted", error=exc)
            return set_exception(reader, exc, *args)

        for name, patched in (
            ("feed_data", tapped_feed_data),
            ("feed_eof", tapped_feed_eof),
            ("set_exception", tapped_set_exception),
        ):
            self._saved.append((reader_cls, name, reader_cls.__dict__[name]))
            setattr(reader_cls, name, patched)

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
        # what the parser fed before the head reached us is in the buffer already
        for piece in list(getattr(reader, "_buffer", ())):
            rec.chunk(bytes(piece))
        if reader.exception() is not None:
            rec.end("error", error=reader.exception())
        elif reader.is_eof():
            rec.end("complete")
        else:
            self._taps.add(reader, rec)
            self._on_close(resp, reader, rec)
        return resp

    def _on_close(self, resp: ClientResponse, reader: object, rec: InteractionWriter) -> None:
        """Record where the caller stopped when it releases or closes the response early."""
        taps = self._taps

        def stopped() -> None:
            if taps.get(reader, pop=True) is not None:
                rec.end("closed")

        for name in ("release", "close"):
            method = getattr(resp, name)

            def wrapper(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                stopped()
                return _method(*args, **kwargs)

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
