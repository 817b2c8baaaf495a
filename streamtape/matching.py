"""Request matching for replay: does a live request match a recorded one, and if not, why not.

A :class:`Matcher` compares chosen fields of two requests (both already redacted by the
caller): the method, the URL or parts of it (query parameters in any order), canonical JSON bodies
(key order, whitespace and ``1`` vs ``1.0`` ignored, ``ignore_paths`` removed), named headers,
plus custom predicates. It is pure: choosing among several matching recordings is the caller's job.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import lru_cache
from typing import Any, Literal, NamedTuple, Protocol, TypeAlias, get_args
from urllib.parse import parse_qsl, urlsplit

import msgspec

from streamtape._jsonpath import Step as _Step
from streamtape._jsonpath import parse_path as _parse_path
from streamtape._jsonpath import targets as _targets
from streamtape.errors import NoMatchError

__all__ = [
    "DEFAULT_MATCH_ON",
    "MATCH_ON_FIELDS",
    "CustomMatcher",
    "MatchOn",
    "Matcher",
    "RequestLike",
]


class RequestLike(Protocol):
    """What matching reads from a request: the cassette's request record and live requests alike."""

    @property
    def method(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> Sequence[tuple[str, str]]: ...

    @property
    def body(self) -> bytes: ...


MatchOn = Literal["method", "url", "scheme", "host", "path", "query", "body", "headers"]
"""Fields a matcher can compare. ``url`` is scheme + host (with port) + path + query; ``host``
includes a non-default port; ``headers`` compares the headers named in ``Matcher(headers=...)``."""

MATCH_ON_FIELDS: frozenset[MatchOn] = frozenset(get_args(MatchOn))
DEFAULT_MATCH_ON: tuple[MatchOn, ...] = ("method", "url", "body")

CustomMatcher: TypeAlias = Callable[[RequestLike, RequestLike], bool]
"""``custom(recorded, sent) -> bool``: an extra condition every match must meet."""

_MAX_DIFF_LINES = 8  # field diff lines shown in a NoMatchError message
_VALUE_WIDTH = 60  # characters of a value shown in a diff line
_BODY_CACHE_SIZE = 4096
_MISSING: Any = object()
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_$@-]+")


# -- URL ------------------------------------------------------------------------------------


class _URL(NamedTuple):
    scheme: str
    host: str
    path: str
    query: tuple[tuple[str, str], ...]


@lru_cache(maxsize=1024)
def _parse_url(url: str) -> _URL:
    """Split ``url`` into lower-cased scheme and host (default port dropped), path and the
    sorted, unquoted query pairs (a multiset: duplicates kept). The fragment is ignored."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: compare the text as the path
        return _URL("", "", url, ())
    scheme = parts.scheme.lower()
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # not a number: keep what was written
        host = parts.netloc.rpartition("@")[2].lower()
        port = None
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = tuple(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    return _URL(scheme, host, parts.path or "/", query)


# -- JSON paths -----------------------------------------------------------------------------


def _drop(doc: Any, steps: tuple[_Step, ...]) -> None:
    """Remove what ``steps`` points at: object keys are deleted, array items become null
    (so the items after them keep their indices)."""
    for container, key in _targets(doc, steps):
        if isinstance(container, dict):
            del container[key]
        else:
            container[key] = None


def _label(path: str, step: str | int) -> str:
    if isinstance(step, int):
        return f"{path}[{step}]"
    if _PLAIN_KEY.fullmatch(step):
        return f"{path}.{step}" if path else step
    return f"{path}[{msgspec.json.encode(step).decode()}]"


# -- bodies ---------------------------------------------------------------------------------


def _number(text: str) -> float | int:
    """JSON numbers compare by value: an integral float (``1.0``, ``1e2``) becomes an int."""
    value = float(text)
    return int(value) if value.is_integer() else value


_JSON = msgspec.json.Decoder(float_hook=_number)
_JSON_START = re.compile(rb"[ \t\r\n]*[\[{\"0-9tfn-]")


class _Body(NamedTuple):
    """A body's comparable form: ``("json", sorted-keys encoding)`` or ``("raw", bytes)``."""

    key: tuple[str, bytes]
    doc: Any  # the decoded JSON document (ignored paths removed), or _MISSING for raw bodies


