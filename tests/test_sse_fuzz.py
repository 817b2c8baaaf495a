"""Fuzz target: the SSE parser and both fast paths against an independent reference parser.

Hypothesis builds streams from SSE-shaped pieces (field names, colons, spaces, every line end, JSON
openers, invalid UTF-8, byte order marks, NUL) and splits them anywhere. Three things must agree
with `reference` below, a direct transcription of the WHATWG algorithm written apart from
`streamtape.sse` (a line regex over the whole stream, then the spec's steps on decoded text):
the exact parser (`SSEParser.feed`), the decoder's payload route with `find_frames` in C (the
SSE2 build and the portable one) and in Python, and the three `find_frames` with each other (the
same result from every start).

The example budget is small in the normal test run. A long run:

    STREAMTAPE_FUZZ_EXAMPLES=100000 python -m pytest tests/test_sse_fuzz.py -q -p no:randomly

(`httpx-sse`'s `SSEDecoder` is no reference here: it dispatches frames that have an `id:` or
`event:` line but no `data:` line, which the spec drops.)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from portable_speedups import portable_find_frames
from test_sse import parse_fast

from streamtape import sse
from streamtape.sse import SSEFrame, SSEParser

EXAMPLES = int(os.environ.get("STREAMTAPE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- the reference ------------------------------------------------------------------------------

# Spec: "Lines must be separated by either a U+000D CARRIAGE RETURN U+000A LINE FEED (CRLF)
# character pair, a single U+000A LINE FEED (LF) character, or a single U+000D CARRIAGE RETURN (CR)
# character." A complete line is its text and one of those ends; what follows the last one is an
# unterminated line.
COMPLETE_LINE = re.compile(rb"([^\r\n]*)(?:\r\n|\r|\n)")


def reference(stream: bytes) -> list[SSEFrame]:
    """The frames of `stream` by the WHATWG "event stream interpretation", step by step.

    Two documented extensions of streamtape are modelled: each frame carries the comments and the
    valid `retry:` seen since the previous frame and the byte offset of its first line, and the
    frame an unterminated stream ends in is kept with `truncated=True` (the spec drops it).
    """
    position = 3 if stream.startswith(b"\xef\xbb\xbf") else 0  # one leading BOM is skipped
    lines: list[tuple[int, bytes]] = []
    for match in COMPLETE_LINE.finditer(stream, position):
        lines.append((match.start(), match.group(1)))
        position = match.end()
    unterminated = stream[position:] if position < len(stream) else None

    frames: list[SSEFrame] = []
    data_buffer = ""
    event_type = ""
    last_event_id = ""
    retry: int | None = None
    comments: list[str] = []
    first_line: int | None = None

    def dispatch(truncated: bool) -> None:
        nonlocal data_buffer, event_type, retry, comments, first_line
        if data_buffer:
            frames.append(
                SSEFrame(
                    data=data_buffer[:-1],  # the last LF goes
                    event=event_type or "message",
                    id=last_event_id,
                    retry=retry,
                    comments=tuple(comments),
                    offset=first_line if first_line is not None else 0,
                    truncated=truncated,
                )
            )
            retry, comments = None, []
        data_buffer = event_type = ""
        first_line = None

    def process(start: int, raw: bytes) -> None:
        nonlocal data_buffer, event_type, last_event_id, retry, first_line
        text = raw.decode("utf-8", "replace")
        if text == "":
            dispatch(truncated=False)
            return
        if first_line is None:
            first_line = start
        if text.startswith(":"):
            comments.append(text[2:] if text.startswith(": ") else text[1:])
            return
        field, colon, value = text.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            event_type = value
        elif field == "data":
            data_buffer += value + "\n"
        elif field == "id":
            if "\0" not in value:
                last_event_id = value
        elif field == "retry" and value and all(c in "0123456789" for c in value):
            retry = int(value)

    for start, raw in lines:
        process(start, raw)
    if unterminated is not None:
        process(position, unterminated)
    dispatch(truncated=True)
    return frames


def test_reference_follows_the_spec_examples() -> None:
    """The reference itself, on the examples of the spec's section 9.2.6."""
    stream = (
        b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\n"
        b"data:  third event\n\ndata: YHOO\r\ndata: +2\rdata: 10\n\nevent: add\ndata: 7\n\n"
        b"data"
    )
    assert [(f.data, f.id, f.event, f.truncated) for f in reference(stream)] == [
        ("first event", "1", "message", False),
        ("second event", "", "message", False),
        (" third event", "", "message", False),
        ("YHOO\n+2\n10", "", "message", False),
        ("7", "", "add", False),
        ("", "", "message", True),
    ]


# --- the streams ----------------------------------------------------------------------------------

