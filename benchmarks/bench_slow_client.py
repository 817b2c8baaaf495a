"""Wire time while recording: a client that pauses does not change the recorded timing.

A real server on 127.0.0.1 (tests/sse_server.py, in a process of its own) streams SSE frames with
known send gaps (seeded, 5-60 ms; the server logs when it wrote each chunk on the same clock as
the recorder). Clients of
httpx and httpx2, sync and async, record through RecordingTransport and sleep 1 s after the
first chunk. Measured against targets:
- recorded gap vs the server's send gap, |difference| p99 < 2 ms;
- recorded duration (first chunk to the end record) vs the server's (first write to last);
- first-chunk lag added by recording (the client's first chunk after the server wrote it,
  recording vs a plain client, A/B interleaved) < 1 ms.
For reference it shows the largest gap in the client's own read times: what a recorder that
stamps chunks when the client reads them (streamtape before the read-ahead) would have stored.

    python benchmarks/bench_slow_client.py [--quick] [--runs 3] [--pairs 100] [--pause 1.0]
                                           [--json report.json] [--write-docs]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import itertools
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import httpx2

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.transport import RecordingTransport

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_record_replay import (  # noqa: E402
    Report,
    Row,
    finish,
    load,
    ms,
    paused_gc,
    percentile,
    report_options,
    report_section,
)
from sse_server import FIXTURES, Route, SentChunk, SSEServer, sse_chunks  # noqa: E402

FIXTURE = FIXTURES / "pydantic-ai" / "test_openai_responses_stream.1.sse"
REQUEST = {"model": "gpt-4.1", "input": "hi", "stream": True}
LIBS: dict[str, ModuleType] = {"httpx": httpx, "httpx2": httpx2}


# ---------------------------------------------------------- the server, in a process of its own


def _serve(conn: Connection) -> None:
    """The child: run an SSEServer and answer the parent's calls until told to stop."""
    with SSEServer() as server:
        conn.send(server.url)
        while True:
            call, arg = conn.recv()
            if call == "stop":
                return
            if call == "add":
                conn.send(server.add(arg))
            elif call == "clear":
                server.sent.clear()
                conn.send(None)
            elif call == "sent_on":
                conn.send(server.sent_on(arg))


class Server:
    """tests/sse_server.py's server in another process, so it does not share the recorder's GIL
    (as a real server would not); it logs its writes on ``time.perf_counter_ns``, which is
    CLOCK_MONOTONIC and so the same clock in both processes."""

    def __enter__(self) -> Server:
        self._conn, child = multiprocessing.Pipe()
        self._process = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
        self._process.start()
        self.url: str = self._conn.recv()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._conn.send(("stop", None))
        self._process.join(10)

    def add(self, route: Route) -> str:
        self._conn.send(("add", route))
        url: str = self._conn.recv()
        return url

    def clear_sent(self) -> None:
        self._conn.send(("clear", None))
        self._conn.recv()

    def sent_on(self, path: str) -> list[SentChunk]:
        self._conn.send(("sent_on", path))
        sent: list[SentChunk] = self._conn.recv()
        return sent


# ------------------------------------------------------------------------------- a pausing client


def read_pausing(client: Any, url: str, pause: float) -> list[int]:
    """Read the stream, sleeping ``pause`` s after the first chunk; when each chunk was read."""
    read_at: list[int] = []
    with client.stream("POST", url, json=REQUEST) as response:
        for _ in response.iter_raw():
            read_at.append(time.perf_counter_ns())
            if len(read_at) == 1:
                time.sleep(pause)
    return read_at


async def aread_pausing(client: Any, url: str, pause: float) -> list[int]:
    read_at: list[int] = []
    async with client.stream("POST", url, json=REQUEST) as response:
        async for _ in response.aiter_raw():
            read_at.append(time.perf_counter_ns())
            if len(read_at) == 1:
                await asyncio.sleep(pause)
    return read_at


def record_once(
    server: Server, path: Path, lib: ModuleType, asynchronous: bool, url: str, pause: float
) -> tuple[list[int], list[int], list[int], int]:
    """One recording: (server write times, recorded offsets, client read times, recorded end)."""
    server.clear_sent()
    writer = CassetteWriter(path)
    if asynchronous:

        async def run() -> list[int]:
            transport = RecordingTransport(lib.AsyncHTTPTransport(), writer)
            async with lib.AsyncClient(transport=transport) as client:
                return await aread_pausing(client, url, pause)

        read_at = asyncio.run(run())
    else:
        transport = RecordingTransport(lib.HTTPTransport(), writer)
        with lib.Client(transport=transport) as client:
            read_at = read_pausing(client, url, pause)
    writer.close()
    [inter] = Cassette.load(path)
    if not inter.complete or inter.end is None:
        raise SystemExit(f"the recording did not complete: {inter!r}")
    sent = [s.at_ns for s in server.sent_on(url.removeprefix(server.url))]
    offsets = [c.offset_ns for c in inter.chunks]
    if len(offsets) != len(sent):
        raise SystemExit(f"{len(sent)} chunks sent but {len(offsets)} recorded: chunks merged")
    return sent, offsets, read_at, inter.end.offset_ns


