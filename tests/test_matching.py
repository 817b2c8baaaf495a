"""Request matching: fields, canonical JSON bodies, ignored paths, diffs and NoMatchError text."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from streamtape import matching
from streamtape.errors import NoMatchError
from streamtape.matching import MATCH_ON_FIELDS, Matcher, MatchOn, RequestLike
from streamtape.redact import DEFAULT_REDACTOR

FIXTURES = Path(__file__).parent / "fixtures"
URL = "https://api.openai.com/v1/responses"


@dataclass(frozen=True)
class Req:
    method: str = "POST"
    url: str = URL
    headers: Sequence[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""


class RecordStruct(msgspec.Struct, frozen=True):
    """Shaped like a cassette's request record: the protocol must accept it too."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


def body(doc: object) -> bytes:
    return msgspec.json.encode(doc)


def test_protocol_accepts_dataclasses_and_structs() -> None:
    recorded: RequestLike = RecordStruct("POST", URL, [], b"{}")
    sent: RequestLike = Req(body=b"{ }")
    assert Matcher().matches(recorded, sent)


# -- method and URL -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "sent"),
    [
        (Req(method="POST"), Req(method="post")),
        (Req(url=f"{URL}?a=1&b=2"), Req(url=f"{URL}?b=2&a=1")),
        (Req(url=f"{URL}?a=1&a=2"), Req(url=f"{URL}?a=2&a=1")),
        (Req(url="https://API.OpenAI.com/v1/responses"), Req(url=URL)),
        (Req(url="https://api.openai.com:443/v1/responses"), Req(url=URL)),
        (Req(url=f"{URL}#fragment"), Req(url=URL)),
        (Req(url=f"{URL}?q=a%20b"), Req(url=f"{URL}?q=a+b")),
        (Req(url=f"{URL}?key=%3Credacted%3E"), Req(url=f"{URL}?key=<redacted>")),
        (Req(url="https://h"), Req(url="https://h/")),
    ],
)
def test_equivalent_method_and_url_forms_match(recorded: Req, sent: Req) -> None:
    m = Matcher()
    assert m.matches(recorded, sent)
    assert m.differences(recorded, sent) == []
    assert m.key(recorded) == m.key(sent)


@pytest.mark.parametrize(
    ("recorded", "sent", "line"),
    [
        (Req(method="POST"), Req(method="GET"), 'method: recorded "POST" / sent "GET"'),
        (
            Req(url=f"{URL}?a=1"),
            Req(url=f"{URL}?a=1&a=1"),
            f'url: recorded "{URL}?a=1" / sent "{URL}?a=1&a=1"',
        ),
        (
            Req(url="http://api.openai.com/v1/responses"),
            Req(url=URL),
            f'url: recorded "http://api.openai.com/v1/responses" / sent "{URL}"',
        ),
        (
            Req(url="https://api.openai.com:8443/v1/responses"),
            Req(url=URL),
            f'url: recorded "https://api.openai.com:8443/v1/responses" / sent "{URL}"',
        ),
        (
            Req(url="https://openrouter.ai/api/v1/responses"),
            Req(url="https://openrouter.ai/api/v1/chat/completions"),
            'url: recorded "https://openrouter.ai/api/v1/responses" / '
            'sent "https://openrouter.ai/api/v1/chat/completions"',
        ),
    ],
)
def test_method_and_url_differences(recorded: Req, sent: Req, line: str) -> None:
    m = Matcher()
    assert not m.matches(recorded, sent)
    assert m.differences(recorded, sent) == [line]


