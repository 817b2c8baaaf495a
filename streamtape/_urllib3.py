"""The urllib3 stack (and so ``requests``): record and replay each request a pool sends.

The seam is ``HTTPConnectionPool._make_request``, the one call per request on the wire (each
retry and redirect hop its own), which ``requests``' adapter and ``PoolManager`` reach through
``urlopen``.

The caller's response is the same in both modes: urllib3's own ``HTTPResponse``, parsed by
http.client and urllib3 from a stand-in socket that serves a head and then each chunk (framed
as the head says: chunked, by length, or to EOF) only when the caller reads. So
``iter_content()`` / ``iter_lines()`` / ``stream()`` / ``preload_content`` behave as on a real
socket, and where a stream broke the bytes end at that chunk and urllib3 raises its own error
(``ProtocolError``, which ``requests`` turns into ``ChunkedEncodingError``); a timeout times
out (``ReadTimeoutError``).

Recording sends the request with the original, unbuffered (``preload_content=False``), and
feeds the stand-in socket from the real response's body through the transport core's recorder
(``RecordingTransport.record``, given the request and the body in httpx's shapes, so requests
share the httpx path's recorder): each piece as one socket read brought it, then how the body
ended.
The real response keeps the pool's connection and gives it back at the end of the body.

Replay never connects: the stand-in socket serves the recorded head and chunks, each at its
recorded offset.
"""

from __future__ import annotations

import functools
import http.client
import inspect
import io
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import httpx

from streamtape._stacks import Resolve, WireRequest, is_timeout
from streamtape.cassette import ErrorInfo, Interaction
from streamtape.seal import serving
from streamtape.transport import (
    RecordingTransport,
    ReplayTransport,
    _ReplaySync,
    exception_named,
)

__all__ = ["Urllib3Stack"]

_DEFAULT_PORTS = {"http": 80, "https": 443}


class _Cut(Exception):
    """Where a recorded stream broke: the stand-in socket ends there."""


class _WireErrors:
    """Recorded body errors as what the socket did: timed out, or ended early."""

    def exception(self, error: ErrorInfo) -> BaseException:
        if is_timeout(error):
            return TimeoutError(f"{error.type}: {error.message}")
        return _Cut(error.message)


class _Errors:
    """Recorded errors before a response head, as urllib3 exceptions."""

    def __init__(self, pool: Any, url: str) -> None:
        self._pool = pool
        self._url = url

    def exception(self, error: ErrorInfo) -> BaseException:
        from urllib3 import exceptions

        named = exception_named(error, exceptions)
        if named is not None:
            return named
        text = f"{error.type}: {error.message}"
        if is_timeout(error):
            return exceptions.ReadTimeoutError(self._pool, self._url, text)
        if "connect" in error.type.lower():
            return exceptions.NewConnectionError(None, text)  # type: ignore[arg-type]
        return exceptions.ProtocolError(text)


def _body(body: Any) -> bytes:
    """Whatever urllib3 accepts as a body, as the bytes it sends."""
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        data = body.read()
        return data.encode("utf-8") if isinstance(data, str) else bytes(data)
    return b"".join(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in body)


def _origin(pool: Any) -> str:
    host = pool.host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = pool.port
    if port is not None and port != _DEFAULT_PORTS.get(pool.scheme):
        host = f"{host}:{port}"
    return f"{pool.scheme}://{host}"


# -- the stand-in socket the caller's response reads -----------------------------------------


class _Wire(io.RawIOBase):
    """The bytes of a response, each piece produced only when it is read; closing it closes
    ``on_close`` (what feeds the pieces)."""

    def __init__(self, pieces: Iterator[bytes], on_close: Any = None) -> None:
        self._pieces = pieces
        self._on_close = on_close
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            piece = next(self._pieces, None)
            if piece is None:
                return 0
            self._pending = piece
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        if not self.closed:
            close = getattr(self._pieces, "close", None)
            if close is not None:
                close()
            if self._on_close is not None:
                self._on_close.close()
        super().close()


class _Socket:
    """What http.client asks of a socket while it reads a response."""

    def __init__(self, wire: _Wire) -> None:
        self._wire = wire

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(self._wire)

    def settimeout(self, timeout: float | None) -> None:
        pass

    def shutdown(self, how: int) -> None:
        pass

    def close(self) -> None:
        pass


