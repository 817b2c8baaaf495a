"""A sans-IO, incremental parser for server-sent events (the WHATWG "event stream interpretation").

Feed it bytes split anywhere; it returns the frames completed so far and never raises on any input.
It does no IO: transports, the decoder and the CLI feed it. Every path through it costs time linear
in the bytes fed, whatever their shape or however they are split.

Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable

import msgspec

__all__ = ["SPEEDUPS", "SSEFrame", "SSEParser"]

_BOM = b"\xef\xbb\xbf"

# The decoder's fast path, `find_frames`, reads whole frames and gives the payloads of standard
# ones joined by LF, ready for msgspec's `decode_lines`. A standard frame dispatches exactly one
# payload, one `data` line whose value opens `{` or `[`: no payload of a run is then blank
# (msgspec's `decode_lines` skips blank lines, and would then accept two values on one line
# without the count showing it) and none holds an LF. Its other lines (`event`, `id`, `retry`,
# comments, unknown fields) and its line ends do not matter to the decoder, which reads only the
# payload.
#
# In Python, runs of the usual shape are matched by one regular expression: field lines, one
# `data:` line, field lines, a blank line, every line ending in LF. Each part can match in one way
# only, so an anchored match costs time linear in the frame; each `.*` (any byte but LF) is directly
# followed by a literal LF, which lets sre give a failed match back at memchr speed. The match is
# never let past the next CR (`endpos`), so a CR-only stream does not make `.*` run to its end.
_FIELDS = rb"(?:(?:event|id|retry|):.*\n){0,3}"
_RUN = re.compile(rb"(?:" + _FIELDS + rb"data: ?[{[].*\n" + _FIELDS + rb"\n)+")
# Group 1: the payload. Only for `findall` over a run `_RUN` matched, where nothing backtracks.
_PAYLOADS = re.compile(_FIELDS + rb"data: ?([{[].*)\n" + _FIELDS + rb"\n")
# A blank line's end follows another line end: LF LF, CR CR or LF CR begins one ("\r\n" is one
# line end, not a blank line).
_PAIRS = (b"\n\n", b"\r\r", b"\n\r")
_OPENERS = (b"{", b"[")

Found = tuple[bytes, int, int, int | None, bytes | None]
FindFrames = Callable[[bytes, int], bytes | Found]


def _py_find_frames(buf: bytes, start: int) -> bytes | Found:
    """The frames at `buf[start:]`: standard payloads joined, and the first other payload.

    Contract (the C `streamtape._speedups.find_frames` is the same function, tested equal on every
    input): `buf` is `bytes`, `0 <= start <= len(buf)` (else `TypeError` / `ValueError`), and
    `start` is a frame start. Frames are read one after another, through their blank line; line
    ends are LF, CR or CR LF, and a CR at the end of `buf` is a whole line end. A frame with no
    `data` line dispatches nothing and is passed over. A standard frame (one `data` line, whose
    value opens `{` or `[`) adds its payload. Returns `(joined, count, end, odd_end, odd)`:

    - `count` standard frames, and the others passed over, lie between `start` and `end`;
      `joined` is their payloads joined by LF (`b""` when `count` is 0);
    - the frame at `end` dispatches another payload (two `data` lines or more, or one not opening
      `{` or `[`): it ends at `odd_end` and `odd` is its payload (the `data` values joined by LF);
      or both are `None`, and the frame at `end` is unfinished (or `end == len(buf)`);
    - but when `buf[start:]` is exactly one standard frame (count 1, `end == len(buf)`: a live
      stream's usual read), the result is its payload alone, the bytes object `joined`.

    Nothing at or after `odd_end` changes the result (the C version looks at most 63 bytes
    further: it reads 64 at a time), and no byte is read twice: a call costs time linear in
    `(odd_end or len(buf)) - start`, whatever the shape of the frames.
    """
    if type(buf) is not bytes:
        raise TypeError("find_frames() argument 1 must be bytes")
    n = len(buf)
    if not 0 <= start <= n:
        raise ValueError("find_frames() start out of range")
    payloads: list[bytes] = []
    pos, cr = start, -1  # `cr`: the first CR at or after `pos` (`n` for none), found lazily
    while pos < n:
        if cr < pos:
            cr = buf.find(13, pos)
            cr = n if cr < 0 else cr
        run = _RUN.match(buf, pos, cr)
        if run is not None:
            payloads += _PAYLOADS.findall(buf, pos, run.end())  # frame after frame, from `pos`
            pos = run.end()
            continue
        end = _frame_end(buf, pos, n)
        if end < 0:
            break
        values = _data_values(buf[pos:end])
        if len(values) == 1 and values[0][:1] in _OPENERS:
            payloads.append(values[0])
        elif values:
            return _joined(payloads), len(payloads), pos, end, b"\n".join(values)
        pos = end
    if pos == n and len(payloads) == 1:
        return payloads[0]
    return _joined(payloads), len(payloads), pos, None, None


def _found(result: bytes | Found, buf: bytes) -> Found:
    """A `find_frames` result as the tuple, also when it was one frame's payload alone."""
    return (result, 1, len(buf), None, None) if isinstance(result, bytes) else result


def _joined(payloads: list[bytes]) -> bytes:
    return payloads[0] if len(payloads) == 1 else b"\n".join(payloads)  # one: itself, no copy


def _frame_end(buf: bytes, pos: int, n: int) -> int:
    """The offset just past the blank line of the frame at `buf[pos]` (a frame start), or -1.

    The blank line is found by the first line end right after another, searched for in windows
    that double, so the search reads about as far as the frame and no further.
    """
    if buf[pos] == 10 or buf[pos] == 13:  # the frame is a blank line
        blank = pos
    else:
        low, width = pos, 1024
        while True:
            high = min(n, low + width)
            pair = _first_pair(buf, max(pos, low - 1), high)  # a pair may straddle the seam
            if pair >= 0:
                blank = pair + 1
                break
            if high == n:
                return -1
            low, width = high, width * 2
    return blank + 2 if buf[blank] == 13 and buf[blank + 1 : blank + 2] == b"\n" else blank + 1


def _first_pair(buf: bytes, low: int, high: int) -> int:
    """Where the first of LF LF, CR CR and LF CR starts in `buf[low:high]`, or -1."""
    if buf.find(13, low, high) < 0:
        return buf.find(b"\n\n", low, high)
    if buf.find(10, low, high) < 0:
        return buf.find(b"\r\r", low, high)
    found = [i for i in (buf.find(pair, low, high) for pair in _PAIRS) if i >= 0]
    return min(found) if found else -1


def _data_values(frame: bytes) -> list[bytes]:
    """The values of a whole frame's `data` lines, in order (one space after the colon off)."""
    if 13 in frame:
        frame = frame.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if frame.count(b"data") > 4:  # many: line by line
        return [
            line[6:] if line[5:6] == b" " else line[5:]
            for line in frame.split(b"\n")
            if line[:5] == b"data:" or line == b"data"
        ]
    values: list[bytes] = []
    at = frame.find(b"data")
    while at >= 0:
        if at == 0 or frame[at - 1] == 10:  # at a line start: the field name begins `data`
            end = frame.find(b"\n", at)  # a whole frame ends in a blank line: always found
            rest = frame[at + 4 : end]
            if not rest or rest[0] == 58:  # `data` alone, or `data:`
                values.append(rest[2:] if rest[1:2] == b" " else rest[1:])
            at = end
        at = frame.find(b"data", at + 1)
    return values


_LONG_READ = 4096  # a read this long, and no shorter than the queue, is not searched (`_queue`)
# (last queued byte, first byte read) pairs that make a blank line across a cut: LF LF, LF CR, CR CR
_BLANK_SEAMS = frozenset({(10, 10), (10, 13), (13, 13)})


def _has_blank(data: bytes) -> bool:
    """Whether `data` holds a line end right after another: a blank line, or the end of one.
    (A search for a single byte runs at memchr speed; one for a pair, about 1 ns a byte, and
    `find` starts one faster than `in` does.)"""
    if 13 not in data:
        return 10 in data and data.find(b"\n\n") >= 0
    if 10 not in data:
        return data.find(b"\r\r") >= 0
    return any(data.find(pair) >= 0 for pair in _PAIRS)


def _load() -> FindFrames:
    """`find_frames` in C when it was built and not turned off, else in Python."""
    if os.environ.get("STREAMTAPE_PURE_PYTHON"):
        return _py_find_frames
    try:
        from streamtape._speedups import find_frames
    except ImportError:  # not built (no C compiler at install)
        return _py_find_frames
    return find_frames


_find_frames = _load()

SPEEDUPS = _find_frames is not _py_find_frames
"""Whether the decoder's fast path (`find_frames`) runs in C (`streamtape._speedups`, built at
install when a C compiler is there; the environment variable STREAMTAPE_PURE_PYTHON=1 turns it
off)."""


class SSEFrame(msgspec.Struct, frozen=True, gc=False):
    """One dispatched event: its `data` (data lines joined by LF) and where it came from.

    `event` is the event type ("message" when no `event:` line was given), `id` the last event ID
    in force when the frame was dispatched (it persists across frames, as the spec says), `retry`
    a valid `retry:` value seen since the previous frame, `comments` the comment lines seen since
    the previous frame (one leading space removed), `offset` the byte offset in the whole stream of
    the frame's first line, and `truncated` is true for a frame the stream ended in the middle of.
    """

    data: str
    event: str = "message"
    id: str = ""
    retry: int | None = None
    comments: tuple[str, ...] = ()
    offset: int = 0
    truncated: bool = False


class _PayloadBatch(msgspec.Struct, frozen=True, gc=False):
    """Payloads of consecutive standard frames (an item of `SSEParser._feed_payloads`).

    `lines` holds the `count` payloads joined by LF (a payload never holds one), ready for
    msgspec's `decode_lines`. The frames' bytes are `region[start:stop]`, from stream byte
    `offset` (the region is the read they came in, kept uncut: cutting it would copy it).
    """

    offset: int
    lines: bytes
    count: int
    region: bytes
    start: int
    stop: int

    @property
    def payloads(self) -> list[bytes]:
        """The payloads, one by one."""
        return self.lines.split(b"\n")

    def frames(self) -> list[SSEFrame]:
        """The exact frames of the batch, with their stream offsets (for error messages)."""
        return SSEParser._resume_at(self.offset).feed(self.region[self.start : self.stop])


class _OtherPayload(msgspec.Struct, frozen=True, gc=False):
    """The payload of a frame that is not standard (an item of `SSEParser._feed_payloads`): its
    `data` values joined by LF, and the stream offset of the frame's first line."""

    offset: int
    data: bytes


class SSEParser:
    """Incremental SSE parser: `feed(bytes) -> list[SSEFrame]`, then `close()` at the end of stream.

    Line ends may be LF, CRLF or a lone CR, including a CR ending one chunk and its LF starting the
    next. A UTF-8 byte order mark at the start of the stream is skipped. Bytes that are not valid
    UTF-8 are replaced with U+FFFD. `close()` dispatches a frame the stream cut before its blank
    line (with `truncated=True`) so a recording that was cut never silently loses its last event;
    fields without any `data:` line and a trailing comment are dropped there, as the spec says.
    """

    def __init__(self) -> None:
        self._find = _find_frames  # the decoder's fast path: C when built (tests swap it)
        self._reset()

    def _reset(self) -> None:
        self._offset = 0  # stream offset of the first byte not yet split into lines
        # bytes after the last line end (payload route: after the last frame); a bytearray grows
        # in place, so a long line fed a byte at a time costs linear time and about its own size
        self._tail = bytearray()
        self._bom = b""  # the first bytes, held until we know whether they are a byte order mark
        self._bom_pending = True
        self._skip_lf = False  # the previous chunk ended with CR: an LF now would finish a CRLF
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None
        self._comments: list[str] = []
        self._start: int | None = None
        # the read whose lone payload `_feed_payloads` last returned bare (it ends at `_offset`)
        self._last_region = b""

    @classmethod
    def _resume_at(cls, offset: int) -> SSEParser:
        """A parser for bytes that start at a frame boundary `offset` bytes into a stream."""
        parser = cls()
        parser._offset = offset
        parser._bom_pending = offset == 0
        return parser

    @property
    def offset(self) -> int:
        """Number of stream bytes fed so far."""
        return self._offset + len(self._tail) + len(self._bom)

    def feed(self, data: bytes) -> list[SSEFrame]:
        """Parse the next bytes of the stream and return every frame they complete."""
        data = self._start_of_stream(data)
        if not data:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
                self._offset += 1
                if not data:
                    return []
        if b"\n" not in data and b"\r" not in data:
            self._tail += data  # no line end: only queue it
            return []
        if self._tail:
            self._tail += data
            data = bytes(self._tail)
            self._tail = bytearray()
        out: list[SSEFrame] = []
        self._lines(data, out)
        return out

    def close(self) -> list[SSEFrame]:
        """End of stream: return the frame cut short, if any, and reset the parser."""
        out: list[SSEFrame] = []
        if self._bom_pending and self._bom:
            self._bom_pending = False
            self._tail[:0] = self._bom
            self._bom = b""
        if self._tail:
            rest = bytes(self._tail)
            self._tail = bytearray()
            self._lines(rest, out)
            if self._tail:  # the unterminated last line still counts
                self._line(bytes(self._tail), self._offset, out)
        if self._data:
            self._dispatch(out, truncated=True)
        self._reset()
        return out

    # --- the decoder's route: payloads as raw bytes ----------------------------------------------

    @property
    def last_offset(self) -> int:
        """The stream offset of the frame whose payload `_feed_payloads` last returned bare (for
        error messages: found again by the exact parser, off the hot path)."""
        start = self._offset - len(self._last_region)
        frames = SSEParser._resume_at(start).feed(self._last_region)
        return frames[0].offset if frames else start

    def _feed_payloads(self, data: bytes) -> bytes | list[_PayloadBatch | _OtherPayload]:
        """Like `feed`, but frames come as raw payload bytes (the decoder's route).

        A read that completes exactly one standard frame gives its payload (the frame's offset in
        `last_offset`); runs of standard frames come as `_PayloadBatch`es and every other frame
        that dispatches as an `_OtherPayload`, in stream order. Bytes after the last complete
        frame wait for the next read, and are read again with it only when it is at least as
        long or can end a frame, so every byte is read a bounded number of times. The last event
        ID, event type, retry and comments are not kept here (the decoder reads payloads only):
        do not mix with `feed`.
        """
        tail = self._tail
        if tail:
            if 10 not in data and 13 not in data:
                tail += data  # no line end: only queue it (the commonest short read: no call)
                return []
            return self._queue(data)
        if self._bom_pending:
            return self._queue(data)
        find = self._find  # an attribute load, not a method lookup: faster
        try:
            found = find(data, 0)
        except TypeError:  # a bytearray or memoryview: payloads are always bytes
            return self._queue(bytes(data))
        if isinstance(found, bytes):  # a live stream's usual read: one whole standard frame
            self._last_region = data
            self._offset += len(data)
            return found
        return self._items(data, found)

    def _items(self, region: bytes, found: Found) -> list[_PayloadBatch | _OtherPayload]:
        """`_feed_payloads` for a read (or queued bytes and a read) from a frame start: each run of
        standard frames as a batch, each other payload on its own; what follows the last complete
        frame is queued. `found` is what `find_frames(region, 0)` gave; it is called again only
        where the previous call stopped, so each byte is read once here."""
        out: list[_PayloadBatch | _OtherPayload] = []
        base, pos = self._offset, 0
        joined, count, end, odd_end, odd = found
        while True:
            if count:
                out.append(_PayloadBatch(base + pos, joined, count, region, pos, end))
            if odd_end is None or odd is None:
                break
            out.append(_OtherPayload(base + end, odd))
            pos = end = odd_end
            if pos == len(region):
                break
            joined, count, end, odd_end, odd = _found(self._find(region, pos), region)
        if end < len(region):
            self._tail += region[end:]
        self._offset = base + end
        return out

    def _queue(self, data: bytes) -> bytes | list[_PayloadBatch | _OtherPayload]:
        """`_feed_payloads` after queued bytes (or at the start of the stream, or for a bytes-like
        read): queue the read until a frame can have ended, then read the frames of both."""
        if type(data) is not bytes:
            data = bytes(data)  # a bytearray or memoryview: payloads are always bytes
        if self._bom_pending:
            data = self._start_of_stream(data)
        tail = self._tail
        if not data:
            return []
        if tail:
            # A frame ends at a blank line, here or across the cut: the read is searched for one
            # before the queue is joined to it. A long read at least as long as the queue goes to
            # `find_frames` with it unsearched (reading the queue again costs no more than the
            # read, so time stays linear; a search for a pair of bytes costs more than
            # `find_frames` on short lines, and a long read almost always ends a frame).
            if (
                (len(data) < _LONG_READ or len(tail) > len(data))
                and (tail[-1], data[0]) not in _BLANK_SEAMS
                and not _has_blank(data)
            ):
                tail += data
                return []
            region = b"".join((tail, data))
            tail.clear()
        else:
            region = data
        found = _found(self._find(region, 0), region)
        joined, count, end, odd_end, _ = found
        if count == 1 and odd_end is None:  # one whole standard frame (then part of the next)
            self._last_region = region[:end]  # the region itself when the frame ends it
            self._offset += end
            tail += region[end:]
            return joined
        return self._items(region, found)

    # --- the exact parser ---------------------------------------------------------------------

    def _start_of_stream(self, data: bytes) -> bytes:
        """Skip a byte order mark at the very start, even when it arrives split over chunks."""
        if not self._bom_pending:
            return data
        head = self._bom + data
        if len(head) < len(_BOM) and _BOM.startswith(head):
            self._bom = head
            return b""
        self._bom_pending = False
        self._bom = b""
        if head.startswith(_BOM):
            self._offset += len(_BOM)
            return head[len(_BOM) :]
        return head

    def _lines(self, buf: bytes, out: list[SSEFrame]) -> None:
        """Interpret each complete line of `buf` (it starts at `self._offset`); queue the rest."""
        pos = self._offset
        line_ = self._line
        if b"\r" not in buf:
            lines = buf.split(b"\n")
            rest = lines.pop()
            for line in lines:
                line_(line, pos, out)
                pos += len(line) + 1
        else:
            lines = buf.splitlines(keepends=True)  # bytes split only at LF, CR and CRLF
            rest = b""
            if lines and lines[-1][-1:] not in (b"\n", b"\r"):
                rest = lines.pop()
            for line in lines:
                size = len(line)
                line_(line[:-2] if line.endswith(b"\r\n") else line[:-1], pos, out)
                pos += size
            self._skip_lf = buf.endswith(b"\r")
        self._offset = pos
        if rest:
            self._tail = bytearray(rest)

    def _line(self, line: bytes, pos: int, out: list[SSEFrame]) -> None:
        """Apply one line (without its line end) that starts at stream offset `pos`."""
        if not line:
            self._dispatch(out)
            return
        if self._start is None:
            self._start = pos
        colon = line.find(b":")
        if colon == 0:
            comment = line[2:] if line[1:2] == b" " else line[1:]
            self._comments.append(comment.decode("utf-8", "replace"))
            return
        if colon < 0:
            name, value = line, b""
        else:
            name = line[:colon]
            value = line[colon + 2 :] if line[colon + 1 : colon + 2] == b" " else line[colon + 1 :]
        if name == b"data":
            self._data.append(value.decode("utf-8", "replace"))
        elif name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"id":
            if b"\0" not in value:
                self._last_id = value.decode("utf-8", "replace")
        elif name == b"retry" and value.isdigit():  # bytes.isdigit: ASCII digits only
            self._retry = int(value)
        # any other field name is ignored, as the spec says

    def _dispatch(self, out: list[SSEFrame], truncated: bool = False) -> None:
        """A blank line: emit the frame if it has data, then reset the per-frame buffers."""
        if self._data:
            out.append(
                SSEFrame(
                    data="\n".join(self._data),
                    event=self._event or "message",
                    id=self._last_id,
                    retry=self._retry,
                    comments=tuple(self._comments),
                    offset=self._start if self._start is not None else self._offset,
                    truncated=truncated,
                )
            )
            self._comments = []
            self._retry = None
            self._data = []
        self._event = ""
        self._start = None
