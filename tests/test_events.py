"""Tests of streamtape.events: one Struct per wire event type, and leniency on real streams."""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamtape import events
from streamtape.events import (
    EVENT_TYPES,
    TERMINAL_TYPES,
    BaseEvent,
    ErrorEvent,
    KeepAlive,
    MessageItem,
    OutputTextPart,
    ReasoningItem,
    Response,
    ResponseCompletedEvent,
    TaggedEvent,
    UnknownObject,
)

FIXTURES = Path(__file__).parent / "fixtures"
DECODER = msgspec.json.Decoder(TaggedEvent)

# The 49 tags of OpenRouter's StreamEvents union (spec §2), copied from the spec's table.
OPENROUTER_TAGS = [
    "response.created",
    "response.in_progress",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
    "response.debug",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_text.delta",
    "response.output_text.done",
    "response.output_text.annotation.added",
    "response.refusal.delta",
    "response.refusal.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.custom_tool_call_input.delta",
    "response.custom_tool_call_input.done",
    "response.reasoning_text.delta",
    "response.reasoning_text.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_part.done",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.web_search_call.in_progress",
    "response.web_search_call.searching",
    "response.web_search_call.completed",
    "response.code_interpreter_call.in_progress",
    "response.code_interpreter_call.interpreting",
    "response.code_interpreter_call.completed",
    "response.code_interpreter_call_code.delta",
    "response.code_interpreter_call_code.done",
    "response.image_generation_call.in_progress",
    "response.image_generation_call.generating",
    "response.image_generation_call.partial_image",
    "response.image_generation_call.completed",
    "response.apply_patch_call_operation_diff.delta",
    "response.apply_patch_call_operation_diff.done",
    "response.fusion_call.in_progress",
    "response.fusion_call.completed",
    "response.fusion_call.panel.added",
    "response.fusion_call.panel.delta",
    "response.fusion_call.panel.reasoning.delta",
    "response.fusion_call.panel.completed",
    "response.fusion_call.panel.failed",
    "response.fusion_call.analysis.in_progress",
    "response.fusion_call.analysis.completed",
]

# The 22 tags in OpenAI's union but not in OpenRouter's (spec §4).
OPENAI_ONLY_TAGS = [
    "response.queued",
    "response.audio.delta",
    "response.audio.done",
    "response.audio.transcript.delta",
    "response.audio.transcript.done",
    "response.file_search_call.in_progress",
    "response.file_search_call.searching",
    "response.file_search_call.completed",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_list_tools.in_progress",
    "response.mcp_list_tools.completed",
    "response.mcp_list_tools.failed",
    "response.compaction.compacting",
    "response.shell_call_command.added",
    "response.shell_call_command.delta",
    "response.shell_call_command.done",
    "response.shell_call_output_content.delta",
    "response.shell_call_output_content.done",
]

KEEPALIVE_TAGS = ["response.keep_alive", "keepalive"]

ALL_TAGS = OPENROUTER_TAGS + OPENAI_ONLY_TAGS + KEEPALIVE_TAGS

# Output item types of spec §3.2: OpenRouter's union, its server tools, then OpenAI's extras.
ITEM_TAGS = [
    "message",
    "reasoning",
    "function_call",
    "custom_tool_call",
    "web_search_call",
    "file_search_call",
    "image_generation_call",
    "code_interpreter_call",
    "computer_call",
    "apply_patch_call",
    "shell_call",
    "shell_call_output",
    "tool_search_call",
    "openrouter:web_search",
    "openrouter:web_fetch",
    "openrouter:file_search",
    "openrouter:files",
    "openrouter:code_interpreter",
    "openrouter:bash",
    "openrouter:shell",
    "openrouter:text_editor",
    "openrouter:apply_patch",
    "openrouter:image_generation",
    "openrouter:browser_use",
    "openrouter:mcp",
    "openrouter:memory",
    "openrouter:datetime",
    "openrouter:tool_search",
    "openrouter:experimental__search_models",
    "openrouter:subagent",
    "openrouter:advisor",
    "openrouter:fusion",
    "openrouter:armor_blocked",
    "function_call_output",
    "computer_call_output",
    "custom_tool_call_output",
    "apply_patch_call_output",
    "local_shell_call",
    "local_shell_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "program",
    "program_output",
    "tool_search_output",
    "additional_tools",
    "compaction",
]
PART_TAGS = ["output_text", "refusal", "reasoning_text", "summary_text"]
ANNOTATION_TAGS = ["url_citation", "file_citation", "file_path", "container_file_citation"]

