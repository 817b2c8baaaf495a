"""Replay cassettes over HTTP, and record through a reverse proxy: streamtape for any client.

:class:`ReplayApp` is an ASGI 3 application that answers each request with its matching recorded
interaction: the recorded status and headers (hop-by-hop ones left to the server) and the body
as the recorded chunks, each sent on its own at its recorded offset divided by ``speed``. A
stream that broke while recording breaks the connection at the same point. :class:`ProxyApp`
forwards each request to an upstream API with httpx, passes every chunk on as it arrives and
records it into a cassette (redacted), or replays what the cassette already holds, by record
mode. Both run under any ASGI server: uvicorn (``streamtape serve`` / ``streamtape proxy``, the
``streamtape[serve]`` extra), or in-process under ``httpx.ASGITransport``.

A request matches a recording when its path is the recorded path or ends it (so a client whose
base URL is ``http://127.0.0.1:PORT`` matches ``https://api.openai.com/v1/responses`` by
``/v1/responses`` or ``/responses``); the method, the query and the body are then compared as
in-process replay compares them, with the same :class:`~streamtape.errors.NoMatchError` text. A
miss answers 404 with an OpenAI-shaped JSON error holding that text, and is logged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import ssl
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

import httpx
import msgspec

from streamtape.cassette import Cassette, CassetteWriter, Interaction
from streamtape.errors import CassetteError, StreamtapeError
from streamtape.faults import Fault
from streamtape.matching import DEFAULT_MATCH_ON, Matcher, MatchOn
from streamtape.redact import DEFAULT_REDACTOR, Redactor
from streamtape.transport import RecordingTransport, ReplayTransport

__all__ = ["PROXY_MODES", "ProxyApp", "ProxyMode", "ReplayApp", "base_path", "cassette_files"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ProxyMode = Literal["once", "new_episodes", "all"]
"""How :class:`ProxyApp` treats its cassette, in use_cassette's words."""
PROXY_MODES: tuple[ProxyMode, ...] = get_args(ProxyMode)

log = logging.getLogger("streamtape.server")

# Connection-level headers (RFC 9110 section 7.6.1) belong to one hop: the ASGI server frames
# the body itself, so the recorded framing headers are not repeated.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_SUFFIX = ".ndjson.zst"
_ENDPOINTS = ("/responses", "/chat/completions", "/completions", "/embeddings", "/models")


def cassette_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """``paths`` with each folder replaced by the cassettes below it, in name order."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found.extend(sorted(path.rglob(f"*{_SUFFIX}")))
        else:
            found.append(path)
    return found


def base_path(interactions: Sequence[Interaction]) -> str:
    """The path a client's base URL should end with to reach these recordings, e.g. ``/v1``.

    The part of the recorded paths before the API endpoint (``/responses``, ...) when all agree;
    otherwise empty, which works too since a request may give any tail of a recorded path.
    """
    prefixes = set()
    for inter in interactions:
        path = urlsplit(inter.request.url).path
        cut = min((i for e in _ENDPOINTS if (i := path.find(e)) >= 0), default=-1)
        prefixes.add(path[:cut] if cut >= 0 else "")
    return prefixes.pop() if len(prefixes) == 1 else ""


def _header_pairs(scope: Scope) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", [])]


def _target(scope: Scope) -> str:
    """The request's path and query as the client sent them."""
    path = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string", b"")
    text = path.decode("latin-1")
    return f"{text}?{query.decode('latin-1')}" if query else text


async def _read_body(receive: Receive) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("the client went away before sending its whole body")
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


async def _lifespan(
    receive: Receive, send: Send, on_shutdown: Callable[[], Awaitable[None]] | None = None
) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if on_shutdown is not None:
                await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _error_body(status: int, message: str, code: str) -> bytes:
    """An OpenAI-shaped error document, so SDKs show ``message`` in the exception they raise."""
    return msgspec.json.encode(
        {"error": {"message": message, "type": "streamtape", "code": code, "status": status}}
    )