# -- matcher --------------------------------------------------------------------------------


class Matcher:
    """Decide whether a sent request matches a recorded one, and explain why not.

    ``match_on`` names the fields compared (see :data:`MatchOn`); ``ignore_paths`` are JSON paths
    (``metadata.trace_id``, ``input[0].id``, ``messages[*].id``) removed from both bodies first;
    ``headers`` names headers compared case-insensitively (and turns on header matching);
    ``custom`` predicates must all hold too. Raises ValueError for an unknown field or bad path.
    """

    def __init__(
        self,
        match_on: Sequence[MatchOn] = DEFAULT_MATCH_ON,
        *,
        ignore_paths: Iterable[str] = (),
        headers: Iterable[str] = (),
        custom: Iterable[CustomMatcher] = (),
    ) -> None:
        if isinstance(match_on, str):
            raise TypeError("match_on must be a sequence of field names, not a string")
        unknown = [f for f in match_on if f not in MATCH_ON_FIELDS]
        if unknown:
            raise ValueError(
                f"unknown match_on field(s) {', '.join(map(repr, unknown))}; "
                f"choose from {', '.join(sorted(MATCH_ON_FIELDS))}"
            )
        self._headers = tuple(sorted({h.lower() for h in headers}))
        fields: list[MatchOn] = list(dict.fromkeys(match_on))
        if self._headers and "headers" not in fields:
            fields.append("headers")
        if "headers" in fields and not self._headers:
            raise ValueError("match_on 'headers' needs headers=[...] naming the headers to compare")
        self.match_on: tuple[MatchOn, ...] = tuple(fields)
        self.ignore_paths: tuple[str, ...] = tuple(ignore_paths)
        self._ignore = tuple(_parse_path(p) for p in self.ignore_paths)
        self._custom = tuple(custom)
        self._bodies: dict[bytes, _Body] = {}

    def __repr__(self) -> str:
        return (
            f"Matcher(match_on={self.match_on!r}, ignore_paths={self.ignore_paths!r}, "
            f"headers={self._headers!r}, custom={len(self._custom)})"
        )

    # -- comparable forms -------------------------------------------------------------------

    def _body(self, body: bytes) -> _Body:
        """The canonical form of ``body``, cached by value (bytes are immutable)."""
        cached = self._bodies.get(body)
        if cached is not None:
            return cached
        result = _Body(("raw", body), _MISSING)
        if body and _JSON_START.match(body):
            try:
                doc = _JSON.decode(body)
            except (msgspec.DecodeError, RecursionError):
                pass  # not JSON, or nested too deep to decode: compared byte for byte
            else:
                for steps in self._ignore:
                    _drop(doc, steps)
                result = _Body(("json", msgspec.json.encode(doc, order="sorted")), doc)
        if len(self._bodies) >= _BODY_CACHE_SIZE:
            del self._bodies[next(iter(self._bodies))]
        self._bodies[body] = result
        return result

    def _header_values(self, request: RequestLike) -> tuple[tuple[str, tuple[str, ...]], ...]:
        found: dict[str, list[str]] = {name: [] for name in self._headers}
        for name, value in request.headers:
            values = found.get(name.lower())
            if values is not None:
                values.append(value)
        return tuple((name, tuple(values)) for name, values in found.items())

    def _field(self, field: MatchOn, request: RequestLike) -> Hashable:
        if field == "method":
            return request.method.upper()
        if field == "body":
            return self._body(request.body).key
        if field == "headers":
            return self._header_values(request)
        url = _parse_url(request.url)
        if field == "url":
            return url
        value: Hashable = getattr(url, field)
        return value

    def key(self, request: RequestLike) -> tuple[Hashable, ...]:
        """A hashable key of the matched fields: requests with equal keys match unless a custom
        matcher says otherwise. Callers may precompute keys of recorded requests to index them."""
        return tuple(self._field(f, request) for f in self.match_on)

    def matches(self, recorded: RequestLike, sent: RequestLike) -> bool:
        """Whether ``sent`` matches ``recorded`` on every chosen field and custom matcher."""
        for field in self.match_on:
            if self._field(field, recorded) != self._field(field, sent):
                return False
        return all(custom(recorded, sent) for custom in self._custom)

    # -- explanations -----------------------------------------------------------------------

    def differences(self, recorded: RequestLike, sent: RequestLike) -> list[str]:
        """Field-level differences, one line each, e.g.
        ``body input[1].content: recorded "Hi" / sent "Hello"``; empty when the requests match."""
        return [line for _, lines in self._differences(recorded, sent) for line in lines]

    def _differences(self, recorded: RequestLike, sent: RequestLike) -> list[tuple[str, list[str]]]:
        """``(field, lines)`` for every field (or custom matcher) that differs."""
        found: list[tuple[str, list[str]]] = []
        for field in self.match_on:
            a, b = self._field(field, recorded), self._field(field, sent)
            if a == b:
                continue
            if field == "body":
                lines = self._body_differences(recorded.body, sent.body)
            elif field == "headers":
                lines = [
                    _line(f"header {name}", _values(va), _values(vb))
                    for (name, va), (_, vb) in zip(
                        self._header_values(recorded), self._header_values(sent), strict=True
                    )
                    if va != vb
                ]
            elif field == "query":
                lines = _query_differences(_parse_url(recorded.url), _parse_url(sent.url))
            elif field == "url":
                lines = [_line("url", recorded.url, sent.url)]
            else:
                lines = [_line(field, a, b)]
            found.append((field, lines))
        for custom in self._custom:
            if not custom(recorded, sent):
                name = getattr(custom, "__qualname__", None) or repr(custom)
                found.append((name, [f"custom matcher {name}: no match"]))
        return found

    def _body_differences(self, recorded: bytes, sent: bytes) -> list[str]:
        a, b = self._body(recorded), self._body(sent)
        if a.key[0] == "json" and b.key[0] == "json":
            out: list[tuple[str, Any, Any]] = []
            _diff_json(a.doc, b.doc, "", out)
            if out:
                return [_line(f"body {path}" if path else "body", x, y) for path, x, y in out]
        if a.key[0] == "json" and b.key[0] == "raw":
            return [_line("body (recorded JSON, sent not JSON)", a.doc, _text(sent))]
        if a.key[0] == "raw" and b.key[0] == "json":
            return [_line("body (recorded not JSON, sent JSON)", _text(recorded), b.doc)]
        at = _first_difference(recorded, sent)
        return [
            _line(
                f"body (bytes differ at offset {at}; {len(recorded)} vs {len(sent)} bytes)",
                _text(recorded),
                _text(sent),
            )
        ]

    def no_match_error(
        self,
        sent: RequestLike,
        candidates: Sequence[RequestLike],
        *,
        cassette: str | None = None,
        record_hint: str | None = None,
    ) -> NoMatchError:
        """Build (not raise) the error for a request no candidate matched.

        The message names the sent request, the closest candidate (fewest differing fields, then
        fewest difference lines, then first recorded) with its field-level diff, how many requests
        were recorded, and how to re-record (``record_hint``, or a default naming ``cassette``).
        """
        where = f" in {cassette}" if cassette else ""
        lines = [f"No recorded request{where} matches {_request_line(sent)}"]
        if sent.body:
            lines.append(f"  sent body ({len(sent.body)} bytes): {_clip(_text(sent.body), 120)}")
        if not candidates:
            lines.append(
                f"The cassette{f' {cassette}' if cassette else ''} is empty: "
                "it holds no recorded requests."
            )
        else:
            best: tuple[tuple[int, int], int, list[str]] | None = None
            for index, candidate in enumerate(candidates):
                found = self._differences(candidate, sent)
                diff = [line for _, lines in found for line in lines]
                rank = (len(found), len(diff))
                if best is None or rank < best[0]:
                    best = (rank, index, diff)
            assert best is not None
            _, best_index, best_diff = best
            closest = candidates[best_index]
            count = len(candidates)
            lines.append(
                f"Closest of the {count} recorded request{'s' if count != 1 else ''} is "
                f"#{best_index}: {_request_line(closest)}"
            )
            shown = best_diff[:_MAX_DIFF_LINES]
            lines += [f"  {line}" for line in shown]
            if len(best_diff) > len(shown):
                lines.append(f"  … and {len(best_diff) - len(shown)} more differences")
        matched_on = ", ".join(self.match_on)
        if self.ignore_paths:
            matched_on += f" (ignoring body paths {', '.join(self.ignore_paths)})"
        lines.append(f"Matching on: {matched_on}")
        if record_hint is None:
            record_hint = (
                f"re-record with record_mode='new_episodes' or delete {cassette}"
                if cassette
                else "re-record with record_mode='new_episodes'"
            )
        lines.append(f"To fix: {record_hint}")
        return NoMatchError("\n".join(lines))


