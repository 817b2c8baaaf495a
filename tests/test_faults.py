"""Faults: one real recording replayed with each fault into unmodified clients.

Every stream here is recorded through the loopback server (real sockets) by the openai SDK, then
replayed with a fault into the openai SDK (sync and async; it is built on httpx2) and plain
httpx; the tests assert what each client really does, and what ``accumulate`` reports.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sse_server import FIXTURES, Route, SSEServer, sse_chunks

from streamtape import INSTANT, faults, use_cassette
from streamtape._vocabulary import RecordMode
from streamtape.accumulate import accumulate
from streamtape.cassette import Cassette, Interaction
from streamtape.decode import EventDecoder
from streamtape.errors import StreamtapeError, StreamtapeWarning
from streamtape.events import (
    Done,
    ErrorEvent,
    Event,
    MalformedEvent,
    ResponseCreatedEvent,
    ResponseFailedEvent,
)
from streamtape.faults import (
    OPENROUTER_PROCESSING,
    DisconnectHow,
    FaultError,
    cr,
    crlf,
    disconnect,
    drop_final,
    http_status,
    inject_error,
    jitter,
    keepalives,
    rechunk,
    slow,
    stall,
    truncate,
)

# An OpenAI-style stream (`event:` lines, sequence numbers, a "°" in its text) and an
# OpenRouter one (comments, no `event:` lines, `[DONE]`); see tests/fixtures/README.md.
OPENAI_SSE = FIXTURES / "pydantic-ai" / "test_deepseek_responses[function_tool_stream].1.sse"
OPENROUTER_SSE = FIXTURES / "pydantic-ai" / "test_openai_responses_raw_cot_stream_openrouter.sse"
KEY = "sk-test-faults"
EVERY_FAULT: list[faults.Fault] = [
    *faults.matrix(),
    rechunk(boundaries="per-event"),
    rechunk(random=(1, 20), seed=7),
    keepalives(),
    keepalives(every=3, comment="ping"),
    truncate(at_byte=700),
    disconnect(after_events=3, how="reset"),
    stall(before_event=4, seconds=0.05),
    inject_error(after_events=2, code="rate_limit_exceeded", message="Slow down"),
    drop_final(),
    http_status(500, retry_after=0.01, times=2),
    slow(2),
    jitter(3, seed=1),
]


def _record(server: SSEServer, source: Path, path: Path) -> Path:
    """Record one streamed ``responses.create`` by the openai SDK through the loopback server."""
    server.add(Route("/v1/responses", sse_chunks(source), delays=0.002))
    with use_cassette(path, record_mode="once"), openai_client(server.url + "/v1") as client:
        for _ in client.responses.create(model="gpt-4o", input="Weather?", stream=True):
            pass
    return path


@pytest.fixture(scope="module")
def recorded(_sse_server_session: SSEServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The OpenAI-style stream, recorded once for the module."""
    folder = tmp_path_factory.mktemp("faults")
    try:
        return _record(_sse_server_session, OPENAI_SSE, folder / "openai.ndjson.zst")
    finally:
        _sse_server_session.reset()


