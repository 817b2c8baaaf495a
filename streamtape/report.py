"""``streamtape report``: one self-contained HTML page that shows each recorded stream.

Per interaction: the request in brief, outcome, problems, usage; an SVG timeline with one mark
per event (text, reasoning, tool input, lifecycle, keep-alive, error lanes) over the chunk
arrivals, with the time to first byte / event / token / text and the largest gaps; the output
rate over time; the final text and function calls; the event table. The page fetches nothing
(inline CSS and SVG, no script, a Content-Security-Policy that forbids every fetch) and every
recorded string is escaped, since a stream's text is untrusted. The pieces (`page`,
`interaction_html`) are reused by ``streamtape diff --html``.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, Literal, get_args

from streamtape._html import page
from streamtape._units import format_ns, format_seconds
from streamtape.accumulate import StreamResult, accumulate_all
from streamtape.cassette import Cassette, Interaction, Timing
from streamtape.diff import StreamDiff
from streamtape.events import ErrorEvent, Event, KeepAlive, MalformedEvent, UnknownEvent
from streamtape.render import timed_events

__all__ = [
    "LANES",
    "Lane",
    "diff_page",
    "interaction_html",
    "page",
    "render_report",
    "write_report",
]

Lane = Literal["lifecycle", "reasoning", "text", "tool", "keepalive", "error"]
"""A timeline lane of events."""
LANES: tuple[Lane, ...] = get_args(Lane)
"""The timeline's event lanes, top to bottom; every event gets a mark in exactly one."""

_LANE_TITLES: dict[Lane, str] = {
    "lifecycle": "lifecycle",
    "reasoning": "reasoning",
    "text": "text",
    "tool": "tool input",
    "keepalive": "keep-alive",
    "error": "errors",
}
_RATE_LANES: tuple[Lane, ...] = ("reasoning", "text", "tool")  # lanes of streamed characters
_W = 1000  # the timeline's viewBox width; x scales to the page, y stays in px
_EXCERPT = 160  # characters of a delta shown in the event table
_GAPS_SHOWN = 3


def lane_of(event: Event) -> Lane:
    """The timeline lane of an event (see `LANES`)."""
    if isinstance(event, (ErrorEvent, MalformedEvent)) or event.type == "response.failed":
        return "error"
    if isinstance(event, KeepAlive):
        return "keepalive"
    kind = event.type
    if kind in ("response.output_text.delta", "response.refusal.delta", "response.audio.delta"):
        return "text"
    if "reasoning" in kind and kind.endswith(".delta"):
        return "reasoning"
    if kind.endswith(".delta") and not kind.startswith("response.audio"):
        return "tool"
    if kind.startswith("response.audio_transcript"):
        return "text"
    return "lifecycle"


def _delta(event: Event) -> str:
    value = getattr(event, "delta", None)
    return value if isinstance(value, str) else ""


# -- facts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the page shows of one interaction, computed once."""

    inter: Interaction
    timed: list[tuple[int, Event]]
    results: list[StreamResult]
    timing: Timing
    span_ns: int
    first_text_ns: int | None
    request: dict[str, Any]


def _end_ns(inter: Interaction) -> int:
    ends = [inter.end.offset_ns if inter.end else 0, *(c.offset_ns for c in inter.chunks[-1:])]
    return max(*ends, 1)


def _facts(inter: Interaction, span_ns: int = 0) -> _Facts:
    timed = list(timed_events(inter))
    results = accumulate_all(e for _, e in timed) if timed else []
    first_text = next(
        (at for at, e in timed if lane_of(e) == "text" and _delta(e)),
        None,
    )
    try:
        request = json.loads(inter.request.body) if inter.request.body else {}
    except ValueError:
        request = {}
    return _Facts(
        inter=inter,
        timed=timed,
        results=results,
        timing=inter.timing(),
        span_ns=max(_end_ns(inter), span_ns),
        first_text_ns=first_text,
        request=request if isinstance(request, dict) else {},
    )


