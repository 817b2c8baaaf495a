"""Redaction: keep credentials and other secrets out of cassettes.

Every request, response head and body chunk passes through a :class:`Redactor` before it is
written, and replay applies the same redaction to live requests so both sides match on the
redacted form. A secret is replaced by :data:`MARKER` (``<redacted>``); inside URLs the marker is
percent-encoded (``%3Credacted%3E``) so the URL stays valid. Redaction is idempotent: redacting
redacted data changes nothing.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote_plus

import msgspec

from streamtape._jsonpath import Step as _Step
from streamtape._jsonpath import parse_path as _parse_path
from streamtape._jsonpath import targets as _targets

__all__ = [
    "DEFAULT_HEADERS",
    "DEFAULT_PATTERNS",
    "DEFAULT_QUERY_PARAMS",
    "DEFAULT_REDACTOR",
    "MARKER",
    "URL_MARKER",
    "BodyStream",
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
        "ocp-apim-subscription-key",
        "cookie",
        "set-cookie",
    }
)
"""Header names (lower case) whose values are always redacted when ``defaults=True``; any other
credential-like name (ending in ``-key``, ``-token``, ``-secret``, ``-password``,
``-credential(s)``) is redacted too."""

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
        "x-api-key",
        "x-goog-api-key",
        "subscription-key",
    }
)
"""Query (and form) parameter names (lower case) whose values are redacted by default."""

# Provider key formats. Each needs a realistic length and a digit, so prose such as "sk-learn"
# or "sk-test" stays; the lookbehind keeps "task-..." or "desk-..." from matching mid-word.
# Every match is made of _SECRET_CHARS only, which the body stream relies on (see _BodyStream).
_KEY_CHARS = "A-Za-z0-9_-"
_K = f"(?<![{_KEY_CHARS}])"
_DEFAULT_RULES: tuple[tuple[str, tuple[bytes, ...]], ...] = (
    # OpenAI (sk-, sk-proj-, sk-svcacct-), OpenRouter (sk-or-v1-), Anthropic (sk-ant-api03-)
    (rf"{_K}sk-(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{20,}}", (b"sk-",)),
    # xAI
    (rf"{_K}xai-(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{40,}}", (b"xai-",)),
    # Groq
    (rf"{_K}gsk_(?=[{_KEY_CHARS}]*[0-9])[{_KEY_CHARS}]{{40,}}", (b"gsk_",)),
    # Google API keys and OAuth access tokens
    (rf"{_K}AIza[{_KEY_CHARS}]{{35}}(?![{_KEY_CHARS}])", (b"AIza",)),
    (rf"{_K}ya29\.[{_KEY_CHARS}]{{20,}}", (b"ya29.",)),
    # AWS access key ids (long-term AKIA, temporary ASIA, ...)
    (
        rf"{_K}(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{{16}}(?![{_KEY_CHARS}])",
        (b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
    ),
    # GitHub tokens (classic and fine-grained)
    (
        rf"{_K}(?:gh[pousr]_[A-Za-z0-9]{{36,}}|github_pat_[A-Za-z0-9_]{{22,}})",
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"github_pat_"),
    ),
    # Azure AI services / Azure OpenAI keys of 84 characters (their "JQQJ9" signature)
    (rf"{_K}[A-Za-z0-9]{{52}}JQQJ9[9DH][A-Za-z0-9]{{26}}(?![{_KEY_CHARS}])", (b"JQQJ9",)),
)

DEFAULT_PATTERNS: tuple[re.Pattern[str], ...] = tuple(re.compile(p) for p, _ in _DEFAULT_RULES)
"""API-key patterns found anywhere: OpenAI, OpenRouter, Anthropic, xAI, Groq, Google (API keys,
OAuth tokens), AWS access key ids, GitHub tokens, Azure AI services keys."""

# Characters a secret is made of (the key patterns above, base64, JWTs): a body stream holds back
# a trailing run of them, since the next chunk may continue it into a key.
_INSIDE_NEEDLES = frozenset({b"JQQJ9"})  # needles that are not where their key starts
_SECRET_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.+/="
_HOLD_MAX = 1024  # longest run held back; real keys are under 250 characters
_DELTA_HOLD_MAX = 256 * 1024  # body bytes held while a run of delta text may still be a key
_DELTA_KEY = re.compile(rb'"delta" ?: ?"')
_STRING_STOP = re.compile(rb'["\\]')
_RUN = re.compile(rb"[A-Za-z0-9_\-.+/=]+")
_BASE64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")

# Field and parameter names that hold credentials, compared without case, "_" and "-".
_SECRET_NAME_SUFFIXES = (
    "apikey",
    "token",
    "secret",
    "password",
    "passwd",
    "privatekey",
    "secretkey",
    "accesskey",
    "credential",
    "credentials",
)
_NOT_SECRET_NAMES = frozenset({"idempotencykey", "secwebsocketkey", "cachekey", "promptcachekey"})
_SECRET_HEADER_SUFFIXES = ("-key", "-token", "-secret", "-password", "-credential", "-credentials")


def _secret_name(name: str) -> bool:
    """Whether a JSON field or query parameter called ``name`` holds a credential (``api_key``,
    ``apiKey``, ``token``, ``access_token``, ``client_secret``, ``password``, ...)."""
    norm = name.lower().replace("_", "").replace("-", "")
    return norm.endswith(_SECRET_NAME_SUFFIXES) and norm not in _NOT_SECRET_NAMES


def _secret_header(name: str) -> bool:
    """Credential-like header names beyond the listed ones (``Ocp-Apim-Subscription-Key``...)."""
    norm = name.lower().replace("_", "-")
    return norm.endswith(_SECRET_HEADER_SUFFIXES) and norm.replace("-", "") not in _NOT_SECRET_NAMES


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
# a JSON member whose value is a string: (prefix up to the value, name, , value)
_JSON_FIELD = re.compile(r'("((?:[^"\\]|\\.)*)"\s*:\s*)"((?:[^"\\]|\\.)*)"')
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@:]*):([^/?#@]*)@")


@dataclass
class RedactionContext:
    """A request on its way into a cassette, handed to hooks, which may change any field."""

    method: str
    url: str
    headers: list[tuple[str, str]]
    body: bytes


class _Rule:
    """One text pattern plus the literal bytes one of which every match contains (for the chunk
    fast path; empty when unknown)."""

    __slots__ = ("needles", "regex")

    def __init__(self, regex: re.Pattern[str], needles: tuple[bytes, ...]) -> None:
        self.regex = regex
        self.needles = needles


class Redactor:
    """Replace secrets in requests, response heads and body chunks by :data:`MARKER`.

    ``headers``, ``query_params`` and ``json_paths`` add names and paths to redact, ``patterns``
    adds regular expressions (the whole match is replaced; text already replaced is never
    matched again), and ``hooks`` run last on a :class:`RedactionContext` for anything else
    (hooks should be idempotent too). ``defaults=False`` drops the built-in header, parameter,
    field-name and key rules.
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
        self._defaults = defaults
        self._headers = frozenset(h.lower() for h in headers) | (
            DEFAULT_HEADERS if defaults else frozenset()
        )
        self._params = frozenset(p.lower() for p in query_params) | (
            DEFAULT_QUERY_PARAMS if defaults else frozenset()
        )
        self._paths = tuple(_parse_path(p) for p in json_paths)
        rules = [_Rule(re.compile(p), n) for p, n in _DEFAULT_RULES] if defaults else []
        rules += [_Rule(p if isinstance(p, re.Pattern) else re.compile(p), ()) for p in patterns]
        self._rules = tuple(rules)
        # what a key starts with, for holding back deltas (None: unknown, hold every run)
        self._prefixes: tuple[bytes, ...] | None = (
            tuple(n for r in rules for n in r.needles if n not in _INSIDE_NEEDLES)
            if all(r.needles for r in rules)
            else None
        )
        self._needles: tuple[bytes, ...] | None = (
            tuple(n for r in rules for n in r.needles) if all(r.needles for r in rules) else None
        )
        self._hooks = tuple(hooks)

    # -- text -------------------------------------------------------------------------------

    def _spans(self, text: str, marker: str = MARKER) -> list[tuple[int, int]]:
        """The sorted, merged spans of ``text`` that some pattern matches, never inside a marker."""
        found: list[tuple[int, int]] = []
        start = 0
        for piece in text.split(marker) if marker in text else (text,):
            for rule in self._rules:
                found += [(start + m.start(), start + m.end()) for m in rule.regex.finditer(piece)]
            start += len(piece) + len(marker)
        merged: list[tuple[int, int]] = []
        for a, b in sorted(s for s in found if s[0] < s[1]):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        return merged

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

    def _maybe_secret(self, data: bytes) -> bool:
        """False when no pattern can match ``data`` (none of the literal parts is in it)."""
        if not self._rules or not data:
            return False
        return self._needles is None or any(n in data for n in self._needles)

    # -- headers ----------------------------------------------------------------------------

    def _header_value(self, name: str, value: str) -> str:
        if value and (name in self._headers or (self._defaults and _secret_header(name))):
            if name == "cookie":
                return ";".join(_redact_pair(p) for p in value.split(";"))
            if name == "set-cookie":
                first, sep, attributes = value.partition(";")
                return _redact_pair(first) + sep + attributes
            scheme, space, _rest = value.strip().partition(" ")
            if space and scheme.lower() in _AUTH_SCHEMES:
                return f"{scheme} {MARKER}"
            return MARKER
        return self._base64_text(self._text(value))

    def _base64_text(self, value: str) -> str:
        """Redact base64 tokens whose decoded text holds a key (``Basic`` auth in any header)."""
        if not self._rules or len(value) < 24:
            return value

        def replace(m: re.Match[str]) -> str:
            token = m.group()
            for alphabet in (None, b"-_"):
                try:
                    raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=alphabet)
                except ValueError:  # binascii.Error included
                    continue
                if self._maybe_secret(raw) and self._spans(raw.decode("utf-8", "replace")):
                    return MARKER
            return token

        return _BASE64_TOKEN.sub(replace, value)

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

        JSON bodies get ``json_paths``, the credential field names (``api_key``, ``token``,
        ``password``... at any depth) and the patterns (inside string values) and are re-encoded
        compactly, keeping key order, only when something changed; otherwise the very same bytes
        come back. A JSON body nested too deep to decode (msgspec stops at Python's C recursion
        limit, 1,000 to 10,000 levels by version) is redacted as text: the field names by a scan
        of its text, the patterns, no ``json_paths``.
        Form bodies (``application/x-www-form-urlencoded``) get the query-parameter rules; any
        other body gets the patterns on its text.
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
            except RecursionError:
                return self._deep_json(body)
            else:
                doc, changed = self._json(doc)
                return msgspec.json.encode(doc) if changed else body
        return self._bytes(body)

    def _deep_json(self, body: bytes) -> bytes:
        """Redact JSON too deep to decode as text: credential fields' string values, patterns."""
        text = body.decode("utf-8", "surrogateescape")
        new = text
        if self._defaults:

            def field(m: re.Match[str]) -> str:
                if _secret_name(m.group(2)) and m.group(3) != MARKER:
                    return f'{m.group(1)}"{MARKER}"'
                return m.group()

            new = _JSON_FIELD.sub(field, new)
        new = self._text(new)
        return body if new == text else new.encode("utf-8", "surrogateescape")

    def _json(self, doc: Any) -> tuple[Any, bool]:
        changed = False
        for steps in self._paths:
            doc, hit = _set_path(doc, steps)
            changed |= hit
        if self._rules or self._defaults:
            doc, hit = self._json_strings(doc)
            changed |= hit
        return doc, changed

    def _json_strings(self, doc: Any) -> tuple[Any, bool]:
        """Redact credential fields and apply the patterns to every string value of a decoded
        JSON document, walking it with a stack of its own (no recursion, whatever the depth)."""
        if isinstance(doc, str):
            new = self._text(doc)
            return new, new != doc
        changed = False
        stack: list[Any] = [doc]
        while stack:
            node = stack.pop()
            items: Iterable[tuple[Any, Any]]
            if isinstance(node, dict):
                items = list(node.items())
            elif isinstance(node, list):
                items = list(enumerate(node))
            else:
                continue
            for key, value in items:
                if isinstance(value, str):
                    if (
                        self._defaults
                        and isinstance(key, str)
                        and value
                        and value != MARKER
                        and _secret_name(key)
                    ):
                        new = MARKER
                    else:
                        new = self._text(value)
                    if new != value:
                        node[key] = new
                        changed = True
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        return doc, changed

    def chunk(self, data: bytes) -> bytes:
        """Return one piece of text with API keys redacted (patterns only), on its own.

        Returns ``data`` itself when no pattern can match, without decoding it. A key split
        across two chunks is not seen here: response bodies go through :meth:`stream`.
        """
        if not self._maybe_secret(data):
            return data
        return self._bytes(data)

    def stream(self) -> BodyStream:
        """A :class:`BodyStream` that redacts one response body as a whole, chunk by chunk."""
        return BodyStream(self)

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


