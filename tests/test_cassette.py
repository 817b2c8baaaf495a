"""Cassette format: writing, reading, damage, versions, determinism, atomicity, appending."""

from __future__ import annotations

import gzip
import sys
import threading
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import msgspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st
from sse_server import SSE_FIXTURES, sse_chunks

from streamtape import __version__, cassette
from streamtape.accumulate import accumulate
from streamtape.cassette import (
    DICTIONARY_ID,
    END_STATES,
    Cassette,
    CassetteWriter,
    Chunk,
    ChunkRecord,
    ClientStop,
    EndRecord,
    EndState,
    ErrorInfo,
    Header,
    RequestRecord,
    ResponseRecord,
    StreamEnd,
)
from streamtape.decode import EventDecoder
from streamtape.errors import CassetteError
from streamtape.redact import Redactor

SSE_HEADERS = [("Content-Type", "text/event-stream")]
SHIPPED = Path(__file__).parent.parent / "streamtape" / "dictionaries" / "responses-1.zdict"
SECRET = "sk-proj-T3stKey0123456789abcdefghijklmn"


def frozen_clock() -> int:
    return 0


def new_writer(path: Path, **kwargs: object) -> CassetteWriter:
    """A writer whose output depends on its input only (no wall-clock frame ends)."""
    options: dict[str, object] = {"clock": frozen_clock, "recorded_at": "2025-01-02T03:04:05Z"}
    options.update(kwargs)
    return CassetteWriter(path, **options)  # type: ignore[arg-type]


def write_stream(
    writer: CassetteWriter,
    chunks: Sequence[bytes],
    offsets_ns: Sequence[int] | None = None,
    *,
    url: str = "https://api.example.com/v1/responses",
    body: bytes = b'{"stream":true}',
    status: int = 200,
    headers: Sequence[tuple[str, str]] = SSE_HEADERS,
    outcome: EndState = "complete",
    error: ErrorInfo | None = None,
) -> None:
    """Record one interaction with explicit offsets (default: 1 ms apart, head at 0.5 ms)."""
    if offsets_ns is None:
        offsets_ns = [(i + 1) * 1_000_000 for i in range(len(chunks))]
    rec = writer.begin("POST", url, [("Content-Type", "application/json")], body, start_ns=0)
    rec.response(status, headers, reason="OK", offset_ns=min([500_000, *offsets_ns]))
    for chunk, offset in zip(chunks, offsets_ns, strict=True):
        rec.chunk(chunk, offset_ns=offset)
    end_ns = max([500_000, *offsets_ns]) + 200_000
    rec.end(outcome, error=error, offset_ns=end_ns)


def lines(path: Path) -> list[bytes]:
    """The decompressed NDJSON lines of a cassette file."""
    return Cassette.read_ndjson(path).splitlines()


def frame_starts(data: bytes) -> list[int]:
    """Byte offsets at which the zstd frames of ``data`` start."""
    starts, pos = [], 0
    while pos < len(data):
        starts.append(pos)
        obj = decompressor(data[pos:]).decompressobj()
        obj.decompress(data[pos:])
        assert obj.eof
        pos = len(data) - len(obj.unused_data)
    return starts


def decompressor(frame: bytes) -> zstandard.ZstdDecompressor:
    """A decompressor for the frame at the start of ``frame`` (with the dictionary it names)."""
    if zstandard.get_frame_parameters(frame).dict_id == 0:
        return zstandard.ZstdDecompressor()
    assert zstandard.get_frame_parameters(frame).dict_id == DICTIONARY_ID
    return zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(SHIPPED.read_bytes()))