class _Head(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    http_version: str
    reason: str


def _frame(head: _Head, chunks: Iterator[bytes], *, see_end: bool = False) -> Iterator[bytes]:
    """The head, then each chunk framed as the headers say (chunked, by length, or to EOF).

    ``chunks`` raising ``_Cut`` ends the bytes there, as a connection closed mid-body would.
    With ``see_end``, ``chunks`` is run to its end before the last bytes of a length-delimited
    body go out: http.client stops reading there, and the recorder must see the end first."""
    version = head.http_version if head.http_version in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
    lines = [f"{version} {head.status} {head.reason}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in head.headers]
    yield ("".join(lines) + "\r\n").encode("latin-1")
    chunked = any(
        k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in head.headers
    )
    length = None if chunked else _content_length(head.headers)
    sent = 0
    try:
        for data in chunks:
            sent += len(data)
            if see_end and length is not None and sent >= length:
                for _ in chunks:  # the source now reads its end (no more bytes)
                    pass
            if data:
                yield b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
    except _Cut:
        return
    if chunked:
        yield b"0\r\n\r\n"


def _content_length(headers: list[tuple[str, str]]) -> int | None:
    for name, value in headers:
        if name.lower() == "content-length" and value.strip().isdigit():
            return int(value)
    return None


def _serve(call: dict[str, Any], wire: _Wire, connection: Any) -> Any:
    """The caller's urllib3 response, parsed by http.client and urllib3 from ``wire``."""
    from urllib3.response import HTTPResponse

    method = call["method"]
    raw = http.client.HTTPResponse(_Socket(wire), method=method)  # type: ignore[arg-type]
    raw.begin()
    options: dict[str, Any] = {
        "body": raw,
        "headers": list(raw.msg.items()),
        "status": raw.status,
        "version": raw.version,
        "version_string": "HTTP/1.0" if raw.version == 10 else "HTTP/1.1",
        "reason": raw.reason,
        "preload_content": call["preload_content"],
        "decode_content": call["decode_content"],
        "original_response": raw,
        "enforce_content_length": call["enforce_content_length"],
        "request_method": method,
        "request_url": call["url"],
    }
    accepted = inspect.signature(HTTPResponse.__init__).parameters
    response = HTTPResponse(**{k: v for k, v in options.items() if k in accepted})
    response.retries = call["retries"]
    response._connection = connection
    response._pool = call["self"]
    return response


# -- recording -----------------------------------------------------------------------------------

_READ_SIZE = 1 << 16


def _head_of(real: Any) -> _Head:
    raw = real._original_response
    version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(raw.version, "HTTP/1.1")
    return _Head(real.status, list(raw.msg.items()), version, raw.reason or "")


def _body_of(real: Any) -> Iterator[bytes]:
    """The body of ``real`` (a urllib3 response not read yet) as it comes off the connection,
    each read giving what one socket read brought (within one HTTP chunk). At the end the
    connection goes back to its pool; after an error or an early close it is closed first."""
    raw = real._original_response
    whole = False
    try:
        while data := raw.read1(_READ_SIZE):
            yield data
        if raw.length:  # read1 ends a length-delimited body that stopped short quietly
            raise http.client.IncompleteRead(b"", raw.length)
        whole = True
    finally:
        if not whole:
            real.close()
        real.release_conn()


class _Body(httpx.SyncByteStream):
    """A urllib3 body as an httpx byte stream, the shape the core's recorder reads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        return self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def _cut_at_errors(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Pass ``chunks`` on; where they break, end the caller's bytes there (a timeout times out),
    so the caller's urllib3 raises what it raises for a connection that broke at that point."""
    try:
        yield from chunks
    except TimeoutError:
        raise
    except Exception as exc:
        raise _Cut(str(exc)) from exc


# -- the patch ----------------------------------------------------------------------------------


class Urllib3Stack:
    """Patches ``urllib3.HTTPConnectionPool._make_request`` while a block is open."""

    name = "urllib3"

    def __init__(self) -> None:
        self._saved: list[tuple[type, str, Any]] = []

    def install(self, resolve: Resolve) -> None:
        from urllib3.connectionpool import HTTPConnectionPool

        original = HTTPConnectionPool.__dict__["_make_request"]
        signature = inspect.signature(original)
        if "preload_content" not in signature.parameters:
            return  # urllib3 1.x: its _make_request reads differently
        stack = self

        @functools.wraps(original)
        def _make_request(pool: Any, *args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(pool, *args, **kwargs)
            bound.apply_defaults()
            call = bound.arguments
            url = call["url"]
            full = url if "://" in url else _origin(pool) + url
            body = _body(call["body"])
            headers = list((call["headers"] or {}).items())
            if not any(k.lower() == "host" for k, _ in headers):
                headers.insert(0, ("Host", _origin(pool).partition("://")[2]))
            wire = WireRequest(call["method"], full, headers, body)
            block = resolve(wire)
            if block is None:
                return original(pool, *args, **kwargs)
            route = block._dispatch(wire)
            if isinstance(route, RecordingTransport):
                return stack._record(original, route, wire, call)
            player, interaction = route
            return stack._replay(player, interaction, call, full)

        self._saved.append((HTTPConnectionPool, "_make_request", original))
        setattr(HTTPConnectionPool, "_make_request", _make_request)  # noqa: B010

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._saved):
            setattr(cls, name, original)
        self._saved.clear()

    @staticmethod
    def _record(
        original: Any, recorder: RecordingTransport, wire: WireRequest, call: dict[str, Any]
    ) -> Any:
        arguments = dict(call, body=wire.body if call["body"] is not None else None)
        arguments["preload_content"] = False
        heads: list[_Head] = []

        def send(request: httpx.Request) -> httpx.Response:
            with serving():  # streamtape's own connection: the seal lets it pass
                real = original(**arguments)
            head = _head_of(real)
            heads.append(head)
            return httpx.Response(
                head.status,
                headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in head.headers],
                stream=_Body(_body_of(real)),
                extensions={
                    "http_version": head.http_version.encode("ascii"),
                    "reason_phrase": head.reason.encode("latin-1"),
                },
            )

        # the core records it as it records httpx: the same recorder for every stack
        request = httpx.Request(wire.method, wire.url, headers=wire.headers.raw, content=wire.body)
        recording = recorder.record(request, send).stream
        pieces = _frame(heads[0], _cut_at_errors(recording), see_end=True)
        # the real response holds the pool's connection; the caller's holds none
        return _serve(call, _Wire(pieces, on_close=recording), None)

    @staticmethod
    def _replay(
        player: ReplayTransport, interaction: Interaction, call: dict[str, Any], url: str
    ) -> Any:
        schedule = player.play_head(interaction, _Errors(call["self"], url))
        head = interaction.response
        assert head is not None
        chunks = _ReplaySync(player, _WireErrors(), interaction, schedule)
        pieces = _frame(
            _Head(head.status, list(head.headers), head.http_version, head.reason), iter(chunks)
        )
        return _serve(call, _Wire(pieces), call["response_conn"])