PIECES = st.sampled_from(
    [
        b"\n",
        b"\n",
        b"\n\n",
        b"\r",
        b"\r\n",
        b":",
        b" ",
        b"data",
        b"data: ",
        b"data:",
        b"event",
        b"event: ",
        b"id",
        b"id: ",
        b"retry: ",
        b"retry:",
        b"7",
        b"12",
        b"{",
        b"[",
        b"}",
        b'{"type":"a"}',
        b"[DONE]",
        b"x",
        b"\xff",
        b"\xc3",
        b"\xa9",
        b"\xef\xbb\xbf",
        b"\x00",
        b"\xe2\x80\xa8",
    ]
)
STANDARD = st.sampled_from(
    [
        b'data: {"type":"a"}\n\n',
        b'event: e\ndata: {"type":"b"}\n\n',
        b"data:[1]\n\n",
        b'data: {"x":1}\nevent: bedrock\n\n',
    ]
)


# Frames built field by field, each part usually what a standard frame has and sometimes a near
# miss of it, so that the fast paths' edge cases come up in every run.
def often(usual: bytes, *others: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from([usual] * len(others) + list(others))


SEPARATOR = often(b": ", b":", b":  ", b"", b" :", b":\x00")
PAYLOAD = st.tuples(
    often(b"{", b"[", b" ", b"x", b"", b"\xff", b"\xef\xbb\xbf"),
    st.lists(
        st.sampled_from([b'"type":"a"}', b"]", b"7", b" ", b":", b"data: {", b"\x00", b"\xc3\xa9"]),
        max_size=3,
    ).map(b"".join),
).map(b"".join)
END = often(b"\n", b"\n", b"\n", b"\r\n", b"\r")
EVENT_LINE = st.tuples(often(b"event", b"Event", b"id", b"retry"), SEPARATOR, PAYLOAD, END)
DATA_LINE = st.tuples(often(b"data", b"dat", b"data ", b"xdata"), SEPARATOR, PAYLOAD, END)
EXTRA_LINE = st.tuples(
    st.sampled_from([b"id", b"retry", b"", b"data", b"event", b"foo"]),
    SEPARATOR,
    often(b"7", b"1x", b"", b"\x00", b"{}"),
    END,
)
FRAME = st.tuples(
    st.lists(EVENT_LINE.map(b"".join), max_size=1),
    st.lists(DATA_LINE.map(b"".join), min_size=1, max_size=2),
    st.lists(EVENT_LINE.map(b"".join), max_size=1),
    st.lists(EXTRA_LINE.map(b"".join), max_size=1),
    st.integers(0, 3),
    END,
).map(lambda p: b"".join(p[0] + p[1][:1] + p[3][: p[4]] + p[1][1:] + p[2] + [p[5]]))
STREAMS = st.one_of(
    st.lists(st.one_of(PIECES, STANDARD), max_size=80).map(b"".join),
    st.tuples(often(b"", b"\xef\xbb\xbf"), st.lists(st.one_of(FRAME, STANDARD), max_size=12)).map(
        lambda p: p[0] + b"".join(p[1])
    ),
)


def pieces_of(raw: bytes, cuts: Iterable[int]) -> list[bytes]:
    points = sorted(set(cuts))
    return [raw[a:b] for a, b in zip([0, *points], [*points, len(raw)], strict=True)]


# --- the properties -------------------------------------------------------------------------------


@FUZZ
@given(STREAMS, st.data())
def test_exact_parser_equals_the_reference_under_any_split(raw: bytes, data: st.DataObject) -> None:
    expected = reference(raw)
    cuts = data.draw(st.lists(st.integers(0, len(raw)), max_size=12))
    parser = SSEParser()
    got: list[SSEFrame] = []
    for chunk in pieces_of(raw, cuts):
        got += parser.feed(chunk)
    assert got + parser.close() == expected


@FUZZ
@given(STREAMS, st.data())
def test_both_fast_paths_equal_the_reference_under_any_split(
    raw: bytes, data: st.DataObject
) -> None:
    expected = [(f.data, f.offset, f.truncated) for f in reference(raw)]
    chunks = pieces_of(raw, data.draw(st.lists(st.integers(0, len(raw)), max_size=12)))
    for find in filter(None, [sse._find_frames, sse._py_find_frames, portable_find_frames()]):
        assert parse_fast(chunks, find) == expected, find


@FUZZ
@given(st.one_of(STREAMS, st.binary(max_size=200)))
def test_c_and_python_find_frames_agree_from_every_start(raw: bytes) -> None:
    """Same tuple from every start, and nothing past the frame after the run is read: the result
    holds when the buffer is cut just after it."""
    finds = [sse._py_find_frames, sse._find_frames, portable_find_frames()]
    for start in range(len(raw) + 1):
        result = sse._py_find_frames(raw, start)
        odd = None if type(result) is bytes else result[3]
        for find in filter(None, finds):
            assert find(raw, start) == result, (find, start)
            if odd is not None:
                assert find(raw[:odd], start) == result, (find, start)