# Required event fields (besides the tag): what a strict decoder must be able to report missing.
_I = {"item_id", "output_index"}
_C = _I | {"content_index"}
_S = _I | {"summary_index"}
_P = _I | {"model"}
_SH = {"output_index", "command_index"}
_R = {"response"}
REQUIRED: dict[str, set[str]] = {
    "response.created": _R,
    "response.queued": _R,
    "response.in_progress": _R,
    "response.completed": _R,
    "response.incomplete": _R,
    "response.failed": _R,
    "error": set(),
    "response.debug": {"debug"},
    "response.keep_alive": set(),
    "keepalive": set(),
    "response.output_item.added": {"output_index", "item"},
    "response.output_item.done": {"output_index", "item"},
    "response.content_part.added": _C | {"part"},
    "response.content_part.done": _C | {"part"},
    "response.output_text.delta": _C | {"delta"},
    "response.output_text.done": _C | {"text"},
    "response.output_text.annotation.added": _C | {"annotation_index"},
    "response.refusal.delta": _C | {"delta"},
    "response.refusal.done": _C | {"refusal"},
    "response.reasoning_text.delta": _C | {"delta"},
    "response.reasoning_text.done": _C | {"text"},
    "response.reasoning_summary_part.added": _S | {"part"},
    "response.reasoning_summary_part.done": _S | {"part"},
    "response.reasoning_summary_text.delta": _S | {"delta"},
    "response.reasoning_summary_text.done": _S | {"text"},
    "response.function_call_arguments.delta": _I | {"delta"},
    "response.function_call_arguments.done": _I | {"arguments"},
    "response.custom_tool_call_input.delta": _I | {"delta"},
    "response.custom_tool_call_input.done": _I | {"input"},
    "response.web_search_call.in_progress": _I,
    "response.web_search_call.searching": _I,
    "response.web_search_call.completed": _I,
    "response.file_search_call.in_progress": _I,
    "response.file_search_call.searching": _I,
    "response.file_search_call.completed": _I,
    "response.code_interpreter_call.in_progress": _I,
    "response.code_interpreter_call.interpreting": _I,
    "response.code_interpreter_call.completed": _I,
    "response.code_interpreter_call_code.delta": _I | {"delta"},
    "response.code_interpreter_call_code.done": _I | {"code"},
    "response.image_generation_call.in_progress": _I,
    "response.image_generation_call.generating": _I,
    "response.image_generation_call.partial_image": _I
    | {"partial_image_b64", "partial_image_index"},
    "response.image_generation_call.completed": _I,
    "response.apply_patch_call_operation_diff.delta": _I | {"delta"},
    "response.apply_patch_call_operation_diff.done": _I | {"diff"},
    "response.fusion_call.in_progress": _I,
    "response.fusion_call.completed": _I,
    "response.fusion_call.panel.added": _P,
    "response.fusion_call.panel.delta": _P | {"delta"},
    "response.fusion_call.panel.reasoning.delta": _P | {"delta"},
    "response.fusion_call.panel.completed": _P | {"content"},
    "response.fusion_call.panel.failed": _P | {"error"},
    "response.fusion_call.analysis.in_progress": _I | {"analyst_model", "judge_model"},
    "response.fusion_call.analysis.completed": _I | {"analysis"},
    "response.audio.delta": {"delta"},
    "response.audio.done": set(),
    "response.audio.transcript.delta": {"delta"},
    "response.audio.transcript.done": set(),
    "response.mcp_call.in_progress": _I,
    "response.mcp_call.completed": _I,
    "response.mcp_call.failed": _I,
    "response.mcp_call_arguments.delta": _I | {"delta"},
    "response.mcp_call_arguments.done": _I | {"arguments"},
    "response.mcp_list_tools.in_progress": _I,
    "response.mcp_list_tools.completed": _I,
    "response.mcp_list_tools.failed": _I,
    "response.compaction.compacting": _I,
    "response.shell_call_command.added": _SH | {"command"},
    "response.shell_call_command.delta": _SH | {"delta"},
    "response.shell_call_command.done": _SH | {"command"},
    "response.shell_call_output_content.delta": _I | {"command_index", "delta"},
    "response.shell_call_output_content.done": _I | {"command_index", "output"},
}

_VALUES: dict[str, Any] = {
    "item_id": "item_1",
    "output_index": 2,
    "content_index": 1,
    "summary_index": 1,
    "annotation_index": 0,
    "command_index": 0,
    "delta": "frag",
    "text": "full text",
    "refusal": "no",
    "arguments": '{"a": 1}',
    "input": "raw input",
    "code": "print(1)",
    "diff": "-a\n+b\n",
    "partial_image_b64": "iVBORw0KGgo=",
    "partial_image_index": 0,
    "model": "openai/gpt-4o",
    "analyst_model": "m1",
    "judge_model": "m2",
    "content": "panel answer",
    "error": "upstream 502",
    "analysis": {"consensus": ["x"]},
    "debug": {"timings": {"epoch_ms": 1}},
    "command": "ls -la",
    "output": [{"stdout": "a", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}],
    "response": {"id": "resp_1", "status": "in_progress", "output": []},
    "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []},
    "part": {"type": "output_text", "text": "", "annotations": []},
}


