"""SSEParser: the WHATWG examples, every fixture under every split, and arbitrary bytes."""

from __future__ import annotations

import importlib.util
import os
import re
import sysconfig
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from portable_speedups import portable_find_frames

from streamtape import sse
from streamtape.sse import SSEFrame, SSEParser, _OtherPayload, _PayloadBatch

# The decoder's fast path, `find_frames`, in C (when built) and in Python: both must give what the
# exact parser gives.
FINDS: dict[str, sse.FindFrames] = {"default": sse._find_frames, "python": sse._py_find_frames}
if (_portable := portable_find_frames()) is not None:
    FINDS["portable C"] = _portable
FAST = pytest.mark.parametrize("find", FINDS.values(), ids=FINDS.keys())

FIXTURES = Path(__file__).parent / "fixtures"
SSE_FILES = sorted(FIXTURES.rglob("*.sse"))
LINE_ENDS = {"lf": b"\n", "crlf": b"\r\n", "cr": b"\r"}


def parse(chunks: Iterable[bytes], parser: SSEParser | None = None) -> list[SSEFrame]:
    parser = parser or SSEParser()
    frames: list[SSEFrame] = []
    for chunk in chunks:
        frames += parser.feed(chunk)
    return frames + parser.close()


def fast_parser(find: sse.FindFrames = sse._find_frames) -> SSEParser:
    """A parser whose payload route uses `find`."""
    parser = SSEParser()
    parser._find = find
    return parser


Item = _PayloadBatch | _OtherPayload | bytes


def as_items(result: bytes | list[_PayloadBatch | _OtherPayload]) -> list[Item]:
    """The items of one `_feed_payloads` call: a lone payload comes bare, all else in a list."""
    if isinstance(result, bytes):
        return [result]
    assert not any(isinstance(item, bytes) for item in result)
    return [*result]


def parse_fast(
    chunks: Iterable[bytes], find: sse.FindFrames = sse._find_frames
) -> list[tuple[str, int, bool]]:
    """(data, offset, truncated) of each frame through `_feed_payloads`, batches re-parsed exactly.

    The payload route serves the decoder, which needs neither comments nor event names.
    """
    parser = fast_parser(find)
    out: list[tuple[str, int, bool]] = []

    for chunk in chunks:
        out.extend(taken(as_items(parser._feed_payloads(chunk)), parser))
    out.extend(bare(parser.close()))
    return out


def taken(items: list[Item], parser: SSEParser) -> list[tuple[str, int, bool]]:
    """(data, offset, truncated) of each frame of the items of one `_feed_payloads` call."""
    out: list[tuple[str, int, bool]] = []
    for item in items:
        if isinstance(item, bytes):
            assert len(items) == 1
            out.append((item.decode("utf-8", "replace"), parser.last_offset, False))
        elif isinstance(item, _PayloadBatch):
            batch = item.frames()
            assert [f.data.encode() for f in batch] == item.payloads
            out.extend(bare(batch))
        else:
            out.append((item.data.decode("utf-8", "replace"), item.offset, False))
    return out


def bare(frames: list[SSEFrame]) -> list[tuple[str, int, bool]]:
    return [(f.data, f.offset, f.truncated) for f in frames]


def with_line_ends(data: bytes, end: bytes) -> bytes:
    return data.replace(b"\n", end)


def segments(data: bytes, end: bytes) -> list[tuple[int, bytes]]:
    """The stream cut after each blank line: every piece starts at a frame boundary."""
    blank = end + end
    out: list[tuple[int, bytes]] = []
    start = 0
    while (cut := data.find(blank, start)) >= 0:
        out.append((start, data[start : cut + len(blank)]))
        start = cut + len(blank)
    if start < len(data):
        out.append((start, data[start:]))
    return out


def data_of(frames: Sequence[SSEFrame]) -> list[tuple[str, str]]:
    return [(f.event, f.data) for f in frames]


# --- the examples of the WHATWG spec, section "Event stream interpretation" -------------------


def test_whatwg_stock_ticker_example_joins_data_lines() -> None:
    frames = parse([b"data: YHOO\ndata: +2\ndata: 10\n\n"])
    assert data_of(frames) == [("message", "YHOO\n+2\n10")]


