"""How long applying each fault takes, and whether it stays linear in the stream's size.

Each fault of `faults.matrix()` (and the others) is applied to a generated OpenAI text stream of
1 MB and of 4 MB (one chunk per event, 1 ms apart); the table gives milliseconds, MB/s on the
large stream and the large/small time ratio (about 4 when linear; on a loaded machine, runs of a
few milliseconds vary by several times). Timed as timeit does: best of five, garbage collector
off.

    python benchmarks/bench_faults.py            # ~1 min
    python benchmarks/bench_faults.py --quick    # 0.25 and 1 MB
"""

from __future__ import annotations

import argparse
import gc
import sys
import time

from streamtape import faults
from streamtape.bench._inputs import synthetic_stream
from streamtape.cassette import Chunk, Interaction, RecordedRequest, RecordedResponse, StreamEnd

FAULTS = [
    *faults.matrix(after_events=100),
    faults.rechunk(boundaries="per-event"),
    faults.keepalives(),
    faults.stall(before_event=100, seconds=1),
    faults.drop_final(),
    faults.slow(2),
    faults.jitter(5, seed=1),
]


def interaction(size: int) -> Interaction:
    body = synthetic_stream(size=size, seed=0)
    frames = [f + b"\n\n" for f in body.split(b"\n\n") if f]
    head = RecordedResponse(200, "HTTP/1.1", "OK", [("content-type", "text/event-stream")], 0)
    request = RecordedRequest("POST", "https://api.openai.com/v1/responses", [], b"{}")
    chunks = [Chunk((i + 1) * 1_000_000, f) for i, f in enumerate(frames)]
    return Interaction(1, request, head, chunks, StreamEnd(len(chunks) * 1_000_000, "complete"))


def timed(fault: faults.Fault, inter: Interaction) -> float:
    """The best of five runs, with the cyclic garbage collector off as timeit has it."""
    best = float("inf")
    for _ in range(5):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter()
            fault.apply(inter)
            best = min(best, time.perf_counter() - start)
        finally:
            gc.enable()
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="0.25 and 1 MB instead of 1 and 4")
    args = parser.parse_args()
    small, large = (250_000, 1_000_000) if args.quick else (1_000_000, 4_000_000)
    inters = interaction(small), interaction(large)
    sizes = [len(i.wire_body) for i in inters]
    print(f"stream: {sizes[0]:,} and {sizes[1]:,} bytes, {len(inters[1].chunks):,} events")
    print(f"{'fault':44} {'ms small':>9} {'ms large':>9} {'MB/s':>7} {'ratio':>6}")
    for fault in FAULTS:
        a, b = (timed(fault, i) for i in inters)
        ratio = b / a if a else 0.0
        print(f"{fault.id:44} {a * 1e3:9.1f} {b * 1e3:9.1f} {sizes[1] / b / 1e6:7.1f} {ratio:6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
