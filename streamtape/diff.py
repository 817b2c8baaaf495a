"""A semantic diff of two recorded streams: what changed in meaning, not in bytes.

Ids, timestamps, ``sequence_number``, ``obfuscation`` and encrypted content change on every
recording, and keep-alives come and go with timing: they are left out (`DiffOptions.volatile`).
What remains is compared in order: the request, the outcome, the event-type sequence (runs of
one type collapsed, aligned with difflib), the tool calls (name, parsed arguments), the final
text (word diff), usage and timing. The verdict is the worst finding: ``identical`` (the same
events, byte for byte), ``equivalent`` (only volatile fields differ), ``changed`` (text, usage,
other fields or timing beyond the thresholds) or ``different`` (outcome, tool calls or event
structure).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import msgspec

from streamtape._units import format_ms
from streamtape._vocabulary import VERDICTS, Verdict
from streamtape.accumulate import StreamResult, accumulate_all
from streamtape.cassette import Cassette, Interaction, Timing
from streamtape.errors import StreamtapeError
from streamtape.events import Event, KeepAlive
from streamtape.sse import SSEFrame, SSEParser

__all__ = [
    "DEFAULT_VOLATILE",
    "VERDICTS",
    "DiffOptions",
    "DriftError",
    "InteractionDiff",
    "Section",
    "StreamDiff",
    "Verdict",
    "align",
    "diff_cassettes",
    "diff_interactions",
    "drift_failures",
    "unmatched",
    "worse",
]


DEFAULT_VOLATILE: frozenset[str] = frozenset(
    {
        "id",
        "item_id",
        "call_id",
        "response_id",
        "previous_response_id",
        "created_at",
        "completed_at",
        "expires_at",
        "sequence_number",
        "obfuscation",
        "encrypted_content",
        "system_fingerprint",
        "safety_identifier",
        "prompt_cache_key",
        "user",
        "metadata",
    }
)
"""JSON keys that differ between two recordings of the same thing, at any depth."""


def worse(a: Verdict, b: Verdict) -> Verdict:
    """The graver of two verdicts."""
    return a if VERDICTS.index(a) >= VERDICTS.index(b) else b


@dataclass(frozen=True)
class DiffOptions:
    """What to ignore and how much change in text and timing is tolerated.

    ``timing_ratio``: a time (TTFT, duration, largest gap) counts as changed when one side is
    this many times the other *and* they are ``timing_floor`` seconds apart or more.
    ``text_similarity``: texts whose word-level similarity (0..1) is below this count as changed
    (1.0: any difference).
    """

    volatile: frozenset[str] = DEFAULT_VOLATILE
    timing_ratio: float = 2.0
    timing_floor: float = 0.1
    text_similarity: float = 1.0


@dataclass
class Section:
    """One aspect compared: its name, the verdict it alone gives, and lines to show."""

    name: str
    verdict: Verdict
    lines: list[str] = field(default_factory=list)


@dataclass
class InteractionDiff:
    """The comparison of one interaction with another."""

    a: str
    b: str
    verdict: Verdict
    sections: list[Section]

    def text(self) -> str:
        """The human-readable diff, sections in order, unchanged ones as one line."""
        out = [f"{self.verdict}: {self.a} vs {self.b}"]
        for section in self.sections:
            mark = "=" if section.verdict in ("identical", "equivalent") else "!"
            out.append(f"{mark} {section.name}: {section.verdict}")
            out += [f"    {line}" for line in section.lines]
        return "\n".join(out)


@dataclass
class StreamDiff:
    """The comparison of two cassettes (or two chosen interactions)."""

    verdict: Verdict
    interactions: list[InteractionDiff]
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The verdict alone on the first line, then each interaction's diff."""
        parts = [self.verdict, *self.notes]
        parts += [d.text() for d in self.interactions]
        return "\n".join(parts) + "\n"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the whole comparison."""
        return asdict(self)


# -- normalizing -------------------------------------------------------------------------------


def _strip(value: Any, volatile: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v, volatile) for k, v in value.items() if k not in volatile}
    if isinstance(value, list):
        return [_strip(v, volatile) for v in value]
    return value


def _json(value: object) -> Any:
    return msgspec.json.decode(msgspec.json.encode(value))


_KEEPALIVES = ("keepalive", "response.keep_alive")


def _payloads(inter: Interaction) -> list[Any]:
    """Each SSE frame's JSON as sent (every field, even those no event class models), less
    keep-alives; ``[DONE]`` and unreadable data as small stand-ins."""
    parser = SSEParser()
    frames: list[SSEFrame] = []
    for data in inter.iter_body():
        frames += parser.feed(data)
    frames += parser.close()
    payloads: list[Any] = []
    for frame in frames:
        if not frame.data:
            continue
        try:
            payload = json.loads(frame.data)
        except ValueError:
            payload = {"type": "[DONE]" if frame.data.strip() == "[DONE]" else "[malformed]"}
        if not (isinstance(payload, dict) and payload.get("type") in _KEEPALIVES):
            payloads.append(payload)
    return payloads


@dataclass(frozen=True)
class _Side:
    """One interaction, read once."""

    label: str
    inter: Interaction
    events: list[Event]
    results: list[StreamResult]
    timing: Timing
    request: Any


def _side(label: str, inter: Interaction) -> _Side:
    events = inter.events(strict=False)
    try:
        request = json.loads(inter.request.body) if inter.request.body else None
    except ValueError:
        request = inter.request.body.decode("utf-8", "replace")
    return _Side(
        label, inter, events, accumulate_all(events) if events else [], inter.timing(), request
    )


def _meaningful(events: Sequence[Event]) -> list[Event]:
    return [e for e in events if not isinstance(e, KeepAlive)]


def _runs(events: Sequence[Event]) -> list[tuple[str, int]]:
    """The event types with each run of one type collapsed: [(type, count)]."""
    runs: list[tuple[str, int]] = []
    for event in events:
        if runs and runs[-1][0] == event.type:
            runs[-1] = (event.type, runs[-1][1] + 1)
        else:
            runs.append((event.type, 1))
    return runs


def _short(event_type: str) -> str:
    return event_type.removeprefix("response.")


def _run_text(run: tuple[str, int]) -> str:
    return _short(run[0]) + (f" x{run[1]}" if run[1] > 1 else "")


# -- the sections --------------------------------------------------------------------------------


def _dict_changes(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a:
                yield f"+ {sub}: {_brief(b[key])}"
            elif key not in b:
                yield f"- {sub}: {_brief(a[key])}"
            else:
                yield from _dict_changes(a[key], b[key], sub)
    elif a != b:
        yield f"~ {path or '(body)'}: {_brief(a)} -> {_brief(b)}"


def _brief(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _request(a: _Side, b: _Side, opts: DiffOptions) -> Section:
    lines: list[str] = []
    ra, rb = a.inter.request, b.inter.request
    if ra.method != rb.method:
        lines.append(f"~ method: {ra.method} -> {rb.method}")
    ua, ub = urlsplit(ra.url), urlsplit(rb.url)
    if (ua.path, ua.query) != (ub.path, ub.query):
        lines.append(f"~ url: {ra.url} -> {rb.url}")
    lines += list(_dict_changes(_strip(a.request, opts.volatile), _strip(b.request, opts.volatile)))
    verdict: Verdict = "changed" if lines else "identical"
    if not lines and (ra.body != rb.body or ra.url != rb.url):
        verdict = "equivalent"
    if ua.netloc != ub.netloc:
        lines.append(f"  host: {ua.netloc} -> {ub.netloc} (not compared)")
    return Section("request", verdict, lines)


def _outcome_of(side: _Side) -> tuple[str, ...]:
    status = side.inter.response.status if side.inter.response else "no response"
    end = side.inter.end.outcome if side.inter.end else "unfinished"
    outcomes = tuple(r.outcome for r in side.results) or ("no events",)
    return (f"HTTP {status}", f"stream {end}", *outcomes)


def _outcome(a: _Side, b: _Side) -> Section:
    oa, ob = _outcome_of(a), _outcome_of(b)
    if oa == ob:
        return Section("outcome", "identical", [", ".join(oa)])
    return Section("outcome", "different", [f"- {', '.join(oa)}", f"+ {', '.join(ob)}"])


def _sequence(a: _Side, b: _Side) -> Section:
    ra, rb = _runs(_meaningful(a.events)), _runs(_meaningful(b.events))
    ta, tb = [t for t, _ in ra], [t for t, _ in rb]
    lines: list[str] = []
    counts_differ = False
    for op, i1, i2, j1, j2 in align(ta, tb)[0]:
        if op == "equal":
            pairs = list(zip(ra[i1:i2], rb[j1:j2], strict=True))
            same = [x for x, y in pairs if x == y]
            counts_differ |= len(same) != len(pairs)
            if len(same) == len(pairs):
                lines.append(f"  {len(pairs)} run(s) alike: {_runs_brief(ra[i1:i2])}")
            else:
                lines += [
                    f"~ {_short(x[0])}: {x[1]} -> {y[1]}" if x != y else f"  {_run_text(x)}"
                    for x, y in pairs
                ]
        else:
            lines += [f"- {_run_text(r)}" for r in ra[i1:i2]]
            lines += [f"+ {_run_text(r)}" for r in rb[j1:j2]]
    verdict: Verdict = "identical"
    if ta != tb:
        verdict = "different"
    elif counts_differ:
        verdict = "changed"
    summary = f"{len(a.events)} -> {len(b.events)} events, {len(ra)} -> {len(rb)} runs"
    return Section("event sequence", verdict, [summary, *lines])


def _runs_brief(runs: Sequence[tuple[str, int]], limit: int = 6) -> str:
    shown = ", ".join(_run_text(r) for r in runs[:limit])
    return shown + (f", … ({len(runs) - limit} more)" if len(runs) > limit else "")


def _calls(side: _Side) -> list[tuple[str, Any]]:
    calls = []
    for call in (c for r in side.results for c in r.function_calls):
        try:
            arguments = call.parsed_arguments()
        except ValueError:
            arguments = call.arguments  # not JSON: compared as text
        calls.append((call.name, arguments))
    return calls


def _tool_calls(a: _Side, b: _Side) -> Section:
    ca, cb = _calls(a), _calls(b)
    if ca == cb:
        lines = [f"{name}({_brief(args)})" for name, args in ca] or ["none"]
        return Section("tool calls", "identical", lines)
    lines = [f"- {name}({_brief(args)})" for name, args in ca]
    lines += [f"+ {name}({_brief(args)})" for name, args in cb]
    return Section("tool calls", "different", lines)


_WORDS = re.compile(r"\s+|[^\s]+")


_ALIGN_LIMIT = 4000  # items difflib aligns at most: its time grows with the square


def align(a: Sequence[str], b: Sequence[str]) -> tuple[list[tuple[str, int, int, int, int]], float]:
    """difflib's opcodes and similarity ratio of two sequences, in bounded time.

    The common head and tail are matched first (linear); a middle longer than the limit counts
    as wholly replaced, so a hostile or very long stream costs linear time, not quadratic.
    """
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    mid_a, mid_b = a[head : len(a) - tail], b[head : len(b) - tail]
    codes: list[tuple[str, int, int, int, int]] = []
    if head:
        codes.append(("equal", 0, head, 0, head))
    same = 0
    if mid_a or mid_b:
        if len(mid_a) + len(mid_b) <= _ALIGN_LIMIT:
            matcher = difflib.SequenceMatcher(a=mid_a, b=mid_b, autojunk=False)
            same = sum(block.size for block in matcher.get_matching_blocks())
            codes += [
                (op, i1 + head, i2 + head, j1 + head, j2 + head)
                for op, i1, i2, j1, j2 in matcher.get_opcodes()
            ]
        else:
            codes.append(("replace", head, len(a) - tail, head, len(b) - tail))
    if tail:
        codes.append(("equal", len(a) - tail, len(a), len(b) - tail, len(b)))
    total = len(a) + len(b)
    return codes, 2 * (head + tail + same) / total if total else 1.0


def word_diff(a: str, b: str, limit: int = 2000) -> tuple[float, str]:
    """Word-level similarity (0..1) of two texts and a git-style word diff
    (``[-removed-]{+added+}``), cut at ``limit`` characters."""
    wa, wb = _WORDS.findall(a), _WORDS.findall(b)
    opcodes, ratio = align(wa, wb)
    # (kept, removed, added) pieces; a change, blanks alone, then a change read as one change
    pieces: list[list[str]] = []
    for op, i1, i2, j1, j2 in opcodes:
        old, new = "".join(wa[i1:i2]), "".join(wb[j1:j2])
        if op == "equal":
            pieces.append([old, "", ""])
        elif len(pieces) >= 2 and not pieces[-1][0].strip() and pieces[-2][0] == "":
            blank = pieces.pop()[0]
            pieces[-1][1] += blank + old
            pieces[-1][2] += blank + new
        else:
            pieces.append(["", old, new])
    out: list[str] = []
    for kept, removed, added in pieces:
        out.append(kept)
        out.append(f"[-{removed}-]" if removed else "")
        out.append(f"{{+{added}+}}" if added else "")
    text = "".join(out)
    return ratio, text if len(text) <= limit else text[:limit] + "…"


def _texts(side: _Side, name: str) -> str:
    if name == "text":
        return "".join(r.output_text for r in side.results)
    if name == "refusal":
        return "".join(r.refusal for r in side.results)
    return "".join(r.reasoning_summary or r.reasoning_text for r in side.results)


def _final_text(a: _Side, b: _Side, opts: DiffOptions) -> Section:
    lines: list[str] = []
    verdict: Verdict = "identical"
    for name in ("text", "reasoning", "refusal"):
        ta, tb = _texts(a, name), _texts(b, name)
        if ta == tb:
            continue
        ratio, diff = word_diff(ta, tb)
        if ratio < opts.text_similarity:
            verdict = "changed"
        lines.append(f"{name} ({ratio:.0%} alike): {diff}")
    return Section("final text", verdict, lines or ["same"])


def _usage_of(side: _Side) -> dict[str, Any]:
    usage = next((r.usage for r in reversed(side.results) if r.usage is not None), None)
    if usage is None:
        return {}
    found: dict[str, Any] = {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }
    details = usage.output_tokens_details
    if details is not None and getattr(details, "reasoning_tokens", None) is not None:
        found["reasoning_tokens"] = details.reasoning_tokens
    if usage.cost is not None:
        found["cost"] = usage.cost
    return found


def _usage(a: _Side, b: _Side) -> Section:
    ua, ub = _usage_of(a), _usage_of(b)
    if ua == ub:
        return Section("usage", "identical", [_brief(ua)] if ua else ["none"])
    lines = [
        f"~ {key}: {ua.get(key, '-')} -> {ub.get(key, '-')}"
        for key in sorted(set(ua) | set(ub))
        if ua.get(key) != ub.get(key)
    ]
    return Section("usage", "changed", lines)


def _timing(a: _Side, b: _Side, opts: DiffOptions) -> Section:
    lines: list[str] = []
    verdict: Verdict = "identical"
    ttft_a = a.timing.first_token if a.timing.first_token is not None else a.timing.first_event
    ttft_b = b.timing.first_token if b.timing.first_token is not None else b.timing.first_event
    for name, x, y in (
        ("TTFT", ttft_a, ttft_b),
        ("duration", a.timing.duration, b.timing.duration),
        ("largest gap", a.timing.largest_gap, b.timing.largest_gap),
    ):
        if x is None or y is None:
            lines.append(f"  {name}: {_in_ms(x)} -> {_in_ms(y)}")
            continue
        ratio = y / x if x else (1.0 if y == x else float("inf"))
        beyond = abs(y - x) >= opts.timing_floor and (
            ratio >= opts.timing_ratio or ratio <= 1 / opts.timing_ratio
        )
        if x != y and verdict == "identical":
            verdict = "equivalent"
        if beyond:
            verdict = "changed"
        lines.append(f"{'!' if beyond else ' '} {name}: {_in_ms(x)} -> {_in_ms(y)} (x{ratio:.2f})")
    return Section("timing", verdict, lines)


def _in_ms(seconds: float | None) -> str:
    """A duration of `Timing` as milliseconds, however long (lines compare by eye)."""
    return format_ms(None if seconds is None else seconds * 1000)


def _fields(a: _Side, b: _Side, opts: DiffOptions) -> Section:
    """Whatever else differs in the events once volatile keys, text deltas and keep-alives
    are set aside (e.g. a model name or a status inside the response)."""
    text_keys = opts.volatile | {"delta", "text", "part", "item", "response", "arguments"}
    ea = [_strip(p, text_keys) for p in _payloads(a.inter)]
    eb = [_strip(p, text_keys) for p in _payloads(b.inter)]
    # the final response snapshot, less the output already compared as text and tool calls
    snap_keys = opts.volatile | {"output", "usage", "instructions", "tools", "text"}
    sa = [_strip(_json(r.response), snap_keys) for r in a.results if r.response]
    sb = [_strip(_json(r.response), snap_keys) for r in b.results if r.response]
    lines: list[str] = []
    if len(ea) == len(eb):
        for i, (x, y) in enumerate(zip(ea, eb, strict=True)):
            lines += [f"event #{i}: {c}" for c in _dict_changes(x, y)]
    for x, y in zip(sa, sb, strict=False):
        lines += [f"response: {c}" for c in _dict_changes(x, y)]
    if not lines:
        return Section("other fields", "identical", [])
    shown = lines[:12] + ([f"… {len(lines) - 12} more"] if len(lines) > 12 else [])
    return Section("other fields", "changed", shown)


def diff_interactions(
    a: Interaction,
    b: Interaction,
    options: DiffOptions | None = None,
    labels: tuple[str, str] = ("A", "B"),
) -> InteractionDiff:
    """Compare two interactions section by section; the verdict is the worst section's,
    ``identical`` only when the two bodies decode to the same events byte for byte."""
    opts = options or DiffOptions()
    sa, sb = _side(labels[0], a), _side(labels[1], b)
    sections = [
        _request(sa, sb, opts),
        _outcome(sa, sb),
        _sequence(sa, sb),
        _tool_calls(sa, sb),
        _final_text(sa, sb, opts),
        _usage(sa, sb),
        _fields(sa, sb, opts),
        _timing(sa, sb, opts),
    ]
    verdict: Verdict = "identical"
    for section in sections:
        verdict = worse(verdict, section.verdict)
    if verdict == "identical" and a.body != b.body:
        verdict = "equivalent"  # only volatile fields (or keep-alives) differ
    return InteractionDiff(labels[0], labels[1], verdict, sections)


def diff_cassettes(
    a: Cassette | Sequence[Interaction],
    b: Cassette | Sequence[Interaction],
    options: DiffOptions | None = None,
    labels: tuple[str, str] = ("A", "B"),
) -> StreamDiff:
    """Compare interaction by interaction, in order; a different count is ``different``."""
    ia = a.interactions if isinstance(a, Cassette) else list(a)
    ib = b.interactions if isinstance(b, Cassette) else list(b)
    diffs = [
        diff_interactions(x, y, options, (f"{labels[0]}#{x.id}", f"{labels[1]}#{y.id}"))
        for x, y in zip(ia, ib, strict=False)
    ]
    verdict: Verdict = "identical"
    for d in diffs:
        verdict = worse(verdict, d.verdict)
    notes = []
    if len(ia) != len(ib):
        verdict = "different"
        notes.append(f"! interactions: {len(ia)} in {labels[0]}, {len(ib)} in {labels[1]}")
    return StreamDiff(verdict, diffs, notes)


def unmatched(live: Interaction) -> InteractionDiff:
    """The verdict on a live interaction that no recorded one matches: ``different``."""
    request = f"{live.request.method} {live.request.url}"
    section = Section("request", "different", [f"+ {request}: no recorded interaction matches"])
    return InteractionDiff("recorded", f"live#{live.id}", "different", [section])


class DriftError(StreamtapeError, AssertionError):
    """Live streams drifted from their recordings beyond the allowed verdict (drift mode)."""


def drift_failures(diffs: Sequence[InteractionDiff], fail_at: Verdict, where: str) -> None:
    """Raise DriftError showing every diff whose verdict is ``fail_at`` or graver."""
    if fail_at not in VERDICTS:
        raise ValueError(f"drift_fail must be one of {', '.join(VERDICTS)}; got {fail_at!r}")
    bad = [d for d in diffs if VERDICTS.index(d.verdict) >= VERDICTS.index(fail_at)]
    if bad:
        shown = "\n\n".join(d.text() for d in bad)
        raise DriftError(
            f"streamtape drift: {len(bad)} of {len(diffs)} live interaction(s) of {where} are "
            f"{' or '.join(sorted({d.verdict for d in bad}))} from the recording "
            f"(failing at {fail_at}):\n{shown}"
        )