@pytest.fixture(scope="module")
def recorded_openrouter(
    _sse_server_session: SSEServer, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    folder = tmp_path_factory.mktemp("faults")
    try:
        return _record(_sse_server_session, OPENROUTER_SSE, folder / "openrouter.ndjson.zst")
    finally:
        _sse_server_session.reset()


@pytest.fixture
def tape_path(recorded: Path, tmp_path: Path) -> Path:
    """A copy of the recording, so a test that changes it changes only its own."""
    return Path(shutil.copy(recorded, tmp_path / "tape.ndjson.zst"))


def the_interaction(path: Path) -> Interaction:
    [interaction] = Cassette.load(path).interactions
    return interaction


# Replays go to a port nothing listens on (discard): a request that reached the network fails.
REPLAY_BASE = "http://127.0.0.1:9/v1"
URL = REPLAY_BASE + "/responses"


def openai_client(base: str = REPLAY_BASE, **options: Any) -> openai.OpenAI:
    options.setdefault("max_retries", 0)
    return openai.OpenAI(base_url=base, api_key=KEY, **options)


def async_openai_client(base: str = REPLAY_BASE, **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("max_retries", 0)
    return openai.AsyncOpenAI(base_url=base, api_key=KEY, **options)


def replay(path: Path, *fault: faults.Fault, **options: Any) -> Any:
    """A replaying tape of ``path`` with ``fault``s, matching on method and path."""
    options.setdefault("speed", INSTANT)
    return use_cassette(
        path, record_mode="none", match_on=("method", "path"), faults=list(fault), **options
    )


def decode(chunks: list[bytes], strict: bool = False) -> list[Event]:
    decoder = EventDecoder(strict=strict)
    return [e for c in chunks for e in decoder.feed(c)] + decoder.close()


def httpx_read(url: str, **client: Any) -> tuple[list[bytes], BaseException | None]:
    """Plain httpx: the raw chunks read, and the exception that ended the read, if any."""
    chunks: list[bytes] = []
    try:
        with (
            httpx.Client(**client) as http,
            http.stream("POST", url, json={"input": "Weather?"}) as response,
        ):
            chunks += response.iter_raw()
    except httpx.HTTPError as exc:
        return chunks, exc
    return chunks, None


# -- the recording the tests share ---------------------------------------------------------------


def test_the_recording_is_a_real_stream_with_a_multibyte_character(recorded: Path) -> None:
    inter = the_interaction(recorded)
    result = inter.result()
    assert result.outcome == "completed"
    assert "°" in result.output_text
    assert len(inter.chunks) > 10
    assert inter.chunks[-1].offset_ns > inter.chunks[0].offset_ns  # the server's delays


# -- every fault: a frozen value with a repr, an id and a spec ----------------------------------

IDS = {
    "rechunk(size=1)": "rechunk-size-1",
    "rechunk(boundaries='mid-utf8')": "rechunk-mid-utf8",
    "rechunk(boundaries='mid-line')": "rechunk-mid-line",
    "rechunk(random=(1, 200))": "rechunk-random-1-200-seed-0",
    "crlf()": "crlf",
    "cr()": "cr",
    "keepalives(comment='OPENROUTER PROCESSING')": "keepalives-openrouter-every-1",
    "http_status(429, retry_after=0.01)": "http-429-retry-after-0.01",
    "http_status(503, retry_after=0.01)": "http-503-retry-after-0.01",
    "disconnect(after_events=5)": "disconnect-after-5",
    "truncate(after_events=5)": "truncate-after-5",
    "inject_error(after_events=5)": "inject-error-after-5",
    "rechunk(boundaries='per-event')": "rechunk-per-event",
    "rechunk(random=(1, 20), seed=7)": "rechunk-random-1-20-seed-7",
    "keepalives()": "keepalives-every-1",
    "keepalives(every=3, comment='ping')": "keepalives-ping-every-3",
    "truncate(at_byte=700)": "truncate-at-byte-700",
    "disconnect(after_events=3, how='reset')": "disconnect-reset-after-3",
    "stall(before_event=4, seconds=0.05)": "stall-before-4-0.05s",
    "inject_error(after_events=2, code='rate_limit_exceeded', message='Slow down')": (
        "inject-error-rate_limit_exceeded-after-2"
    ),
    "drop_final()": "drop-final",
    "http_status(500, retry_after=0.01, times=2)": "http-500-retry-after-0.01-x2",
    "slow(2)": "slow-x2",
    "jitter(3, seed=1)": "jitter-3ms-seed-1",
}


@pytest.mark.parametrize("fault", EVERY_FAULT, ids=str)
def test_a_fault_reads_as_its_call_and_has_a_stable_id_and_spec(fault: faults.Fault) -> None:
    assert IDS[repr(fault)] == fault.id == str(fault)
    assert eval(repr(fault), vars(faults)) == fault
    assert faults.parse(fault.spec) == fault
    with pytest.raises(AttributeError):
        fault.seed = 1  # type: ignore[attr-defined]


def test_the_matrix_is_twelve_faults_with_distinct_ids() -> None:
    matrix = faults.matrix()
    assert len(matrix) == 12 == len({f.id for f in matrix})
    assert faults.matrix(after_events=3)[-1] == inject_error(after_events=3)


@pytest.mark.parametrize("fault", EVERY_FAULT, ids=str)
def test_a_fault_is_a_pure_repeatable_transform(recorded: Path, fault: faults.Fault) -> None:
    before = recorded.read_bytes()
    inter = the_interaction(recorded)
    chunks = list(inter.chunks)
    once, twice = faults.apply(inter, [fault]), faults.apply(inter, [fault])
    assert once.chunks == twice.chunks  # same bytes, same cuts, same offsets
    assert once.end == twice.end
    assert getattr(once, "pauses", {}) == getattr(twice, "pauses", {})
    assert inter.chunks == chunks  # the recorded interaction is untouched
    assert recorded.read_bytes() == before  # and so is the file
    offsets = [c.offset_ns for c in once.chunks]
    assert offsets == sorted(offsets)


def test_a_seed_decides_the_random_cuts_and_the_jitter(recorded: Path) -> None:
    inter = the_interaction(recorded)

    def cuts(fault: faults.Fault) -> list[int]:
        return [len(c.data) for c in faults.apply(inter, [fault]).chunks]

    def offsets(fault: faults.Fault) -> list[int]:
        return [c.offset_ns for c in faults.apply(inter, [fault]).chunks]

    assert cuts(rechunk(random=(1, 50), seed=1)) == cuts(rechunk(random=(1, 50), seed=1))
    assert cuts(rechunk(random=(1, 50), seed=1)) != cuts(rechunk(random=(1, 50), seed=2))
    assert offsets(jitter(2, seed=1)) == offsets(jitter(2, seed=1))
    assert offsets(jitter(2, seed=1)) != offsets(jitter(2, seed=2))


def test_faults_compose_left_to_right(recorded: Path) -> None:
    inter = the_interaction(recorded)
    both = faults.apply(inter, [crlf(), rechunk(size=1)])
    assert all(len(c.data) == 1 for c in both.chunks)
    assert b"\r\n" in both.wire_body
    assert decode([c.data for c in both.chunks]) == inter.events()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown fault 'explode'"),
        ("rechunk", "give exactly one of size, boundaries, random"),
        ("rechunk:size=0", "size must be at least 1"),
        ("rechunk:boundaries=sideways", "boundaries must be one of"),
        ("rechunk:random=9", "is not a tuple"),
        ("disconnect:after_events=x", "after_events='x' is not a int"),
        ("disconnect:after_events=3,how=gently", "how must be eof or reset"),
        ("http_status:200", "status must be 400-599"),
        ("slow:0", "factor must be positive"),
        ("stall:colour=red", "stall has no option 'colour'"),
    ],
)
def test_a_bad_fault_spec_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultError, match=message.replace("(", r"\(")):
        faults.parse(spec)


def test_the_first_option_may_be_given_without_its_name() -> None:
    assert faults.parse("http_status:503") == http_status(503)
    assert faults.parse("rechunk:random=1..9,seed=2") == rechunk(random=(1, 9), seed=2)
    assert faults.parse("inject-error:after_events=4") == inject_error(after_events=4)


