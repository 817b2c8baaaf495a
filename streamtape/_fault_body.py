"""The body of an interaction as faults rewrite it: its bytes, where each chunk starts and when
it came, pauses before chunks, and where the SSE events are. Private to ``streamtape.faults``."""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from streamtape.cassette import Chunk, Interaction, RecordedResponse, StreamEnd

__all__ = [
    "EOL",
    "Body",
    "Event",
    "FaultedInteraction",
    "PositionMap",
    "describe",
    "is_stream",
    "pauses_as_gaps",
    "pauses_of",
    "sse_events",
    "without_headers",
]

EOL = re.compile(rb"\r\n|\r|\n")
_BOM = b"\xef\xbb\xbf"


class FaultedInteraction(Interaction):
    """An interaction as a fault changed it: also ``pauses``, wall-clock seconds to wait before
    chunk ``i`` on top of its offset (``stall``), which replay speed and ``max_gap`` leave as
    they are, since the pause is the fault under test."""

    __slots__ = ("pauses",)

    def __init__(
        self,
        base: Interaction,
        response: RecordedResponse | None,
        chunks: list[Chunk],
        end: StreamEnd | None,
        pauses: dict[int, float] | None = None,
    ) -> None:
        super().__init__(base.id, base.request, response, chunks, end)
        self.pauses: dict[int, float] = pauses or {}


def pauses_of(interaction: Interaction) -> dict[int, float]:
    return interaction.pauses if isinstance(interaction, FaultedInteraction) else {}


def is_stream(interaction: Interaction) -> bool:
    head = interaction.response
    return head is not None and "event-stream" in (head.header("content-type") or "").lower()


def describe(interaction: Interaction) -> str:
    return f"interaction {interaction.id} ({interaction.request.method} {interaction.request.url})"


# -- a body as bytes with its chunk starts and times ----------------------------------------------


@dataclass
class Event:
    """A data-carrying SSE frame: its block's byte range and its payload."""

    start: int
    end: int
    payload: bytes

    @property
    def type(self) -> str | None:
        if self.payload == b"[DONE]":
            return "[DONE]"
        try:
            obj = msgspec.json.decode(self.payload)
        except msgspec.DecodeError:
            return None
        found = obj.get("type") if isinstance(obj, dict) else None
        return found if isinstance(found, str) else None

    def json(self) -> dict[str, Any] | None:
        try:
            obj = msgspec.json.decode(self.payload)
        except msgspec.DecodeError:
            return None
        return obj if isinstance(obj, dict) else None


def sse_events(data: bytes) -> list[Event]:
    """The data-carrying frames of an SSE body, each ended by its blank line (a frame the body
    ends in the middle of is not an event: SSE never dispatches it)."""
    found: list[Event] = []
    block = pos = 0
    payload: list[bytes] | None = None
    for eol in EOL.finditer(data):
        line = data[pos : eol.start()]
        if pos == 0 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line:
            if payload is not None:
                found.append(Event(block, eol.end(), b"\n".join(payload)))
            payload = None
            block = eol.end()
        else:
            name, _, value = line.partition(b":")
            if name == b"data":
                payload = [] if payload is None else payload
                payload.append(value[1:] if value.startswith(b" ") else value)
        pos = eol.end()
    return found


