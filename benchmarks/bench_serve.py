"""Replay over HTTP: how exactly `streamtape serve` keeps the recorded chunk timing, and what the
recording proxy adds to the time to first chunk.

    python benchmarks/bench_serve.py [--chunks 200] [--replays 5] [--runs 50] [--write-docs]

Replay: a cassette of one stream whose chunks are 2-30 ms apart (seeded) is served by a
`streamtape serve` process on 127.0.0.1; an httpx client streams it `--replays` times and
stamps each chunk's arrival. The error of a gap is the time between two arrivals minus the
recorded gap. Proxy: the local streaming server of the tests sends a first chunk at once; the
time from sending the request to the first chunk is taken directly and through a
`streamtape proxy` process, alternately, `--runs` times each.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from streamtape.cassette import CassetteWriter

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_decode import machine, shown_args, write_section  # noqa: E402
from bench_record_replay import percentile  # noqa: E402
from sse_server import Route, SSEServer  # noqa: E402

BODY = {"model": "gpt-4.1", "input": "hi", "stream": True}
FRAME = (
    b"event: response.output_text.delta\n"
    b'data: {"type":"response.output_text.delta","delta":"%d"}\n\n'
)


def started(*args: str) -> tuple[subprocess.Popen[str], str]:
    """A `streamtape` subprocess and the ``listening on`` URL it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamtape", *args], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("listening on "):
            return proc, line.split()[-1]
    raise SystemExit(f"streamtape {args[0]} printed no URL")


def stop(proc: subprocess.Popen[str]) -> None:
    """Wait for a child that should exit by itself (--exit-after); end it if it does not."""
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    finally:
        if proc.stdout is not None:
            proc.stdout.close()


def replay_gaps(tmp: Path, chunks: int, replays: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    gaps_ns = [0] + [int(rng.uniform(0.002, 0.030) * 1e9) for _ in range(chunks - 1)]
    path = tmp / "paced.ndjson.zst"
    with CassetteWriter(path) as writer:
        rec = writer.begin(
            "POST", "https://api.example/v1/responses", [], json.dumps(BODY).encode(), start_ns=0
        )
        rec.response(200, [("Content-Type", "text/event-stream")], offset_ns=1_000_000)
        at = 1_000_000
        for i, gap in enumerate(gaps_ns):
            at += gap
            rec.chunk(FRAME % i, offset_ns=at)
        rec.end("complete", offset_ns=at)
    proc, url = started("serve", *[str(path)] * replays, "--exit-after", str(replays))
    errors: list[float] = []
    merged = 0
    try:
        with httpx.Client() as client:
            for _ in range(replays):
                with client.stream("POST", url + "/v1/responses", json=BODY) as response:
                    arrivals = [(time.perf_counter_ns(), data) for data in response.iter_raw()]
                if len(arrivals) != chunks:
                    merged += chunks - len(arrivals)
                    continue
                errors += [
                    abs((arrivals[i][0] - arrivals[i - 1][0]) - gaps_ns[i]) / 1e6
                    for i in range(1, chunks)
                ]
    finally:
        stop(proc)
    return {
        "gap_error_p50_ms": statistics.median(errors),
        "gap_error_p99_ms": percentile(errors, 99),
        "gap_error_max_ms": max(errors),
        "gaps": len(errors),
        "chunks_merged": merged,
    }


def proxy_lag(tmp: Path, runs: int) -> dict[str, float]:
    with SSEServer() as server:
        upstream = server.add(Route("/v1/responses", [FRAME % 0, FRAME % 1], delays=[0, 0.05]))
        proc, url = started(
            "proxy",
            "--upstream",
            upstream.removesuffix("/responses"),
            "-o",
            str(tmp / "p.ndjson.zst"),
            "--mode",
            "all",
            "--exit-after",
            str(runs),
        )
        direct: list[float] = []
        proxied: list[float] = []
        try:
            with httpx.Client() as client:
                for i in range(runs * 2):
                    target = url + "/responses" if i % 2 else upstream
                    start = time.perf_counter_ns()
                    with client.stream("POST", target, json=BODY) as response:
                        chunks = response.iter_raw()
                        next(chunks)
                        took = (time.perf_counter_ns() - start) / 1e6
                        (proxied if i % 2 else direct).append(took)
                        for _ in chunks:
                            pass
        finally:
            stop(proc)
    added = [p - d for p, d in zip(proxied, direct, strict=True)]
    return {
        "direct_p50_ms": statistics.median(direct),
        "proxied_p50_ms": statistics.median(proxied),
        "added_p50_ms": statistics.median(added),
        "added_p90_ms": percentile(added, 90),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--replays", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-docs", action="store_true", help=f"update {DOCS.name}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as name:
        replay = replay_gaps(Path(name), args.chunks, args.replays, args.seed)
        lag = proxy_lag(Path(name), args.runs)
    command = "python benchmarks/bench_serve.py " + " ".join(
        shown_args(sys.argv[1:] if argv is None else argv)
    )
    gap = "`streamtape serve`: gap error (arrival gap - recorded gap)"
    first = "`streamtape proxy`: first chunk"
    lines = [
        "## Replay over HTTP and the recording proxy (`benchmarks/bench_serve.py`)",
        "",
        f"Command: `{command.strip()}`  ",
        f"Machine: {machine()}",
        "",
        "| measure | value |",
        "|---|---|",
        f"| {gap}, p50 | {replay['gap_error_p50_ms']:.2f} ms |",
        f"| {gap}, p99 | {replay['gap_error_p99_ms']:.2f} ms |",
        f"| {gap}, max | {replay['gap_error_max_ms']:.2f} ms |",
        f"| gaps measured (2-30 ms apart, httpx over 127.0.0.1) | {replay['gaps']} |",
        f"| chunks that arrived merged with the one before | {replay['chunks_merged']} |",
        f"| {first}, direct, p50 | {lag['direct_p50_ms']:.2f} ms |",
        f"| {first}, through the proxy, p50 | {lag['proxied_p50_ms']:.2f} ms |",
        f"| {first}: lag the proxy adds, p50 | {lag['added_p50_ms']:.2f} ms |",
        f"| {first}: lag the proxy adds, p90 | {lag['added_p90_ms']:.2f} ms |",
        "",
        "The proxy's added lag includes a whole extra HTTP hop on loopback (the client's "
        "request is received, forwarded over a kept-alive upstream connection and its answer "
        "relayed, all in Python); the recording itself adds what `bench_record_replay.py`'s "
        "time-to-first-chunk rows show.",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write_docs:
        write_section(DOCS, "bench_serve", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
