"""secrets_in: record by record, then across chunks and deltas; damaged bodies do not stop it."""

from __future__ import annotations

from pathlib import Path

from streamtape.cassette import CassetteWriter
from streamtape.scan import secrets_in

KEY = "sk-proj-" + "abcdefghij0123456789" * 2


def test_a_body_that_does_not_decode_still_gets_its_records_scanned(tmp_path: Path) -> None:
    path = tmp_path / "gz.ndjson.zst"
    with CassetteWriter(path, redactor=None, flush_interval=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
        rec.response(200, [("content-type", "text/event-stream"), ("content-encoding", "gzip")])
        rec.chunk(b"not gzip at all " + KEY.encode())  # content-encoded chunks are kept as is
        rec.end()
    assert list(secrets_in(path)) == [(4, "key pattern sk-proj-...")]


def test_a_key_found_in_one_record_is_not_reported_again_for_the_joined_body(
    tmp_path: Path,
) -> None:
    path = tmp_path / "one.ndjson.zst"
    with CassetteWriter(path, redactor=None, flush_interval=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
        rec.response(200, [("content-type", "application/json")])
        rec.chunk(b'{"echo": "' + KEY.encode() + b'"}')
        rec.end()
    assert [what for _, what in secrets_in(path)] == ["key pattern sk-proj-..."]


def test_a_clean_cassette_has_no_findings(tmp_path: Path) -> None:
    path = tmp_path / "clean.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin(
            "POST", "https://api.example.com/v1/responses", [], b'{"k":"' + KEY.encode() + b'"}'
        )
        rec.response(200, [("content-type", "application/json")])
        rec.chunk(b"{}")
        rec.end()
    assert list(secrets_in(path)) == []


def test_the_tail_of_a_key_left_after_a_marker_is_found(tmp_path: Path) -> None:
    """What per-chunk redaction used to leave: the head redacted, the rest in the next chunk."""
    path = tmp_path / "tail.ndjson.zst"
    with CassetteWriter(path, redactor=None, flush_interval=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
        rec.response(200, [("content-type", "text/event-stream")])
        rec.chunk(b"data: key <redacted>")
        rec.chunk(b"0123456789abcdef0123456789\n\n")
        rec.end()
    assert [what for _, what in secrets_in(path)] == [
        "the tail of a key after a redaction marker 01234567... in the body, split across chunks"
    ]


def test_secrets_the_default_redactor_would_remove_are_found(tmp_path: Path) -> None:
    path = tmp_path / "plain.ndjson.zst"
    with CassetteWriter(path, redactor=None, flush_interval=None) as writer:
        rec = writer.begin(
            "POST",
            "https://api.example.com/v1/responses?x-api-key=abc",
            [("Ocp-Apim-Subscription-Key", "abc"), ("content-type", "application/json")],
            b'{"a":{"password":"hunter2"}}',
        )
        rec.response(200, [("content-type", "application/json"), ("X-Session-Token", "t")])
        rec.end()
    assert list(secrets_in(path)) == [
        (2, "unredacted Ocp-Apim-Subscription-Key header"),
        (2, "unredacted secret in the URL"),
        (2, "unredacted secret in the request body"),
        (3, "unredacted X-Session-Token header"),
    ]
