"""The zstd dictionary of cassette format 2: shipped file, per-frame choice, old files, errors."""

from __future__ import annotations

import hashlib
import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
import zstandard

from streamtape.cassette import (
    DICTIONARIES,
    DICTIONARY_ID,
    Cassette,
    CassetteWriter,
    Header,
)
from streamtape.errors import CassetteError

ROOT = Path(__file__).parent.parent
SHIPPED = ROOT / "streamtape" / "dictionaries" / DICTIONARIES[DICTIONARY_ID]
V1 = sorted((Path(__file__).parent / "fixtures" / "streamtape-v1").glob("*.ndjson.zst"))
CHUNKS = [
    b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n',
    b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",',
    b'"delta":"Ol\xc3\xa1","sequence_number":1}\n\n',
    b"\xff\xfe not utf-8",
]


def write(path: Path, dictionary: int | None = DICTIONARY_ID, count: int = 2, **kw: Any) -> None:
    """A cassette of ``count`` interactions with the same chunks, 1 ms apart."""
    with CassetteWriter(
        path, dictionary=dictionary, flush_interval=None, clock=lambda: 0, **kw
    ) as writer:
        for n in range(count):
            rec = writer.begin("POST", f"https://api.openai.com/v1/responses?n={n}", body=b"{}")
            rec.response(200, [("content-type", "text/event-stream")], offset_ns=500_000)
            for i, chunk in enumerate(CHUNKS):
                rec.chunk(chunk, offset_ns=(i + 1) * 1_000_000)
            rec.end(offset_ns=9_000_000)


def frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, dictionary id) of every zstd frame in ``data``, read with the shipped file."""
    shipped = zstandard.ZstdCompressionDict(SHIPPED.read_bytes())
    out, pos = [], 0
    while pos < len(data):
        dict_id = zstandard.get_frame_parameters(data[pos:]).dict_id
        dctx = zstandard.ZstdDecompressor(dict_data=shipped if dict_id else None)
        obj = dctx.decompressobj()
        obj.decompress(data[pos:])
        assert obj.eof
        out.append((pos, dict_id))
        pos = len(data) - len(obj.unused_data)
    return out


def chunk_lists(path: Path) -> list[list[bytes]]:
    return [[c.data for c in inter.chunks] for inter in Cassette.load(path)]


def with_dict_id(dict_id: int) -> zstandard.ZstdCompressionDict:
    """The shipped dictionary under another id (bytes 4-8 of a zstd dictionary hold its id)."""
    data = bytearray(SHIPPED.read_bytes())
    data[4:8] = dict_id.to_bytes(4, "little")
    return zstandard.ZstdCompressionDict(bytes(data))


def test_the_shipped_dictionary_is_the_one_the_header_and_frames_name(tmp_path: Path) -> None:
    assert zstandard.ZstdCompressionDict(SHIPPED.read_bytes()).dict_id() == DICTIONARY_ID
    assert 32_768 <= DICTIONARY_ID < 2**31  # outside the ranges RFC 8878 reserves
    assert SHIPPED.stat().st_size <= 64 * 1024
    path = tmp_path / "c.ndjson.zst"
    write(path)
    header = Cassette.load(path).header
    assert header is not None
    assert (header.version, header.dictionary) == ("2.0", DICTIONARY_ID)
    assert [d for _, d in frames(path.read_bytes())] == [0, DICTIONARY_ID]


@pytest.mark.parametrize("dictionary", [DICTIONARY_ID, None], ids=["dictionary", "none"])
def test_round_trip_with_and_without_the_dictionary(tmp_path: Path, dictionary: int | None) -> None:
    path = tmp_path / "c.ndjson.zst"
    write(path, dictionary)
    cassette = Cassette.load(path)
    assert cassette.header is not None
    assert cassette.header.dictionary == dictionary
    assert chunk_lists(path) == [CHUNKS, CHUNKS]
    assert all(inter.complete for inter in cassette)
    expected = [0, dictionary or 0]  # the header's frame, then one for the writer session
    assert [d for _, d in frames(path.read_bytes())] == expected


def test_the_dictionary_makes_cassettes_smaller(tmp_path: Path) -> None:
    sizes = {}
    for dictionary in (DICTIONARY_ID, None):
        path = tmp_path / f"{dictionary}.ndjson.zst"
        write(path, dictionary, count=5)
        sizes[dictionary] = path.stat().st_size
    assert sizes[DICTIONARY_ID] < sizes[None] * 0.8


def test_the_header_frame_reads_without_the_dictionary(tmp_path: Path) -> None:
    """What ``zstd -dc file | head -1`` and a version 1 reader see: the header, naming the id."""
    path = tmp_path / "c.ndjson.zst"
    write(path)
    obj = zstandard.ZstdDecompressor().decompressobj()
    line = obj.decompress(path.read_bytes())
    assert obj.eof
    header = msgspec.json.decode(line, type=Header)
    assert (header.version, header.dictionary) == ("2.0", DICTIONARY_ID)
    with pytest.raises(zstandard.ZstdError):  # the next frame needs the dictionary
        zstandard.ZstdDecompressor().decompressobj().decompress(obj.unused_data)


@pytest.mark.parametrize("header_names", [DICTIONARY_ID, None], ids=["dictionary", "none"])
def test_each_frame_is_read_with_the_dictionary_it_names(
    tmp_path: Path, header_names: int | None
) -> None:
    """Frames with and without the dictionary in one file, whatever the header names."""
    source, mixed = tmp_path / "source.ndjson.zst", tmp_path / "mixed.ndjson.zst"
    write(source, header_names, count=3)
    header, *records = Cassette.read_ndjson(source).splitlines(keepends=True)
    per = len(records) // 3
    shipped = zstandard.ZstdCompressionDict(SHIPPED.read_bytes())
    parts = [zstandard.ZstdCompressor().compress(header)]
    for n, zdict in enumerate([shipped, None, shipped]):
        cctx = zstandard.ZstdCompressor(dict_data=zdict, write_checksum=True)
        parts.append(cctx.compress(b"".join(records[n * per : (n + 1) * per])))
    mixed.write_bytes(b"".join(parts))
    assert [d for _, d in frames(mixed.read_bytes())] == [0, DICTIONARY_ID, 0, DICTIONARY_ID]
    assert chunk_lists(mixed) == [CHUNKS] * 3
    assert Cassette.read_ndjson(mixed) == Cassette.read_ndjson(source)


@pytest.mark.parametrize("named", [True, False], ids=["header-names-it", "header-does-not"])
def test_a_frame_with_an_unknown_dictionary_names_file_offset_and_id(
    tmp_path: Path, named: bool
) -> None:
    path = tmp_path / "c.ndjson.zst"
    write(path, count=1)
    data = path.read_bytes()
    unknown = 0x53549999
    body = Cassette.read_ndjson(path).split(b"\n", 1)[1].replace(b'"id":1,', b'"id":2,')
    frame = zstandard.ZstdCompressor(dict_data=with_dict_id(unknown)).compress(body)
    if named:  # a cassette made by a newer streamtape: refused, even leniently
        header = Cassette.read_ndjson(path).split(b"\n", 1)[0]
        header = header.replace(str(DICTIONARY_ID).encode(), str(unknown).encode())
        head = zstandard.ZstdCompressor().compress(header + b"\n")
        data = head + data[frames(data)[1][0] :]
    path.write_bytes(data + frame)
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    error = info.value
    assert (error.path, error.offset) == (str(path), len(data))
    for part in (str(path), f"byte {len(data)}", f"dictionary id {unknown}", "upgrade streamtape"):
        assert part in str(error)
    if named:
        with pytest.raises(CassetteError, match="upgrade streamtape"):
            Cassette.load(path, strict=False)
    else:  # no header names it: maybe a damaged frame header; lenient reading keeps the rest
        cassette = Cassette.load(path, strict=False)
        assert cassette.truncated
        assert [[c.data for c in inter.chunks] for inter in cassette] == [CHUNKS]


def test_the_writer_refuses_a_dictionary_it_does_not_ship(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="unknown cassette dictionary id 7"):
        CassetteWriter(tmp_path / "c.ndjson.zst", dictionary=7)


@pytest.mark.parametrize("old", V1, ids=lambda p: p.name)
def test_format_1_cassettes_still_read(old: Path) -> None:
    assert [d for _, d in frames(old.read_bytes())] == [0]  # one plain frame: no dictionary
    cassette = Cassette.load(old)
    assert cassette.header is not None
    assert (cassette.header.version, cassette.header.dictionary) == ("1.0", None)
    [inter] = cassette
    assert inter.end is not None
    assert inter.chunks
    assert inter.events()
    assert next(iter(Cassette.iter_records(old))) == cassette.header


@pytest.mark.parametrize("atomic", [True, False])
def test_appending_to_a_format_1_cassette_keeps_it_format_1(tmp_path: Path, atomic: bool) -> None:
    path = tmp_path / "old.ndjson.zst"
    shutil.copy(V1[0], path)
    before = Cassette.load(path)
    with CassetteWriter(path, append=True, atomic=atomic) as writer:
        rec = writer.begin("POST", "https://api.openai.com/v1/responses", body=b"{}")
        rec.chunk(b"data: new\n\n")
        rec.end()
    data = path.read_bytes()
    assert data.startswith(V1[0].read_bytes())  # old bytes copied unchanged
    assert [d for _, d in frames(data)] == [0, 0]  # no dictionary: the header says 1.0
    after = Cassette.load(path)
    assert after.header == before.header
    assert [c.data for c in after[-1].chunks] == [b"data: new\n\n"]
    assert len(after) == len(before) + 1


def test_appending_to_a_format_2_cassette_keeps_its_dictionary(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    write(path, None, count=1)
    write(path, count=1, append=True)  # asks for the dictionary, gets the file's (none)
    assert [d for _, d in frames(path.read_bytes())] == [0, 0, 0]
    write(tmp_path / "d.ndjson.zst", count=1)
    write(tmp_path / "d.ndjson.zst", None, count=1, append=True)
    assert [d for _, d in frames((tmp_path / "d.ndjson.zst").read_bytes())] == [
        0,
        DICTIONARY_ID,
        DICTIONARY_ID,
    ]
    assert chunk_lists(tmp_path / "d.ndjson.zst") == [CHUNKS, CHUNKS]


def test_truncation_at_every_byte_of_a_dictionary_frame_keeps_every_complete_chunk(
    tmp_path: Path,
) -> None:
    path = tmp_path / "c.ndjson.zst"
    # no redactor: a chunk ending like a key's start would wait for the next one to be written
    with CassetteWriter(path, flush_interval=0, atomic=False, redactor=None) as writer:
        rec = writer.begin("POST", "https://api.openai.com/v1/responses", start_ns=0)
        sizes = []  # file size once each chunk was flushed
        for i, chunk in enumerate(CHUNKS * 3):
            rec.chunk(chunk, offset_ns=i * 1000)
            sizes.append(path.stat().st_size)
        rec.end(offset_ns=99_000)
    data = path.read_bytes()
    [(_, header_id), (last, dict_id)] = frames(data)
    assert (header_id, dict_id) == (0, DICTIONARY_ID)
    cut_file = tmp_path / "cut.ndjson.zst"
    for cut in range(last + 1, len(data)):
        cut_file.write_bytes(data[:cut])
        cassette = Cassette.load(cut_file, strict=False)
        assert cassette.truncated
        got = [c.data for c in cassette[0].chunks] if len(cassette) else []
        complete = sum(size <= cut for size in sizes)
        assert got[:complete] == (CHUNKS * 3)[:complete], cut
        assert got == (CHUNKS * 3)[: len(got)]
        with pytest.raises(CassetteError, match="truncated") as info:
            Cassette.load(cut_file)
        assert info.value.offset == last


def _make_dictionary() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_dictionary", ROOT / "tools" / "make_dictionary.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_dictionary"] = module
    spec.loader.exec_module(module)
    return module


# The shipped dictionary is part of the format: cassettes name it by id, so its bytes never
# change under that id. A new dictionary is a new file with a new id.
SHIPPED_SHA256 = "5b080b449983d8dbfaf40107564aa67f385cf0c9c476765bad1745133e42ea00"


def test_the_shipped_dictionary_never_changes() -> None:
    assert hashlib.sha256(SHIPPED.read_bytes()).hexdigest() == SHIPPED_SHA256


def test_the_dictionary_script_is_deterministic() -> None:
    """tools/make_dictionary.py gives the same bytes for the same seed, on any one zstandard.

    The shipped file is pinned by its hash above, not regenerated, so an upgrade cannot break it.
    """
    make = _make_dictionary()
    first = make.train(3, 200)
    assert len(first) == make.SIZE
    assert make.train(3, 200) == first
    assert make.train(4, 200) != first


def test_read_ndjson_names_where_a_file_breaks(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    write(path, count=2)
    data = path.read_bytes()
    last = frames(data)[-1][0]
    path.write_bytes(data[:-2])
    with pytest.raises(CassetteError, match=f"truncated zstd frame at byte {last}") as info:
        Cassette.read_ndjson(path)
    assert (info.value.path, info.value.offset) == (str(path), last)
