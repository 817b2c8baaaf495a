"""Fold a stream of typed events into what it said: final response, text, calls, problems.

Sans-IO, like the decoder: `Accumulator.feed(event)` folds one event at a time, so the CLI can
show progress and a replay can accumulate as it goes; `accumulate(events)` is the one-call form
for the common case of one response, and `accumulate_all(events)` gives one `StreamResult` per
response when a recording holds several back to back (a new one begins at `response.created`).

Values are assembled from the streamed events (deltas, then the `.done` value, which wins), not
copied from the terminal `response`; the terminal response is kept as `StreamResult.response` and
compared with what was streamed. Protocol violations become `Problem`s and are never raised.

The result types live in `streamtape.results` (re-exported here), the state of one output item
in `_items`; this module holds the fold.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

from msgspec.structs import replace

from streamtape._items import PART_CHANNELS, ChannelKey, ItemState, item_values, part_text
from streamtape.events import (
    ContentPart,
    Done,
    ErrorEvent,
    Event,
    FunctionCallItem,
    KeepAlive,
    MalformedEvent,
    MessageItem,
    OutputItem,
    OutputTextPart,
    ReasoningItem,
    ReasoningTextPart,
    RefusalPart,
    Response,
    ResponseApplyPatchCallOperationDiffDeltaEvent,
    ResponseApplyPatchCallOperationDiffDoneEvent,
    ResponseCodeInterpreterCallCodeDeltaEvent,
    ResponseCodeInterpreterCallCodeDoneEvent,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseCustomToolCallInputDeltaEvent,
    ResponseCustomToolCallInputDoneEvent,
    ResponseError,
    ResponseFailedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseIncompleteEvent,
    ResponseInProgressEvent,
    ResponseMcpCallArgumentsDeltaEvent,
    ResponseMcpCallArgumentsDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputTextAnnotationAddedEvent,
    ResponseOutputTextDeltaEvent,
    ResponseOutputTextDoneEvent,
    ResponseQueuedEvent,
    ResponseReasoningSummaryPartAddedEvent,
    ResponseReasoningSummaryPartDoneEvent,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseReasoningSummaryTextDoneEvent,
    ResponseReasoningTextDeltaEvent,
    ResponseReasoningTextDoneEvent,
    ResponseRefusalDeltaEvent,
    ResponseRefusalDoneEvent,
    SummaryTextPart,
    TerminalEvent,
    UnknownEvent,
    UnknownObject,
)
from streamtape.results import (
    FunctionCall,
    HttpError,
    Outcome,
    Problem,
    ProblemKind,
    Reasoning,
    Stopped,
    StreamResult,
)

__all__ = [
    "Accumulator",
    "FunctionCall",
    "HttpError",
    "Outcome",
    "Problem",
    "ProblemKind",
    "Reasoning",
    "Stopped",
    "StreamResult",
    "accumulate",
    "accumulate_all",
]


_CONTENT_DELTAS = (
    ResponseOutputTextDeltaEvent,
    ResponseRefusalDeltaEvent,
    ResponseReasoningTextDeltaEvent,
)
_ITEM_DELTAS = (
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseCustomToolCallInputDeltaEvent,
    ResponseCodeInterpreterCallCodeDeltaEvent,
    ResponseMcpCallArgumentsDeltaEvent,
    ResponseApplyPatchCallOperationDiffDeltaEvent,
)
_DONES = (
    ResponseOutputTextDoneEvent,
    ResponseRefusalDoneEvent,
    ResponseReasoningTextDoneEvent,
    ResponseReasoningSummaryTextDoneEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseCustomToolCallInputDoneEvent,
    ResponseCodeInterpreterCallCodeDoneEvent,
    ResponseMcpCallArgumentsDoneEvent,
    ResponseApplyPatchCallOperationDiffDoneEvent,
)
_DoneEvent: TypeAlias = (
    ResponseOutputTextDoneEvent
    | ResponseRefusalDoneEvent
    | ResponseReasoningTextDoneEvent
    | ResponseReasoningSummaryTextDoneEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | ResponseCustomToolCallInputDoneEvent
    | ResponseCodeInterpreterCallCodeDoneEvent
    | ResponseMcpCallArgumentsDoneEvent
    | ResponseApplyPatchCallOperationDiffDoneEvent
)
_OUTCOMES: dict[str, Outcome] = {
    "response.completed": "completed",
    "response.incomplete": "incomplete",
    "response.failed": "failed",
}


def _family(wire_type: str) -> str:
    """`response.output_text.delta` -> `output_text`: the channel name of a delta/done event."""
    return wire_type[len("response.") : wire_type.rindex(".")]


def _done_value(event: _DoneEvent) -> str:
    if isinstance(event, ResponseRefusalDoneEvent):
        return event.refusal
    if isinstance(
        event, ResponseFunctionCallArgumentsDoneEvent | ResponseMcpCallArgumentsDoneEvent
    ):
        return event.arguments
    if isinstance(event, ResponseCustomToolCallInputDoneEvent):
        return event.input
    if isinstance(event, ResponseCodeInterpreterCallCodeDoneEvent):
        return event.code
    if isinstance(event, ResponseApplyPatchCallOperationDiffDoneEvent):
        return event.diff
    return event.text


def _item_id(item: OutputItem) -> str | None:
    if isinstance(item, UnknownObject):
        found = item.data.get("id")
        return found if isinstance(found, str) else None
    return item.id


def _same(earlier: Event, again: Event) -> bool:
    """Whether `again` repeats `earlier`: the same snapshot's response, else the same event but
    for `obfuscation` (random padding, new on every send)."""
    if earlier.type != again.type:
        return False
    first, second = getattr(earlier, "response", None), getattr(again, "response", None)
    if isinstance(first, Response) and isinstance(second, Response):
        return bool(first.id) and first.id == second.id
    if getattr(earlier, "obfuscation", None) is not None:
        earlier = replace(earlier, obfuscation=None)
    if getattr(again, "obfuscation", None) is not None:
        again = replace(again, obfuscation=None)
    return earlier == again


def _differ(streamed: str, final: str) -> str:
    """A short description of where two texts part ways."""
    pairs = zip(streamed, final, strict=False)
    at = next((i for i, (a, b) in enumerate(pairs) if a != b), None)
    if at is None:
        at = min(len(streamed), len(final))
    return (
        f"streamed {len(streamed)} chars, final has {len(final)}; first difference at {at}: "
        f"{streamed[at : at + 20]!r} vs {final[at : at + 20]!r}"
    )


class _Run:
    """The fold state of one response."""

    def __init__(self) -> None:
        self.begun = False
        self.event_count = 0
        self.counts: dict[str, int] = {}
        self.snapshot: Response | None = None
        self.terminal: TerminalEvent | None = None
        self.error: ErrorEvent | None = None
        self.done_seen = False
        self.last_seq: int | None = None
        self.items: dict[str | int, ItemState] = {}  # by item id; id-less items by output_index
        self.unknown_reported: set[str] = set()
        self.problems: list[Problem] = []
        # A resumed stream (`starting_after`) begins mid-response; `streams` counts the streams
        # folded in; `seen` (by sequence number) recognises a resume replaying events this run
        # already has, which are skipped while `replaying`.
        self.resumed = False
        self.streams = 1
        self.seen: dict[int, Event] = {}
        self.replaying = False
        self.stopped: Stopped | None = None

    @property
    def response_id(self) -> str | None:
        response = self.terminal.response if self.terminal is not None else self.snapshot
        return response.id if response is not None and response.id else None

    def problem(
        self,
        kind: ProblemKind,
        message: str,
        index: int,
        seq: int | None,
        offset: int | None = None,
    ) -> None:
        self.problems.append(
            Problem(kind=kind, message=message, index=index, sequence_number=seq, offset=offset)
        )

    # --- the fold --------------------------------------------------------------------------

    def feed(self, event: Event, index: int) -> None:
        self.event_count += 1
        self.counts[event.type] = self.counts.get(event.type, 0) + 1
        seq = event.sequence_number if not isinstance(event, Done | MalformedEvent) else None
        if seq is not None:
            last = self.last_seq
            if last is not None and seq <= last and self._replayed(event, seq, index):
                return
            self.replaying = False
            if last is not None and seq != last + 1:
                self.problem(
                    "sequence",
                    f"{event.type} has sequence_number {seq}, expected {last + 1}",
                    index,
                    seq,
                )
            self.last_seq = seq
            self.seen[seq] = event
        if isinstance(event, KeepAlive):
            return  # a transport no-op wherever it comes
        if not self.begun:
            self.begun = True
            if seq and not isinstance(event, ResponseCreatedEvent):
                self.resumed = True  # a stream fetched with `starting_after` begins mid-response
        if isinstance(event, MalformedEvent):
            self.problem("malformed", event.error, index, None)
            return
        if self.terminal is not None or self.done_seen:
            self._after_end(event, index, seq)
            return
        if isinstance(event, Done):
            self.done_seen = True
        elif isinstance(event, UnknownEvent):
            pass
        elif isinstance(
            event, ResponseCreatedEvent | ResponseQueuedEvent | ResponseInProgressEvent
        ):
            self.snapshot = event.response
        elif isinstance(
            event, ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
        ):
            self.terminal = event
            self._check_final(event, index, seq)
        elif isinstance(event, ErrorEvent):
            if self.error is None:
                self.error = event
        else:
            self._item_event(event, index, seq)

    def _replayed(self, event: Event, seq: int, index: int) -> bool:
        """Whether `event`, whose sequence number this run has passed, is a resumed stream's
        replay of one it already has (skip it) rather than a sequence fault.

        A resume fetched with `starting_after=N` repeats every event after N: a jump back to a
        sequence number seen before, to the same event there (the same response, for a response
        snapshot), begins such a replay; a different event there is a sequence fault.
        """
        known = self.seen.get(seq)
        if not self.replaying:
            if known is None or not _same(known, event):
                return False
            self.replaying = True
            self.streams += 1
        elif known is not None and known.type != event.type:
            self.problem(
                "sequence",
                f"the resumed stream has {event.type} at sequence_number {seq}, where the earlier "
                f"stream had {known.type}",
                index,
                seq,
            )
        return True

    def _after_end(self, event: Event, index: int, seq: int | None) -> None:
        terminal = isinstance(
            event, ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
        )
        if isinstance(event, Done) and not self.done_seen:
            self.done_seen = True  # `[DONE]` after the terminal event is how OpenRouter ends
        elif terminal and self.terminal is not None:
            self.problem(
                "duplicate_terminal",
                f"second terminal event {event.type} after {self.terminal.type}",
                index,
                seq,
            )
        else:
            after = "[DONE]" if self.done_seen else self.terminal.type if self.terminal else ""
            self.problem("after_terminal", f"{event.type} after {after}", index, seq)

    def _find(
        self, event: Event, item_id: str, output_index: int, index: int, seq: int | None
    ) -> ItemState:
        """The item an item-scoped event belongs to; an unknown id is reported once."""
        found = self.items.get(item_id)
        if found is None:
            found = self.items[item_id] = ItemState(item_id, output_index)
            if self.resumed:
                found.partial = True  # announced before the resume point: no false alarm
            elif item_id not in self.unknown_reported:
                self.unknown_reported.add(item_id)
                self.problem(
                    "unknown_item",
                    f"{event.type} for item {item_id!r}, which no output_item.added announced",
                    index,
                    seq,
                )
        return found

    def _item_event(self, event: Event, index: int, seq: int | None) -> None:
        if isinstance(event, ResponseOutputItemAddedEvent):
            item_id = _item_id(event.item)
            key: str | int = item_id if item_id is not None else event.output_index
            item = self.items.get(key)
            if item is None:
                item = self.items[key] = ItemState(item_id, event.output_index)
            item.added = event.item
            return
        if isinstance(event, ResponseOutputItemDoneEvent):
            item_id = _item_id(event.item)
            if item_id is None and event.output_index in self.items:
                item = self.items[event.output_index]
            else:
                key = item_id if item_id is not None else event.output_index
                item = self._find(event, str(key), event.output_index, index, seq)
            item.done = event.item
            self._compare(item, item_values(event.item), event.type, index, seq)
            return
        item_id = getattr(event, "item_id", None)
        if not isinstance(item_id, str):
            return  # events with no item (audio, shell commands) carry nothing we assemble
        output_index = getattr(event, "output_index", 0)
        item = self._find(event, item_id, output_index, index, seq)
        if isinstance(event, _CONTENT_DELTAS):
            item.channel((_family(event.type), event.content_index)).deltas.append(event.delta)
        elif isinstance(event, ResponseReasoningSummaryTextDeltaEvent):
            key2 = ("reasoning_summary_text", event.summary_index)
            item.channel(key2).deltas.append(event.delta)
        elif isinstance(event, _ITEM_DELTAS):
            item.channel((_family(event.type), 0)).deltas.append(event.delta)
        elif isinstance(event, _DONES):
            self._done(item, event, index, seq)
        elif isinstance(event, ResponseContentPartAddedEvent | ResponseContentPartDoneEvent):
            self._part(item, event.part, event.content_index, event, index, seq)
        elif isinstance(
            event, ResponseReasoningSummaryPartAddedEvent | ResponseReasoningSummaryPartDoneEvent
        ):
            self._part(item, event.part, event.summary_index, event, index, seq)
        elif (
            isinstance(event, ResponseOutputTextAnnotationAddedEvent)
            and event.annotation is not None
        ):
            found = item.annotations.setdefault(event.content_index, {})
            found[event.annotation_index] = event.annotation

    def _done(self, item: ItemState, event: _DoneEvent, index: int, seq: int | None) -> None:
        if isinstance(event, ResponseReasoningSummaryTextDoneEvent):
            position = event.summary_index
        elif isinstance(
            event,
            ResponseOutputTextDoneEvent | ResponseRefusalDoneEvent | ResponseReasoningTextDoneEvent,
        ):
            position = event.content_index
        else:
            position = 0
        if isinstance(event, ResponseFunctionCallArgumentsDoneEvent) and event.name:
            item.name = event.name
        channel = item.channel((_family(event.type), position))
        value = _done_value(event)
        # A `.done` with no deltas before it is accepted as the whole value: some servers (LM
        # Studio) send function arguments only in `.done`.
        if channel.deltas and not item.agrees("".join(channel.deltas), value):
            streamed = "".join(channel.deltas)
            self.problem(
                "done_mismatch",
                f"{event.type} for item {item.item_id!r} differs from its deltas: "
                + _differ(streamed, value),
                index,
                seq,
            )
        channel.done = value

    def _part(
        self,
        item: ItemState,
        part: ContentPart,
        position: int,
        event: Event,
        index: int,
        seq: int | None,
    ) -> None:
        family = PART_CHANNELS.get(type(part))
        if family is None:
            return
        key = (family, position)
        item.parts[key] = part
        text = part_text(part)
        if not event.type.endswith(".done") or text is None:
            return
        if key in item.channels:
            self._compare(item, {key: text}, event.type, index, seq)
        elif text:
            item.channel(key).done = text  # the part's text was never streamed: take it whole

    def _compare(
        self, item: ItemState, final: dict[ChannelKey, str], where: str, index: int, seq: int | None
    ) -> None:
        """Report each streamed channel whose value differs from the finished form's text."""
        for key, text in final.items():
            channel = item.channels.get(key)
            if channel is None:
                continue
            streamed = channel.value()
            if item.agrees(streamed, text):
                if channel.done is None and item.partial:
                    channel.done = text  # the beginning the resumed stream never had
            else:
                family, position = key
                self.problem(
                    "done_mismatch",
                    f"{where}: {family}[{position}] of item {item.item_id!r} differs from the "
                    f"streamed value: " + _differ(streamed, text),
                    index,
                    seq,
                )

    def _check_final(self, event: TerminalEvent, index: int, seq: int | None) -> None:
        """Compare the terminal response's output with the streamed items, by output index."""
        streamed = {item.output_index: item for item in self.items.values()}
        for position, final in enumerate(event.response.output):
            item = streamed.get(position)
            if item is not None:
                self._compare(
                    item, item_values(final), f"{event.type} output[{position}]", index, seq
                )
                if item.partial and item.done is None:
                    item.done = final

    # --- the result ------------------------------------------------------------------------

    def result(self) -> StreamResult:
        ordered = sorted(
            enumerate(self.items.values()), key=lambda pair: (pair[1].output_index, pair[0])
        )
        placed: list[tuple[int, OutputItem]] = []
        for _, state in ordered:
            built = state.build()
            if built is not None:
                placed.append((state.output_index, built))
        terminal = self.terminal
        if terminal is not None:
            response: Response | None = terminal.response
            indexes = {state.output_index for state in self.items.values()}
            for position, final in enumerate(terminal.response.output):
                if position not in indexes:
                    placed.append((position, final))
            placed.sort(key=lambda pair: pair[0])
            outcome: Outcome = _OUTCOMES[terminal.type]
        else:
            response = None
            if self.snapshot is not None:
                response = replace(self.snapshot, output=[item for _, item in placed])
            outcome = "error" if self.error is not None else "truncated"
            if self.stopped is not None and outcome == "truncated" and not self.done_seen:
                outcome = "stopped"  # the client's partial view is not how the stream ended
        return _summarize(self, placed, response, outcome)


