"""Reading a recorded interaction with what only the recording knows: HTTP error answers, resumed
streams (`starting_after`), a last frame cut off, a client that stopped reading, other dialects.

Every stream here is a minimal reproduction written for the test (shapes from the Responses-API
event reference), recorded into a real cassette and read back.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

import streamtape
from streamtape.accumulate import Accumulator
from streamtape.cassette import Cassette, CassetteWriter, ClientStop, Interaction, StreamEnd
from streamtape.convert import convert_yaml
from streamtape.decode import EventDecoder
from streamtape.events import OpaqueEvent
from streamtape.reading import read_exchange, read_exchanges, resume_point
from streamtape.results import Stopped

RESPONSES = "https://api.openai.com/v1/responses"
SSE_HEAD = [("content-type", "text/event-stream; charset=utf-8")]
TEXT = "Hello, resumed world"


def answer(
    response_id: str = "resp_1", text: str = TEXT, msg: str = "msg_1"
) -> list[dict[str, Any]]:
    """The payloads of a streamed one-message answer, numbered from 0 as OpenAI numbers them."""
    deltas = [text[i : i + 4] for i in range(0, len(text), 4)]
    part = {"type": "output_text", "text": "", "annotations": []}
    final_part = {**part, "text": text}
    final = {"type": "message", "id": msg, "role": "assistant", "status": "completed"}
    place = {"item_id": msg, "output_index": 0, "content_index": 0}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress"}},
        {"type": "response.in_progress", "response": {"id": response_id, "status": "in_progress"}},
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**final, "status": "in_progress", "content": []},
        },
        {"type": "response.content_part.added", **place, "part": part},
        *(
            {"type": "response.output_text.delta", **place, "delta": d, "obfuscation": "x" * i}
            for i, d in enumerate(deltas)
        ),
        {"type": "response.output_text.done", **place, "text": text},
        {"type": "response.content_part.done", **place, "part": final_part},
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {**final, "content": [final_part]},
        },
        {
            "type": "response.completed",
            "response": {
                "id": response_id,
                "status": "completed",
                "output": [{**final, "content": [final_part]}],
                "usage": {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11},
            },
        },
    ]
    return [{**e, "sequence_number": n} for n, e in enumerate(events)]


def sse(payloads: list[dict[str, Any]]) -> bytes:
    """OpenAI's framing: an `event:` line, a `data:` line, a blank line."""
    return b"".join(
        f"event: {p.get('type', 'message')}\ndata: {json.dumps(p)}\n\n".encode() for p in payloads
    )


def cassette(tmp_path: Path, *exchanges: dict[str, Any]) -> Cassette:
    """Record the exchanges (method, url, status, headers, chunks, end) and read them back."""
    path = tmp_path / "t.ndjson.zst"
    writer = CassetteWriter(path, flush_interval=None)
    for ex in exchanges:
        rec = writer.begin(ex.get("method", "POST"), ex.get("url", RESPONSES), [], b"{}")
        rec.response(ex.get("status", 200), ex.get("headers", SSE_HEAD), offset_ns=1_000_000)
        for n, chunk in enumerate(ex.get("chunks", [])):
            rec.chunk(chunk, offset_ns=2_000_000 + n * 1_000_000)
        rec.end(ex.get("end", "complete"), offset_ns=90_000_000)
    writer.close()
    return Cassette.load(path)


def one(tmp_path: Path, **exchange: Any) -> Interaction:
    return cassette(tmp_path, exchange)[0]


def resume_url(after: int, response_id: str = "resp_1") -> str:
    return f"{RESPONSES}/{response_id}?stream=true&starting_after={after}"


# -- HTTP errors are not truncations -----------------------------------------------------------