class BodyStream:
    """Redacts a body given in chunks as one text, keeping the chunks apart.

    :meth:`feed` takes the next chunk and returns the redacted form of every earlier chunk that
    is now settled, in order (possibly none); :meth:`close` returns the rest. Each chunk comes
    back once, in order: a key split over chunks becomes one marker in the chunk where it
    started, and its other pieces leave their chunks (which may become empty). A trailing run of
    characters that a secret is made of (letters, digits, ``_-.+/=``; at most 1 KiB) waits for the
    next chunk, since it could be the start of a key; anything else is settled at once. A run
    longer than that is settled in part; a key matched up to its cut goes on being removed in the
    next chunk. Patterns of ``Redactor(patterns=...)`` that match other characters are found
    across chunks only within that held run.

    The text of the ``"delta"`` strings of a server-sent event stream is redacted as one text
    too, so a key a model spells out over several deltas loses every piece: from where a run of
    secret characters starts in that text, when it begins as a key does (``sk-``, ``AKIA``,
    ``ghp_``..., or any run with patterns of your own), chunks wait until the run ends (at most
    1 KiB of it and 256 KiB of body). Keys without a prefix (Azure's) are found across chunks
    but not across deltas.
    """

    def __init__(self, redactor: Redactor) -> None:
        self._r = redactor
        self._base = 0  # offset in the body of the first unsettled byte
        self._deltas = _DeltaText(redactor)
        self._done = b""  # the settled, redacted head of the first pending chunk
        self._raw: list[bytes] = []  # the unsettled bytes of each pending chunk
        self._before = b""  # the last settled raw byte: context for a pattern's lookbehind
        self._in_key = False  # the last cut fell inside a matched key: drop its continuation

    def feed(self, data: bytes) -> list[bytes]:
        """Take the next chunk; return the chunks settled by it, redacted."""
        self._raw.append(bytes(data))
        buf = b"".join(self._raw)
        held = min(len(buf) - len(buf.rstrip(_SECRET_CHARS)), _HOLD_MAX)
        cut = len(buf) - held
        if self._r._rules:
            self._deltas.feed(data)
            start = self._deltas.run_start()
            if start is not None and self._base + len(buf) - start > _DELTA_HOLD_MAX:
                self._deltas.give_up()
            elif start is not None:
                cut = min(cut, start - self._base)
        return self._settle(buf, cut)

    def close(self) -> list[bytes]:
        """The end of the body: return every chunk still held, redacted."""
        self._deltas.end_run()
        buf = b"".join(self._raw)
        return self._settle(buf, len(buf), final=True)

    def _settle(self, buf: bytes, cut: int, final: bool = False) -> list[bytes]:
        if cut == 0 and not final:
            return []
        head = buf[:cut]
        spans: list[tuple[int, int, bool]] = []  # (start, end, put a marker) in bytes of head
        if self._in_key:
            run = len(head) - len(head.lstrip(_SECRET_CHARS))
            spans.append((0, run, False))
            self._in_key = run == len(head) and not final
        # Matched with what is held too: a key that starts before the cut (in a run longer than
        # the hold) is removed up to the cut here, and its rest goes with the next settle.
        if self._r._maybe_secret(self._before + buf):
            spans += [(a, min(b, cut), put) for a, b, put in self._r_spans(buf) if a < cut]
        spans = _merge(spans + self._deltas.take_spans(self._base, cut))
        pieces = _split(head, self._starts(), spans)
        # a replacement can expose a match for another pattern: repeat until nothing changes
        while spans and self._r._rules:
            joined = b"".join(pieces)
            more = [(a, b, True) for a, b in _byte_spans(joined, self._r._spans(_text(joined)))]
            if not more:
                break
            pieces = _split(joined, _starts_of(pieces), more)
        if spans and spans[-1][1] == cut and cut < len(buf) and buf[cut - 1] in _SECRET_CHARS:
            self._in_key = True  # a key longer than the held run: its rest goes too
        out: list[bytes] = []
        start = 0
        for i, raw in enumerate(self._raw):
            end = start + len(raw)
            piece = (self._done if i == 0 else b"") + pieces[i]
            if end <= cut:
                out.append(piece)
            else:  # the chunk the cut falls in: its head is settled, its rest waits
                self._done = piece
                self._raw = [raw[cut - start :], *self._raw[i + 1 :]]
                break
            start = end
        else:
            self._done = b""
            self._raw = []
        if cut:
            self._before = head[-1:]
        self._base += cut
        return out

    def _r_spans(self, head: bytes) -> list[tuple[int, int, bool]]:
        """Pattern matches in ``head``, seen with the byte before it for lookbehinds."""
        ctx = self._before
        text = _text(ctx + head)
        found = _byte_spans(ctx + head, self._r._spans(text))
        return [(max(a - len(ctx), 0), b - len(ctx), True) for a, b in found if b > len(ctx)]

    def _starts(self) -> list[int]:
        return _starts_of(self._raw)


