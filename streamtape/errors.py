"""Exceptions raised by streamtape, in one leaf module so every layer can raise them."""

from __future__ import annotations

__all__ = ["CassetteError", "DecodeError", "NoMatchError", "StreamtapeError"]


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
