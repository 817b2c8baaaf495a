"""A real HTTP/1.1 server on 127.0.0.1 that streams configured bodies, for recording tests.

Each :class:`Route` says what to send on one path: status, headers, and body chunks with a
delay before each (chunked transfer-encoding, one write per chunk, TCP_NODELAY), optionally
gzip-encoded, cut off mid-way, or held until a test opens a gate. The server logs what it
received (:attr:`SSEServer.requests`) and when it sent each chunk (:attr:`SSEServer.sent`,
``time.perf_counter_ns``). Use it as a context manager, or through the ``sse_server`` fixture.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "FIXTURES",
    "SSE_FIXTURES",
    "ReceivedRequest",
    "Route",
    "SSEServer",
    "SentChunk",
    "json_route",
    "sse_chunks",
]

FIXTURES = Path(__file__).parent / "fixtures"
SSE_FIXTURES = sorted(FIXTURES.rglob("*.sse"))
_GATE_TIMEOUT = 10.0  # seconds a gated chunk waits for its gate before going out anyway


@dataclass
class Route:
    """What the server sends for requests to ``path`` (any method, query ignored).

    ``delays`` is the pause in seconds before each chunk (one number: before every chunk).
    ``chunked=False`` sends the joined body with Content-Length. ``gzip`` compresses the body
    (each chunk sync-flushed, so it still streams) and adds ``Content-Encoding: gzip``.
    ``break_after`` closes the connection after that many chunks, without the final empty chunk.
    ``gates`` holds chunk ``i`` until ``gates[i]`` is set (or 10 s passed).
    """

    path: str
    chunks: Sequence[bytes] = ()
    delays: float | Sequence[float] = 0.0
    status: int = 200
    headers: Sequence[tuple[str, str]] = (("Content-Type", "text/event-stream"),)
    chunked: bool = True
    gzip: bool = False
    break_after: int | None = None
    gates: Mapping[int, threading.Event] = field(default_factory=dict)
    head_delay: float = 0.0

    def delay(self, index: int) -> float:
        if isinstance(self.delays, (int, float)):
            return float(self.delays)
        return self.delays[index] if index < len(self.delays) else 0.0


@dataclass(frozen=True)
class ReceivedRequest:
    """A request as the server read it."""

    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes


@dataclass(frozen=True)
class SentChunk:
    """A body chunk as the server wrote it (gzip-encoded for gzip routes), and when: logged just
    before the write, so a client that has a chunk always finds it logged."""

    path: str
    index: int
    at_ns: int
    data: bytes


def sse_chunks(source: Path | bytes) -> list[bytes]:
    """Split an SSE body into frame-sized chunks, each ending with its blank line.

    A ``.chunks.txt`` fixture (one JSON payload a line) becomes ``data: <payload>\\n\\n`` frames.
    """
    if isinstance(source, Path):
        data = source.read_bytes()
        if source.name.endswith(".chunks.txt"):
            return [b"data: " + line + b"\n\n" for line in data.splitlines() if line.strip()]
    else:
        data = source
    chunks: list[bytes] = []
    start = 0
    while start < len(data):
        end = data.find(b"\n\n", start)
        end = len(data) if end < 0 else end + 2
        chunks.append(data[start:end])
        start = end
    return chunks


def json_route(
    path: str,
    obj: Any,
    *,
    status: int = 200,
    headers: Sequence[tuple[str, str]] = (),
) -> Route:
    """A route answering with one JSON document (Content-Length, not chunked)."""
    return Route(
        path,
        [json.dumps(obj).encode()],
        status=status,
        headers=[("Content-Type", "application/json"), *headers],
        chunked=False,
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def handle(self) -> None:
        # a client that closes with a response left unread resets the connection: fine
        with contextlib.suppress(ConnectionResetError):
            super().handle()

    def do_GET(self) -> None:
        self._serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while size := int(self.rfile.readline().split(b";")[0], 16):
                body += self.rfile.read(size)
                self.rfile.readline()
            self.rfile.readline()
            return body
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _serve(self) -> None:
        owner = self.server.owner
        generation = owner._generation
        body = self._read_body()
        path = urlsplit(self.path).path
        owner._log_request(
            ReceivedRequest(self.command, self.path, list(self.headers.items()), body)
        )
        route = owner.routes.get(path)
        if route is None:
            route = Route(path, [b"no route"], status=404, headers=[], chunked=False)
        try:
            self._send(owner, route, generation)
        except (BrokenPipeError, ConnectionResetError):  # the client went away: fine
            self.close_connection = True

    def _send(self, owner: SSEServer, route: Route, generation: int) -> None:
        time.sleep(route.head_delay)
        compressor = zlib.compressobj(wbits=31) if route.gzip else None
        self.send_response(route.status)
        for name, value in route.headers:
            self.send_header(name, value)
        if compressor is not None:
            self.send_header("Content-Encoding", "gzip")
        if not route.chunked:
            body = b"".join(route.chunks)
            if compressor is not None:
                body = compressor.compress(body) + compressor.flush()
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            owner._log_sent(generation, SentChunk(route.path, 0, time.perf_counter_ns(), body))
            self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        pieces = list(route.chunks)
        for index, chunk in enumerate(pieces):
            if route.break_after is not None and index >= route.break_after:
                self._break()
                return
            gate = route.gates.get(index)
            if gate is not None:
                gate.wait(_GATE_TIMEOUT)
            time.sleep(route.delay(index))
            data = chunk
            if compressor is not None:
                data = compressor.compress(chunk) + compressor.flush(zlib.Z_SYNC_FLUSH)
            if data:
                owner._log_sent(
                    generation, SentChunk(route.path, index, time.perf_counter_ns(), data)
                )
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        if route.break_after is not None and route.break_after <= len(pieces):
            self._break()
            return
        if compressor is not None:
            tail = compressor.flush()
            owner._log_sent(
                generation, SentChunk(route.path, len(pieces), time.perf_counter_ns(), tail)
            )
            self.wfile.write(b"%x\r\n%s\r\n" % (len(tail), tail))
        self.wfile.write(b"0\r\n\r\n")

    def _break(self) -> None:
        """Cut the connection mid-body: the client sees an incomplete chunked body."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many concurrent clients connect at once
    owner: SSEServer