@pytest.mark.parametrize(
    "fault",
    [disconnect(after_events=99), stall(before_event=21), inject_error(after_events=22)],
    ids=str,
)
def test_a_fault_that_does_not_fit_names_the_interaction(
    recorded: Path, fault: faults.Fault
) -> None:
    inter = the_interaction(recorded)
    with pytest.raises(FaultError, match=r"interaction 1 \(POST .*/v1/responses\).* 21 event"):
        fault.apply(inter)


def test_a_cut_past_the_body_names_its_size(recorded: Path) -> None:
    inter = the_interaction(recorded)
    size = len(inter.wire_body)
    with pytest.raises(FaultError, match=f"its body has {size} bytes"):
        truncate(at_byte=size + 1).apply(inter)


# -- what each fault does to the bytes, the cuts and the timing ------------------------------------


def test_rechunk_keeps_the_bytes_and_each_byte_arrives_with_its_recorded_chunk(
    recorded: Path,
) -> None:
    inter = the_interaction(recorded)
    arrival = [c.offset_ns for c in inter.chunks for _ in c.data]
    bytewise = faults.apply(inter, [rechunk(size=1)])
    assert bytewise.wire_body == inter.wire_body
    assert [len(c.data) for c in bytewise.chunks] == [1] * len(inter.wire_body)
    assert [c.offset_ns for c in bytewise.chunks] == arrival
    assert faults.apply(inter, [rechunk(boundaries="every-byte")]).chunks == bytewise.chunks
    sized = faults.apply(inter, [rechunk(size=100)])
    assert [len(c.data) for c in sized.chunks[:-1]] == [100] * (len(sized.chunks) - 1)
    # a chunk made of several recorded ones comes when the last of its bytes came
    for chunk, end in zip(sized.chunks, range(100, 10**9, 100), strict=False):
        assert chunk.offset_ns == arrival[min(end, len(arrival)) - 1]
    randomly = faults.apply(inter, [rechunk(random=(1, 200), seed=0)])
    assert randomly.wire_body == inter.wire_body
    assert all(1 <= len(c.data) <= 200 for c in randomly.chunks)


def test_rechunk_mid_utf8_cuts_inside_every_multibyte_character(recorded: Path) -> None:
    inter = the_interaction(recorded)
    cut = faults.apply(inter, [rechunk(boundaries="mid-utf8")])
    assert cut.wire_body == inter.wire_body
    degree = "°".encode()
    ends = [c.data[-1:] for c in cut.chunks]
    assert ends.count(degree[:1]) == inter.wire_body.count(degree) > 0
    assert {c.data for c in inter.chunks} & {c.data for c in cut.chunks}  # other cuts kept
    for chunk in cut.chunks:
        if chunk.data.endswith(degree[:1]):
            with pytest.raises(UnicodeDecodeError):
                chunk.data.decode()


def test_rechunk_mid_line_cuts_every_payload_in_two(recorded: Path) -> None:
    inter = the_interaction(recorded)
    cut = faults.apply(inter, [rechunk(boundaries="mid-line")])
    body = cut.wire_body
    assert body == inter.wire_body
    cuts, at = set(), 0
    for chunk in cut.chunks:
        at += len(chunk.data)
        cuts.add(at)
    start, lines = 0, 0
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            lines += 1
            assert any(start < c < start + len(line) for c in cuts)  # inside the JSON
        start += len(line) + 1
    assert lines == len(inter.events())


def test_rechunk_per_event_gives_one_chunk_per_frame(recorded: Path) -> None:
    inter = the_interaction(recorded)
    framed = faults.apply(inter, [rechunk(boundaries="per-event")])
    assert len(framed.chunks) == len(inter.events())
    assert all(c.data.endswith(b"\n\n") and c.data.count(b"data:") == 1 for c in framed.chunks)


@pytest.mark.parametrize(("fault", "ending"), [(crlf(), b"\r\n"), (cr(), b"\r")], ids=str)
def test_line_end_faults_reframe_every_line(
    recorded: Path, fault: faults.Fault, ending: bytes
) -> None:
    inter = the_interaction(recorded)
    framed = faults.apply(inter, [fault])
    body = framed.wire_body
    lines = inter.wire_body.count(b"\n")
    assert body.count(ending) == lines
    assert body.replace(ending, b"\n") == inter.wire_body
    assert len(framed.chunks) == len(inter.chunks)
    assert [c.offset_ns for c in framed.chunks] == [c.offset_ns for c in inter.chunks]
    assert framed.events() == inter.events()


def test_keepalives_come_between_events_halfway_in_time(recorded: Path) -> None:
    inter = the_interaction(recorded)
    padded = faults.apply(inter, [keepalives(comment=OPENROUTER_PROCESSING)])
    comment = b": OPENROUTER PROCESSING\n\n"
    events = len(inter.events())
    assert padded.wire_body.count(comment) == events - 1
    assert padded.wire_body.replace(comment, b"") == inter.wire_body
    assert padded.events() == inter.events()  # comments are no events
    for before, chunk, after in zip(
        padded.chunks, padded.chunks[1:], padded.chunks[2:], strict=False
    ):
        if chunk.data == comment:
            assert before.offset_ns <= chunk.offset_ns <= after.offset_ns
    every3 = faults.apply(inter, [keepalives(every=3)])
    assert every3.wire_body.count(b":\n\n") == (events - 1) // 3