def gaps(times: list[int]) -> list[int]:
    return [b - a for a, b in itertools.pairwise(times)]


def plain_once(server: Server, lib: ModuleType, asynchronous: bool, url: str) -> list[int]:
    """Control: a plain client of the same stack that keeps up; |read gap - sent gap| each."""
    server.clear_sent()
    if asynchronous:

        async def run() -> list[int]:
            async with lib.AsyncClient() as client:
                return await aread_pausing(client, url, 0.0)

        read_at = asyncio.run(run())
    else:
        with lib.Client() as client:
            read_at = read_pausing(client, url, 0.0)
    sent = [c.at_ns for c in server.sent_on(url.removeprefix(server.url))]
    return [abs(r - s) for r, s in zip(gaps(read_at), gaps(sent), strict=True)]


def slow_client(server: Server, tmp: Path, runs: int, pause: float, seed: int) -> list[Row]:
    """Per stack: recorded gaps and duration against the server's, with a pausing client, and
    a plain client that keeps up (no recorder) run in turn with it, as the machine's noise."""
    rng = random.Random(seed)
    chunks = sse_chunks(FIXTURE)
    delays = [0.0] + [rng.uniform(0.005, 0.060) for _ in chunks[1:]]
    url = server.add(Route("/v1/responses/slow", chunks, delays=delays))
    rows: list[Row] = []
    for (name, lib), asynchronous in itertools.product(LIBS.items(), (False, True)):
        label = f"{name} {'async' if asynchronous else 'sync'}"
        errors: list[int] = []
        control: list[int] = []
        durations: list[int] = []
        client_gaps: list[int] = []
        recorded_max: list[int] = []
        warm = tmp / f"warm-{name}-{asynchronous}.ndjson.zst"
        record_once(server, warm, lib, asynchronous, url, 0.0)  # first-use costs, not counted
        plain_once(server, lib, asynchronous, url)
        for run in range(runs):
            control += plain_once(server, lib, asynchronous, url)
            path = tmp / f"slow-{name}-{asynchronous}-{run}.ndjson.zst"
            sent, offsets, read_at, end = record_once(server, path, lib, asynchronous, url, pause)
            errors += [abs(r - s) for r, s in zip(gaps(offsets), gaps(sent), strict=True)]
            durations.append(abs((end - offsets[0]) - (sent[-1] - sent[0])))
            client_gaps.append(max(gaps(read_at)))
            recorded_max.append(max(gaps(offsets)))
        p99 = percentile(errors, 99)
        worst_duration = max(durations)
        detail = (
            f"{runs} runs x {len(chunks) - 1} gaps of 5-60 ms; p50 {ms(statistics.median(errors))}"
            f", max {ms(max(errors))}"
        )
        rows += [
            Row(f"{label}: |recorded gap - sent gap|, p99", ms(p99), "< 2 ms", p99 < 2e6, detail),
            Row(
                f"{label}: control, plain client keeping up, |read gap - sent gap|, p99",
                ms(percentile(control, 99)),
                "",
                None,
                f"no recorder, no pause, run in turn with the recordings; p50 "
                f"{ms(statistics.median(control))}, max {ms(max(control))}",
            ),
            Row(
                f"{label}: |recorded duration - server's|, worst run",
                ms(worst_duration),
                "< 2 ms",
                worst_duration < 2e6,
                "first chunk to the end record, vs first write to last write; runs: "
                + ", ".join(ms(d) for d in durations),
            ),
            Row(
                f"{label}: largest recorded gap",
                ms(max(recorded_max)),
                "",
                None,
                f"largest gap in the client's own read times: {ms(min(client_gaps))} (the "
                f"{pause:g} s pause; what stamping on read would have recorded)",
            ),
        ]
    return rows


# -------------------------------------------------------------------------- first-chunk lag added


def first_chunk_lag(server: Server, client: Any, url: str) -> int:
    """Nanoseconds from the server's write of the first chunk to the client holding it."""
    server.clear_sent()
    with client.stream("POST", url, json=REQUEST) as response:
        stream = response.iter_raw()
        next(stream)
        got = time.perf_counter_ns()
        for _ in stream:
            pass
    return got - server.sent_on(url.removeprefix(server.url))[0].at_ns


