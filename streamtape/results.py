"""What `accumulate` returns: the `StreamResult` of one streamed response, with the function
calls, reasoning and protocol `Problem`s found in it."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from streamtape._vocabulary import StopReason
from streamtape.events import OutputItem, Response, ResponseError, Usage

__all__ = [
    "FunctionCall",
    "HttpError",
    "Outcome",
    "Problem",
    "ProblemKind",
    "Reasoning",
    "Stopped",
    "StreamResult",
]

Outcome: TypeAlias = Literal[
    "completed", "incomplete", "failed", "error", "truncated", "http_error", "stopped"
]
"""How a response ended: its terminal event, else an `error` event, else `truncated` (no end).

Read from a recording, two more: `http_error` (the server answered with an HTTP error status
instead of a stream, see `StreamResult.http`) and `stopped` (the recording client stopped reading
before the stream ended, see `StreamResult.stopped`).
"""

ProblemKind: TypeAlias = Literal[
    "sequence",
    "done_mismatch",
    "unknown_item",
    "after_terminal",
    "duplicate_terminal",
    "malformed",
    "cut_off_frame",
]
"""The protocol violations the accumulator reports (see `Problem`)."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A protocol violation found in the stream; reported, never raised.

    `kind` is one of: ``sequence`` (a ``sequence_number`` that is not the previous one plus one),
    ``done_mismatch`` (a ``.done`` value, finished part, finished item or terminal response whose
    text differs from what was streamed), ``unknown_item`` (an event for an item never added),
    ``after_terminal`` (an event after the terminal event or ``[DONE]``), ``duplicate_terminal``
    (a second terminal event), ``malformed`` (a payload the decoder could not read) and
    ``cut_off_frame`` (the stream ended inside a frame, without its blank line: the event is
    delivered, but the stream lost its ending). `index` is the event's 0-based position among all
    events fed; `offset` the byte offset in the body of the frame at fault, where known.
    """

    kind: ProblemKind
    message: str
    index: int
    sequence_number: int | None = None
    offset: int | None = None


class HttpError(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP error answer (status >= 400): the status, the error the JSON body gave (OpenAI's
    ``{"error": {"message", "type", "param", "code"}}`` or OpenRouter's ``{"error": {"code",
    "message", "metadata"}}``) and ``Retry-After`` as sent (seconds or an HTTP date)."""

    status: int
    code: str | None = None
    message: str = ""
    type: str | None = None
    param: str | None = None
    retry_after: str | None = None
    body: str = ""
    """The body as text, cut to 2,000 characters (for bodies that are not the JSON above)."""


class Stopped(msgspec.Struct, frozen=True, kw_only=True):
    """Where and why the recording client stopped reading before the stream's end.

    `reason` is the cassette's end outcome: ``closed`` (the client closed the response) or
    ``interrupted`` (recording stopped with the stream open). `offset_ns` is when (since the
    request), `bytes` how much of the body had been read, `events` how many events it held.
    """

    reason: StopReason
    offset_ns: int
    bytes: int
    events: int


class FunctionCall(msgspec.Struct, frozen=True, kw_only=True):
    """A function call as streamed: `arguments` is the JSON text assembled from its deltas."""

    call_id: str
    name: str
    arguments: str
    item_id: str | None
    output_index: int

    def parsed_arguments(self) -> Any:
        """The arguments decoded as JSON (``{}`` when empty); raises `ValueError` if not JSON."""
        return msgspec.json.decode(self.arguments) if self.arguments.strip() else {}


class Reasoning(msgspec.Struct, frozen=True, kw_only=True):
    """One reasoning item: its summary parts and its raw reasoning-text parts, in order."""

    item_id: str | None
    output_index: int
    summary: tuple[str, ...] = ()
    content: tuple[str, ...] = ()


class StreamResult(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one streamed response said, with the protocol problems found in it.

    `response` is the terminal event's response, or (no terminal event) the last response snapshot
    with its `output` rebuilt from the streamed items. `items` are the output items as streamed,
    in output order, with text assembled from deltas (items only the terminal response lists are
    included as sent). `output_text` and `refusal` join the message parts of `items` with no
    separator, as the OpenAI SDK's `output_text` does. `error` is the `error` event's (it names
    the error category in `type`), else the terminal response's `error`, else (outcome
    `http_error`) the HTTP error body's.

    `resumed` is true when the stream began mid-response (a stream fetched with
    ``starting_after``: no ``response.created``, first ``sequence_number`` above 0) and no earlier
    stream of the response was folded in: text of items begun before the resume point is taken
    from the ``.done`` and final events. `streams` counts the streams folded into this result (2
    when a resume was joined to the stream it continues). `http` and `stopped` describe an HTTP
    error answer and a client that stopped reading early (see `Outcome`).
    """

    outcome: Outcome
    response: Response | None
    output_text: str
    function_calls: tuple[FunctionCall, ...]
    reasoning: tuple[Reasoning, ...]
    refusal: str
    usage: Usage | None
    error: ResponseError | None
    items: tuple[OutputItem, ...]
    problems: tuple[Problem, ...]
    event_count: int
    event_counts: dict[str, int]
    resumed: bool = False
    streams: int = 1
    http: HttpError | None = None
    stopped: Stopped | None = None

    @property
    def reasoning_summary(self) -> str:
        """Every reasoning-summary part of every reasoning item, joined by blank lines."""
        return "\n\n".join(part for r in self.reasoning for part in r.summary)

    @property
    def reasoning_text(self) -> str:
        """Every raw reasoning-text part of every reasoning item, joined by blank lines."""
        return "\n\n".join(part for r in self.reasoning for part in r.content)
