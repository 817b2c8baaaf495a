"""The streaming cassette writer: records interactions as they happen, in zstd frames that a
killed process leaves readable."""

from __future__ import annotations

import base64
import datetime
import os
import platform
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

import zstandard

from streamtape._version import __version__
from streamtape._vocabulary import EndState
from streamtape.cassette.interaction import ClientStop, content_encodings
from streamtape.cassette.lock import DEFAULT_LOCK_TIMEOUT, CassetteLock
from streamtape.cassette.reader import Cassette
from streamtape.cassette.records import (
    DICTIONARIES,
    DICTIONARY_ID,
    ENCODER,
    FORMAT_NAME,
    FORMAT_VERSION,
    READ_SIZE,
    ChunkRecord,
    ClientInfo,
    Derivation,
    EndRecord,
    ErrorInfo,
    Header,
    Record,
    RequestRecord,
    ResponseRecord,
    compression_dict,
)
from streamtape.errors import CassetteError
from streamtape.redact import DEFAULT_REDACTOR, BodyStream, Redactor

__all__ = ["DEFAULT_LOCK_TIMEOUT", "CassetteWriter", "InteractionWriter"]

_FLUSH_INTERVAL = 0.25  # seconds: longest time a written record waits to reach the file
_MAX_FRAME_BYTES = 1 << 20  # uncompressed bytes after which a frame ends anyway


@cache
def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _text_or_b64(data: bytes) -> tuple[str | None, str | None]:
    """(text, None) when ``data`` is valid UTF-8 on its own, else (None, base64)."""
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, base64.b64encode(data).decode("ascii")


def _error_info(
    error: BaseException | ErrorInfo | None, redactor: Redactor | None
) -> ErrorInfo | None:
    if error is None or isinstance(error, ErrorInfo):
        return error
    message = str(error)
    if redactor is not None:
        message = redactor.chunk(message.encode("utf-8", "surrogateescape")).decode(
            "utf-8", "replace"
        )
    return ErrorInfo(type=type(error).__name__, message=message)


