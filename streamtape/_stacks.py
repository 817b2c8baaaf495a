"""What the adapters of the non-httpx stacks (aiohttp, urllib3/requests) share with the core.

An adapter patches its stack's seam only while a block is open (:class:`StackPatch`), turns each
request into a :class:`WireRequest` and asks ``resolve`` for the block in force. The block's
``_dispatch`` answers with a :data:`Route`: a recorded interaction to replay (matched, marked
played, through the same ``ReplayTransport.take`` as httpx) or the recorder to record with. So
matching, redaction, record modes, ``NoMatchError`` and the cassette format are the core's, the
same for every stack; an adapter only translates heads, bodies and exceptions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from streamtape.cassette import ErrorInfo, Interaction, InteractionWriter
from streamtape.transport import RecordingTransport, ReplayTransport

__all__ = [
    "Block",
    "Resolve",
    "Route",
    "StackPatch",
    "WireRequest",
    "begin",
    "is_timeout",
]


class _RawHeaders:
    """Headers in the shape the core reads (httpx's ``Headers.raw``: latin-1 byte pairs)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = [(str(k), str(v)) for k, v in pairs]  # str subclasses (istr) as str

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in self.pairs]


class WireRequest:
    """A request as a stack is about to send it: method, absolute URL, headers, whole body."""

    __slots__ = ("body", "headers", "method", "url")

    def __init__(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> None:
        self.method = method.upper()
        self.url = url
        self.headers = _RawHeaders(headers)
        self.body = body

    def read(self) -> bytes:
        return self.body

    def __repr__(self) -> str:
        return f"<WireRequest {self.method} {self.url}>"


Route = tuple[ReplayTransport, Interaction] | RecordingTransport
"""What a block does with a request: replay this interaction, or record with this recorder."""


class Block(Protocol):
    """The block in force, as an adapter sees it (a ``Tape``)."""

    def _dispatch(self, request: WireRequest) -> Route: ...


Resolve = Callable[[WireRequest], "Block | None"]
"""The block a request belongs to; None outside every block (the original method runs)."""


class StackPatch(Protocol):
    """One HTTP stack's patch, installed while at least one block is open."""

    name: str

    def install(self, resolve: Resolve) -> None: ...

    def uninstall(self) -> None: ...


def begin(recorder: RecordingTransport, request: WireRequest) -> InteractionWriter:
    """Record ``request`` (redacted by the writer) and return the writer of its interaction."""
    return recorder.writer.begin(request.method, request.url, request.headers.pairs, request.body)


def is_timeout(error: ErrorInfo) -> bool:
    """Whether a recorded error was a timeout, whichever stack named it."""
    return "timeout" in error.type.lower() or "timed out" in error.message.lower()
