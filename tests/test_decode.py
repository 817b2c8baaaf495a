"""EventDecoder / decode_event: real fixtures, the fast path against the exact parser, bad input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import httpx
import httpx2
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import Route, SSEServer, sse_chunks

from streamtape import events as ev
from streamtape import sse
from streamtape.decode import EventDecoder, aiter_events, decode_all, decode_event, iter_events
from streamtape.errors import DecodeError
from streamtape.sse import SSEParser

# The decoder over its fast path, `find_frames`, in C (when built) and in Python.
FINDS: dict[str, sse.FindFrames] = {"default": sse._find_frames, "python": sse._py_find_frames}
FAST = pytest.mark.parametrize("find", FINDS.values(), ids=FINDS.keys())

FIXTURES = Path(__file__).parent / "fixtures"
SSE_FILES = sorted(FIXTURES.rglob("*.sse"))
JSONL_FILES = sorted(FIXTURES.rglob("*.chunks.txt"))


def exact(data: bytes, strict: bool = True) -> list[ev.Event]:
    """The reference: every frame of the exact parser decoded one by one."""
    parser = SSEParser()
    frames = parser.feed(data) + parser.close()
    return [decode_event(f.data, strict=strict, offset=f.offset) for f in frames]


def fed(
    chunks: list[bytes], strict: bool = True, find: sse.FindFrames = sse._find_frames
) -> list[ev.Event]:
    decoder = EventDecoder(strict)
    decoder._parser._find = find
    out: list[ev.Event] = []
    for chunk in chunks:
        out += decoder.feed(chunk)
    return out + decoder.close()


def split_every(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_sse_fixture_decodes_strictly_with_nothing_unknown(path: Path) -> None:
    data = path.read_bytes()
    events = decode_all(data)
    assert events
    assert not [e for e in events if isinstance(e, ev.UnknownEvent | ev.MalformedEvent)]
    types = [
        json.loads(line[6:])["type"]
        for line in data.splitlines()
        if line[:6] == b"data: " and line != b"data: [DONE]"
    ]
    assert [e.type for e in events if not isinstance(e, ev.Done)] == types


@pytest.mark.parametrize("path", JSONL_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_jsonl_fixture_line_decodes_to_its_type(path: Path) -> None:
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        event = decode_event(line)
        assert not isinstance(event, ev.UnknownEvent | ev.MalformedEvent)
        assert event.type == json.loads(line)["type"]


@pytest.mark.parametrize("path", SSE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
@pytest.mark.parametrize("size", [1, 7, 200, 65536])
@FAST
def test_fast_path_gives_the_exact_events_under_every_chunking(
    path: Path, size: int, find: sse.FindFrames
) -> None:
    data = path.read_bytes()
    assert fed(split_every(data, size), find=find) == exact(data)


@FAST
def test_fast_path_one_chunk_per_frame_equals_exact(find: sse.FindFrames) -> None:
    for path in SSE_FILES:
        data = path.read_bytes()
        assert fed(list(sse_chunks(data)), find=find) == exact(data)


UNUSUAL = [
    b": OPENROUTER PROCESSING\n\n",
    b'data: {"type":"response.keep_alive"}\n\n',
    b'id: 4\ndata: {"type":"keepalive","sequence_number":1}\n\n',
    b"retry: 10\n\n",
    b'data: {"type":"brand.new.event","x":1}\n\n',
    b'data: {"error":{"code":429,"message":"slow down"}}\n\n',
    b"data: [DONE]\n\n",
    b'data: {"type":"response.output_text.delta",\ndata: "x":1}\n\n',
    b'data: {"type":"error","message":"m","code":null,"param":null}\r\n\r\n',
    b'data: {"type":"response.output_text.delta","item_id":"i","output_index":0,'
    b'"content_index":0,"delta":"caf\xc3\xa9"}\n\n',
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"i",'
    b'"output_index":0,"content_index":0,"delta":"a","sequence_number":3}\n\n',
    b'data: {"type":"keepalive","sequence_number":2}\nevent: keepalive\n\n',
    b'event: a\ndata: {"type":"keepalive"}\nevent: b\n\n',
    b"\n",
    # near misses of the batch fast path: each must come out exactly as the exact parser says
    b'data: {"type":"keepalive"}\n{"type":"keepalive","sequence_number":7}\n\n',
    b"data:\n\n",
    b"data:   \n\n",
    b'data:{"type":"keepalive","sequence_number":8}\n\n',
    b'data:  {"type":"keepalive","sequence_number":9}\n\n',
    b'event:keepalive\ndata: {"type":"keepalive"}\n\n',
    b"event: keepalive\n\n",
    b"data\n\n",
    b'xdata: {"type":"keepalive"}\n\n',
    b'data: {"type":"keepalive"} {"type":"keepalive"}\n\n',
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(UNUSUAL), max_size=25), st.data())
def test_fast_path_equals_exact_on_mixed_standard_and_unusual_frames(
    frames: list[bytes], data: st.DataObject
) -> None:
    raw = b"".join(frames)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=10)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    expected = exact(raw, strict=False)
    assert fed(pieces, strict=False) == fed(pieces, False, sse._py_find_frames) == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_lenient_decoder_never_raises_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    events = fed(chunks, strict=False)
    assert all(
        isinstance(e, (ev.BaseEvent, ev.UnknownEvent, ev.MalformedEvent, ev.Done)) for e in events
    )


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=12))
def test_strict_decoder_raises_only_decode_error(chunks: list[bytes]) -> None:
    with contextlib.suppress(DecodeError):
        fed(chunks)


def test_unknown_type_keeps_raw_json() -> None:
    raw = b'{"type":"response.future_thing","sequence_number":9,"x":[1,2]}'
    event = decode_event(raw)
    assert isinstance(event, ev.UnknownEvent)
    assert (event.type, event.raw) == ("response.future_thing", raw)


def test_done_marker() -> None:
    assert fed([b"data: [DONE]\n\n"]) == [ev.Done()]


def test_gateway_error_without_type_becomes_an_error_event() -> None:
    (event,) = fed([b'data: {"error":{"code":502,"message":"upstream died"}}\n\n'])
    assert isinstance(event, ev.ErrorEvent)
    assert (event.code, event.message) == ("502", "upstream died")


def test_unknown_nested_item_type_is_kept_not_fatal() -> None:
    payload = (
        b'{"type":"response.output_item.added","sequence_number":1,"output_index":0,'
        b'"item":{"type":"hologram_call","id":"h1","status":"in_progress"}}'
    )
    event = decode_event(payload)
    assert isinstance(event, ev.ResponseOutputItemAddedEvent)
    assert isinstance(event.item, ev.UnknownObject)
    assert event.item.original_type == "hologram_call"
    assert event.item.data["id"] == "h1"


MALFORMED = [
    (
        b'{"type":"response.output_text.delta","item_id":"i","output_index":0,"content_index":0}',
        "response.output_text.delta",
        "$.delta",
    ),
    (
        b'{"type":"response.output_text.delta","item_id":"i","output_index":"zero",'
        b'"content_index":0,"delta":"x"}',
        "response.output_text.delta",
        "$.output_index",
    ),
    (
        b'{"type":"response.output_item.added","output_index":0,"item":{"type":"message",'
        b'"id":"m","content":[{"type":"output_text","text":5}]}}',
        "response.output_item.added",
        "$.item.content[0].text",
    ),
    (b'{"type":"response.completed","response":', None, None),
    (b'{"type": 7}', None, "$.type"),
]


@pytest.mark.parametrize(("payload", "kind", "path"), MALFORMED)
@pytest.mark.parametrize("size", [0, 3, -1], ids=["whole", "3-bytes", "per-frame"])
@FAST
def test_strict_error_names_type_field_and_offset(
    payload: bytes, kind: str | None, path: str | None, size: int, find: sse.FindFrames
) -> None:
    stream = b'data: {"type":"response.keep_alive"}\n\n' + b"data: " + payload + b"\n\n"
    offset = stream.index(b"data: " + payload)
    chunks = {0: [stream], 3: split_every(stream, 3), -1: [stream[:offset], stream[offset:]]}
    with pytest.raises(DecodeError) as info:
        fed(chunks[size], find=find)
    error = info.value
    message = str(error)
    assert f"byte offset {offset}" in message
    assert (error.type, error.path, error.offset) == (kind, path, offset)
    if kind:
        assert kind in message
    if path:
        assert path in message
    assert payload[:20].decode() in message


@pytest.mark.parametrize(("payload", "kind", "path"), MALFORMED)
@FAST
def test_lenient_yields_malformed_and_goes_on(
    payload: bytes, kind: str | None, path: str | None, find: sse.FindFrames
) -> None:
    stream = b"data: " + payload + b'\n\ndata: {"type":"response.keep_alive"}\n\n'
    bad, good = fed(split_every(stream, 3), strict=False, find=find)
    assert isinstance(bad, ev.MalformedEvent)
    assert (bad.raw, bad.offset) == (payload, 0)
    assert isinstance(good, ev.ResponseKeepAliveEvent)


def test_truncated_last_frame_is_still_decoded() -> None:
    data = FIXTURES / "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.sse"
    raw = data.read_bytes().rstrip(b"\n")
    events = fed([raw])
    assert events[-1].type == "response.completed"


def test_not_json_excerpt_is_short() -> None:
    with pytest.raises(DecodeError) as info:
        decode_event("x" * 5000)
    assert len(str(info.value)) < 400


def _serve(server: SSEServer, path: Path) -> str:
    return server.add(Route("/v1/responses", chunks=list(sse_chunks(path))))


def test_iter_events_over_a_real_httpx_and_httpx2_response(sse_server: SSEServer) -> None:
    path = SSE_FILES[0]
    url = _serve(sse_server, path)
    expected = exact(path.read_bytes())
    with httpx.Client() as client, client.stream("POST", url) as response:
        assert list(iter_events(response)) == expected
    with httpx2.Client() as client2, client2.stream("POST", url) as response2:
        assert list(iter_events(response2)) == expected


async def _collect(url: str) -> list[ev.Event]:
    async with httpx.AsyncClient() as client, client.stream("POST", url) as response:
        return [e async for e in aiter_events(response)]


def test_aiter_events_over_a_real_async_response(sse_server: SSEServer) -> None:
    import asyncio

    path = SSE_FILES[1]
    url = _serve(sse_server, path)
    assert asyncio.run(_collect(url)) == exact(path.read_bytes())


def test_events_round_trip_through_msgspec() -> None:
    data = SSE_FILES[2].read_bytes()
    for event in decode_all(data):
        if isinstance(event, ev.BaseEvent):
            assert decode_event(msgspec.json.encode(event)) == event


# -- exact payloads, other dialects ------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 7, 1 << 16], ids=["bytes", "7-bytes", "64k"])
@pytest.mark.parametrize("path", SSE_FILES[:6], ids=lambda p: str(p.relative_to(FIXTURES)))
def test_feed_raw_gives_the_events_of_feed_with_their_exact_payloads(path: Path, size: int) -> None:
    data = path.read_bytes()
    decoder = EventDecoder()
    pairs: list[tuple[ev.Event, bytes]] = []
    for chunk in split_every(data, size):
        pairs += decoder.feed_raw(chunk)
    pairs += decoder.close_raw()
    assert [event for event, _ in pairs] == decode_all(data)
    assert [payload for _, payload in pairs] == [
        line[6:] for line in data.splitlines() if line.startswith(b"data: ")
    ]


def test_feed_raw_keeps_crlf_multiline_and_non_ascii_payloads_as_sent() -> None:
    data = (
        b'data: {"type":"keepalive",\r\ndata: "sequence_number":1}\r\n\r\n'
        b'data:{"type":"response.keep_alive","note":"\xe6\x97\xa5\xe6\x9c\xac"}\n\n'
    )
    decoder = EventDecoder()
    pairs = decoder.feed_raw(data) + decoder.close_raw()
    assert [payload for _, payload in pairs] == [
        b'{"type":"keepalive",\n"sequence_number":1}',
        b'{"type":"response.keep_alive","note":"\xe6\x97\xa5\xe6\x9c\xac"}',
    ]
    assert decoder.cut_off is None


@FAST
def test_payloads_without_a_type_are_opaque_through_every_path(find: sse.FindFrames) -> None:
    chunk = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[]}\n\n'
    stream = chunk * 3 + b'data: {"type":"keepalive"}\n\n' + chunk
    for chunks in ([stream], split_every(stream, 5), [chunk]):
        events = fed(chunks, find=find)
        opaque = [e for e in events if isinstance(e, ev.OpaqueEvent)]
        assert opaque
        assert all(e.type == "chat.completion.chunk" for e in opaque)
        assert all(e.raw == chunk[6:-2] for e in opaque)