class InteractionWriter:
    """Appends the records of one interaction; got from :meth:`CassetteWriter.begin`.

    Offsets are nanoseconds since the request was sent; by default they are read from the
    writer's clock at the call. They are stored as whole microseconds, gap by gap.
    """

    def __init__(self, writer: CassetteWriter, id: int, start_ns: int) -> None:
        self.id = id
        self._writer = writer
        self._start_ns = start_ns
        self._last_us = 0
        self._encoded = False
        self._body: BodyStream | None = None  # redacts the body as one text, chunk by chunk
        self._held: deque[int] = deque()  # offsets of the chunks the body stream still holds
        self.ended = False

    def _dt(self, offset_ns: int | None) -> int:
        if offset_ns is None:
            offset_ns = max(self._writer._clock() - self._start_ns, self._last_us * 1000)
        us = offset_ns // 1000
        if us < self._last_us:
            raise ValueError(f"offset {offset_ns} ns is before the previous record's")
        dt, self._last_us = us - self._last_us, us
        return dt

    def response(
        self,
        status: int,
        headers: Sequence[tuple[str, str]],
        *,
        http_version: str = "HTTP/1.1",
        reason: str = "",
        offset_ns: int | None = None,
    ) -> None:
        """Record the response head (headers as received, order kept, then redacted)."""
        redactor = self._writer.redactor
        self._encoded = bool(content_encodings(headers))
        kept = redactor.response_headers(list(headers)) if redactor else list(headers)
        with self._writer._lock:
            if self.ended:
                return
            self._writer._write(
                ResponseRecord(
                    id=self.id,
                    dt=self._dt(offset_ns),
                    status=status,
                    http_version=http_version,
                    headers=kept,
                    reason=reason,
                )
            )

    def chunk(self, data: bytes, *, offset_ns: int | None = None) -> None:
        """Record one body chunk. Content-encoded chunks are kept as they are (redacting
        compressed bytes could only corrupt them); others pass the redactor as one stream: a
        chunk whose end could be the start of a key is written when the next chunk (or the end)
        shows, with its own offset, so chunk boundaries and times stay as read while a key
        split over chunks is redacted whole. The caller's data is never held up."""
        redactor = self._writer.redactor
        with self._writer._lock:
            if self.ended:
                return
            if redactor is None or self._encoded:
                self._write_chunk(data, self._dt(offset_ns))
                return
            if offset_ns is None:
                last = self._held[-1] if self._held else self._last_us * 1000
                offset_ns = max(self._writer._clock() - self._start_ns, last)
            elif offset_ns < (self._held[-1] if self._held else self._last_us * 1000):
                raise ValueError(f"offset {offset_ns} ns is before the previous record's")
            if self._body is None:
                self._body = redactor.stream()
            self._held.append(offset_ns)
            self._write_settled(self._body.feed(data))

    def _write_chunk(self, data: bytes, dt: int) -> None:
        text, b64 = _text_or_b64(data)
        self._writer._write(ChunkRecord(id=self.id, dt=dt, text=text, b64=b64))

    def _write_settled(self, chunks: list[bytes]) -> None:
        """Write the chunks the body stream has settled, each at its own offset. Lock held."""
        for data in chunks:
            self._write_chunk(data, self._dt(self._held.popleft()))

    def now_ns(self) -> int:
        """Nanoseconds since the request was sent, by the writer's clock: the offset a record
        made now gets (a recorder reads it when a chunk arrives and records the chunk later)."""
        return self._writer._clock() - self._start_ns

    def end(
        self,
        outcome: EndState = "complete",
        *,
        error: BaseException | ErrorInfo | None = None,
        offset_ns: int | None = None,
        client: ClientStop | None = None,
        backpressure_ns: int = 0,
    ) -> None:
        """Record the end of the interaction (once; later calls do nothing) and flush it to the
        file as complete zstd blocks, so every ended interaction reads back after a crash.
        ``client`` is where the client stopped reading, when that differs from the stream's end;
        ``backpressure_ns`` how long reading was held back for a client that lagged behind."""
        info = _error_info(error, self._writer.redactor)
        stop = (
            None
            if client is None
            else ClientInfo(chunks=client.chunks, bytes=client.bytes, at=client.offset_ns // 1000)
        )
        with self._writer._lock:
            if self.ended:
                return
            if self._body is not None:
                self._write_settled(self._body.close())
            self.ended = True
            self._writer._open.pop(self.id, None)
            self._writer._write(
                EndRecord(
                    id=self.id,
                    dt=self._dt(offset_ns),
                    outcome=outcome,
                    error=info,
                    client=stop,
                    backpressure_us=backpressure_ns // 1000,
                ),
                flush=True,
            )


class CassetteWriter:
    """Writes a cassette as the interactions happen, safe to share between threads and tasks.

    Every record passes ``redactor`` first (None keeps everything). One zstd frame holds the
    records of a whole writer session (a new frame starts only after 1 MiB), so later
    interactions compress against the earlier ones. The records are flushed to the file as
    complete zstd blocks at each interaction's end and, while records are pending, at least every
    ``flush_interval`` seconds (a background thread sees to it during stalls), so a killed process
    leaves a file whose records read back up to the last flush. Block flushes keep the
    compression history that a frame end would throw away.
    The NDJSON depends on the input only; the compressed bytes also depend on when flushes fell,
    so pass ``flush_interval=None`` where identical files matter (conversions).

    With ``atomic=True`` the records go to ``<name>.<random>.partial`` next to ``path``, renamed
    over ``path`` by :meth:`close`: readers never see half a file, and after a crash the
    ``.partial`` file is the readable artefact. ``atomic=False`` writes ``path`` in place.
    ``append=True`` keeps the interactions already in ``path`` (new ids continue after them);
    it raises CassetteError when that file is damaged or of a newer major version.

    A writer holds an exclusive lock on ``path`` (``<name>.lock`` beside it) from its creation
    until it is closed or discarded, so writers of the same cassette in several processes take
    turns: another one waits up to ``lock_timeout`` seconds (None: for ever), then raises
    CassetteError naming the holder. An appending writer reads the file it appends to under the
    lock, so interactions another writer added meanwhile are kept.

    The header gets a zstd frame of its own without a dictionary, so any zstd tool (and a reader
    without the dictionary, to refuse the file by its version) can read it; the frames after it
    use the shipped ``dictionary`` (an id of :data:`DICTIONARIES`; None: no dictionary, bigger
    files). Appending keeps the dictionary the file's header names (none for a version 1 file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        redactor: Redactor | None = DEFAULT_REDACTOR,
        level: int = 7,
        atomic: bool = True,
        append: bool = False,
        flush_interval: float | None = _FLUSH_INTERVAL,
        clock: Callable[[], int] = time.perf_counter_ns,
        recorded_at: str | datetime.datetime | None = None,
        source: str | None = None,
        dictionary: int | None = DICTIONARY_ID,
        lock_timeout: float | None = DEFAULT_LOCK_TIMEOUT,
        derived_from: Sequence[Derivation] | None = None,
    ) -> None:
        self.path = Path(path)
        self.source = source
        self.derived_from = None if derived_from is None else list(derived_from)
        self.redactor = redactor
        self.atomic = atomic
        self._clock = clock
        self._interval_ns = None if flush_interval is None else int(flush_interval * 1e9)
        if isinstance(recorded_at, datetime.datetime):
            recorded_at = recorded_at.astimezone(datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            )
        self._recorded_at = recorded_at
        self._level = level
        self._lock = threading.Condition(threading.RLock())
        self._open: dict[int, InteractionWriter] = {}
        self._pending_since: int | None = None  # clock time of the oldest unflushed record
        self._frame_bytes = 0  # uncompressed bytes in the current frame (0: no frame open)
        self._timer: threading.Thread | None = None
        self.closed = False

        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file_lock = CassetteLock(self.path, lock_timeout)
        self._file_lock.acquire()
        try:
            self._open_file(append, dictionary)
        except BaseException:
            self._file_lock.release()
            raise

    def _open_file(self, append: bool, dictionary: int | None) -> None:
        """Check what is there to append to and open the file to write. Lock held."""
        existing = self._scan_existing() if append else None
        old_ids: int | None = None
        if existing is not None:
            old_ids, dictionary = existing
        if dictionary is not None and dictionary not in DICTIONARIES:
            known = ", ".join(map(str, DICTIONARIES))
            raise CassetteError(
                f"{self.path}: unknown cassette dictionary id {dictionary} (this streamtape "
                f"{__version__} has {known}): upgrade streamtape",
                path=str(self.path),
            )
        self.dictionary = dictionary
        self._cctx = zstandard.ZstdCompressor(
            level=self._level,
            write_checksum=True,
            dict_data=None if dictionary is None else compression_dict(dictionary, self._level),
        )
        self._cobj = self._cctx.compressobj()
        self._next_id = 1 if old_ids is None else old_ids + 1
        self._header_written = old_ids is not None
        if self.atomic:
            self.temp_path: Path | None = self._create_temp()
            self._file: IO[bytes] = open(self.temp_path, "wb")  # noqa: SIM115 - closed in close()
            if old_ids is not None:
                with open(self.path, "rb") as old:
                    while block := old.read(READ_SIZE):
                        self._file.write(block)
        else:
            self.temp_path = None
            mode = "ab" if old_ids is not None else "wb"
            self._file = open(self.path, mode)  # noqa: SIM115 - closed in close()

    def _scan_existing(self) -> tuple[int, int | None] | None:
        """Check an existing cassette for appending; return its highest interaction id and the
        dictionary its header names."""
        try:
            if self.path.stat().st_size == 0:
                return None
        except FileNotFoundError:
            return None
        top = 0
        dictionary: int | None = None
        try:
            for record in Cassette.iter_records(self.path):
                if isinstance(record, RequestRecord):
                    top = max(top, record.id)
                elif isinstance(record, Header):
                    dictionary = record.dictionary
        except CassetteError as exc:
            raise CassetteError(
                f"cannot append to {self.path}: {exc}",
                path=str(self.path),
                record=exc.record,
                offset=exc.offset,
            ) from exc
        return top, dictionary

    def _create_temp(self) -> Path:
        while True:
            temp = self.path.with_name(f"{self.path.name}.{secrets.token_hex(4)}.partial")
            try:
                fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                continue
            os.close(fd)
            return temp

    def __enter__(self) -> CassetteWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def begin(
        self,
        method: str,
        url: str,
        headers: Sequence[tuple[str, str]] = (),
        body: bytes = b"",
        *,
        start_ns: int | None = None,
    ) -> InteractionWriter:
        """Record a request (redacted) and return the writer for the rest of its interaction.

        ``start_ns`` is the writer-clock time the request was sent (default: now).
        """
        if self.redactor is not None:
            url, kept, body = self.redactor.request(method, url, list(headers), body)
        else:
            kept = list(headers)
        text, b64 = _text_or_b64(body)
        with self._lock:
            if self.closed:
                raise CassetteError("the cassette writer is closed", path=str(self.path))
            if not self._header_written:
                self._write_header(url)
            inter = InteractionWriter(
                self, self._next_id, self._clock() if start_ns is None else start_ns
            )
            self._next_id += 1
            self._open[inter.id] = inter
            self._write(
                RequestRecord(
                    id=inter.id,
                    method=method,
                    url=url,
                    headers=kept,
                    body=text or "",
                    body_b64=b64 or "",
                )
            )
        return inter

    def _write_header(self, url: str | None) -> None:
        host = None
        if url:
            parts = urlsplit(url)
            host = parts.netloc.rpartition("@")[2] or None
        recorded_at = self._recorded_at or datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        self._header_written = True
        header = Header(
            format=FORMAT_NAME,
            version=f"{FORMAT_VERSION[0]}.{FORMAT_VERSION[1]}",
            streamtape=__version__,
            recorded_at=recorded_at,
            python=platform.python_version(),
            httpx=_dist_version("httpx"),
            httpx2=_dist_version("httpx2"),
            host=host,
            source=self.source,
            dictionary=self.dictionary,
            derived_from=self.derived_from,
        )
        # a frame of its own, without the dictionary: any zstd tool or older reader can read it
        plain = zstandard.ZstdCompressor(level=self._level, write_checksum=True)
        self._file.write(plain.compress(ENCODER.encode(header) + b"\n"))
        self._file.flush()

    def _write(self, record: Record, *, flush: bool = False) -> None:
        """Compress one line; end the frame when big, flush when asked or due. Lock held."""
        line = ENCODER.encode(record) + b"\n"
        out = self._cobj.compress(line)
        if out:
            self._file.write(out)
        self._frame_bytes += len(line)
        now = self._clock()
        if self._pending_since is None:
            self._pending_since = now
            self._start_timer()
        if self._frame_bytes >= _MAX_FRAME_BYTES:
            self._end_frame()
        elif flush or (
            self._interval_ns is not None and now - self._pending_since >= self._interval_ns
        ):
            self._flush_block()

    def _flush_block(self) -> None:
        """Hand everything written so far to the OS as complete zstd blocks. Lock held."""
        self._file.write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
        self._file.flush()
        self._pending_since = None

    def _end_frame(self) -> None:
        """Finish the current zstd frame and hand it to the OS. Lock held."""
        if not self._frame_bytes:
            return
        self._file.write(self._cobj.flush(zstandard.COMPRESSOBJ_FLUSH_FINISH))
        self._file.flush()
        self._cobj = self._cctx.compressobj()
        self._pending_since = None
        self._frame_bytes = 0

    def _start_timer(self) -> None:
        if self._interval_ns is None:
            return
        if self._timer is None:
            self._timer = threading.Thread(
                target=self._run_timer, name="streamtape-cassette-flush", daemon=True
            )
            self._timer.start()
        else:
            self._lock.notify_all()

    def _run_timer(self) -> None:
        """Flush pending records once they are ``flush_interval`` old, even if no record comes."""
        assert self._interval_ns is not None
        with self._lock:
            while not self.closed:
                if self._pending_since is None:
                    self._lock.wait()
                    continue
                remaining = self._pending_since + self._interval_ns - self._clock()
                if remaining <= 0:
                    self._flush_block()
                else:
                    self._lock.wait(remaining / 1e9)

    def flush(self, *, end_frame: bool = True) -> None:
        """Hand everything written so far to the file, readable: by ending the zstd frame (it is
        then verified by its checksum too), or with ``end_frame=False`` as complete zstd blocks,
        which keeps the frame's compression history."""
        with self._lock:
            if self.closed:
                return
            if end_frame:
                self._end_frame()
            else:
                self._flush_block()

    def close(self) -> None:
        """End open interactions as ``interrupted``, finish the file and (atomic) rename it."""
        try:
            self._finish()
            if self.temp_path is not None:
                os.replace(self.temp_path, self.path)
        finally:
            self._file_lock.release()

    def discard(self) -> None:
        """Stop writing; with ``atomic=True`` delete the temp file and leave ``path`` untouched."""
        try:
            self._finish()
            if self.temp_path is not None:
                self.temp_path.unlink(missing_ok=True)
        finally:
            self._file_lock.release()

    def _finish(self) -> None:
        with self._lock:
            if self.closed:
                return
            for inter in list(self._open.values()):
                inter.end("interrupted")
            if not self._header_written:
                self._write_header(None)
            self._end_frame()
            self.closed = True
            self._lock.notify_all()
            self._file.close()
        if self._timer is not None:
            self._timer.join()