def _value(tag: str, field: str) -> Any:
    if tag == "response.shell_call_output_content.delta" and field == "delta":
        return {"stdout": "out", "stderr": None}
    if tag.startswith("response.reasoning_summary_part.") and field == "part":
        return {"type": "summary_text", "text": "sum"}
    return _VALUES[field]


def minimal_payload(tag: str) -> dict[str, Any]:
    """The smallest payload of ``tag``: its tag and its required fields only."""
    return {"type": tag, **{f: _value(tag, f) for f in sorted(REQUIRED[tag])}}


def _class_name(tag: str, suffix: str) -> str:
    """The naming rule: split on ".", ":" and "_", capitalize the pieces, add the suffix."""
    return "".join(p.capitalize() for p in re.split(r"[.:_]", tag)) + suffix


def _decode(payload: dict[str, Any]) -> Any:
    return DECODER.decode(json.dumps(payload).encode())


# ---------------------------------------------------------------------------- tags and classes


def test_spec_tag_lists_have_the_documented_sizes() -> None:
    assert len(set(OPENROUTER_TAGS)) == 49
    assert len(set(OPENAI_ONLY_TAGS)) == 22
    assert len(set(ALL_TAGS)) == 73
    assert set(REQUIRED) == set(ALL_TAGS)


@pytest.mark.parametrize("tag", ALL_TAGS)
def test_every_spec_tag_has_its_class(tag: str) -> None:
    cls = EVENT_TYPES[tag]
    assert cls.type == tag
    assert cls.__struct_config__.tag == tag
    assert cls.__name__ == _class_name(tag, "Event")
    assert getattr(events, cls.__name__) is cls
    assert issubclass(cls, BaseEvent)


def test_event_types_holds_exactly_the_spec_tags() -> None:
    assert set(EVENT_TYPES) == set(ALL_TAGS)
    assert set(EVENT_TYPES.values()) == set(get_args(TaggedEvent))


def test_keepalives_share_a_base_and_default_sequence_number() -> None:
    for tag in KEEPALIVE_TAGS:
        assert issubclass(EVENT_TYPES[tag], KeepAlive)
        assert _decode({"type": tag}).sequence_number is None
    assert _decode({"type": "keepalive", "sequence_number": 7}).sequence_number == 7


def test_terminal_types() -> None:
    assert {"response.completed", "response.incomplete", "response.failed"} == TERMINAL_TYPES
    assert {c.type for c in get_args(events.TerminalEvent)} == TERMINAL_TYPES


def test_public_names_exist() -> None:
    for name in events.__all__:
        assert hasattr(events, name), name


def _declared_tags() -> dict[type[Any], str]:
    """Every class of the module declared with ``tag=`` (bases get their class name as tag)."""
    return {
        cls: cls.__struct_config__.tag
        for cls in vars(events).values()
        if isinstance(cls, type)
        and issubclass(cls, msgspec.Struct)
        and isinstance(cls.__struct_config__.tag, str)
        and cls.__struct_config__.tag != cls.__name__
    }


def test_an_event_class_is_written_once_and_found_everywhere() -> None:
    """A new event class needs only its class statement and its line in TaggedEvent: the tag
    is its ``type``, and a class missing from the union or from ``__all__`` fails here."""
    declared = _declared_tags()
    concrete_events = {cls for cls in declared if issubclass(cls, BaseEvent)}
    assert concrete_events == set(get_args(TaggedEvent))
    for cls, tag in declared.items():
        assert cls.type == tag
        assert cls.__name__ in events.__all__, cls.__name__
        assert "type" not in cls.__dict__ or cls in (BaseEvent, events._Tagged)
    public = {
        name
        for name, value in vars(events).items()
        if isinstance(value, type)
        and value.__module__ == events.__name__
        and not name.startswith("_")
    }
    assert public <= set(events.__all__)


@pytest.mark.parametrize(
    ("union", "tags", "suffix"),
    [
        (events.OutputItem, ITEM_TAGS, "Item"),
        (events.ContentPart, PART_TAGS, "Part"),
        (events.Annotation, ANNOTATION_TAGS, "Annotation"),
    ],
    ids=["items", "parts", "annotations"],
)
def test_nested_unions_cover_the_spec(union: Any, tags: list[str], suffix: str) -> None:
    members = get_args(union)
    assert UnknownObject in members
    by_tag = {m.type: m for m in members if m is not UnknownObject}
    assert sorted(by_tag) == sorted(tags)
    for tag, cls in by_tag.items():
        assert cls.__struct_config__.tag == tag
        assert cls.__name__ == _class_name(tag, suffix)


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("tag", ALL_TAGS)
def test_minimal_payload_round_trips(tag: str) -> None:
    event = _decode(minimal_payload(tag))
    assert type(event) is EVENT_TYPES[tag]
    assert event.type == tag
    encoded = msgspec.json.encode(event)
    assert json.loads(encoded)["type"] == tag
    assert DECODER.decode(encoded) == event


