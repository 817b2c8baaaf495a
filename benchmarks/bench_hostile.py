"""Growth curves on hostile SSE input: time per byte of the parser as adversarial shapes grow.

Each shape is parsed at 64 KB .. 4 MB (1-byte reads: 16 KB .. 1 MB) through the two routes the
package has: the decoder's (`SSEParser._feed_payloads`, with `find_frames` in C and in Python) and
the exact parser (`SSEParser.feed`). For each curve the table gives the time per input byte at
each size (least CPU time of `--repeat` runs), its growth (largest over smallest time per byte:
~1 is linear, quadratic work gives 4 per size step) and its ratio to the typical stream
(`bench.synthetic_stream`) through the same route and reads, at the largest size.

    python benchmarks/bench_hostile.py [--repeat 3] [--quick] [--write-docs]

Exits 1 when a curve's time per byte grows more than 3x from its smallest size to its largest,
or when a shape costs the decoder's route in C more than 3x the typical stream's time per byte.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench_decode import ROOT, machine, shown_args, write_section

from streamtape import bench, sse
from streamtape.sse import SSEParser

KB = 1024
MAX_GROWTH = 3.0
MAX_OVER_TYPICAL = 3.0  # for the decoder's route in C, the one a default install runs
TARGET_ROUTE = "decoder route, C"


def typical(size: int) -> bytes:
    return bench.synthetic_stream(size=size)


def long_line_id_after(size: int) -> bytes:
    """One frame: a `data:` line full of frame-start look-alikes, then an `id:` line."""
    return b'data: {"a":"' + b"data: {" * (size // 7) + b'"}\nid: 1\n\n'


def long_line_event_retry_after(size: int) -> bytes:
    return b'data: {"a":"' + b"event:" * (size // 6) + b'"}\nevent: x\nretry: 1000\n\n'


def many_fields_per_frame(size: int) -> bytes:
    frame = b"id: 1\n" * 1000 + b'event: x\ndata: {"type":"a"}\n\n'
    return frame * max(1, size // len(frame))


def many_data_lines(size: int) -> bytes:
    frame = b'data: {"type":"a"}\n' * 1000 + b"\n"
    return frame * max(1, size // len(frame))


def id_on_every_frame(size: int) -> bytes:
    """The typical stream with an `id:` line on each frame (some servers send one): every frame is
    one the decoder's fast path hands to the exact parser."""
    frames = typical(size).split(b"\n\n")
    return b"\n\n".join(b"id: %d\n" % i + f for i, f in enumerate(frames[:-1])) + b"\n\n"


def cr_only(size: int) -> bytes:
    return typical(size).replace(b"\n", b"\r")


SHAPES: dict[str, Callable[[int], bytes]] = {
    "typical stream": typical,
    "long data: line, id: after": long_line_id_after,
    "long data: line, event: + retry: after": long_line_event_retry_after,
    "1000 id: fields per frame": many_fields_per_frame,
    "1000 data: lines per frame": many_data_lines,
    "id: on every frame": id_on_every_frame,
    "CR-only line ends": cr_only,
}
ONE_BYTE_SHAPES = ["typical stream", "long data: line, id: after", "CR-only line ends"]


def payload_route(find: sse.FindFrames) -> Callable[[bytes, int], int]:
    def run(data: bytes, read: int) -> int:
        parser = SSEParser()
        parser._find = find
        feed = parser._feed_payloads
        n = 0
        for i in range(0, len(data), read):
            items = feed(data[i : i + read])
            n += 1 if type(items) is bytes else len(items)
        return n + len(parser.close())

    return run


def exact_route(data: bytes, read: int) -> int:
    parser = SSEParser()
    feed = parser.feed
    n = 0
    for i in range(0, len(data), read):
        n += len(feed(data[i : i + read]))
    return n + len(parser.close())


ROUTES: dict[str, Callable[[bytes, int], int]] = {
    "decoder route, C": payload_route(sse._find_frames),
    "decoder route, Python": payload_route(sse._py_find_frames),
    "exact parser": exact_route,
}


@dataclass
class Curve:
    shape: str
    read: int
    route: str
    points: list[tuple[int, float]] = field(default_factory=list)  # (bytes, ns per byte)

    @property
    def growth(self) -> float:
        return self.points[-1][1] / self.points[0][1]


def over_typical(curves: list[Curve]) -> dict[tuple[int, str, str], float]:
    """Each curve's time per byte at its largest size over the typical stream's, same route and
    reads."""
    baseline = {(c.read, c.route): c.points[-1][1] for c in curves if c.shape == "typical stream"}
    return {
        (c.read, c.route, c.shape): c.points[-1][1] / baseline[(c.read, c.route)] for c in curves
    }