class _DeltaText:
    """Follows the text of the ``"delta"`` strings of an event stream, byte by byte as fed, and
    finds keys in it: each run of secret characters (which may span deltas) is matched against
    the patterns when it ends, and gives spans of the body to remove (a marker at the first)."""

    def __init__(self, redactor: Redactor) -> None:
        self._r = redactor
        self._pos = 0  # body offset of the next byte fed
        self._carry = b""  # the last bytes outside any delta string: '"delta":"' may straddle
        self._in_string = False
        self._escape = 0  # -1: the letter after a backslash is next; n > 0: n hex digits left
        self._run: list[tuple[int, bytes]] = []  # (body offset, bytes) of the current run
        self._run_len = 0
        self._skipping = False  # a run too long to hold: ignored until it ends
        self._before = b""  # the delta-text character before the run (for lookbehinds)
        self._spans: list[tuple[int, int, bool]] = []  # body spans to remove, in order

    def run_start(self) -> int | None:
        """Body offset where the open run starts, when it could be the start of a key: nothing
        from there on is settled yet. With the built-in rules only, a run that does not begin
        like a key (``sk-``, ``AKIA``, ``ghp_``...) is not held."""
        if not self._run:
            return None
        prefixes = self._r._prefixes
        if prefixes is not None:
            head = b"".join(piece for _, piece in self._run[:12])[:12]
            if not any(head[: len(p)] == p[: len(head)] for p in prefixes):
                return None
        return self._run[0][0]

    def give_up(self) -> None:
        """Match the open run as it is and ignore the rest of it (it held too much body)."""
        self.end_run()
        self._skipping = True

    def take_spans(self, base: int, cut: int) -> list[tuple[int, int, bool]]:
        """The spans inside body bytes [base, base + cut), relative to base; a span reaching
        past that is cut in two, its rest kept for later without a marker."""
        taken: list[tuple[int, int, bool]] = []
        kept: list[tuple[int, int, bool]] = []
        for a, b, mark in self._spans:
            if b <= base:
                continue  # in bytes settled already (a run that was not held: too late)
            a = max(a, base)
            if b <= base + cut:
                taken.append((a - base, b - base, mark))
            elif a < base + cut:
                taken.append((a - base, cut, mark))
                kept.append((base + cut, b, False))
            else:
                kept.append((a, b, mark))
        self._spans = kept
        return taken

    def feed(self, data: bytes) -> None:
        base = self._pos
        self._pos += len(data)
        i, n = 0, len(data)
        while i < n:
            if self._escape:
                if self._escape == -1:
                    self._escape = 4 if data[i] == ord("u") else 0
                    i += 1
                else:
                    step = min(self._escape, n - i)
                    self._escape -= step
                    i += step
            elif self._in_string:
                stop = _STRING_STOP.search(data, i)
                end = stop.start() if stop else n
                self._chars(data, i, end, base)
                if stop is None:
                    break
                if data[end] == ord('"'):
                    self._in_string = False
                else:  # an escaped character ends a run
                    self._escape = -1
                    self._break(b"\\")
                i = end + 1
            else:
                m = None
                if self._carry:
                    m = _DELTA_KEY.search(self._carry + data[i : i + 16])
                    if m and m.end() > len(self._carry):
                        i += m.end() - len(self._carry)
                    else:
                        m = None
                if m is None:
                    m = _DELTA_KEY.search(data, i)
                    if m is not None:
                        i = m.end()
                self._carry = b""
                if m is None:
                    self._carry = data[max(i, n - 16) :]
                    break
                self._in_string = True

    def _chars(self, data: bytes, i: int, end: int, base: int) -> None:
        """Delta-text characters data[i:end] (no quote or backslash among them)."""
        last = i
        for m in _RUN.finditer(data, i, end):
            if m.start() > last:
                self._break(data[m.start() - 1 : m.start()])
            if not self._skipping:
                self._run.append((base + m.start(), m.group()))
                self._run_len += m.end() - m.start()
                if self._run_len > _HOLD_MAX:
                    self.give_up()
            last = m.end()
        if end > last:
            self._break(data[end - 1 : end])

    def _break(self, before: bytes) -> None:
        self.end_run()
        self._skipping = False
        self._before = before

    def end_run(self) -> None:
        """Match the open run against the patterns and note the spans to remove."""
        run, self._run, self._run_len = self._run, [], 0
        if not run:
            return
        text = b"".join(piece for _, piece in run)
        ctx = self._before
        if not self._r._maybe_secret(ctx + text):
            return
        for a, b in self._r._spans(_text(ctx + text)):
            a, b = max(a - len(ctx), 0), b - len(ctx)
            mark = True
            offset = 0
            for pos, piece in run:
                lo, hi = max(a, offset), min(b, offset + len(piece))
                if lo < hi:
                    self._spans.append((pos + lo - offset, pos + hi - offset, mark))
                    mark = False
                offset += len(piece)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _starts_of(pieces: Sequence[bytes]) -> list[int]:
    starts, pos = [], 0
    for piece in pieces:
        starts.append(pos)
        pos += len(piece)
    return starts


