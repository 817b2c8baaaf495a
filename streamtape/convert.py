"""Import vcrpy / go-vcr YAML cassettes, and export a cassette's SSE bodies or event payloads.

YAML cassettes keep no chunk boundaries or timing, so a converted stream gets one chunk per SSE
frame, all at offset zero. Reading YAML needs the optional ``yaml`` extra (pyyaml).
"""

from __future__ import annotations

import email.utils
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import msgspec

from streamtape.cassette import Cassette, CassetteWriter, Interaction
from streamtape.decode import EventDecoder
from streamtape.errors import StreamtapeError
from streamtape.events import Done, Event, MalformedEvent, UnknownEvent

__all__ = [
    "Exported",
    "YamlInteraction",
    "convert_yaml",
    "event_json",
    "export",
    "export_sse",
    "payloads",
    "read_yaml_cassette",
    "split_frames",
]

_ENCODINGS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


@dataclass
class YamlInteraction:
    """One request/response pair read from a vcrpy or go-vcr YAML cassette."""

    method: str
    url: str
    request_headers: list[tuple[str, str]] = field(default_factory=list)
    request_body: bytes = b""
    status: int = 200
    reason: str = ""
    http_version: str = "HTTP/1.1"
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    response_body: bytes = b""


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise StreamtapeError(
            "reading YAML cassettes needs pyyaml: pip install streamtape[yaml]"
        ) from None
    return yaml


def _headers(raw: object) -> list[tuple[str, str]]:
    """vcrpy and go-vcr store headers as a mapping of name to a list of values."""
    pairs: list[tuple[str, str]] = []
    if isinstance(raw, dict):
        for name, values in raw.items():
            for value in values if isinstance(values, list) else [values]:
                pairs.append((str(name), "" if value is None else str(value)))
    return pairs


def _bytes(value: object) -> tuple[bytes, bool]:
    """A body as bytes, and whether the YAML held it as (already decoded) text."""
    if value is None:
        return b"", True
    if isinstance(value, bytes):
        return value, False
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass"), True
    return msgspec.json.encode(value), True


def _body_of(part: dict[str, Any]) -> object:
    """The body of a vcrpy request or response: ``body`` / ``body.string``, or pydantic-ai's
    ``parsed_body`` (the JSON body as a mapping)."""
    if "parsed_body" in part:
        return msgspec.json.encode(part["parsed_body"])
    body = part.get("body")
    return body.get("string") if isinstance(body, dict) else body


def _request_body(request: dict[str, Any]) -> bytes:
    return _bytes(_body_of(request))[0]


def _text_headers(headers: list[tuple[str, str]], as_text: bool) -> list[tuple[str, str]]:
    """Drop content-coding and length headers when the YAML stored the body decoded."""
    if not as_text:
        return headers
    return [(n, v) for n, v in headers if n.lower() not in _ENCODINGS]


def _vcrpy(item: dict[str, Any]) -> YamlInteraction:
    request, response = item.get("request") or {}, item.get("response") or {}
    status = response.get("status") or {}
    data, as_text = _bytes(_body_of(response))
    as_text = as_text or "parsed_body" in response
    return YamlInteraction(
        method=str(request.get("method", "GET")),
        url=str(request.get("uri", "")),
        request_headers=_headers(request.get("headers")),
        request_body=_request_body(request),
        status=int(status.get("code", 200)) if isinstance(status, dict) else int(status),
        reason=str(status.get("message", "")) if isinstance(status, dict) else "",
        response_headers=_text_headers(_headers(response.get("headers")), as_text),
        response_body=data,
    )


