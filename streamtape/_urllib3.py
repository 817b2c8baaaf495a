"""The urllib3 stack (and so ``requests``): record and replay each request a pool sends.

The seam is ``HTTPConnectionPool._make_request``, the one call per request on the wire (each
retry and redirect hop its own), which ``requests``' adapter and ``PoolManager`` reach through
``urlopen``.

Recording lets the original send the request unbuffered (``preload_content=False``) and taps
the response where urllib3 takes body bytes off the connection (``_handle_chunk`` for chunked
bodies, ``_fp_read`` otherwise): each piece the caller reads is recorded as it passes, and how
the body ended (complete, the caller closed it, urllib3's error). When the caller asked for
``preload_content``, the body is then read as urllib3 would have.

Replay never connects: it builds the response as urllib3 does, over a stand-in socket that
serves the recorded head and then each recorded chunk (re-framed as on the wire: chunked, by
length, or to EOF) only when the caller reads, at its recorded offset. http.client and urllib3
parse those bytes themselves, so ``iter_content()`` / ``iter_lines()`` / ``stream()`` see the
chunks the network gave, and a stream that broke while recording ends at the same byte, where
urllib3 raises its own error (``ProtocolError``, which ``requests`` turns into
``ChunkedEncodingError``); a recorded timeout times out (``ReadTimeoutError``).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import inspect
import io
from collections.abc import Iterator
from typing import Any

from streamtape._stacks import Resolve, WireRequest, begin, head_schedule, is_timeout
from streamtape.cassette import ErrorInfo, Interaction, InteractionWriter
from streamtape.transport import RecordingTransport, ReplayTransport, _ReplaySync

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

        cls = getattr(exceptions, error.type, None)
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(error.message)
            except TypeError:  # needs more than a message
                pass
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


# -- replay: a stand-in socket ----------------------------------------------------------------


class _Wire(io.RawIOBase):
    """The bytes of a recorded response, each piece handed out only when it is read."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
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


def _pieces(player: ReplayTransport, interaction: Interaction, schedule: Any) -> Iterator[bytes]:
    """The head, then each chunk framed as the recorded headers say, each at its offset."""
    head = interaction.response
    assert head is not None
    version = head.http_version if head.http_version in ("HTTP/1.0", "HTTP/1.1") else "HTTP/1.1"
    lines = [f"{version} {head.status} {head.reason}\r\n"]
    lines += [f"{k}: {v}\r\n" for k, v in head.headers]
    yield ("".join(lines) + "\r\n").encode("latin-1")
    chunked = any(
        k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in head.headers
    )
    try:
        for data in _ReplaySync(player, _WireErrors(), interaction, schedule):
            if data:
                yield b"%x\r\n%s\r\n" % (len(data), data) if chunked else data
    except _Cut:
        return
    if chunked:
        yield b"0\r\n\r\n"


# -- recording: taps on the response ---------------------------------------------------------


def _tap(resp: Any, rec: InteractionWriter) -> None:
    """Record every body piece urllib3 takes off the connection, and how the body ended."""
    from urllib3.util.response import is_fp_closed

    inside = [False]  # _update_chunk_length closes the response before raising its error

    handle_chunk = resp._handle_chunk

    def tapped_handle_chunk(amt: int | None) -> bytes:
        data: bytes = handle_chunk(amt)
        if data:
            rec.chunk(data)
        return data

    fp_read = resp._fp_read

    def tapped_fp_read(*args: Any, **kwargs: Any) -> bytes:
        data: bytes = fp_read(*args, **kwargs)
        if data:
            rec.chunk(data)
        if resp._fp is None or is_fp_closed(resp._fp):
            rec.end("complete")
        return data

    update_chunk_length = resp._update_chunk_length

    def tapped_update_chunk_length() -> None:
        inside[0] = True
        try:
            update_chunk_length()
        except Exception as exc:
            rec.end("error", error=exc)
            raise
        finally:
            inside[0] = False
        if resp.chunk_left == 0:
            rec.end("complete")

    error_catcher = resp._error_catcher

    @contextlib.contextmanager
    def tapped_error_catcher() -> Iterator[None]:
        try:
            with error_catcher():
                yield
        except Exception as exc:
            rec.end("error", error=exc)
            raise

    close = resp.close

    def tapped_close() -> None:
        if not inside[0]:
            rec.end("closed")
        close()

    resp._handle_chunk = tapped_handle_chunk
    resp._fp_read = tapped_fp_read
    resp._update_chunk_length = tapped_update_chunk_length
    resp._error_catcher = tapped_error_catcher
    resp.close = tapped_close


def _head(rec: InteractionWriter, resp: Any) -> None:
    original = getattr(resp, "_original_response", None)
    if original is not None:
        headers = [(k, v) for k, v in original.msg.items()]
    else:
        headers = list(resp.headers.items())
    version = getattr(resp, "version_string", None) or {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(
        resp.version, "HTTP/1.1"
    )
    rec.response(resp.status, headers, http_version=version, reason=resp.reason or "")


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
        preload = call["preload_content"]
        arguments = dict(call, body=wire.body if call["body"] is not None else None)
        arguments["preload_content"] = False
        rec = begin(recorder, wire)
        try:
            resp = original(**arguments)
        except BaseException as exc:
            rec.end("error" if isinstance(exc, Exception) else "interrupted", error=exc)
            raise
        _head(rec, resp)
        _tap(resp, rec)
        if preload:
            resp._body = resp.read(decode_content=call["decode_content"])
        return resp

    @staticmethod
    def _replay(
        player: ReplayTransport, interaction: Interaction, call: dict[str, Any], url: str
    ) -> Any:
        from urllib3.response import HTTPResponse

        pool = call["self"]
        schedule = head_schedule(player, interaction, _Errors(pool, url))
        wire = _Wire(_pieces(player, interaction, schedule))
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
        response._connection = call["response_conn"]
        response._pool = pool
        return response