def _input_excerpt(request: dict[str, Any], limit: int = 300) -> str:
    """The last user input as text (the Responses API's ``input``: a string or a list of
    messages whose content is a string or a list of parts)."""
    value = request.get("input")
    if isinstance(value, list):
        texts: list[str] = []
        for message in value:
            if not isinstance(message, dict):
                continue
            content = message.get("content")
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [p["text"] for p in content if isinstance(p, dict) and "text" in p]
        value = texts[-1] if texts else None
    if not isinstance(value, str):
        return ""
    return value if len(value) <= limit else value[:limit] + "…"


def _tools(request: dict[str, Any]) -> list[str]:
    tools = request.get("tools")
    if not isinstance(tools, list):
        return []
    names = []
    for tool in tools:
        if isinstance(tool, dict):
            names.append(str(tool.get("name") or tool.get("type") or "?"))
    return names


# -- html pieces -----------------------------------------------------------------------------


def _attr(value: object) -> str:
    return escape(str(value), quote=True)


def _x(at_ns: int, span_ns: int) -> float:
    return round(at_ns / span_ns * _W, 2)


def _pct(at_ns: int, span_ns: int) -> str:
    return f"{at_ns / span_ns * 100:.3f}%"


def _ticks(span_ns: int) -> list[int]:
    """Tick positions (ns) at a 1-2-5 step giving at most 6 intervals."""
    step = 1_000_000  # 1 ms
    while span_ns / step > 6:
        for factor in (2, 2.5, 2):
            step = int(step * factor)
            if span_ns / step <= 6:
                break
    return list(range(0, span_ns + 1, step))


def _tick_label(ns: int) -> str:
    return f"{ns / 1e9:g} s" if ns >= 1_000_000_000 else f"{ns / 1e6:g} ms"


def _metric(name: str, label: str, seconds: float | None, hint: str) -> str:
    value = "" if seconds is None else repr(seconds)
    return (
        f'<div class="metric" data-metric="{name}" data-seconds="{value}" title="{_attr(hint)}">'
        f'<span class="label">{escape(label)}</span>'
        f'<span class="value">{format_seconds(seconds)}</span></div>'
    )


def _largest_gaps(inter: Interaction, count: int) -> list[tuple[int, int, int]]:
    """The ``count`` longest waits between chunks: (gap ns, start ns, index of the next chunk)."""
    chunks = inter.chunks
    gaps = [
        (b.offset_ns - a.offset_ns, a.offset_ns, i + 1)
        for i, (a, b) in enumerate(itertools.pairwise(chunks))
    ]
    return sorted(gaps, key=lambda g: (-g[0], g[1]))[:count]


