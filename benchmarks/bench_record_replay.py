"""Record and replay costs: added latency, replay timing, cassette size, I/O speed and memory.

Five measurements, each against a target:
- time to first chunk added by RecordingTransport, over a real 127.0.0.1 server (A/B interleaved);
- replay timing error at speed 1 with the real clock (each chunk's arrival vs its recorded offset);
- cassette size against the real vcrpy / go-vcr YAML cassettes in tests/fixtures, same streams;
- CassetteWriter and Cassette.iter_records throughput in MB/s of body;
- peak RSS (ru_maxrss) of a fresh process reading a 100 MB cassette.
Prints one table with every target met or missed, and the command.

    python benchmarks/bench_record_replay.py [--quick] [--runs 100] [--replays 10]
                                             [--size-mb 100] [--json report.json] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import httpx
import zstandard

from streamtape import bench
from streamtape.cassette import DICTIONARIES, DICTIONARY_ID, Cassette, CassetteWriter
from streamtape.convert import YamlInteraction, read_yaml_cassette, split_frames
from streamtape.transport import RecordingTransport, ReplayTransport

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DOCS = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_decode import machine, shown_args, write_section  # noqa: E402
from bench_scaling import write_cassette  # noqa: E402
from sse_server import Route, SSEServer, sse_chunks  # noqa: E402

MB = 1_000_000
URL_PATH = "/v1/responses"
REQUEST = {"model": "gpt-4.1", "input": "hi", "stream": True}
FRAME_GAP_NS = 20_000_000  # offset between SSE frames when converting YAML cassettes
RECORDED_AT = "2026-01-01T00:00:00Z"


@dataclass
class Row:
    """One measured quantity, its target and whether it was met."""

    name: str
    value: str
    target: str
    met: bool | None  # None: informational, no target
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    sizes: list[dict[str, object]] = field(default_factory=list)
    seconds: float = 0.0
    load: str = ""


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank on the sorted values."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Collect, then keep the cyclic GC off while timing (as timeit and bench_decode do), so a
    collection of earlier garbage is not billed to whichever side runs then."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms"


# --------------------------------------------------------------------------- time to first chunk


def first_chunk_ns(client: httpx.Client, url: str) -> int:
    """Nanoseconds from the request's start to its first body chunk; reads the rest untimed."""
    started = time.perf_counter_ns()
    with client.stream("POST", url, json=REQUEST) as response:
        chunks = response.iter_raw()
        next(chunks)
        first = time.perf_counter_ns() - started
        for _ in chunks:
            pass
    return first


def pair(plain: httpx.Client, recording: httpx.Client, url: str, swap: bool) -> tuple[int, int]:
    """(plain, recording) time to first chunk, run in the order given by ``swap``."""
    if swap:
        b = first_chunk_ns(recording, url)
        return first_chunk_ns(plain, url), b
    a = first_chunk_ns(plain, url)
    return a, first_chunk_ns(recording, url)


def ttfc(server: SSEServer, tmp: Path, runs: int, warmup: int) -> list[Row]:
    """Paired A/B runs: a plain client against one recording every stream to a cassette."""
    fixture = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.0.sse"
    url = server.add(Route(URL_PATH + "/ttfc", sse_chunks(fixture)))
    added: list[int] = []
    plain_all: list[int] = []
    with (
        CassetteWriter(tmp / "ttfc.ndjson.zst") as writer,
        httpx.Client() as plain,
        httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), writer)) as recording,
    ):
        for i in range(warmup + runs):
            with paused_gc():
                a, b = pair(plain, recording, url, swap=bool(i % 2))
            if i >= warmup:
                added.append(b - a)
                plain_all.append(a)
    detail = f"{runs} pairs, plain median {ms(statistics.median(plain_all))}"
    p50, p99 = statistics.median(added), percentile(added, 99)
    return [
        Row("TTFC added by recording, median", ms(p50), "< 1 ms", p50 < 1e6, detail),
        Row("TTFC added by recording, p99", ms(p99), "< 1 ms", p99 < 1e6, detail),
    ]


# ------------------------------------------------------------------------------------ replay gaps