@pytest.mark.parametrize(
    ("tag", "field"),
    [(tag, field) for tag in ALL_TAGS for field in sorted(REQUIRED[tag])],
)
def test_missing_required_field_raises(tag: str, field: str) -> None:
    payload = minimal_payload(tag)
    del payload[field]
    with pytest.raises(msgspec.ValidationError, match=f"missing required field `{field}`"):
        _decode(payload)


def test_events_are_frozen_and_untracked_by_gc() -> None:
    event = _decode(minimal_payload("response.output_text.delta"))
    with pytest.raises(AttributeError):
        event.delta = "other"
    completed = _decode({"type": "response.completed", "response": {"output": [_VALUES["item"]]}})
    assert not gc.is_tracked(event)
    assert not gc.is_tracked(completed)
    assert not gc.is_tracked(completed.response)
    assert not gc.is_tracked(completed.response.output[0])


def test_unknown_keys_are_ignored_at_every_level() -> None:
    payload = {
        "type": "response.completed",
        "sequence_number": 9,
        "obfuscation": "xYz",
        "response_id": "resp_1",
        "response": {
            "id": "resp_1",
            "brand_new_field": {"a": [1, 2]},
            "output": [
                {
                    "type": "message",
                    "id": "msg_1",
                    "future": True,
                    "content": [
                        {
                            "type": "output_text",
                            "text": "hi",
                            "extra": 1,
                            "annotations": [{"type": "url_citation", "url": "u", "new": 2}],
                        }
                    ],
                }
            ],
            "usage": {"input_tokens": 1, "num_sources_used": 3},
        },
    }
    event = _decode(payload)
    assert isinstance(event, ResponseCompletedEvent)
    message = event.response.output[0]
    assert isinstance(message, MessageItem)
    part = message.content[0]
    assert isinstance(part, OutputTextPart)
    citation = part.annotations[0]
    assert isinstance(citation, events.UrlCitationAnnotation)
    assert citation.url == "u"
    assert event.response.usage is not None
    assert event.response.usage.input_tokens == 1


def test_sequence_number_may_be_absent() -> None:
    # OpenAI streams recorded before mid-2025 have no sequence_number (pydantic-ai, dd-trace-py).
    event = _decode(
        {"type": "response.output_text.delta", **{f: _VALUES[f] for f in _C}, "delta": "a"}
    )
    assert event.sequence_number is None


# ---------------------------------------------------------------------------- error events


def test_flat_error_event() -> None:
    event = _decode(
        {
            "type": "error",
            "sequence_number": 5,
            "code": "server_error",
            "message": "Upstream closed",
            "param": None,
        }
    )
    assert isinstance(event, ErrorEvent)
    assert (event.code, event.message, event.param) == ("server_error", "Upstream closed", None)
    assert event.error is None
    assert DECODER.decode(msgspec.json.encode(event)) == event


def test_nested_error_event_is_normalized() -> None:
    raw = (
        b'{"type":"error","sequence_number":2,"error":{"type":"insufficient_quota",'
        b'"code":"insufficient_quota","message":"You exceeded your quota","param":"model"}}'
    )
    event = DECODER.decode(raw)
    assert isinstance(event, ErrorEvent)
    assert event.code == "insufficient_quota"
    assert event.message == "You exceeded your quota"
    assert event.param == "model"
    assert event.error is not None
    assert event.error.type == "insufficient_quota"
    assert DECODER.decode(msgspec.json.encode(event)) == event


def test_flat_error_fields_win_over_nested_ones() -> None:
    event = _decode(
        {
            "type": "error",
            "code": "flat",
            "message": "flat msg",
            "error": {"code": "n", "message": "n"},
        }
    )
    assert (event.code, event.message) == ("flat", "flat msg")


def test_error_event_built_in_python_is_normalized_too() -> None:
    event = ErrorEvent(error=events.ErrorDetail(code="c", message="m"))
    assert (event.code, event.message, event.param) == ("c", "m", None)


# ---------------------------------------------------------------------------- numbers


@pytest.mark.parametrize("value", [1767225600, 1767225600.25])
def test_timestamps_and_sampling_accept_int_or_float(value: float) -> None:
    response = {
        "created_at": value,
        "completed_at": value,
        "temperature": value,
        "top_p": value,
    }
    event = _decode({"type": "response.completed", "response": response})
    r = event.response
    for got in (r.created_at, r.completed_at, r.temperature, r.top_p):
        assert got == value
        assert type(got) is type(value)


@pytest.mark.parametrize("value", [0, 8.7e-06])
def test_costs_accept_int_or_float(value: float) -> None:
    usage = {
        "input_tokens": 14,
        "output_tokens": 11,
        "total_tokens": 25,
        "cost": value,
        "is_byok": False,
        "cost_details": {
            "upstream_inference_cost": value,
            "upstream_inference_input_cost": value,
            "upstream_inference_output_cost": value,
            "server_tool_cost": value,
        },
    }
    event = _decode({"type": "response.completed", "response": {"usage": usage}})
    u = event.response.usage
    assert u.cost == value
    assert type(u.cost) is type(value)
    assert u.cost_details.upstream_inference_input_cost == value
    assert u.cost_details.server_tool_cost == value


