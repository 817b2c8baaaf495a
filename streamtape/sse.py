"""A sans-IO, incremental parser for server-sent events (the WHATWG "event stream interpretation").

Feed it bytes split anywhere; it returns the frames completed so far and never raises on any input.
It does no IO: transports, the decoder and the CLI feed it.

Spec: https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import msgspec

__all__ = ["PayloadBatch", "SSEFrame", "SSEParser"]

_BOM = b"\xef\xbb\xbf"

# A standard frame: one `data:` line and a blank line, with one `event:` line before the data
# (OpenAI) or after it (AWS Bedrock), or none (OpenRouter), its payload opening a JSON object or
# array (see _FRAME_START for why). Group 1: the payload. (In a bytes pattern without DOTALL `.`
# is any byte but LF, and sre scans `.*` faster than `[^\n]*`.)
_STANDARD_FRAME = re.compile(rb"(?:event:.*\n)?data: ?([{[].*)\n(?:event:.*\n)?\n")
# One whole standard frame (with `fullmatch`, on CR-free input), any payload.
_SINGLE_FRAME = re.compile(rb"(?:event:.*\n)?data: ?(.*)\n(?:event:.*\n)?\n")
# What starts every standard frame of the usual order (event line first), seen from the blank
# line that ends the frame before it: the payload follows. Only payloads that open a JSON object
# or array (`[DONE]`) qualify, so no payload in a batch is blank: msgspec's `decode_lines` skips
# blank lines, and would then accept two values on one line without the count showing it.
_FRAME_START = re.compile(rb"\n\n(?:event:.*\n)?data: ?(?=[{[])")


def _joined_payloads(region: bytes) -> tuple[bytes, int] | None:
    """(payloads joined by LF, count) when `region` (CR-free, ending in a blank line, at a frame
    boundary) is only standard frames with any `event:` line before the `data:` line, each
    payload starting with `{` or `[`.

    One C-level substitution turns each frame start into an LF. Every stretch it leaves between
    two matches is then exactly one payload, and the result holds exactly one LF per match plus
    the region's final two, unless something else (a comment, another field, a second `data:`
    line, a blank line too many, a frame start the pattern missed) hides between the matches.
    """
    joined, count = _FRAME_START.subn(b"\n", b"\n\n" + region)
    if joined.count(b"\n") != count + 2:
        return None
    return joined[1:-2], count


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


class PayloadBatch(msgspec.Struct, frozen=True, gc=False):
    """Payloads of consecutive standard frames (see `SSEParser.feed_payloads`).

    `lines` holds the `count` payloads joined by LF (a payload never holds one), ready for
    msgspec's `decode_lines`. `region` holds the frames' bytes, starting at stream byte `offset`;
    re-parsing it with `SSEParser.resume_at(offset)` gives the exact frames (used only when an
    error needs offsets).
    """

    offset: int
    region: bytes
    lines: bytes
    count: int

    @property
    def payloads(self) -> list[bytes]:
        """The payloads, one by one."""
        return self.lines.split(b"\n")


_P = TypeVar("_P", bound="_ExactParser")


class _ExactParser:
    """The exact WHATWG parser and the state the fast path shares with it (see `SSEParser`)."""

    # the fast path (`_PyFastPath`, or `FastPath` in C) hands unusual input back to the methods here
    feed_payloads: Callable[[bytes], list[SSEFrame | PayloadBatch | bytes]]

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._offset = 0  # stream offset of the first byte not yet split into lines
        # bytes after the last line end (fast path: after the last frame); a bytearray grows in
        # place, so a long line fed a byte at a time costs linear time and about its own size
        self._tail = bytearray()
        self._bom = b""  # the first bytes, held until we know whether they are a byte order mark
        self._bom_pending = True
        self._special = True  # bom_pending or exact_only: the fast queueing test must not run
        self.last_offset = 0  # offset of the frame whose payload `feed_payloads` last returned
        self._skip_lf = False  # the previous chunk ended with CR: an LF now would finish a CRLF
        self._exact_only = False  # fast path off for good once a CR is seen
        self._event = ""
        self._data: list[str] = []
        self._last_id = ""
        self._retry: int | None = None
        self._comments: list[str] = []
        self._start: int | None = None

    @classmethod
    def resume_at(cls: type[_P], offset: int) -> _P:
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

    def _special_feed(self, data: bytes) -> list[SSEFrame | PayloadBatch | bytes]:
        """`feed_payloads` at the start of the stream, or with a CR."""
        if self._bom_pending:
            data = self._start_of_stream(data)
            if not data:
                return []
        if self._exact_only or data.find(b"\r") >= 0:
            self._exact_only = self._special = True
            return [*self.feed(data)]
        return self.feed_payloads(data)  # the byte order mark is settled: the usual path

    def _batch(self, region: bytes, lines: bytes, count: int) -> PayloadBatch:
        batch = PayloadBatch(self._offset, region, lines, count)
        self._offset += len(region)
        self._comments = []  # they belonged to the first frame of the batch
        self._retry = None
        return batch

    def _mixed(self, region: bytes) -> list[SSEFrame | PayloadBatch]:
        """A region with unusual frames: batch the standard runs, parse the rest exactly."""
        out: list[SSEFrame | PayloadBatch] = []
        frames: list[SSEFrame] = []
        run: list[bytes] = []
        run_start = pos = 0
        for match in _STANDARD_FRAME.finditer(region):
            if match.start() == pos:
                run.append(match.group(1))
            else:  # an unusual frame: parse through the end of this match exactly
                if run:
                    out.append(self._batch(region[run_start:pos], b"\n".join(run), len(run)))
                    run = []
                self._lines(region[pos : match.end()], frames)
                out += frames
                frames.clear()
                run_start = match.end()
            pos = match.end()
        if run:
            out.append(self._batch(region[run_start:pos], b"\n".join(run), len(run)))
        if pos < len(region):
            self._lines(region[pos:], frames)
            out += frames
        return out

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


class _PyFastPath(_ExactParser):
    """`feed_payloads` in Python: what `SSEParser` runs when `streamtape._speedups` (the same
    fast path in C, with the same results) is not built."""

    def feed_payloads(self, data: bytes) -> list[SSEFrame | PayloadBatch | bytes]:
        """Like `feed`, but return standard frames as raw payload bytes (the decoder's fast path).

        A read that completes exactly one standard frame (an optional `event:` line, one `data:`
        line, a blank line) gives `[payload]`, its offset in `last_offset`. Runs of several come as
        a `PayloadBatch`, proven standard with C-level calls. Anything unusual (a CR, a comment,
        several `data:` lines, an `id:` or `retry:` field, a blank line too many) goes through
        the exact parser and comes back as `SSEFrame`s. Do not mix with `feed`.
        """
        if type(data) is not bytes:
            data = bytes(data)  # a bytearray or memoryview: payloads are always bytes
        tail = self._tail
        if self._special or data.find(b"\r") >= 0:
            return self._special_feed(data)
        if tail:
            line_end = data.find(b"\n")
            if line_end < 0:
                tail += data  # no line ends here: only queue it
                return []
            end = data.rfind(b"\n\n", line_end)
            if end >= 0:
                cut = len(tail) + end + 2
            elif line_end == 0 and tail[-1] == 10:  # an LF ending the queued bytes, and one here
                cut = len(tail) + 1
            else:
                tail += data
                return []
            tail += data
            data = bytes(tail)
            del tail[:cut]  # cheap: a bytearray drops its head in place
        elif data[-2:] == b"\n\n":
            cut = len(data)  # a live stream's usual read: whole frames
        else:
            end = data.rfind(b"\n\n")
            if end < 0:
                tail += data
                return []
            cut = end + 2
            tail += data[cut:]
        single = _SINGLE_FRAME.fullmatch(data, 0, cut)
        if single is not None:
            self.last_offset = offset = self._offset
            self._offset = offset + cut
            if self._comments or self._retry is not None:
                self._comments = []  # they belonged to this frame
                self._retry = None
            return [single[1]]
        return self._frames(data[:cut])

    def _frames(self, region: bytes) -> list[SSEFrame | PayloadBatch | bytes]:
        """Items for CR-free `region` of several frames, ending in a blank line."""
        joined = _joined_payloads(region)
        if joined is not None:
            return [self._batch(region, *joined)]
        return [*self._mixed(region)]


if TYPE_CHECKING or os.environ.get("STREAMTAPE_PURE_PYTHON"):
    _FastPath = _PyFastPath
else:
    try:
        from streamtape._speedups import FastPath as _FastPath
    except ImportError:  # not built (no C compiler at install): the Python fast path
        _FastPath = _PyFastPath

SPEEDUPS = _FastPath is not _PyFastPath
"""Whether `SSEParser.feed_payloads` runs in C (`streamtape._speedups`, built at install when a C
compiler is there; the environment variable STREAMTAPE_PURE_PYTHON=1 turns it off)."""


class SSEParser(_FastPath, _ExactParser):
    """Incremental SSE parser: `feed(bytes) -> list[SSEFrame]`, then `close()` at the end of stream.

    Line ends may be LF, CRLF or a lone CR, including a CR ending one chunk and its LF starting the
    next. A UTF-8 byte order mark at the start of the stream is skipped. Bytes that are not valid
    UTF-8 are replaced with U+FFFD. `close()` dispatches a frame the stream cut before its blank
    line (with `truncated=True`) so a recording that was cut never silently loses its last event;
    fields without any `data:` line and a trailing comment are dropped there, as the spec says.
    """


class PythonSSEParser(_PyFastPath):
    """`SSEParser` with its fast path in Python whether or not the C one is built (for tests and
    benchmarks that compare the two)."""