def compress_lines(*records: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(b"".join(r + b"\n" for r in records))


HEADER = (
    b'{"kind":"header","format":"streamtape-cassette","version":"1.0","streamtape":"0.1.0",'
    b'"recorded_at":"2025-01-01T00:00:00Z"}'
)


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip_keeps_every_fact(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    chunks = [b"event: a\ndata: {}\n\n", b"\xff\x00 not utf-8", "é€😀".encode(), b""]
    with new_writer(path) as writer:
        write_stream(writer, chunks, [1_000_000, 1_000_999, 5_123_456, 5_123_456])
    cassette = Cassette.load(path)
    assert not cassette.truncated
    assert cassette.header is not None
    assert cassette.header.format == "streamtape-cassette"
    assert cassette.header.version == "2.0"
    assert cassette.header.dictionary == DICTIONARY_ID
    assert cassette.header.host == "api.example.com"
    [inter] = cassette.interactions
    assert inter.request.method == "POST"
    assert inter.request.url == "https://api.example.com/v1/responses"
    assert inter.request.body == b'{"stream":true}'
    assert inter.response is not None
    assert (inter.response.status, inter.response.reason) == (200, "OK")
    assert inter.response.headers == SSE_HEADERS
    assert inter.response.offset_ns == 500_000
    # offsets are kept in whole microseconds
    assert inter.chunks == [
        Chunk(1_000_000, chunks[0]),
        Chunk(1_000_000, chunks[1]),
        Chunk(5_123_000, chunks[2]),
        Chunk(5_123_000, chunks[3]),
    ]
    assert inter.end is not None
    assert (inter.end.outcome, inter.end.offset_ns, inter.end.error) == (
        "complete",
        5_323_000,
        None,
    )
    assert inter.complete


def test_chunks_are_text_when_utf8_else_base64_and_offsets_are_gaps(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, [b"data: x\n\n", b"\xc3"], [2_000_000, 2_500_000])
    records = [msgspec.json.decode(line) for line in lines(path)]
    assert [r["kind"] for r in records] == [
        "header",
        "request",
        "response",
        "chunk",
        "chunk",
        "end",
    ]
    first, second = records[3], records[4]
    assert first == {"kind": "chunk", "id": 1, "dt": 1500, "text": "data: x\n\n"}
    assert second == {"kind": "chunk", "id": 1, "dt": 500, "b64": "ww=="}
    assert records[2]["dt"] == 500
    assert list(records[0])[:4] == ["kind", "format", "version", "streamtape"]


@settings(max_examples=40, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(st.binary(max_size=40), st.integers(min_value=0, max_value=10**10)), max_size=12
    )
)
def test_any_bytes_and_gaps_round_trip(
    tmp_path_factory: pytest.TempPathFactory, pieces: list[tuple[bytes, int]]
) -> None:
    path = tmp_path_factory.mktemp("rt") / "c.ndjson.zst"
    offsets, total = [], 0
    for _, gap in pieces:
        total += gap
        offsets.append(total)
    with new_writer(path, redactor=None) as writer:
        write_stream(writer, [p for p, _ in pieces], offsets)
    [inter] = Cassette.load(path).interactions
    assert [c.data for c in inter.chunks] == [p for p, _ in pieces]
    assert [c.offset_ns for c in inter.chunks] == [o // 1000 * 1000 for o in offsets]


def test_offsets_must_not_go_back(tmp_path: Path) -> None:
    with new_writer(tmp_path / "c.ndjson.zst") as writer:
        rec = writer.begin("GET", "http://x/", start_ns=0)
        rec.chunk(b"a", offset_ns=5_000)
        with pytest.raises(ValueError, match="before the previous"):
            rec.chunk(b"b", offset_ns=3_000)


@pytest.mark.parametrize(
    "options",
    [{}, {"clock": time.perf_counter_ns, "flush_interval": None}],
    ids=["frozen-clock", "real-clock-no-timed-flush"],
)
def test_same_input_gives_the_same_bytes(tmp_path: Path, options: dict[str, object]) -> None:
    chunks = sse_chunks(SSE_FIXTURES[0])
    for name in ("a", "b"):
        with new_writer(tmp_path / name, **options) as writer:
            write_stream(writer, chunks)
            write_stream(writer, chunks[:3], outcome="error", error=ErrorInfo("ReadError", "x"))
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_recorded_at_and_provenance_are_filled_in(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with CassetteWriter(path) as writer:
        writer.begin("GET", "https://user:pw@api.example.com:8443/x").end()
    header = Cassette.load(path).header
    assert header is not None
    assert header.recorded_at.endswith("Z")
    assert header.python
    assert header.httpx
    assert header.streamtape == __version__
    assert header.host == "api.example.com:8443"


def test_empty_cassette_has_a_header(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    CassetteWriter(path).close()
    cassette = Cassette.load(path)
    assert cassette.interactions == []
    assert cassette.header is not None
    assert cassette.header.host is None


def test_interleaved_interactions(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        a = writer.begin("POST", "http://h/a", start_ns=0)
        b = writer.begin("POST", "http://h/b", start_ns=0)
        for i in range(3):  # lines end in "\n": nothing is held back as a possible key start
            a.chunk(b"a%d\n" % i, offset_ns=i * 1000)
            b.chunk(b"b%d\n" % i, offset_ns=i * 2000)
        b.end()
        a.end("closed")
    ids = [msgspec.json.decode(line)["id"] for line in lines(path)[1:]]
    assert ids == [1, 2, 1, 2, 1, 2, 1, 2, 2, 1]
    cassette = Cassette.load(path)
    assert [i.request.url for i in cassette] == ["http://h/a", "http://h/b"]
    assert [c.data for c in cassette[0].chunks] == [b"a0\n", b"a1\n", b"a2\n"]
    assert [c.offset_ns for c in cassette[1].chunks] == [0, 2000, 4000]
    assert [i.end.outcome for i in cassette if i.end] == ["closed", "complete"]
    streamed = [i.request.url for i in Cassette.iter_interactions(path)]
    assert streamed == ["http://h/b", "http://h/a"]  # in the order they ended


def test_close_ends_open_interactions_as_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    writer = new_writer(path)
    rec = writer.begin("GET", "http://h/")
    rec.chunk(b"x")
    writer.close()
    rec.chunk(b"after close")  # ignored: the caller's stream must not break
    [inter] = Cassette.load(path).interactions
    assert inter.end is not None
    assert inter.end.outcome == "interrupted"
    assert [c.data for c in inter.chunks] == [b"x"]
    with pytest.raises(CassetteError, match="closed"):
        writer.begin("GET", "http://h/")


def test_error_end_keeps_class_name_and_message(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        rec = writer.begin("GET", "http://h/")
        rec.end("error", error=ConnectionResetError(f"reset, key {SECRET}"))
    [inter] = Cassette.load(path)
    assert inter.response is None
    assert inter.end is not None
    assert inter.end.error is not None
    assert inter.end.error.type == "ConnectionResetError"
    assert inter.end.error.message.startswith("reset, key ")
    assert SECRET not in inter.end.error.message


# -- derived views ------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", SSE_FIXTURES[:6], ids=lambda p: p.name)
def test_events_and_result_come_from_the_decoder(tmp_path: Path, fixture: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, sse_chunks(fixture))
    [inter] = Cassette.load(path)
    assert inter.body == fixture.read_bytes()
    decoder = EventDecoder()
    expected = decoder.feed(fixture.read_bytes()) + decoder.close()
    assert inter.events() == expected
    assert inter.result() == accumulate(expected)
    assert inter.results() == [inter.result()]


def _gzip_chunks(data: Sequence[bytes]) -> list[bytes]:
    obj = zlib.compressobj(wbits=31)
    out = [obj.compress(d) + obj.flush(zlib.Z_SYNC_FLUSH) for d in data]
    return [*out, obj.flush()]


def _deflate_chunks(data: Sequence[bytes]) -> list[bytes]:
    return [zlib.compress(b"".join(data))]


def _raw_deflate_chunks(data: Sequence[bytes]) -> list[bytes]:
    obj = zlib.compressobj(wbits=-15)
    return [obj.compress(b"".join(data)) + obj.flush()]


def _zstd_chunks(data: Sequence[bytes]) -> list[bytes]:
    return [zstandard.ZstdCompressor().compress(d) for d in data]  # one frame each


@pytest.mark.parametrize(
    ("coding", "encode"),
    [
        ("gzip", _gzip_chunks),
        ("deflate", _deflate_chunks),
        ("deflate", _raw_deflate_chunks),
        ("zstd", _zstd_chunks),
    ],
)
def test_body_and_events_are_content_decoded_chunks_stay_wire_bytes(
    tmp_path: Path, coding: str, encode: object
) -> None:
    fixture = SSE_FIXTURES[0]
    wire = encode(sse_chunks(fixture))  # type: ignore[operator]
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, wire, headers=[*SSE_HEADERS, ("Content-Encoding", coding)])
    [inter] = Cassette.load(path)
    assert [c.data for c in inter.chunks] == wire
    assert inter.wire_body == b"".join(wire)
    assert inter.body == fixture.read_bytes()
    assert len(inter.events()) > 0


def test_unknown_content_encoding_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, [b"x"], headers=[("Content-Encoding", "compress")])
    [inter] = Cassette.load(path)
    with pytest.raises(CassetteError, match="compress"):
        _ = inter.body


def test_brotli_body_without_brotli_installed_names_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", None)  # None in sys.modules: import fails
    monkeypatch.setitem(sys.modules, "brotlicffi", None)
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, [b"\x0b\x02\x80"], headers=[("Content-Encoding", "br")])
    [inter] = Cassette.load(path)
    assert inter.chunks[0].data == b"\x0b\x02\x80"
    with pytest.raises(CassetteError, match="install 'brotli'"):
        inter.events()


def test_gzip_body_is_not_passed_through_chunk_redaction(tmp_path: Path) -> None:
    wire = gzip.compress(f"data: {SECRET}\n\n".encode())
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, [wire], headers=[("Content-Encoding", "gzip")])
    assert Cassette.load(path)[0].chunks[0].data == wire


# -- redaction ----------------------------------------------------------------------------------


def test_writer_redacts_request_headers_url_body_and_chunks(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        rec = writer.begin(
            "POST",
            f"https://api.example.com/v1?api_key={SECRET}",
            [("Authorization", f"Bearer {SECRET}")],
            f'{{"key": "{SECRET}"}}'.encode(),
        )
        rec.response(200, [("Set-Cookie", f"session={SECRET}")])
        rec.chunk(f"data: {SECRET}\n\n".encode())
        rec.end()
    raw = b"\n".join(lines(path))
    assert SECRET.encode() not in raw
    assert b"<redacted>" in raw


def test_redactor_none_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path, redactor=None) as writer:
        writer.begin("GET", "http://h/", [("Authorization", SECRET)]).end()
    assert Cassette.load(path)[0].request.headers == [("Authorization", SECRET)]


def test_custom_redactor_is_used(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path, redactor=Redactor(headers=["x-team"])) as writer:
        writer.begin("GET", "http://h/", [("X-Team", "blue")]).end()
    assert Cassette.load(path)[0].request.headers == [("X-Team", "<redacted>")]


# -- damage -------------------------------------------------------------------------------------


def _three_frames(path: Path) -> list[list[bytes]]:
    """A cassette of three interactions, one zstd frame each after the header's (each written by
    a writer session of its own: a session's records share one frame); returns their chunks."""
    streams = [[b"data: %d-%d\n\n" % (n, i) for i in range(6)] for n in range(3)]
    for n, chunks in enumerate(streams):
        with new_writer(path, flush_interval=None, append=n > 0) as writer:
            write_stream(writer, chunks)
    return streams


def test_truncation_at_every_byte_of_the_last_frame(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    streams = _three_frames(path)
    data = path.read_bytes()
    starts = frame_starts(data)
    assert len(starts) == 4  # the header's frame, then one per interaction
    assert [zstandard.get_frame_parameters(data[i:]).dict_id for i in starts] == [
        0,
        *[DICTIONARY_ID] * 3,
    ]
    last = starts[-1]
    cut_file = tmp_path / "cut.ndjson.zst"
    for cut in range(last + 1, len(data)):
        cut_file.write_bytes(data[:cut])
        cassette = Cassette.load(cut_file, strict=False)
        assert cassette.truncated, cut
        assert [[c.data for c in i.chunks] for i in cassette.interactions[:2]] == streams[:2]
        assert all(i.complete for i in cassette.interactions[:2])
        if len(cassette.interactions) == 3:  # what came through of the cut frame is exact
            got = [c.data for c in cassette[2].chunks]
            assert got == streams[2][: len(got)]
        with pytest.raises(CassetteError) as info:
            Cassette.load(cut_file)
        error = info.value
        assert error.path == str(cut_file)
        assert error.offset == last
        assert error.record is not None
        assert error.record > 2 * 9 + 1  # header + two interactions of 9 records came before
        assert str(cut_file) in str(error)
        assert f"record {error.record}" in str(error)
        assert f"byte {last}" in str(error)
    cut_file.write_bytes(data[:last])  # cut at a frame boundary: a valid, shorter cassette
    assert len(Cassette.load(cut_file)) == 2


def test_iter_records_yields_what_came_before_the_damage(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    _three_frames(path)
    data = path.read_bytes()
    path.write_bytes(data[: frame_starts(data)[-1] + 5])
    got: list[object] = []
    with pytest.raises(CassetteError, match="truncated"):
        got.extend(Cassette.iter_records(path))
    assert isinstance(got[0], Header)
    assert len(got) == 1 + 2 * 9
    assert isinstance(got[-1], EndRecord)


def test_corrupt_frame(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    streams = _three_frames(path)
    data = bytearray(path.read_bytes())
    starts = frame_starts(bytes(data))
    middle = (starts[2] + starts[3]) // 2
    data[middle] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(CassetteError, match="corrupt") as info:
        Cassette.load(path)
    assert info.value.offset == starts[2]
    assert info.value.record == 1 + 9 + 1
    cassette = Cassette.load(path, strict=False)
    assert cassette.truncated
    assert [[c.data for c in i.chunks] for i in cassette] == streams[:1]


def test_bad_record_in_a_good_frame(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(compress_lines(HEADER, b'{"kind":"request","id":1}'))
    with pytest.raises(CassetteError, match="record 2") as info:
        Cassette.load(path)
    assert info.value.record == 2


def test_chunk_of_unknown_interaction(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(compress_lines(HEADER, b'{"kind":"chunk","id":7,"dt":1,"text":"x"}'))
    with pytest.raises(CassetteError, match="unknown or ended interaction 7"):
        Cassette.load(path)


@pytest.mark.parametrize(
    "header",
    [
        b'{"kind":"header","format":"streamtape-cassette","version":"3.0","layout":"new"}',
        HEADER.replace(b'"1.0"', b'"3.0"'),  # a header this version could decode
    ],
    ids=["new-layout", "known-layout"],
)
def test_newer_major_version_is_refused_clearly(tmp_path: Path, header: bytes) -> None:
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(compress_lines(header, b'{"kind":"frobnicate"}'))
    for strict in (True, False):
        with pytest.raises(CassetteError, match=r"format 3\.0 is newer.*upgrade streamtape"):
            Cassette.load(path, strict=strict)


def test_unknown_record_kinds_and_fields_of_a_newer_minor_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(
        compress_lines(
            HEADER.replace(b'"1.0"', b'"1.7"')[:-1] + b',"new_field":[1,2]}',
            b'{"kind":"request","id":1,"method":"GET","url":"http://h/","priority":3}',
            b'{"kind":"annotation","id":1,"note":"hello"}',
            b'{"kind":"chunk","id":1,"dt":10,"text":"x"}',
            b'{"kind":"end","id":1,"dt":1,"outcome":"complete"}',
        )
    )
    [inter] = Cassette.load(path)
    assert inter.chunks == [Chunk(10_000, b"x")]
    kinds = [type(r) for r in Cassette.iter_records(path)]
    assert kinds == [Header, RequestRecord, ChunkRecord, EndRecord]


def test_an_end_state_of_a_newer_minor_is_read_as_written(tmp_path: Path) -> None:
    # docs/cassette-format.md, Versions: a minor version may add `outcome` values
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(
        compress_lines(
            HEADER.replace(b'"1.0"', b'"1.7"'),
            b'{"kind":"request","id":1,"method":"GET","url":"http://h/"}',
            b'{"kind":"end","id":1,"dt":1,"outcome":"paused"}',
        )
    )
    [inter] = Cassette.load(path)
    assert inter.end is not None
    assert inter.end.outcome == "paused"
    assert not inter.complete


def test_the_end_states_are_the_formats_and_keep_their_former_name() -> None:
    assert END_STATES == ("complete", "error", "closed", "interrupted")
    assert get_args(EndState) == END_STATES
    assert cassette.Outcome is EndState  # its name before `EndState`; still exported
    assert "Outcome" in cassette.__all__


@pytest.mark.parametrize(
    "content",
    [b"", b"interactions:\n- request: {}\n", compress_lines(b'{"kind":"request","id":1}')],
    ids=["empty", "yaml", "no-header"],
)
def test_not_a_cassette(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "c.ndjson.zst"
    path.write_bytes(content)
    with pytest.raises(CassetteError) as info:
        Cassette.load(path)
    assert info.value.path == str(path)


def test_a_file_that_is_not_zstd_is_refused_even_leniently(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"interactions: []\n")
    with pytest.raises(CassetteError, match="not zstd"):
        Cassette.load(path, strict=False)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CassetteError, match="cannot open"):
        Cassette.load(tmp_path / "nope.ndjson.zst")


# -- frames, crash safety, atomic writes, appending ---------------------------------------------


def test_one_frame_holds_a_session_and_each_interaction_end_is_flushed(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path, flush_interval=None) as writer:
        rec = writer.begin("GET", "http://h/")
        rec.chunk(b"x")
        temp = writer.temp_path
        assert temp is not None
        assert len(frame_starts(temp.read_bytes())) == 1  # the header's frame, nothing else yet
        assert len(Cassette.load(temp, strict=False)) == 0  # not flushed: nothing to read
        rec.end()
        # flushed as complete blocks: whole and readable while the writer (and frame) is open
        readable = Cassette.load(temp, strict=False)
        assert [(i.complete, [c.data for c in i.chunks]) for i in readable] == [(True, [b"x"])]
        assert readable.truncated  # ... in a frame that has not ended yet
        assert not path.exists()
        write_stream(writer, [b"y"])
        assert len(Cassette.load(temp, strict=False)) == 2
    data = path.read_bytes()
    assert len(frame_starts(data)) == 2  # the header's frame, then one for the whole session
    assert [[c.data for c in i.chunks] for i in Cassette.load(path)] == [[b"x"], [b"y"]]


def test_later_interactions_compress_against_earlier_ones(tmp_path: Path) -> None:
    """One frame per session: a repeated interaction costs a fraction of the first."""
    chunks = [bytes(range(i, i + 200)) + b"%d" % i for i in range(0, 50, 2)]
    sizes = []
    for count in (1, 2):
        path = tmp_path / f"{count}.ndjson.zst"
        with new_writer(path, flush_interval=None) as writer:
            for _ in range(count):
                write_stream(writer, chunks)
        sizes.append(path.stat().st_size)
    assert sizes[1] - sizes[0] < 0.2 * sizes[0]


def test_a_frame_ends_after_max_frame_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamtape.cassette.writer

    monkeypatch.setattr(streamtape.cassette.writer, "_MAX_FRAME_BYTES", 300)
    path = tmp_path / "c.ndjson.zst"
    streams = [[b"data: %d-%d\n\n" % (n, i) for i in range(5)] for n in range(4)]
    with new_writer(path, flush_interval=None) as writer:
        for chunks in streams:
            write_stream(writer, chunks)
    assert len(frame_starts(path.read_bytes())) > 3  # the header's, then several
    assert [[c.data for c in i.chunks] for i in Cassette.load(path)] == streams


def test_pending_records_reach_the_file_within_the_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    writer = CassetteWriter(path, flush_interval=0.02, atomic=False)
    try:
        rec = writer.begin("GET", "http://h/")
        rec.chunk(b"first\n")  # a chunk ending in a possible key start would wait for the next
        # no further writes: the background timer must flush on its own
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cassette = Cassette.load(path, strict=False)
            if cassette.interactions and cassette[0].chunks:
                break
            time.sleep(0.005)
        assert [c.data for c in cassette[0].chunks] == [b"first\n"]
        assert cassette[0].end is None  # the stream is still open ...
        assert cassette.truncated  # ... and so is its zstd frame
    finally:
        writer.close()
    assert not Cassette.load(path).truncated


def test_records_are_flushed_once_the_interval_passes(tmp_path: Path) -> None:
    now = [0]
    path = tmp_path / "c.ndjson.zst"
    sizes = []
    with new_writer(path, clock=lambda: now[0], flush_interval=0.25, atomic=False) as writer:
        rec = writer.begin("GET", "http://h/")
        header_only = path.stat().st_size  # the header's frame is written at once
        for i in range(10):
            now[0] += 100_000_000  # 100 ms per chunk
            rec.chunk(b"c%d\n" % i)  # line ends: no chunk waits as a possible key start
            sizes.append(path.stat().st_size)
        readable = Cassette.load(path, strict=False)
        assert [c.data for c in readable[0].chunks] == [b"c%d\n" % k for k in range(7)]
        rec.end()
    # a flush comes with the first record >= 250 ms after the oldest unflushed one:
    # after c2 (300 ms after the request), then c6 (300 ms after c3)
    grew = [i for i in range(10) if sizes[i] > (sizes[i - 1] if i else header_only)]
    assert grew == [2, 6]
    assert len(frame_starts(path.read_bytes())) == 2  # the header's; flushes do not end a frame


def test_truncation_never_loses_a_flushed_chunk(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    chunks = [b"data: %d\n\n" % i * (i + 1) for i in range(8)]
    flushed_at = []  # file size once each chunk was flushed
    with new_writer(path, flush_interval=0, atomic=False) as writer:
        write_stream(writer, [b"first interaction"])
        rec = writer.begin("GET", "http://h/2", start_ns=0)
        for i, chunk in enumerate(chunks):
            rec.chunk(chunk, offset_ns=i * 1000)
            flushed_at.append(path.stat().st_size)
        rec.end(offset_ns=10_000)
    data = path.read_bytes()
    last = frame_starts(data)[-1]
    cut_file = tmp_path / "cut.ndjson.zst"
    for cut in range(last, len(data)):
        cut_file.write_bytes(data[:cut])
        cassette = Cassette.load(cut_file, strict=False)
        complete = sum(size <= cut for size in flushed_at)
        got = [c.data for c in cassette[1].chunks] if len(cassette) > 1 else []
        assert got[:complete] == chunks[:complete], cut
        assert got == chunks[: len(got)]


def test_a_cut_in_a_session_frame_keeps_every_ended_interaction(tmp_path: Path) -> None:
    """Without timed flushes, the block flush at each end still makes ended interactions safe."""
    path = tmp_path / "c.ndjson.zst"
    streams = [[b"data: %d-%d\n\n" % (n, i) * (i + 1) for i in range(4)] for n in range(3)]
    ended_at = []  # file size once each interaction had ended
    with new_writer(path, flush_interval=None, atomic=False) as writer:
        for chunks in streams:
            write_stream(writer, chunks)
            ended_at.append(path.stat().st_size)
    data = path.read_bytes()
    [_, start] = frame_starts(data)
    cut_file = tmp_path / "cut.ndjson.zst"
    for cut in range(start + 1, len(data)):
        cut_file.write_bytes(data[:cut])
        cassette = Cassette.load(cut_file, strict=False)
        assert cassette.truncated
        ended = sum(size <= cut for size in ended_at)
        got = [(i.complete, [c.data for c in i.chunks]) for i in cassette]
        assert got[:ended] == [(True, chunks) for chunks in streams[:ended]], cut
        assert ended == len(streams) or len(got) == ended  # nothing of the next was flushed


def test_atomic_write_renames_at_close_and_discard_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "c.ndjson.zst"
    writer = new_writer(path)
    write_stream(writer, [b"one"])
    temp = writer.temp_path
    assert temp is not None
    assert temp.parent == path.parent
    assert temp.name.startswith("c.ndjson.zst.")
    assert temp.name.endswith(".partial")
    assert not path.exists()
    writer.close()
    assert path.exists()
    assert not temp.exists()
    before = path.read_bytes()
    writer = new_writer(path)
    write_stream(writer, [b"two"])
    writer.discard()
    assert path.read_bytes() == before
    assert not writer.temp_path or not writer.temp_path.exists()
    assert list(path.parent.iterdir()) == [path]


def test_concurrent_writers_threads(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with CassetteWriter(path) as writer:

        def run(n: int) -> None:
            rec = writer.begin("GET", f"http://h/{n}")
            for i in range(50):
                rec.chunk(b"%d:%d" % (n, i))
            rec.end()

        threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    cassette = Cassette.load(path)
    by_url = {i.request.url: [c.data for c in i.chunks] for i in cassette}
    assert by_url == {f"http://h/{n}": [b"%d:%d" % (n, i) for i in range(50)] for n in range(8)}


@pytest.mark.parametrize("atomic", [True, False])
def test_append_keeps_old_interactions_and_header(tmp_path: Path, atomic: bool) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path) as writer:
        write_stream(writer, [b"a"], url="http://h/1")
        write_stream(writer, [b"b"], url="http://h/2")
    with new_writer(path, append=True, atomic=atomic, recorded_at="2030-01-01T00:00:00Z") as writer:
        write_stream(writer, [b"c"], url="http://h/3")
    cassette = Cassette.load(path)
    assert [(i.id, i.request.url, i.chunks[0].data) for i in cassette] == [
        (1, "http://h/1", b"a"),
        (2, "http://h/2", b"b"),
        (3, "http://h/3", b"c"),
    ]
    assert cassette.header is not None
    assert cassette.header.recorded_at == "2025-01-02T03:04:05Z"
    assert sum(isinstance(r, Header) for r in Cassette.iter_records(path)) == 1


def test_append_to_missing_file_starts_a_new_cassette(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with new_writer(path, append=True) as writer:
        write_stream(writer, [b"a"])
    assert [i.id for i in Cassette.load(path)] == [1]


def test_append_to_a_damaged_cassette_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    _three_frames(path)
    data = path.read_bytes()
    path.write_bytes(data[:-3])
    with pytest.raises(CassetteError, match="cannot append"):
        CassetteWriter(path, append=True)
    assert path.read_bytes() == data[:-3]


def test_record_structs_encode_with_kind_first() -> None:
    record = ResponseRecord(id=1, dt=2, status=200, http_version="HTTP/1.1")
    assert msgspec.json.encode(record).startswith(b'{"kind":"response","id":1,"dt":2')


# -- timing facts -------------------------------------------------------------------------------


def test_timing_facts_say_whether_a_response_really_streamed(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson.zst"
    frames = [
        b'data: {"type":"response.keep_alive"}',  # no blank line yet: no event
        b"\n\n",
        b'data: {"type":"keepalive"}\n\n',
    ]
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "http://x/v1/responses", start_ns=0)
        rec.response(200, [("content-type", "text/event-stream")], offset_ns=100_000_000)
        for data, at in zip(frames, (200_000_000, 250_000_000, 1_250_000_000), strict=True):
            rec.chunk(data, offset_ns=at)
        rec.end(offset_ns=1_300_000_000)
    timing = Cassette.load(path)[0].timing()
    assert timing.chunks == 3
    assert timing.first_chunk == pytest.approx(0.2)
    assert timing.first_event == pytest.approx(0.25)
    assert timing.largest_gap == pytest.approx(1.0)
    assert timing.duration == pytest.approx(1.3)


def test_the_end_record_keeps_where_the_client_stopped(tmp_path: Path) -> None:
    path = tmp_path / "c.ndjson.zst"
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "http://x/v1/responses", start_ns=0)
        rec.response(200, [], offset_ns=1_000_000)
        rec.chunk(b"data: 1\n\n", offset_ns=2_000_000)
        rec.chunk(b"data: 2\n\n", offset_ns=3_000_000)
        rec.end(
            offset_ns=4_000_000,
            client=ClientStop(chunks=1, bytes=9, offset_ns=2_500_000),
            backpressure_ns=7_000,
        )
        plain = writer.begin("POST", "http://x/v1/responses", start_ns=0)
        plain.end(offset_ns=1_000)
    lines = Cassette.read_ndjson(path).splitlines()
    assert lines[-3] == (
        b'{"kind":"end","id":1,"dt":1000,"outcome":"complete",'
        b'"client":{"chunks":1,"bytes":9,"at":2500},"backpressure_us":7}'
    )
    assert lines[-1] == b'{"kind":"end","id":2,"dt":1,"outcome":"complete"}'  # as before
    first, second = Cassette.load(path)
    assert first.end == StreamEnd(4_000_000, "complete", None, ClientStop(1, 9, 2_500_000), 7_000)
    assert first.timing().client_chunks == 1
    assert first.timing().client_end == pytest.approx(0.0025)
    assert second.end == StreamEnd(1_000, "complete")
    assert second.end.client is None
    assert second.timing().client_end is None


def test_time_to_first_token_is_the_first_delta_with_content(tmp_path: Path) -> None:
    path = tmp_path / "t.ndjson.zst"
    frames = [
        b'data: {"type":"response.created","response":{"id":"r"}}\n\n',
        b'data: {"type":"response.output_text.delta","item_id":"m","output_index":0,'
        b'"content_index":0,"delta":""}\n\n',  # an empty delta carries no token
        b'data: {"type":"response.reasoning_text.delta","item_id":"m","output_index":0,'
        b'"content_index":0,"delta":"Hm"}\n\n',
    ]
    with CassetteWriter(path, flush_interval=None) as writer:
        rec = writer.begin("POST", "http://x/v1/responses", start_ns=0)
        rec.response(200, [("content-type", "text/event-stream")], offset_ns=100_000_000)
        for data, at in zip(frames, (200_000_000, 300_000_000, 700_000_000), strict=True):
            rec.chunk(data, offset_ns=at)
        rec.end(offset_ns=800_000_000)
    timing = Cassette.load(path)[0].timing()
    assert timing.first_event == pytest.approx(0.2)
    assert timing.first_token == pytest.approx(0.7)


# -- format 2.0 files written before one frame spanned a writer session --------------------------

V2 = sorted((Path(__file__).parent / "fixtures" / "streamtape-v2").glob("*.ndjson.zst"))


@pytest.mark.parametrize("old", V2, ids=lambda p: p.name)
def test_format_2_0_files_with_a_frame_per_interaction_still_read(old: Path) -> None:
    cassette = Cassette.load(old)
    assert cassette.header is not None
    assert (cassette.header.version, cassette.header.dictionary) == ("2.0", DICTIONARY_ID)
    assert len(frame_starts(old.read_bytes())) == 1 + len(cassette)  # the old layout
    for inter in cassette:
        assert inter.end is not None
        assert inter.chunks
        assert inter.events()
    assert [r for r in Cassette.iter_records(old) if isinstance(r, Header)] == [cassette.header]


@pytest.mark.parametrize("atomic", [True, False])
def test_appending_to_a_format_2_0_file_keeps_its_bytes(tmp_path: Path, atomic: bool) -> None:
    [old] = [p for p in V2 if p.name == "three-interactions.ndjson.zst"]
    path = tmp_path / old.name
    path.write_bytes(old.read_bytes())
    before = Cassette.load(path)
    with new_writer(path, append=True, atomic=atomic) as writer:
        write_stream(writer, [b"data: new\n\n"])
        write_stream(writer, [b"data: newer\n\n"])
    data = path.read_bytes()
    assert data.startswith(old.read_bytes())
    assert len(frame_starts(data)) == len(frame_starts(old.read_bytes())) + 1  # one new frame
    after = Cassette.load(path)
    assert after.header == before.header
    assert [i.id for i in after] == [1, 2, 3, 4, 5]
    assert [[c.data for c in i.chunks] for i in after][:3] == [
        [c.data for c in i.chunks] for i in before
    ]
    assert [[c.data for c in i.chunks] for i in after][3:] == [
        [b"data: new\n\n"],
        [b"data: newer\n\n"],
    ]
