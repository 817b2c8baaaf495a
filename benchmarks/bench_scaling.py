"""Growth curves: time and peak memory of streamtape as the work grows; everything must be linear.

- streams of 10^2 .. 10^6 events (small text deltas), decoded from 64 KiB reads;
- one huge `data:` line (a base64 partial image, up to 10 MB) fed in 1 B, 1 KiB and 64 KiB chunks;
- cassettes of 1, 10 and 100 MB (1 MB responses recorded one chunk per event): written with
  `CassetteWriter`, read back with `Cassette.iter_records`, and decoded with
  `Cassette.iter_interactions` + `Interaction.events()`.

Time is the median of `--repeat` runs; peak memory is what tracemalloc saw during one more run
(the input itself excluded). Each curve's log-log slope is fitted: ~1 is linear, ~0 is constant.
Plots go to docs/scaling-time.svg and docs/scaling-memory.svg (plain SVG, no plotting library).

    python benchmarks/bench_scaling.py [--repeat 3] [--max-events 1000000] [--quick] [--write-docs]
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from bench_decode import ROOT, machine, shown_args, write_section

from streamtape import bench
from streamtape.cassette import Cassette, CassetteWriter
from streamtape.decode import EventDecoder

DOCS = ROOT / "docs"
MB = 1_000_000
# A fitted log-log slope above this is not linear. Quadratic work gives 2; caches give up to ~0.15
# (a 10 MB line costs ~3 ns/byte at 1 MB and ~4-5 ns/byte from 10 MB up to 40 MB, then flat).
LINEAR_SLOPE = 1.25


@dataclass
class Point:
    size: int  # the x axis: bytes of input
    units: int  # events, bytes or records, whichever the series counts
    seconds: float
    peak: int  # bytes


@dataclass
class Series:
    name: str
    unit: str
    points: list[Point] = field(default_factory=list)

    def slope(self, attr: str) -> float:
        """Least-squares slope of log(attr) over log(size): the growth exponent."""
        pts = [(math.log(p.size), math.log(max(getattr(p, attr), 1e-9))) for p in self.points]
        if len(pts) < 2:
            return float("nan")
        mx = statistics.fmean(x for x, _ in pts)
        my = statistics.fmean(y for _, y in pts)
        sxx = sum((x - mx) ** 2 for x, _ in pts)
        return sum((x - mx) * (y - my) for x, y in pts) / sxx


def measure(run: Callable[[], int], repeat: int) -> tuple[int, float, int]:
    """(units, median seconds, peak traced bytes) of `run`."""
    times = []
    units = 0
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        units = run()
        times.append(time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return units, statistics.median(times), peak


def feed(data: bytes, size: int) -> int:
    """Decode `data` read `size` bytes at a time; the number of events."""
    decoder = EventDecoder()
    n = 0
    for i in range(0, len(data), size):
        n += len(decoder.feed(data[i : i + size]))
    return n + len(decoder.close())


def stream_series(counts: list[int], repeat: int, progress: Callable[[str], None]) -> Series:
    series = Series("stream, 64 KiB reads", "events")
    for n in counts:
        progress(f"stream of {n:,} events")
        data = bench.synthetic_stream(events=n)
        units, seconds, peak = measure(lambda data=data: feed(data, 65536), repeat)
        assert units == n, (units, n)
        series.points.append(Point(len(data), units, seconds, peak))
    return series


def line_series(sizes: list[int], repeat: int, progress: Callable[[str], None]) -> list[Series]:
    out = []
    for chunk, label in [(1, "1 B"), (1024, "1 KiB"), (65536, "64 KiB")]:
        series = Series(f"one data: line, {label} chunks", "bytes")
        for size in sizes:
            progress(f"{size / MB:g} MB line in {label} chunks")
            data = bench.huge_line_stream(size)
            units, seconds, peak = measure(lambda d=data, c=chunk: feed(d, c), repeat)
            assert units == 1
            series.points.append(Point(len(data), len(data), seconds, peak))
        out.append(series)
    return out


def write_cassette(path: Path, responses: int, response: list[bytes]) -> int:
    with CassetteWriter(path) as writer:
        for _ in range(responses):
            interaction = writer.begin("POST", "https://api.openai.com/v1/responses", body=b"{}")
            interaction.response(200, [("content-type", "text/event-stream; charset=utf-8")])
            for data in response:
                interaction.chunk(data)
            interaction.end()
    return responses * len(response)


def read_records(path: Path) -> int:
    n = 0
    for _ in Cassette.iter_records(path):
        n += 1
    return n


def decode_cassette(path: Path) -> int:
    return sum(len(interaction.events()) for interaction in Cassette.iter_interactions(path))


def cassette_series(
    sizes_mb: list[int], repeat: int, progress: Callable[[str], None]
) -> list[Series]:
    response = bench.chunk(bench.synthetic_stream(size=MB), "event")
    events = len(response)
    write = Series("cassette write (CassetteWriter)", "chunks")
    read = Series("cassette read (iter_records)", "records")
    decode = Series("cassette decode (iter_interactions + events)", "events")
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes_mb:
            path = Path(tmp) / f"{size}mb.ndjson.zst"
            progress(f"{size} MB cassette: write")
            units, seconds, peak = measure(
                lambda p=path, s=size: write_cassette(p, s, response), repeat
            )
            body = size * sum(map(len, response))
            write.points.append(Point(body, units, seconds, peak))
            progress(f"{size} MB cassette: read")
            units, seconds, peak = measure(lambda p=path: read_records(p), repeat)
            read.points.append(Point(body, units, seconds, peak))
            progress(f"{size} MB cassette: decode")
            units, seconds, peak = measure(lambda p=path: decode_cassette(p), repeat)
            assert units == size * events, (units, size * events)
            decode.points.append(Point(body, units, seconds, peak))
    return [write, read, decode]


# ------------------------------------------------------------------------------------- rendering


def human(value: float, unit: str) -> str:
    for factor, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def seconds(value: float) -> str:
    if value >= 1:
        return f"{value:.3g} s"
    return f"{value * 1e3:.3g} ms" if value >= 1e-3 else f"{value * 1e6:.3g} µs"


def verdict(series: Series) -> str:
    time_slope, mem_slope = series.slope("seconds"), series.slope("peak")
    linear = time_slope <= LINEAR_SLOPE and mem_slope <= LINEAR_SLOPE
    return (
        f"time slope {time_slope:.2f}, memory slope {mem_slope:.2f}: "
        f"{'linear' if linear else 'NOT LINEAR'}"
    )


def table(all_series: list[Series]) -> str:
    lines = [
        "| series | input | units | time | ns/unit | peak memory | peak / input |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in all_series:
        for p in s.points:
            lines.append(
                f"| {s.name} | {human(p.size, 'B')} | {p.units:,} {s.unit} | {seconds(p.seconds)} "
                f"| {p.seconds * 1e9 / max(p.units, 1):,.1f} | {human(p.peak, 'B')} "
                f"| {p.peak / p.size:.2f} |"
            )
    lines.append("")
    lines += [f"- {s.name}: {verdict(s)}" for s in all_series]
    lines.append("")
    lines.append(
        "The generated streams end as a real response does: `output_text.done`, "
        "`content_part.done`, `output_item.done` and `response.completed` each carry the whole "
        "text (about 2% of the stream each), so decoding them needs memory that grows with the "
        "stream even though nothing else is kept."
    )
    return "\n".join(lines)


COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _tag(name: str, text: str = "", **attrs: object) -> str:
    """One SVG element; `stroke_width` style keyword names become `stroke-width`."""
    attributes = " ".join(f"{k.replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items())
    return f"<{name} {attributes}>{escape(text)}</{name}>" if text else f"<{name} {attributes}/>"


def svg_loglog(all_series: list[Series], attr: str, title: str, ylabel: str) -> str:
    """A log-log line chart of `attr` over input size, with a dashed slope-1 guide."""
    width, height, left, right, top, bottom = 880, 520, 80, 320, 40, 60
    xs = [p.size for s in all_series for p in s.points]
    ys = [max(getattr(p, attr), 1e-9) for s in all_series for p in s.points]
    x0, x1 = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y0, y1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    y1 = max(y1, y0 + 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return round(left + (math.log10(x) - x0) / (x1 - x0) * plot_w, 1)

    def py(y: float) -> float:
        return round(height - bottom - (math.log10(max(y, 1e-12)) - y0) / (y1 - y0) * plot_h, 1)

    def ylabel_of(value: float) -> str:
        return seconds(value) if attr == "seconds" else human(value, "B")

    clip = _tag("rect", x=left, y=top, width=plot_w, height=plot_h)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        _tag("rect", width=width, height=height, fill="white"),
        f'<clipPath id="plot">{clip}</clipPath>',
        _tag("text", title, x=left, y=24, font_size=15, font_weight="bold"),
    ]
    for e in range(x0, x1 + 1):
        x = px(10**e)
        out.append(_tag("line", x1=x, y1=top, x2=x, y2=height - bottom, stroke="#ddd"))
        label = human(10**e, "B")
        out.append(_tag("text", label, x=x, y=height - bottom + 16, text_anchor="middle"))
    for e in range(y0, y1 + 1):
        y = py(10**e)
        out.append(_tag("line", x1=left, y1=y, x2=width - right, y2=y, stroke="#ddd"))
        out.append(_tag("text", ylabel_of(10**e), x=left - 6, y=y + 4, text_anchor="end"))
    out.append(_tag("text", "input size", x=left + plot_w / 2, y=height - 18, text_anchor="middle"))
    mid = (top + height - bottom) / 2
    out.append(
        _tag("text", ylabel, transform=f"translate(18 {mid}) rotate(-90)", text_anchor="middle")
    )
    # slope-1 guide through the middle of the plotted range
    mid_x, mid_y = 10 ** ((x0 + x1) / 2), 10 ** ((y0 + y1) / 2)
    guide = {"stroke": "#999", "stroke_dasharray": "6 4"}
    out.append(
        _tag(
            "line",
            x1=px(10**x0),
            y1=py(mid_y * 10**x0 / mid_x),
            x2=px(10**x1),
            y2=py(mid_y * 10**x1 / mid_x),
            clip_path="url(#plot)",
            **guide,
        )
    )
    legend = [(s.name, {"stroke": COLORS[i % len(COLORS)], "stroke_width": 2})
              for i, s in enumerate(all_series)]  # fmt: skip
    legend.append(("slope 1 (linear)", guide))
    for i, s in enumerate(all_series):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{px(p.size)},{py(getattr(p, attr))}" for p in s.points)
        out.append(_tag("polyline", points=coords, fill="none", stroke=color, stroke_width=2))
        for p in s.points:
            out.append(_tag("circle", cx=px(p.size), cy=py(getattr(p, attr)), r=3, fill=color))
    for i, (name, style) in enumerate(legend):
        ly, lx = top + 10 + i * 20, width - right + 14
        out.append(_tag("line", x1=lx, y1=ly, x2=lx + 22, y2=ly, **style))
        out.append(_tag("text", name, x=lx + 28, y=ly + 4))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per point (3)")
    parser.add_argument("--max-events", type=int, default=10**6)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a smoke run)")
    parser.add_argument("--write-docs", action="store_true", help="write the SVGs and docs section")
    args = parser.parse_args(argv)

    if args.quick:
        counts, lines, cassettes = [100, 1000, 10_000], [MB // 8, MB // 4], [1, 2]
    else:
        counts = [10**2, 10**3, 10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6]
        counts = [n for n in counts if n <= args.max_events]
        lines, cassettes = [10 * MB // 8, 10 * MB // 4, 10 * MB // 2, 10 * MB], [1, 10, 100]

    def progress(what: str) -> None:
        sys.stderr.write(f"\rscaling: {what}".ljust(60))
        sys.stderr.flush()

    started = time.perf_counter()
    all_series = [stream_series(counts, args.repeat, progress)]
    all_series += line_series(lines, args.repeat, progress)
    all_series += cassette_series(cassettes, args.repeat, progress)
    sys.stderr.write("\r" + " " * 60 + "\r")
    print(f"{machine()}; {time.perf_counter() - started:.0f} s\n")
    text = table(all_series)
    print(text)
    if args.write_docs:
        (DOCS / "scaling-time.svg").write_text(
            svg_loglog(all_series, "seconds", "streamtape: time as the work grows", "time")
        )
        (DOCS / "scaling-memory.svg").write_text(
            svg_loglog(
                all_series,
                "peak",
                "streamtape: peak memory as the work grows",
                "peak (tracemalloc)",
            )
        )
        given = sys.argv[1:] if argv is None else argv
        command = "python benchmarks/bench_scaling.py " + " ".join(shown_args(given))
        section = "\n".join(
            [
                "## Growth curves (`benchmarks/bench_scaling.py`)",
                "",
                f"Command: `{command.strip()}`  ",
                f"Machine: {machine()}",
                "",
                "![time as the work grows](scaling-time.svg)",
                "![peak memory as the work grows](scaling-memory.svg)",
                "",
                text,
            ]
        )
        write_section(DOCS / "benchmarks.md", "bench_scaling", section)
    slopes_ok = all(
        s.slope("seconds") <= LINEAR_SLOPE and s.slope("peak") <= LINEAR_SLOPE for s in all_series
    )
    return 0 if slopes_ok else 1


if __name__ == "__main__":
    sys.exit(main())