@pytest.mark.parametrize("value", [0, -0.25])
def test_logprobs_accept_int_or_float(value: float) -> None:
    payload = minimal_payload("response.output_text.delta")
    payload["logprobs"] = [
        {"token": "a", "logprob": value, "bytes": [97], "top_logprobs": [{"logprob": value}]}
    ]
    event = _decode(payload)
    assert event.logprobs[0].logprob == value
    assert type(event.logprobs[0].logprob) is type(value)
    assert event.logprobs[0].top_logprobs[0].logprob == value


@given(
    value=st.one_of(
        st.integers(min_value=-(2**63), max_value=2**63 - 1),
        st.floats(allow_nan=False, allow_infinity=False),
    )
)
def test_int_or_float_number_round_trips_exactly(value: float) -> None:
    event = DECODER.decode(
        msgspec.json.encode({"type": "response.created", "response": {"created_at": value}})
    )
    assert isinstance(event, events.ResponseCreatedEvent)
    assert event.response.created_at == value
    assert type(event.response.created_at) is type(value)
    assert DECODER.decode(msgspec.json.encode(event)) == event


@given(
    delta=st.text(),
    seq=st.integers(min_value=0, max_value=2**31),
    indices=st.tuples(*(st.integers(min_value=0, max_value=10_000),) * 2),
)
def test_text_delta_round_trips(delta: str, seq: int, indices: tuple[int, int]) -> None:
    event = events.ResponseOutputTextDeltaEvent(
        sequence_number=seq,
        item_id="msg_1",
        output_index=indices[0],
        content_index=indices[1],
        delta=delta,
    )
    assert DECODER.decode(msgspec.json.encode(event)) == event


# ---------------------------------------------------------------------------- Response object


def test_response_defaults_every_field() -> None:
    event = _decode({"type": "response.created", "response": {}})
    r = event.response
    assert r == Response()
    assert (r.id, r.output, r.usage, r.tools) == ("", [], None, msgspec.UNSET)


def test_raw_request_echoes_round_trip_byte_for_byte() -> None:
    raw_fields = {
        "tools": b'[{"type":"function","name":"get_weather","parameters":{"type":"object"}}]',
        "instructions": b'"Be brief."',
        "reasoning": b'{"effort":"low","summary":"auto"}',
        "text": b'{"format":{"type":"text"},"verbosity":"medium"}',
        "prompt": b"null",
        "tool_choice": b'"auto"',
    }
    body = b",".join(b'"' + k.encode() + b'":' + v for k, v in raw_fields.items())
    event = DECODER.decode(b'{"type":"response.created","response":{' + body + b"}}")
    assert isinstance(event, events.ResponseCreatedEvent)
    for name, value in raw_fields.items():
        got = getattr(event.response, name)
        assert isinstance(got, msgspec.Raw)
        assert bytes(got) == value
    encoded = msgspec.json.encode(event)
    for name, value in raw_fields.items():
        assert b'"' + name.encode() + b'":' + value in encoded
    assert DECODER.decode(encoded) == event
    # Absent echoes stay absent when encoding.
    empty = msgspec.json.encode(_decode({"type": "response.created", "response": {}}))
    assert b'"tools"' not in empty


def test_openrouter_usage_and_failure_fields() -> None:
    response = {
        "status": "failed",
        "error": {"code": "server_error", "message": "closed", "metadata": {"provider": "x"}},
        "error_type": "provider_unavailable",
        "incomplete_details": None,
        "usage": {
            "input_tokens": 412,
            "input_tokens_details": {"cached_tokens": 3, "cache_write_tokens": None},
            "output_tokens": 38,
            "output_tokens_details": {"reasoning_tokens": 7},
            "total_tokens": 450,
            "cost": 0.000602,
            "is_byok": True,
            "server_tool_use_details": {"web_search_requests": 2},
        },
    }
    r = _decode({"type": "response.failed", "response": response}).response
    assert r.error.code == "server_error"
    assert r.error.metadata == {"provider": "x"}
    assert r.error_type == "provider_unavailable"
    assert r.usage.input_tokens_details.cached_tokens == 3
    assert r.usage.output_tokens_details.reasoning_tokens == 7
    assert r.usage.is_byok is True
    assert r.usage.server_tool_use_details.web_search_requests == 2


def test_incomplete_details_reason_is_open() -> None:
    r = _decode(
        {
            "type": "response.incomplete",
            "response": {"incomplete_details": {"reason": "REASON_MAX_LEN"}},
        }
    ).response
    assert r.incomplete_details.reason == "REASON_MAX_LEN"