def _summarize(
    run: _Run, placed: list[tuple[int, OutputItem]], response: Response | None, outcome: Outcome
) -> StreamResult:
    texts: list[str] = []
    refusals: list[str] = []
    calls: list[FunctionCall] = []
    reasoning: list[Reasoning] = []
    for position, item in placed:
        if isinstance(item, MessageItem):
            for part in item.content:
                if isinstance(part, OutputTextPart):
                    texts.append(part.text)
                elif isinstance(part, RefusalPart):
                    refusals.append(part.refusal)
        elif isinstance(item, FunctionCallItem):
            calls.append(
                FunctionCall(
                    call_id=item.call_id,
                    name=item.name,
                    arguments=item.arguments,
                    item_id=item.id,
                    output_index=position,
                )
            )
        elif isinstance(item, ReasoningItem):
            reasoning.append(
                Reasoning(
                    item_id=item.id,
                    output_index=position,
                    summary=tuple(p.text for p in item.summary if isinstance(p, SummaryTextPart)),
                    content=tuple(
                        p.text for p in item.content or [] if isinstance(p, ReasoningTextPart)
                    ),
                )
            )
    error: ResponseError | None = None
    if run.error is not None:
        nested = run.error.error
        error = ResponseError(
            code=run.error.code,
            message=run.error.message,
            param=run.error.param,
            type=nested.type if nested is not None else None,
        )
    elif response is not None:
        error = response.error
    return StreamResult(
        outcome=outcome,
        response=response,
        output_text="".join(texts),
        function_calls=tuple(calls),
        reasoning=tuple(reasoning),
        refusal="".join(refusals),
        usage=response.usage if response is not None else None,
        error=error,
        items=tuple(item for _, item in placed),
        problems=tuple(run.problems),
        event_count=run.event_count,
        event_counts=dict(run.counts),
        resumed=run.resumed,
        streams=run.streams,
        stopped=run.stopped,
    )


