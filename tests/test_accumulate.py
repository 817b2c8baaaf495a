"""Tests of streamtape.accumulate: folding events into final text, calls, reasoning and problems."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamtape.accumulate import (
    Accumulator,
    FunctionCall,
    Problem,
    StreamResult,
    accumulate,
    accumulate_all,
)
from streamtape.decode import EventDecoder, decode_event
from streamtape.events import (
    Done,
    Event,
    FunctionCallItem,
    MalformedEvent,
    MessageItem,
    OutputTextPart,
    ReasoningItem,
    Usage,
)

FIXTURES = Path(__file__).parent / "fixtures"
STREAMS = sorted(
    str(path.relative_to(FIXTURES))
    for pattern in ("*.sse", "*.chunks.txt")
    for path in FIXTURES.rglob(pattern)
)
TERMINAL = {"response.completed", "response.incomplete", "response.failed"}

# Outcome of every fixture response that did not complete.
OUTCOMES = {
    "vercel-ai/openai/openai-error.1.chunks.txt": ["failed"],  # error event, then response.failed
    "dd-trace-py/response_stream_incomplete.sse": ["incomplete"],  # max_output_tokens=16
    "vercel-ai/openai-compatible/reasoning.1.chunks.txt": ["incomplete"],  # REASON_MAX_LEN
    "vercel-ai/openai/openai-reasoning-encrypted-content.1.chunks.txt": ["completed"] * 4,
}

# Protocol violations the real streams hold. None of the 53 breaks a rule the accumulator checks
# (sequence numbers rise by one, `.done` values equal their deltas and the final response, no
# event for an unannounced item, nothing after the end, one terminal event); the fixture set left
# out the hand-edited recordings that did. A stream that gains one must be listed here with why.
KNOWN_PROBLEMS: dict[str, list[str]] = {}

# Real streams that look odd but break none of those rules; `test_quirk_*` pin each behaviour.
QUIRKS = {
    "vercel-ai/open-responses/lmstudio-tool-call.1.chunks.txt": (
        "function_call_arguments.done with no delta before it: the arguments come whole"
    ),
    "vercel-ai/openai/openai-image-generation-tool.1.chunks.txt": (
        "output_text.done with no delta: the message text is empty"
    ),
    "pydantic-ai/test_background_mode_streaming_starting_after_vcr.1.sse": (
        "a resumed stream: starts at sequence_number 1 with response.queued, no response.created"
    ),
    "pydantic-ai/test_openai_responses_raw_cot_stream_openrouter.sse": (
        "response.completed names the reasoning item with another id than the streamed one"
    ),
    "vercel-ai/openai-compatible/reasoning.1.chunks.txt": (
        "the message item is never closed before response.incomplete"
    ),
    "pydantic-ai/test_openai_responses_stream.0.sse": "early-2025 wire: no sequence_number",
}


# ---------------------------------------------------------------------------------------------
# Reading fixtures: typed events through the decoder, raw JSON payloads for the expectations
# ---------------------------------------------------------------------------------------------


def fixture_events(name: str) -> list[Event]:
    path = FIXTURES / name
    if name.endswith(".sse"):
        decoder = EventDecoder(strict=True)
        return decoder.feed(path.read_bytes()) + decoder.close()
    return [decode_event(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def raw_payloads(name: str) -> list[dict[str, Any]]:
    """Every JSON payload, read without streamtape (the fixtures are LF-only, one data line)."""
    text = (FIXTURES / name).read_text("utf-8")
    if name.endswith(".sse"):
        lines = [line[5:].lstrip(" ") for line in text.split("\n") if line.startswith("data:")]
    else:
        lines = text.splitlines()
    return [json.loads(line) for line in lines if line.strip() and line.strip() != "[DONE]"]


def raw_responses(name: str) -> list[list[dict[str, Any]]]:
    """The payloads split into responses at each `response.created`."""
    groups: list[list[dict[str, Any]]] = []
    for payload in raw_payloads(name):
        if not groups or (payload["type"] == "response.created" and groups[-1]):
            groups.append([])
        groups[-1].append(payload)
    return groups


def final_output(group: list[dict[str, Any]]) -> list[dict[str, Any]]:
    terminal = [p for p in group if p["type"] in TERMINAL]
    assert len(terminal) == 1
    output: list[dict[str, Any]] = terminal[0]["response"]["output"]
    return output


def final_text(output: list[dict[str, Any]]) -> str:
    return "".join(
        part["text"]
        for item in output
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def final_calls(output: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [
        (item["call_id"], item["name"], item["arguments"])
        for item in output
        if item["type"] == "function_call"
    ]


def text_of(result: StreamResult, item_id: str, content_index: int) -> str:
    for item in result.items:
        if isinstance(item, MessageItem) and item.id == item_id:
            part = item.content[content_index]
            assert isinstance(part, OutputTextPart)
            return part.text
    raise AssertionError(f"no message item {item_id}")


# ---------------------------------------------------------------------------------------------
# Every real stream
# ---------------------------------------------------------------------------------------------


def test_fixture_set_is_all_there() -> None:
    assert len(STREAMS) == 50  # 32 .sse + 18 .chunks.txt, holding 53 responses
    assert sum(len(accumulate_all(fixture_events(name))) for name in STREAMS) == 53


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_matches_its_final_values(name: str) -> None:
    results = accumulate_all(fixture_events(name))
    groups = raw_responses(name)
    assert len(results) == len(groups)
    expected_outcomes = OUTCOMES.get(name, ["completed"])
    assert [r.outcome for r in results] == expected_outcomes
    for result, group in zip(results, groups, strict=True):
        output = final_output(group)
        assert result.output_text == final_text(output)
        calls = [(c.call_id, c.name, c.arguments) for c in result.function_calls]
        assert calls == final_calls(output)
        for call in result.function_calls:
            assert call.parsed_arguments() == json.loads(call.arguments or "{}")
        # The stream's own `.done` values, matched by item and index.
        for payload in group:
            if payload["type"] == "response.output_text.done":
                assert (
                    text_of(result, payload["item_id"], payload["content_index"])
                    == (payload["text"])
                )
            elif payload["type"] == "response.function_call_arguments.done":
                by_item = {c.item_id: c.arguments for c in result.function_calls}
                assert by_item[payload["item_id"]] == payload["arguments"]
        assert result.response is not None
        terminal = next(p for p in group if p["type"] in TERMINAL)
        assert result.response.id == terminal["response"]["id"]
        usage = terminal["response"].get("usage")
        assert result.usage == (None if usage is None else msgspec.convert(usage, Usage))
        assert result.event_count == len(group) + result.event_counts.get("[DONE]", 0)
        assert sum(result.event_counts.values()) == result.event_count
        assert [p.kind for p in result.problems] == KNOWN_PROBLEMS.get(name, [])


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_reasoning_matches_final_items(name: str) -> None:
    for result, group in zip(
        accumulate_all(fixture_events(name)), raw_responses(name), strict=True
    ):
        reasoning = [item for item in final_output(group) if item["type"] == "reasoning"]
        assert [list(r.summary) for r in result.reasoning] == [
            [part["text"] for part in item["summary"]] for item in reasoning
        ]
        assert [list(r.content) for r in result.reasoning] == [
            [part["text"] for part in item.get("content") or []] for item in reasoning
        ]


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_cut_anywhere_is_a_prefix(name: str) -> None:
    """Fed event by event, the live snapshot only ever grows towards the final values."""
    events = fixture_events(name)
    finals = accumulate_all(events)
    acc = Accumulator()
    for event in events:
        acc.feed(event)
        now = acc.snapshot()
        final = finals[acc.response_count - 1]
        assert final.output_text.startswith(now.output_text)
        final_args = {c.item_id: c.arguments for c in final.function_calls}
        for call in now.function_calls:
            assert final_args[call.item_id].startswith(call.arguments)
        assert not now.problems
    assert acc.results() == finals


@pytest.mark.parametrize("name", STREAMS)
def test_fixture_truncated_before_its_end(name: str) -> None:
    """Cut just before each terminal event: outcome truncated, text and arguments all there."""
    events = fixture_events(name)
    ends = [i for i, event in enumerate(events) if event.type in TERMINAL]
    finals = accumulate_all(events)
    assert len(ends) == len(finals)
    for final, start, end in zip(finals, [0] + [i + 1 for i in ends], ends, strict=False):
        cut = accumulate(events[start:end])
        expected = "error" if any(e.type == "error" for e in events[start:end]) else "truncated"
        assert cut.outcome == expected
        assert cut.output_text == final.output_text
        assert [(c.call_id, c.name, c.arguments) for c in cut.function_calls] == [
            (c.call_id, c.name, c.arguments) for c in final.function_calls
        ]
        assert cut.response is not None
        assert cut.response.status in ("in_progress", "queued")
        assert cut.response.output == list(cut.items)
        assert cut.usage is None
        assert not cut.problems


def test_multi_response_recording_gives_four_results() -> None:
    name = "vercel-ai/openai/openai-reasoning-encrypted-content.1.chunks.txt"
    events = fixture_events(name)
    results = accumulate_all(events)
    assert len(results) == 4
    assert len({r.response.id for r in results if r.response is not None}) == 4
    assert sum(r.event_count for r in results) == len(events) == 110
    assert [len(r.function_calls) for r in results] == [1, 1, 1, 0]
    assert results[0].reasoning_summary
    assert results[3].output_text
    with pytest.raises(ValueError, match=r"4 responses.*accumulate_all"):
        accumulate(events)


def test_openai_error_fixture() -> None:
    result = accumulate(fixture_events("vercel-ai/openai/openai-error.1.chunks.txt"))
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.code == "insufficient_quota"
    assert result.error.type == "insufficient_quota"  # from the nested form of the error event
    assert result.error.message.startswith("You exceeded your current quota")
    assert result.output_text == ""
    assert result.event_counts == {
        "response.created": 1,
        "response.in_progress": 1,
        "error": 1,
        "response.failed": 1,
    }


def test_incomplete_fixture() -> None:
    result = accumulate(fixture_events("dd-trace-py/response_stream_incomplete.sse"))
    assert result.outcome == "incomplete"
    assert result.response is not None
    assert result.response.incomplete_details is not None
    assert result.response.incomplete_details.reason == "max_output_tokens"
    assert result.output_text


def test_quirks_are_real_and_named() -> None:
    assert set(QUIRKS) <= set(STREAMS)
    assert set(KNOWN_PROBLEMS) <= set(STREAMS)


def test_quirk_arguments_only_in_done() -> None:
    name = "vercel-ai/open-responses/lmstudio-tool-call.1.chunks.txt"
    events = fixture_events(name)
    assert not any(e.type == "response.function_call_arguments.delta" for e in events)
    (call,) = accumulate(events).function_calls
    assert call.parsed_arguments() == {"location": "San Francisco"}


def test_quirk_resumed_stream() -> None:
    name = "pydantic-ai/test_background_mode_streaming_starting_after_vcr.1.sse"
    events = fixture_events(name)
    assert events[0].type == "response.queued"
    assert getattr(events[0], "sequence_number", None) == 1
    result = accumulate(events)
    assert (result.outcome, result.problems) == ("completed", ())


def test_quirk_reasoning_id_changes_in_final_response() -> None:
    name = "pydantic-ai/test_openai_responses_raw_cot_stream_openrouter.sse"
    result = accumulate(fixture_events(name))
    assert result.response is not None
    final = result.response.output[0]
    assert isinstance(final, ReasoningItem)
    assert final.id == "rs_tmp_ku4i7pagjwn"
    assert [r.item_id for r in result.reasoning] == ["rs_tmp_2kbe7x16sax"]  # as streamed
    assert result.reasoning_text.startswith('The user asks: "What is 2+2?"')
    assert result.event_counts["[DONE]"] == 1


def test_quirk_unclosed_message_before_incomplete() -> None:
    name = "vercel-ai/openai-compatible/reasoning.1.chunks.txt"
    result = accumulate(fixture_events(name))
    assert result.outcome == "incomplete"
    message = result.items[1]
    assert isinstance(message, MessageItem)
    assert message.status == "in_progress"  # its last streamed form: never closed
    assert result.output_text.startswith("The sky appears blue")


# ---------------------------------------------------------------------------------------------
# Synthetic streams, one rule at a time
# ---------------------------------------------------------------------------------------------


class Stream:
    """Builds a stream of decoded events, numbering them the way a server does."""

    def __init__(self, response_id: str = "resp_1", start: int = 0) -> None:
        self.events: list[Event] = []
        self.seq = start
        self.response_id = response_id

    def add(self, type: str, *, seq: int | None = -1, **fields: Any) -> Stream:
        payload: dict[str, Any] = {"type": type, **fields}
        if seq is not None:
            payload["sequence_number"] = self.seq if seq == -1 else seq
            self.seq = payload["sequence_number"] + 1
        self.events.append(decode_event(json.dumps(payload)))
        return self

    def response(self, status: str = "in_progress", output: Any = (), **extra: Any) -> Any:
        return {"id": self.response_id, "status": status, "output": list(output), **extra}

    def created(self) -> Stream:
        return self.add("response.created", response=self.response()).add(
            "response.in_progress", response=self.response()
        )

    def message(self, item_id: str, index: int) -> Stream:
        item = {"type": "message", "id": item_id, "role": "assistant", "content": []}
        return self.add("response.output_item.added", output_index=index, item=item)

    def text(
        self, item_id: str, index: int, delta: str, content_index: int = 0, seq: int | None = -1
    ) -> Stream:
        return self.add(
            "response.output_text.delta",
            seq=seq,
            item_id=item_id,
            output_index=index,
            content_index=content_index,
            delta=delta,
        )

    def text_done(self, item_id: str, index: int, text: str, content_index: int = 0) -> Stream:
        return self.add(
            "response.output_text.done",
            item_id=item_id,
            output_index=index,
            content_index=content_index,
            text=text,
        )

    def call(self, item_id: str, index: int, name: str = "f") -> Stream:
        item = {"type": "function_call", "id": item_id, "call_id": f"call_{item_id}", "name": name}
        return self.add("response.output_item.added", output_index=index, item=item)

    def args(self, item_id: str, index: int, delta: str) -> Stream:
        return self.add(
            "response.function_call_arguments.delta",
            item_id=item_id,
            output_index=index,
            delta=delta,
        )

    def completed(self, output: Any = (), usage: Any = None) -> Stream:
        response = self.response("completed", output, usage=usage)
        return self.add("response.completed", response=response)


def message_json(item_id: str, *texts: str) -> dict[str, Any]:
    parts = [{"type": "output_text", "text": text, "annotations": []} for text in texts]
    return {"type": "message", "id": item_id, "role": "assistant", "content": parts}


def kinds(result: StreamResult) -> list[str]:
    return [p.kind for p in result.problems]


def test_simple_text_stream() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "Hel").text("m", 0, "lo")
    s.text_done("m", 0, "Hello").completed([message_json("m", "Hello")], {"input_tokens": 3})
    result = accumulate(s.events)
    assert result.outcome == "completed"
    assert result.output_text == "Hello"
    assert result.usage is not None
    assert result.usage.input_tokens == 3
    assert result.problems == ()
    assert result.event_count == 7
    assert result.event_counts["response.output_text.delta"] == 2


def test_sequence_gap_repeat_and_backwards() -> None:
    s = Stream().created().message("m", 0)
    s.text("m", 0, "a", seq=5).text("m", 0, "b", seq=5).text("m", 0, "c", seq=4)
    s.text("m", 0, "d").completed([message_json("m", "abcd")])
    result = accumulate(s.events)
    assert result.problems == (
        Problem(
            kind="sequence",
            message="response.output_text.delta has sequence_number 5, expected 3",
            index=3,
            sequence_number=5,
        ),
        Problem(
            kind="sequence",
            message="response.output_text.delta has sequence_number 5, expected 6",
            index=4,
            sequence_number=5,
        ),
        Problem(
            kind="sequence",
            message="response.output_text.delta has sequence_number 4, expected 6",
            index=5,
            sequence_number=4,
        ),
    )
    assert result.output_text == "abcd"  # the text is still folded


def test_sequence_may_start_anywhere_and_may_be_absent() -> None:
    resumed = Stream(start=7).created().message("m", 0).text("m", 0, "x").completed()
    assert accumulate(resumed.events).problems == ()
    old = Stream().add("response.created", seq=None, response=Stream().response())
    old.message("m", 0).text("m", 0, "x", seq=None).completed()
    assert accumulate(old.events).problems == ()


@pytest.mark.parametrize(
    ("done_type", "field", "value"),
    [
        ("response.output_text.done", "text", "Help"),
        ("response.content_part.done", "part", {"type": "output_text", "text": "Help"}),
        ("response.output_item.done", "item", message_json("m", "Help")),
        ("response.completed", "response", None),
    ],
)
def test_done_mismatch(done_type: str, field: str, value: Any) -> None:
    s = Stream().created().message("m", 0).text("m", 0, "Hel").text("m", 0, "lo")
    if value is None:
        value = s.response("completed", [message_json("m", "Help")])
    if done_type in ("response.output_item.done",):
        s.add(done_type, output_index=0, **{field: value})
    elif done_type == "response.completed":
        s.add(done_type, **{field: value})
    else:
        s.add(done_type, item_id="m", output_index=0, content_index=0, **{field: value})
    result = accumulate(s.events)
    assert kinds(result) == ["done_mismatch"]
    problem = result.problems[0]
    assert problem.index == 5
    assert "first difference at 3: 'lo' vs 'p'" in problem.message
    # An `output_text.done` is the value from then on; the other finished forms are only checked.
    expected = "Help" if done_type == "response.output_text.done" else "Hello"
    assert result.output_text == expected


def test_done_mismatch_of_function_arguments() -> None:
    s = Stream().created().call("fc", 0).args("fc", 0, '{"a":').args("fc", 0, " 1}")
    s.add(
        "response.function_call_arguments.done",
        item_id="fc",
        output_index=0,
        arguments='{"a": 2}',
    )
    result = accumulate(s.events)
    assert kinds(result) == ["done_mismatch"]
    assert result.function_calls[0].arguments == '{"a": 2}'


def test_done_without_deltas_is_the_value() -> None:
    s = Stream().created().call("fc", 0)
    s.add(
        "response.function_call_arguments.done",
        item_id="fc",
        output_index=0,
        arguments='{"x": 1}',
        name="lookup",
    )
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.function_calls == (
        FunctionCall(
            call_id="call_fc", name="f", arguments='{"x": 1}', item_id="fc", output_index=0
        ),
    )


def test_delta_for_an_item_never_added() -> None:
    s = Stream().created().text("ghost", 0, "boo").text("ghost", 0, "!")
    result = accumulate(s.events)
    assert kinds(result) == ["unknown_item"]  # once per item, not per event
    assert result.problems[0].index == 2
    assert "'ghost'" in result.problems[0].message
    assert result.output_text == "boo!"  # still shown, in a message rebuilt around it
    assert result.outcome == "truncated"


def test_events_after_the_terminal_event() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "a").completed([message_json("m", "a")])
    s.text("m", 0, "late")
    result = accumulate(s.events)
    assert kinds(result) == ["after_terminal"]
    assert result.problems[0].message == "response.output_text.delta after response.completed"
    assert result.output_text == "a"  # nothing folded after the end


def test_events_after_done() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "a").completed([message_json("m", "a")])
    s.events.append(Done())
    s.text("m", 0, "late")
    s.events.append(Done())
    result = accumulate(s.events)
    assert kinds(result) == ["after_terminal", "after_terminal"]
    assert result.problems[0].message == "response.output_text.delta after [DONE]"
    assert result.problems[1].message == "[DONE] after [DONE]"


def test_done_and_keepalives_are_not_problems() -> None:
    s = Stream().add("keepalive").created().add("response.keep_alive", seq=None)
    s.message("m", 0).add("keepalive").text("m", 0, "a").completed([message_json("m", "a")])
    s.events.append(Done())
    s.add("keepalive")
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.event_counts["keepalive"] == 3
    assert result.event_counts["[DONE]"] == 1


def test_stream_ended_by_done_without_terminal_event() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "partial")
    s.events.append(Done())
    result = accumulate(s.events)
    assert (result.outcome, result.output_text, result.problems) == ("truncated", "partial", ())


def test_more_than_one_terminal_event() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "a").completed([message_json("m", "a")])
    s.add("response.failed", response=s.response("failed"))
    result = accumulate(s.events)
    assert kinds(result) == ["duplicate_terminal"]
    assert result.outcome == "completed"  # the first one stands


def test_malformed_event_is_a_problem() -> None:
    decoder = EventDecoder(strict=False)
    events = decoder.feed(b'data: {"type":"response.output_text.delta","sequence_number":0}\n\n')
    assert isinstance(events[0], MalformedEvent)
    result = accumulate(events)
    assert kinds(result) == ["malformed"]
    assert result.problems[0].message == events[0].error


def test_unknown_events_pass_through() -> None:
    s = Stream().created().add("response.something_new", foo=1)
    s.message("m", 0).text("m", 0, "a").completed([message_json("m", "a")])
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.event_counts["response.something_new"] == 1


def test_unknown_event_sequence_numbers_count() -> None:
    s = Stream().created().add("response.something_new", seq=9).completed()  # completed is 10
    (problem,) = accumulate(s.events).problems
    assert (problem.kind, problem.sequence_number, problem.index) == ("sequence", 9, 2)


def test_error_event_alone() -> None:
    s = Stream().created().add("error", code="server_error", message="boom", param=None)
    result = accumulate(s.events)
    assert result.outcome == "error"
    assert result.error is not None
    assert (result.error.code, result.error.message) == ("server_error", "boom")


def test_failed_response_error() -> None:
    s = Stream().created()
    error = {"code": "rate_limit_exceeded", "message": "slow down"}
    s.add("response.failed", response=s.response("failed", error=error))
    result = accumulate(s.events)
    assert result.outcome == "failed"
    assert result.error is not None
    assert result.error.code == "rate_limit_exceeded"


def test_interleaved_items_and_parts_keep_their_own_text() -> None:
    s = Stream().created().message("a", 0).message("b", 1)
    s.text("b", 1, "B1").text("a", 0, "A1").text("a", 0, "x", content_index=1)
    s.text("b", 1, "B2").text("a", 0, "A2").text("a", 0, "y", content_index=1)
    summary = {"type": "summary_text", "text": ""}
    s.add("response.output_item.added", output_index=2, item={"type": "reasoning", "id": "r"})
    for index in (0, 1):
        s.add(
            "response.reasoning_summary_part.added",
            item_id="r",
            output_index=2,
            summary_index=index,
            part=summary,
        )
    for index, delta in ((1, "second"), (0, "first"), (1, "!"), (0, "!")):
        s.add(
            "response.reasoning_summary_text.delta",
            item_id="r",
            output_index=2,
            summary_index=index,
            delta=delta,
        )
    s.call("c2", 4).call("c1", 3).args("c1", 3, "{}").args("c2", 4, '{"k"').args("c2", 4, ":0}")
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.output_text == "A1A2xyB1B2"  # output order, then part order
    assert result.reasoning[0].summary == ("first!", "second!")
    assert result.reasoning_summary == "first!\n\nsecond!"
    assert [(c.item_id, c.arguments, c.output_index) for c in result.function_calls] == [
        ("c1", "{}", 3),
        ("c2", '{"k":0}', 4),
    ]
    assert result.function_calls[1].parsed_arguments() == {"k": 0}


def test_truncated_stream_rebuilds_the_response() -> None:
    s = Stream().created().message("m", 0)
    s.add(
        "response.content_part.added",
        item_id="m",
        output_index=0,
        content_index=0,
        part={"type": "output_text", "text": "", "annotations": []},
    )
    s.text("m", 0, "so far").call("fc", 1, "lookup").args("fc", 1, '{"q": "ab')
    result = accumulate(s.events)
    assert result.outcome == "truncated"
    assert result.output_text == "so far"
    assert result.function_calls[0].name == "lookup"
    assert result.function_calls[0].arguments == '{"q": "ab'
    with pytest.raises(ValueError, match="truncated"):
        result.function_calls[0].parsed_arguments()
    assert result.response is not None
    assert result.response.id == "resp_1"
    assert result.response.status == "in_progress"
    message, call = result.response.output
    assert isinstance(message, MessageItem)
    assert message.content == [OutputTextPart(text="so far", annotations=[])]
    assert isinstance(call, FunctionCallItem)
    assert call.arguments == '{"q": "ab'


def test_refusal() -> None:
    s = Stream().created().message("m", 0)
    for delta in ("I can't", " help"):
        s.add("response.refusal.delta", item_id="m", output_index=0, content_index=0, delta=delta)
    s.add(
        "response.refusal.done",
        item_id="m",
        output_index=0,
        content_index=0,
        refusal="I can't help",
    )
    result = accumulate(s.events)
    assert (result.refusal, result.output_text, result.problems) == ("I can't help", "", ())


def test_several_responses() -> None:
    first = Stream("resp_a").created().message("m1", 0).text("m1", 0, "one").completed()
    first.events.append(Done())
    second = Stream("resp_b").created().message("m2", 0).text("m2", 0, "two")
    events = first.events + second.events
    results = accumulate_all(events)
    assert [(r.outcome, r.output_text) for r in results] == [
        ("completed", "one"),
        ("truncated", "two"),
    ]
    assert all(r.problems == () for r in results)
    with pytest.raises(ValueError, match="2 responses"):
        accumulate(events)
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    assert acc.response_count == 2
    assert acc.event_count == len(events)
    assert acc.snapshot() == results[1]
    assert acc.results() == results
    # Problem indexes count every event fed, across responses.
    late = Stream("resp_b").created().message("m2", 0).completed()
    late.text("m2", 0, "x")
    (problem,) = accumulate_all(first.events + late.events)[1].problems
    assert problem.index == len(first.events) + 4


def test_new_response_id_without_created_starts_a_response() -> None:
    first = Stream("resp_a").created().completed()
    second = Stream("resp_b", start=1)
    second.add("response.queued", response=second.response("queued"))
    second.add("response.in_progress", response=second.response()).completed()
    results = accumulate_all(first.events + second.events)
    assert [r.response.id for r in results if r.response is not None] == ["resp_a", "resp_b"]
    assert all(r.problems == () for r in results)


def test_empty_stream() -> None:
    assert accumulate_all([]) == []
    result = accumulate([])
    assert (result.outcome, result.response, result.event_count) == ("truncated", None, 0)
    assert Accumulator().results() == []


def test_result_encodes_as_json() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "hi").completed([message_json("m", "hi")])
    data = json.loads(msgspec.json.encode(accumulate(s.events)))
    assert data["outcome"] == "completed"
    assert data["output_text"] == "hi"
    assert data["response"]["output"][0]["content"][0]["text"] == "hi"


def test_parsed_arguments_of_empty_arguments() -> None:
    call = FunctionCall(call_id="c", name="f", arguments="", item_id=None, output_index=0)
    assert call.parsed_arguments() == {}


# ---------------------------------------------------------------------------------------------
# Property: any split of any texts, interleaved any way, folds back to the texts
# ---------------------------------------------------------------------------------------------


def splits(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(c, len(text)) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)] or [""]


@st.composite
def interleavings(draw: st.DrawFn) -> tuple[list[str], str, list[tuple[int, str]]]:
    texts = draw(st.lists(st.text(max_size=30), min_size=1, max_size=3))
    args = draw(st.text(max_size=30))
    channels = [splits(t, draw(st.lists(st.integers(0, 30), max_size=5))) for t in texts]
    channels.append(splits(args, draw(st.lists(st.integers(0, 30), max_size=5))))
    order: list[tuple[int, str]] = []
    queues = [list(c) for c in channels]
    while any(queues):
        live = [i for i, q in enumerate(queues) if q]
        i = draw(st.sampled_from(live))
        order.append((i, queues[i].pop(0)))
    return texts, args, order


@given(interleavings())
def test_any_interleaving_folds_back(case: tuple[list[str], str, list[tuple[int, str]]]) -> None:
    texts, args, order = case
    s = Stream().created()
    for i in range(len(texts)):
        s.message(f"m{i}", i)
    s.call("fc", len(texts))
    for channel, delta in order:
        if channel == len(texts):
            s.args("fc", channel, delta)
        else:
            s.text(f"m{channel}", channel, delta)
    for i, text in enumerate(texts):
        s.text_done(f"m{i}", i, text)
    output = [message_json(f"m{i}", t) for i, t in enumerate(texts)]
    output.append(
        {"type": "function_call", "id": "fc", "call_id": "c", "name": "f", "arguments": args}
    )
    s.completed(output)
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.output_text == "".join(texts)
    assert result.function_calls[0].arguments == args


def _events_of(stream: Stream) -> Iterator[Event]:
    yield from stream.events


def test_accumulate_takes_any_iterable() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "gen").completed()
    assert accumulate(_events_of(s)).output_text == "gen"


def test_items_only_in_the_final_response() -> None:
    s = Stream().created()
    call = {"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"a": 1}'}
    s.completed([message_json("m", "never streamed"), call])
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.output_text == "never streamed"
    assert result.function_calls == (
        FunctionCall(call_id="c", name="f", arguments='{"a": 1}', item_id=None, output_index=1),
    )


def test_part_text_never_streamed_is_taken_whole() -> None:
    s = Stream().created().message("m", 0)
    part = {"type": "output_text", "text": "whole", "annotations": []}
    s.add("response.content_part.done", item_id="m", output_index=0, content_index=0, part=part)
    result = accumulate(s.events)
    assert (result.output_text, result.problems) == ("whole", ())


def test_done_longer_than_its_deltas() -> None:
    s = Stream().created().message("m", 0).text("m", 0, "Hello").text_done("m", 0, "Hello world")
    (problem,) = accumulate(s.events).problems
    assert "streamed 5 chars, final has 11; first difference at 5: '' vs ' world'" in (
        problem.message
    )


def test_id_less_items_are_matched_by_output_index() -> None:
    s = Stream().created()
    item = {"type": "function_call", "call_id": "c", "name": "f", "arguments": ""}
    s.add("response.output_item.added", output_index=0, item=item)
    s.add("response.output_item.done", output_index=0, item={**item, "arguments": "{}"})
    result = accumulate(s.events)
    assert result.problems == ()
    assert [c.arguments for c in result.function_calls] == ["{}"]


def test_unknown_item_types_are_kept() -> None:
    s = Stream().created()
    item = {"type": "brand_new_tool_call", "id": "n1", "status": "in_progress"}
    s.add("response.output_item.added", output_index=0, item=item)
    s.add("response.output_item.done", output_index=0, item={**item, "status": "completed"})
    result = accumulate(s.events)
    assert result.problems == ()
    (kept,) = result.items
    assert kept.type == "unknown"
    assert getattr(kept, "original_type", None) == "brand_new_tool_call"


@pytest.mark.parametrize(
    ("delta_type", "fields", "item_type"),
    [
        ("response.reasoning_summary_text.delta", {"summary_index": 0}, ReasoningItem),
        ("response.reasoning_text.delta", {"content_index": 0}, ReasoningItem),
        ("response.function_call_arguments.delta", {}, FunctionCallItem),
        ("response.code_interpreter_call_code.delta", {}, None),
    ],
)
def test_never_added_items_are_rebuilt_from_their_deltas(
    delta_type: str, fields: dict[str, Any], item_type: type[Any] | None
) -> None:
    s = Stream().created().add(delta_type, item_id="x", output_index=0, delta="abc", **fields)
    result = accumulate(s.events)
    assert kinds(result) == ["unknown_item"]
    if item_type is None:
        assert result.items == ()
    else:
        (item,) = result.items
        assert isinstance(item, item_type)
        assert item.id == "x"
    if item_type is ReasoningItem:
        assert (result.reasoning_summary + result.reasoning_text) == "abc"
    if item_type is FunctionCallItem:
        assert result.function_calls[0].arguments == "abc"


def test_events_without_an_item_are_counted_only() -> None:
    s = Stream().created().add("response.audio.delta", delta="AAAA").add("response.audio.done")
    result = accumulate(s.events)
    assert result.problems == ()
    assert result.event_counts["response.audio.delta"] == 1