def test_truncate_ends_cleanly_after_n_events_or_at_a_byte(recorded: Path) -> None:
    inter = the_interaction(recorded)
    events = inter.events()
    cut = faults.apply(inter, [truncate(after_events=5)])
    assert cut.end is not None
    assert cut.end.outcome == "complete"
    assert cut.events() == events[:5]
    assert inter.wire_body.startswith(cut.wire_body)
    assert cut.end.offset_ns == cut.chunks[-1].offset_ns
    mid = faults.apply(inter, [truncate(at_byte=700)])
    assert mid.wire_body == inter.wire_body[:700]
    # the cut lands inside a JSON payload: that frame never decodes, which is the fault
    with pytest.raises(Exception, match="not JSON"):
        mid.events()


def test_disconnect_ends_with_a_recorded_read_error(recorded: Path) -> None:
    inter = the_interaction(recorded)
    cut = faults.apply(inter, [disconnect(after_events=5)])
    assert cut.events() == inter.events()[:5]
    assert cut.end is not None
    assert cut.end.outcome == "error"
    assert cut.end.error is not None
    assert cut.end.error.type == "RemoteProtocolError"
    reset = faults.apply(inter, [disconnect(after_events=5, how="reset")])
    assert reset.end is not None
    assert reset.end.error is not None
    assert reset.end.error.type == "ReadError"


def test_stall_adds_a_pause_before_the_event(recorded: Path) -> None:
    inter = the_interaction(recorded)
    stalled = faults.apply(inter, [stall(before_event=4, seconds=2.5)])
    assert stalled.wire_body == inter.wire_body
    assert isinstance(stalled, faults.FaultedInteraction)
    [(index, seconds)] = stalled.pauses.items()
    assert seconds == 2.5
    before = b"".join(c.data for c in stalled.chunks[:index])
    assert decode([before]) == inter.events()[:4]
    assert stalled.chunks[index].data.startswith(b"event: ")


def test_inject_error_ends_with_an_error_and_a_failed_response_like_the_real_ones(
    recorded: Path,
) -> None:
    inter = the_interaction(recorded)
    events = inter.events()
    failed = faults.apply(inter, [inject_error(after_events=5, code="server_error")])
    got = failed.events(strict=True)  # decodes strictly: every frame is well formed
    assert got[:5] == events[:5]
    error, final = got[5:]
    fifth, first = events[4], events[0]
    assert isinstance(error, ErrorEvent)
    assert isinstance(final, ResponseFailedEvent)
    assert isinstance(first, ResponseCreatedEvent)
    assert not isinstance(fifth, MalformedEvent | Done)
    seq = fifth.sequence_number
    assert seq is not None
    assert error.sequence_number == seq + 1
    assert final.sequence_number == seq + 2
    assert error.error is not None
    assert error.error.type == "server_error"
    assert b"event: error\n" in failed.wire_body  # the recording's framing
    result = failed.result()
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.code == "server_error"
    assert result.problems == ()
    assert result.response is not None
    assert result.response.id == first.response.id


def test_inject_error_in_an_openrouter_stream_is_flat_and_ends_with_done(
    recorded_openrouter: Path,
) -> None:
    inter = the_interaction(recorded_openrouter)
    failed = faults.apply(inter, [inject_error(after_events=10, message="upstream broke")])
    assert failed.wire_body.endswith(b"data: [DONE]\n\n")
    assert b"event:" not in failed.wire_body
    assert b'"code":"server_error","message":"upstream broke"' in failed.wire_body
    result = failed.result()
    assert (result.outcome, result.problems) == ("failed", ())
    assert result.error is not None
    assert result.error.message == "upstream broke"


def test_drop_final_removes_only_the_terminal_event(recorded_openrouter: Path) -> None:
    inter = the_interaction(recorded_openrouter)
    events = inter.events()
    dropped = faults.apply(inter, [drop_final()])
    assert [e.type for e in dropped.events()] == [
        e.type for e in events if e.type != "response.completed"
    ]
    assert dropped.wire_body.endswith(b"data: [DONE]\n\n")
    assert dropped.result().outcome == "truncated"


def test_http_status_answers_before_the_stream_and_leaves_it_as_it_is(recorded: Path) -> None:
    inter = the_interaction(recorded)
    fault = http_status(429, retry_after=1.5, times=2)
    assert fault.apply(inter) is inter
    first, second = fault.preludes(inter)
    assert first.response is not None
    assert (first.response.status, first.response.reason) == (429, "Too Many Requests")
    assert first.response.header("retry-after") == "2"
    assert first.response.header("retry-after-ms") == "1500"
    assert first.wire_body.startswith(b'{"error":{"message":')
    assert second.wire_body == first.wire_body


def test_slow_and_jitter_change_the_timing_only(recorded: Path) -> None:
    inter = the_interaction(recorded)
    slower = faults.apply(inter, [slow(3)])
    assert slower.wire_body == inter.wire_body
    assert [c.offset_ns for c in slower.chunks] == [3 * c.offset_ns for c in inter.chunks]
    assert slower.end is not None
    assert inter.end is not None
    assert slower.end.offset_ns == 3 * inter.end.offset_ns
    shaken = faults.apply(inter, [jitter(1, seed=5)])
    assert [c.data for c in shaken.chunks] == [c.data for c in inter.chunks]
    moved = [a.offset_ns - b.offset_ns for a, b in zip(shaken.chunks, inter.chunks, strict=False)]
    assert any(moved)
    assert all(abs(m) <= 1_000_000 or m > 0 for m in moved)


