"""The public surface: what `import streamtape` promises (httpx's test_exported_members habit)."""

from __future__ import annotations

import streamtape

EXPECTED = {
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
    "UnknownEvent",
    "__version__",
    "accumulate",
    "accumulate_all",
    "aiter_events",
    "decode_event",
    "events",
    "iter_events",
    "use_cassette",
    "Tape",
    "TapeStats",
}


def test_all_is_pinned() -> None:
    assert set(streamtape.__all__) == EXPECTED


def test_every_exported_name_exists_and_claims_the_package() -> None:
    for name in streamtape.__all__:
        member = getattr(streamtape, name)
        module = getattr(member, "__module__", None) or getattr(member, "__name__", "")
        if name not in {"__version__", "INSTANT", "Event"}:
            assert str(module).startswith("streamtape"), name


def test_errors_share_one_base() -> None:
    for error in (streamtape.CassetteError, streamtape.DecodeError, streamtape.NoMatchError):
        assert issubclass(error, streamtape.StreamtapeError)
