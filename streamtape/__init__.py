"""streamtape: record and replay the streamed responses of Responses-API LLM endpoints.

Cassettes keep each chunk's exact bytes and arrival time, so replay into unmodified clients is
chunk- and timing-exact; the decoder turns the stream into typed events.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from streamtape._version import __version__

if TYPE_CHECKING:
    from streamtape import events, faults
    from streamtape.accumulate import Accumulator, accumulate, accumulate_all
    from streamtape.cassette.interaction import Chunk, Interaction
    from streamtape.cassette.reader import Cassette
    from streamtape.cassette.writer import CassetteWriter
    from streamtape.decode import EventDecoder, aiter_events, decode_event, iter_events
    from streamtape.errors import (
        CassetteError,
        DecodeError,
        NetworkBlockedError,
        NoMatchError,
        StreamtapeError,
        StreamtapeWarning,
    )
    from streamtape.events import Done, Event, KeepAlive, MalformedEvent, UnknownEvent
    from streamtape.matching import Matcher
    from streamtape.redact import Redactor
    from streamtape.results import FunctionCall, Problem, StreamResult
    from streamtape.sse import SSEFrame, SSEParser
    from streamtape.tape import Tape, TapeStats, use_cassette
    from streamtape.transport import INSTANT, RecordingTransport, ReplayTransport

__all__ = [
    "INSTANT",
    "Accumulator",
    "Cassette",
    "CassetteError",
    "CassetteWriter",
    "Chunk",
    "DecodeError",
    "Done",
    "Event",
    "EventDecoder",
    "FunctionCall",
    "Interaction",
    "KeepAlive",
    "MalformedEvent",
    "Matcher",
    "NetworkBlockedError",
    "NoMatchError",
    "Problem",
    "RecordingTransport",
    "Redactor",
    "ReplayTransport",
    "SSEFrame",
    "SSEParser",
    "StreamResult",
    "StreamtapeError",
    "StreamtapeWarning",
    "Tape",
    "TapeStats",
    "UnknownEvent",
    "__version__",
    "accumulate",
    "accumulate_all",
    "aiter_events",
    "decode_event",
    "events",
    "faults",
    "iter_events",
    "use_cassette",
]

# Names load on first use (PEP 562): importing streamtape, as pytest does for its plugin in every
# run, costs nothing until a name is needed. Each name maps to the module that defines it.
_WHERE = {
    "events": "streamtape.events",
    "faults": "streamtape.faults",
    "Accumulator": "streamtape.accumulate",
    "FunctionCall": "streamtape.results",
    "Problem": "streamtape.results",
    "StreamResult": "streamtape.results",
    "accumulate": "streamtape.accumulate",
    "accumulate_all": "streamtape.accumulate",
    "Cassette": "streamtape.cassette.reader",
    "CassetteWriter": "streamtape.cassette.writer",
    "Chunk": "streamtape.cassette.interaction",
    "Interaction": "streamtape.cassette.interaction",
    "EventDecoder": "streamtape.decode",
    "aiter_events": "streamtape.decode",
    "decode_event": "streamtape.decode",
    "iter_events": "streamtape.decode",
    "CassetteError": "streamtape.errors",
    "DecodeError": "streamtape.errors",
    "NetworkBlockedError": "streamtape.errors",
    "NoMatchError": "streamtape.errors",
    "StreamtapeError": "streamtape.errors",
    "StreamtapeWarning": "streamtape.errors",
    "Done": "streamtape.events",
    "Event": "streamtape.events",
    "KeepAlive": "streamtape.events",
    "MalformedEvent": "streamtape.events",
    "UnknownEvent": "streamtape.events",
    "Matcher": "streamtape.matching",
    "Redactor": "streamtape.redact",
    "SSEFrame": "streamtape.sse",
    "SSEParser": "streamtape.sse",
    "Tape": "streamtape.tape",
    "TapeStats": "streamtape.tape",
    "use_cassette": "streamtape.tape",
    "INSTANT": "streamtape.transport",
    "RecordingTransport": "streamtape.transport",
    "ReplayTransport": "streamtape.transport",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'streamtape' has no attribute {name!r}")
    module = importlib.import_module(where)
    value = module if where == f"streamtape.{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
