"""Find likely secrets left in a cassette (`streamtape scan`).

Each record is searched for key patterns and unredacted credential headers; then each
interaction's joined body and streamed text, where a key split over chunks or deltas (which
record-by-record redaction cannot see) shows whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import msgspec

from streamtape.accumulate import accumulate_all
from streamtape.cassette import Cassette, Interaction, RequestRecord
from streamtape.decode import decode_all
from streamtape.errors import StreamtapeError
from streamtape.redact import DEFAULT_HEADERS, DEFAULT_PATTERNS, MARKER, URL_MARKER

__all__ = ["secrets_in"]


def secrets_in(path: str | os.PathLike[str]) -> Iterator[tuple[int, str]]:
    """(record number, what) for every likely secret in the cassette's records, then in each
    interaction's joined body and streamed text, where a key split over chunks or deltas shows."""
    found: set[str] = set()
    request_record: dict[int, int] = {}
    for number, record in enumerate(Cassette.iter_records(path), start=1):
        if isinstance(record, RequestRecord):
            request_record[record.id] = number
        line = msgspec.json.encode(record).decode()
        for pattern in DEFAULT_PATTERNS:
            match = pattern.search(line)
            if match:
                found.add(match.group())
                yield number, f"key pattern {match.group()[:8]}..."
        for name, value in getattr(record, "headers", []):
            if name.lower() in DEFAULT_HEADERS and MARKER not in value and URL_MARKER not in value:
                yield number, f"unredacted {name} header"
    for inter in Cassette.iter_interactions(path, strict=False):
        number = request_record.get(inter.id, 0)
        for where, text in _joined_texts(inter):
            for pattern in DEFAULT_PATTERNS:
                for match in pattern.finditer(text):
                    if match.group() not in found:
                        found.add(match.group())
                        yield number, f"key pattern {match.group()[:8]}... {where}"


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