def test_whatwg_comment_and_id_example() -> None:
    stream = (
        b": test stream\n\n"
        b"data: first event\nid: 1\n\n"
        b"data:second event\nid\n\n"
        b"data:  third event\n\n"
    )
    frames = parse([stream])
    assert [(f.data, f.id) for f in frames] == [
        ("first event", "1"),
        ("second event", ""),
        (" third event", ""),
    ]
    assert frames[0].comments == ("test stream",)


def test_whatwg_empty_data_example_and_unterminated_last_frame() -> None:
    parser = SSEParser()
    frames = parser.feed(b"data\n\ndata\ndata\n\ndata:")
    assert [f.data for f in frames] == ["", "\n"]
    # The spec discards the last, unterminated event; we keep it, flagged as truncated.
    (last,) = parser.close()
    assert (last.data, last.truncated) == ("", True)


def test_whatwg_space_after_colon_example() -> None:
    assert [f.data for f in parse([b"data:test\n\ndata: test\n\n"])] == ["test", "test"]


def test_whatwg_event_type_example() -> None:
    stream = (
        b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n"
    )
    assert data_of(parse([stream])) == [("add", "73857293"), ("remove", "2153"), ("add", "113411")]


# --- single rules -----------------------------------------------------------------------------


@pytest.mark.parametrize("end", LINE_ENDS.values(), ids=LINE_ENDS.keys())
def test_every_line_end_kind(end: bytes) -> None:
    stream = with_line_ends(b"event: a\ndata: 1\ndata: 2\n\n", end)
    assert data_of(parse([stream])) == [("a", "1\n2")]


def test_cr_at_end_of_chunk_and_lf_at_start_of_next_is_one_line_end() -> None:
    frames = parse([b"data: 1\r", b"\n\r", b"\ndata: 2\r\n\r\n"])
    assert [f.data for f in frames] == ["1", "2"]


def test_lone_cr_at_chunk_end_followed_by_data() -> None:
    assert [f.data for f in parse([b"data: 1\r", b"\rdata: 2\r\r"])] == ["1", "2"]