def test_openai_429_is_an_http_error_with_code_message_and_retry_after(tmp_path: Path) -> None:
    body = json.dumps(
        {
            "error": {
                "message": "Rate limit reached for gpt-4o",
                "type": "requests",
                "param": None,
                "code": "rate_limit_exceeded",
            }
        }
    ).encode()
    inter = one(
        tmp_path,
        status=429,
        headers=[("content-type", "application/json"), ("retry-after", "20")],
        chunks=[body],
    )
    [result] = inter.results()
    assert result.outcome == "http_error"
    assert result.http is not None
    assert (result.http.status, result.http.code, result.http.type) == (
        429,
        "rate_limit_exceeded",
        "requests",
    )
    assert result.http.message == "Rate limit reached for gpt-4o"
    assert result.http.retry_after == "20"
    assert result.error is not None
    assert result.error.code == "rate_limit_exceeded"
    assert result.problems == ()


def test_openrouter_error_shape_with_a_numeric_code(tmp_path: Path) -> None:
    body = (
        b'{"error":{"code":402,"message":"Insufficient credits",'
        b'"metadata":{"provider_name":null}},"user_id":"user_1"}'
    )
    inter = one(tmp_path, status=402, headers=[("content-type", "application/json")], chunks=[body])
    result = inter.result()
    assert result.outcome == "http_error"
    assert result.http is not None
    assert (result.http.status, result.http.code, result.http.message) == (
        402,
        "402",
        "Insufficient credits",
    )
    assert result.http.retry_after is None


def test_a_5xx_with_a_plain_body_keeps_the_body_as_message(tmp_path: Path) -> None:
    inter = one(tmp_path, status=502, headers=[], chunks=[b"upstream connect error\n"])
    result = inter.result()
    assert result.outcome == "http_error"
    assert result.http is not None
    assert (result.http.status, result.http.message) == (502, "upstream connect error")


# -- a frame cut off at the end of the stream ---------------------------------------------------


def test_a_last_frame_without_its_blank_line_is_delivered_and_reported(tmp_path: Path) -> None:
    payloads = answer()
    body = sse(payloads)
    cut = body[:-1]  # the final blank line never came
    inter = one(tmp_path, chunks=[cut])
    result = inter.result()
    assert result.outcome == "completed"  # the event was delivered, as before
    [problem] = result.problems
    last_frame = body.rindex(b"event: response.completed")
    assert (problem.kind, problem.offset) == ("cut_off_frame", last_frame)
    assert problem.index == len(payloads) - 1
    assert result == read_exchange(inter).results[0]


def test_a_clean_end_has_no_cut_off_frame(tmp_path: Path) -> None:
    assert one(tmp_path, chunks=[sse(answer())]).result().problems == ()


def test_the_decoder_names_the_cut_off_frame_offset() -> None:
    decoder = EventDecoder()
    first = decoder.feed(b'data: {"type":"keepalive"}\n\ndata: {"type":"keepalive"}')
    assert [e.type for e in first] == ["keepalive"]
    assert decoder.cut_off is None
    assert [e.type for e in decoder.close()] == ["keepalive"]
    assert decoder.cut_off == len(b'data: {"type":"keepalive"}\n\n')


# -- other SSE dialects ------------------------------------------------------------------------

CHUNKS = [
    {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": c}}],
    }
    for c in ("Hel", "lo")
]


def test_a_chat_completions_payload_decodes_as_opaque() -> None:
    payload = b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","choices":[]}\n\n'
    [event] = EventDecoder().feed(payload)
    assert isinstance(event, OpaqueEvent)
    assert event.type == "chat.completion.chunk"
    assert event.raw == payload[6:-2]
    [untyped] = EventDecoder().feed(b"data: [1, 2]\n\n")
    assert isinstance(untyped, OpaqueEvent)
    assert untyped.type == "[untyped]"


def test_a_chat_completions_stream_is_another_dialect(tmp_path: Path) -> None:
    body = b"".join(f"data: {json.dumps(c)}\n\n".encode() for c in CHUNKS) + b"data: [DONE]\n\n"
    inter = one(tmp_path, url="https://api.openai.com/v1/chat/completions", chunks=[body])
    reading = read_exchange(inter)
    assert reading.dialect == "other"
    assert reading.results == []
    assert reading.note == f"not a Responses-API stream: 3 frames, {len(body)} bytes"
    assert inter.results() == []
    with pytest.raises(ValueError, match="not a Responses-API stream"):
        inter.result()


