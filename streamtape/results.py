"""What `accumulate` returns: the `StreamResult` of one streamed response, with the function
calls, reasoning and protocol `Problem`s found in it."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

from streamtape.events import OutputItem, Response, ResponseError, Usage

__all__ = ["FunctionCall", "Outcome", "Problem", "ProblemKind", "Reasoning", "StreamResult"]

Outcome: TypeAlias = Literal["completed", "incomplete", "failed", "error", "truncated"]
"""How a response ended: its terminal event, else an `error` event, else `truncated` (no end)."""

ProblemKind: TypeAlias = Literal[
    "sequence", "done_mismatch", "unknown_item", "after_terminal", "duplicate_terminal", "malformed"
]
"""The protocol violations the accumulator reports (see `Problem`)."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """A protocol violation found in the stream; reported, never raised.

    `kind` is one of: ``sequence`` (a ``sequence_number`` that is not the previous one plus one),
    ``done_mismatch`` (a ``.done`` value, finished part, finished item or terminal response whose
    text differs from what was streamed), ``unknown_item`` (an event for an item never added),
    ``after_terminal`` (an event after the terminal event or ``[DONE]``), ``duplicate_terminal``
    (a second terminal event) and ``malformed`` (a payload the decoder could not read). `index` is
    the event's 0-based position among all events fed.
    """

    kind: ProblemKind
    message: str
    index: int
    sequence_number: int | None = None


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
    the error category in `type`), else the terminal response's `error`.
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

    @property
    def reasoning_summary(self) -> str:
        """Every reasoning-summary part of every reasoning item, joined by blank lines."""
        return "\n\n".join(part for r in self.reasoning for part in r.summary)

    @property
    def reasoning_text(self) -> str:
        """Every raw reasoning-text part of every reasoning item, joined by blank lines."""
        return "\n\n".join(part for r in self.reasoning for part in r.content)
