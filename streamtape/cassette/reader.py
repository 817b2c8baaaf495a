"""The streaming cassette reader: checks and decodes the records of a file in constant memory
and assembles them into interactions (``Cassette``)."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import zstandard

from streamtape._version import __version__
from streamtape.cassette.interaction import (
    Chunk,
    ClientStop,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    StreamEnd,
)
from streamtape.cassette.records import (
    DECODER,
    FORMAT_NAME,
    FORMAT_VERSION,
    KNOWN_KINDS,
    PROBE,
    READ_SIZE,
    ChunkRecord,
    EndRecord,
    Header,
    Record,
    RequestRecord,
    ResponseRecord,
    dictionary_bytes,
    frame_dict_id,
    parse_version,
)
from streamtape.errors import CassetteError

__all__ = ["MAX_RECORD", "Cassette"]

_MAX_HELD_BYTES = 8 << 20  # reader: yield unverified lines of a frame beyond this much
MAX_RECORD = 256 << 20
"""Longest record (NDJSON line) a reader accepts by default, in bytes."""
# Compressed bytes per decompression step. An RLE block of 4 bytes makes up to 128 KiB, so no
# step makes more than about 4 MiB, whatever the frame holds.
_STEP = 128
_MAX_RATIO = 1000  # decompressed / compressed beyond this (plus the slack) is refused
_RATIO_SLACK = 32 << 20


class _Damage(Exception):
    """Internal: the file is damaged (truncated, corrupt); lenient reading stops quietly."""

    def __init__(self, error: CassetteError) -> None:
        super().__init__(str(error))
        self.error = error


class _Reader:
    """Decode a cassette file line by line in constant memory.

    Lines are held until the zstd frame holding them has ended (and so passed its checksum);
    the complete lines of a truncated last frame are still given out. Each frame is decompressed
    with the dictionary its own frame header names (none: none), so files mixing frames with and
    without a dictionary read. Damage stops the iteration and is left in ``error``; refusals (not
    a cassette, newer major, a dictionary this version does not ship) raise.
    """

    def __init__(self, path: str | os.PathLike[str], max_record: int = MAX_RECORD) -> None:
        self.path = str(path)
        self.max_record = max_record
        self.error: CassetteError | None = None
        self.record = 0  # number of the last line given out (1 = the header)
        self.frame_offset = 0  # file offset of the frame holding that line
        self.header: Header | None = None
        self._plain = zstandard.ZstdDecompressor()
        self._dctx: dict[int, zstandard.ZstdDecompressor] = {}

    def _fail(self, message: str, record: int, offset: int) -> CassetteError:
        return CassetteError(
            f"{self.path}: record {record} at byte {offset}: {message}",
            path=self.path,
            record=record,
            offset=offset,
        )

    def __iter__(self) -> Iterator[Record]:
        try:
            yield from self._records()
        except _Damage as damage:
            self.error = damage.error

    def _records(self) -> Iterator[Record]:
        try:
            file = open(self.path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise CassetteError(f"cannot open cassette {self.path}: {exc}", path=self.path) from exc
        with file:
            dobj: zstandard.ZstdDecompressionObj | None = None
            frame_start = pos = 0
            head = b""  # the start of a frame whose frame header is not complete yet
            self._line: list[bytes] = []  # pieces of the line not ended yet
            self._line_len = 0
            held: list[tuple[bytes, int]] = []  # complete lines, with their frame's offset
            held_bytes = 0
            number = 0
            unverified = 0  # lines of the current frame given out before its checksum passed
            total = 0  # decompressed bytes so far
            while data := file.read(READ_SIZE):
                if head:
                    data, head = head + data, b""
                view = memoryview(data)
                i = 0
                while i < len(view):
                    if dobj is None:
                        dict_id = frame_dict_id(bytes(view[i : i + 18]))
                        if dict_id is None:
                            head = bytes(view[i:])
                            break
                        frame_start = pos
                        unverified = 0
                        dobj = self._decompressor(dict_id, number + 1, pos).decompressobj()
                    step = view[i : i + _STEP]
                    try:
                        out = dobj.decompress(step)
                    except zstandard.ZstdError as exc:
                        if pos == 0:  # not even the first frame: not a cassette at all
                            message = f"not a streamtape cassette: not zstd data ({exc})"
                            raise self._fail(message, 1, 0) from exc
                        message = f"corrupt zstd frame ({exc})"
                        if unverified:
                            message += (
                                f"; records {number - unverified + 1}-{number} of this frame "
                                f"were read before its checksum could be checked (it holds "
                                f"over {_MAX_HELD_BYTES >> 20} MiB) and may be damaged too"
                            )
                        raise _Damage(self._fail(message, number + 1, frame_start)) from exc
                    used = len(step)
                    if dobj.eof:
                        used -= len(dobj.unused_data)
                        dobj = None
                    pos += used
                    i += used
                    total += len(out)
                    if total > _RATIO_SLACK + _MAX_RATIO * pos:
                        raise _Damage(
                            self._fail(
                                f"{pos} bytes of the file decompress to over {total} bytes, "
                                f"more than {_MAX_RATIO}x: not a cassette streamtape wrote "
                                "(a zstd bomb?)",
                                number + len(held) + 1,
                                frame_start,
                            )
                        )
                    try:
                        held_bytes += self._split(out, held, frame_start, number)
                    except _Damage:  # a record too long: the complete ones before it count
                        for line, offset in held:
                            number += 1
                            record = self._decode(line, number, offset)
                            if record is not None:
                                yield record
                        raise
                    if dobj is None or held_bytes > _MAX_HELD_BYTES:
                        if dobj is not None:
                            unverified += len(held)
                        for line, offset in held:
                            number += 1
                            record = self._decode(line, number, offset)
                            if record is not None:
                                yield record
                        held.clear()
                        held_bytes = 0
            # the end of the file
            for line, offset in held:
                number += 1
                record = self._decode(line, number, offset)
                if record is not None:
                    yield record
            if dobj is not None or head:
                if head:
                    frame_start = pos
                raise _Damage(
                    self._fail(
                        f"truncated: the zstd frame starting here is cut off at byte "
                        f"{pos + len(head)} (file end)",
                        number + 1,
                        frame_start,
                    )
                )
            if self._line:
                number += 1
                record = self._decode(b"".join(self._line), number, frame_start)
                if record is not None:
                    yield record
            if self.header is None:
                raise _Damage(self._fail("empty cassette: no header record", 1, 0))

    def _split(
        self, out: bytes, held: list[tuple[bytes, int]], frame_start: int, number: int
    ) -> int:
        """Add the lines that ``out`` completes to ``held``; keep the unended rest. Returns the
        bytes added. A line longer than ``max_record`` is damage, found as it grows."""
        added = 0
        start = 0
        while (end := out.find(b"\n", start)) >= 0:
            if self._line:
                line = b"".join([*self._line, out[start:end]])
                self._line.clear()
                self._line_len = 0
            else:
                line = out[start:end]
            self._check_length(len(line), number + len(held) + 1, frame_start)
            held.append((line, frame_start))
            added += len(line) + 1
            start = end + 1
        if start < len(out):
            self._line.append(out[start:])
            self._line_len += len(out) - start
            self._check_length(self._line_len, number + len(held) + 1, frame_start)
        return added

    def _check_length(self, length: int, number: int, offset: int) -> None:
        if length > self.max_record:
            raise _Damage(
                self._fail(
                    f"a record longer than {self.max_record} bytes (max_record), read from the "
                    "zstd frame starting here",
                    number,
                    offset,
                )
            )

    def _decompressor(self, dict_id: int, number: int, offset: int) -> zstandard.ZstdDecompressor:
        """A decompressor for a frame made with dictionary ``dict_id`` (0: none)."""
        if dict_id == 0:
            return self._plain
        dctx = self._dctx.get(dict_id)
        if dctx is None:
            try:
                zdict = zstandard.ZstdCompressionDict(dictionary_bytes(dict_id))
            except KeyError:
                error = self._fail(
                    f"the zstd frame starting here needs dictionary id {dict_id}, which this "
                    f"streamtape ({__version__}) does not have: upgrade streamtape",
                    number,
                    offset,
                )
                if self.header is not None and self.header.dictionary == dict_id:
                    raise error from None  # a newer streamtape made the file: refuse it
                raise _Damage(error) from None  # no header names it: a corrupt frame header
            dctx = self._dctx[dict_id] = zstandard.ZstdDecompressor(dict_data=zdict)
        return dctx

    def _decode(self, line: bytes, number: int, offset: int) -> Record | None:
        """Decode one line; None for blank lines and unknown kinds (newer minor versions)."""
        self.record, self.frame_offset = number, offset
        if not line.strip():
            return None
        try:
            record: Record = DECODER.decode(line)
        except msgspec.DecodeError as exc:
            self._undecodable(line, number, offset, exc)  # raises, or skips an unknown kind
            return None
        if self.header is None:
            if not isinstance(record, Header):
                raise self._fail(
                    "not a streamtape cassette: no header record first", number, offset
                )
            if record.format != FORMAT_NAME:
                raise self._fail(
                    "not a streamtape cassette (the first record is not its header)", number, offset
                )
            self._check_version(record.version, number, offset)
            self.header = record
        return record

    def _check_version(self, version: str, number: int, offset: int) -> None:
        """Refuse a header whose version is malformed or of a newer major."""
        try:
            major, _minor = parse_version(version)
        except ValueError:
            raise self._fail(f"bad format version {version!r}", number, offset) from None
        if major > FORMAT_VERSION[0]:
            raise self._fail(
                f"cassette format {version} is newer than this streamtape ({__version__}) "
                f"reads ({FORMAT_VERSION[0]}.x): upgrade streamtape",
                number,
                offset,
            )

    def _undecodable(self, line: bytes, number: int, offset: int, exc: msgspec.DecodeError) -> None:
        """Raise the right error for a line that did not decode; return for unknown kinds."""
        try:
            probe = PROBE.decode(line)
        except msgspec.DecodeError:
            raise _Damage(self._fail(f"not a JSON record ({exc})", number, offset)) from None
        if self.header is None:
            if probe.kind != "header" or probe.format != FORMAT_NAME:
                raise self._fail(
                    "not a streamtape cassette (the first record is not its header)", number, offset
                )
            version = probe.version if isinstance(probe.version, str) else ""
            self._check_version(version, number, offset)
            raise self._fail(f"bad header ({exc})", number, offset)
        if isinstance(probe.kind, str) and probe.kind not in KNOWN_KINDS:
            return  # a kind added by a newer minor version: skipped
        raise _Damage(self._fail(f"invalid {probe.kind} record ({exc})", number, offset))


class _Assembler:
    """Turns records into interactions, checking that they fit together."""

    def __init__(self, reader: _Reader, *, keep: bool = True) -> None:
        self._reader = reader
        self._keep = keep  # keep every interaction in ``order`` (load) or only the open ones
        self.open: dict[int, tuple[Interaction, list[int]]] = {}  # id -> (interaction, [µs])
        self.order: list[Interaction] = []
        self._seen: set[int] = set()

    def _fail(self, message: str) -> _Damage:
        r = self._reader
        return _Damage(r._fail(message, r.record, r.frame_offset))

    def feed(self, record: Record) -> Interaction | None:
        """Add one record; return the interaction it ended, if any."""
        if isinstance(record, Header):
            if self._reader.record != 1:
                raise self._fail("a second header record")
            return None
        if isinstance(record, RequestRecord):
            if record.id in self._seen:
                raise self._fail(f"interaction {record.id} is recorded twice")
            self._seen.add(record.id)
            try:
                body = (
                    base64.b64decode(record.body_b64, validate=True)
                    if record.body_b64
                    else (record.body.encode("utf-8"))
                )
            except binascii.Error as exc:
                raise self._fail(f"bad base64 body ({exc})") from None
            inter = Interaction(
                record.id, RecordedRequest(record.method, record.url, record.headers, body)
            )
            self.open[record.id] = (inter, [0])
            if self._keep:
                self.order.append(inter)
            return None
        assert isinstance(record, (ResponseRecord, ChunkRecord, EndRecord))
        try:
            inter, clock = self.open[record.id]
        except KeyError:
            kind = type(record).__struct_config__.tag
            raise self._fail(f"{kind} record of unknown or ended interaction {record.id}") from None
        if record.dt < 0:
            raise self._fail("negative time gap")
        clock[0] += record.dt
        offset_ns = clock[0] * 1000
        if isinstance(record, ResponseRecord):
            inter.response = RecordedResponse(
                record.status, record.http_version, record.reason, record.headers, offset_ns
            )
        elif isinstance(record, ChunkRecord):
            try:
                data = (
                    base64.b64decode(record.b64, validate=True)
                    if record.b64 is not None
                    else (record.text or "").encode("utf-8")
                )
            except binascii.Error as exc:
                raise self._fail(f"bad base64 chunk ({exc})") from None
            inter.chunks.append(Chunk(offset_ns, data))
        else:
            client = record.client
            inter.end = StreamEnd(
                offset_ns,
                record.outcome,
                record.error,
                None
                if client is None
                else ClientStop(client.chunks, client.bytes, client.at * 1000),
                record.backpressure_us * 1000,
            )
            del self.open[record.id]
            return inter
        return None


class Cassette:
    """The interactions of a cassette, in the order their requests were recorded.

    ``truncated`` is True (and ``error`` says where) when a lenient load stopped at damage.
    """

    def __init__(
        self,
        interactions: Iterable[Interaction] = (),
        *,
        header: Header | None = None,
        path: str | os.PathLike[str] | None = None,
        error: CassetteError | None = None,
    ) -> None:
        self.interactions = list(interactions)
        self.header = header
        self.path = None if path is None else str(path)
        self.error = error

    @property
    def truncated(self) -> bool:
        """True when reading stopped early at a damaged (cut off or corrupt) part of the file."""
        return self.error is not None

    def __repr__(self) -> str:
        flag = ", truncated" if self.truncated else ""
        return f"<Cassette {self.path!r}: {len(self.interactions)} interactions{flag}>"

    def __len__(self) -> int:
        return len(self.interactions)

    def __iter__(self) -> Iterator[Interaction]:
        return iter(self.interactions)

    def __getitem__(self, index: int) -> Interaction:
        return self.interactions[index]

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, strict: bool = True, max_record: int = MAX_RECORD
    ) -> Cassette:
        """Read a whole cassette.

        Raises CassetteError naming the file, record number and byte offset when the file is
        cut off or corrupt (``strict=False`` instead returns every interaction read before the
        damage, with ``truncated`` set), and always when it is not a cassette or its major
        version is newer than this reader. A record longer than ``max_record`` bytes, or a file
        that decompresses to over 1000 times its size (a zstd bomb), is damage too: memory stays
        bounded whatever the file holds.
        """
        reader = _Reader(path, max_record)
        assembler = _Assembler(reader)
        try:
            for record in reader:
                assembler.feed(record)
        except _Damage as damage:
            reader.error = damage.error
        if reader.error is not None and strict:
            raise reader.error
        return cls(assembler.order, header=reader.header, path=path, error=reader.error)

    @staticmethod
    def iter_records(
        path: str | os.PathLike[str], *, max_record: int = MAX_RECORD
    ) -> Iterator[Record]:
        """Yield every record (header first) in constant memory.

        Unknown record kinds are skipped. Damage raises CassetteError (file, record number, byte
        offset of the broken zstd frame) after every complete record before it was yielded;
        ``max_record`` as in :meth:`load`.
        """
        reader = _Reader(path, max_record)
        yield from reader
        if reader.error is not None:
            raise reader.error

    @staticmethod
    def read_ndjson(path: str | os.PathLike[str]) -> bytes:
        """The whole decompressed NDJSON of a file, unparsed (for inspection and tests), each
        frame decompressed with its own dictionary; raises CassetteError on damage."""
        data = Path(path).read_bytes()
        view = memoryview(data)  # frames are handed on without copying the rest of the file
        out: list[bytes] = []
        reader = _Reader(path)
        pos = 0
        while pos < len(data):
            dict_id = frame_dict_id(data[pos : pos + 18])
            try:
                dobj = reader._decompressor(dict_id or 0, 0, pos).decompressobj()
                out.append(dobj.decompress(view[pos:]))
            except (zstandard.ZstdError, _Damage) as exc:
                message = f"{path}: corrupt zstd frame at byte {pos} ({exc})"
                raise CassetteError(message, path=str(path), offset=pos) from exc
            if not dobj.eof:
                message = f"{path}: truncated zstd frame at byte {pos}"
                raise CassetteError(message, path=str(path), offset=pos)
            pos = len(data) - len(dobj.unused_data)
        return b"".join(out)

    @staticmethod
    def iter_interactions(
        path: str | os.PathLike[str], *, strict: bool = True, max_record: int = MAX_RECORD
    ) -> Iterator[Interaction]:
        """Yield each interaction when its end record is read (memory: the open ones only),
        then the unfinished ones; damage raises as in :meth:`load` unless ``strict=False``."""
        reader = _Reader(path, max_record)
        assembler = _Assembler(reader, keep=False)
        try:
            for record in reader:
                done = assembler.feed(record)
                if done is not None:
                    yield done
        except _Damage as damage:
            reader.error = damage.error
        yield from (inter for inter, _ in assembler.open.values())
        if reader.error is not None and strict:
            raise reader.error