def ns_per_byte(run: Callable[[bytes, int], int], data: bytes, read: int, repeat: int) -> float:
    """The least CPU time of `repeat` runs, per byte: the process's own time, so other work on a
    shared machine does not count (its cache pressure still does)."""
    times = []
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        run(data, read)
        times.append(time.process_time() - start)
    return min(times) * 1e9 / len(data)


def measure(repeat: int, quick: bool, progress: Callable[[str], None]) -> list[Curve]:
    sizes = [64 * KB, 256 * KB] if quick else [64 * KB, 256 * KB, 1024 * KB, 4096 * KB]
    byte_sizes = [16 * KB, 64 * KB] if quick else [16 * KB, 64 * KB, 256 * KB, 1024 * KB]
    curves = []
    plan = [(name, 64 * KB, sizes) for name in SHAPES]
    plan += [(name, 1, byte_sizes) for name in ONE_BYTE_SHAPES]
    for name, read, shape_sizes in plan:
        inputs = [SHAPES[name](size) for size in shape_sizes]
        for route, run in ROUTES.items():
            curve = Curve(name, read, route)
            for data in inputs:
                progress(f"{name}, {read} B reads, {route}, {len(data) // KB} KB")
                curve.points.append((len(data), ns_per_byte(run, data, read, repeat)))
            curves.append(curve)
    return curves


def human(size: int) -> str:
    return f"{size // KB // KB} MB" if size >= KB * KB else f"{size // KB} KB"


def table(curves: list[Curve]) -> str:
    ratios = over_typical(curves)
    lines = []
    for read in sorted({c.read for c in curves}, reverse=True):
        group = [c for c in curves if c.read == read]
        sizes = [human(size) for size, _ in group[0].points]
        lines += [
            f"**{'64 KiB' if read == 64 * KB else f'{read} B'} reads** (ns per input byte; "
            "sizes are the typical stream's, the other shapes are within a few percent of them)",
            "",
            "| shape | route | " + " | ".join(sizes) + " | growth | x typical |",
            "|---|---|" + "---:|" * (len(sizes) + 2),
        ]
        for c in group:
            cells = " | ".join(f"{ns:,.1f}" for _, ns in c.points)
            ratio = ratios[(c.read, c.route, c.shape)]
            lines.append(f"| {c.shape} | {c.route} | {cells} | {c.growth:.2f} | {ratio:.2f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per point (3)")
    parser.add_argument("--quick", action="store_true", help="two sizes only (a smoke run)")
    parser.add_argument("--write-docs", action="store_true", help="write the docs section")
    args = parser.parse_args(argv)

    def progress(what: str) -> None:
        sys.stderr.write(f"\rhostile: {what}".ljust(90))
        sys.stderr.flush()

    started = time.perf_counter()
    curves = measure(args.repeat, args.quick, progress)
    sys.stderr.write("\r" + " " * 90 + "\r")
    took = time.perf_counter() - started
    print(f"{machine()}; {took:.0f} s; C fast path built: {sse.SPEEDUPS}\n")
    text = table(curves)
    print(text)
    bad = [c for c in curves if c.growth > MAX_GROWTH]
    for c in bad:
        print(f"NOT LINEAR: {c.shape}, {c.read} B reads, {c.route}: growth {c.growth:.2f}")
    ratios = over_typical(curves)
    worst = max(((r, k) for k, r in ratios.items() if k[1] == TARGET_ROUTE), default=None)
    if worst is not None:
        ratio, (read, _, shape) = worst
        verdict = "met" if ratio <= MAX_OVER_TYPICAL else "MISSED"
        print(
            f"{verdict}: every shape through the {TARGET_ROUTE} within {MAX_OVER_TYPICAL:g}x of "
            f"the typical stream's time per byte (worst: {shape}, {read} B reads, {ratio:.2f}x)"
        )
        if ratio > MAX_OVER_TYPICAL:
            bad.append(Curve(shape, read, TARGET_ROUTE))
    if args.write_docs:
        given = sys.argv[1:] if argv is None else argv
        command = "python benchmarks/bench_hostile.py " + " ".join(shown_args(given))
        section = "\n".join(
            [
                "## Hostile input (`benchmarks/bench_hostile.py`)",
                "",
                f"Command: `{command.strip()}`  ",
                f"Machine: {machine()}",
                "",
                text,
            ]
        )
        write_section(ROOT / "docs" / "benchmarks.md", "bench_hostile", section)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
