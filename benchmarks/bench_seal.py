"""What the seal costs: a loopback connect and a name lookup, with no block open and inside a
sealed one (mode none), as the median of interleaved rounds.

    python benchmarks/bench_seal.py            # ~10 s
    python benchmarks/bench_seal.py --quick    # ~2 s
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import streamtape
from streamtape.cassette import CassetteWriter


def per_call_us(call: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - start) / n * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and calls")
    args = parser.parse_args(argv)
    rounds, n = (3, 500) if args.quick else (7, 2000)
    server = socket.create_server(("127.0.0.1", 0), backlog=4096)
    address = server.getsockname()[:2]

    def connect() -> None:
        socket.create_connection(address).close()
        server.accept()[0].close()

    def lookup() -> None:
        socket.getaddrinfo("localhost", 80)

    with tempfile.TemporaryDirectory() as folder:
        cassette = Path(folder) / "sealed.ndjson.zst"
        with CassetteWriter(cassette) as writer:
            rec = writer.begin("GET", "http://127.0.0.1:9/")
            rec.response(204, [])
            rec.end()
        figures: dict[tuple[str, str], list[float]] = {}
        for _ in range(rounds):  # interleaved, so drift on a busy machine hits both alike
            for what, call in (("loopback connect", connect), ("getaddrinfo(localhost)", lookup)):
                figures.setdefault((what, "no block"), []).append(per_call_us(call, n))
                with streamtape.use_cassette(cassette, record_mode="none"):
                    figures.setdefault((what, "sealed"), []).append(per_call_us(call, n))
    server.close()
    print(f"{'call':<24}{'no block':>12}{'sealed':>12}{'added':>12}")
    for what in ("loopback connect", "getaddrinfo(localhost)"):
        base = statistics.median(figures[(what, "no block")])
        sealed = statistics.median(figures[(what, "sealed")])
        print(f"{what:<24}{base:>9.1f} µs{sealed:>9.1f} µs{sealed - base:>9.1f} µs")
    print(f"median of {rounds} rounds of {n} calls; Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