class Stamped(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Notes when a request reaches the transport: the zero recorded offsets count from, since
    RecordingTransport starts its clock there (after the client built the request)."""

    def __init__(self, inner: ReplayTransport) -> None:
        self.inner = inner
        self.at_ns = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.at_ns = time.perf_counter_ns()
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.at_ns = time.perf_counter_ns()
        return await self.inner.handle_async_request(request)


def replay_arrivals(path: Path, url: str, asynchronous: bool) -> list[int]:
    """One replay at speed 1: each chunk's arrival, in ns since the request reached replay."""
    stamped = Stamped(ReplayTransport(path, speed=1.0))
    if not asynchronous:
        with (
            httpx.Client(transport=stamped) as client,
            paused_gc(),
            client.stream("POST", url, json=REQUEST) as response,
        ):
            arrivals = [time.perf_counter_ns() for _ in response.iter_raw()]
        return [arrival - stamped.at_ns for arrival in arrivals]

    async def run() -> list[int]:
        async with (
            httpx.AsyncClient(transport=stamped) as client,
            client.stream("POST", url, json=REQUEST) as response,
        ):
            return [time.perf_counter_ns() async for _ in response.aiter_raw()]

    with paused_gc():
        arrivals = asyncio.run(run())
    return [arrival - stamped.at_ns for arrival in arrivals]


def replay_error(server: SSEServer, tmp: Path, chunks: int, replays: int, seed: int) -> list[Row]:
    """Record a stream with 5-20 ms gaps, replay it at speed 1 with a sync and an async client;
    arrival minus recorded offset."""
    rng = random.Random(seed)
    body = bench.chunk(bench.synthetic_stream(size=chunks * 1000, seed=seed), "event")[:chunks]
    delays = [rng.uniform(0.005, 0.020) for _ in body]
    url = server.add(Route(URL_PATH + "/gaps", body, delays))
    path = tmp / "gaps.ndjson.zst"
    with (
        CassetteWriter(path) as writer,
        httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), writer)) as client,
        client.stream("POST", url, json=REQUEST) as response,
    ):
        response.read()
    (recorded,) = Cassette.load(path).interactions
    offsets = [chunk.offset_ns for chunk in recorded.chunks]
    rows: list[Row] = []
    for asynchronous in (False, True):
        errors: list[int] = []
        per_replay: list[list[int]] = []
        for _ in range(replays):
            arrivals = replay_arrivals(path, url, asynchronous)
            if len(arrivals) != len(offsets):
                raise SystemExit(f"replay gave {len(arrivals)} chunks, recorded {len(offsets)}")
            per_replay.append(arrivals)
            errors += [arrival - offset for arrival, offset in zip(arrivals, offsets, strict=True)]
        late = [abs(e) for e in errors]
        gap_errors = [
            abs((arrivals[i] - arrivals[i - 1]) - (offsets[i] - offsets[i - 1]))
            for arrivals in per_replay
            for i in range(1, len(offsets))
        ]
        client = "httpx.AsyncClient" if asynchronous else "httpx.Client"
        detail = (
            f"{client}, {replays} replays x {len(offsets)} chunks, gaps 5-20 ms, "
            f"signed median {ms(statistics.median(errors))}"
        )
        p99 = percentile(late, 99)
        name = "replay offset error" + (", async" if asynchronous else "")
        rows += [
            Row(f"{name} (arrival - recorded, abs), p50", ms(statistics.median(late)), "", None),
            Row(f"{name} (arrival - recorded, abs), p99", ms(p99), "< 1 ms", p99 < 1e6, detail),
            Row(f"{name} (arrival - recorded, abs), max", ms(max(late)), "", None),
            Row(
                "replay gap-to-gap error" + (", async" if asynchronous else "") + ", p99",
                ms(percentile(gap_errors, 99)),
                "",
                None,
                "abs(gap between arrivals - recorded gap); "
                f"p50 {ms(statistics.median(gap_errors))}",
            ),
        ]
    return rows


# ------------------------------------------------------------------------------- cassette size


def is_stream(inter: YamlInteraction) -> bool:
    content_type = next((v for k, v in inter.response_headers if k.lower() == "content-type"), "")
    return "event-stream" in content_type


def convert(yaml_path: Path, out: Path, dictionary: int | None = DICTIONARY_ID) -> tuple[int, int]:
    """Write every interaction of a YAML cassette into a streamtape cassette (streamed bodies one
    chunk per SSE frame, frames 20 ms apart); return (interactions, streamed interactions)."""
    interactions = read_yaml_cassette(yaml_path)
    streamed = 0
    with CassetteWriter(
        out, redactor=None, flush_interval=None, recorded_at=RECORDED_AT, dictionary=dictionary
    ) as writer:
        for inter in interactions:
            rec = writer.begin(inter.method, inter.url, inter.request_headers, inter.request_body)
            rec.response(
                inter.status,
                inter.response_headers,
                http_version=inter.http_version,
                reason=inter.reason,
                offset_ns=FRAME_GAP_NS,
            )
            if is_stream(inter):
                streamed += 1
                parts = split_frames(inter.response_body)
            else:
                parts = [inter.response_body] if inter.response_body else []
            offset = FRAME_GAP_NS
            for part in parts:
                offset += FRAME_GAP_NS
                rec.chunk(part, offset_ns=offset)
            rec.end(offset_ns=offset)
    return len(interactions), streamed