def _byte_spans(data: bytes, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Text spans of ``data`` decoded with surrogateescape, as byte spans of ``data``."""
    text = _text(data)
    if len(text) == len(data):
        return spans
    out, pos, byte = [], 0, 0
    for a, b in spans:
        byte += len(text[pos:a].encode("utf-8", "surrogateescape"))
        end = byte + len(text[a:b].encode("utf-8", "surrogateescape"))
        out.append((byte, end))
        byte, pos = end, b
    return out


def _merge(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """Overlapping or touching spans as one, marked as the first of them is: a span that goes on
    removing a key marked in an earlier chunk stays unmarked when a match overlaps it."""
    merged: list[tuple[int, int, bool]] = []
    for a, b, mark in sorted(spans, key=lambda span: (span[0], span[2])):  # unmarked first
        if merged and a <= merged[-1][1]:
            pa, pb, pmark = merged[-1]
            merged[-1] = (pa, max(b, pb), pmark)
        else:
            merged.append((a, b, mark))
    return merged


def _split(data: bytes, starts: list[int], spans: list[tuple[int, int, bool]]) -> list[bytes]:
    """Cut ``data`` into pieces beginning at ``starts`` (pieces past its end come back empty),
    each span removed, with a marker, when asked, in the piece where the span begins."""
    if not starts:
        return []
    ends = [*starts[1:], max(len(data), starts[-1])]
    pieces: list[bytes] = []
    marker = MARKER.encode()
    for s, e in zip(starts, ends, strict=True):
        s, e = min(s, len(data)), min(e, len(data))
        piece = bytearray()
        pos = s
        for a, b, mark in spans:
            if b <= s or a >= e:
                continue
            piece += data[pos : max(a, s)]
            if mark and a >= s:
                piece += marker
            pos = min(b, e)
        piece += data[pos:e]
        pieces.append(bytes(piece))
    return pieces


def _redact_pair(pair: str) -> str:
    """``name=value`` -> ``name=<redacted>`` (cookie names stay readable)."""
    name, sep, value = pair.partition("=")
    if not sep:
        return pair if not pair.strip() else MARKER
    return f"{name}={MARKER}" if value else pair


def _set_path(doc: Any, steps: tuple[_Step, ...]) -> tuple[Any, bool]:
    """Set the value(s) at ``steps`` to the marker; return the document and whether it changed."""
    changed = False
    for container, key in _targets(doc, steps):
        if not (isinstance(container[key], str) and container[key] == MARKER):
            container[key] = MARKER
            changed = True
    return doc, changed


DEFAULT_REDACTOR: Redactor = Redactor()
"""The redactor used when none is given: built-in headers, query parameters and key patterns."""
