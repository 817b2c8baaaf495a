"""What the stream said about one output item: its text channels (deltas and `.done` value per
(family, index)), its announced parts and annotations, and the item rebuilt from them."""

from __future__ import annotations

from typing import Any, TypeAlias

from msgspec.structs import replace

from streamtape.events import (
    Annotation,
    ApplyPatchCallItem,
    CodeInterpreterCallItem,
    ContentPart,
    CustomToolCallItem,
    FunctionCallItem,
    McpCallItem,
    MessageItem,
    OutputItem,
    OutputTextPart,
    ReasoningItem,
    ReasoningTextPart,
    RefusalPart,
    SummaryTextPart,
)

# ---------------------------------------------------------------------------------------------
# Channels: the streamed text of one (item, family, index), e.g. ("output_text", content_index)
# ---------------------------------------------------------------------------------------------

__all__ = ["PART_CHANNELS", "Channel", "ChannelKey", "ItemState", "item_values", "part_text"]

ChannelKey: TypeAlias = tuple[str, int]
"""A channel of an item: its family (``output_text``, ``refusal``, ``function_call_arguments``...)
and the index of its part within the item (0 for an item's one value)."""

_TEXT_PARTS: dict[str, type[OutputTextPart | ReasoningTextPart | SummaryTextPart]] = {
    "output_text": OutputTextPart,
    "reasoning_text": ReasoningTextPart,
    "reasoning_summary_text": SummaryTextPart,
}
PART_CHANNELS: dict[type[Any], str] = {  # the family of a content part's text
    OutputTextPart: "output_text",
    RefusalPart: "refusal",
    ReasoningTextPart: "reasoning_text",
    SummaryTextPart: "reasoning_summary_text",
}


def part_text(part: ContentPart) -> str | None:
    """The text a content part holds (a refusal's too); None for a part without text."""
    if isinstance(part, RefusalPart):
        return part.refusal
    if isinstance(part, OutputTextPart | ReasoningTextPart | SummaryTextPart):
        return part.text
    return None


def _with_text(part: ContentPart | None, channel: str, value: str) -> ContentPart:
    """`part` with its text replaced by `value`, or a new part of the channel's type."""
    if channel == "refusal":
        if isinstance(part, RefusalPart):
            return replace(part, refusal=value)
        return RefusalPart(refusal=value)
    kind = _TEXT_PARTS[channel]
    return replace(part, text=value) if isinstance(part, kind) else kind(text=value)


def item_values(item: OutputItem) -> dict[ChannelKey, str]:
    """The texts a finished item holds, keyed like the channels that stream them."""
    if isinstance(item, MessageItem):
        out: dict[ChannelKey, str] = {}
        for i, part in enumerate(item.content):
            text = part_text(part)
            if text is not None:
                out[(PART_CHANNELS[type(part)], i)] = text
        return out
    if isinstance(item, ReasoningItem):
        out = {}
        for i, part in enumerate(item.summary):
            if isinstance(part, SummaryTextPart):
                out[("reasoning_summary_text", i)] = part.text
        for i, part in enumerate(item.content or []):
            if isinstance(part, ReasoningTextPart):
                out[("reasoning_text", i)] = part.text
        return out
    if isinstance(item, FunctionCallItem):
        return {("function_call_arguments", 0): item.arguments}
    if isinstance(item, CustomToolCallItem):
        return {("custom_tool_call_input", 0): item.input}
    if isinstance(item, McpCallItem):
        return {("mcp_call_arguments", 0): item.arguments}
    if isinstance(item, CodeInterpreterCallItem) and item.code is not None:
        return {("code_interpreter_call_code", 0): item.code}
    if isinstance(item, ApplyPatchCallItem) and isinstance((item.operation or {}).get("diff"), str):
        return {("apply_patch_call_operation_diff", 0): (item.operation or {})["diff"]}
    return {}


class Channel:
    """Deltas of one channel and its `.done` value (which, once sent, is the value)."""

    __slots__ = ("deltas", "done")

    def __init__(self) -> None:
        self.deltas: list[str] = []
        self.done: str | None = None

    def value(self) -> str:
        return self.done if self.done is not None else "".join(self.deltas)