def _bodies_alone(yaml_path: Path) -> int:
    """Compressed size of a YAML cassette's bodies alone, as one dictionary frame."""
    blob = b"".join(
        part
        for inter in read_yaml_cassette(yaml_path)
        for part in (inter.request_body or b"", inter.response_body or b"")
    )
    shipped = resources.files("streamtape") / "dictionaries" / DICTIONARIES[DICTIONARY_ID]
    zdict = zstandard.ZstdCompressionDict(shipped.read_bytes())
    return len(zstandard.ZstdCompressor(level=7, dict_data=zdict).compress(blob))


_RANDOM_FIELD = re.compile(rb'"(?:encrypted_content|obfuscation)":\s*"([^"]*)"')


def _random_fields(yaml_path: Path) -> int:
    """Compressed size of the random-valued strings in a YAML cassette's bodies, alone."""
    blob = b"\n".join(
        value
        for inter in read_yaml_cassette(yaml_path)
        for body in (inter.request_body or b"", inter.response_body or b"")
        for value in _RANDOM_FIELD.findall(body)
    )
    return len(zstandard.ZstdCompressor(level=19).compress(blob)) if blob else 0


def sizes(tmp: Path, report: Report) -> list[Row]:
    """Every YAML fixture against the same interactions as a streamtape cassette, written with
    the default writer (shipped dictionary) and without a dictionary. The dictionary was trained
    on synthetic traffic only (tools/make_dictionary.py), so every fixture is held out."""
    totals: dict[str, list[int]] = {}
    plain_sum = 0
    for yaml_path in sorted(FIXTURES.rglob("*.yaml")):
        out = tmp / "sizes" / (yaml_path.stem + ".ndjson.zst")
        count, streamed = convert(yaml_path, out)
        plain = tmp / "sizes" / (yaml_path.stem + ".plain.ndjson.zst")
        convert(yaml_path, plain, dictionary=None)
        plain_sum += plain.stat().st_size
        style = yaml_path.relative_to(FIXTURES).parts[0]
        yaml_bytes, tape_bytes = yaml_path.stat().st_size, out.stat().st_size
        report.sizes.append(
            {
                "file": str(yaml_path.relative_to(FIXTURES)),
                "style": style,
                "interactions": count,
                "streamed": streamed,
                "yaml_bytes": yaml_bytes,
                "cassette_bytes": tape_bytes,
                "no_dictionary_bytes": plain.stat().st_size,
            }
        )
        total = totals.setdefault(style, [0, 0, 0])
        total[0] += yaml_bytes
        total[1] += tape_bytes
        total[2] += 1
    yaml_sum = sum(t[0] for t in totals.values())
    zstd_sum = sum(
        len(zstandard.ZstdCompressor(level=3).compress(p.read_bytes()))
        for p in FIXTURES.rglob("*.yaml")
    )
    tape_sum = sum(t[1] for t in totals.values())
    ratio = yaml_sum / tape_sum
    rows = [
        Row(
            "cassette size: YAML / streamtape, all fixtures",
            f"{ratio:.1f}x",
            ">= 8x",
            ratio >= 8,
            f"{len(report.sizes)} files, {yaml_sum:,} B YAML vs {tape_sum:,} B; held out: "
            "the dictionary never saw them",
        ),
        Row(
            "cassette size, second target",
            f"{ratio:.1f}x",
            ">= 12x",
            ratio >= 12,
            "the same figure against the benchmark issue's target",
        ),
        Row(
            "  reference: without the dictionary",
            f"{yaml_sum / plain_sum:.1f}x",
            "",
            None,
            f"CassetteWriter(dictionary=None): {plain_sum:,} B",
        ),
    ]
    bodies_sum = sum(map(_bodies_alone, FIXTURES.rglob("*.yaml")))
    rows.append(
        Row(
            "  reference: the bodies alone, one frame a file",
            f"{yaml_sum / bodies_sum:.1f}x",
            "",
            None,
            "request + response bodies only (no headers, timing or records), one zstd frame "
            f"per file, shipped dictionary, level 7: {bodies_sum:,} B, about the floor of any "
            "layout that keeps the bodies as they are",
        )
    )
    random_sum = sum(map(_random_fields, FIXTURES.rglob("*.yaml")))
    budget = yaml_sum // 12
    rows.append(
        Row(
            "  reference: random-valued fields alone",
            f"{random_sum:,} B",
            "",
            None,
            "the `encrypted_content` and `obfuscation` strings of the bodies (random base64 / "
            f"base62 no compressor can shrink), zstd level 19, one frame a file: {random_sum:,} "
            f"B, {random_sum / budget:.0%} of the {budget:,} B a 12x cassette may take",
        )
    )
    rows.append(
        Row(
            "  reference: YAML / zstd-3 of the YAML",
            f"{yaml_sum / zstd_sum:.1f}x",
            "",
            None,
            f"each YAML file compressed whole: {zstd_sum:,} B",
        )
    )
    for style, (y, t, n) in sorted(totals.items()):
        rows.append(
            Row(
                f"  size ratio, {style}",
                f"{y / t:.1f}x",
                "",
                None,
                f"{n} files, {y:,} B vs {t:,} B",
            )
        )
    return rows


