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

# A standard frame, the grammar `find_frames` matches: an optional `event:` line, one `data:` line
# whose payload opens a JSON object or array, an optional `event:` line (AWS Bedrock's order), a
# blank line; each line ends in LF and holds no CR, so a frame that matches reads the same to the
# WHATWG parser, and whole reads of standard frames need no separate search for a CR. Only
# payloads that open `{` or `[` qualify, so no payload of a run is blank: msgspec's `decode_lines`
# skips blank lines, and would then accept two values on one line without the count showing it.
# Each part can match in one way only, so an anchored match costs time linear in the frame; each
# `.*` (any byte but LF) is directly followed by a literal LF, which lets sre give a failed match
# back at memchr speed (a capture group there would make each byte of a long line a backtracking
# step). A CR is looked for once over the whole run (sre's `[^\r\n]*` is twice as slow as `.*`).
_EVENT = rb"(?:event:.*\n)?"
_FRAME = _EVENT + rb"data: ?[{[].*\n" + _EVENT + rb"\n"
_RUN = re.compile(rb"(?:" + _FRAME + rb")+")
# Group 1: the payload. Only for `findall` over a run `_RUN` matched, where nothing backtracks.
_PAYLOADS = re.compile(_EVENT + rb"data: ?([{[].*)\n" + _EVENT + rb"\n")

FindFrames = Callable[[bytes, int], tuple[bytes, int, int, int | None]]