def test_openrouter_camel_case_wire_keys() -> None:
    wire = {
        "type": "openrouter:image_generation",
        "status": "completed",
        "revisedPrompt": "a cat",
        "imageB64": "AAAA",
        "imageUrl": "https://x/y.png",
    }
    event = _decode({"type": "response.output_item.done", "output_index": 0, "item": wire})
    item = event.item
    assert isinstance(item, events.OpenrouterImageGenerationItem)
    assert (item.revised_prompt, item.image_b64, item.image_url) == (
        "a cat",
        "AAAA",
        wire["imageUrl"],
    )
    encoded = json.loads(msgspec.json.encode(item))
    assert encoded["revisedPrompt"] == "a cat"
    assert "revised_prompt" not in encoded
    bash = _decode(
        {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "openrouter:bash", "status": "completed", "exitCode": 2},
        }
    ).item
    assert bash.exit_code == 2


def test_async_keyword_field() -> None:
    item = _decode(
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {
                "type": "function_call",
                "call_id": "c",
                "name": "f",
                "arguments": "",
                "async": True,
            },
        }
    ).item
    assert isinstance(item, events.FunctionCallItem)
    assert item.async_ is True
    assert json.loads(msgspec.json.encode(item))["async"] is True


# ---------------------------------------------------------------------------- UnknownObject


def _unknown(original: str) -> dict[str, Any]:
    """An object as the decoder rewrites it after its ``type`` was rejected."""
    return {"type": "unknown", "original_type": original, "data": {"type": original, "k": 1}}


def _message_with(part: Any) -> dict[str, Any]:
    return {"type": "message", "id": "m", "content": [part]}


def _text_with(annotation: Any) -> dict[str, Any]:
    return {"type": "output_text", "text": "t", "annotations": [annotation]}


_C_FIELDS = {"item_id": "i", "output_index": 0, "content_index": 0}
_S_FIELDS = {"item_id": "i", "output_index": 0, "summary_index": 0}

# (name, build the payload around an object, get that object back out of the decoded event,
#  the path msgspec reports when the object's type is unknown)
UNION_POSITIONS: list[tuple[str, Any, Any, str]] = [
    (
        "response.output",
        lambda o: {"type": "response.completed", "response": {"output": [o]}},
        lambda e: e.response.output[0],
        "$.response.output[0].type",
    ),
    (
        "output_item.added.item",
        lambda o: {"type": "response.output_item.added", "output_index": 0, "item": o},
        lambda e: e.item,
        "$.item.type",
    ),
    (
        "output_item.done.item",
        lambda o: {"type": "response.output_item.done", "output_index": 0, "item": o},
        lambda e: e.item,
        "$.item.type",
    ),
    (
        "message.content",
        lambda o: {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": _message_with(o),
        },
        lambda e: e.item.content[0],
        "$.item.content[0].type",
    ),
    (
        "reasoning.summary",
        lambda o: {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "reasoning", "summary": [o]},
        },
        lambda e: e.item.summary[0],
        "$.item.summary[0].type",
    ),
    (
        "reasoning.content",
        lambda o: {
            "type": "response.output_item.done",
            "output_index": 0,
            "item": {"type": "reasoning", "content": [o]},
        },
        lambda e: e.item.content[0],
        "$.item.content[0].type",
    ),
    (
        "content_part.added.part",
        lambda o: {"type": "response.content_part.added", **_C_FIELDS, "part": o},
        lambda e: e.part,
        "$.part.type",
    ),
    (
        "content_part.done.part",
        lambda o: {"type": "response.content_part.done", **_C_FIELDS, "part": o},
        lambda e: e.part,
        "$.part.type",
    ),
    (
        "reasoning_summary_part.added.part",
        lambda o: {"type": "response.reasoning_summary_part.added", **_S_FIELDS, "part": o},
        lambda e: e.part,
        "$.part.type",
    ),
    (
        "reasoning_summary_part.done.part",
        lambda o: {"type": "response.reasoning_summary_part.done", **_S_FIELDS, "part": o},
        lambda e: e.part,
        "$.part.type",
    ),
    (
        "output_text.annotations",
        lambda o: {"type": "response.content_part.done", **_C_FIELDS, "part": _text_with(o)},
        lambda e: e.part.annotations[0],
        "$.part.annotations[0].type",
    ),
    (
        "annotation.added.annotation",
        lambda o: {
            "type": "response.output_text.annotation.added",
            **_C_FIELDS,
            "annotation_index": 0,
            "annotation": o,
        },
        lambda e: e.annotation,
        "$.annotation.type",
    ),
]