def test_a_content_encoded_body_is_decoded_before_its_bytes_change(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    sse_server.add(Route("/v1/responses", sse_chunks(OPENAI_SSE), gzip=True))
    path = tmp_path / "gzip.ndjson.zst"
    with use_cassette(path), httpx.Client() as client:
        client.post(sse_server.url + "/v1/responses", json={})
    inter = the_interaction(path)
    cut = faults.apply(inter, [disconnect(after_events=5)])
    assert cut.response is not None
    assert cut.response.header("content-encoding") is None
    assert cut.events() == inter.events()[:5]


# -- real clients: the openai SDK (sync and async) and plain httpx ---------------------------------

SYNC_ASYNC = pytest.mark.parametrize("asynchronous", [False, True], ids=["sync", "async"])
TRANSPARENT = [f for f in EVERY_FAULT if f.preserves_events and not isinstance(f, http_status)]


def sdk_events(
    hook: Callable[[httpx2.Response], None] | None = None, **client: Any
) -> tuple[list[Any], BaseException | None]:
    """The openai SDK (sync): the events it yields, and the exception that ended them, if any.
    ``hook`` sees every HTTP response the SDK gets (retries included)."""
    events: list[Any] = []
    if hook is not None:
        client["http_client"] = httpx2.Client(event_hooks={"response": [hook]})
    try:
        with openai_client(**client) as sdk:
            for event in sdk.responses.create(model="gpt-4o", input="Weather?", stream=True):
                events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


async def async_sdk_events(
    hook: Callable[[httpx2.Response], None] | None = None, **client: Any
) -> tuple[list[Any], BaseException | None]:
    """The async twin of `sdk_events`."""
    events: list[Any] = []
    if hook is not None:
        sync_hook = hook

        async def async_hook(response: httpx2.Response) -> None:
            sync_hook(response)

        client["http_client"] = httpx2.AsyncClient(event_hooks={"response": [async_hook]})
    try:
        async with async_openai_client(**client) as sdk:
            stream = await sdk.responses.create(model="gpt-4o", input="Weather?", stream=True)
            async for event in stream:
                events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


def run_sdk(asynchronous: bool, **client: Any) -> tuple[list[Any], BaseException | None]:
    return asyncio.run(async_sdk_events(**client)) if asynchronous else sdk_events(**client)


def dumps(events: list[Any]) -> list[dict[str, Any]]:
    return [e.model_dump() for e in events]


@pytest.fixture(scope="module")
def baseline(recorded: Path) -> list[dict[str, Any]]:
    """What the openai SDK yields from the recording with no fault."""
    with replay(recorded):
        events, error = sdk_events()
    assert error is None
    assert events[-1].type == "response.completed"
    return dumps(events)


@SYNC_ASYNC
@pytest.mark.parametrize("fault", TRANSPARENT, ids=str)
def test_the_openai_sdk_gets_every_event_through_a_fault_that_keeps_them(
    tape_path: Path, baseline: list[dict[str, Any]], fault: faults.Fault, asynchronous: bool
) -> None:
    with replay(tape_path, fault) as tape:
        events, error = run_sdk(asynchronous)
    assert error is None
    assert dumps(events) == baseline
    assert len(tape.played) == 1


@pytest.mark.parametrize(
    "fault", [f for f in EVERY_FAULT if not isinstance(f, http_status)], ids=str
)
def test_plain_httpx_reads_exactly_the_faulted_chunks(tape_path: Path, fault: faults.Fault) -> None:
    expected = faults.apply(the_interaction(tape_path), [fault])
    with replay(tape_path, fault):
        chunks, error = httpx_read(URL)
    assert chunks == [c.data for c in expected.chunks]
    end = expected.end
    assert end is not None
    if end.outcome == "error":
        assert end.error is not None
        assert type(error).__name__ == end.error.type
    else:
        assert error is None


OUTCOMES = [
    # fault, what accumulate reports, the problems it finds
    (truncate(after_events=5), "truncated", []),
    (truncate(at_byte=700), "truncated", ["malformed"]),
    (disconnect(after_events=5), "truncated", []),
    (disconnect(at_byte=700), "truncated", ["malformed"]),
    (drop_final(), "truncated", []),
    (inject_error(after_events=5), "failed", []),
    (inject_error(after_events=0), "failed", []),
    (stall(before_event=3, seconds=0.01), "completed", []),
    *[(f, "completed", []) for f in faults.matrix() if f.preserves_events],
]


@pytest.mark.parametrize(("fault", "outcome", "problems"), OUTCOMES, ids=lambda v: str(v))
def test_accumulate_reports_each_fault_as_its_outcome_and_problems(
    tape_path: Path, fault: faults.Fault, outcome: str, problems: list[str]
) -> None:
    with replay(tape_path, fault):
        chunks, _ = httpx_read(URL)
        if isinstance(fault, http_status):  # the first attempt got the error; now the stream
            assert json_error(chunks)["error"]["code"]
            chunks, _ = httpx_read(URL)
    result = accumulate(decode(chunks))
    assert result.outcome == outcome
    assert [p.kind for p in result.problems] == problems
    assert fault.expected_outcome in (None, outcome)
    if outcome == "failed":
        assert result.error is not None
        assert result.error.code == "server_error"


def json_error(chunks: list[bytes]) -> dict[str, Any]:
    import json

    doc: dict[str, Any] = json.loads(b"".join(chunks))
    return doc


@SYNC_ASYNC
@pytest.mark.parametrize(
    "fault",
    [
        http_status(429, retry_after=0.01),
        http_status(500, retry_after=0.01),
        http_status(503, retry_after=0.01, times=2),
    ],
    ids=str,
)
def test_the_openai_sdk_retries_into_the_recorded_stream(
    tape_path: Path, baseline: list[dict[str, Any]], fault: http_status, asynchronous: bool
) -> None:
    statuses: list[int] = []
    with replay(tape_path, fault) as tape:
        events, error = run_sdk(
            asynchronous, max_retries=2, hook=lambda r: statuses.append(r.status_code)
        )
    assert error is None
    assert statuses == [fault.status] * fault.times + [200]
    assert dumps(events) == baseline
    assert len(tape.played) == 1


@SYNC_ASYNC
@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        (http_status(429, retry_after=1), openai.RateLimitError),
        (http_status(500), openai.InternalServerError),
        (http_status(503), openai.InternalServerError),
    ],
    ids=str,
)
def test_without_retries_the_openai_sdk_raises_its_own_status_error(
    tape_path: Path, fault: http_status, raised: type[Exception], asynchronous: bool
) -> None:
    with replay(tape_path, fault) as tape:
        events, error = run_sdk(asynchronous, max_retries=0)
    assert isinstance(error, raised)
    assert isinstance(error, openai.APIStatusError)
    assert error.status_code == fault.status
    if fault.retry_after is not None:
        assert error.response.headers["retry-after"] == "1"
    assert events == []
    assert tape.played == []  # the stream is still there for the next attempt