def test_a_json_answer_is_not_a_stream(tmp_path: Path) -> None:
    body = b'{"id":"resp_1","object":"response","status":"completed"}'
    inter = one(tmp_path, headers=[("content-type", "application/json")], chunks=[body])
    assert read_exchange(inter).note == f"not a Responses-API stream: 0 frames, {len(body)} bytes"


def test_a_broken_responses_stream_stays_a_responses_stream(tmp_path: Path) -> None:
    inter = one(tmp_path, chunks=[b'data: {"type":"response.created","response":\n\n'])
    reading = read_exchange(inter)
    assert reading.dialect == "responses"
    assert [p.kind for p in reading.results[0].problems] == ["malformed"]


# -- resumed streams ---------------------------------------------------------------------------


def test_resume_point_reads_the_request() -> None:
    assert resume_point("GET", resume_url(7)) == ("resp_1", 7)
    assert resume_point("GET", f"{RESPONSES}/resp_9?stream=true") == ("resp_9", None)
    assert resume_point("GET", f"{RESPONSES}/resp_9") is None  # not streamed
    assert resume_point("POST", RESPONSES) is None


@pytest.mark.parametrize("after", [1, 4, 5, 8])
def test_a_resumed_stream_folds_without_false_alarms(tmp_path: Path, after: int) -> None:
    payloads = answer()
    tail = [p for p in payloads if p["sequence_number"] > after]
    inter = one(tmp_path, method="GET", url=resume_url(after), chunks=[sse(tail)])
    result = inter.result()
    assert (result.outcome, result.problems) == ("completed", ())
    assert result.resumed
    assert result.output_text == TEXT  # the beginning from the .done and final events


def test_a_resume_is_recognised_by_its_events_alone() -> None:
    tail = [p for p in answer() if p["sequence_number"] > 5]
    events = EventDecoder().feed(sse(tail))
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    result = acc.result()
    assert (result.outcome, result.problems, result.resumed) == ("completed", (), True)
    assert result.output_text == TEXT


def test_a_resume_cut_before_its_done_events_keeps_what_it_has(tmp_path: Path) -> None:
    tail = [p for p in answer() if 5 < p["sequence_number"] < 9]
    inter = one(tmp_path, method="GET", url=resume_url(5), chunks=[sse(tail)])
    result = inter.result()
    assert (result.outcome, result.problems, result.resumed) == ("truncated", (), True)
    assert TEXT.endswith(result.output_text)
    assert result.output_text


def test_a_stream_and_its_resume_give_one_result(tmp_path: Path) -> None:
    payloads = answer()
    head = [p for p in payloads if p["sequence_number"] <= 6]
    tail = [p for p in payloads if p["sequence_number"] > 6]
    tape = cassette(
        tmp_path,
        {"chunks": [sse(head)], "end": "error"},
        {"method": "GET", "url": resume_url(6), "chunks": [sse(tail)]},
    )
    [result] = read_exchanges(tape)
    assert (result.outcome, result.problems, result.output_text) == ("completed", (), TEXT)
    assert (result.resumed, result.streams) == (False, 2)


def test_a_resume_that_replays_a_whole_stream_joins_it(tmp_path: Path) -> None:
    # A background response streamed to its end, then fetched again from starting_after=0:
    # everything after 0 comes twice (the shape of a real recording of a background response).
    payloads = answer()
    tape = cassette(
        tmp_path,
        {"chunks": [sse(payloads)]},
        {"method": "GET", "url": resume_url(0), "chunks": [sse(payloads[1:])]},
    )
    [result] = read_exchanges(tape)
    assert (result.outcome, result.problems, result.output_text) == ("completed", (), TEXT)
    assert result.streams == 2
    # Each interaction alone reads the same text, the resume marked as such.
    assert [r.output_text for i in tape for r in i.results()] == [TEXT, TEXT]
    assert [r.resumed for i in tape for r in i.results()] == [False, True]