@pytest.mark.parametrize(
    ("build", "extract", "path"),
    [p[1:] for p in UNION_POSITIONS],
    ids=[p[0] for p in UNION_POSITIONS],
)
def test_unknown_object_decodes_in_every_union_position(
    build: Any, extract: Any, path: str
) -> None:
    # The raw unknown type is rejected with the path the decoder uses to rewrite the object...
    with pytest.raises(msgspec.ValidationError) as info:
        _decode(build({"type": "brand_new_thing", "k": 1}))
    assert str(info.value) == f"Invalid value 'brand_new_thing' - at `{path}`"
    # ...and the rewritten form decodes into UnknownObject, which round-trips.
    event = _decode(build(_unknown("brand_new_thing")))
    obj = extract(event)
    assert isinstance(obj, UnknownObject)
    assert obj.type == "unknown"
    assert obj.original_type == "brand_new_thing"
    assert obj.data == {"type": "brand_new_thing", "k": 1}
    assert DECODER.decode(msgspec.json.encode(event)) == event


# ---------------------------------------------------------------------------- extras


def test_unknown_event_keeps_raw_json() -> None:
    raw = b'{"type":"response.done","sequence_number":4,"x":[1]}'
    event = events.UnknownEvent(type="response.done", raw=raw)
    assert event.type == "response.done"
    assert event.sequence_number == 4
    assert event.data == {"type": "response.done", "sequence_number": 4, "x": [1]}
    assert (
        events.UnknownEvent(type="x", raw=b'{"type":"x","sequence_number":"7"}').sequence_number
        is None
    )
    assert events.UnknownEvent(type="x", raw=b'{"type":"x"}').sequence_number is None


def test_malformed_and_done() -> None:
    bad = events.MalformedEvent(raw=b'{"type":', error="truncated", offset=120)
    assert (bad.raw, bad.error, bad.offset) == (b'{"type":', "truncated", 120)
    assert bad.type == "[malformed]"
    assert events.Done().type == "[DONE]"
    assert events.Done() == events.Done()
    assert not gc.is_tracked(bad)


# ---------------------------------------------------------------------------- real fixtures


def _payloads() -> Iterator[tuple[str, bytes]]:
    """Every ``data:`` payload of every .sse file and every line of every .chunks.txt file."""
    for path in sorted(FIXTURES.rglob("*")):
        name = str(path.relative_to(FIXTURES))
        if path.suffix == ".sse":
            for line in path.read_bytes().split(b"\n"):
                if line.startswith(b"data:"):
                    data = line[5:].removeprefix(b" ")
                    if data != b"[DONE]":
                        yield name, data
        elif path.name.endswith(".chunks.txt"):
            for line in path.read_bytes().split(b"\n"):
                if line.strip():
                    yield name, line


def _walk(obj: Any) -> Iterator[Any]:
    yield obj
    if isinstance(obj, msgspec.Struct):
        for field in obj.__struct_fields__:
            yield from _walk(getattr(obj, field))
    elif isinstance(obj, list):
        for x in obj:
            yield from _walk(x)


# No fixture holds an item, part or annotation type that the spec leaves undocumented.
UNDOCUMENTED_TYPES_IN_FIXTURES: set[str] = set()


def test_every_fixture_payload_decodes_strictly() -> None:
    decoded: list[Any] = []
    failures: list[str] = []
    for name, data in _payloads():
        try:
            decoded.append(DECODER.decode(data))
        except msgspec.ValidationError as exc:
            failures.append(f"{name}: {exc}")
    assert failures == []
    assert len(decoded) == 8348  # the count in tests/fixtures/README.md
    unknown = {o.original_type for e in decoded for o in _walk(e) if isinstance(o, UnknownObject)}
    assert unknown == UNDOCUMENTED_TYPES_IN_FIXTURES
    seen_items = {type(o) for e in decoded for o in _walk(e) if isinstance(o, events._Item)}
    # program, tool_search_output and compaction are OpenAI-documented types (spec §3.2).
    assert {events.ProgramItem, events.ToolSearchOutputItem, events.CompactionItem} <= seen_items
    for event in decoded:
        assert DECODER.decode(msgspec.json.encode(event)) == event


def test_fixture_details_survive_decoding() -> None:
    events_by_type: dict[str, list[Any]] = {}
    for _, data in _payloads():
        event = DECODER.decode(data)
        events_by_type.setdefault(event.type, []).append(event)
    # The one real error event uses OpenAI's nested form.
    (error,) = events_by_type["error"]
    assert error.code == "insufficient_quota"
    assert error.message.startswith("You exceeded your current quota")
    # The OpenRouter stream's usage carries cost and cost_details.
    costs = [
        e.response.usage.cost
        for e in events_by_type["response.completed"]
        if e.response.usage is not None and e.response.usage.cost is not None
    ]
    assert costs == [1.13e-05]
    # xAI url citations lack title and indices; they default to None.
    citations = [
        e.annotation
        for e in events_by_type["response.output_text.annotation.added"]
        if isinstance(e.annotation, events.UrlCitationAnnotation) and e.annotation.title is None
    ]
    assert citations
    assert all(c.start_index is None and c.url for c in citations)
    # Reasoning items of OpenRouter carry raw reasoning_text content.
    reasoning = [
        e.item
        for e in events_by_type["response.output_item.done"]
        if isinstance(e.item, ReasoningItem) and e.item.content
    ]
    assert any(isinstance(p, events.ReasoningTextPart) for r in reasoning for p in r.content or [])
    texts = [
        p
        for e in events_by_type["response.output_item.done"]
        if isinstance(e.item, MessageItem)
        for p in e.item.content
        if isinstance(p, OutputTextPart)
    ]
    assert texts