# ---------------------------------------------------------------------------- throughput, memory

READER = """
import base64, json, resource, sys, time
from streamtape.cassette import Cassette, ChunkRecord
path, mode = sys.argv[1], sys.argv[2]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
body = 0
if mode == "records":
    for record in Cassette.iter_records(path):
        if isinstance(record, ChunkRecord):
            body += len(record.text.encode()) if record.text is not None else 0
            body += len(base64.b64decode(record.b64)) if record.b64 is not None else 0
else:
    for interaction in Cassette.iter_interactions(path):
        body += sum(len(chunk.data) for chunk in interaction.chunks)
seconds = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "body": body, "base_kb": base, "peak_kb": peak}))
"""


def read_in_child(path: Path, mode: str) -> dict[str, float]:
    """Read the cassette in a fresh interpreter, so ru_maxrss is the reader's own peak."""
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path), mode],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def rss_mb(kb: float) -> float:
    return kb * (1 if sys.platform == "darwin" else 1024) / (1024 * 1024)


def io_speed(tmp: Path, size_mb: int) -> list[Row]:
    """Write a cassette of ``size_mb`` MB of body (1 MB responses, one chunk per event), then
    read it back in child processes."""
    response = bench.chunk(bench.synthetic_stream(size=MB), "event")
    per_response = sum(map(len, response))
    path = tmp / f"{size_mb}mb.ndjson.zst"
    started = time.perf_counter()
    write_cassette(path, size_mb, response)
    write_s = time.perf_counter() - started
    body = size_mb * per_response
    records = read_in_child(path, "records")
    interactions = read_in_child(path, "interactions")
    for result in (records, interactions):
        if result["body"] != body:
            raise SystemExit(f"read {result['body']} body bytes, wrote {body}")
    file_mb = path.stat().st_size / MB
    detail = f"{body / MB:.0f} MB body, {len(response) * size_mb:,} chunks, file {file_mb:.1f} MB"
    rows = [
        Row("write MB/s (CassetteWriter)", f"{body / MB / write_s:.1f}", "", None, detail),
        Row("read MB/s (iter_records)", f"{body / MB / records['seconds']:.1f}", "", None),
        Row(
            "read MB/s (iter_interactions)", f"{body / MB / interactions['seconds']:.1f}", "", None
        ),
    ]
    for name, result in (("iter_records", records), ("iter_interactions", interactions)):
        peak = rss_mb(result["peak_kb"])
        rows.append(
            Row(
                f"peak RSS reading {body / MB:.0f} MB ({name})",
                f"{peak:.1f} MB",
                "< 64 MB",
                peak < 64,
                f"interpreter + imports alone: {rss_mb(result['base_kb']):.1f} MB",
            )
        )
    return rows


# ------------------------------------------------------------------------------------ rendering


def load() -> str:
    """The 1-minute load average: the tail rows (p99, max) move with it."""
    try:
        return f"load average {os.getloadavg()[0]:.2f}"
    except OSError:
        return "load average n/a"


def verdict(row: Row) -> str:
    return "" if row.met is None else ("met" if row.met else "MISSED")


