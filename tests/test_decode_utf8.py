"""Invalid UTF-8 decodes the same whatever the line ends: replaced by U+FFFD (WHATWG decodes an
event stream as UTF-8 with replacement), also inside the fields kept as ``msgspec.Raw``."""

from __future__ import annotations

import msgspec
import pytest

from streamtape.decode import EventDecoder, decode_event

RESPONSE = (
    b'{"type":"response.created","sequence_number":0,"response":{"id":"r","object":"response",'
    b'"created_at":1,"model":"m","status":"in_progress","output":[],'
    b'"instructions":"a\xffb","tools":[{"d":"\xc3("}]}}'
)
KEEP_ALIVE = b'{"type":"response.keep_alive"}'


def decoded(stream: bytes, reads: int) -> list[object]:
    decoder = EventDecoder(strict=False)
    step = max(1, len(stream) // reads)
    events: list[object] = []
    for i in range(0, len(stream), step):
        events += decoder.feed(stream[i : i + step])
    return events + decoder.close()


@pytest.mark.parametrize("reads", [1, 3, 200])
@pytest.mark.parametrize("before", [0, 1, 3])
def test_raw_fields_with_invalid_utf8_decode_the_same_with_lf_cr_and_crlf(
    reads: int, before: int
) -> None:
    results = []
    for end in (b"\n", b"\r\n", b"\r"):
        stream = b"".join(b"data: " + p + end + end for p in [KEEP_ALIVE] * before + [RESPONSE])
        events = decoded(stream, reads)
        results.append(msgspec.json.encode(events))
        response = events[-1].response  # type: ignore[attr-defined]
        assert bytes(response.instructions) == '"a\ufffdb"'.encode()
        assert bytes(response.tools) == '[{"d":"\ufffd("}]'.encode()
    assert results[0] == results[1] == results[2]


def test_decode_event_replaces_invalid_utf8_in_bytes_as_in_text() -> None:
    from_bytes = decode_event(RESPONSE)
    from_text = decode_event(RESPONSE.decode("utf-8", "replace"))
    assert msgspec.json.encode(from_bytes) == msgspec.json.encode(from_text)