class SSEServer:
    """The server: ``with SSEServer() as server: url = server.add(Route(...))``."""

    def __init__(self, routes: Sequence[Route] = ()) -> None:
        self.routes: dict[str, Route] = {r.path: r for r in routes}
        self.requests: list[ReceivedRequest] = []
        self.sent: list[SentChunk] = []
        self._lock = threading.Lock()
        self._generation = 0  # bumped by reset(): streams still running from before log nothing
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>``."""
        assert self._httpd is not None, "the server is not running"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def add(self, route: Route) -> str:
        """Serve ``route`` (replacing one on the same path); return its full URL."""
        self.routes[route.path] = route
        return self.url + route.path

    def sent_on(self, path: str) -> list[SentChunk]:
        """The chunks sent on ``path``, in order."""
        with self._lock:
            return [s for s in self.sent if s.path == path]

    def reset(self) -> None:
        """Forget routes and logs (between tests)."""
        with self._lock:
            self._generation += 1
            self.routes.clear()
            self.requests.clear()
            self.sent.clear()

    def _log_request(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _log_sent(self, generation: int, sent: SentChunk) -> None:
        with self._lock:
            if generation == self._generation:
                self.sent.append(sent)

    def start(self) -> SSEServer:
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> SSEServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve(routes: Sequence[Route] = ()) -> Iterator[SSEServer]:
    """Generator form for fixtures: start, yield the server, stop."""
    with SSEServer(routes) as server:
        yield server