def test_bom_at_stream_start_is_skipped_even_split() -> None:
    frames = parse([b"\xef", b"\xbb", b"\xbfdata: x\n\n"])
    assert [(f.data, f.offset) for f in frames] == [("x", 3)]
    # only one BOM, and only at the start
    assert parse([b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\n"]) == []
    assert [f.data for f in parse([b"data: \xef\xbb\xbfx\n\n"])] == ["\ufeffx"]


def test_short_stream_that_only_looks_like_a_bom_prefix() -> None:
    assert parse([b"\xef"]) == []


def test_line_without_colon_is_a_field_name_with_empty_value() -> None:
    assert [f.data for f in parse([b"data\n\n"])] == [""]
    assert parse([b"event\n\n"]) == []


def test_unknown_fields_are_ignored() -> None:
    assert data_of(parse([b"foo: bar\ndata: x\nbaz\n\n"])) == [("message", "x")]


@pytest.mark.parametrize(
    ("value", "expected"), [(b"1000", 1000), (b"10x", None), (b"", None), (b" 5", 5), (b"-1", None)]
)
def test_retry_only_accepts_ascii_digits(value: bytes, expected: int | None) -> None:
    (frame,) = parse([b"retry:" + value + b"\ndata: x\n\n"])
    assert frame.retry == expected


def test_retry_with_unicode_digits_is_ignored() -> None:
    (frame,) = parse(["retry: ١٢\ndata: x\n\n".encode()])
    assert frame.retry is None


def test_id_persists_and_null_in_id_is_ignored() -> None:
    frames = parse([b"id: 7\ndata: a\n\ndata: b\n\nid: x\x00y\ndata: c\n\n"])
    assert [f.id for f in frames] == ["7", "7", "7"]


def test_data_before_event_line_bedrock_order() -> None:
    assert data_of(parse([b'data: {"a":1}\nevent: chunk\n\n'])) == [("chunk", '{"a":1}')]


def test_done_sentinel_is_a_plain_frame() -> None:
    assert [f.data for f in parse([b"data: [DONE]\n\n"])] == ["[DONE]"]


def test_multibyte_character_split_across_chunks() -> None:
    text = "data: h\u00e9llo \u20ac \U0001f600\n\n".encode()
    for cut in range(len(text)):
        assert [f.data for f in parse([text[:cut], text[cut:]])] == ["h\u00e9llo \u20ac \U0001f600"]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    (frame,) = parse([b"data: a\xffb\xc3\n\n"])
    assert frame.data == "a\ufffdb\ufffd"


def test_comments_attach_to_the_next_frame_keepalive() -> None:
    stream = b": OPENROUTER PROCESSING\n\n: OPENROUTER PROCESSING\n\ndata: {}\n\n:tail\n\n"
    (frame,) = parse([stream])
    assert frame.comments == ("OPENROUTER PROCESSING", "OPENROUTER PROCESSING")
    assert frame.offset == stream.index(b"data:")


def test_offsets_are_stream_byte_offsets_of_each_frames_first_line() -> None:
    stream = b"event: a\ndata: 1\n\n\n\nid: 2\ndata: 2\n\n"
    frames = parse([stream])
    assert [f.offset for f in frames] == [0, stream.index(b"id:")]


def test_close_keeps_a_cut_frame_flagged_truncated() -> None:
    parser = SSEParser()
    assert parser.feed(b'data: {"type":"a"}\n\ndata: {"type":"b"}\n') != []
    (cut,) = parser.close()
    assert (cut.data, cut.truncated, cut.offset) == ('{"type":"b"}', True, 20)


def test_close_keeps_an_unterminated_last_line() -> None:
    (cut,) = parse([b"data: [DONE]"])
    assert (cut.data, cut.truncated) == ("[DONE]", True)


def test_close_drops_fields_without_data_and_resets() -> None:
    parser = SSEParser()
    parser.feed(b"event: x\n")
    assert parser.close() == []
    assert parser.feed(b"data: y\n\n")[0].offset == 0


def test_long_line_in_one_byte_chunks() -> None:
    payload = b"x" * 100_000
    parser = SSEParser()
    assert parser.feed(b"data: ") == []
    for i in range(len(payload)):
        assert parser.feed(payload[i : i + 1]) == []
    (frame,) = parser.feed(b"\n\n")
    assert frame.data == payload.decode()


# --- every real fixture, every split ----------------------------------------------------------


@pytest.fixture(scope="module", params=SSE_FILES, ids=lambda p: str(p.relative_to(FIXTURES)))
def fixture_bytes(request: pytest.FixtureRequest) -> bytes:
    path: Path = request.param
    return path.read_bytes()


@pytest.mark.parametrize("end", LINE_ENDS.values(), ids=LINE_ENDS.keys())
def test_fixture_whole_equals_byte_by_byte(fixture_bytes: bytes, end: bytes) -> None:
    data = with_line_ends(fixture_bytes, end)
    whole = parse([data])
    assert whole, "every fixture holds frames"
    assert all(not f.truncated for f in whole)
    assert parse([data[i : i + 1] for i in range(len(data))]) == whole
    if end == b"\n":
        for find in FINDS.values():
            assert parse_fast([data], find) == bare(whole)
            assert parse_fast([data[i : i + 1] for i in range(len(data))], find) == bare(whole)
    else:
        assert [f.data for f in whole] == [f.data for f in parse([fixture_bytes])]


@pytest.mark.parametrize("end", LINE_ENDS.values(), ids=LINE_ENDS.keys())
def test_fixture_split_at_every_offset(fixture_bytes: bytes, end: bytes) -> None:
    data = with_line_ends(fixture_bytes, end)
    # A split only changes how the frame it falls in is parsed, so each frame is checked on its
    # own, from a parser resumed at that frame's boundary: every offset, linear total cost.
    for start, seg in segments(data, end):
        expected = parse([seg], SSEParser._resume_at(start))
        for cut in range(1, len(seg)):
            got = parse([seg[:cut], seg[cut:]], SSEParser._resume_at(start))
            assert got == expected, f"split at byte {start + cut}"
    whole = parse([data])
    for cut in (1, len(data) // 3, len(data) // 2, len(data) - 1):
        assert parse([data[:cut], data[cut:]]) == whole
        if end == b"\n":
            for find in FINDS.values():
                assert parse_fast([data[:cut], data[cut:]], find) == bare(whole)


@FAST
def test_fixture_every_offset_fast_path(find: sse.FindFrames) -> None:
    data = FIXTURES / "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.sse"
    raw = data.read_bytes()
    whole = parse([raw])
    for cut in range(1, len(raw)):
        assert parse_fast([raw[:cut], raw[cut:]], find) == bare(whole), cut


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fixture_random_splits(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(SSE_FILES)).read_bytes()
    end = data.draw(st.sampled_from(list(LINE_ENDS.values())))
    raw = with_line_ends(raw, end)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=40)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    whole = parse([raw])
    assert parse(pieces) == whole
    if end == b"\n":
        assert parse_fast(pieces) == parse_fast(pieces, sse._py_find_frames) == bare(whole)


# --- arbitrary bytes --------------------------------------------------------------------------

SSE_ALPHABET = st.sampled_from(
    [
        b"\n",
        b"\r",
        b"\r\n",
        b":",
        b" ",
        b"data",
        b"event",
        b"id",
        b"retry",
        b"1",
        b"\xff",
        b"\xc3",
        b"\xa9",
        b"\xef\xbb\xbf",
        b"x",
        b"\x00",
        b"[DONE]",
        b'{"type":"a"}',
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(SSE_ALPHABET, max_size=60), st.data())
def test_arbitrary_input_never_raises_and_chunking_never_changes_frames(
    tokens: list[bytes], data: st.DataObject
) -> None:
    raw = b"".join(tokens)
    cuts = sorted(data.draw(st.sets(st.integers(0, len(raw)), max_size=12)))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    whole = parse([raw])
    assert parse(pieces) == whole
    assert parse_fast(pieces) == parse_fast(pieces, sse._py_find_frames) == bare(whole)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_random_binary_chunks_never_raise(chunks: list[bytes]) -> None:
    frames = parse(chunks)
    assert all(isinstance(f.data, str) for f in frames)
    assert parse([b"".join(chunks)]) == frames


def test_the_c_fast_path_is_used_when_built() -> None:
    built = importlib.util.find_spec("streamtape._speedups") is not None
    if os.environ.get("STREAMTAPE_REQUIRE_SPEEDUPS"):  # set by CI, which has a C compiler
        assert built, "streamtape/_speedups.c was not built"
    assert (built and not os.environ.get("STREAMTAPE_PURE_PYTHON")) == sse.SPEEDUPS
    assert (SSEParser()._find is sse._py_find_frames) is not sse.SPEEDUPS


@FAST
def test_fast_path_queues_a_huge_line_fed_a_byte_at_a_time(find: sse.FindFrames) -> None:
    payload = b'{"type":"x","b64":"' + b"A" * 200_000 + b'"}'
    raw = b"event: x\ndata: " + payload + b"\n\n" + b"data: [DONE]\n\n"
    parser = fast_parser(find)
    items: list[tuple[Item, int]] = []
    for i in range(len(raw)):
        items += [
            (item, parser.last_offset) for item in as_items(parser._feed_payloads(raw[i : i + 1]))
        ]
    done = len(raw) - 14  # `[DONE]` opens `[`: a standard frame for `find_frames`
    # each completes a queue that is one whole standard frame: its payload comes bare
    assert items == [(payload, 0), (b"[DONE]", done)]
    assert parser.offset == len(raw)


@FAST
@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_fast_path_takes_any_bytes_like_and_gives_bytes(find: sse.FindFrames, kind: type) -> None:
    parser = fast_parser(find)
    frame = b'event: x\ndata: {"a":1}\n\n'
    assert parser._feed_payloads(kind(frame)) == b'{"a":1}'
    (batch,) = as_items(parser._feed_payloads(kind(frame * 3)))
    assert isinstance(batch, _PayloadBatch)
    assert batch.payloads == [b'{"a":1}'] * 3
    assert type(batch.region) is bytes
    assert parser._feed_payloads(frame) == b'{"a":1}'  # bytes, at a frame start: bare


@FAST
def test_fast_path_gives_a_lone_payload_bare_and_finds_its_offset_when_asked(
    find: sse.FindFrames,
) -> None:
    parser = fast_parser(find)
    parser._feed_payloads(RUN)
    read = b": keep-alive\n\nid: 9\nevent: x\ndata: {}\n\n"
    assert parser._feed_payloads(read) == b"{}"
    assert parser.last_offset == len(RUN) + len(b": keep-alive\n\n")


@FAST
@pytest.mark.parametrize("end", LINE_ENDS.values(), ids=LINE_ENDS.keys())
def test_fast_path_gives_every_line_end_and_field_the_same_payloads(
    find: sse.FindFrames, end: bytes
) -> None:
    """Every frame shape goes through `find_frames`, none through the exact parser's lines: the
    payloads are the same whatever the line ends and the other fields of a frame."""
    frames = [
        b'data: {"a":1}\n\n',
        b'id: 1\nretry: 5\n: note\nevent: x\nfoo: bar\ndata:{"b":2}\nid\n\n',
        b"\n\n: only a comment\n\n",
        b"data: one\ndata: two\n\n",
        b"data\n\n",
    ]
    raw = with_line_ends(b"".join(frames), end)
    parser = fast_parser(find)
    work = count_work(parser)
    items = as_items(parser._feed_payloads(raw))
    assert [type(i) for i in items] == [_PayloadBatch, _OtherPayload, _OtherPayload]
    assert items[0].payloads == [b'{"a":1}', b'{"b":2}']  # type: ignore[union-attr]
    assert [i.data for i in items[1:]] == [b"one\ntwo", b""]  # type: ignore[union-attr]
    assert taken(items, parser) == bare(parse([raw]))
    assert work.lines == 0


# --- find_frames: the contract of the decoder's fast path -------------------------------------

RUN = b'data: {"a":1}\n\nevent: x\ndata:[2]\n\ndata: {"b":3}\nevent: y\n\n'
JOINED = b'{"a":1}\n[2]\n{"b":3}'


@FAST
def test_find_frames_joins_a_run_of_standard_frames(find: sse.FindFrames) -> None:
    assert find(RUN, 0) == (JOINED, 3, len(RUN), None, None)
    assert find(RUN, len(RUN)) == (b"", 0, len(RUN), None, None)
    many = RUN * 100  # more frames than the C version keeps on its stack
    assert find(many, 0) == (b"\n".join([JOINED] * 100), 300, len(many), None, None)
    one = b'data: {"a":1}\n\n'
    assert find(one + b"data", 0) == (b'{"a":1}', 1, len(one), None, None)


@FAST
def test_find_frames_gives_exactly_one_standard_frame_as_its_payload_alone(
    find: sse.FindFrames,
) -> None:
    """A live stream's usual read: no tuple to build and take apart."""
    one = b'id: 1\ndata: {"a":1}\n\n'
    for buf, start in [(one, 0), (RUN + one, len(RUN)), (one.replace(b"\n", b"\r"), 0)]:
        payload = find(buf, start)
        assert (payload, type(payload)) == (b'{"a":1}', bytes)
    assert find(one + one, 0) == (b'{"a":1}\n{"a":1}', 2, 2 * len(one), None, None)
    assert find(b": ping\n\n" + one, 0) == b'{"a":1}'  # frames that dispatch nothing pass


@FAST
@pytest.mark.parametrize(
    "frame",
    [
        b"id: 7\ndata: {}\n\n",
        b": comment\ndata: {}\n\n",
        b"retry: 5\ndata: {}\nid: 1\n\n",
        b"event: a\ndata: {}\nevent: b\nevent: c\n\n",
        b"event:a\nevent:b\ndata: {}\n\n",
        b"unknown: field\nid\ndata:{}\n\n",
        b"data: {}\r\n\r\n",
        b"data: {}\r\r",
        b"id: 1\rdata: {}\r\n\r",
        b"data: {}\n\r\n",
    ],
)
def test_find_frames_takes_any_frame_with_one_json_data_line_for_standard(
    find: sse.FindFrames, frame: bytes
) -> None:
    """Field lines other than `data` and the kind of line end do not matter to the payload."""
    assert find(frame + RUN, 0) == (b"{}\n" + JOINED, 4, len(frame + RUN), None, None)


@FAST
@pytest.mark.parametrize(
    ("frame", "payload"),
    [
        (b"data: {}\ndata: {}\n\n", b"{}\n{}"),  # two data lines
        (b"data:  {}\n\n", b" {}"),  # a second space belongs to the payload
        (b"data: x\n\n", b"x"),  # not a JSON object or array
        (b"data: [DONE]\r\n\r\n", b"[DONE]"),  # opens `[`: standard, whatever follows
        (b"data:\n\n", b""),
        (b"data\n\n", b""),
        (b"id: 1\rdata: a\rdata\rdata:b\r\r", b"a\n\nb"),
    ],
)
def test_find_frames_stops_at_the_first_other_payload_and_gives_it(
    find: sse.FindFrames, frame: bytes, payload: bytes
) -> None:
    buf = RUN + frame + RUN
    if payload == b"[DONE]":
        assert find(buf, 0) == (JOINED + b"\n[DONE]\n" + JOINED, 7, len(buf), None, None)
        return
    assert find(buf, 0) == (JOINED, 3, len(RUN), len(RUN + frame), payload)
    assert find(buf, len(RUN + frame)) == (JOINED, 3, len(buf), None, None)


@FAST
def test_find_frames_passes_over_frames_that_dispatch_nothing(find: sse.FindFrames) -> None:
    nothing = b"\n\r\n\r: keep-alive\n\nid: 3\nevent: x\nretry: 10\n\nDATA: {}\ndatum: {}\n\n"
    assert find(nothing + RUN + nothing, 0) == (JOINED, 3, len(nothing + RUN + nothing), None, None)
    # the run is read from `start` only: a frame start inside a line is no frame start
    inside = b'data: x data: {"a":1}\n\n'
    assert find(inside, 0) == (b"", 0, 0, len(inside), inside[6:-2])


@FAST
def test_find_frames_needs_the_blank_line(find: sse.FindFrames) -> None:
    for cut in range(len(RUN)):
        found = find(RUN[:cut], 0)
        if cut == 15:  # exactly the first frame
            assert found == b'{"a":1}'
            continue
        assert type(found) is tuple
        joined, count, end, odd_end, odd = found
        assert (odd_end, odd) == (None, None)
        assert end == [0, 15, 34, len(RUN)][count]
        assert joined.count(b"\n") == max(count - 1, 0)
    assert find(b"id: 1\ndata: {}\n", 0) == (b"", 0, 0, None, None)
    assert find(b"data: {}\r\ndata: x\r", 0) == (b"", 0, 0, None, None)
    # a CR at the end is a whole line end: an LF after it would be a blank line of its own
    first = b"data: []\n\n"
    assert find(first + b"data: {}\r\r", 0) == (b"[]\n{}", 2, 20, None, None)
    assert find(first + b"data: {}\r\r\n", 0) == (b"[]\n{}", 2, 21, None, None)


@FAST
def test_find_frames_rejects_what_its_contract_excludes(find: sse.FindFrames) -> None:
    with pytest.raises(TypeError, match="must be bytes"):
        find(bytearray(RUN), 0)  # type: ignore[arg-type]
    for start in (-1, len(RUN) + 1):
        with pytest.raises(ValueError, match="start out of range"):
            find(RUN, start)


# --- linear work on hostile input -------------------------------------------------------------

MB = 1 << 20


def hostile_streams(line: int, size: int) -> dict[str, bytes]:
    """Shapes that made a fast path or a parser do work growing faster than the input: lines of
    `line` bytes, and `size` bytes of many short lines."""
    return {
        # frame starts inside a line: a search would try each one
        "long line, id after": b'data: {"a":"' + b"data: {" * (line // 7) + b'"}\nid: 1\n\n' + RUN,
        "long line, event and retry after": (
            b'data: {"a":"' + b"event:" * (line // 6) + b'"}\nevent: x\nretry: 1\n\n' + RUN
        ),
        "long plain line, id after": b"data: " + b"x" * line + b"\nid: 1\n\n",
        "long line, cr-only ends": b"data: {" + b"\n" * (line // 2) + b"\r\r",
        "many fields in one frame": b"id: 1\n" * (size // 6) + b"data: {}\n\n",
        "many data lines": b"data: {}\n" * (size // 9) + b"\n",
        "unusual frames among standard ones": (b": keep-alive\n\ndata: x\n\n" + RUN) * (size // 80),
        "blank lines": b"\n" * size,
        "cr-only ends": (b'data: {"a":1}\r\r' + b"id: 2\rdata: x\r\r") * (size // 30),
    }


class Work:
    """Bytes a parser's steps may read: `find` for `find_frames` calls (by contract, from `start`
    to the end of the frame after the run, or to the end of the buffer) and `lines` for what the
    exact parser splits into lines."""

    def __init__(self) -> None:
        self.find = 0
        self.lines = 0


def count_work(parser: SSEParser) -> Work:
    """Make `parser` count its work in the returned `Work`."""
    work = Work()
    find, lines = parser._find, parser._lines

    def counted_find(buf: bytes, start: int) -> bytes | sse.Found:
        result = find(buf, start)
        odd_end = None if type(result) is bytes else result[3]
        work.find += (len(buf) if odd_end is None else odd_end) - start
        return result

    def counted_lines(buf: bytes, out: list[SSEFrame]) -> None:
        work.lines += len(buf)
        lines(buf, out)

    parser._find = counted_find
    parser._lines = counted_lines  # type: ignore[method-assign]
    return work


def reads(raw: bytes, read: int) -> list[bytes]:
    """`raw` in reads of `read` bytes, or (`read` 0) in reads that double from 1 byte."""
    if read:
        return [raw[i : i + read] for i in range(0, len(raw), read)]
    out, i, size = [], 0, 1
    while i < len(raw):
        out.append(raw[i : i + size])
        i, size = i + size, size * 2
    return out


@FAST
@pytest.mark.parametrize("read", [1, 4096, 4 * MB, 0], ids=["1 B", "4 KiB", "whole", "doubling"])
def test_every_byte_is_read_a_bounded_number_of_times(find: sse.FindFrames, read: int) -> None:
    """Linear time, proven by counting rather than timing: whatever the shape of the input and
    however it is split, the bytes the payload route hands to `find_frames` add up to at most
    three times the input, and none goes to the exact parser until the stream ends. A read from
    a frame start is read whole and what it leaves unfinished is queued; the queue is read again
    with a read at least as long as it (so at most once more than the read itself), or with a
    shorter read that holds a blank line (once: the frames it ends leave the queue). Reads that
    double in size come closest to the bound. (Each `find_frames` call costs time linear in what
    it may read: its implementations read frame by frame from `start`.) The first shape, with
    2 MB of `data: {` inside one line, is the reproduction of the quadratic case: before
    `find_frames`, a regular expression search restarted inside that line at each frame-start
    look-alike."""
    line, size = (2 * MB, 100_000) if read != 1 else (20_000, 20_000)  # 1 B: a call per byte
    for name, raw in hostile_streams(line, size).items():
        expected = bare(parse([raw]))
        parser = fast_parser(find)
        work = count_work(parser)
        out: list[tuple[str, int, bool]] = []
        for data in reads(raw, read):
            out += taken(as_items(parser._feed_payloads(data)), parser)
        assert work.lines == 0, name
        out.extend(bare(parser.close()))
        assert out == expected, name
        assert work.find <= 3 * len(raw) + 64, (name, work.find, len(raw))


@pytest.mark.parametrize("read", [1, 4096], ids=["1 B", "4 KiB"])
def test_the_exact_parser_splits_each_byte_into_lines_once(read: int) -> None:
    """The same count for `feed` alone: a line fed a byte at a time is only queued until its
    line end arrives, then split once; a line cut by a read is split at most twice (a megabyte of
    one `data:` line, CR-only line ends, many fields per frame)."""
    payload = b"x" * (MB if read > 1 else 100_000)  # 1 B: a call per byte
    shapes = {
        "one data line": b"data: " + payload + b"\n\n",
        "cr-only ends": b"data: " + payload[:1000] + b"\r" + b"id: 1\r" * 1000 + b"\r",
        **hostile_streams(100_000, 30_000),
    }
    for name, raw in shapes.items():
        parser = SSEParser()
        work = count_work(parser)
        frames: list[SSEFrame] = []
        for i in range(0, len(raw), read):
            frames += parser.feed(raw[i : i + read])
        frames += parser.close()
        assert frames == parse([raw]), name
        assert work.lines <= 2 * len(raw), (name, work.lines, len(raw))


def test_the_c_fast_path_uses_only_the_limited_api() -> None:
    """No private CPython API (`_Py...`) and, when built, an abi3 module: one wheel serves every
    CPython from 3.10 on."""
    source = (Path(sse.__file__).parent / "_speedups.c").read_text()
    assert re.findall(r"\b_Py\w*", source) == []
    assert (
        '"Py_LIMITED_API", "0x030A0000"' in (Path(sse.__file__).parents[1] / "setup.py").read_text()
    )
    spec = importlib.util.find_spec("streamtape._speedups")
    if spec is not None and not sysconfig.get_config_var("Py_GIL_DISABLED"):
        assert spec.origin is not None
        assert spec.origin.endswith(".abi3.so") or spec.origin.endswith(".pyd"), spec.origin