# -- rendering helpers ----------------------------------------------------------------------


def _diff_json(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    """Append ``(path, recorded, sent)`` for every leaf where two JSON documents differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in {**a, **b}:
            _diff_json(a.get(key, _MISSING), b.get(key, _MISSING), _label(path, key), out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            x = a[i] if i < len(a) else _MISSING
            y = b[i] if i < len(b) else _MISSING
            _diff_json(x, y, _label(path, i), out)
    elif type(a) is not type(b) or a != b:  # type check: true is not 1
        out.append((path, a, b))


def _query_differences(a: Any, b: Any) -> list[str]:
    """One line per query parameter whose values differ (order-insensitive)."""
    lines = []
    names = dict.fromkeys([k for k, _ in a.query] + [k for k, _ in b.query])
    for name in names:
        va = tuple(v for k, v in a.query if k == name)
        vb = tuple(v for k, v in b.query if k == name)
        if va != vb:
            lines.append(_line(f"query {name}", _values(va), _values(vb)))
    return lines


def _values(values: tuple[str, ...]) -> Any:
    """Header or parameter values for display: missing, one string, or a list."""
    if not values:
        return _MISSING
    return values[0] if len(values) == 1 else list(values)


def _first_difference(a: Sequence[object], b: Sequence[object]) -> int:
    """Index of the first item where ``a`` and ``b`` differ (or the shorter length)."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def _request_line(request: RequestLike) -> str:
    return f"{request.method.upper()} {_clip(request.url, 2 * _VALUE_WIDTH)}"


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _show(value: Any, start: int = 0) -> str:
    """Render a value for a diff line: JSON, capped with an ellipsis; strings from ``start``."""
    if value is _MISSING:
        return "<missing>"
    if isinstance(value, str):
        inner = msgspec.json.encode(value[start:]).decode()[1:-1]
        return f'"{"…" if start else ""}{_clip(inner, _VALUE_WIDTH)}"'
    return _clip(msgspec.json.encode(value).decode(), _VALUE_WIDTH)


def _line(label: str, recorded: Any, sent: Any) -> str:
    """``label: recorded X / sent Y``; two long strings are shown from just before they differ."""
    start = 0
    if isinstance(recorded, str) and isinstance(sent, str):
        same = _first_difference(recorded, sent)
        if max(len(recorded), len(sent)) > _VALUE_WIDTH and same > _VALUE_WIDTH // 2:
            start = same - 10
    return f"{label}: recorded {_show(recorded, start)} / sent {_show(sent, start)}"