@SYNC_ASYNC
@pytest.mark.parametrize(
    ("how", "raised"), [("eof", httpx2.RemoteProtocolError), ("reset", httpx2.ReadError)]
)
def test_a_disconnect_raises_the_stacks_read_error_at_the_same_event_every_run(
    tape_path: Path,
    baseline: list[dict[str, Any]],
    how: DisconnectHow,
    raised: type[Exception],
    asynchronous: bool,
) -> None:
    runs = []
    for _ in range(2):
        with replay(tape_path, disconnect(after_events=5, how=how)):
            events, error = run_sdk(asynchronous)
        # the SDK wraps the stack's read error in its own connection error
        assert isinstance(error, openai.APIConnectionError)
        assert isinstance(error.__cause__, raised)
        runs.append((dumps(events), type(error.__cause__), str(error.__cause__)))
    assert runs[0] == runs[1]
    assert runs[0][0] == baseline[:5]  # every event before the cut, none after


@SYNC_ASYNC
def test_a_stall_past_the_read_timeout_raises_the_clients_timeout(
    tape_path: Path, baseline: list[dict[str, Any]], asynchronous: bool
) -> None:
    with replay(tape_path, stall(before_event=3, seconds=30)):
        start = time.perf_counter()
        events, error = run_sdk(asynchronous, timeout=0.2)
        waited = time.perf_counter() - start
    assert isinstance(error, openai.APITimeoutError)  # the SDK's wrapping of httpx's timeout
    assert isinstance(error.__cause__, httpx2.ReadTimeout)
    assert dumps(events) == baseline[:3]
    assert waited < 15  # the client's timeout ended the wait, not the end of the stall


def test_a_stall_past_the_read_timeout_raises_httpx_read_timeout(tape_path: Path) -> None:
    expected = faults.apply(the_interaction(tape_path), [stall(before_event=3, seconds=30)])
    with replay(tape_path, stall(before_event=3, seconds=30)):
        chunks, error = httpx_read(URL, timeout=0.2)
    assert isinstance(error, httpx.ReadTimeout)
    assert isinstance(expected, faults.FaultedInteraction)
    [index] = expected.pauses
    assert chunks == [c.data for c in expected.chunks[:index]]
    assert len(decode(chunks)) == 3


def test_a_stall_shorter_than_the_timeout_is_waited_for_even_at_instant_speed(
    tape_path: Path,
) -> None:
    arrivals: list[tuple[float, bytes]] = []
    with (
        replay(tape_path, stall(before_event=3, seconds=0.3)),
        httpx.Client(timeout=5) as client,
        client.stream("POST", URL, json={}) as response,
    ):
        for chunk in response.iter_raw():
            arrivals.append((time.perf_counter(), chunk))
    assert decode([c for _, c in arrivals]) == the_interaction(tape_path).events()
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(arrivals)]
    longest = max(range(len(gaps)), key=gaps.__getitem__)
    assert gaps[longest] >= 0.3
    assert len(decode([c for _, c in arrivals[: longest + 1]])) == 3


@SYNC_ASYNC
def test_an_injected_error_reaches_the_openai_sdk_as_the_real_ones_do(
    tape_path: Path, baseline: list[dict[str, Any]], asynchronous: bool
) -> None:
    with replay(tape_path, inject_error(after_events=5, message="The model broke")):
        events, error = run_sdk(asynchronous)
    assert dumps(events)[:5] == baseline[:5]
    # the SDK raises APIError on the error event (the nested form OpenAI's API sends)
    assert isinstance(error, openai.APIError)
    assert "The model broke" in str(error)
    assert len(events) == 5


@SYNC_ASYNC
@pytest.mark.parametrize("fault", [truncate(after_events=5), drop_final()], ids=str)
def test_a_stream_without_its_final_event_fails_the_sdks_final_response(
    tape_path: Path, fault: faults.Fault, asynchronous: bool
) -> None:
    async def managed_async() -> None:
        async with (
            async_openai_client() as sdk,
            sdk.responses.stream(model="gpt-4o", input="Weather?") as stream,
        ):
            async for _ in stream:
                pass
            await stream.get_final_response()

    def managed() -> None:
        with (
            openai_client() as sdk,
            sdk.responses.stream(model="gpt-4o", input="Weather?") as stream,
        ):
            for _ in stream:
                pass
            stream.get_final_response()

    with (
        replay(tape_path, fault),
        pytest.raises(RuntimeError, match=r"Didn.t receive a `response\.completed` event"),
    ):
        asyncio.run(managed_async()) if asynchronous else managed()


def test_the_same_fault_twice_gives_the_same_chunks_and_waits(tape_path: Path) -> None:
    runs = []
    for _ in range(2):
        waits: list[float] = []
        with replay(
            tape_path,
            rechunk(random=(1, 64), seed=3),
            jitter(2, seed=9),
            speed=1.0,
            sleep=waits.append,
        ):
            chunks, error = httpx_read(URL, timeout=None)  # whatever the recorded gaps are
        assert error is None
        runs.append((chunks, waits))
    assert runs[0] == runs[1]
    assert len(runs[0][0]) > len(the_interaction(tape_path).chunks)


