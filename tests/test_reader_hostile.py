"""Hostile cassettes cost bounded memory: zstd bombs and giant records are refused with a
CassetteError naming the file and offset, long before they could exhaust memory.

Each hostile file is built here: a header frame as streamtape writes it, then a zstd frame made
by hand. Memory is measured in a child process (peak RSS), under an address-space limit so a
reader that does not bound its memory fails fast instead of taking the machine with it.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from streamtape.cassette import Cassette, CassetteWriter
from streamtape.errors import CassetteError

MIB = 1 << 20
BLOCK = 128 * 1024  # zstd's largest block


def header_frame(tmp_path: Path) -> bytes:
    path = tmp_path / "empty.ndjson.zst"
    CassetteWriter(path, flush_interval=None).close()
    return path.read_bytes()


def rle_frame(prefix: bytes, byte: bytes, blocks: int) -> bytes:
    """A zstd frame: ``prefix`` as a raw block, then ``blocks`` RLE blocks of 128 KiB of
    ``byte`` (4 bytes each in the file), no newline anywhere."""
    out = bytearray(b"\x28\xb5\x2f\xfd")  # magic
    out += bytes([0x00, 0x38])  # no content size, no checksum; window 128 KiB
    out += struct.pack("<I", (len(prefix) << 3) | 0)[:3] + prefix  # raw block
    for n in range(blocks):
        last = 1 if n == blocks - 1 else 0
        out += struct.pack("<I", (BLOCK << 3) | (1 << 1) | last)[:3] + byte
    return bytes(out)


def one_line_bomb(tmp_path: Path) -> Path:
    """131 KB holding one 4 GiB record that never ends."""
    path = tmp_path / "bomb.ndjson.zst"
    prefix = b'{"kind":"chunk","id":1,"dt":0,"text":"'
    path.write_bytes(header_frame(tmp_path) + rle_frame(prefix, b"a", 32768))
    return path


def unknown_kinds_bomb(tmp_path: Path) -> Path:
    """About 100 KB holding 1 GiB of records of a kind no reader knows."""
    record = json.dumps({"kind": "x-from-the-future", "id": 1, "pad": "z" * 1000}).encode() + b"\n"
    frame = zstandard.ZstdCompressor(level=19).compress(record * (MIB // len(record)))
    path = tmp_path / "unknown.ndjson.zst"
    path.write_bytes(header_frame(tmp_path) + frame * 1024)
    return path


CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
from streamtape.cassette import Cassette
from streamtape.errors import CassetteError
try:
    Cassette.load(sys.argv[1])
    outcome = "loaded"
except CassetteError as exc:
    outcome = f"CassetteError: {exc}"
except MemoryError:
    outcome = "MemoryError"
# VmHWM is this program's own peak: ru_maxrss would start from the (large) pytest parent's RSS,
# which a forked child inherits and exec keeps.
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
print(peak)
print(outcome)
"""


def load_in_child(path: Path) -> tuple[int, str]:
    """(peak RSS in bytes, outcome) of Cassette.load(path) in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    peak, outcome = done.stdout.split("\n", 1)
    return int(peak), outcome.strip()


def test_a_zstd_bomb_of_one_endless_record_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = one_line_bomb(tmp_path)
    assert path.stat().st_size < 140_000
    peak, outcome = load_in_child(path)
    assert outcome.startswith(f"CassetteError: {path}: record 2 at byte ")
    assert "(a zstd bomb?)" in outcome
    assert peak < 200 * MIB


def test_a_file_of_a_gibibyte_of_unknown_records_is_refused_in_bounded_memory(
    tmp_path: Path,
) -> None:
    path = unknown_kinds_bomb(tmp_path)
    assert path.stat().st_size < 200_000
    peak, outcome = load_in_child(path)
    assert outcome.startswith(f"CassetteError: {path}: record ")
    assert "(a zstd bomb?)" in outcome
    assert peak < 200 * MIB


def test_a_record_over_max_record_is_damage_named_by_file_and_offset(tmp_path: Path) -> None:
    path = tmp_path / "big.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        small = writer.begin("POST", "http://h/small")
        small.end()
        big = writer.begin("POST", "http://h/big")
        big.chunk(b"x" * 5000 + b"\n")
        big.end()
    assert len(Cassette.load(path)) == 2  # the default limit is far above this
    with pytest.raises(CassetteError, match="a record longer than 4096 bytes") as info:
        Cassette.load(path, max_record=4096)
    assert info.value.path == str(path)
    assert info.value.record == 5  # header, request, end, request, then the chunk
    assert info.value.offset is not None
    assert info.value.offset > 0
    lenient = Cassette.load(path, strict=False, max_record=4096)
    assert [i.request.url for i in lenient if i.end] == ["http://h/small"]
    assert lenient.truncated
    with pytest.raises(CassetteError, match="max_record"):
        list(Cassette.iter_records(path, max_record=4096))
    with pytest.raises(CassetteError, match="max_record"):
        list(Cassette.iter_interactions(path, max_record=4096))


def test_an_unended_last_line_over_max_record_is_refused_as_it_grows(tmp_path: Path) -> None:
    path = tmp_path / "endless.ndjson.zst"
    path.write_bytes(header_frame(tmp_path) + rle_frame(b'{"kind":"chunk"', b" ", 64))
    with pytest.raises(CassetteError, match=r"record 2 at byte \d+: a record longer than"):
        Cassette.load(path, max_record=MIB)


def test_records_of_a_big_frame_read_before_its_checksum_are_named_when_it_is_corrupt(
    tmp_path: Path,
) -> None:
    """Another tool may write one frame of over 8 MiB: its records are given out before the
    frame's checksum is checked, and a lenient read that then finds the frame corrupt says so."""
    lines = [
        json.dumps({"kind": "request", "id": n, "method": "POST", "url": f"http://h/{n}"}).encode()
        + b"\n"
        + json.dumps({"kind": "end", "id": n, "dt": 0, "outcome": "complete"}).encode()
        + b"\n"
        for n in range(1, 2_001)
    ]
    lines += [
        json.dumps({"kind": "x-pad", "pad": f"{n}" * 400}).encode() + b"\n" for n in range(9000)
    ]
    body = b"".join(lines)
    assert len(body) > 8 * MIB
    frame = bytearray(zstandard.ZstdCompressor(level=1, write_checksum=True).compress(body))
    frame[-1] ^= 0xFF  # the content checksum no longer matches
    path = tmp_path / "foreign.ndjson.zst"
    path.write_bytes(header_frame(tmp_path) + bytes(frame))
    cassette = Cassette.load(path, strict=False)
    assert cassette.truncated
    assert cassette.error is not None
    assert "were read before its checksum could be checked" in str(cassette.error)
    assert len(cassette) > 0  # what was given out is there, and the error says it is unverified
