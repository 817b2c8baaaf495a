"""Decode speed: streamtape against the openai SDK's own stream path, httpx-sse and msgspec.

Two inputs, each split three ways (64 KiB reads, one chunk per event, random 1-200 byte chunks):
the real fixtures in tests/fixtures concatenated, and a generated ~20 MB stream of small text
deltas. Every decoder runs on the same chunks, interleaved, and must decode the same number of
events. Prints one table with every ratio from this run, then the targets met or missed.

    python benchmarks/bench_decode.py [--repeat 5] [--size-mb 20] [--against openai,...]
                                      [--json report.json] [--write-docs]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

from streamtape import bench

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DOCS = ROOT / "docs" / "benchmarks.md"
SHAPES = ("64k", "event", "random")
DEFAULT_AGAINST = (
    "streamtape-python",
    "streamtape-httpx",
    "openai",
    "httpx-sse",
    "regex-shortcut",
    "msgspec-structs",
    "msgspec-dicts",
    "frames",
)
# (decoder, shape, lowest acceptable "streamtape x"): streamtape's speed over the decoder's.
TARGETS = [
    ("openai", "64k", 150.0),
    ("openai", "event", 100.0),
    ("openai", "random", 40.0),
    ("httpx-sse", "64k", 5.0),
    ("httpx-sse", "event", 5.0),
    ("httpx-sse", "random", 5.0),
    ("msgspec-structs", "64k", 0.85),
]


def fixture_files() -> list[Path]:
    return sorted(p for p in FIXTURES.rglob("*") if p.name.endswith((".sse", ".chunks.txt")))


def build_inputs(size_mb: float, seed: int) -> list[bench.BenchInput]:
    fixtures = bench.concat_fixtures(fixture_files())
    generated = bench.synthetic_stream(size=int(size_mb * 1e6), seed=seed)
    return [
        bench.BenchInput("fixtures", [fixtures], shapes=SHAPES),
        bench.BenchInput(f"deltas-{size_mb:g}MB", [generated], shapes=SHAPES),
    ]


def check_targets(report: bench.BenchReport) -> list[str]:
    """One line per target and input: met or missed, with the measured ratio."""
    lines = []
    for decoder, shape, floor in TARGETS:
        for row in report.rows:
            if row.decoder != decoder or row.shape != shape:
                continue
            if row.speedup is None:
                lines.append(f"  n/a   {decoder:<16} {shape:<6} {row.input}: {row.error}")
                continue
            verdict = "met " if row.speedup >= floor else "MISSED"
            lines.append(
                f"  {verdict:<5} {decoder:<16} {shape:<6} {row.input:<14} "
                f"streamtape x {row.speedup:,.2f} (target >= {floor:g})"
            )
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = re.search(r"model name\s*:\s*(.*)", info).group(1)  # type: ignore[union-attr]
    except (OSError, AttributeError):
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace the text between `<!-- name:begin -->` and `<!-- name:end -->` (or append it)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{body.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def shown_args(argv: list[str]) -> list[str]:
    """The arguments worth showing in the docs: no output paths, no `--write-docs`."""
    shown: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json=") and arg != "--write-docs":
            shown.append(arg)
    return shown


def docs_section(report: bench.BenchReport, command: str, targets: list[str]) -> str:
    return "\n".join(
        [
            "## Decode speed (`benchmarks/bench_decode.py`)",
            "",
            f"Command: `{command}`  ",
            f"Machine: {machine()}  ",
            "Versions: " + ", ".join(f"{k} {v}" for k, v in report.versions.items() if v) + "  ",
            f"SSE fast path: {report.fast_path} (`streamtape-python`: the Python one)",
            "",
            bench.render_markdown(report),
            "",
            "Targets (streamtape's speed over the decoder's):",
            "",
            "```",
            *[line.strip() for line in targets],
            "```",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per decoder (5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (1)")
    parser.add_argument("--size-mb", type=float, default=20.0, help="generated stream size (20)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--against",
        default=",".join(DEFAULT_AGAINST),
        help=f"comma-separated decoders besides streamtape; known: {', '.join(bench.ANCHORS)}",
    )
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    args = parser.parse_args(argv)

    inputs = build_inputs(args.size_mb, args.seed)
    against = [name for name in args.against.split(",") if name]
    started = time.perf_counter()
    report = bench.run_bench(
        inputs, args.repeat, against, bench.stderr_progress(), warmup=args.warmup, seed=args.seed
    )
    print(f"{machine()}; {time.perf_counter() - started:.0f} s")
    for inp in inputs:
        print(f"{inp.name}: {inp.size:,} bytes")
    print()
    print(bench.render_table(report))
    targets = check_targets(report)
    print("\ntargets:")
    print("\n".join(targets))
    if args.json:
        args.json.write_text(bench.render_json(report))
    if args.write_docs:
        command = "python benchmarks/bench_decode.py " + " ".join(
            shown_args(sys.argv[1:] if argv is None else argv)
        )
        write_section(DOCS, "bench_decode", docs_section(report, command.strip(), targets))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