def _timeline(f: _Facts) -> str:
    span = f.span_ns
    inter = f.inter
    rows: list[str] = []
    # chunk lane: one bar per chunk, its height by size (square root, so small chunks show)
    top = max((len(c.data) for c in inter.chunks), default=1) ** 0.5 or 1
    bars = "".join(
        f'<line class="chunk" x1="{_x(c.offset_ns, span)}" x2="{_x(c.offset_ns, span)}" '
        f'y1="30" y2="{30 - max(2.0, len(c.data) ** 0.5 / top * 28):.1f}">'
        f"<title>chunk {i + 1}: {len(c.data)} B at {format_ns(c.offset_ns)}</title></line>"
        for i, c in enumerate(inter.chunks)
    )
    rows.append(_lane_row("chunks", "chunk", bars, 32, len(inter.chunks)))
    by_lane: dict[Lane, list[str]] = {lane: [] for lane in LANES}
    for index, (at, event) in enumerate(f.timed):
        lane = lane_of(event)
        x = _x(at, span)
        tip = f"#{index} {event.type} at {format_ns(at)}"
        if _delta(event):
            tip += f": {_delta(event)[:80]}"
        by_lane[lane].append(
            f'<line class="ev {lane}" data-i="{index}" x1="{x}" x2="{x}" y1="3" y2="19">'
            f"<title>{escape(tip)}</title></line>"
        )
    for lane in LANES:
        if by_lane[lane]:
            rows.append(
                _lane_row(_LANE_TITLES[lane], lane, "".join(by_lane[lane]), 22, len(by_lane[lane]))
            )
    overlay: list[str] = []
    gaps = sorted(b.offset_ns - a.offset_ns for a, b in itertools.pairwise(inter.chunks))
    typical = gaps[len(gaps) // 2] if gaps else 0
    for gap, start, _ in _largest_gaps(inter, _GAPS_SHOWN):
        if gap > max(4 * typical, span // 200):  # shade only the stalls that stand out
            overlay.append(
                f'<div class="gap" style="left:{_pct(start, span)};width:{_pct(gap, span)}" '
                f'title="gap of {format_ns(gap)}"></div>'
            )
    markers = [
        ("ttfb", "first byte", f.timing.first_chunk),
        ("ttft", "first token", f.timing.first_token),
    ]
    for name, label, seconds in markers:
        if seconds is not None:
            overlay.append(
                f'<div class="marker {name}" style="left:{_pct(int(seconds * 1e9), span)}" '
                f'title="{label} {format_seconds(seconds)}"><span>{label}</span></div>'
            )
    axis = "".join(
        f'<span style="left:{_pct(t, span)}">{_tick_label(t)}</span>' for t in _ticks(span)
    )
    return (
        '<figure class="timeline"><div class="lanes">'
        + "".join(rows)
        + '<div class="overlay">'
        + "".join(overlay)
        + "</div></div>"
        + f'<div class="axis-row"><span></span><div class="axis">{axis}</div></div>'
        + "<figcaption>Each mark is one event at the arrival of the chunk that completed it; "
        "shaded: the largest gaps between chunks.</figcaption></figure>"
    )


def _lane_row(
    title: str, lane: Lane | Literal["chunk"], marks: str, height: int, count: int
) -> str:
    return (
        f'<div class="lane-label"><i class="swatch {lane}"></i>{escape(title)} '
        f'<small>{count}</small></div><svg class="lane {lane}" viewBox="0 0 {_W} {height}" '
        f'height="{height}" preserveAspectRatio="none" role="img" '
        f'aria-label="{_attr(title)}: {count}">{marks}</svg>'
    )


def _rate(f: _Facts) -> str:
    """Characters streamed per second of text, reasoning and tool input, per time bucket."""
    buckets = 60
    span = f.span_ns
    series: dict[Lane, list[int]] = {lane: [0] * buckets for lane in _RATE_LANES}
    for at, event in f.timed:
        lane = lane_of(event)
        if lane in series:
            series[lane][min(buckets - 1, at * buckets // span)] += len(_delta(event))
    seconds = span / 1e9 / buckets
    totals = [sum(s[i] for s in series.values()) for i in range(buckets)]
    peak = max(totals)
    if peak == 0:
        return ""
    height = 60
    width = _W / buckets
    rects = []
    for i in range(buckets):
        y = float(height)
        for lane, values in series.items():
            if values[i]:
                h = values[i] / peak * (height - 2)
                y -= h
                rects.append(
                    f'<rect class="{lane}" x="{i * width:.2f}" y="{y:.2f}" '
                    f'width="{width * 0.9:.2f}" height="{h:.2f}"><title>'
                    f"{values[i] / seconds:.0f} {lane} chars/s</title></rect>"
                )
    return (
        '<figure class="rate"><div class="lanes"><div class="lane-label">chars/s</div>'
        f'<svg class="lane" viewBox="0 0 {_W} '
        f'{height}" height="{height}" preserveAspectRatio="none" role="img" '
        f'aria-label="characters per second">{"".join(rects)}</svg></div>'
        "<figcaption>Characters of text, reasoning and tool input streamed per second "
        f"({buckets} buckets of {format_seconds(seconds)}; peak {peak / seconds:,.0f} chars/s)."
        "</figcaption></figure>"
    )


def _summary(f: _Facts) -> str:
    inter = f.inter
    rows: list[tuple[str, str]] = []
    model = f.request.get("model")
    if model:
        rows.append(("model", escape(str(model))))
    excerpt = _input_excerpt(f.request)
    if excerpt:
        rows.append(("input", f'<span class="quote">{escape(excerpt)}</span>'))
    tools = _tools(f.request)
    if tools:
        rows.append(("tools", ", ".join(f"<code>{escape(t)}</code>" for t in tools)))
    resp = inter.response
    rows.append(("HTTP", escape(f"{resp.status} {resp.reason}".strip()) if resp else "no response"))
    end = inter.end
    ending = end.outcome if end else "unfinished (the recorder stopped)"
    if end is not None and end.error is not None:
        ending += f" ({end.error.type}: {end.error.message})"
    rows.append(("stream end", escape(ending)))
    size = sum(len(c.data) for c in inter.chunks)
    rows.append(("received", f"{len(inter.chunks)} chunks, {size:,} bytes, {len(f.timed)} events"))
    usage = next((r.usage for r in reversed(f.results) if r.usage is not None), None)
    if usage is not None:
        text = f"{usage.input_tokens:,} in, {usage.output_tokens:,} out"
        details = usage.output_tokens_details
        reasoning = getattr(details, "reasoning_tokens", None) if details else None
        if reasoning:
            text += f" ({reasoning:,} reasoning)"
        cached = getattr(usage.input_tokens_details, "cached_tokens", None)
        if cached:
            text += f", {cached:,} cached"
        rows.append(("tokens", escape(text)))
        if usage.cost is not None:
            rows.append(("cost", escape(f"{usage.cost:g}")))
        streamed = f.timing.duration - (f.timing.first_token or f.timing.duration)
        if usage.output_tokens and streamed > 0:
            rows.append(("output rate", f"{usage.output_tokens / streamed:,.1f} tokens/s"))
    return "<dl class=summary>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _outcome(f: _Facts) -> tuple[str, str]:
    outcome: str
    if f.results:
        outcome = f.results[-1].outcome
    elif f.inter.response is not None and f.inter.response.status >= 400:
        outcome = "failed"
    else:
        outcome = "no events"
    tone = {"completed": "ok", "incomplete": "warn"}.get(outcome, "bad")
    return outcome, tone


def _problems(f: _Facts) -> str:
    items: list[str] = []
    inter = f.inter
    if inter.response is not None and inter.response.status >= 400:
        items.append(f"HTTP status {inter.response.status}")
    if inter.end is None:
        items.append("the recording has no end: the recorder stopped mid-stream")
    elif inter.end.error is not None:
        items.append(f"stream ended with {inter.end.error.type}: {inter.end.error.message}")
    for result in f.results:
        if result.error is not None:
            code = result.error.code or result.error.type or "error"
            items.append(f"{code}: {result.error.message}")
        for p in result.problems:
            at = f.timed[p.index][0] if p.index < len(f.timed) else None
            where = f" (event #{p.index}" + (f", {format_ns(at)})" if at is not None else ")")
            items.append(f"{p.kind}: {p.message}{where}")
    if not items:
        return ""
    lis = "".join(f"<li>{escape(i)}</li>" for i in items)
    return f'<div class="problems"><h4>Problems ({len(items)})</h4><ul>{lis}</ul></div>'


def _pretty_arguments(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _output(f: _Facts) -> str:
    parts: list[str] = []
    reasoning = "\n\n".join(r.reasoning_summary or r.reasoning_text for r in f.results).strip()
    if reasoning:
        parts.append(f'<h4>Reasoning</h4><pre class="reasoning-text">{escape(reasoning)}</pre>')
    text = "".join(r.output_text for r in f.results)
    if text:
        parts.append(f'<h4>Text</h4><pre class="output-text">{escape(text)}</pre>')
    refusal = "".join(r.refusal for r in f.results)
    if refusal:
        parts.append(f'<h4>Refusal</h4><pre class="output-text">{escape(refusal)}</pre>')
    for call in (c for r in f.results for c in r.function_calls):
        parts.append(
            f"<h4>Function call <code>{escape(call.name)}</code> <small>{escape(call.call_id)}"
            f'</small></h4><pre class="arguments">{escape(_pretty_arguments(call.arguments))}</pre>'
        )
    if not f.timed and f.inter.chunks:
        body = f.inter.body[:4096].decode("utf-8", "replace")
        parts.append(f'<h4>Body (not an event stream)</h4><pre class="body">{escape(body)}</pre>')
    return "".join(parts)


def _event_detail(event: Event) -> str:
    if _delta(event):
        text = _delta(event)
    elif isinstance(event, ErrorEvent):
        text = f"{event.code}: {event.message}"
    elif isinstance(event, MalformedEvent):
        text = f"{event.error} at byte {event.offset}"
    elif isinstance(event, UnknownEvent):
        text = event.raw.decode("utf-8", "replace")
    else:
        item = getattr(event, "item", None)
        response = getattr(event, "response", None)
        if item is not None:
            text = f"{item.type} {getattr(item, 'name', '') or ''}".strip()
        elif response is not None:
            text = f"status {getattr(response, 'status', '')}"
        else:
            text = ""
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "…"


def _event_table(f: _Facts) -> str:
    rows = "".join(
        f'<tr class="{lane_of(e)}"><td>{i}</td><td>{at / 1e6:.1f}</td>'
        f"<td><code>{escape(e.type)}</code></td><td>{escape(_event_detail(e))}</td></tr>"
        for i, (at, e) in enumerate(f.timed)
    )
    return (
        f'<details class="events"><summary>All {len(f.timed)} events</summary>'
        '<div class="scroll"><table><thead><tr><th>#</th><th>ms</th><th>type</th>'
        f"<th>detail</th></tr></thead><tbody>{rows}</tbody></table></div></details>"
    )


def _gaps(f: _Facts) -> str:
    gaps = [g for g in _largest_gaps(f.inter, _GAPS_SHOWN) if g[0] > 0]
    if not gaps:
        return ""
    items = "".join(
        f"<li><b>{format_seconds(gap / 1e9)}</b> before chunk {index + 1} "
        f"(from {format_seconds(start / 1e9)})</li>"
        for gap, start, index in gaps
    )
    return f'<div class="gaps"><h4>Largest gaps</h4><ol>{items}</ol></div>'


def interaction_html(inter: Interaction, heading: str, anchor: str = "", span_ns: int = 0) -> str:
    """One interaction as a ``<section>``: summary, metrics, timeline, rate, output, events.
    The time axis runs to the interaction's end, or to ``span_ns`` if later (a shared scale)."""
    f = _facts(inter, span_ns)
    outcome, tone = _outcome(f)
    t = f.timing
    first_text = None if f.first_text_ns is None else f.first_text_ns / 1e9
    metrics = "".join(
        [
            _metric("ttfb", "first byte", t.first_chunk, "first body chunk (TTFB)"),
            _metric("first-event", "first event", t.first_event, "first complete SSE event"),
            _metric("ttft", "TTFT", t.first_token, "first token: text, reasoning or tool input"),
            _metric("first-text", "first text", first_text, "first answer text"),
            _metric("duration", "duration", t.duration, "request sent to end of body"),
            _metric("largest-gap", "largest gap", t.largest_gap, "longest wait between chunks"),
        ]
    )
    url = f"{inter.request.method} {inter.request.url}"
    ident = f' id="{_attr(anchor)}"' if anchor else ""
    return (
        f'<section class="interaction"{ident}><header><h3>{escape(heading)}</h3>'
        f'<span class="badge {tone}" data-outcome="{_attr(outcome)}">{escape(outcome)}</span>'
        f'<code class="url">{escape(url)}</code></header>'
        f"{_summary(f)}{_problems(f)}<div class=metrics>{metrics}</div>"
        f"{_timeline(f)}{_gaps(f)}{_rate(f)}{_output(f)}{_event_table(f)}</section>"
    )


def render_report(
    cassettes: Iterable[tuple[str, Cassette | Sequence[Interaction]]], title: str = ""
) -> str:
    """The report page of the named cassettes (or lists of interactions), every interaction of
    each in order."""
    sections: list[str] = []
    names: list[str] = []
    for n, (name, source) in enumerate(cassettes, 1):
        names.append(name)
        interactions = source.interactions if isinstance(source, Cassette) else list(source)
        when = ""
        if isinstance(source, Cassette) and source.header is not None:
            when = f", recorded {source.header.recorded_at}"
        sections.append(
            f"<h2>{escape(name)}</h2>"
            f"<p class=files>{len(interactions)} interaction(s){escape(when)}</p>"
        )
        if isinstance(source, Cassette) and source.truncated:
            sections.append(
                f'<div class="problems"><h4>Cassette</h4><p>{escape(str(source.error))}</p></div>'
            )
        sections += [
            interaction_html(inter, f"Interaction {inter.id}", f"c{n}-i{inter.id}")
            for inter in interactions
        ]
    title = title or "streamtape report: " + ", ".join(os.path.basename(n) for n in names)
    return page(title, f"<h1>{escape(title)}</h1>" + "".join(sections))


def write_report(paths: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str]) -> Path:
    """Read the cassettes (leniently: a truncated one shows what it holds) and write the page.

    Raises CassetteError for a file that is not a cassette.
    """
    loaded = [(str(p), Cassette.load(p, strict=False)) for p in paths]
    out = Path(output)
    out.write_text(render_report(loaded), encoding="utf-8")
    return out


def diff_page(
    diff: StreamDiff,
    a: tuple[str, Sequence[Interaction]],
    b: tuple[str, Sequence[Interaction]],
) -> str:
    """The page of ``streamtape diff --html``: the verdict and each section, then the two
    sides' interactions side by side (stacked on a narrow screen)."""
    blocks = [f'<p class="verdict {diff.verdict}" data-verdict="{diff.verdict}">{diff.verdict}</p>']
    blocks += [f"<p>{escape(note)}</p>" for note in diff.notes]
    for inter_diff in diff.interactions:
        rows = "".join(
            f'<tr class="{s.verdict}"><th>{escape(s.name)}</th><td>{escape(s.verdict)}</td>'
            f"<td><pre>{escape(chr(10).join(s.lines))}</pre></td></tr>"
            for s in inter_diff.sections
        )
        blocks.append(
            f"<h2>{escape(inter_diff.a)} vs {escape(inter_diff.b)}: {inter_diff.verdict}</h2>"
            f'<div class="wide"><table class="diff">{rows}</table></div>'
        )
    columns = []
    span = max((_end_ns(i) for i in [*a[1], *b[1]]), default=1)  # one time scale for both
    for side, (label, interactions) in (("A", a), ("B", b)):
        sections = "".join(
            interaction_html(inter, f"{side}: interaction {inter.id}", f"{side}-{inter.id}", span)
            for inter in interactions
        )
        columns.append(f'<div class="side"><h2>{side}: {escape(label)}</h2>{sections}</div>')
    title = f"streamtape diff: {a[0]} vs {b[0]}"
    return page(
        title,
        f'<h1>{escape(title)}</h1>{"".join(blocks)}<div class="sides">{"".join(columns)}</div>',
    )