async def _answer_error(send: Send, status: int, message: str, code: str) -> None:
    body = _error_body(status, message, code)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Disconnect:
    """Watches ``receive`` for the client going away while the response streams."""

    def __init__(self, receive: Receive) -> None:
        self.event = asyncio.Event()
        self._task = asyncio.ensure_future(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.event.set()

    def cancel(self) -> None:
        self._task.cancel()


async def _stream(
    send: Send, receive: Receive, status: int, headers: list[tuple[str, str]], body: Any
) -> bool:
    """Send a head, then each chunk of the async iterable ``body`` as its own body message.

    Returns False when the client went away first. An exception from ``body`` (a recorded or
    upstream break) propagates, and the ASGI server then drops the connection mid-body, as the
    original server did."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    watch = _Disconnect(receive)
    try:
        async for chunk in body:
            if watch.event.is_set():
                return False
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return True
    finally:
        watch.cancel()


def _replayed_headers(interaction: Interaction) -> list[tuple[str, str]]:
    """The recorded head's headers fit to send again: no hop-by-hop ones, and no length unless
    the recorded body is whole (a cut stream is sent as long as it was recorded)."""
    head = interaction.response
    assert head is not None
    whole = interaction.end is not None and interaction.end.outcome == "complete"
    return [
        (k, v)
        for k, v in head.headers
        if k.lower() not in HOP_BY_HOP and (whole or k.lower() != "content-length")
    ]


class _Players:
    """The replay side shared by both apps: one :class:`ReplayTransport` per cassette."""

    def __init__(
        self,
        cassettes: Sequence[Cassette],
        *,
        speed: float,
        max_gap: float | None,
        matcher: Matcher,
        redactor: Redactor | None,
        record_hint: str | None,
        faults: Sequence[Fault] = (),
    ) -> None:
        self.players = [
            ReplayTransport(
                c,
                speed=speed,
                max_gap=max_gap,
                matcher=matcher,
                redactor=redactor,
                record_hint=record_hint,
                faults=faults,
            )
            for c in cassettes
        ]
        self._lock = threading.Lock()
        self.missed: list[str] = []

    @property
    def played(self) -> list[Interaction]:
        return [i for p in self.players for i in p.played]

    @property
    def unplayed(self) -> list[Interaction]:
        return [i for p in self.players for i in p.unplayed]

    def _bases(self, target_path: str) -> list[str]:
        """Recorded origins + path prefixes that ``target_path`` completes, in recorded order."""
        bases: list[str] = []
        for player in self.players:
            for inter in player.cassette.interactions:
                url = urlsplit(inter.request.url)
                if url.path == target_path or (
                    target_path.startswith("/") and url.path.endswith(target_path)
                ):
                    base = f"{url.scheme}://{url.netloc}{url.path[: -len(target_path)]}"
                    if base not in bases:
                        bases.append(base)
        return bases

    def find(
        self, method: str, target: str, headers: list[tuple[str, str]], body: bytes
    ) -> tuple[ReplayTransport, httpx.Request, Interaction] | tuple[None, httpx.Request, None]:
        """The player and interaction answering this request, taken (marked played)."""
        path = target.partition("?")[0]
        kept = [(k, v) for k, v in headers if k.lower() != "host"]
        bases = self._bases(path)
        for base in bases:
            request = httpx.Request(method, base + target, headers=kept, content=body)
            for player in self.players:
                interaction = player.take(request, body)
                if interaction is not None:
                    return player, request, interaction
        first = next((i for p in self.players for i in p.cassette.interactions), None)
        if bases:
            fallback = bases[0]
        elif first is not None:
            url = urlsplit(first.request.url)
            fallback = f"{url.scheme}://{url.netloc}"
        else:
            fallback = "http://streamtape.invalid"
        return None, httpx.Request(method, fallback + target, headers=kept, content=body), None

    def no_match(self, request: httpx.Request, body: bytes) -> StreamtapeError:
        with self._lock:
            self.missed.append(f"{request.method} {request.url}")
        if not self.players:
            return StreamtapeError("no cassette is loaded")
        error: StreamtapeError = self.players[0]._no_match(request, body)  # type: ignore[assignment]
        return error

    async def answer(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> bool:
        """Answer from the cassettes; False when nothing matched and nothing was sent."""
        found_player, request, interaction = self.find(
            scope["method"], _target(scope), _header_pairs(scope), body
        )
        if found_player is None or interaction is None:
            return False
        try:
            response = await found_player.arespond(request, interaction)
        except (CassetteError, httpx.TransportError) as exc:  # no response head was recorded
            await _answer_error(send, 502, f"recorded without a response: {exc}", "no_response")
            return True
        await _stream(
            send, receive, response.status_code, _replayed_headers(interaction), response.stream
        )
        return True


class ReplayApp:
    """An ASGI app answering each request from one or more cassettes (or folders of them).

    Each recorded interaction answers once, in recorded order among equal requests; a request
    that matches none gets a 404 JSON error with the closest recording and a field diff, and is
    counted in :attr:`missed`. ``speed``, ``max_gap``, ``match_on``, ``redact`` and ``faults``
    mean what they mean to :func:`streamtape.use_cassette`: a fault that breaks the stream
    breaks the HTTP connection there, a stall holds the next chunk back, an HTTP status answers
    before the recorded stream.
    """

    def __init__(
        self,
        cassettes: Sequence[str | os.PathLike[str] | Cassette],
        *,
        speed: float = 1.0,
        max_gap: float | None = None,
        match_on: Sequence[MatchOn] | Matcher = DEFAULT_MATCH_ON,
        redact: Redactor | None = DEFAULT_REDACTOR,
        faults: Sequence[Fault] = (),
    ) -> None:
        loaded = [c for c in cassettes if isinstance(c, Cassette)]
        paths = cassette_files([c for c in cassettes if not isinstance(c, Cassette)])
        loaded += [Cassette.load(p) for p in paths]
        if not loaded:
            raise CassetteError(f"no cassettes found in {', '.join(map(str, cassettes))}")
        matcher = match_on if isinstance(match_on, Matcher) else Matcher(match_on)
        self._players = _Players(
            loaded,
            speed=speed,
            max_gap=max_gap,
            matcher=matcher,
            redactor=redact,
            record_hint="re-record it, e.g. through `streamtape proxy --mode new_episodes`",
            faults=faults,
        )
        self.cassettes = loaded
        self.requests = 0
        self.on_request: Callable[[], None] | None = None
        """Called after each request has been answered (``streamtape serve --exit-after``)."""

    @property
    def interactions(self) -> list[Interaction]:
        return [i for c in self.cassettes for i in c.interactions]

    @property
    def played(self) -> list[Interaction]:
        """Interactions replayed so far."""
        return self._players.played

    @property
    def unplayed(self) -> list[Interaction]:
        """Interactions not replayed yet."""
        return self._players.unplayed

    @property
    def missed(self) -> list[str]:
        """``METHOD URL`` of each request that matched no recording."""
        return list(self._players.missed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            raise StreamtapeError(f"streamtape serves HTTP only, not {scope['type']}")
        try:
            body = await _read_body(receive)
            if not await self._players.answer(scope, receive, send, body):
                _, request, _ = self._players.find(
                    scope["method"], _target(scope), _header_pairs(scope), body
                )
                error = self._players.no_match(request, body)
                log.warning("%s", error)
                await _answer_error(send, 404, str(error), "no_recorded_match")
        finally:
            self.requests += 1
            if self.on_request is not None:
                self.on_request()


class ProxyApp:
    """An ASGI reverse proxy in front of ``upstream`` that records what passes into a cassette.

    Each request goes to ``upstream`` + its path and query, with the client's headers (its
    credentials included; they are redacted in the cassette only). The response streams back
    chunk by chunk as it arrives while the recorder keeps each chunk with its arrival time.
    ``mode``: ``once`` records into a missing cassette and replays an existing one,
    ``new_episodes`` replays what matches and records the rest (appended), ``all`` records
    everything into a fresh cassette. Call :meth:`close` (or use ``with``) to finish the file.
    """

    def __init__(
        self,
        upstream: str,
        cassette: str | os.PathLike[str],
        *,
        mode: ProxyMode = "once",
        match_on: Sequence[MatchOn] | Matcher = DEFAULT_MATCH_ON,
        redact: Redactor | None = DEFAULT_REDACTOR,
        speed: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if mode not in PROXY_MODES:
            raise ValueError(f"mode must be once, new_episodes or all; got {mode!r}")
        self.upstream = upstream.rstrip("/")
        self.path = Path(cassette)
        self.mode = mode
        self.redactor = redact
        self.matcher = match_on if isinstance(match_on, Matcher) else Matcher(match_on)
        exists = self.path.exists()
        self._players: _Players | None = None
        if exists and mode in ("once", "new_episodes"):
            self._players = _Players(
                [Cassette.load(self.path)],
                speed=speed,
                max_gap=None,
                matcher=self.matcher,
                redactor=redact,
                record_hint="run the proxy with --mode new_episodes to record it",
            )
        self.records = not exists or mode != "once"
        self._transport = transport
        self._pool: httpx.AsyncHTTPTransport | None = None  # made in the server's event loop
        self._writer: CassetteWriter | None = None
        self._recorder: RecordingTransport | None = None
        self._lock = threading.Lock()
        self.recorded = 0
        self.requests = 0
        self.on_request: Callable[[], None] | None = None

    @property
    def played(self) -> list[Interaction]:
        return [] if self._players is None else self._players.played

    @property
    def missed(self) -> list[str]:
        return [] if self._players is None else list(self._players.missed)

    def _recording(self) -> RecordingTransport:
        with self._lock:
            if self._recorder is None:
                append = self.mode == "new_episodes"  # under the writer's lock: merges
                self._writer = CassetteWriter(
                    self.path, redactor=self.redactor, append=append, source="streamtape proxy"
                )
                self._recorder = RecordingTransport(None, self._writer)
            return self._recorder

    def close(self) -> None:
        """Finish the cassette (atomically in place); idempotent."""
        with self._lock:
            writer, self._writer, self._recorder = self._writer, None, None
        if writer is not None:
            writer.close()

    def __enter__(self) -> ProxyApp:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send, on_shutdown=self.aclose_upstream)
            return
        if scope["type"] != "http":
            raise StreamtapeError(f"streamtape proxies HTTP only, not {scope['type']}")
        try:
            await self._handle(scope, receive, send)
        finally:
            self.requests += 1
            if self.on_request is not None:
                self.on_request()

    keep_alive = False
    """Keep upstream connections open between requests; set by a server that closes them at
    shutdown through :meth:`aclose_upstream` (the ASGI lifespan), as ``streamtape proxy`` does.
    Without it each request opens its own connection, so none outlives the event loop."""

    def _upstream(self) -> httpx.AsyncBaseTransport:
        if self._transport is not None:
            return self._transport
        if self._pool is None:
            self._pool = httpx.AsyncHTTPTransport(verify=_ssl_context())
        return self._pool

    async def aclose_upstream(self) -> None:
        """Close the kept upstream connections (call in the event loop that served)."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive)
        if self._players is not None and await self._players.answer(scope, receive, send, body):
            return
        if not self.records:
            assert self._players is not None
            _, request, _ = self._players.find(
                scope["method"], _target(scope), _header_pairs(scope), body
            )
            error = self._players.no_match(request, body)
            log.warning("%s", error)
            await _answer_error(send, 404, str(error), "no_recorded_match")
            return
        headers = [
            (k, v)
            for k, v in _header_pairs(scope)
            if k.lower() not in HOP_BY_HOP and k.lower() not in ("host", "content-length")
        ]
        request = httpx.Request(
            scope["method"], self.upstream + _target(scope), headers=headers, content=body
        )
        recorder = self._recording()
        inner = self._upstream()
        try:
            try:
                response = await recorder.arecord(request, inner.handle_async_request)
            except httpx.TransportError as exc:
                message = f"upstream {self.upstream}: {exc!r}"
                await _answer_error(send, 502, message, "upstream_error")
                return
            self.recorded += 1
            head = [(k, v) for k, v in _header_pairs_of(response) if k.lower() not in HOP_BY_HOP]
            try:
                await _stream(send, receive, response.status_code, head, response.stream)
            finally:
                await response.aclose()
        finally:
            if self._transport is None and not self.keep_alive:
                await inner.aclose()
                self._pool = None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One TLS context for every upstream connection: loading the CA bundle takes milliseconds."""
    return httpx.create_ssl_context()


def _header_pairs_of(response: httpx.Response) -> list[tuple[str, str]]:
    return [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
