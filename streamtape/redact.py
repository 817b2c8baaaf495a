"""Redaction: keep credentials and other secrets out of cassettes.

Every request, response head and body chunk passes through a :class:`Redactor` before it is
written, and replay applies the same redaction to live requests so both sides match on the
redacted form. A secret is replaced by :data:`MARKER` (``<redacted>``); inside URLs the marker is
percent-encoded (``%3Credacted%3E``) so the URL stays valid. Redaction is idempotent: redacting
redacted data changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus

import msgspec

from streamtape._jsonpath import Step as _Step
from streamtape._jsonpath import Wildcard as _Wildcard
from streamtape._jsonpath import parse_path as _parse_path

__all__ = [
    "DEFAULT_HEADERS",
    "DEFAULT_PATTERNS",
    "DEFAULT_QUERY_PARAMS",
    "DEFAULT_REDACTOR",
    "MARKER",
    "URL_MARKER",
    "RedactionContext",
    "Redactor",
]

MARKER: str = "<redacted>"
"""What a secret is replaced with (header values, body text, JSON string values)."""

URL_MARKER: str = quote(MARKER, safe="")
""":data:`MARKER` percent-encoded, as it appears in redacted URLs."""

DEFAULT_HEADERS: frozenset[str] = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "openai-api-key",
        "x-goog-api-key",
        "x-auth-token",
        "x-amz-security-token",
        "cookie",
        "set-cookie",
    }
)
"""Header names (lower case) whose values are always redacted when ``defaults=True``."""

DEFAULT_QUERY_PARAMS: frozenset[str] = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "api_token",
        "client_secret",
        "password",
        "secret",
        "sig",
        "signature",
        "code",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
"""Query (and form) parameter names (lower case) whose values are redacted by default."""

# Provider key formats. Each needs a realistic length and a digit, so prose such as "sk-learn"
# or "sk-test" stays; the lookbehind keeps "task-..." or "desk-..." from matching mid-word.
_KEY_CHARS = "A-Za-z0-9_-"
_DEFAULT_RULES: tuple[tuple[str, bytes], ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-), OpenRouter (sk-or-v1-), Anthropic (sk-ant-api03-)
    (rf"(?<![{_KEY_CHARS}])sk-(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{20,}}", b"sk-"),
    # xAI
    (rf"(?<![{_KEY_CHARS}])xai-(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{40,}}", b"xai-"),
    # Groq
    (rf"(?<![{_KEY_CHARS}])gsk_(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{40,}}", b"gsk_"),
    # Google API keys
    (rf"(?<![{_KEY_CHARS}])AIza[{_KEY_CHARS}]{{35}}(?![{_KEY_CHARS}])", b"AIza"),
)

DEFAULT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p, _ in _DEFAULT_RULES)
"""API-key patterns (OpenAI, OpenRouter, Anthropic, xAI, Groq, Google) found anywhere."""

# Authorization schemes kept in front of the marker so a replayed request still looks like auth.
_AUTH_SCHEMES = frozenset(
    {
        "basic",
        "bearer",
        "digest",
        "token",
        "bot",
        "apikey",
        "key",
        "negotiate",
        "ntlm",
        "oauth",
        "dpop",
        "hoba",
        "mutual",
        "aws4-hmac-sha256",
        "gotoken",
    }
)

_JSON_START = re.compile(rb"[ \t\r\n]*[\[{]")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@:]*):([^/?#@]*)@")


@dataclass
class RedactionContext:
    """A request on its way into a cassette, handed to hooks, which may change any field."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


class _Rule:
    """One text pattern plus the literal bytes every match contains (for the chunk fast path)."""

    __slots__ = ("needle", "regex")

    def __init__(self, regex: re.Pattern[str], needle: bytes | None) -> None:
        self.regex = regex
        self.needle = needle


