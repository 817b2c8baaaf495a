"""Redaction: built-in rules, user rules, JSON paths, byte-exactness and idempotence."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

import msgspec
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from streamtape.redact import (
    DEFAULT_HEADERS,
    DEFAULT_QUERY_PARAMS,
    DEFAULT_REDACTOR,
    MARKER,
    URL_MARKER,
    RedactionContext,
    Redactor,
)

FIXTURES = Path(__file__).parent / "fixtures"


def fake_key(prefix: str, length: int, tail: str = "") -> str:
    """A key-shaped string built at run time (so no key-like literal sits in the source)."""
    alphabet = "Ab3_xY9-kQ7z"
    body = (alphabet * (length // len(alphabet) + 1))[:length]
    return prefix + body + tail


# Realistic shapes of provider keys: prefix and length as issued.
KEYS = {
    "openai-legacy": "sk-" + ("Ab3xY9kQ7zT" * 5)[:48],
    "openai-project": fake_key("sk-" + "proj-", 156),
    "openai-service-account": fake_key("sk-" + "svcacct-", 120),
    "openai-admin": fake_key("sk-" + "admin-", 100),
    "openrouter": "sk-" + "or-v1-" + "0123456789abcdef" * 4,
    "anthropic": fake_key("sk-" + "ant-api03-", 93, "AA"),
    "xai": fake_key("xai-", 80),
    "groq": fake_key("gsk_", 52),
    "google": fake_key("AIza", 35),
}
NOT_KEYS = [
    "sk-learn",
    "pip install sk-learn-contrib",
    "sk-test",
    "sk-" + "1234567890",  # too short
    "sk-abcdefghijklmnopqrstuvwxyz-abcdef",  # no digit: a hyphenated phrase, not a key
    "task-" + "0123456789abcdefghijklmnopqrstuvwxyz",  # "sk-" inside a word
    "Osk-z0QBLQdGtMuFiR00Bs1M_E4T0lMYEsFRqQ8TZmM5",  # seen inside real encrypted content
    "xai-grok-4",
    "AIza" + "short",
]


# -- headers --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEFAULT_HEADERS))
@pytest.mark.parametrize("case", [str.lower, str.upper, str.title])
def test_default_headers_are_redacted_in_any_case(name: str, case: Callable[[str], str]) -> None:
    secret = "s3cr3t-value-0042"
    value = f"session={secret}" if "cookie" in name else secret
    out = DEFAULT_REDACTOR.headers([(case(name), value)])
    assert len(out) == 1
    assert out[0][0] == case(name)
    assert secret not in out[0][1]
    assert MARKER in out[0][1]


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer abc.def.ghi", f"Bearer {MARKER}"),
        ("authorization", "bearer abc", f"bearer {MARKER}"),
        ("Authorization", "Basic dXNlcjpwYXNz", f"Basic {MARKER}"),
        ("Proxy-Authorization", "Digest username=x, response=y", f"Digest {MARKER}"),
        ("Authorization", "opaque-token-without-scheme", MARKER),
        ("Authorization", "my secret words", MARKER),  # "my" is no auth scheme
        ("x-api-key", KEYS["anthropic"], MARKER),
        ("api-key", "0123456789abcdef", MARKER),
        ("OpenAI-API-Key", "x", MARKER),
        ("Cookie", "a=1; b=2", f"a={MARKER}; b={MARKER}"),
        ("Cookie", "a=1;b=", f"a={MARKER};b="),
        ("Set-Cookie", "sid=xyz; Path=/; HttpOnly", f"sid={MARKER}; Path=/; HttpOnly"),
        ("Authorization", "", ""),
    ],
)
def test_header_value_forms(name: str, value: str, expected: str) -> None:
    assert DEFAULT_REDACTOR.headers([(name, value)]) == [(name, expected)]


def test_headers_keep_order_duplicates_and_other_values() -> None:
    headers = [
        ("Content-Type", "application/json"),
        ("Authorization", "Bearer one"),
        ("X-Trace", "abc"),
        ("authorization", "Bearer two"),
        ("Accept", "text/event-stream"),
    ]
    assert DEFAULT_REDACTOR.headers(headers) == [
        ("Content-Type", "application/json"),
        ("Authorization", f"Bearer {MARKER}"),
        ("X-Trace", "abc"),
        ("authorization", f"Bearer {MARKER}"),
        ("Accept", "text/event-stream"),
    ]


def test_key_patterns_apply_to_any_header_value() -> None:
    key = KEYS["openrouter"]
    out = DEFAULT_REDACTOR.headers([("X-Debug", f"used {key} today")])
    assert out == [("X-Debug", f"used {MARKER} today")]


def test_user_headers_and_defaults_off() -> None:
    mine = Redactor(headers=["X-Tenant-Secret"], defaults=False)
    headers = [("x-tenant-secret", "Bearer t"), ("Authorization", "Bearer a")]
    assert mine.headers(headers) == [
        ("x-tenant-secret", f"Bearer {MARKER}"),
        ("Authorization", "Bearer a"),
    ]
    both = Redactor(headers=["X-Tenant-Secret"])
    assert both.headers(headers) == [
        ("x-tenant-secret", f"Bearer {MARKER}"),
        ("Authorization", f"Bearer {MARKER}"),
    ]


def test_real_cookies_from_fixtures_are_redacted() -> None:
    """Cloudflare cookies recorded by other projects lose their values but keep their names."""
    doc = yaml.safe_load(
        (FIXTURES / "dd-trace-py/response_function_call_streamed.yaml").read_text()
    )
    response_headers = [
        (name, value)
        for name, values in doc["interactions"][0]["response"]["headers"].items()
        for value in values
    ]
    out = DEFAULT_REDACTOR.response_headers(response_headers)
    cookies = [v for k, v in out if k == "Set-Cookie"]
    assert [c.split(";")[0] for c in cookies] == [f"__cf_bm={MARKER}", f"_cfuvid={MARKER}"]
    assert all("path=/;" in c and "HttpOnly" in c for c in cookies)
    assert "isE0pLOs" not in repr(out)
    assert [(k, v) for k, v in out if k != "Set-Cookie"] == [
        (k, v) for k, v in response_headers if k != "Set-Cookie"
    ]

    doc = yaml.safe_load((FIXTURES / "openllmetry/test_recipe_agents_hierarchy.yaml").read_text())
    cookie = doc["interactions"][0]["request"]["headers"]["cookie"][0]
    [(_, redacted)] = DEFAULT_REDACTOR.headers([("cookie", cookie)])
    assert redacted == f"__cf_bm={MARKER}; _cfuvid={MARKER}"


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(DEFAULT_QUERY_PARAMS))
@pytest.mark.parametrize("case", [str.lower, str.upper])
def test_default_query_params_are_redacted(name: str, case: Callable[[str], str]) -> None:
    url = f"https://api.example.com/v1/x?model=m&{case(name)}=s3cr3t%2Fv&n=2#top"
    expected = f"https://api.example.com/v1/x?model=m&{case(name)}={URL_MARKER}&n=2#top"
    assert DEFAULT_REDACTOR.url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "https://openrouter.ai/api/v1/responses",
        "https://h/p?a=1&a=2&b=&c&keyword=x&token_type=bearer",
        "http://h:8080/a%20b?q=%7Bx%7D+y#frag?key=1",
        "https://h/p?key=&token",  # empty or valueless: nothing to hide
    ],
)
def test_url_without_secrets_is_unchanged(url: str) -> None:
    assert DEFAULT_REDACTOR.url(url) == url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://user:pw@h/p", f"https://user:{URL_MARKER}@h/p"),
        ("https://h/v1/keys/{openai-project}/x", f"https://h/v1/keys/{URL_MARKER}/x"),
        ("https://h/p?q={google}", f"https://h/p?q={URL_MARKER}"),
        ("https://h/p?my_secret=1", "https://h/p?my_secret=1"),
    ],
)
def test_url_forms(url: str, expected: str) -> None:
    assert DEFAULT_REDACTOR.url(url.format_map(KEYS)) == expected


def test_user_query_params() -> None:
    r = Redactor(query_params=["My_Secret"], defaults=False)
    assert r.url("https://h/p?my_secret=1&key=2") == f"https://h/p?my_secret={URL_MARKER}&key=2"


# -- key patterns everywhere ----------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KEYS))
def test_key_patterns_everywhere(kind: str) -> None:
    key = KEYS[kind]
    r = DEFAULT_REDACTOR
    assert r.url(f"https://h/p?x={key}") == f"https://h/p?x={URL_MARKER}"
    assert r.headers([("X-Note", key)]) == [("X-Note", MARKER)]
    assert r.body(f"key is {key}.".encode()) == f"key is {MARKER}.".encode()
    assert r.body(f'{{"k": "{key}"}}'.encode()) == f'{{"k":"{MARKER}"}}'.encode()
    chunk = f'data: {{"delta":"{key}"}}\n\n'.encode()
    assert r.chunk(chunk) == f'data: {{"delta":"{MARKER}"}}\n\n'.encode()


@pytest.mark.parametrize("text", NOT_KEYS)
def test_prose_that_looks_a_bit_like_keys_is_untouched(text: str) -> None:
    data = f"I use {text} daily".encode()
    assert DEFAULT_REDACTOR.chunk(data) is data
    assert DEFAULT_REDACTOR.body(data) is data
    assert DEFAULT_REDACTOR.url(f"https://h/{text}") == f"https://h/{text}"


def test_user_patterns_str_and_compiled() -> None:
    r = Redactor(patterns=[r"acct-\d{6}", re.compile(r"(?i)password: \S+")], defaults=False)
    assert r.body(b"acct-123456 / Password: hunter2") == f"{MARKER} / {MARKER}".encode()
    assert r.chunk(b"acct-654321") == MARKER.encode()


def test_user_pattern_matching_the_marker_text_is_still_idempotent() -> None:
    r = Redactor(patterns=[r"\w+"], defaults=False)
    once = r.body(b"hello world")
    assert once == f"{MARKER} {MARKER}".encode()
    assert r.body(once) == once


def test_patterns_exposed_by_a_later_pattern_are_caught() -> None:
    """A replacement can put a key at a word start; one more pass redacts it too."""
    key = KEYS["openrouter"]
    r = Redactor(patterns=["x"])
    assert r.body(f"x{key}".encode()) == f"{MARKER}{MARKER}".encode()


# -- bodies ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{ "model" : "gpt-4o",\n  "input": [ {"role":"user","content":"hi"} ], "n": 1.50 }',
        b'[1, 2.0, "x", {"b": 1, "a": 2}]',
        b"plain text body",
        b"\xff\xfe\x00binary\x80",
        b"",
        b"{not json",
    ],
)
def test_body_without_secrets_is_returned_byte_for_byte(body: bytes) -> None:
    r = Redactor(json_paths=["metadata.user_email"])
    assert r.body(body) is body


def test_binary_body_keeps_every_other_byte() -> None:
    key = KEYS["openai-project"].encode()
    body = b"\x89PNG\xff\x00" + key + b"\x80\xfe"
    assert DEFAULT_REDACTOR.body(body) == b"\x89PNG\xff\x00" + MARKER.encode() + b"\x80\xfe"


def test_changed_json_is_reencoded_compactly_in_original_key_order() -> None:
    key = KEYS["openai-legacy"]
    body = f'{{"z": 1, "a": {{"k": "{key}", "t": "caf\\u00e9"}}, "m": [1.0, 2]}}'.encode()
    out = DEFAULT_REDACTOR.body(body)
    assert out == f'{{"z":1,"a":{{"k":"{MARKER}","t":"café"}},"m":[1.0,2]}}'.encode()
    assert DEFAULT_REDACTOR.body(body) == out  # deterministic


def test_json_escapes_cannot_hide_a_key() -> None:
    key = KEYS["openrouter"]
    escaped = "\\u0073" + key[1:]  # "s" written as a JSON escape
    out = DEFAULT_REDACTOR.body(f'{{"k": "{escaped}"}}'.encode())
    assert out == f'{{"k":"{MARKER}"}}'.encode()


DOC = {
    "metadata": {"user_email": "a@b.c", "team": "x"},
    "input": [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}],
    "messages": [{"content": "m1"}, {"content": {"nested": 1}}, {"role": "tool"}],
    "dotted.key": "d",
}


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("metadata.user_email", [("metadata", "user_email")]),
        ("input[0].content", [("input", 0, "content")]),
        ("input[-1].content", [("input", 1, "content")]),
        ("messages[*].content", [("messages", 0, "content"), ("messages", 1, "content")]),
        ("metadata.*", [("metadata", "user_email"), ("metadata", "team")]),
        ('["dotted.key"]', [("dotted.key",)]),
        ("input[1]", [("input", 1)]),
        ("metadata", [("metadata",)]),
        ("missing.path", []),
        ("input[5].content", []),
        ("metadata.user_email.deeper", []),
    ],
)
def test_json_path_forms(path: str, where: list[tuple[str | int, ...]]) -> None:
    body = msgspec.json.encode(DOC)
    out = Redactor(json_paths=[path], defaults=False).body(body)
    if not where:
        assert out is body
        return
    expected = msgspec.json.decode(body)
    for steps in where:
        node = expected
        for step in steps[:-1]:
            node = node[step]
        node[steps[-1]] = MARKER
    assert msgspec.json.decode(out) == expected


def test_json_path_on_top_level_array() -> None:
    r = Redactor(json_paths=["[*].secret"], defaults=False)
    assert (
        r.body(b'[{"secret":1},{"other":2}]') == f'[{{"secret":"{MARKER}"}},{{"other":2}}]'.encode()
    )


@pytest.mark.parametrize("path", ["", ".a", "a..b", "a[x]", "a[0]b", "a.", 'a["b]'])
def test_invalid_json_paths_raise(path: str) -> None:
    with pytest.raises(ValueError, match="JSON path"):
        Redactor(json_paths=[path])


def test_form_body_uses_parameter_rules() -> None:
    body = b"grant_type=client_credentials&client_secret=abc&scope=x"
    out = DEFAULT_REDACTOR.body(body, content_type="application/x-www-form-urlencoded")
    assert out == f"grant_type=client_credentials&client_secret={URL_MARKER}&scope=x".encode()
    # without the content type it is just text: parameter names mean nothing there
    assert DEFAULT_REDACTOR.body(body) is body


# -- chunks ---------------------------------------------------------------------------------


def test_chunk_fast_path_returns_the_same_object() -> None:
    data = b'data: {"type":"response.output_text.delta","delta":"hi"}\n\n'
    assert DEFAULT_REDACTOR.chunk(data) is data
    assert Redactor(defaults=False).chunk(data) is data


def test_chunks_ignore_json_paths_and_headers() -> None:
    r = Redactor(json_paths=["delta"], query_params=["delta"])
    data = b'{"delta":"hi"}'
    assert r.chunk(data) is data


def all_stream_fixtures() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.suffix in (".sse", ".txt"))


@pytest.mark.parametrize("path", all_stream_fixtures(), ids=lambda p: p.name)
def test_real_streams_pass_through_unchanged(path: Path) -> None:
    """No false positives across the real recorded streams (ids, base64 blobs, prose)."""
    data = path.read_bytes()
    assert DEFAULT_REDACTOR.chunk(data) is data


def test_real_request_bodies_pass_through_unchanged() -> None:
    bodies = []
    for path in sorted(FIXTURES.rglob("*.yaml")):
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            request = interaction["request"]
            body = request.get("body")
            if isinstance(body, dict):
                body = body.get("string")
            if isinstance(body, str) and body:
                bodies.append(body.encode())
    assert len(bodies) > 10
    for body in bodies:
        assert DEFAULT_REDACTOR.body(body) is body


# -- whole requests and hooks ---------------------------------------------------------------


def test_request_redacts_every_part_then_runs_hooks() -> None:
    seen: list[RedactionContext] = []

    def hook(ctx: RedactionContext) -> None:
        seen.append(RedactionContext(ctx.method, ctx.url, list(ctx.headers), ctx.body))
        ctx.headers.append(("X-Hooked", "1"))
        ctx.url = ctx.url.replace("/v1/", "/v2/")
        ctx.body = ctx.body.replace(b"secret-user", b"user")

    key = KEYS["openai-project"]
    r = Redactor(hooks=[hook])
    url, headers, body = r.request(
        "POST",
        "https://api.openai.com/v1/responses?api_key=k",
        [("Authorization", f"Bearer {key}"), ("Content-Type", "application/json")],
        f'{{"user":"secret-user","note":"{key}"}}'.encode(),
    )
    assert seen == [
        RedactionContext(
            "POST",
            f"https://api.openai.com/v1/responses?api_key={URL_MARKER}",
            [("Authorization", f"Bearer {MARKER}"), ("Content-Type", "application/json")],
            f'{{"user":"secret-user","note":"{MARKER}"}}'.encode(),
        )
    ]
    assert url == f"https://api.openai.com/v2/responses?api_key={URL_MARKER}"
    assert headers[-1] == ("X-Hooked", "1")
    assert body == f'{{"user":"user","note":"{MARKER}"}}'.encode()


def test_request_passes_content_type_to_body() -> None:
    _, _, body = DEFAULT_REDACTOR.request(
        "POST",
        "https://h/token",
        [("content-type", "application/x-www-form-urlencoded; charset=utf-8")],
        b"code=abc&state=s",
    )
    assert body == f"code={URL_MARKER}&state=s".encode()


# -- idempotence ----------------------------------------------------------------------------

FRAGMENTS = [
    *KEYS.values(),
    *NOT_KEYS,
    MARKER,
    URL_MARKER,
    "Bearer ",
    "sk-",
    "x",
    "=",
    "&",
    "?",
    ";",
    " ",
    "-",
    "_",
    "1",
    "<",
    ">",
    "é",
    '"',
    "\\",
    "\n",
]
texts = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=5), max_size=12).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["user", "content", "k", "input", "metadata"]), inner, max_size=4
        )
    ),
    max_leaves=15,
)
REDACTORS = [
    DEFAULT_REDACTOR,
    Redactor(
        headers=["x-note"],
        query_params=["q"],
        json_paths=["metadata.user", "input[*].content", "k"],
        patterns=[r"\d{3,}", r"x+"],
    ),
]


@given(texts, st.sampled_from(REDACTORS))
def test_idempotent_on_text_bodies_chunks_and_urls(text: str, r: Redactor) -> None:
    data = text.encode()
    for fn in (r.body, r.chunk):
        once = fn(data)
        assert fn(once) == once
    url = r.url(f"https://h/{text}?key={text}&q={text}")
    assert r.url(url) == url


@given(json_values, st.sampled_from(REDACTORS))
def test_idempotent_on_json_bodies(doc: object, r: Redactor) -> None:
    once = r.body(msgspec.json.encode(doc))
    assert r.body(once) == once


@given(st.lists(st.tuples(st.sampled_from(["Authorization", "Cookie", "X-Note", "A"]), texts)))
def test_idempotent_on_headers(headers: list[tuple[str, str]]) -> None:
    for r in REDACTORS:
        once = r.headers(headers)
        assert r.headers(once) == once


@given(st.lists(st.sampled_from([*KEYS.values(), "sk-learn", "text", MARKER]), min_size=1))
def test_no_key_survives_when_delimited(parts: list[str]) -> None:
    text = " ".join(parts)
    out = DEFAULT_REDACTOR.body(text.encode()).decode()
    assert not any(key in out for key in KEYS.values())
    assert out.count(MARKER) == sum(p in KEYS.values() or p == MARKER for p in parts)


# -- the body as one stream -----------------------------------------------------------------

BODY_PARTS = [
    *KEYS.values(),
    "data: ",
    '{"delta":"',
    '"}\n\n',
    " ",
    "\n",
    "é",
    "sk-",
    "or-v1-",
    "0123456789",
    MARKER,
    "\\",
    '"',
]


@given(
    st.lists(st.sampled_from(BODY_PARTS) | st.text(max_size=6), max_size=10).map("".join),
    st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_a_body_stream_redacts_as_the_whole_body_would_at_any_chunking(
    text: str, cuts: list[int]
) -> None:
    body = text.encode()
    bounds = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *bounds], [*bounds, len(body)], strict=True)]
    stream = DEFAULT_REDACTOR.stream()
    out = [piece for chunk in chunks for piece in stream.feed(chunk)] + stream.close()
    assert len(out) == len(chunks)  # every chunk comes back once, in order
    if '"delta"' not in text:  # delta strings are also redacted as one text, beyond chunk()
        assert b"".join(out) == DEFAULT_REDACTOR.chunk(body)


def test_a_run_longer_than_the_hold_cut_near_its_start_loses_its_first_characters_too() -> None:
    """A run of key characters over the 1 KiB hold is settled in part: a key that starts in the
    settled head is matched with the held rest in view, so not even its first letter is left,
    and the stream gives what the whole body gives at every cut."""
    body = (b"sk-Ab3xY9kQ7zT" + b"sk-proj-Ab3_xY9-kQ7z" * 60)[:1100] + b"\n"
    whole = DEFAULT_REDACTOR.chunk(body)
    assert whole == MARKER.encode() + b"\n"
    for cut in range(1000, len(body)):
        stream = DEFAULT_REDACTOR.stream()
        out = stream.feed(body[:cut]) + stream.feed(body[cut:]) + stream.close()
        assert b"".join(out) == whole, cut


def test_a_body_stream_holds_only_what_could_start_a_key() -> None:
    stream = DEFAULT_REDACTOR.stream()
    assert stream.feed(b"data: 1\n\n") == [b"data: 1\n\n"]  # nothing to wait for
    assert stream.feed(b"the key sk-or") == []  # could go on into a key
    assert stream.feed(b"-v1-0123456789abcdef0123456789") == []
    assert stream.feed(b" and more") == [b"the key " + MARKER.encode(), b""]
    assert stream.close() == [b" and more"]


def test_a_run_longer_than_the_hold_is_settled_and_a_key_in_it_still_goes() -> None:
    stream = DEFAULT_REDACTOR.stream()
    key = KEYS["openai-project"].encode()
    head = stream.feed(b"x " + key + b"A1" * 600)  # longer than the 1 KiB hold
    rest = stream.feed(b"B2" * 100 + b" end") + stream.close()
    assert head == [] or head[0].startswith(b"x " + MARKER.encode())
    assert b"".join(head + rest) == b"x " + MARKER.encode() + b" end"


# -- default gaps ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["api_key", "apiKey", "token", "secret", "password", "access_token", "clientSecret"]
)
def test_credential_fields_are_redacted_at_any_depth(field: str) -> None:
    doc = {"model": "m", "max_output_tokens": 5, "a": [{"b": {field: "hunter2-horse"}}]}
    out = msgspec.json.decode(DEFAULT_REDACTOR.body(msgspec.json.encode(doc)))
    assert out == {"model": "m", "max_output_tokens": 5, "a": [{"b": {field: MARKER}}]}
    assert Redactor(defaults=False).body(msgspec.json.encode(doc)) == msgspec.json.encode(doc)


@pytest.mark.parametrize(
    "name", ["Ocp-Apim-Subscription-Key", "X-Custom-Token", "X-Client-Secret", "x-my-api-key"]
)
def test_credential_like_header_names_are_redacted(name: str) -> None:
    assert DEFAULT_REDACTOR.headers([(name, "opaque")]) == [(name, MARKER)]


def test_headers_named_like_keys_that_are_no_credentials_stay() -> None:
    headers = [("Idempotency-Key", "abc"), ("X-RateLimit-Remaining-Tokens", "100")]
    assert DEFAULT_REDACTOR.headers(headers) == headers


def test_the_x_api_key_query_parameter_is_redacted() -> None:
    assert DEFAULT_REDACTOR.url("https://h/p?x-api-key=abc&q=1") == (
        f"https://h/p?x-api-key={URL_MARKER}&q=1"
    )


@pytest.mark.parametrize(
    "key",
    [
        "AK" + "IA" + "ABCDEFGHIJ234567",  # AWS access key id
        "AS" + "IA" + "ABCDEFGHIJ234567",
        "gh" + "p_" + "Ab3xY9kQ7z" * 3 + "Ab3xY9",  # GitHub
        "github" + "_pat_" + "11AB3XY9K" + "Ab3xY9kQ7z_" * 7,
        "ya" + "29." + "a0Ab3xY9kQ7zAb3xY9kQ7z",  # Google OAuth access token
        "Ab3xY9kQ7z" * 5 + "Ab" + "JQQJ" + "99" + "Ab3xY9kQ7z" * 2 + "Ab3xY9",  # Azure
    ],
)
def test_more_provider_key_shapes(key: str) -> None:
    assert DEFAULT_REDACTOR.chunk(f"use {key} now".encode()) == f"use {MARKER} now".encode()


def test_a_base64_form_of_a_key_in_any_header_is_redacted() -> None:
    basic = base64.b64encode(f"user:{KEYS['anthropic']}".encode()).decode()
    assert DEFAULT_REDACTOR.headers([("X-Upstream", f"Basic {basic}")]) == [
        ("X-Upstream", f"Basic {MARKER}")
    ]
    harmless = base64.b64encode(b"user:not a key at all, just words").decode()
    assert DEFAULT_REDACTOR.headers([("X-Upstream", harmless)]) == [("X-Upstream", harmless)]


# -- deep JSON ------------------------------------------------------------------------------


def test_a_json_body_too_deep_to_decode_is_redacted_as_text() -> None:
    key = KEYS["openrouter"]
    depth = 100_000  # deeper than msgspec decodes on any supported Python (10,000 on 3.13)
    body = (
        b"[" * depth + f'{{"api_key": "hunter2", "note": "{key}", "n": 1}}'.encode() + b"]" * depth
    )
    out = DEFAULT_REDACTOR.body(body)
    assert out == body.replace(b"hunter2", MARKER.encode()).replace(key.encode(), MARKER.encode())
    assert DEFAULT_REDACTOR.body(out) == out
