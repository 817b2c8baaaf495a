"""Planted secrets: keys sent every way a key can travel never reach the cassette's bytes.

Each test records with the real write path (a live loopback server and httpx, or the
InteractionWriter calls the recorders make), decompresses the cassette and searches the raw
NDJSON for any 20-character piece of each key, and of its base64 forms. The same recordings
made without a redactor leak in every place, so the search is shown to find what it looks for.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sse_server import Route, SSEServer

import streamtape
from streamtape.cassette import Cassette, CassetteWriter, InteractionWriter
from streamtape.redact import DEFAULT_REDACTOR, MARKER
from streamtape.scan import secrets_in

ALPHABET = "Ab3xY9kQ7zT0mN5pR2"


def shaped(prefix: str, length: int, chars: str = ALPHABET) -> str:
    """A key of a provider's shape, built at run time (no key-like literal in the source)."""
    return prefix + (chars * (length // len(chars) + 1))[:length]


KEYS = {
    "openrouter": shaped("sk-" + "or-v1-", 64, "0123456789abcdef"),
    "openai": shaped("sk-" + "proj-", 120),
    "anthropic": shaped("sk-" + "ant-api03-", 95),
    "aws": shaped("AK" + "IA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    "github": shaped("gh" + "p_", 36),
    "github-fine-grained": shaped("github" + "_pat_", 82),
    "google": shaped("AI" + "za", 35),
    "azure": shaped("", 52) + "JQQJ" + "99" + shaped("", 26),
}
WINDOW = 20  # a piece of a key this long is a leak


def key_forms(key: str) -> list[str]:
    """The key and its base64 forms at each of the three alignments (stable middles only)."""
    forms = [key]
    for pad in ("", "u:", "us:"):
        encoded = base64.b64encode((pad + key).encode()).decode()
        start = (len(pad) * 4 + 2) // 3 + 1  # past the characters that mix in the pad
        forms.append(encoded[start : len(encoded) - 4])
    return forms


def leaks(haystack: str, key: str) -> bool:
    """Whether any WINDOW-long piece of the key, or of a base64 form of it, is in haystack."""
    return any(
        form[i : i + WINDOW] in haystack
        for form in key_forms(key)
        for i in range(len(form) - WINDOW + 1)
    )


def cassette_text(path: Path) -> str:
    """The decompressed NDJSON, with JSON escapes undone so a key cannot hide behind them."""
    raw = Cassette.read_ndjson(path).decode()
    lines = [json.dumps(json.loads(line), ensure_ascii=False) for line in raw.splitlines()]
    return raw + "\n" + "\n".join(lines)


def delta(text: str, seq: int) -> bytes:
    event = {
        "type": "response.output_text.delta",
        "sequence_number": seq,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
    }
    return b"data: " + json.dumps(event).encode() + b"\n\n"


# -- a live recording: URL, query, every header kind, body at depth, response head and body ------


def plant(server: SSEServer, path: Path, key: str, *, redact: bool) -> None:
    """Record one request carrying ``key`` every way it can go, through httpx and a real socket."""
    basic = base64.b64encode(f"user:{key}".encode()).decode()
    error = b'data: {"type":"error","message":"bad key ' + key.encode() + b'"}\n\n'
    cut = error.index(key.encode()) + len(key) // 2
    # a key without a prefix (Azure's) is not held back across deltas, only across chunks (a
    # held delta would hold the stream's every word): it travels in one delta here
    spelled = [key] if key == KEYS["azure"] else [key[:9], key[9:30], key[30:]]
    chunks = [
        *[delta(piece, n) for n, piece in enumerate(["Your key: ", *spelled])],
        error[:cut],
        error[cut:],
    ]
    url = server.add(
        Route(
            f"/v1/{key}/responses",
            chunks,
            headers=[
                ("Content-Type", "text/event-stream"),
                ("Set-Cookie", f"session={key}; Path=/"),
                ("X-Echo-Key", key),
                ("X-Debug", f"called with {key}"),
            ],
        )
    )
    body = {
        "model": "m",
        "input": [{"role": "user", "content": f"my key is {key}"}],
        "metadata": {"deep": [{"deeper": {"api_key": key, "note": f"use {key}"}}]},
        "password": key,
    }
    headers = {
        "Authorization": f"Bearer {key}",
        "x-api-key": key,
        "api-key": key,
        "Ocp-Apim-Subscription-Key": key,
        "x-goog-api-key": key,
        "X-Custom-Token": key,
        "Cookie": f"k={key}",
        "X-Note": f"sent {key}",
        "X-Upstream-Auth": f"Basic {basic}",
    }
    mode = streamtape.use_cassette(
        path, record_mode="all", redact=DEFAULT_REDACTOR if redact else None
    )
    with mode, httpx.Client() as client:
        query = f"?x-api-key={key}&key={key}&q=1"
        with client.stream("POST", url + query, json=body, headers=headers) as response:
            got = b"".join(response.iter_raw())
    assert got == b"".join(chunks)  # the client got the bytes as sent, redaction or not


PLACES = [
    "URL path",
    "query x-api-key",
    "query key",
    "Authorization",
    "x-api-key",
    "api-key",
    "Ocp-Apim-Subscription-Key",
    "x-goog-api-key",
    "X-Custom-Token",
    "Cookie",
    "X-Note",
    "X-Upstream-Auth (base64)",
    "body input",
    "body api_key at depth",
    "body note at depth",
    "body password",
    "Set-Cookie",
    "X-Echo-Key",
    "X-Debug",
    "deltas",
    "body chunks",
]


@pytest.mark.parametrize("name", sorted(KEYS))
def test_a_planted_key_reaches_no_cassette_byte(
    sse_server: SSEServer, tmp_path: Path, name: str
) -> None:
    key = KEYS[name]
    plant(sse_server, tmp_path / "clean.ndjson.zst", key, redact=True)
    text = cassette_text(tmp_path / "clean.ndjson.zst")
    assert not leaks(text, key), f"0 of {len(PLACES)} places may leak: {text}"
    assert list(secrets_in(tmp_path / "clean.ndjson.zst")) == []
    (inter,) = Cassette.load(tmp_path / "clean.ndjson.zst")
    assert len(inter.chunks) == len(sse_server.sent_on(f"/v1/{key}/responses"))  # as read
    assert MARKER in inter.result().output_text

    # without a redactor, every place leaks: the search above finds what it looks for
    plant(sse_server, tmp_path / "raw.ndjson.zst", key, redact=False)
    (raw,) = Cassette.load(tmp_path / "raw.ndjson.zst")
    request_headers = {k.lower(): v for k, v in raw.request.headers}
    assert raw.request.url.count(key) == 3
    assert all(
        leaks(request_headers[h], key)
        for h in [
            "authorization",
            "x-api-key",
            "api-key",
            "ocp-apim-subscription-key",
            "x-goog-api-key",
            "x-custom-token",
            "cookie",
            "x-note",
            "x-upstream-auth",
        ]
    )
    assert raw.request.body.count(key.encode()) == 4
    assert raw.response is not None
    assert sum(leaks(v, key) for _, v in raw.response.headers) == 3
    assert leaks(b"".join(c.data for c in raw.chunks).decode(), key)
    assert key in raw.result().output_text
    assert list(secrets_in(tmp_path / "raw.ndjson.zst"))


# -- every split point, as the recorders call the writer ------------------------------------------


def record(writer: CassetteWriter, chunks: list[bytes]) -> InteractionWriter:
    rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
    rec.response(200, [("content-type", "text/event-stream")], offset_ns=1000)
    for n, chunk in enumerate(chunks):
        rec.chunk(chunk, offset_ns=(n + 2) * 1000)
    rec.end(offset_ns=(len(chunks) + 2) * 1000)
    return rec


def splits(length: int, start: int, end: int, parts: int) -> Iterator[list[tuple[int, int]]]:
    """The (start, end) of ``parts`` pieces of ``length`` items, at every choice of cut points
    in [start, end]."""
    for points in itertools.combinations(range(start, end + 1), parts - 1):
        yield list(itertools.pairwise([0, *points, length]))


@pytest.mark.parametrize(
    ("name", "parts"),
    [(name, parts) for name in ["openrouter", "aws", "github"] for parts in (2, 3)]
    + [("azure", 2)],
)
def test_a_key_split_at_every_point_of_the_body_is_redacted(
    tmp_path: Path, name: str, parts: int
) -> None:
    key = KEYS[name].encode()
    frame = b'data: {"type":"error","message":"the key ' + key + b' leaked"}\n\n'
    at = frame.index(key)
    cases = [[frame[a:b] for a, b in cut] for cut in splits(len(frame), at, at + len(key), parts)]
    path = tmp_path / "split.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        for chunks in cases:
            record(writer, chunks)
    assert not leaks(cassette_text(path), KEYS[name])
    expected = frame.replace(key, MARKER.encode())
    interactions = Cassette.load(path).interactions
    assert len(interactions) == len(cases) > len(key)
    for inter in interactions:
        # the chunk records keep their number and offsets; only the bytes inside change
        assert [c.offset_ns for c in inter.chunks] == [(n + 2) * 1000 for n in range(parts)]
        assert b"".join(c.data for c in inter.chunks) == expected
    assert list(secrets_in(path)) == []


@pytest.mark.parametrize("parts", [2, 3])
def test_a_key_spelled_over_deltas_at_every_point_is_redacted(tmp_path: Path, parts: int) -> None:
    key = KEYS["openrouter"]
    text = f"Here it is: {key}. Keep it safe."
    at = text.index(key)
    cases = [
        [delta(text[a:b], n) for n, (a, b) in enumerate(cut)]
        for cut in splits(len(text), at + 1, at + len(key) - 1, parts)
    ]
    path = tmp_path / "deltas.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        for chunks in cases:
            record(writer, chunks)
    assert not leaks(cassette_text(path), key)
    for n, inter in enumerate(Cassette.load(path)):
        assert len(inter.chunks) == parts
        if parts == 2 or n % 5 == 0:  # the text as a client assembles it (a sample of 3-way cuts)
            assert inter.result().output_text == f"Here it is: {MARKER}. Keep it safe."
    assert list(secrets_in(path)) == []


def test_the_same_splits_leak_without_a_redactor(tmp_path: Path) -> None:
    """The control: one split of each kind, recorded raw, is found by the search and by scan."""
    key = KEYS["openrouter"]
    path = tmp_path / "raw.ndjson.zst"
    frame = f'data: {{"type":"error","message":"{key}"}}\n\n'.encode()
    cut = frame.index(key.encode()) + 30
    with CassetteWriter(path, redactor=None, flush_interval=None) as writer:
        record(writer, [frame[:cut], frame[cut:]])
        record(writer, [delta(key[:15], 1), delta(key[15:40], 2), delta(key[40:], 3)])
    assert leaks(cassette_text(path), key)
    assert [what.split(" sk-")[0] for _, what in secrets_in(path)] == [
        "key pattern",
        "key pattern",
    ]


def test_a_request_body_nested_thousands_deep_records_with_its_secrets_redacted(
    sse_server: SSEServer, tmp_path: Path
) -> None:
    key = KEYS["openrouter"]
    url = sse_server.add(Route("/deep", [delta("ok", 1)]))
    body = b"[" * 5000 + f'{{"api_key":"{key}","n":1}}'.encode() + b"]" * 5000
    path = tmp_path / "deep.ndjson.zst"
    with streamtape.use_cassette(path, record_mode="all"), httpx.Client() as client:
        response = client.post(url, content=body, headers={"content-type": "application/json"})
    assert response.content == delta("ok", 1)
    (inter,) = Cassette.load(path)
    assert inter.request.body == body.replace(key.encode(), MARKER.encode())
    with streamtape.use_cassette(path, record_mode="none"), httpx.Client() as client:
        replayed = client.post(url, content=body, headers={"content-type": "application/json"})
    assert replayed.content == delta("ok", 1)