async def afirst_chunk_lag(server: Server, client: Any, url: str) -> int:
    server.clear_sent()
    async with client.stream("POST", url, json=REQUEST) as response:
        stream = response.aiter_raw()
        await anext(stream)
        got = time.perf_counter_ns()
        async for _ in stream:
            pass
    return got - server.sent_on(url.removeprefix(server.url))[0].at_ns


def lag_rows(label: str, plain: list[int], recording: list[int]) -> list[Row]:
    added = [b - a for a, b in zip(plain, recording, strict=True)]
    p50 = statistics.median(added)
    detail = (
        f"{len(added)} A/B pairs (median of the pairwise differences); plain median "
        f"{ms(statistics.median(plain))}, recording median {ms(statistics.median(recording))}"
    )
    return [Row(f"{label}: first-chunk lag added by recording, median", ms(p50), "< 1 ms",
                p50 < 1e6, detail)]  # fmt: skip


def first_chunk(server: Server, tmp: Path, pairs: int, warmup: int = 5) -> list[Row]:
    """A/B pairs (order alternating): a plain client, and one recording through the read-ahead."""
    chunks = sse_chunks(FIXTURE)
    url = server.add(Route("/v1/responses/first", chunks, head_delay=0.002, delays=0.001))
    rows: list[Row] = []
    with CassetteWriter(tmp / "first.ndjson.zst") as writer:
        plain_s: list[int] = []
        rec_s: list[int] = []
        with (
            httpx.Client() as plain,
            httpx.Client(transport=RecordingTransport(httpx.HTTPTransport(), writer)) as rec,
        ):
            for i in range(warmup + pairs):
                order: list[tuple[Any, list[int]]] = [(plain, plain_s), (rec, rec_s)]
                for client, into in order if i % 2 else order[::-1]:
                    with paused_gc():
                        lag = first_chunk_lag(server, client, url)
                    if i >= warmup:
                        into.append(lag)
        rows += lag_rows("httpx sync", plain_s, rec_s)

        async def arun() -> tuple[list[int], list[int]]:
            plain_a: list[int] = []
            rec_a: list[int] = []
            transport = RecordingTransport(httpx.AsyncHTTPTransport(), writer)
            async with httpx.AsyncClient() as plain, httpx.AsyncClient(transport=transport) as rec:
                for i in range(warmup + pairs):
                    order: list[tuple[Any, list[int]]] = [(plain, plain_a), (rec, rec_a)]
                    for client, into in order if i % 2 else order[::-1]:
                        with paused_gc():
                            lag = await afirst_chunk_lag(server, client, url)
                        if i >= warmup:
                            into.append(lag)
            return plain_a, rec_a

        rows += lag_rows("httpx async", *asyncio.run(arun()))
    return rows


# ------------------------------------------------------------------------------------------ main


def docs_section(report: Report, command: str, pause: float) -> str:
    return report_section(
        "Wire time with a slow client (`benchmarks/bench_slow_client.py`)",
        report,
        command,
        f"httpx {httpx.__version__}, httpx2 {httpx2.__version__}",
        f"The server (`tests/sse_server.py` in a process of its own, one write per chunk, "
        "TCP_NODELAY) sends the "
        f"frames of a real stream with seeded send gaps of 5-60 ms and logs each write on "
        f"`time.perf_counter_ns`, the recorder's clock. Each client sleeps {pause:g} s after "
        "the first chunk. The recorder reads ahead of the client (a thread for sync "
        "clients, a task for async ones), so the cassette keeps the server's gaps; the "
        "client's pause is kept apart, as where the client finished (`Timing.client_end`). "
        "The first-chunk rows time the server's write of the first chunk to the client "
        "holding it, so they measure the hand-off from the reader to the client alone.",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one run per stack, 20 pairs")
    parser.add_argument("--runs", type=int, help="recordings per stack (3; quick 1)")
    parser.add_argument("--pairs", type=int, help="first-chunk A/B pairs (100; quick 20)")
    parser.add_argument("--pause", type=float, default=1.0, help="client pause in s (1.0)")
    args = report_options(parser).parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    pairs = args.pairs or (20 if args.quick else 100)

    gc.collect()
    gc.freeze()  # the imports' objects: later collections do not walk them mid-stream
    report = Report()
    report.load = load()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as name, Server() as server:
        tmp = Path(name)
        print("slow client ...", file=sys.stderr)
        report.rows += slow_client(server, tmp, runs, args.pause, args.seed)
        print("first-chunk lag ...", file=sys.stderr)
        report.rows += first_chunk(server, tmp, pairs)
    report.seconds = time.perf_counter() - started

    section = functools.partial(docs_section, report, pause=args.pause)
    return finish("bench_slow_client", report, args, argv, section)


if __name__ == "__main__":
    sys.exit(main())