def _go_vcr(item: dict[str, Any]) -> YamlInteraction:
    request, response = item.get("request") or {}, item.get("response") or {}
    data, as_text = _bytes(response.get("body"))
    status_line = str(response.get("status") or "")
    code = int(response.get("code") or status_line.partition(" ")[0] or 200)
    return YamlInteraction(
        method=str(request.get("method", "GET")),
        url=str(request.get("url", "")),
        request_headers=_headers(request.get("headers")),
        request_body=_bytes(request.get("body"))[0],
        status=code,
        reason=status_line.partition(" ")[2],
        http_version=str(response.get("proto") or "HTTP/1.1"),
        response_headers=_text_headers(_headers(response.get("headers")), as_text),
        response_body=data,
    )


def read_yaml_cassette(path: str | os.PathLike[str]) -> list[YamlInteraction]:
    """Read a vcrpy (``version: 1``) or go-vcr (``version: 2``) YAML cassette.

    Raises StreamtapeError when pyyaml is missing or the file is not such a cassette.
    """
    yaml = _yaml()
    with open(path, encoding="utf-8") as file:
        try:
            doc = yaml.safe_load(file)
        except yaml.YAMLError as exc:
            raise StreamtapeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("interactions"), list):
        raise StreamtapeError(f"{path}: not a vcrpy or go-vcr cassette (no interactions list)")
    go_vcr = doc.get("version") == 2 or any(
        isinstance(i, dict) and "url" in (i.get("request") or {}) for i in doc["interactions"]
    )
    read = _go_vcr if go_vcr else _vcrpy
    return [read(item) for item in doc["interactions"] if isinstance(item, dict)]


def split_frames(body: bytes) -> list[bytes]:
    """Split an SSE body into frames, each with its terminating blank line (LF or CRLF)."""
    frames: list[bytes] = []
    start = 0
    while start < len(body):
        found = (body.find(b"\n\n", start), body.find(b"\r\n\r\n", start))
        candidates = [i for i in found if i >= 0]
        if not candidates:
            frames.append(body[start:])
            break
        end = min(candidates)
        end += 4 if body.startswith(b"\r\n\r\n", end) else 2
        frames.append(body[start:end])
        start = end
    return frames


def _recorded_at(interactions: Iterable[YamlInteraction]) -> str:
    """The first response ``Date`` header as ISO 8601 UTC, so conversions are reproducible."""
    for inter in interactions:
        for name, value in inter.response_headers:
            if name.lower() == "date":
                try:
                    when = email.utils.parsedate_to_datetime(value)
                except (TypeError, ValueError):
                    continue
                return when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "1970-01-01T00:00:00Z"


def _is_sse(headers: list[tuple[str, str]], body: bytes) -> bool:
    for name, value in headers:
        if name.lower() == "content-type":
            return "text/event-stream" in value.lower()
    return body.lstrip().startswith((b"event:", b"data:", b":"))