@pytest.mark.parametrize(
    ("match_on", "recorded", "sent", "expected"),
    [
        (["method", "path"], Req(url=f"{URL}?a=1"), Req(url="http://other/v1/responses?a=2"), []),
        (["host"], Req(url="https://h/a"), Req(url="http://H:80/b"), []),
        (
            ["host"],
            Req(url="https://h/a"),
            Req(url="https://h:8443/a"),
            ['host: recorded "h" / sent "h:8443"'],
        ),
        (
            ["scheme"],
            Req(url="https://h/a"),
            Req(url="http://h/a"),
            ['scheme: recorded "https" / sent "http"'],
        ),
        (
            ["path"],
            Req(url="https://h/a"),
            Req(url="https://h/b"),
            ['path: recorded "/a" / sent "/b"'],
        ),
        (
            ["query"],
            Req(url="https://h/?a=1&b=2&c=3"),
            Req(url="https://x/?c=3&a=9&d=4"),
            [
                'query a: recorded "1" / sent "9"',
                'query b: recorded "2" / sent <missing>',
                'query d: recorded <missing> / sent "4"',
            ],
        ),
        (
            ["query"],
            Req(url="https://h/?a=1&a=2"),
            Req(url="https://h/?a=1"),
            ['query a: recorded ["1","2"] / sent "1"'],
        ),
        (["method"], Req(body=b"a"), Req(body=b"b"), []),
        ([], Req(method="GET", body=b"a"), Req(body=b"b"), []),
    ],
)
def test_match_on_subsets(
    match_on: list[MatchOn], recorded: Req, sent: Req, expected: list[str]
) -> None:
    m = Matcher(match_on)
    assert m.differences(recorded, sent) == expected
    assert m.matches(recorded, sent) is (not expected)


# -- bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recorded", "sent"),
    [
        (b'{"a":1,"b":[1,2]}', b'{\n  "b": [1, 2],\n  "a": 1\n}'),
        (b'{"t":1}', b'{"t":1.0}'),
        (b'{"t":100}', b'{"t":1e2}'),
        (b'{"t":0.5}', b'{"t":5e-1}'),
        (b'{"s":"caf\\u00e9"}', '{"s":"café"}'.encode()),
        (b'[{"x":{"z":1,"y":2}}]', b'[ { "x" : { "y" : 2 , "z" : 1 } } ]'),
        (b"", b""),
        (b"raw bytes \xff", b"raw bytes \xff"),
    ],
)
def test_equivalent_bodies_match(recorded: bytes, sent: bytes) -> None:
    m = Matcher()
    assert m.matches(Req(body=recorded), Req(body=sent))
    assert m.differences(Req(body=recorded), Req(body=sent)) == []


@pytest.mark.parametrize(
    ("recorded", "sent", "lines"),
    [
        (b'{"t":true}', b'{"t":1}', ["body t: recorded true / sent 1"]),
        (b'{"t":"1"}', b'{"t":1}', ['body t: recorded "1" / sent 1']),
        (b'{"t":1.5}', b'{"t":1}', ["body t: recorded 1.5 / sent 1"]),
        (b'{"t":null}', b"{}", ["body t: recorded null / sent <missing>"]),
        (b'{"a":[1]}', b'{"a":[1,{"b":2}]}', ['body a[1]: recorded <missing> / sent {"b":2}']),
        (b'{"a.b":1}', b'{"a.b":2}', ['body ["a.b"]: recorded 1 / sent 2']),
        (b"[1,2]", b"[1,3]", ["body [1]: recorded 2 / sent 3"]),
        (b'"x"', b'"y"', ['body: recorded "x" / sent "y"']),
        (
            b'{"input":[{"role":"user","content":"Hi"},{"role":"user","content":"Tell me"}]}',
            b'{"input":[{"role":"user","content":"Hi"},{"role":"user","content":"Tell you"}]}',
            ['body input[1].content: recorded "Tell me" / sent "Tell you"'],
        ),
        (
            b"abc",
            b"abd",
            ['body (bytes differ at offset 2; 3 vs 3 bytes): recorded "abc" / sent "abd"'],
        ),
        (
            b"abc",
            b"",
            ['body (bytes differ at offset 0; 3 vs 0 bytes): recorded "abc" / sent ""'],
        ),
        (
            b'{"a":1}',
            b"a=1",
            ['body (recorded JSON, sent not JSON): recorded {"a":1} / sent "a=1"'],
        ),
        (
            b"a=1",
            b'{"a":1}',
            ['body (recorded not JSON, sent JSON): recorded "a=1" / sent {"a":1}'],
        ),
    ],
)
def test_body_differences(recorded: bytes, sent: bytes, lines: list[str]) -> None:
    m = Matcher(["body"])
    assert not m.matches(Req(body=recorded), Req(body=sent))
    assert m.differences(Req(body=recorded), Req(body=sent)) == lines