def _py_find_frames(buf: bytes, start: int) -> tuple[bytes, int, int, int | None]:
    """The run of standard frames at `buf[start:]`, and where the frame after it ends.

    Contract (the C `streamtape._speedups.find_frames` is the same function, tested equal on every
    input): `buf` is `bytes`, `0 <= start <= len(buf)` (else `TypeError` / `ValueError`), and
    `start` should be a frame boundary. Returns `(joined, count, end, odd)`:

    - `count` consecutive standard frames (see `_FRAME`: LF line ends, no CR) start at `start`
      and end at `end`; `joined` is their payloads joined by LF (`b""` when `count` is 0);
    - `odd` is the offset just past the first LF LF (or the LF at `end`) after `end`, which ends
      the frame there (one that is not standard), or `None` when there is none (`end ==
      len(buf)`, or the frame there is unfinished). A CR is an ordinary byte in this search.

    Matching happens only at frame starts, and nothing at or after `odd` is read: one call costs
    time linear in `(odd or len(buf)) - start`.
    """
    if type(buf) is not bytes:
        raise TypeError("find_frames() argument 1 must be bytes")
    n = len(buf)
    if not 0 <= start <= n:
        raise ValueError("find_frames() start out of range")
    run = _RUN.match(buf, start)
    end = start if run is None else run.end()
    cr = buf.find(13, start, end)
    if cr >= 0:  # the frame holding the CR is not standard: the run ends where it starts
        blank = buf.rfind(b"\n\n", start, cr)  # a standard frame's only LF LF is its end
        end = start if blank < 0 else blank + 2
    if end == start:
        joined, count = b"", 0
    else:
        payloads = _PAYLOADS.findall(buf, start, end)  # frame after frame, from `start`
        joined, count = b"\n".join(payloads), len(payloads)  # one payload: itself, no copy
    if end == n:
        return joined, count, end, None
    if buf[end] == 10:  # a blank line right at the frame start
        return joined, count, end, end + 1
    blank = buf.find(b"\n\n", end)
    return joined, count, end, None if blank < 0 else blank + 2


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
    msgspec's `decode_lines`. `region` holds the frames' bytes, starting at stream byte `offset`.
    """

    offset: int
    region: bytes
    lines: bytes
    count: int

    @property
    def payloads(self) -> list[bytes]:
        """The payloads, one by one."""
        return self.lines.split(b"\n")

    def frames(self) -> list[SSEFrame]:
        """The exact frames of the region, with their stream offsets (for error messages)."""
        return SSEParser._resume_at(self.offset).feed(self.region)


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
        self._special = True  # bom_pending or exact_only: the payload route must not run
        self.last_offset = 0  # offset of the frame whose payload `_feed_payloads` last returned
        self._skip_lf = False  # the previous chunk ended with CR: an LF now would finish a CRLF
        self._exact_only = False  # payload route off for good once a CR is seen
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None
        self._comments: list[str] = []
        self._start: int | None = None

    @classmethod
    def _resume_at(cls, offset: int) -> SSEParser:
        """A parser for bytes that start at a frame boundary `offset` bytes into a stream."""
        parser = cls()
        parser._offset = offset
        parser._bom_pending = offset == 0
        parser._special = parser._bom_pending
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

    # --- the decoder's route: standard frames as raw payloads ---------------------------------

    def _feed_payloads(self, data: bytes) -> bytes | list[SSEFrame | _PayloadBatch]:
        """Like `feed`, but standard frames come as raw payload bytes (the decoder's route).

        A read that completes exactly one standard frame gives `[payload]`, the frame's offset in
        `last_offset`; runs of standard frames come as `_PayloadBatch`es; every other frame (and
        the whole stream from its first CR on) goes through the exact parser as `SSEFrame`s.
        Bytes are queued until a blank line ends a frame, and only new bytes are searched for it,
        so every byte is scanned and copied a bounded number of times. Do not mix with `feed`.
        """
        if self._special or self._tail:
            return self._queue(data)
        try:
            joined, count, end, odd = self._find(data, 0)
        except TypeError:  # a bytearray or memoryview: payloads are always bytes
            return self._queue(bytes(data))
        if end == len(data) and count:  # a live stream's usual read: whole standard frames
            self.last_offset = offset = self._offset
            self._offset = offset + end
            return joined if count == 1 else [_PayloadBatch(offset, data, joined, count)]
        return self._rest(data, joined, count, end, odd)

    def _rest(
        self, data: bytes, joined: bytes, count: int, end: int, odd: int | None
    ) -> bytes | list[SSEFrame | _PayloadBatch]:
        """`_feed_payloads` for a read from a frame boundary with more than standard frames in
        it: `find_frames(data, 0)` gave the rest of the arguments."""
        if odd is None:  # standard frames (which hold no CR: see _FRAME), then part of one
            if data.find(13, end) >= 0:  # a CR
                return self._special_feed(data)
            self._tail += data[end:]
            if not count:
                return []
            self.last_offset = offset = self._offset
            self._offset = offset + end
            return joined if count == 1 else [_PayloadBatch(offset, data[:end], joined, count)]
        if 13 in data:  # a CR
            return self._special_feed(data)
        cut = data.rfind(b"\n\n") + 2  # at least `odd`: only what follows the last frame waits
        if cut < len(data):
            self._tail += data[cut:]
            data = data[:cut]
        return self._mixed(data, joined, count, end, odd)

    def _queue(self, data: bytes) -> bytes | list[SSEFrame | _PayloadBatch]:
        """`_feed_payloads` for a read after queued bytes (or of another type, or with a CR): queue
        all that follows the last blank line, and take the frames before it. Only the new bytes
        are searched."""
        if type(data) is not bytes:
            data = bytes(data)  # a bytearray or memoryview: payloads are always bytes
        if self._special or 13 in data:  # a CR
            return self._special_feed(data)
        tail = self._tail
        if 10 not in data:
            tail += data  # no line end: only queue it
            return []
        blank = data.rfind(b"\n\n")
        if blank >= 0:
            cut = blank + 2
        elif tail and data[0] == 10 and tail[-1] == 10:  # the queued bytes end a line
            cut = 1
        else:
            tail += data
            return []
        if cut == len(data):
            region = b"".join((tail, data)) if tail else data
        else:  # a view: the bytes are copied once, into the region
            region = b"".join((tail, memoryview(data)[:cut] if cut > 4096 else data[:cut]))
        tail.clear()
        if cut < len(data):
            tail += data[cut:]
        joined, count, end, odd = self._find(region, 0)
        if odd is None:  # only standard frames
            offset = self._offset
            self._offset = offset + end
            if count == 1:
                self.last_offset = offset
                return joined
            return [_PayloadBatch(offset, region, joined, count)]
        return self._mixed(region, joined, count, end, odd)

    def _mixed(
        self, region: bytes, joined: bytes, count: int, end: int, odd: int | None
    ) -> list[SSEFrame | _PayloadBatch]:
        """Items for a region (CR-free, whole frames) holding frames that are not standard: each
        run of standard frames as a batch, each other frame parsed exactly, in stream order.

        `find_frames` starts only where the previous frame ended, so each byte is matched once.
        """
        out: list[SSEFrame | _PayloadBatch] = []
        frames: list[SSEFrame] = []
        base = self._offset
        pos = 0
        while True:
            if count:
                out.append(_PayloadBatch(base + pos, region[pos:end], joined, count))
                self._comments = []  # they belonged to the first frame of the batch
                self._retry = None
            if odd is None:  # end == len(region): a region always ends in a blank line
                break
            self._offset = base + end
            self._lines(region[end:odd], frames)
            out += frames
            frames.clear()
            pos = odd
            if pos == len(region):
                break
            joined, count, end, odd = self._find(region, pos)
        self._offset = base + len(region)
        # Comments and a retry field after the last frame would belong to the next one; the
        # payload route gives neither for standard frames, so they go now, not on its hot path.
        self._comments = []
        self._retry = None
        return out

    def _special_feed(self, data: bytes) -> bytes | list[SSEFrame | _PayloadBatch]:
        """`_feed_payloads` at the start of the stream, or with a CR."""
        if self._bom_pending:
            data = self._start_of_stream(data)
            if not data:
                return []
        if self._exact_only or data.find(b"\r") >= 0:
            self._exact_only = self._special = True
            return [*self.feed(data)]
        return self._feed_payloads(data)  # the byte order mark is settled: the usual route

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
        self._special = self._exact_only
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