def render_table(rows: list[Row]) -> str:
    widths = [max(len(r.name) for r in rows), max(len(r.value) for r in rows), 8, 6]
    lines = [
        f"{'measure':<{widths[0]}}  {'value':>{widths[1]}}  {'target':<8}  {'':<6}  detail",
        "-" * (sum(widths) + 20),
    ]
    for r in rows:
        lines.append(
            f"{r.name:<{widths[0]}}  {r.value:>{widths[1]}}  {r.target:<8}  "
            f"{verdict(r):<6}  {r.detail}".rstrip()
        )
    return "\n".join(lines)


def render_markdown(rows: list[Row]) -> str:
    lines = ["| measure | value | target | verdict | detail |", "|---|---:|---|---|---|"]
    for r in rows:
        name = r.name.strip()
        name = f"&nbsp;&nbsp;{name}" if r.name.startswith(" ") else name
        lines.append(f"| {name} | {r.value} | {r.target} | {verdict(r)} | {r.detail} |")
    return "\n".join(lines)


def report_section(title: str, report: Report, command: str, versions: str, notes: str) -> str:
    """A benchmark's section of docs/benchmarks.md: how it was run, where, its table, ``notes``."""
    return "\n".join(
        [
            f"## {title}",
            "",
            f"Command: `{command}`  ",
            f"Machine: {machine()}, {report.load} at the start  ",
            f"Versions: {versions}",
            "",
            render_markdown(report.rows),
            "",
            notes,
        ]
    )


def docs_section(report: Report, command: str) -> str:
    return report_section(
        "Record and replay (`benchmarks/bench_record_replay.py`)",
        report,
        command,
        f"httpx {httpx.__version__}, zstandard {zstandard.__version__}",
        "Sizes: every interaction of each YAML fixture (streamed bodies one chunk per SSE "
        "frame, 20 ms apart; others one chunk) written with `CassetteWriter(redactor=None)`, "
        "compared with the YAML file's bytes. The writer's zstd dictionary was trained only "
        "on synthetic streams (`tools/make_dictionary.py`), so every fixture is held "
        "out of its training.",
    )


def report_options(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """``parser`` with what every benchmark that keeps a docs section takes: a seed, a JSON
    copy of the report, and updating the docs."""
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    return parser


def finish(
    script: str,
    report: Report,
    args: argparse.Namespace,
    argv: list[str] | None,
    section: Callable[[str], str],
) -> int:
    """Print ``report`` and the command that gives it again, keep it as ``--json`` asks and
    write ``section(command)`` into the docs as ``--write-docs`` asks; the exit status: 1 when
    a target was missed."""
    command = f"python benchmarks/{script}.py " + " ".join(
        shown_args(sys.argv[1:] if argv is None else argv)
    )
    command = command.strip()
    print(f"{machine()}; {report.load} at the start; {report.seconds:.0f} s")
    print(render_table(report.rows))
    print(f"\ncommand: {command}")
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2))
    if args.write_docs:
        write_section(DOCS, script, section(command))
    return 1 if any(r.met is False for r in report.rows) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="seconds: fewer runs, 5 MB cassette")
    parser.add_argument("--runs", type=int, help="TTFC A/B pairs (100; quick 20)")
    parser.add_argument("--replays", type=int, help="replays of the gap stream (10; quick 2)")
    parser.add_argument("--chunks", type=int, default=40, help="chunks in the gap stream (40)")
    parser.add_argument("--size-mb", type=int, help="body MB of the read/write cassette (100)")
    args = report_options(parser).parse_args(argv)
    runs = args.runs or (20 if args.quick else 100)
    replays = args.replays or (2 if args.quick else 10)
    size_mb = args.size_mb or (5 if args.quick else 100)

    report = Report()
    report.load = load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name, SSEServer() as server:
        tmp = Path(name)
        print("time to first chunk ...", file=sys.stderr)
        report.rows += ttfc(server, tmp, runs, warmup=5)
        print("replay gaps ...", file=sys.stderr)
        report.rows += replay_error(server, tmp, args.chunks, replays, args.seed)
        print("cassette sizes ...", file=sys.stderr)
        report.rows += sizes(tmp, report)
        print(f"{size_mb} MB cassette write / read ...", file=sys.stderr)
        report.rows += io_speed(tmp, size_mb)
    report.seconds = time.perf_counter() - started

    section = functools.partial(docs_section, report)
    return finish("bench_record_replay", report, args, argv, section)


if __name__ == "__main__":
    sys.exit(main())
