"""Exceptions raised by streamtape, in one leaf module so every layer can raise them."""

from __future__ import annotations

__all__ = [
    "CassetteError",
    "DecodeError",
    "NetworkBlockedError",
    "NoMatchError",
    "StreamtapeError",
    "StreamtapeWarning",
]


class StreamtapeError(Exception):
    """Base class of every error streamtape raises on purpose."""


class DecodeError(StreamtapeError, ValueError):
    """A payload is not JSON, or an event's required fields are missing or mistyped.

    Carries the event ``type`` (when it could be read), the field ``path`` msgspec blamed, the
    ``offset`` of the frame in the stream and a short ``excerpt`` of the payload.
    """

    def __init__(
        self,
        message: str,
        *,
        type: str | None = None,
        path: str | None = None,
        offset: int | None = None,
        excerpt: str = "",
    ) -> None:
        super().__init__(message)
        self.type = type
        self.path = path
        self.offset = offset
        self.excerpt = excerpt


class CassetteError(StreamtapeError):
    """A cassette file cannot be read or written: names the file, record number and byte offset."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: int | None = None,
        offset: int | None = None,
    ) -> None:
        super().__init__(message)
        self.path = path
        self.record = record
        self.offset = offset


class NoMatchError(StreamtapeError):
    """A request made during replay matches no recorded interaction."""


class NetworkBlockedError(StreamtapeError):
    """A connection streamtape does not serve was refused while a replay-only block was open.

    Raised before anything leaves the machine (no DNS query, no connect); carries the ``host``
    and ``port`` tried and the client ``stack`` seen on the call stack (None when none was).
    Deliberately not an ``OSError``: clients pass it through by name instead of retrying it or
    wrapping it as an ordinary connection failure.
    """

    def __init__(
        self, message: str, *, host: str, port: int | str | None, stack: str | None
    ) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.stack = stack


class StreamtapeWarning(UserWarning):
    """Something a block did will not be on its cassette (a client streamtape cannot record
    reached the network, or the block recorded nothing)."""