class Accumulator:
    """Incremental fold of events into one `StreamResult` per response (sans-IO).

    `feed(event)` takes events in stream order. Recordings sometimes hold several responses back
    to back, so once the current response has had events, a `response.created` (or a
    `response.queued`/`response.in_progress` naming another response id) begins the next one;
    it is never reported as an event after the end, even after `[DONE]`.

    A resumed stream (`GET /responses/{id}?stream=true&starting_after=N`) joins the response it
    continues: an event naming a response already seen, or (after `begin_stream`) an item of
    one, goes to that response, and events it already has are skipped as the resume's replay.
    `snapshot()` describes the response in progress as if the stream ended now (live progress),
    `results()` gives every response so far, `result()` the only one.
    """

    def __init__(self) -> None:
        self._runs: list[_Run] = []
        self._run: _Run | None = None
        self._count = 0
        self._boundary: tuple[str | None, int | None] | None = None

    @property
    def event_count(self) -> int:
        """Events fed so far."""
        return self._count

    @property
    def response_count(self) -> int:
        """Responses begun so far."""
        return len(self._runs)

    def begin_stream(
        self, *, response_id: str | None = None, starting_after: int | None = None
    ) -> None:
        """Say that the next events come from another HTTP stream: a resume of `response_id`
        after sequence number `starting_after` (both from its request, where known), or a new
        response. Without this call, a resume is still recognised by its events."""
        self._boundary = (response_id, starting_after)

    def feed(self, event: Event) -> None:
        """Fold the next event of the stream in."""
        index = self._count
        self._count += 1
        boundary, self._boundary = self._boundary, None
        run = self._route(event, boundary)
        run.feed(event, index)

    def _route(self, event: Event, boundary: tuple[str | None, int | None] | None) -> _Run:
        """The run `event` belongs to, begun or found."""
        run = self._run
        if isinstance(event, ResponseCreatedEvent):
            if run is None or run.begun:
                return self._new()
            return run
        target = self._continued(event, boundary)
        if target is not None and target is not run:
            if boundary is not None:
                target.streams += 1
                target.replaying = True  # what it already has is skipped, not a fault
            self._run = target
            return target
        if run is None or (boundary is not None and target is None and run.begun):
            run = self._new()
            if boundary is not None and boundary[1] is not None:
                run.resumed = True
            return run
        if boundary is not None and target is run:
            run.streams += 1
            run.replaying = True
        elif run.begun and _starts_response(run, event):
            return self._new()
        return run

    def _continued(
        self, event: Event, boundary: tuple[str | None, int | None] | None
    ) -> _Run | None:
        """The response an event (or the stream it begins) continues, if one was seen."""
        response = getattr(event, "response", None)
        wanted = response.id if isinstance(response, Response) and response.id else None
        if wanted is None and boundary is not None:
            wanted = boundary[0]
        if wanted is not None:
            return next((r for r in reversed(self._runs) if r.response_id == wanted), None)
        item_id = getattr(event, "item_id", None)
        if boundary is not None and isinstance(item_id, str):
            return next((r for r in reversed(self._runs) if item_id in r.items), None)
        return None

    def _new(self) -> _Run:
        run = self._run = _Run()
        self._runs.append(run)
        return run

    def cut_off(self, offset: int) -> None:
        """Report that the stream ended inside a frame starting at byte `offset` (the decoder's
        `cut_off`): its event was delivered, but the stream lost its ending."""
        run = self._run or self._new()
        run.problem(
            "cut_off_frame",
            f"the stream ended inside the frame at byte offset {offset} (no blank line after "
            "it): its event was delivered, but what followed it is lost",
            max(self._count - 1, 0),
            None,
            offset,
        )

    def stop(self, stop: Stopped) -> None:
        """Report that the client stopped reading here (see `Stopped`); a response with no
        end (no terminal event, no `[DONE]`) then has outcome `stopped`, not `truncated`."""
        (self._run or self._new()).stopped = stop

    def snapshot(self) -> StreamResult:
        """The response in progress (the last one), as if the stream ended now."""
        return (self._run or _Run()).result()

    def results(self) -> list[StreamResult]:
        """One result per response fed so far, in the order they began; each as if the stream
        ended now."""
        return [run.result() for run in self._runs]

    def result(self) -> StreamResult:
        """The result of the one response fed (an empty, truncated one if nothing was fed).

        Raises `ValueError` when the events held several responses: use `results()`.
        """
        if len(self._runs) > 1:
            raise ValueError(
                f"the events hold {self.response_count} responses; use results() "
                "(or accumulate_all()) to get one StreamResult per response"
            )
        return self.snapshot()


def _starts_response(run: _Run, event: Event) -> bool:
    if isinstance(event, ResponseQueuedEvent | ResponseInProgressEvent):
        current = run.response_id
        return bool(event.response.id) and current is not None and event.response.id != current
    return False


def accumulate(events: Iterable[Event]) -> StreamResult:
    """Fold the events of one streamed response into its `StreamResult`.

    Raises `ValueError` if the events hold more than one response (see `accumulate_all`), so no
    response is silently dropped. Protocol violations are reported in `problems`, not raised.
    """
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc.result()


def accumulate_all(events: Iterable[Event]) -> list[StreamResult]:
    """Fold events holding any number of responses into one `StreamResult` each, in order."""
    acc = Accumulator()
    for event in events:
        acc.feed(event)
    return acc.results()