def test_long_values_are_windowed_around_the_difference() -> None:
    prefix = "You are a helpful assistant. " * 5
    a, b = (
        Req(body=body({"instructions": prefix + "Be brief."})),
        Req(
            body=body({"instructions": prefix + "Be verbose and thorough in every single answer."})
        ),
    )
    [line] = Matcher().differences(a, b)
    recorded, sent = line.removeprefix("body instructions: recorded ").split(" / sent ")
    # both start ten characters before the first difference, 150 characters in
    assert recorded == '"…stant. Be brief."'
    assert sent == '"…stant. Be verbose and thorough in every single answer."'
    short = Matcher().differences(Req(body=body("x" * 100)), Req(body=body("y" * 100)))
    assert short == ['body: recorded "' + "x" * 59 + '…" / sent "' + "y" * 59 + '…"']


json_docs = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_docs, st.randoms(use_true_random=False), st.sampled_from([None, 1, 4]))
def test_key_order_and_whitespace_never_matter(
    doc: object, rnd: random.Random, indent: int | None
) -> None:
    def shuffled(value: object) -> object:
        if isinstance(value, dict):
            items = list(value.items())
            rnd.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(value, list):
            return [shuffled(v) for v in value]
        return value

    recorded = Req(body=msgspec.json.encode(doc))
    sent = Req(body=json.dumps(shuffled(doc), indent=indent, ensure_ascii=indent is None).encode())
    m = Matcher()
    assert m.matches(recorded, sent)
    assert m.key(recorded) == m.key(sent)


# -- ignore_paths ---------------------------------------------------------------------------

BASE = {
    "model": "gpt-4o",
    "metadata": {"trace_id": "t-1", "user": "u"},
    "input": [{"id": "a", "content": "hi"}, {"id": "b", "content": "there"}],
    "dotted.key": 1,
}


def changed(**updates: object) -> dict[str, object]:
    doc: dict[str, object] = json.loads(json.dumps(BASE))
    for path, value in updates.items():
        node: Any = doc
        *parents, last = path.split("__")
        for step in parents:
            node = node[int(step) if step.isdigit() else step]
        node[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("ignore", "sent"),
    [
        ("metadata.trace_id", changed(metadata__trace_id="t-2")),
        ("metadata.*", changed(metadata__trace_id="t-2", metadata__user="v")),
        ("input[*].id", changed(input__0__id="x", input__1__id="y")),
        ("input[1].id", changed(input__1__id="y")),
        ("input[-1].id", changed(input__1__id="y")),
        ("input[0]", changed(input__0={"anything": True})),
        ('["dotted.key"]', changed(**{"dotted.key": 2})),
        ("metadata", {k: v for k, v in BASE.items() if k != "metadata"}),
        ("not.there", BASE),
    ],
)
def test_ignore_paths(ignore: str, sent: dict[str, object]) -> None:
    m = Matcher(ignore_paths=[ignore])
    assert m.matches(Req(body=body(BASE)), Req(body=body(sent)))
    assert not Matcher().matches(Req(body=body(BASE)), Req(body=body(sent))) or sent is BASE
    # something not ignored still counts
    other = changed(model="gpt-5")
    assert m.differences(Req(body=body(BASE)), Req(body=body(other))) == [
        'body model: recorded "gpt-4o" / sent "gpt-5"'
    ]


def test_ignored_array_items_keep_later_indices_aligned() -> None:
    m = Matcher(ignore_paths=["input[0]"])
    sent = changed(input__0="different", input__1__content="changed")
    assert m.differences(Req(body=body(BASE)), Req(body=body(sent))) == [
        'body input[1].content: recorded "there" / sent "changed"'
    ]


# -- headers and custom matchers ------------------------------------------------------------


def test_header_matching_only_for_named_headers() -> None:
    m = Matcher(headers=["OpenAI-Beta"])
    assert m.match_on == ("method", "url", "body", "headers")
    recorded = Req(headers=[("openai-beta", "responses=v1"), ("User-Agent", "a")])
    assert m.matches(recorded, Req(headers=[("OPENAI-BETA", "responses=v1"), ("User-Agent", "b")]))
    assert m.differences(recorded, Req(headers=[("OpenAI-Beta", "v2")])) == [
        'header openai-beta: recorded "responses=v1" / sent "v2"'
    ]
    assert m.differences(recorded, Req()) == [
        'header openai-beta: recorded "responses=v1" / sent <missing>'
    ]


