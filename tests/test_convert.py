"""YAML import (vcrpy, pydantic-ai's serializer, go-vcr) and SSE / JSON-lines export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from streamtape.cassette import Cassette
from streamtape.convert import (
    Exported,
    convert_yaml,
    event_json,
    export,
    export_sse,
    read_yaml_cassette,
    split_frames,
)
from streamtape.decode import EventDecoder, decode_event
from streamtape.errors import StreamtapeError

FIXTURES = Path(__file__).parent / "fixtures"
YAML_FIXTURES = sorted(FIXTURES.rglob("*.yaml"))


def siblings(yaml_path: Path, cassette: Cassette) -> dict[int, Path]:
    """Interaction index -> its extracted body: ``<cassette>.sse`` when one interaction streamed,
    else ``<cassette>.<N>.sse`` (see tests/fixtures/README.md)."""
    stem = yaml_path.name[: -len(".yaml")]
    streamed = [
        n
        for n, i in enumerate(cassette)
        if i.response and "event-stream" in str(i.response.headers)
    ]
    single = yaml_path.with_name(f"{stem}.sse")
    if single.exists():
        assert len(streamed) == 1
        return {streamed[0]: single}
    found = {n: yaml_path.with_name(f"{stem}.{n}.sse") for n in streamed}
    assert all(p.exists() for p in found.values())
    return found


def decode_all(data: bytes) -> list[object]:
    decoder = EventDecoder(strict=False)
    return [*decoder.feed(data), *decoder.close()]


@pytest.mark.parametrize("path", YAML_FIXTURES, ids=lambda p: str(p.relative_to(FIXTURES)))
def test_every_yaml_fixture_converts_to_the_events_of_its_sse_siblings(
    path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "c.ndjson.zst"
    count = convert_yaml(path, out)
    cassette = Cassette.load(out)
    assert len(cassette) == count == len(yaml.safe_load(path.read_text())["interactions"])
    assert cassette.header is not None
    assert cassette.header.source is not None
    assert path.name in cassette.header.source
    bodies = siblings(path, cassette)
    compared = 0
    for index, inter in enumerate(cassette):
        if index not in bodies:
            continue
        body = bodies[index].read_bytes()
        assert inter.body == body
        assert inter.events(strict=False) == decode_all(body)
        assert [c.data for c in inter.chunks] == split_frames(body)
        assert {c.offset_ns for c in inter.chunks} == {0}
        assert inter.complete
        compared += 1
    assert compared == len(bodies) >= 1


def test_pydantic_parsed_body_becomes_the_json_request_body(tmp_path: Path) -> None:
    src = FIXTURES / "pydantic-ai/test_openai_responses_stream.yaml"
    convert_yaml(src, tmp_path / "c.ndjson.zst")
    inter = Cassette.load(tmp_path / "c.ndjson.zst")[0]
    expected = yaml.safe_load(src.read_text())["interactions"][0]["request"]["parsed_body"]
    assert json.loads(inter.request.body) == expected
    assert inter.request.method == "POST"
    assert inter.request.url == "https://api.openai.com/v1/responses"


def test_go_vcr_status_protocol_and_body(tmp_path: Path) -> None:
    src = FIXTURES / "fantasy/TestOpenAIResponsesCommon/openai-gpt-4o/simple_streaming.yaml"
    convert_yaml(src, tmp_path / "c.ndjson.zst")
    inter = Cassette.load(tmp_path / "c.ndjson.zst")[0]
    assert inter.response is not None
    assert (inter.response.status, inter.response.http_version) == (200, "HTTP/2.0")
    assert json.loads(inter.request.body)["model"] == "gpt-4o"
    assert inter.result().output_text


def test_non_streamed_interactions_are_one_chunk(tmp_path: Path) -> None:
    src = FIXTURES / "pydantic-ai/test_openai_responses_model_web_search_tool_stream.yaml"
    convert_yaml(src, tmp_path / "c.ndjson.zst")
    plain = Cassette.load(tmp_path / "c.ndjson.zst")[1]
    assert len(plain.chunks) == 1
    assert json.loads(plain.body)


def test_conversion_is_reproducible(tmp_path: Path) -> None:
    src = FIXTURES / "dd-trace-py/response_function_call_streamed.yaml"
    convert_yaml(src, tmp_path / "a.tape")
    convert_yaml(src, tmp_path / "b.tape")
    assert (tmp_path / "a.tape").read_bytes() == (tmp_path / "b.tape").read_bytes()
    header = Cassette.load(tmp_path / "a.tape").header
    assert header is not None
    assert header.recorded_at == "2025-05-20T14:39:29Z"  # the response's Date header


def test_missing_pyyaml_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(StreamtapeError, match=r"pip install streamtape\[yaml\]"):
        read_yaml_cassette(YAML_FIXTURES[0])


@pytest.mark.parametrize("text", ["[1, 2]\n", "interactions: 3\n", "a: [\n"])
def test_not_a_yaml_cassette(tmp_path: Path, text: str) -> None:
    src = tmp_path / "x.yaml"
    src.write_text(text)
    with pytest.raises(StreamtapeError, match=r"x\.yaml"):
        read_yaml_cassette(src)


@given(st.lists(st.sampled_from([b"data: 1", b"event: x", b": c", b"\n", b"\r\n", b"\n\n"])))
def test_split_frames_keeps_every_byte(parts: list[bytes]) -> None:
    body = b"".join(parts)
    frames = split_frames(body)
    assert b"".join(frames) == body
    assert all(frames)
    for frame in frames[:-1]:
        assert frame.endswith((b"\n\n", b"\r\n\r\n"))


@pytest.mark.parametrize(
    ("body", "frames"),
    [
        (b"data: 1\n\ndata: 2\n\n", [b"data: 1\n\n", b"data: 2\n\n"]),
        (b"data: 1\r\n\r\ndata: 2", [b"data: 1\r\n\r\n", b"data: 2"]),
        (b"", []),
    ],
)
def test_split_frames_examples(body: bytes, frames: list[bytes]) -> None:
    assert split_frames(body) == frames


def sse_payloads(body: bytes) -> list[bytes]:
    """The `data:` payloads of an LF-only SSE body: a reference independent of the parser."""
    out = []
    for frame in body.split(b"\n\n"):
        lines = [line[5:] for line in frame.split(b"\n") if line.startswith(b"data:")]
        if lines:
            out.append(b"\n".join(line[1:] if line[:1] == b" " else line for line in lines))
    return out


def test_export_sse_and_ndjson(tmp_path: Path) -> None:
    src = FIXTURES / "pydantic-ai/test_openai_responses_raw_cot_stream_openrouter.yaml"
    sse = src.with_name(src.name.replace(".yaml", ".sse"))
    convert_yaml(src, tmp_path / "c.ndjson.zst")
    assert export_sse(tmp_path / "c.ndjson.zst", tmp_path / "out.sse") == [
        Exported(1, tmp_path / "out.sse", len(sse.read_bytes()))
    ]
    assert (tmp_path / "out.sse").read_bytes() == sse.read_bytes()
    payloads = sse_payloads(sse.read_bytes())
    assert export(tmp_path / "c.ndjson.zst", tmp_path / "out.jsonl", "ndjson") == len(payloads)
    lines = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert lines == payloads  # exactly as sent: no field added, none dropped
    assert lines[-1] == b"[DONE]"
    assert json.loads(lines[0])["type"] == "response.created"


def test_event_json_leaves_out_what_the_wire_did_not_send() -> None:
    payload = (
        b'{"type":"response.output_text.delta","item_id":"m","output_index":0,'
        b'"content_index":0,"delta":"Hi","sequence_number":3,"obfuscation":"xY"}'
    )
    assert json.loads(event_json(decode_event(payload))) == json.loads(payload)
    created = b'{"type":"response.created","response":{"id":"r","status":"in_progress"}}'
    assert json.loads(event_json(decode_event(created))) == json.loads(created)