class Redactor:
    """Replace secrets in requests, response heads and body chunks by :data:`MARKER`.

    ``headers``, ``query_params`` and ``json_paths`` add names and paths to redact, ``patterns``
    adds regular expressions (the whole match is replaced; text already replaced is never
    matched again), and ``hooks`` run last on a :class:`RedactionContext` for anything else
    (hooks should be idempotent too). ``defaults=False`` drops the built-in header, parameter
    and key rules.
    """

    def __init__(
        self,
        *,
        headers: Iterable[str] = (),
        query_params: Iterable[str] = (),
        json_paths: Iterable[str] = (),
        patterns: Iterable[str | re.Pattern[str]] = (),
        hooks: Iterable[Callable[[RedactionContext], None]] = (),
        defaults: bool = True,
    ) -> None:
        self._headers = frozenset(h.lower() for h in headers) | (
            DEFAULT_HEADERS if defaults else frozenset()
        )
        self._params = frozenset(p.lower() for p in query_params) | (
            DEFAULT_QUERY_PARAMS if defaults else frozenset()
        )
        self._paths = tuple(_parse_path(p) for p in json_paths)
        rules = [_Rule(re.compile(p), n) for p, n in _DEFAULT_RULES] if defaults else []
        rules += [_Rule(p if isinstance(p, re.Pattern) else re.compile(p), None) for p in patterns]
        self._rules = tuple(rules)
        self._needles: tuple[bytes, ...] | None = (
            tuple(r.needle for r in rules if r.needle is not None)
            if all(r.needle is not None for r in rules)
            else None
        )
        self._hooks = tuple(hooks)

    # -- text -------------------------------------------------------------------------------

    def _text(self, text: str, marker: str = MARKER) -> str:
        """Apply every pattern to ``text`` until nothing changes, never touching a marker.

        Patterns run on the text between existing markers, and again after any change (one
        pattern's replacement can expose a match for another), so redacting twice equals once.
        Each change turns non-empty text into a marker, so the loop ends.
        """

        def replace(m: re.Match[str]) -> str:
            return marker if m.group() else ""

        while True:
            before = text
            for rule in self._rules:
                if marker in text:
                    pieces = text.split(marker)
                    text = marker.join(rule.regex.sub(replace, piece) for piece in pieces)
                else:
                    text = rule.regex.sub(replace, text)
            if text == before:
                return text

    def _bytes(self, data: bytes) -> bytes:
        """Apply the patterns to arbitrary bytes; undecodable bytes survive unchanged."""
        text = data.decode("utf-8", "surrogateescape")
        new = self._text(text)
        return data if new == text else new.encode("utf-8", "surrogateescape")

    # -- headers ----------------------------------------------------------------------------

    def _header_value(self, name: str, value: str) -> str:
        if name in self._headers and value:
            if name == "cookie":
                return ";".join(_redact_pair(p) for p in value.split(";"))
            if name == "set-cookie":
                first, sep, attributes = value.partition(";")
                return _redact_pair(first) + sep + attributes
            scheme, space, _rest = value.strip().partition(" ")
            if space and scheme.lower() in _AUTH_SCHEMES:
                return f"{scheme} {MARKER}"
            return MARKER
        return self._text(value)

    def headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Return request headers with secret values redacted; order and duplicates are kept."""
        return [(k, self._header_value(k.lower(), v)) for k, v in headers]

    def response_headers(self, headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
        """Return response headers redacted by the same rules (``set-cookie`` among them)."""
        return self.headers(headers)

    # -- URL --------------------------------------------------------------------------------

    def _query(self, query: str) -> str:
        """Redact the values of sensitive parameters, leaving every other byte as it was."""
        if not self._params or not query:
            return query
        parts = query.split("&")
        for i, part in enumerate(parts):
            name, sep, value = part.partition("=")
            if sep and value and unquote_plus(name).lower() in self._params:
                parts[i] = f"{name}={URL_MARKER}"
        return "&".join(parts)

    def url(self, url: str) -> str:
        """Return ``url`` with its password, sensitive query values and API keys redacted."""
        url = _USERINFO.sub(rf"\1\2:{URL_MARKER}@", url)
        rest, hash_, fragment = url.partition("#")
        base, qmark, query = rest.partition("?")
        url = base + qmark + self._query(query) + hash_ + fragment
        return self._text(url, URL_MARKER)

    # -- bodies -----------------------------------------------------------------------------

    def body(self, body: bytes, *, content_type: str | None = None) -> bytes:
        """Return a request body with secrets redacted.

        JSON bodies get ``json_paths`` and the patterns (inside string values) and are re-encoded
        compactly, keeping key order, only when something changed; otherwise the very same bytes
        come back. Form bodies (``application/x-www-form-urlencoded``) get the query-parameter
        rules; any other body gets the patterns on its text.
        """
        if not body:
            return body
        if content_type is not None and "x-www-form-urlencoded" in content_type.lower():
            text = body.decode("utf-8", "surrogateescape")
            new = self._query(text)
            new = self._text(new, URL_MARKER)
            return body if new == text else new.encode("utf-8", "surrogateescape")
        if _JSON_START.match(body):
            try:
                doc = msgspec.json.decode(body)
            except msgspec.DecodeError:
                pass
            else:
                doc, changed = self._json(doc)
                return msgspec.json.encode(doc) if changed else body
        return self._bytes(body)

    def _json(self, doc: Any) -> tuple[Any, bool]:
        changed = False
        for steps in self._paths:
            doc, hit = _set_path(doc, steps)
            changed |= hit
        if self._rules:
            doc, hit = self._json_strings(doc)
            changed |= hit
        return doc, changed

    def _json_strings(self, value: Any) -> tuple[Any, bool]:
        """Apply the patterns to every string value in a decoded JSON document."""
        if isinstance(value, str):
            new = self._text(value)
            return new, new != value
        changed = False
        if isinstance(value, dict):
            for k, v in value.items():
                new_v, hit = self._json_strings(v)
                if hit:
                    value[k] = new_v
                    changed = True
        elif isinstance(value, list):
            for i, v in enumerate(value):
                new_v, hit = self._json_strings(v)
                if hit:
                    value[i] = new_v
                    changed = True
        return value, changed

    def chunk(self, data: bytes) -> bytes:
        """Return a response body chunk with API keys redacted (patterns only).

        Returns ``data`` itself when no pattern can match, without decoding it. A key split
        across two chunks is not seen; servers do not echo keys, so this is a safety net.
        """
        if not self._rules or not data:
            return data
        if self._needles is not None and not any(n in data for n in self._needles):
            return data
        return self._bytes(data)

    # -- whole request ----------------------------------------------------------------------

    def request(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> tuple[str, list[tuple[str, str]], bytes]:
        """Redact a whole request (URL, headers, body), then run the hooks on the result."""
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        ctx = RedactionContext(
            method=method,
            url=self.url(url),
            headers=self.headers(headers),
            body=self.body(body, content_type=content_type),
        )
        for hook in self._hooks:
            hook(ctx)
        return ctx.url, ctx.headers, ctx.body


def _redact_pair(pair: str) -> str:
    """``name=value`` -> ``name=<redacted>`` (cookie names stay readable)."""
    name, sep, value = pair.partition("=")
    if not sep:
        return pair if not pair.strip() else MARKER
    return f"{name}={MARKER}" if value else pair


def _set_path(doc: Any, steps: tuple[_Step, ...]) -> tuple[Any, bool]:
    """Set the value(s) at ``steps`` to the marker; return the document and whether it changed."""
    if not steps:
        if doc == MARKER and isinstance(doc, str):
            return doc, False
        return MARKER, True
    step, rest = steps[0], steps[1:]
    changed = False
    if isinstance(doc, dict):
        if isinstance(step, _Wildcard):
            keys: list[Any] = list(doc)
        elif isinstance(step, str) and step in doc:
            keys = [step]
        else:
            keys = []
    elif isinstance(doc, list):
        if isinstance(step, _Wildcard):
            keys = list(range(len(doc)))
        elif isinstance(step, int) and -len(doc) <= step < len(doc):
            keys = [step]
        else:
            keys = []
    else:
        keys = []
    for key in keys:
        new, hit = _set_path(doc[key], rest)
        if hit:
            doc[key] = new
            changed = True
    return doc, changed


DEFAULT_REDACTOR: Redactor = Redactor()
"""The redactor used when none is given: built-in headers, query parameters and key patterns."""
