"""streamtape: record and replay the streamed responses of Responses-API LLM endpoints."""

from __future__ import annotations

from streamtape._version import __version__
from streamtape.errors import CassetteError, DecodeError, NoMatchError, StreamtapeError

__all__ = [
    "CassetteError",
    "DecodeError",
    "NoMatchError",
    "StreamtapeError",
    "__version__",
]