# -- use: use_cassette(faults=...), Tape.replay_with, the pytest markers ---------------------------


@pytest.mark.parametrize("mode", ["all", "rewrite", "new_episodes"])
def test_faults_refuse_to_record(tape_path: Path, mode: RecordMode) -> None:
    with (
        pytest.raises(StreamtapeError, match=f"faults apply to replay only.*in mode '{mode}'"),
        use_cassette(tape_path, record_mode=mode, faults=[crlf()]),
    ):
        pass
    missing = tape_path.with_name("missing.ndjson.zst")
    with (
        pytest.raises(StreamtapeError, match=r"faults apply to replay only.* does not exist"),
        use_cassette(missing, faults=[crlf()]),
    ):
        pass
    assert not missing.exists()


def test_replay_with_replays_the_cassette_afresh_for_each_fault(tape_path: Path) -> None:
    outcomes = {}
    with replay(tape_path) as tape:
        for fault in faults.matrix():
            with tape.replay_with(fault):
                chunks, error = httpx_read(URL)
                if isinstance(fault, http_status):
                    chunks, error = httpx_read(URL)  # the retry meets the stream
            outcomes[fault.id] = (accumulate(decode(chunks)).outcome, type(error).__name__)
        assert len(tape.played) == 12
        assert tape.unplayed == []
        chunks, error = httpx_read(URL)  # outside the blocks: the tape's own replay, no fault
    assert accumulate(decode(chunks)).outcome == "completed"
    assert outcomes == {
        **{f.id: ("completed", "NoneType") for f in faults.matrix() if f.preserves_events},
        "disconnect-after-5": ("truncated", "RemoteProtocolError"),
        "truncate-after-5": ("truncated", "NoneType"),
        "inject-error-after-5": ("failed", "NoneType"),
    }


def test_replay_with_needs_an_active_replaying_tape(tape_path: Path, tmp_path: Path) -> None:
    tape = replay(tape_path)
    with pytest.raises(RuntimeError, match="is not active"), tape.replay_with(crlf()):
        pass
    with (
        pytest.warns(StreamtapeWarning, match="recorded nothing"),
        use_cassette(tmp_path / "new.ndjson.zst", record_mode="all") as recording,
        pytest.raises(StreamtapeError, match="replay_with needs a tape that replays"),
        recording.replay_with(crlf()),
    ):
        pass


pytest_plugins = ["pytester"]
PLUGIN = ("-p", "no:streamtape", "-p", "streamtape.pytest_plugin")
QUIET = ("-W", "ignore::pytest.PytestAssertRewriteWarning", "-p", "no:hypothesispytest")

USER_TESTS = """
import httpx
import pytest

import streamtape
from streamtape import faults
from streamtape.accumulate import accumulate
from streamtape.decode import EventDecoder

URL = "http://127.0.0.1:9/v1/responses"


def run_agent():
    # the code under test: reads the stream, retries an HTTP error once
    decoder, events = EventDecoder(strict=False), []
    with httpx.Client(timeout=5) as client:
        for attempt in range(2):
            with client.stream("POST", URL, json={}) as response:
                if response.status_code >= 400:
                    continue
                try:
                    for chunk in response.iter_raw():
                        events += decoder.feed(chunk)
                except httpx.TransportError:
                    return accumulate(events + decoder.close()).outcome, "broken"
                return accumulate(events + decoder.close()).outcome, "read"


@pytest.mark.streamtape("agent", speed=streamtape.INSTANT, match_on=["method", "path"])
@pytest.mark.streamtape_faults()
def test_agent(tape_fault):
    outcome, how = run_agent()
    assert outcome == (tape_fault.expected_outcome or "completed")
    assert how == ("broken" if tape_fault.id.startswith("disconnect") else "read")


@pytest.mark.streamtape("agent", speed=streamtape.INSTANT, match_on=["method", "path"])
@pytest.mark.streamtape_faults(faults.crlf(), (faults.cr(), faults.rechunk(size=1)))
def test_chosen(tape, tape_fault):
    assert run_agent() == ("completed", "read")
    assert tape.faults == ((tape_fault,) if isinstance(tape_fault, faults.Fault) else tape_fault)


@pytest.mark.streamtape(
    "agent", match_on=["method", "path"], faults=[faults.disconnect(after_events=2)]
)
def test_marker_faults():
    assert run_agent() == ("truncated", "broken")
"""


@pytest.fixture
def user_project(pytester: pytest.Pytester, recorded: Path) -> pytest.Pytester:
    pytester.makepyfile(test_user=USER_TESTS)
    folder = pytester.path / "cassettes" / "test_user"
    folder.mkdir(parents=True)
    shutil.copy(recorded, folder / "agent.ndjson.zst")
    return pytester


def test_the_fault_matrix_marker_runs_a_test_once_per_fault(user_project: pytest.Pytester) -> None:
    result = user_project.runpytest(*PLUGIN, *QUIET, "-v")
    result.assert_outcomes(passed=12 + 2 + 1)
    for fault in faults.matrix():
        result.stdout.fnmatch_lines([f"*test_user.py::test_agent[[]{fault.id}[]] PASSED*"])
    result.stdout.fnmatch_lines(
        ["*test_chosen[[]crlf[]] PASSED*", "*test_chosen[[]cr+rechunk-size-1[]] PASSED*"]
    )
    folder = user_project.path / "cassettes" / "test_user"
    assert [p.name for p in folder.iterdir()] == ["agent.ndjson.zst"]  # one cassette for all