def test_custom_matchers_must_all_agree() -> None:
    def same_model(recorded: RequestLike, sent: RequestLike) -> bool:
        return bool(json.loads(recorded.body)["model"] == json.loads(sent.body)["model"])

    m = Matcher(["method"], custom=[same_model])
    a = Req(body=b'{"model":"a","x":1}')
    assert m.matches(a, Req(body=b'{"model":"a","x":2}'))
    b = Req(body=b'{"model":"b"}')
    assert not m.matches(a, b)
    assert m.differences(a, b) == [
        "custom matcher test_custom_matchers_must_all_agree.<locals>.same_model: no match"
    ]


@pytest.mark.parametrize(
    ("args", "kwargs", "error"),
    [
        ((["method", "uri"],), {}, ValueError),
        (("method",), {}, TypeError),
        ((["headers"],), {}, ValueError),
        ((), {"ignore_paths": ["a..b"]}, ValueError),
    ],
)
def test_invalid_configuration(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Matcher(*args, **kwargs)  # type: ignore[arg-type]


def test_all_fields_are_accepted() -> None:
    m = Matcher(sorted(MATCH_ON_FIELDS), headers=["x"])
    assert m.matches(Req(), Req())


# -- consistency and caching ----------------------------------------------------------------

requests = st.builds(
    Req,
    method=st.sampled_from(["GET", "POST", "post"]),
    url=st.sampled_from(
        [URL, f"{URL}?a=1", f"{URL}?a=2", "https://openrouter.ai/api/v1/responses"]
    ),
    headers=st.lists(
        st.tuples(st.sampled_from(["X-A", "x-a", "X-B"]), st.sampled_from(["1", "2"])), max_size=3
    ),
    body=st.sampled_from(
        [b"", b"{}", b'{"a":1}', b'{"a":1.0}', b'{ "a" : 2 }', b"raw", b'{"a":true}']
    ),
)


@given(
    requests,
    requests,
    st.sampled_from([("method", "url", "body"), ("path", "query", "headers"), ("host",)]),
)
def test_matches_iff_no_differences_iff_equal_keys(
    a: Req, b: Req, match_on: tuple[MatchOn, ...]
) -> None:
    m = Matcher(match_on, headers=["x-a"] if "headers" in match_on else ())
    assert m.matches(a, b) == (m.differences(a, b) == []) == (m.key(a) == m.key(b))
    assert m.matches(a, a)
    hash(m.key(a))


def test_keys_index_hundreds_of_recordings() -> None:
    m = Matcher()
    recorded = [Req(body=body({"model": "m", "input": f"question {i}"})) for i in range(500)]
    index: dict[object, int] = {}
    for i, r in enumerate(recorded):
        index.setdefault(m.key(r), i)
    sent = Req(body=b'{"input": "question 321", "model": "m"}')
    assert index[m.key(sent)] == 321


def test_body_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(matching, "_BODY_CACHE_SIZE", 3)
    m = Matcher()
    bodies = [body({"n": i}) for i in range(10)]
    for i, x in enumerate(bodies):
        assert m.matches(Req(body=x), Req(body=body({"n": float(i)})))
        assert not m.matches(Req(body=x), Req(body=bodies[(i + 1) % 10]))
    assert len(m._bodies) <= 3


# -- redaction both ways --------------------------------------------------------------------


def test_redacted_recording_matches_redacted_live_request() -> None:
    key = "sk-" + "or-v1-" + "0123456789abcdef" * 4
    live = Req(
        url=f"{URL}?api_key={key}",
        headers=[("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")],
        body=f'{{"model": "m", "input": "hi", "note": "{key}"}}'.encode(),
    )
    url, headers, redacted_body = DEFAULT_REDACTOR.request(
        live.method, live.url, live.headers, live.body
    )
    recorded = RecordStruct(live.method, url, headers, redacted_body)
    m = Matcher(headers=["authorization"])
    assert not m.matches(recorded, live)
    url, headers, redacted_body = DEFAULT_REDACTOR.request(
        live.method, live.url, live.headers, live.body
    )
    assert m.matches(recorded, Req(live.method, url, headers, redacted_body))


def fixture_request_bodies() -> list[bytes]:
    bodies = []
    for path in sorted(FIXTURES.rglob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            raw = interaction["request"].get("body")
            if isinstance(raw, str) and raw.startswith("{"):
                bodies.append(raw.encode())
    return bodies


def test_real_request_bodies_match_their_reformatted_selves() -> None:
    bodies = fixture_request_bodies()
    assert len(bodies) > 5
    m = Matcher()
    for raw in bodies:
        pretty = json.dumps(json.loads(raw), indent=2, sort_keys=True).encode()
        assert m.matches(Req(body=raw), Req(body=pretty))
    assert not m.matches(Req(body=bodies[0]), Req(body=bodies[1]))


# -- NoMatchError ---------------------------------------------------------------------------


def test_no_match_error_names_the_closest_request_and_its_diff() -> None:
    sent = Req(body=body({"model": "gpt-4o", "input": [{"content": "Hi"}, {"content": "Bye"}]}))
    candidates = [
        Req(method="GET", url="https://example.com/"),
        Req(body=body({"model": "gpt-4o", "input": [{"content": "Hi"}, {"content": "Ciao"}]})),
        Req(body=body({"model": "gpt-5", "input": [{"content": "Yo"}, {"content": "Ciao"}]})),
    ]
    error = Matcher().no_match_error(sent, candidates, cassette="cassettes/chat.ndjson.zst")
    assert isinstance(error, NoMatchError)
    lines = str(error).splitlines()
    assert lines[0] == f"No recorded request in cassettes/chat.ndjson.zst matches POST {URL}"
    assert lines[1].startswith(f"  sent body ({len(sent.body)} bytes): " + '{"model":"gpt-4o"')
    assert lines[2] == f"Closest of the 3 recorded requests is #1: POST {URL}"
    assert lines[3] == '  body input[1].content: recorded "Ciao" / sent "Bye"'
    assert lines[4] == "Matching on: method, url, body"
    assert lines[5] == (
        "To fix: re-record with record_mode='new_episodes' or delete cassettes/chat.ndjson.zst"
    )
    assert len(lines) == 6


def test_no_match_error_caps_the_diff_and_long_values() -> None:
    recorded = Req(body=body({f"k{i}": "x" * 200 for i in range(20)}))
    sent = Req(body=body({f"k{i}": "y" * 200 for i in range(20)}), url=URL + "?" + "q=1&" * 100)
    error = Matcher(ignore_paths=["k0"]).no_match_error(
        sent, [recorded], record_hint="run pytest --record-mode=rewrite"
    )
    lines = str(error).splitlines()
    diff = [line for line in lines if line.startswith("  ") and "sent body" not in line]
    assert len(diff) == 9
    assert diff[0].startswith('  url: recorded "')
    assert diff[1].startswith('  body k1: recorded "xxx')
    assert diff[-1] == "  … and 12 more differences"
    assert all(len(line) < 180 for line in lines)
    assert "…" in lines[0]
    assert "Closest of the 1 recorded request is #0" in lines[2]
    assert lines[-2] == "Matching on: method, url, body (ignoring body paths k0)"
    assert lines[-1] == "To fix: run pytest --record-mode=rewrite"


@pytest.mark.parametrize(
    ("cassette", "empty_line"),
    [
        ("c.ndjson.zst", "The cassette c.ndjson.zst is empty: it holds no recorded requests."),
        (None, "The cassette is empty: it holds no recorded requests."),
    ],
)
def test_no_match_error_for_an_empty_cassette(cassette: str | None, empty_line: str) -> None:
    error = Matcher().no_match_error(Req(method="get", url="https://h/p"), [], cassette=cassette)
    lines = str(error).splitlines()
    assert lines[0].endswith("matches GET https://h/p")
    assert lines[1] == empty_line  # no body line: the body is empty
    assert "Closest" not in str(error)
