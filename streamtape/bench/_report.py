"""What one `streamtape bench` run measured (rows, skipped decoders, the report) and its
renderings as JSON, a text table and Markdown."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = [
    "AnchorKind",
    "BenchReport",
    "Row",
    "Shape",
    "Skipped",
    "render_json",
    "render_markdown",
    "render_table",
]

Shape = Literal["64k", "event", "random", "recorded"]
"""How a stream is split into chunks (see `streamtape.bench.SHAPES`)."""

AnchorKind = Literal["subject", "variant", "anchor", "shortcut", "ceiling"]
"""What a measured decoder is: streamtape (the subject), streamtape another way (a variant),
another SSE decoder (an anchor), one that skips work streamtape does (a shortcut), or a bound no
decoder can beat (a ceiling)."""


class Row(msgspec.Struct, frozen=True):
    """One decoder on one input split one way. `speedup` is streamtape's speed over this
    decoder's (the median over repeats of their paired time ratios): 100 means streamtape is 100
    times faster; 0.9 against a ceiling means streamtape reaches 90% of it."""

    input: str
    shape: Shape
    decoder: str
    kind: AnchorKind
    events: int
    bytes: int
    runs_ns: list[int]
    median_ns: int
    spread: float  # (slowest - fastest) / median
    mb_per_s: float
    events_per_s: float
    ns_per_event: float
    speedup: float | None
    error: str | None = None
    raised: str | None = None
    """The SDK's own error, raised by design at an `error` event the stream holds: no timing,
    and no failure."""

    def raises_label(self) -> str:
        return "raises on this stream" + (" (as recorded)" if self.shape == "recorded" else "")


class Skipped(msgspec.Struct, frozen=True):
    decoder: str
    reason: str
    install: str


class BenchReport(msgspec.Struct, frozen=True):
    """Everything one run measured, with what it ran on; `render_json` / `render_table` show it."""

    python: str
    platform: str
    repeat: int
    warmup: int
    versions: dict[str, str]
    shapes: dict[str, str]
    rows: list[Row]
    skipped: list[Skipped]
    fast_path: str = ""  # "C" or "Python": where the SSE parser's fast path ran

    @property
    def failures(self) -> list[Row]:
        """Rows whose decoder raised or decoded a different number of events than streamtape."""
        return [row for row in self.rows if row.error is not None]


_FOOTNOTE = (
    "{report.repeat} timed run(s) per decoder, interleaved, after {report.warmup} warm-up run(s) "
    "(a run shorter than 20 ms repeats its decode to last that long; the time of one pass is "
    "shown); median shown; spread = half the range over the median; streamtape x = "
    "streamtape's speed over the decoder's (median of the paired runs' time ratios)."
)


def render_json(report: BenchReport) -> str:
    """The report as indented JSON (stable key order)."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2).decode()


def render_table(report: BenchReport) -> str:
    """The report as a fixed-width text table, then skipped decoders and failures."""
    head = ("input", "shape", "decoder", "MB/s", "events/s", "ns/event", "median", "spread",
            "streamtape x")  # fmt: skip
    lines: list[tuple[str, ...]] = [head]
    previous = ("", "")
    for row in report.rows:
        key = (row.input, row.shape)
        first = key != previous
        previous = key
        label = (row.input, row.shape) if first else ("", "")
        if row.error is not None:
            lines.append((*label, row.decoder, "failed", "", "", "", "", ""))
            continue
        if row.raised is not None:
            lines.append((*label, row.decoder, row.raises_label(), "", "", "", "", ""))
            continue
        lines.append(
            (
                *label,
                row.decoder,
                f"{row.mb_per_s:,.2f}",
                f"{row.events_per_s:,.0f}",
                f"{row.ns_per_event:,.0f}",
                _duration(row.median_ns),
                f"±{row.spread * 50:.1f}%",
                "" if row.speedup is None or row.kind == "subject" else _ratio(row.speedup),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = []
    for line in lines:
        cells = [
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        text.append("  ".join(cells).rstrip())
    text.insert(1, "-" * len(text[0]))
    text.append("")
    text.append(_FOOTNOTE.format(report=report))
    if report.fast_path:
        text.append(f"streamtape's SSE fast path ran in {report.fast_path}.")
    for s in report.skipped:
        text.append(f"skipped {s.decoder}: {s.reason} ({s.install})")
    for row in report.rows:
        if row.raised is not None:
            text.append(f"{row.decoder} on {row.input} {row.shape} {row.raises_label()}: "
                        f"{row.raised}")  # fmt: skip
    for row in report.failures:
        text.append(f"FAILED {row.decoder} on {row.input} {row.shape}: {row.error}")
    return "\n".join(text)


def render_markdown(report: BenchReport) -> str:
    """The rows as a Markdown table (for docs), then skipped decoders and failures."""
    out = [
        "| input | shape | decoder | MB/s | events/s | ns/event | median | spread | streamtape x |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report.rows:
        if row.error is not None:
            out.append(f"| {row.input} | {row.shape} | {row.decoder} | failed | | | | | |")
            continue
        if row.raised is not None:
            out.append(f"| {row.input} | {row.shape} | {row.decoder} | {row.raises_label()} "
                       "| | | | | |")  # fmt: skip
            continue
        speedup = "" if row.speedup is None or row.kind == "subject" else _ratio(row.speedup)
        out.append(
            f"| {row.input} | {row.shape} | {row.decoder} | {row.mb_per_s:,.2f} | "
            f"{row.events_per_s:,.0f} | {row.ns_per_event:,.0f} | {_duration(row.median_ns)} | "
            f"±{row.spread * 50:.1f}% | {speedup} |"
        )
    out.append("")
    out.append(_FOOTNOTE.format(report=report))
    out += [f"- skipped {s.decoder}: {s.reason} (`{s.install}`)" for s in report.skipped]
    out += [
        f"- {r.decoder} on {r.input} {r.shape} {r.raises_label()}: {r.raised}"
        for r in report.rows
        if r.raised is not None
    ]
    out += [f"- FAILED {r.decoder} on {r.input} {r.shape}: {r.error}" for r in report.failures]
    return "\n".join(out)


def _duration(ns: int) -> str:
    if ns >= 1_000_000_000:
        return f"{ns / 1e9:.2f} s"
    return f"{ns / 1e6:.2f} ms" if ns >= 1_000_000 else f"{ns / 1e3:.0f} µs"


def _ratio(value: float) -> str:
    return f"{value:,.0f}x" if value >= 100 else f"{value:.2f}x" if value < 10 else f"{value:.1f}x"
