"""Peak memory of reading cassettes, hostile or not: each file is loaded in a process of its own
and its peak resident memory compared with 64 MB + 2x its largest record.

The files: the example cassettes, a long ordinary recording, one with a 32 MiB record, and the
hostile ones of tests/test_reader_hostile.py (a 131 KB zstd bomb holding one endless record, a
~100 KB file holding 1 GiB of records of an unknown kind). Peak memory is the child's
``peak resident size (VmHWM, reset just before reading) minus its resident size then, so it is
what reading cost. ``--write-docs`` puts the table into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import msgspec
import zstandard

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streamtape.cassette import Cassette, CassetteWriter  # noqa: E402
from streamtape.errors import CassetteError  # noqa: E402

MIB = 1 << 20
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench_reader_memory:begin -->", "<!-- bench_reader_memory:end -->"

CHILD = """
import json, sys, time
from pathlib import Path
def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0
from streamtape.cassette import Cassette
from streamtape.errors import CassetteError
Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
before = status("VmRSS")
start = time.perf_counter()
try:
    cassette = Cassette.load(sys.argv[1])
    outcome = f"read, {len(cassette)} interaction(s)"
except CassetteError as exc:
    outcome = "refused: " + str(exc).split(": ", 2)[-1]
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"cost": peak - before, "seconds": seconds, "outcome": outcome}))
"""


def header_frame(folder: Path) -> bytes:
    path = folder / "empty.ndjson.zst"
    CassetteWriter(path, flush_interval=None).close()
    return path.read_bytes()


def make_files(folder: Path) -> list[tuple[str, Path, int]]:
    """(name, path, largest record in bytes) of each file to read."""
    files: list[tuple[str, Path, int]] = []
    for example in sorted((ROOT / "cassettes").glob("*.ndjson.zst"))[:2]:
        files.append((f"example {example.name}", example, 0))

    long = folder / "long.ndjson.zst"
    chunk = b'data: {"type":"response.output_text.delta","delta":"hello there"}\n\n'
    with CassetteWriter(long, flush_interval=None) as writer:
        for n in range(200):
            rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
            rec.response(200, [("content-type", "text/event-stream")], offset_ns=1000)
            for k in range(500):
                rec.chunk(chunk, offset_ns=2000 + k * 1000)
            rec.end(offset_ns=10**9 + n)
    files.append(("200 interactions x 500 chunks", long, 0))

    big = folder / "big-record.ndjson.zst"
    with CassetteWriter(big, flush_interval=None, redactor=None) as writer:
        rec = writer.begin("POST", "https://api.example.com/v1/responses", [], b"{}")
        rec.chunk(base64.b64encode(os.urandom(24 * MIB)))  # 32 MiB that compress as text does
        rec.end()
    files.append(("one 32 MiB record", big, 0))

    prefix = b'{"kind":"chunk","id":1,"dt":0,"text":"'
    frame = bytearray(b"\x28\xb5\x2f\xfd\x00\x38")
    frame += struct.pack("<I", len(prefix) << 3)[:3] + prefix
    for n in range(32768):  # 4 GiB of "a" in RLE blocks
        frame += struct.pack("<I", (128 * 1024 << 3) | 2 | (n == 32767))[:3] + b"a"
    bomb = folder / "bomb.ndjson.zst"
    bomb.write_bytes(header_frame(folder) + bytes(frame))
    files.append(("zstd bomb: one 4 GiB record", bomb, 0))

    record = json.dumps({"kind": "x-from-the-future", "id": 1, "pad": "z" * 40}).encode() + b"\n"
    one = zstandard.ZstdCompressor(level=19).compress(record * (MIB // len(record)))
    unknown = folder / "unknown.ndjson.zst"
    unknown.write_bytes(header_frame(folder) + one * 1024)
    files.append(("1 GiB of unknown-kind records", unknown, 0))
    return [(name, path, largest_record(path)) for name, path, _ in files]


def largest_record(path: Path) -> int:
    """The longest NDJSON line the reader accepts from ``path`` (what it must hold at once)."""
    longest = 0
    try:
        for record in Cassette.iter_records(path):
            longest = max(longest, len(msgspec.json.encode(record)))
    except CassetteError:
        pass
    return longest


def measure(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def table(rows: list[dict[str, object]]) -> str:
    lines = [
        "| file | size | largest record | reading cost (peak RSS) | bound: 64 MB + 2x record "
        "| time | result |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        largest = int(r["largest"])  # type: ignore[call-overload]
        lines.append(
            f"| {r['name']} | {int(r['size']):,} B | {largest:,} B "  # type: ignore[call-overload]
            f"| {int(r['cost']) / MIB:.1f} MiB | {int(r['bound']) / MIB:.0f} MiB "  # type: ignore[call-overload]
            f"| {float(r['seconds']):.2f} s | {r['outcome']} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--write-docs", action="store_true", help="write the docs section")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, path, largest in make_files(Path(tmp)):
            result = measure(path)
            bound = 64 * 10**6 + 2 * largest
            rows.append(
                {"name": name, "size": path.stat().st_size, "largest": largest, "bound": bound}
                | result
            )
    over = [r["name"] for r in rows if int(r["cost"]) > int(r["bound"])]  # type: ignore[call-overload]
    text = table(rows)
    print(text)
    print("over the bound:", over or "none")
    if args.write_docs:
        cpu = platform.processor() or platform.machine()
        section = "\n".join(
            [
                BEGIN,
                "## Reading hostile cassettes (`benchmarks/bench_reader_memory.py`)",
                "",
                "Command: `python benchmarks/bench_reader_memory.py --write-docs`  ",
                f"Machine: {cpu}, Python {platform.python_version()}, {platform.system()}",
                "",
                "Each file is read by `Cassette.load` in a process of its own; the reading cost "
                "is the peak resident memory minus the resident memory before reading. "
                "Decompression goes 128 compressed bytes at a time (at most about 4 MiB out "
                "per step), a record is refused past `max_record` (256 MiB by default) and a "
                "file that decompresses to over 1000 times its size (and over 32 MiB) is "
                "refused as a zstd bomb.",
                "",
                text,
                "",
                f"Over the bound: {', '.join(map(str, over)) or 'none'}.",
                END,
            ]
        )
        doc = DOCS.read_text()
        if BEGIN in doc:
            head, rest = doc.split(BEGIN, 1)
            doc = head + section + rest.split(END, 1)[1]
        else:
            doc = doc.rstrip("\n") + "\n\n" + section + "\n"
        DOCS.write_text(doc)
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