# -- fields servers send today, and encoding without what the wire did not send ----------------

DELTAS_WITH_OBFUSCATION = [
    "response.output_text.delta",
    "response.refusal.delta",
    "response.reasoning_text.delta",
    "response.reasoning_summary_text.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.code_interpreter_call_code.delta",
    "response.apply_patch_call_operation_diff.delta",
    "response.mcp_call_arguments.delta",
    "response.audio.delta",
    "response.audio.transcript.delta",
    "response.shell_call_command.delta",
]


@pytest.mark.parametrize("tag", DELTAS_WITH_OBFUSCATION)
def test_openai_obfuscation_is_kept_on_every_delta(tag: str) -> None:
    payload = {**minimal_payload(tag), "obfuscation": "aZ9"}
    event = _decode(payload)
    assert event.obfuscation == "aZ9"
    assert json.loads(msgspec.json.encode(event)) == payload


def test_azure_content_filters_and_gateway_usage_keys_are_kept() -> None:
    payload = {
        "type": "response.completed",
        "response": {
            "id": "resp_1",
            "content_filters": [{"blocked": False, "source_type": "completion"}],
            "usage": {
                "input_tokens": 3,
                "output_tokens": 2,
                "total_tokens": 5,
                "cost": 1.2e-05,
                "is_byok": False,
                "cost_details": {"upstream_inference_cost": 1e-05},
                "num_sources_used": 0,
                "num_server_side_tools_used": 1,
                "server_side_tool_usage_details": {"web_search_calls": 1},
            },
        },
    }
    event = DECODER.decode(json.dumps(payload))
    assert isinstance(event, ResponseCompletedEvent)
    assert event.response.content_filters == [{"blocked": False, "source_type": "completion"}]
    assert json.loads(msgspec.json.encode(event)) == payload


def _keys(value: Any, path: str = "") -> set[str]:
    if isinstance(value, dict):
        return {p for k, v in value.items() for p in {f"{path}.{k}"} | _keys(v, f"{path}.{k}")}
    if isinstance(value, list):
        return {p for v in value for p in _keys(v, f"{path}[]")}
    return set()


def test_encoding_a_fixture_event_adds_no_key_the_wire_did_not_send() -> None:
    checked = 0
    for name, payload in _payloads():
        event = DECODER.decode(payload)
        if isinstance(event, ErrorEvent):
            continue  # its flat fields are filled from the nested form on purpose
        sent = _keys(json.loads(payload))
        assert _keys(json.loads(msgspec.json.encode(event))) <= sent, (name, payload[:80])
        checked += 1
    assert checked > 8000


# -- the current SDKs' models: every field they define for stream events is a field here --------


def _sdk_event_models(package: Any) -> dict[str, Any]:
    """The models of an SDK package whose `type` is one literal wire tag, by tag."""
    import importlib
    import inspect
    import pkgutil

    import pydantic

    found: dict[str, Any] = {}
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for obj in vars(module).values():
            if not (inspect.isclass(obj) and issubclass(obj, pydantic.BaseModel)):
                continue
            if obj.__module__ != module.__name__ or "type" not in obj.model_fields:
                continue
            tags = get_args(obj.model_fields["type"].annotation)
            if len(tags) == 1 and tags[0] in EVENT_TYPES:
                found.setdefault(tags[0], obj)
    return found


def _sdk_fields(model: Any) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _our_fields(cls: Any) -> set[str]:
    return {field.encode_name for field in msgspec.structs.fields(cls)} | {"type"}


def test_every_field_of_the_sdks_stream_events_is_a_field_here() -> None:
    import openai.types.responses
    import openrouter.components

    for package in (openai.types.responses, openrouter.components):
        models = _sdk_event_models(package)
        assert len(models) > 40, package.__name__
        for tag, model in models.items():
            missing = _sdk_fields(model) - _our_fields(EVENT_TYPES[tag])
            assert not missing, f"{package.__name__} {tag}: {sorted(missing)}"


def test_every_field_of_the_sdks_response_and_usage_is_a_field_here() -> None:
    from openai.types.responses.response import Response as OpenAIResponse
    from openai.types.responses.response_usage import ResponseUsage
    from openrouter.components.openresponsesresult import OpenResponsesResult

    assert _sdk_fields(OpenAIResponse) <= _our_fields(Response)
    assert _sdk_fields(OpenResponsesResult) <= _our_fields(Response)
    assert _sdk_fields(ResponseUsage) <= _our_fields(events.Usage)
