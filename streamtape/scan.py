"""Find likely secrets left in a cassette (`streamtape scan`).

The rules are the default redactor's: a record is flagged where redacting it again would change
it (key patterns, credential headers and their base64 forms, query parameters, credential fields
of a JSON request body). Then each interaction's joined body and streamed text are searched,
where a key split over chunks or deltas shows whole, and where the tail of a key (20 or more key
characters) sits right after a marker, left behind by a redaction that saw only the key's head.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

import msgspec

from streamtape.accumulate import accumulate_all
from streamtape.cassette import Cassette, Interaction, Record, RequestRecord, ResponseRecord
from streamtape.decode import decode_all
from streamtape.errors import StreamtapeError
from streamtape.redact import DEFAULT_PATTERNS, DEFAULT_REDACTOR, MARKER, URL_MARKER

__all__ = ["secrets_in"]

# the rest of a key whose head alone was redacted: key characters glued to a marker
_KEY_TAIL = re.compile(
    "(?:" + re.escape(MARKER) + "|" + re.escape(URL_MARKER) + r")([A-Za-z0-9_-]{20,})"
)


def secrets_in(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(record number, what) for every likely secret in the cassette's records, then in each
    interaction's joined body and streamed text, where a key split over chunks or deltas shows."""
    found: set[str] = set()
    request_record: dict[int, int] = {}
    for number, record in enumerate(Cassette.iter_records(path), start=1):
        if isinstance(record, RequestRecord):
            request_record[record.id] = number
        line = msgspec.json.encode(record).decode()
        matched = False
        for pattern in DEFAULT_PATTERNS:
            match = pattern.search(line)
            if match:
                matched = True
                found.add(match.group())
                yield number, f"key pattern {match.group()[:8]}..."
        for match in _KEY_TAIL.finditer(line):
            found.add(match.group(1))
            yield number, f"the tail of a key after a redaction marker {match.group(1)[:8]}..."
        for what in _unredacted(record):
            if not matched or "header" in what:
                yield number, what
    for inter in Cassette.iter_interactions(path, strict=False):
        number = request_record.get(inter.id, 0)
        for where, text in _joined_texts(inter):
            for pattern in DEFAULT_PATTERNS:
                for match in pattern.finditer(text):
                    if match.group() not in found:
                        found.add(match.group())
                        yield number, f"key pattern {match.group()[:8]}... {where}"
            for match in _KEY_TAIL.finditer(text):
                if match.group(1) not in found:
                    found.add(match.group(1))
                    tail = match.group(1)[:8]
                    yield number, f"the tail of a key after a redaction marker {tail}... {where}"


def _unredacted(record: Record) -> Iterator[str]:
    """What the default redactor would still change in a request or response record."""
    headers = getattr(record, "headers", None)
    if isinstance(record, (RequestRecord, ResponseRecord)) and headers:
        for (name, value), (_, redacted) in zip(
            headers, DEFAULT_REDACTOR.headers(headers), strict=True
        ):
            if redacted != value:
                yield f"unredacted {name} header"
    if isinstance(record, RequestRecord):
        if DEFAULT_REDACTOR.url(record.url) != record.url:
            yield "unredacted secret in the URL"
        body = record.body.encode() if record.body else b""
        content_type = next((v for k, v in record.headers if k.lower() == "content-type"), None)
        if body and DEFAULT_REDACTOR.body(body, content_type=content_type) != body:
            yield "unredacted secret in the request body"


def _joined_texts(inter: Interaction) -> Iterator[tuple[str, str]]:
    """(where, text) of an interaction's whole body and, for a stream, its assembled texts."""
    try:
        body = inter.body
    except StreamtapeError:
        return  # an undecodable body: the per-record scan above is all there is
    yield "in the body, split across chunks", body.decode("utf-8", "replace")
    content_type = inter.response.header("content-type") if inter.response else None
    if "event-stream" in (content_type or ""):
        for result in accumulate_all(decode_all(body, strict=False)):
            texts = [result.output_text, result.refusal]
            texts += [result.reasoning_summary, result.reasoning_text]
            texts += [call.arguments for call in result.function_calls]
            yield "in the streamed text, split across deltas", "\n".join(texts)