@dataclass
class Body:
    """A body's bytes, where each chunk starts, when it came, and the pauses before chunks."""

    data: bytes
    starts: list[int]
    times: list[int]
    pauses: dict[int, float]  # byte position (a chunk start) -> seconds

    @classmethod
    def of(cls, interaction: Interaction) -> tuple[Body, RecordedResponse | None]:
        """The body (content-decoded, with the head then saying so) and the head to replay."""
        head = interaction.response
        pieces = [(c.data, c.offset_ns) for c in interaction.body_chunks()]
        if head is not None and head.content_encodings:
            head = without_headers(head, "content-encoding")
        data = b"".join(d for d, _ in pieces)
        starts: list[int] = []
        times: list[int] = []
        pauses: dict[int, float] = {}
        position = 0
        for index, (piece, at) in enumerate(pieces):
            pause = pauses_of(interaction).get(index, 0.0)
            if not piece:
                if pause:  # an empty chunk's pause moves to the next chunk
                    pauses[position] = pauses.get(position, 0.0) + pause
                continue
            if pause:
                pauses[position] = pauses.get(position, 0.0) + pause
            starts.append(position)
            times.append(at)
            position += len(piece)
        return cls(data, starts, times, pauses), head

    def time_at(self, position: int) -> int:
        """When the byte at ``position`` came (the time of the chunk holding it)."""
        index = bisect.bisect_right(self.starts, position) - 1
        return self.times[max(index, 0)] if self.times else 0

    def split(self, positions: Iterable[int]) -> None:
        """Cut the chunks at ``positions`` too; both parts of a chunk keep its time."""
        new = sorted({p for p in positions if 0 < p < len(self.data)})
        if len(new) < 16:  # a few: insert each (a C-level move)
            for position in new:
                index = bisect.bisect_left(self.starts, position)
                if index == len(self.starts) or self.starts[index] != position:
                    self.starts.insert(index, position)
                    self.times.insert(index, self.times[index - 1])
            return
        new = sorted(set(new).difference(self.starts))
        starts: list[int] = []  # many: one merge of the two sorted lists, in linear time
        times: list[int] = []
        old = 0
        for position in new:
            while old < len(self.starts) and self.starts[old] < position:
                starts.append(self.starts[old])
                times.append(self.times[old])
                old += 1
            starts.append(position)
            times.append(times[-1])  # the chunk it was in: starts[0] == 0 < position
        self.starts = starts + self.starts[old:]
        self.times = times + self.times[old:]

    def recut(self, cuts: Iterable[int]) -> None:
        """Replace the chunk boundaries by ``cuts`` (pause positions stay boundaries); a new
        chunk comes when the last of its bytes came."""
        size = len(self.data)
        starts = sorted({0, *self.pauses, *(c for c in cuts if 0 < c < size)})
        if not size:
            starts = []
        times: list[int] = []
        old = 0  # the recorded chunk holding the new chunk's last byte, found walking forward
        for end in [*starts[1:], size]:
            while old + 1 < len(self.starts) and self.starts[old + 1] < end:
                old += 1
            times.append(self.times[old])
        self.times = times
        self.starts = starts

    def cut(self, position: int) -> None:
        """Keep the first ``position`` bytes."""
        self.split([position])
        keep = bisect.bisect_left(self.starts, position)
        self.data = self.data[:position]
        del self.starts[keep:], self.times[keep:]
        self.pauses = {p: s for p, s in self.pauses.items() if p < position}

    def replace(self, edits: Sequence[tuple[int, int, bytes]]) -> PositionMap:
        """Apply ``(start, end, replacement)`` edits (sorted, not overlapping); chunk starts and
        pauses move with the bytes. Returns the position map, old to new."""
        mapping = PositionMap(edits)
        out: list[bytes] = []
        last = 0
        for start, end, replacement in edits:
            out += [self.data[last:start], replacement]
            last = end
        out.append(self.data[last:])
        self.data = b"".join(out)
        moved: dict[int, int] = {}
        for position, at in zip(self.starts, self.times, strict=True):
            new = mapping(position)
            if new < len(self.data):
                moved[new] = at  # starts that meet: the later chunk holds the bytes there
        if self.data and 0 not in moved:  # bytes put before every chunk: they join the first
            moved[0] = min(moved.values(), default=0)
        self.starts = sorted(moved)
        self.times = [moved[p] for p in self.starts]
        pauses: dict[int, float] = {}
        for position, seconds in self.pauses.items():
            new = mapping(position)
            pauses[new] = pauses.get(new, 0.0) + seconds
        self.pauses = pauses
        if self.pauses:
            self.split(self.pauses)
        return mapping

    def mark(self, position: int, at: int) -> None:
        """Make ``position`` a chunk start that comes at ``at``."""
        self.split([position])
        index = bisect.bisect_left(self.starts, position)
        if index < len(self.starts) and self.starts[index] == position:
            self.times[index] = at

    def last_time(self, default: int) -> int:
        return self.times[-1] if self.times else default

    def build(
        self, base: Interaction, head: RecordedResponse | None, end: StreamEnd | None
    ) -> FaultedInteraction:
        data, starts = self.data, self.starts
        pieces = [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]
        chunks = list(map(Chunk._make, zip(self.times, pieces, strict=True)))
        pauses = {i: self.pauses[p] for i, p in enumerate(starts) if p in self.pauses}
        if head is not None and head.header("content-length") is not None:
            head = without_headers(head, "content-length")
        return FaultedInteraction(base, head, chunks, end, pauses)


class PositionMap:
    """Where a byte position of a body lands after edits. A position inside an edit lands after
    its replacement (the edit joins the chunk it starts in); the start of an edit stays its
    start (an insertion joins the chunk that starts there)."""

    def __init__(self, edits: Sequence[tuple[int, int, bytes]]) -> None:
        self._starts = [s for s, _, _ in edits]
        self._edits = list(edits)
        self._shift: list[int] = []  # total growth up to and including each edit
        total = 0
        for start, end, replacement in edits:
            total += len(replacement) - (end - start)
            self._shift.append(total)

    def __call__(self, position: int) -> int:
        index = bisect.bisect_right(self._starts, position) - 1
        if index < 0:
            return position
        start, end, replacement = self._edits[index]
        before = self._shift[index - 1] if index else 0
        if position == start:
            return position + before
        if position < end:
            return start + before + len(replacement)
        return position + self._shift[index]


def without_headers(head: RecordedResponse, *names: str) -> RecordedResponse:
    drop = {n.lower() for n in names}
    headers = [(k, v) for k, v in head.headers if k.lower() not in drop]
    return msgspec.structs.replace(head, headers=headers)


def pauses_as_gaps(interaction: Interaction) -> Interaction:
    """``interaction`` with its pauses turned into recorded time: each chunk after a pause, and
    the end, comes that much later. What a file can hold of a stall (replay speed then scales
    it like any recorded gap)."""
    pauses = pauses_of(interaction)
    if not pauses:
        return interaction
    shift = 0
    chunks = []
    for index, chunk in enumerate(interaction.chunks):
        shift += round(pauses.get(index, 0.0) * 1e9)
        chunks.append(Chunk(chunk.offset_ns + shift, chunk.data))
    end = interaction.end
    if end is not None:
        end = msgspec.structs.replace(end, offset_ns=end.offset_ns + shift)
    return Interaction(interaction.id, interaction.request, interaction.response, chunks, end)