def convert_yaml(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> int:
    """Write the interactions of YAML cassette ``src`` as a cassette at ``dest``; return how many.

    Streamed bodies become one chunk per SSE frame, other bodies one chunk; every offset is zero.
    Secrets pass the default redactor. The output depends on the input only.
    """
    interactions = read_yaml_cassette(src)
    writer = CassetteWriter(
        dest,
        flush_interval=None,
        clock=lambda: 0,
        recorded_at=_recorded_at(interactions),
        source=f"converted from {Path(src).name}; chunk offsets unknown (zero)",
    )
    try:
        for inter in interactions:
            rec = writer.begin(inter.method, inter.url, inter.request_headers, inter.request_body)
            rec.response(
                inter.status,
                inter.response_headers,
                http_version=inter.http_version,
                reason=inter.reason,
            )
            body = inter.response_body
            chunks = split_frames(body) if _is_sse(inter.response_headers, body) else [body]
            for chunk in chunks:
                if chunk:
                    rec.chunk(chunk)
            rec.end("complete")
    except BaseException:
        writer.discard()
        raise
    writer.close()
    return len(interactions)


def event_json(event: Event) -> bytes:
    """One event as a JSON object (unknown events as their raw payload), fields the wire did not
    send left out. To print what was sent, use the payloads (`EventDecoder.feed_raw`)."""
    if isinstance(event, UnknownEvent):
        return event.raw
    if isinstance(event, Done):
        return b'{"type":"[DONE]"}'
    if isinstance(event, MalformedEvent):
        return msgspec.json.encode(
            {
                "type": event.type,
                "error": event.error,
                "offset": event.offset,
                "raw": event.raw.decode("utf-8", "replace"),
            }
        )
    return msgspec.json.encode(event)


def payloads(inter: Interaction) -> Iterator[bytes]:
    """The `data:` payload of every frame of an interaction's (content-decoded) body, exactly as
    sent."""
    decoder = EventDecoder(strict=False)
    for data in inter.iter_body():
        for _, payload in decoder.feed_raw(data):
            yield payload
    for _, payload in decoder.close_raw():
        yield payload


@dataclass
class Exported:
    """One interaction of `export_sse`: the file its body went to, or why it was skipped."""

    id: int
    path: Path | None
    bytes: int
    skipped: str | None = None


def _content_type(inter: Interaction) -> str:
    value = inter.response.header("content-type") if inter.response is not None else None
    return (value or "").split(";")[0].strip().lower()


def _sse_body(inter: Interaction) -> tuple[bytes, str | None]:
    """The body, and why it is not an SSE stream (None when it is one)."""
    if inter.response is None:
        return b"", "no response"
    body = inter.body
    if not _is_sse(inter.response.headers, body):
        return body, f"not an SSE body ({_content_type(inter) or 'no content-type'})"
    return body, None


def _numbered(dest: Path, number: int) -> Path:
    """`out.sse` -> `out.3.sse`."""
    return dest.with_name(
        f"{dest.stem}.{number}{dest.suffix}" if dest.suffix else f"{dest.name}.{number}"
    )


def export_sse(
    src: str | os.PathLike[str], dest: str | os.PathLike[str], interaction: int | None = None
) -> list[Exported]:
    """Write each SSE body of a cassette (content-decoded) to a file of its own: `dest` when
    there is one (or `interaction` picks one), else `dest` with the interaction id before its
    suffix (`out.1.sse`, `out.3.sse`). Other bodies (JSON, audio) are skipped and say why.

    Raises StreamtapeError when `interaction` names no interaction or one without an SSE body.
    """
    cassette = Cassette.load(src)
    target = Path(dest)
    if interaction is not None:
        chosen = [i for i in cassette if i.id == interaction]
        if not chosen:
            ids = ", ".join(str(i.id) for i in cassette)
            raise StreamtapeError(f"{src}: no interaction {interaction} (it has {ids or 'none'})")
        body, why = _sse_body(chosen[0])
        if why is not None:
            raise StreamtapeError(f"{src}: interaction {interaction}: {why}, {len(body)} bytes")
        target.write_bytes(body)
        return [Exported(interaction, target, len(body))]
    bodies = [(inter.id, *_sse_body(inter)) for inter in cassette]
    streams = [number for number, _, why in bodies if why is None]
    out: list[Exported] = []
    for number, body, why in bodies:
        if why is not None:
            out.append(Exported(number, None, len(body), why))
            continue
        path = target if len(streams) == 1 else _numbered(target, number)
        path.write_bytes(body)
        out.append(Exported(number, path, len(body)))
    return out


def export(src: str | os.PathLike[str], dest: str | os.PathLike[str], to: Literal["ndjson"]) -> int:
    """Write the payload of every event of a cassette, exactly as sent, one per line (JSON lines
    for JSON payloads; `[DONE]` as sent); return how many. SSE bodies: see `export_sse`."""
    if to != "ndjson":
        raise ValueError(f"export writes ndjson; use export_sse for {to!r}")
    cassette = Cassette.load(src)
    count = 0
    with Path(dest).open("wb") as out:
        for inter in cassette:
            for payload in payloads(inter):
                out.write(payload + b"\n")
                count += 1
    return count
