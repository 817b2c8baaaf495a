"""streamtape: record and replay the streamed responses of Responses-API LLM endpoints.

Cassettes keep each chunk's exact bytes and arrival time, so replay into unmodified clients is
chunk- and timing-exact; the decoder turns the stream into typed events.
"""

from __future__ import annotations

from streamtape import events
from streamtape._version import __version__
from streamtape.accumulate import (
    Accumulator,
    FunctionCall,
    Problem,
    StreamResult,
    accumulate,
    accumulate_all,
)
from streamtape.cassette import Cassette, CassetteWriter, Chunk, Interaction
from streamtape.decode import EventDecoder, aiter_events, decode_event, iter_events
from streamtape.errors import CassetteError, DecodeError, NoMatchError, StreamtapeError
from streamtape.events import Done, Event, KeepAlive, MalformedEvent, UnknownEvent
from streamtape.matching import Matcher
from streamtape.redact import Redactor
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
    "NoMatchError",
    "Problem",
    "RecordingTransport",
    "Redactor",
    "ReplayTransport",
    "SSEFrame",
    "SSEParser",
    "StreamResult",
    "StreamtapeError",
    "Tape",
    "TapeStats",
    "UnknownEvent",
    "__version__",
    "accumulate",
    "accumulate_all",
    "aiter_events",
    "decode_event",
    "events",
    "iter_events",
    "use_cassette",
]