def test_faults_under_pytest_refuse_to_record(user_project: pytest.Pytester) -> None:
    result = user_project.runpytest(*PLUGIN, *QUIET, "--tape-mode=rewrite", "-k", "marker")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*faults apply to replay only*"])


def test_every_fault_run_of_a_test_shares_the_tests_cassette(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    pytester.makepyfile(
        test_named="""
import pytest
from streamtape import faults
from streamtape.pytest_plugin import cassette_path


@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.streamtape_faults(faults.crlf(), faults.cr())
def test_it(request, n, tape, tape_fault):
    assert cassette_path(request.node).name == f"test_it[{n}].ndjson.zst"
    assert tape.path == cassette_path(request.node)
"""
    )
    folder = pytester.path / "cassettes" / "test_named"
    folder.mkdir(parents=True)
    for n in (1, 2):
        shutil.copy(recorded, folder / f"test_it[{n}].ndjson.zst")
    result = pytester.runpytest(*PLUGIN, *QUIET, "-v")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["*test_it[[]crlf-1[]] PASSED*", "*test_it[[]cr-2[]] PASSED*"])


def test_an_injected_openrouter_error_reaches_the_openai_sdk_as_events(
    recorded_openrouter: Path, tmp_path: Path
) -> None:
    path = Path(shutil.copy(recorded_openrouter, tmp_path / "or.ndjson.zst"))
    with replay(path, inject_error(after_events=5, message="upstream broke")):
        events, error = sdk_events()
    assert error is None  # the flat form has no top-level "error" object: no APIError
    assert [e.type for e in events[5:]] == ["error", "response.failed"]
    assert events[5].message == "upstream broke"
    assert events[6].response.status == "failed"


TRANSPARENT_STRATEGY = st.one_of(
    st.builds(rechunk, size=st.integers(1, 300)),
    st.sampled_from(
        [rechunk(boundaries=b) for b in ("every-byte", "mid-utf8", "mid-line", "per-event")]
    ),
    st.builds(
        lambda lo, span, seed: rechunk(random=(lo, lo + span), seed=seed),
        st.integers(1, 50),
        st.integers(0, 100),
        st.integers(0, 5),
    ),
    st.just(crlf()),
    st.just(cr()),
    st.builds(keepalives, every=st.integers(1, 5), comment=st.sampled_from(["", "ping"])),
    st.builds(stall, before_event=st.integers(0, 20), seconds=st.floats(0, 5)),
    st.builds(slow, st.floats(0.1, 10)),
    st.builds(jitter, st.floats(0, 50), seed=st.integers(0, 5)),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chain=st.lists(TRANSPARENT_STRATEGY, min_size=1, max_size=4))
def test_any_chain_of_faults_that_keep_events_keeps_them(recorded: Path, chain: list[Any]) -> None:
    inter = the_interaction(recorded)
    out = faults.apply(inter, chain)
    assert out.events() == inter.events()
    offsets = [c.offset_ns for c in out.chunks]
    assert offsets == sorted(offsets)
    assert out.end is not None
    assert not offsets or out.end.offset_ns >= offsets[-1]
    assert all(c.data for c in out.chunks)
    pauses = getattr(out, "pauses", {})
    assert all(0 <= i < len(out.chunks) for i in pauses)
    assert sum(pauses.values()) == pytest.approx(
        sum(f.seconds for f in chain if isinstance(f, stall))
    )


def test_a_recorded_gap_longer_than_the_read_timeout_times_out_too(tape_path: Path) -> None:
    """No fault: a replayed wait past the client's read timeout ends as it would live."""
    inter = the_interaction(tape_path)
    gaps = [b.offset_ns - a.offset_ns for a, b in itertools.pairwise(inter.chunks)]
    timeout = (max(gaps) / 1e9) / 2  # shorter than the longest recorded gap
    waits: list[float] = []
    with use_cassette(
        tape_path, record_mode="none", match_on=("method", "path"), sleep=waits.append
    ):
        chunks, error = httpx_read(URL, timeout=timeout)
    assert isinstance(error, httpx.ReadTimeout)
    assert waits[-1] == timeout  # it waited the timeout, not the gap
    assert all(w <= timeout for w in waits)
    longest = gaps.index(max(gaps))
    assert len(chunks) <= longest + 1


def test_tape_server_serves_the_cassette_with_the_tests_faults(
    pytester: pytest.Pytester, recorded: Path
) -> None:
    pytester.makepyfile(
        test_served="""
import httpx
import pytest
from streamtape import faults

BODY = {"model": "gpt-4o", "input": "Say hi in Portuguese", "stream": True}


def post(base_url):
    with httpx.Client(timeout=10) as client:
        return client.post(base_url + "/responses", json=BODY)


@pytest.mark.streamtape("agent", faults=[faults.truncate(after_events=3)], match_on=["method"])
def test_truncated(tape_server):
    body = post(tape_server).content
    assert body.count(b"data: ") == 3


@pytest.mark.streamtape(match_on=["method"])
@pytest.mark.streamtape_faults(faults.crlf())
def test_matrix(tape_server, tape_fault):
    body = post(tape_server).content
    assert b"\\r\\n\\r\\n" in body
    assert b"\\n\\n" not in body.replace(b"\\r\\n", b"")
"""
    )
    folder = pytester.path / "cassettes" / "test_served"
    folder.mkdir(parents=True)
    shutil.copy(recorded, folder / "agent.ndjson.zst")
    shutil.copy(recorded, folder / "test_matrix.ndjson.zst")
    result = pytester.runpytest_subprocess(*PLUGIN, *QUIET)
    result.assert_outcomes(passed=2)