class ItemState:
    """What the stream said about one output item so far."""

    __slots__ = (
        "added",
        "annotations",
        "channels",
        "done",
        "item_id",
        "name",
        "output_index",
        "partial",
        "parts",
    )

    def __init__(self, item_id: str | None, output_index: int) -> None:
        self.item_id = item_id
        self.output_index = output_index
        self.added: OutputItem | None = None
        self.done: OutputItem | None = None
        self.name: str | None = None  # from OpenRouter's function_call_arguments.done
        self.channels: dict[ChannelKey, Channel] = {}
        # Parts announced by content_part.* / reasoning_summary_part.* events, by channel key.
        self.parts: dict[ChannelKey, ContentPart] = {}
        self.annotations: dict[int, dict[int, Annotation]] = {}
        # Begun before a resumed stream's first event: its deltas may lack their beginning.
        self.partial = False

    def channel(self, key: ChannelKey) -> Channel:
        found = self.channels.get(key)
        if found is None:
            found = self.channels[key] = Channel()
        return found

    def agrees(self, streamed: str, final: str) -> bool:
        """Whether `final` is what `streamed` should be: equal, or for a partial item (see
        `partial`) ending with it."""
        return streamed == final or (self.partial and final.endswith(streamed))

    def values(self) -> dict[ChannelKey, str]:
        return {key: ch.value() for key, ch in self.channels.items()}

    def build(self) -> OutputItem | None:
        """The item as streamed: its final (else first) form with the streamed text patched in."""
        base = self.done if self.done is not None else self.added
        if base is None:
            base = self._placeholder()
        if isinstance(base, MessageItem):
            return replace(base, content=self._parts(base.content, ("output_text", "refusal")))
        if isinstance(base, ReasoningItem):
            summary = self._parts(base.summary, ("reasoning_summary_text",))
            content = self._parts(base.content or [], ("reasoning_text",))
            return replace(base, summary=summary, content=content or base.content)
        values = self.values()
        if isinstance(base, FunctionCallItem):
            args = values.get(("function_call_arguments", 0), base.arguments)
            return replace(base, arguments=args, name=base.name or self.name or "")
        if isinstance(base, CustomToolCallItem):
            return replace(base, input=values.get(("custom_tool_call_input", 0), base.input))
        if isinstance(base, McpCallItem):
            return replace(base, arguments=values.get(("mcp_call_arguments", 0), base.arguments))
        if isinstance(base, CodeInterpreterCallItem):
            return replace(base, code=values.get(("code_interpreter_call_code", 0), base.code))
        if (
            isinstance(base, ApplyPatchCallItem)
            and ("apply_patch_call_operation_diff", 0) in values
        ):
            diff = values[("apply_patch_call_operation_diff", 0)]
            return replace(base, operation={**(base.operation or {}), "diff": diff})
        return base

    def _placeholder(self) -> OutputItem | None:
        """An item for events whose item was never added, guessed from what they streamed."""
        families = {family for family, _ in self.channels}
        if families & {"output_text", "refusal"}:
            return MessageItem(id=self.item_id, role="assistant", status="in_progress")
        if families & {"reasoning_text", "reasoning_summary_text"}:
            return ReasoningItem(id=self.item_id, status="in_progress")
        if "function_call_arguments" in families:
            return FunctionCallItem(id=self.item_id, status="in_progress")
        if "custom_tool_call_input" in families:
            return CustomToolCallItem(id=self.item_id, status="in_progress")
        return None

    def _parts(self, base: list[ContentPart], families: tuple[str, ...]) -> list[ContentPart]:
        by_index: dict[int, ContentPart] = dict(enumerate(base))
        for (family, i), part in self.parts.items():
            if family in families:
                by_index.setdefault(i, part)
        for (family, i), ch in self.channels.items():
            if family in families:
                by_index[i] = _with_text(by_index.get(i), family, ch.value())
        for i, found in self.annotations.items():
            text_part = by_index.get(i)
            if isinstance(text_part, OutputTextPart) and not text_part.annotations:
                by_index[i] = replace(text_part, annotations=[found[k] for k in sorted(found)])
        return [by_index[i] for i in sorted(by_index)]