def test_two_responses_and_a_resume_of_the_first(tmp_path: Path) -> None:
    first, second = answer("resp_1"), answer("resp_2", "Second answer")
    tape = cassette(
        tmp_path,
        {"chunks": [sse(first[:6])], "end": "error"},
        {"chunks": [sse(second)]},
        {"method": "GET", "url": resume_url(5), "chunks": [sse(first[6:])]},
    )
    results = read_exchanges(tape)
    assert [(r.outcome, r.output_text, r.problems) for r in results] == [
        ("completed", TEXT, ()),
        ("completed", "Second answer", ()),
    ]


def test_a_repeated_sequence_number_is_still_a_fault() -> None:
    payloads = answer()
    repeated = [*payloads[:6], {**payloads[5], "delta": "XX"}, *payloads[6:]]
    acc = Accumulator()
    for event in EventDecoder().feed(sse(repeated)):
        acc.feed(event)
    assert "sequence" in [p.kind for p in acc.result().problems]


# -- a client that stopped reading -------------------------------------------------------------


def test_a_client_that_closed_early_is_not_a_truncated_stream(tmp_path: Path) -> None:
    body = sse(answer()[:6])
    inter = one(tmp_path, chunks=[body], end="closed")
    result = inter.result()
    assert result.outcome == "stopped"
    assert result.stopped is not None
    assert (result.stopped.reason, result.stopped.bytes, result.stopped.events) == (
        "closed",
        len(body),
        6,
    )
    assert result.stopped.offset_ns == 90_000_000
    assert result.output_text == TEXT[:8]


def test_a_client_that_closed_after_the_end_keeps_the_outcome(tmp_path: Path) -> None:
    result = one(tmp_path, chunks=[sse(answer())], end="closed").result()
    assert result.outcome == "completed"
    assert result.stopped is not None
    assert result.stopped.reason == "closed"


def test_a_real_background_response_and_its_resume_from_0(tmp_path: Path) -> None:
    # pydantic-ai recorded a background response streamed to its end, then fetched again with
    # `GET /v1/responses/{id}?starting_after=0&stream=true`.
    src = Path(__file__).parent / "fixtures/pydantic-ai"
    convert_yaml(src / "test_background_mode_streaming_starting_after_vcr.yaml", tmp_path / "b.zst")
    cassette = Cassette.load(tmp_path / "b.zst")
    assert [i.request.method for i in cassette] == ["POST", "GET"]
    [joined] = read_exchanges(cassette)
    assert (joined.outcome, joined.problems, joined.streams) == ("completed", (), 2)
    alone = [i.result() for i in cassette]
    assert [r.output_text for r in alone] == [joined.output_text] * 2
    assert [(r.resumed, r.problems) for r in alone] == [(False, ()), (True, ())]


def test_a_drained_recording_keeps_the_servers_outcome_and_says_where_the_client_stopped(
    tmp_path: Path,
) -> None:
    frames = [sse([p]) for p in answer()]
    recorded = one(tmp_path, chunks=frames)
    assert recorded.end is not None
    drained = Interaction(
        recorded.id,
        recorded.request,
        recorded.response,
        recorded.chunks,
        StreamEnd(
            offset_ns=recorded.end.offset_ns,
            outcome="complete",
            client=ClientStop(chunks=6, bytes=sum(map(len, frames[:6])), offset_ns=7_500_000),
        ),
    )
    result = drained.result()
    assert (result.outcome, result.output_text) == ("completed", TEXT)  # the server's
    assert result.stopped == Stopped(
        reason="closed", offset_ns=7_500_000, bytes=sum(map(len, frames[:6])), events=6
    )


def test_a_resume_replaying_deltas_with_new_obfuscation_joins_without_a_boundary() -> None:
    # OpenAI pads each delta with random `obfuscation`, new on every send: a replayed delta is
    # the same event but for it. Here the two streams come as one flat list of events.
    payloads = answer()
    again = [{**p, "obfuscation": "new"} if "delta" in p else p for p in payloads[5:]]
    acc = Accumulator()
    for event in EventDecoder().feed(sse(payloads + again)):
        acc.feed(event)
    result = acc.result()
    assert (result.outcome, result.problems, result.output_text) == ("completed", (), TEXT)
    assert result.streams == 2


def test_a_resume_that_replays_something_else_is_a_sequence_fault() -> None:
    payloads = answer()
    wrong = [payloads[5], {**payloads[6], "type": "response.refusal.delta"}, *payloads[7:]]
    acc = Accumulator()
    for event in EventDecoder().feed(sse(payloads + wrong)):
        acc.feed(event)
    [problem] = acc.result().problems
    assert problem.kind == "sequence"
    assert "response.refusal.delta at sequence_number 6" in problem.message


def test_a_resume_found_by_its_item_when_the_request_names_no_response() -> None:
    first, second = answer("resp_1", msg="msg_a"), answer("resp_2", "Other", msg="msg_b")
    acc = Accumulator()
    for event in EventDecoder().feed(sse(first[:6] + second)):
        acc.feed(event)
    acc.begin_stream()
    for event in EventDecoder().feed(sse(first[6:])):  # its first event names item msg_a only
        acc.feed(event)
    results = acc.results()
    assert [(r.outcome, r.output_text, r.problems) for r in results] == [
        ("completed", TEXT, ()),
        ("completed", "Other", ()),
    ]
    assert [r.streams for r in results] == [2, 1]


def test_http_errors_between_streams_keep_their_place(tmp_path: Path) -> None:
    tape = cassette(
        tmp_path,
        {"chunks": [sse(answer("resp_1", "one"))]},
        {"status": 500, "headers": [], "chunks": [b'{"error": "overloaded"}']},
        {"chunks": [sse(answer("resp_2", "two"))]},
    )
    results = read_exchanges(tape)
    assert [(r.outcome, r.output_text) for r in results] == [
        ("completed", "one"),
        ("http_error", ""),
        ("completed", "two"),
    ]
    assert results[1].http is not None
    assert results[1].http.message == "overloaded"


def test_a_gzip_stream_reads_as_its_decoded_body(tmp_path: Path) -> None:
    body = gzip.compress(sse(answer()))
    head = [*SSE_HEAD, ("content-encoding", "gzip")]
    inter = one(tmp_path, headers=head, chunks=[body[:40], body[40:]])
    reading = read_exchange(inter)
    assert reading.bytes == len(sse(answer()))
    assert reading.results[0].output_text == TEXT


@pytest.mark.parametrize(
    ("types", "dialect"),
    [(["message_start", "content_block_delta"], "other"), (["response.future_thing"], "responses")],
)
def test_the_dialect_of_typed_payloads_no_class_knows(
    tmp_path: Path, types: list[str], dialect: str
) -> None:
    body = sse([{"type": t} for t in types])
    assert read_exchange(one(tmp_path, chunks=[body])).dialect == dialect


def test_an_empty_body_is_a_responses_stream_only_at_a_responses_url(tmp_path: Path) -> None:
    assert read_exchange(one(tmp_path, chunks=[])).dialect == "responses"
    other = one(tmp_path, url="https://example.test/v1/chat/completions", chunks=[])
    assert read_exchange(other).dialect == "other"


def test_tape_results_join_a_resume_across_the_cassette(tmp_path: Path) -> None:
    payloads = answer()
    cassette(
        tmp_path,
        {"chunks": [sse(payloads[:7])], "end": "error"},
        {"method": "GET", "url": resume_url(6), "chunks": [sse(payloads[7:])]},
    )
    with streamtape.use_cassette(tmp_path / "t.ndjson.zst", record_mode="none") as tape:
        [result] = tape.results()
        assert (result.outcome, result.output_text, result.streams) == ("completed", TEXT, 2)
        assert tape.result(1).resumed  # each interaction on its own: the resume alone


def test_a_client_that_closed_after_done_saw_the_streams_end(tmp_path: Path) -> None:
    # No terminal event, but `[DONE]` came: the client closed after the stream's end, so the
    # missing terminal event is the stream's fault (truncated), not the client's.
    body = sse(answer()[:6]) + b"data: [DONE]\n\n"
    result = one(tmp_path, chunks=[body], end="closed").result()
    assert result.outcome == "truncated"
    assert result.stopped is not None
