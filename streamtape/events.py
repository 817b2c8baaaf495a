"""Typed events of a Responses-API stream (OpenRouter and OpenAI), as frozen msgspec Structs.

One Struct per wire event type, tagged on the JSON ``type`` key with the wire name, so that a
single ``msgspec.json.Decoder(TaggedEvent)`` dispatches a ``data:`` payload to its class. Field
names are the wire's snake_case keys; every event also has ``event.type``, its tag, read from the
``tag=`` of its class statement (the one place each wire name is written).

Leniency rules, so that real streams never break decoding:

* Unknown keys are ignored everywhere.
* ``sequence_number`` defaults to None: OpenAI streams recorded before about mid-2025 have none.
* An event field is required only where the SDKs that define the event require it and every
  recorded stream has it (``delta``, ``item_id``, ``output_index``, ``response``, ``item`` ...),
  so a strict decoder can report a truncated or broken frame.
* Inside nested objects (``Response``, output items, parts, annotations, usage) every field has a
  default: lists default to ``[]``, the text payloads both SDKs require (``text``, ``arguments``,
  ``call_id`` and ``name`` of calls ...) to ``""``, token counts to ``0``, and everything else
  (ids, statuses, numbers, objects) to None. String enums are plain ``str``: they are open.
* Numbers the specs type as either int or float are ``int | float`` (strict msgspec ``int``
  rejects ``1.0``, ``float`` would turn ``1`` into ``1.0`` on re-encoding).
* Every nested tagged union (output items, content parts, annotations) includes
  ``UnknownObject``: the decoder rewrites an object of an unknown ``type`` into
  ``{"type": "unknown", "original_type": ..., "data": {...}}`` and decodes again.

Structs use ``gc=False``: events hold no reference cycles, and untracked objects make long lists
of events much cheaper to keep. They encode with ``omit_defaults``: a field the wire did not send
(and so holds its default) is not written back, so an encoded event adds no ``null`` keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, get_args

import msgspec
from msgspec.structs import force_setattr

__all__ = [
    "EVENT_TYPES",
    "TERMINAL_TYPES",
    "AdditionalToolsItem",
    "Annotation",
    "ApplyPatchCallItem",
    "ApplyPatchCallOutputItem",
    "BaseEvent",
    "CodeInterpreterCallItem",
    "CompactionItem",
    "ComputerCallItem",
    "ComputerCallOutputItem",
    "ContainerFileCitationAnnotation",
    "ContentPart",
    "CostDetails",
    "CustomToolCallItem",
    "CustomToolCallOutputItem",
    "Done",
    "ErrorDetail",
    "ErrorEvent",
    "Event",
    "FileCitationAnnotation",
    "FilePathAnnotation",
    "FileSearchCallItem",
    "FunctionCallItem",
    "FunctionCallOutputItem",
    "ImageGenerationCallItem",
    "IncompleteDetails",
    "InputTokensDetails",
    "KeepAlive",
    "KeepaliveEvent",
    "LocalShellCallItem",
    "LocalShellCallOutputItem",
    "Logprob",
    "MalformedEvent",
    "McpApprovalRequestItem",
    "McpApprovalResponseItem",
    "McpCallItem",
    "McpListToolsItem",
    "MessageItem",
    "OpaqueEvent",
    "OpenrouterAdvisorItem",
    "OpenrouterApplyPatchItem",
    "OpenrouterArmorBlockedItem",
    "OpenrouterBashItem",
    "OpenrouterBrowserUseItem",
    "OpenrouterCodeInterpreterItem",
    "OpenrouterDatetimeItem",
    "OpenrouterExperimentalSearchModelsItem",
    "OpenrouterFileSearchItem",
    "OpenrouterFilesItem",
    "OpenrouterFusionItem",
    "OpenrouterImageGenerationItem",
    "OpenrouterMcpItem",
    "OpenrouterMemoryItem",
    "OpenrouterShellItem",
    "OpenrouterSubagentItem",
    "OpenrouterTextEditorItem",
    "OpenrouterToolSearchItem",
    "OpenrouterWebFetchItem",
    "OpenrouterWebSearchItem",
    "OutputItem",
    "OutputTextPart",
    "OutputTokensDetails",
    "ProgramItem",
    "ProgramOutputItem",
    "ReasoningItem",
    "ReasoningTextPart",
    "RefusalPart",
    "Response",
    "ResponseApplyPatchCallOperationDiffDeltaEvent",
    "ResponseApplyPatchCallOperationDiffDoneEvent",
    "ResponseAudioDeltaEvent",
    "ResponseAudioDoneEvent",
    "ResponseAudioTranscriptDeltaEvent",
    "ResponseAudioTranscriptDoneEvent",
    "ResponseCodeInterpreterCallCodeDeltaEvent",
    "ResponseCodeInterpreterCallCodeDoneEvent",
    "ResponseCodeInterpreterCallCompletedEvent",
    "ResponseCodeInterpreterCallInProgressEvent",
    "ResponseCodeInterpreterCallInterpretingEvent",
    "ResponseCompactionCompactingEvent",
    "ResponseCompletedEvent",
    "ResponseContentPartAddedEvent",
    "ResponseContentPartDoneEvent",
    "ResponseCreatedEvent",
    "ResponseCustomToolCallInputDeltaEvent",
    "ResponseCustomToolCallInputDoneEvent",
    "ResponseDebugEvent",
    "ResponseError",
    "ResponseFailedEvent",
    "ResponseFileSearchCallCompletedEvent",
    "ResponseFileSearchCallInProgressEvent",
    "ResponseFileSearchCallSearchingEvent",
    "ResponseFunctionCallArgumentsDeltaEvent",
    "ResponseFunctionCallArgumentsDoneEvent",
    "ResponseFusionCallAnalysisCompletedEvent",
    "ResponseFusionCallAnalysisInProgressEvent",
    "ResponseFusionCallCompletedEvent",
    "ResponseFusionCallInProgressEvent",
    "ResponseFusionCallPanelAddedEvent",
    "ResponseFusionCallPanelCompletedEvent",
    "ResponseFusionCallPanelDeltaEvent",
    "ResponseFusionCallPanelFailedEvent",
    "ResponseFusionCallPanelReasoningDeltaEvent",
    "ResponseImageGenerationCallCompletedEvent",
    "ResponseImageGenerationCallGeneratingEvent",
    "ResponseImageGenerationCallInProgressEvent",
    "ResponseImageGenerationCallPartialImageEvent",
    "ResponseInProgressEvent",
    "ResponseIncompleteEvent",
    "ResponseKeepAliveEvent",
    "ResponseMcpCallArgumentsDeltaEvent",
    "ResponseMcpCallArgumentsDoneEvent",
    "ResponseMcpCallCompletedEvent",
    "ResponseMcpCallFailedEvent",
    "ResponseMcpCallInProgressEvent",
    "ResponseMcpListToolsCompletedEvent",
    "ResponseMcpListToolsFailedEvent",
    "ResponseMcpListToolsInProgressEvent",
    "ResponseOutputItemAddedEvent",
    "ResponseOutputItemDoneEvent",
    "ResponseOutputTextAnnotationAddedEvent",
    "ResponseOutputTextDeltaEvent",
    "ResponseOutputTextDoneEvent",
    "ResponseQueuedEvent",
    "ResponseReasoningSummaryPartAddedEvent",
    "ResponseReasoningSummaryPartDoneEvent",
    "ResponseReasoningSummaryTextDeltaEvent",
    "ResponseReasoningSummaryTextDoneEvent",
    "ResponseReasoningTextDeltaEvent",
    "ResponseReasoningTextDoneEvent",
    "ResponseRefusalDeltaEvent",
    "ResponseRefusalDoneEvent",
    "ResponseShellCallCommandAddedEvent",
    "ResponseShellCallCommandDeltaEvent",
    "ResponseShellCallCommandDoneEvent",
    "ResponseShellCallOutputContentDeltaEvent",
    "ResponseShellCallOutputContentDoneEvent",
    "ResponseWebSearchCallCompletedEvent",
    "ResponseWebSearchCallInProgressEvent",
    "ResponseWebSearchCallSearchingEvent",
    "ServerToolUseDetails",
    "ShellCallItem",
    "ShellCallOutputItem",
    "ShellOutputDelta",
    "SummaryTextPart",
    "TaggedEvent",
    "TerminalEvent",
    "ToolSearchCallItem",
    "ToolSearchOutputItem",
    "TopLogprob",
    "UnknownEvent",
    "UnknownObject",
    "UrlCitationAnnotation",
    "Usage",
    "WebSearchCallItem",
]

Number: TypeAlias = int | float
"""A JSON number the specs type as int in one SDK and float in the other."""


class _WireTag:
    """``type`` of a tagged class and its instances: the ``tag=`` it was declared with.

    Each wire tag is written once, in the class statement; msgspec keeps it in the class's
    ``__struct_config__`` and writes it as the ``type`` key when encoding."""

    def __get__(self, instance: object, owner: type[msgspec.Struct]) -> str:
        tag = owner.__struct_config__.tag
        return tag if isinstance(tag, str) else owner.__name__


# msgspec inherits frozen/kw_only/gc/tag_field from a base, but type checkers treat every Struct
# subclass as its own dataclass, so each class below repeats frozen=True, kw_only=True.
class _Shape(msgspec.Struct, frozen=True, kw_only=True, gc=False, omit_defaults=True):
    """Base of the untagged nested objects."""


class _Tagged(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False, omit_defaults=True
):
    """Base of the nested objects tagged on ``type`` (items, parts, annotations)."""

    if TYPE_CHECKING:
        type: ClassVar[str]
    else:
        type = _WireTag()


class UnknownObject(_Tagged, frozen=True, kw_only=True, tag="unknown"):
    """A nested object whose ``type`` no union here knows, kept whole in ``data``."""

    original_type: str = ""
    data: dict[str, Any] = {}


# --------------------------------------------------------------------------------------------
# Logprobs, annotations, content parts (spec §3.3)
# --------------------------------------------------------------------------------------------


class TopLogprob(_Shape, frozen=True, kw_only=True):
    """One alternative token in a logprob entry."""

    token: str | None = None
    logprob: Number | None = None
    bytes: list[int] | None = None


class Logprob(_Shape, frozen=True, kw_only=True):
    """Log probability of one output token (OR ``StreamLogprob``; OA has no ``bytes``)."""

    token: str = ""
    logprob: Number | None = None
    bytes: list[int] | None = None
    top_logprobs: list[TopLogprob] | None = None


class UrlCitationAnnotation(_Tagged, frozen=True, kw_only=True, tag="url_citation"):
    """A web citation over ``text[start_index:end_index]``; ``content`` is OpenRouter-only."""

    url: str = ""
    title: str | None = None
    start_index: int | None = None
    end_index: int | None = None
    content: str | None = None


class FileCitationAnnotation(_Tagged, frozen=True, kw_only=True, tag="file_citation"):
    """A citation of an uploaded file at character ``index``."""

    file_id: str = ""
    filename: str | None = None
    index: int | None = None


class FilePathAnnotation(_Tagged, frozen=True, kw_only=True, tag="file_path"):
    """A path to a file produced by a tool, at character ``index``."""

    file_id: str = ""
    index: int | None = None


class ContainerFileCitationAnnotation(
    _Tagged, frozen=True, kw_only=True, tag="container_file_citation"
):
    """A citation of a file in a code-interpreter container (OpenAI)."""

    container_id: str = ""
    file_id: str = ""
    filename: str | None = None
    start_index: int | None = None
    end_index: int | None = None


Annotation: TypeAlias = (
    UrlCitationAnnotation
    | FileCitationAnnotation
    | FilePathAnnotation
    | ContainerFileCitationAnnotation
    | UnknownObject
)


class OutputTextPart(_Tagged, frozen=True, kw_only=True, tag="output_text"):
    """Visible answer text of a message."""

    text: str = ""
    annotations: list[Annotation] = []
    logprobs: list[Logprob] | None = None


class RefusalPart(_Tagged, frozen=True, kw_only=True, tag="refusal"):
    """The model's refusal text in place of an answer."""

    refusal: str = ""


class ReasoningTextPart(_Tagged, frozen=True, kw_only=True, tag="reasoning_text"):
    """Raw reasoning text (``reasoning.content``, ``content_part.*`` of reasoning items)."""

    text: str = ""


class SummaryTextPart(_Tagged, frozen=True, kw_only=True, tag="summary_text"):
    """One reasoning-summary paragraph (``reasoning.summary``, ``reasoning_summary_part.*``)."""

    text: str = ""


ContentPart: TypeAlias = (
    OutputTextPart | RefusalPart | ReasoningTextPart | SummaryTextPart | UnknownObject
)


# --------------------------------------------------------------------------------------------
# Output items (spec §3.2): the OpenRouter union, then OpenAI's extra types, then the
# OpenRouter server-tool items (``openrouter:*``, several with camelCase wire keys)
# --------------------------------------------------------------------------------------------


class _Item(_Tagged, frozen=True, kw_only=True):
    """Base of output items: nearly all carry an opaque ``id`` (never assume its prefix)."""

    id: str | None = None


class MessageItem(_Item, frozen=True, kw_only=True, tag="message"):
    """An assistant message; ``content`` holds output_text and refusal parts."""

    role: str | None = None
    content: list[ContentPart] = []
    status: str | None = None
    phase: str | None = None


class ReasoningItem(_Item, frozen=True, kw_only=True, tag="reasoning"):
    """Model reasoning: summary parts, optional raw text, encrypted or signed state."""

    summary: list[ContentPart] = []
    content: list[ContentPart] | None = None
    encrypted_content: str | None = None
    status: str | None = None
    format: str | None = None
    signature: str | None = None


class FunctionCallItem(_Item, frozen=True, kw_only=True, tag="function_call"):
    """A call of a client-side function tool; ``arguments`` is JSON text."""

    call_id: str = ""
    name: str = ""
    arguments: str = ""
    status: str | None = None
    namespace: str | None = None
    async_: bool | None = msgspec.field(default=None, name="async")
    caller: dict[str, Any] | None = None
    subagent_id: str | None = None
    subagent_items: list[Any] | None = None


class CustomToolCallItem(_Item, frozen=True, kw_only=True, tag="custom_tool_call"):
    """A call of a freeform-grammar (custom) tool; ``input`` is the raw text."""

    call_id: str = ""
    name: str = ""
    input: str = ""
    status: str | None = None
    namespace: str | None = None
    async_: bool | None = msgspec.field(default=None, name="async")
    caller: dict[str, Any] | None = None


class WebSearchCallItem(_Item, frozen=True, kw_only=True, tag="web_search_call"):
    """A hosted web search; ``action`` is search, open_page or find_in_page."""

    status: str | None = None
    action: dict[str, Any] | None = None


class FileSearchCallItem(_Item, frozen=True, kw_only=True, tag="file_search_call"):
    """A hosted file (vector store) search."""

    queries: list[str] = []
    status: str | None = None
    results: list[dict[str, Any]] | None = None


class ImageGenerationCallItem(_Item, frozen=True, kw_only=True, tag="image_generation_call"):
    """A hosted image generation; ``result`` is base64 image data."""

    status: str | None = None
    result: str | None = None
    prompt: str | None = None
    revised_prompt: str | None = None
    action: str | None = None
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None
    error: Any = None
    svg_usage: Any = None


class CodeInterpreterCallItem(_Item, frozen=True, kw_only=True, tag="code_interpreter_call"):
    """A hosted code-interpreter run; ``outputs`` are logs, images or files."""

    status: str | None = None
    code: str | None = None
    container_id: str | None = None
    outputs: list[dict[str, Any]] | None = None


class ComputerCallItem(_Item, frozen=True, kw_only=True, tag="computer_call"):
    """A computer-use action for the client to perform."""

    call_id: str = ""
    pending_safety_checks: list[dict[str, Any]] = []
    status: str | None = None
    action: Any = None
    actions: list[Any] | None = None


class ApplyPatchCallItem(_Item, frozen=True, kw_only=True, tag="apply_patch_call"):
    """A file operation (create_file, update_file, delete_file) for the client to apply."""

    call_id: str = ""
    status: str | None = None
    operation: dict[str, Any] | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class ShellCallItem(_Item, frozen=True, kw_only=True, tag="shell_call"):
    """Shell commands for the client (or a container) to run."""

    call_id: str = ""
    status: str | None = None
    action: dict[str, Any] | None = None
    arguments: str | None = None
    environment: dict[str, Any] | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class ShellCallOutputItem(_Item, frozen=True, kw_only=True, tag="shell_call_output"):
    """Output of shell commands: per command stdout, stderr and outcome."""

    call_id: str = ""
    status: str | None = None
    output: list[dict[str, Any]] = []
    container_id: str | None = None
    error: Any = None
    files: list[Any] | None = None
    max_output_length: int | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class ToolSearchCallItem(_Item, frozen=True, kw_only=True, tag="tool_search_call"):
    """A search over deferred tools; ``execution`` is "client" or "server"."""

    call_id: str | None = None
    execution: str | None = None
    status: str | None = None
    arguments: Any = None
    created_by: str | None = None


class FunctionCallOutputItem(_Item, frozen=True, kw_only=True, tag="function_call_output"):
    """The result of a function call (OpenAI)."""

    call_id: str | None = None
    output: str | list[Any] | None = None
    status: str | None = None
    name: str | None = None
    namespace: str | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class ComputerCallOutputItem(_Item, frozen=True, kw_only=True, tag="computer_call_output"):
    """A screenshot returned for a computer call (OpenAI)."""

    call_id: str = ""
    output: dict[str, Any] | None = None
    status: str | None = None
    acknowledged_safety_checks: list[dict[str, Any]] | None = None
    created_by: str | None = None


class CustomToolCallOutputItem(_Item, frozen=True, kw_only=True, tag="custom_tool_call_output"):
    """The result of a custom tool call (OpenAI)."""

    call_id: str = ""
    output: str | list[Any] | None = None
    status: str | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class ApplyPatchCallOutputItem(_Item, frozen=True, kw_only=True, tag="apply_patch_call_output"):
    """The result of an apply_patch call (OpenAI)."""

    call_id: str = ""
    status: str | None = None
    output: str | None = None
    caller: dict[str, Any] | None = None
    created_by: str | None = None


class LocalShellCallItem(_Item, frozen=True, kw_only=True, tag="local_shell_call"):
    """A command for the client's local shell (OpenAI)."""

    call_id: str = ""
    status: str | None = None
    action: dict[str, Any] | None = None


class LocalShellCallOutputItem(_Item, frozen=True, kw_only=True, tag="local_shell_call_output"):
    """Output of a local shell command (OpenAI)."""

    output: str = ""
    status: str | None = None


class McpCallItem(_Item, frozen=True, kw_only=True, tag="mcp_call"):
    """A tool call on a remote MCP server (OpenAI)."""

    name: str = ""
    arguments: str = ""
    server_label: str = ""
    approval_request_id: str | None = None
    output: str | None = None
    error: Any = None
    status: str | None = None


class McpListToolsItem(_Item, frozen=True, kw_only=True, tag="mcp_list_tools"):
    """The tools listed by a remote MCP server (OpenAI)."""

    server_label: str = ""
    tools: list[dict[str, Any]] = []
    error: Any = None


class McpApprovalRequestItem(_Item, frozen=True, kw_only=True, tag="mcp_approval_request"):
    """A request for the user to approve an MCP tool call (OpenAI)."""

    name: str = ""
    arguments: str = ""
    server_label: str = ""


class McpApprovalResponseItem(_Item, frozen=True, kw_only=True, tag="mcp_approval_response"):
    """The user's answer to an MCP approval request (OpenAI)."""

    approval_request_id: str = ""
    approve: bool | None = None
    reason: str | None = None


class ProgramItem(_Item, frozen=True, kw_only=True, tag="program"):
    """A program the model wrote to call tools programmatically (OpenAI)."""

    call_id: str = ""
    code: str = ""
    fingerprint: str | None = None


class ProgramOutputItem(_Item, frozen=True, kw_only=True, tag="program_output"):
    """The result of a program item (OpenAI)."""

    call_id: str = ""
    result: str = ""
    status: str | None = None


class ToolSearchOutputItem(_Item, frozen=True, kw_only=True, tag="tool_search_output"):
    """The tools a tool search found (OpenAI)."""

    call_id: str | None = None
    execution: str | None = None
    status: str | None = None
    tools: list[dict[str, Any]] = []
    created_by: str | None = None


class AdditionalToolsItem(_Item, frozen=True, kw_only=True, tag="additional_tools"):
    """Tools added to the conversation mid-response (OpenAI)."""

    role: str | None = None
    tools: list[dict[str, Any]] = []


class CompactionItem(_Item, frozen=True, kw_only=True, tag="compaction"):
    """Encrypted compacted conversation state (OpenAI)."""

    encrypted_content: str = ""
    created_by: str | None = None


class _ServerToolItem(_Item, frozen=True, kw_only=True):
    """Base of OpenRouter server-tool items (``openrouter:*``)."""

    status: str | None = None
    error: Any = None


class OpenrouterWebSearchItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:web_search"
):
    """OpenRouter's server-side web search."""

    action: dict[str, Any] | None = None


class OpenrouterWebFetchItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:web_fetch"
):
    """OpenRouter's server-side page fetch."""

    url: str | None = None
    title: str | None = None
    content: str | None = None
    http_status: int | None = msgspec.field(default=None, name="httpStatus")


class OpenrouterFileSearchItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:file_search"
):
    """OpenRouter's server-side file search."""

    queries: list[str] | None = None


class OpenrouterFilesItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:files"):
    """OpenRouter's server-side file operation."""

    operation: str | None = None
    file_id: str | None = None
    filename: str | None = None
    result: str | None = None
    call_id: str | None = None
    arguments: str | None = None


class OpenrouterCodeInterpreterItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:code_interpreter"
):
    """OpenRouter's server-side code execution."""

    code: str | None = None
    language: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = msgspec.field(default=None, name="exitCode")


class OpenrouterBashItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:bash"):
    """OpenRouter's server-side bash command."""

    command: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    exit_code: int | None = msgspec.field(default=None, name="exitCode")
    container_id: str | None = None
    files: list[Any] | None = None
    call_id: str | None = None
    arguments: str | None = None


class OpenrouterShellItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:shell"):
    """OpenRouter's server-side shell run."""

    action: dict[str, Any] | None = None
    output: list[dict[str, Any]] | None = None
    container_id: str | None = None
    files: list[Any] | None = None
    call_id: str | None = None
    arguments: str | None = None


class OpenrouterTextEditorItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:text_editor"
):
    """OpenRouter's server-side text editor (view, create, str_replace, insert)."""

    command: str | None = None
    file_path: str | None = msgspec.field(default=None, name="filePath")


class OpenrouterApplyPatchItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:apply_patch"
):
    """OpenRouter's server-side patch application."""

    call_id: str | None = None
    operation: dict[str, Any] | None = None


class OpenrouterImageGenerationItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:image_generation"
):
    """OpenRouter's server-side image generation."""

    prompt: str | None = None
    revised_prompt: str | None = msgspec.field(default=None, name="revisedPrompt")
    image_b64: str | None = msgspec.field(default=None, name="imageB64")
    image_url: str | None = msgspec.field(default=None, name="imageUrl")
    result: str | None = None


class OpenrouterBrowserUseItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:browser_use"
):
    """OpenRouter's server-side browser action."""

    action: Any = None
    screenshot_b64: str | None = msgspec.field(default=None, name="screenshotB64")


class OpenrouterMcpItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:mcp"):
    """OpenRouter's server-side MCP tool call."""

    server_label: str | None = msgspec.field(default=None, name="serverLabel")
    tool_name: str | None = msgspec.field(default=None, name="toolName")


class OpenrouterMemoryItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:memory"):
    """OpenRouter's server-side memory read, write or delete."""

    action: str | None = None
    key: str | None = None
    value: Any = None


class OpenrouterDatetimeItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:datetime"):
    """OpenRouter's server-side current date and time."""

    datetime: str = ""
    timezone: str = ""


class OpenrouterToolSearchItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:tool_search"
):
    """OpenRouter's server-side tool search."""

    query: str | None = None
    matches: list[dict[str, Any]] | None = None


class OpenrouterExperimentalSearchModelsItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:experimental__search_models"
):
    """OpenRouter's server-side model search (experimental)."""

    query: str | None = None
    arguments: str | None = None


class OpenrouterSubagentItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:subagent"):
    """OpenRouter's server-side subagent run."""

    call_id: str | None = None
    name: str | None = None
    model: str | None = None
    instance_name: str | None = None
    task_name: str | None = None
    task_description: str | None = None
    outcome: str | None = None


class OpenrouterAdvisorItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:advisor"):
    """OpenRouter's server-side advice from another model."""

    model: str | None = None
    instance_name: str | None = None
    prompt: str | None = None
    advice: str | None = None


class OpenrouterFusionItem(_ServerToolItem, frozen=True, kw_only=True, tag="openrouter:fusion"):
    """OpenRouter's server-side fusion of several models' answers."""

    analysis: dict[str, Any] | None = None
    responses: list[dict[str, Any]] | None = None
    sources: list[dict[str, Any]] | None = None
    failed_models: list[dict[str, Any]] | None = None
    failure_reason: str | None = None


class OpenrouterArmorBlockedItem(
    _ServerToolItem, frozen=True, kw_only=True, tag="openrouter:armor_blocked"
):
    """A tool call that OpenRouter's guardrail blocked."""

    call_id: str = ""
    name: str = ""
    arguments: str = ""
    reason: str = ""
    explanation: str = ""
    namespace: str | None = None


OutputItem: TypeAlias = (
    MessageItem
    | ReasoningItem
    | FunctionCallItem
    | CustomToolCallItem
    | WebSearchCallItem
    | FileSearchCallItem
    | ImageGenerationCallItem
    | CodeInterpreterCallItem
    | ComputerCallItem
    | ApplyPatchCallItem
    | ShellCallItem
    | ShellCallOutputItem
    | ToolSearchCallItem
    | FunctionCallOutputItem
    | ComputerCallOutputItem
    | CustomToolCallOutputItem
    | ApplyPatchCallOutputItem
    | LocalShellCallItem
    | LocalShellCallOutputItem
    | McpCallItem
    | McpListToolsItem
    | McpApprovalRequestItem
    | McpApprovalResponseItem
    | ProgramItem
    | ProgramOutputItem
    | ToolSearchOutputItem
    | AdditionalToolsItem
    | CompactionItem
    | OpenrouterWebSearchItem
    | OpenrouterWebFetchItem
    | OpenrouterFileSearchItem
    | OpenrouterFilesItem
    | OpenrouterCodeInterpreterItem
    | OpenrouterBashItem
    | OpenrouterShellItem
    | OpenrouterTextEditorItem
    | OpenrouterApplyPatchItem
    | OpenrouterImageGenerationItem
    | OpenrouterBrowserUseItem
    | OpenrouterMcpItem
    | OpenrouterMemoryItem
    | OpenrouterDatetimeItem
    | OpenrouterToolSearchItem
    | OpenrouterExperimentalSearchModelsItem
    | OpenrouterSubagentItem
    | OpenrouterAdvisorItem
    | OpenrouterFusionItem
    | OpenrouterArmorBlockedItem
    | UnknownObject
)


# --------------------------------------------------------------------------------------------
# Usage and the Response object (spec §3.1, §3.4)
# --------------------------------------------------------------------------------------------


class InputTokensDetails(_Shape, frozen=True, kw_only=True):
    """Breakdown of input tokens: cache reads and (OpenAI 3.57+, OpenRouter) cache writes."""

    cached_tokens: int = 0
    cache_write_tokens: int | None = None
    cache_write_tokens_details: dict[str, Any] | None = None


class OutputTokensDetails(_Shape, frozen=True, kw_only=True):
    """Breakdown of output tokens."""

    reasoning_tokens: int = 0


class CostDetails(_Shape, frozen=True, kw_only=True):
    """OpenRouter's cost breakdown in USD (tiny floats such as ``8.7e-06``)."""

    upstream_inference_cost: Number | None = None
    upstream_inference_input_cost: Number | None = None
    upstream_inference_output_cost: Number | None = None
    server_tool_cost: Number | None = None


class ServerToolUseDetails(_Shape, frozen=True, kw_only=True):
    """OpenRouter's counts of server-tool calls."""

    tool_calls_executed: int | None = None
    tool_calls_requested: int | None = None
    web_search_requests: int | None = None


class Usage(_Shape, frozen=True, kw_only=True):
    """Token usage; ``cost``, ``is_byok``, ``cost_details`` and tool details are OpenRouter's,
    the ``num_*`` and ``server_side_tool_usage_details`` keys those of xAI-style gateways."""

    input_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails | None = None
    total_tokens: int = 0
    cost: Number | None = None
    is_byok: bool | None = None
    cost_details: CostDetails | None = None
    server_tool_use_details: ServerToolUseDetails | None = None
    num_sources_used: int | None = None
    num_server_side_tools_used: int | None = None
    server_side_tool_usage_details: dict[str, Any] | None = None


class ResponseError(_Shape, frozen=True, kw_only=True):
    """``response.error`` of a failed response; ``param``, ``type``, ``misalignment`` are OA's."""

    code: str | None = None
    message: str = ""
    metadata: dict[str, Any] | None = None
    param: str | None = None
    type: str | None = None
    misalignment: Any = None


class IncompleteDetails(_Shape, frozen=True, kw_only=True):
    """Why a response is incomplete (``max_output_tokens``, ``content_filter``, ...; open)."""

    reason: str | None = None


_RawField: TypeAlias = msgspec.Raw | msgspec.UnsetType


class Response(_Shape, frozen=True, kw_only=True):
    """The response object carried by ``response.created`` ... ``response.completed``.

    Every field has a default: gateways omit many keys the SDKs mark required. The large,
    volatile request echoes (``tools``, ``instructions``, ``reasoning``, ``text``, ``prompt``,
    ``tool_choice``) stay undecoded JSON (``msgspec.Raw``; ``msgspec.UNSET`` when absent, so
    encoding writes back exactly what was read). Decode one with ``msgspec.json.decode``.
    """

    id: str = ""
    object: str | None = None
    created_at: Number | None = None
    completed_at: Number | None = None
    model: str = ""
    status: str | None = None
    output: list[OutputItem] = []
    output_text: str | None = None
    error: ResponseError | None = None
    error_type: str | None = None
    incomplete_details: IncompleteDetails | None = None
    usage: Usage | None = None
    instructions: _RawField = msgspec.UNSET
    tools: _RawField = msgspec.UNSET
    tool_choice: _RawField = msgspec.UNSET
    reasoning: _RawField = msgspec.UNSET
    text: _RawField = msgspec.UNSET
    prompt: _RawField = msgspec.UNSET
    metadata: dict[str, Any] | None = None
    temperature: Number | None = None
    top_p: Number | None = None
    presence_penalty: Number | None = None
    frequency_penalty: Number | None = None
    parallel_tool_calls: bool | None = None
    background: bool | None = None
    store: bool | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    top_logprobs: int | None = None
    previous_response_id: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: dict[str, Any] | None = None
    safety_identifier: str | None = None
    user: str | None = None
    service_tier: str | None = None
    truncation: str | None = None
    conversation: Any = None
    moderation: Any = None
    tool_usage: Any = None
    openrouter_metadata: dict[str, Any] | None = None
    alignment: Any = None
    safeguard_results: list[Any] | None = None
    content_filters: list[Any] | None = None
    access_programs: dict[str, Any] | None = None
    image: dict[str, Any] | None = None
    input_transformations: list[Any] | None = None
    prompt_cache_diagnostics: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------------
# Event bases
# --------------------------------------------------------------------------------------------


class BaseEvent(
    msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False, omit_defaults=True
):
    """Base of every tagged stream event; ``type`` is the wire tag of the subclass."""

    if TYPE_CHECKING:
        type: ClassVar[str]
    else:
        type = _WireTag()
    sequence_number: int | None = None


class _ResponseEvent(BaseEvent, frozen=True, kw_only=True):
    """An event carrying a full snapshot of the response."""

    response: Response


class _OutputIndexEvent(BaseEvent, frozen=True, kw_only=True):
    """An event about the output item at ``output_index``."""

    output_index: int


class _ItemEvent(_OutputIndexEvent, frozen=True, kw_only=True):
    """An event about the output item ``item_id`` at ``output_index``."""

    item_id: str


class _ContentEvent(_ItemEvent, frozen=True, kw_only=True):
    """An event about content part ``content_index`` of an item."""

    content_index: int


class _SummaryEvent(_ItemEvent, frozen=True, kw_only=True):
    """An event about reasoning-summary part ``summary_index`` of an item."""

    summary_index: int


class _FusionPanelEvent(_ItemEvent, frozen=True, kw_only=True):
    """An event about one panel ``model`` of an OpenRouter fusion call."""

    model: str


class _ShellCommandEvent(_OutputIndexEvent, frozen=True, kw_only=True):
    """An event about command ``command_index`` of a shell call (no ``item_id`` on the wire)."""

    command_index: int


# --------------------------------------------------------------------------------------------
# Lifecycle events (terminal: completed, incomplete, failed)
# --------------------------------------------------------------------------------------------


class ResponseCreatedEvent(_ResponseEvent, frozen=True, kw_only=True, tag="response.created"):
    """The response was created (usually ``status`` in_progress, empty ``output``)."""


class ResponseQueuedEvent(_ResponseEvent, frozen=True, kw_only=True, tag="response.queued"):
    """A background response is queued (OpenAI)."""


class ResponseInProgressEvent(
    _ResponseEvent, frozen=True, kw_only=True, tag="response.in_progress"
):
    """The response is being generated."""


class ResponseCompletedEvent(_ResponseEvent, frozen=True, kw_only=True, tag="response.completed"):
    """Terminal: the response finished; carries the final output and usage."""


class ResponseIncompleteEvent(_ResponseEvent, frozen=True, kw_only=True, tag="response.incomplete"):
    """Terminal: the response stopped early; see ``response.incomplete_details``."""


class ResponseFailedEvent(_ResponseEvent, frozen=True, kw_only=True, tag="response.failed"):
    """Terminal: the response failed; see ``response.error`` and ``response.error_type``."""


class ErrorDetail(_Shape, frozen=True, kw_only=True):
    """The nested ``error`` object of OpenAI's live ``error`` events."""

    type: str | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None


class ErrorEvent(BaseEvent, frozen=True, kw_only=True, tag="error"):
    """An in-band error, in either wire form, normalized to ``code``/``message``/``param``.

    OpenRouter (and OpenAI's docs) send the fields flat: ``{"type": "error", "code": ...,
    "message": ..., "param": ...}``. OpenAI's live API nests them: ``{"type": "error",
    "error": {"type": ..., "code": ..., "message": ..., "param": ...}}``. After decoding, the flat
    attributes always hold the values: a flat value wins, and a missing (None or empty) flat value
    is filled from the nested object, which stays available as ``error`` (its ``type`` is the
    error category, e.g. ``insufficient_quota``). Encoding therefore writes the flat fields, plus
    ``error`` when the wire had it.
    """

    code: str | None = None
    message: str = ""
    param: str | None = None
    error: ErrorDetail | None = None

    def __post_init__(self) -> None:
        nested = self.error
        if nested is None:
            return
        if self.code is None and nested.code is not None:
            force_setattr(self, "code", nested.code)
        if not self.message and nested.message:
            force_setattr(self, "message", nested.message)
        if self.param is None and nested.param is not None:
            force_setattr(self, "param", nested.param)


class ResponseDebugEvent(BaseEvent, frozen=True, kw_only=True, tag="response.debug"):
    """Upstream echo and timings, sent when the request asks for debug output (OpenRouter)."""

    debug: dict[str, Any]


class KeepAlive(BaseEvent, frozen=True, kw_only=True):
    """Base of the undocumented heartbeat frames: transport no-ops, kept on the tape."""


class ResponseKeepAliveEvent(KeepAlive, frozen=True, kw_only=True, tag="response.keep_alive"):
    """OpenRouter's JSON heartbeat during long calls."""


class KeepaliveEvent(KeepAlive, frozen=True, kw_only=True, tag="keepalive"):
    """OpenAI's and Azure's JSON heartbeat on long streams."""


# --------------------------------------------------------------------------------------------
# Output items and content parts
# --------------------------------------------------------------------------------------------


class ResponseOutputItemAddedEvent(
    _OutputIndexEvent, frozen=True, kw_only=True, tag="response.output_item.added"
):
    """A new output item starts (usually in_progress, with empty content or arguments)."""

    item: OutputItem


class ResponseOutputItemDoneEvent(
    _OutputIndexEvent, frozen=True, kw_only=True, tag="response.output_item.done"
):
    """An output item is complete, in its final form."""

    item: OutputItem


class ResponseContentPartAddedEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.content_part.added"
):
    """A content part (output_text, refusal, reasoning_text) starts."""

    part: ContentPart


class ResponseContentPartDoneEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.content_part.done"
):
    """A content part is complete."""

    part: ContentPart


# --------------------------------------------------------------------------------------------
# Text, refusal, reasoning
# --------------------------------------------------------------------------------------------


class ResponseOutputTextDeltaEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.output_text.delta"
):
    """A fragment of answer text."""

    delta: str
    obfuscation: str | None = None
    logprobs: list[Logprob] = []


class ResponseOutputTextDoneEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.output_text.done"
):
    """The full answer text of a part."""

    text: str
    logprobs: list[Logprob] = []


class ResponseOutputTextAnnotationAddedEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.output_text.annotation.added"
):
    """An annotation (citation) was added to a text part."""

    annotation_index: int
    annotation: Annotation | None = None


class ResponseRefusalDeltaEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.refusal.delta"
):
    """A fragment of refusal text."""

    delta: str
    obfuscation: str | None = None


class ResponseRefusalDoneEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.refusal.done"
):
    """The full refusal text of a part."""

    refusal: str


class ResponseReasoningTextDeltaEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.reasoning_text.delta"
):
    """A fragment of raw reasoning text."""

    delta: str
    obfuscation: str | None = None


class ResponseReasoningTextDoneEvent(
    _ContentEvent, frozen=True, kw_only=True, tag="response.reasoning_text.done"
):
    """The full raw reasoning text of a part."""

    text: str


class ResponseReasoningSummaryPartAddedEvent(
    _SummaryEvent, frozen=True, kw_only=True, tag="response.reasoning_summary_part.added"
):
    """A reasoning-summary part starts."""

    part: ContentPart


class ResponseReasoningSummaryPartDoneEvent(
    _SummaryEvent, frozen=True, kw_only=True, tag="response.reasoning_summary_part.done"
):
    """A reasoning-summary part is complete (``status`` "incomplete" is OpenAI's)."""

    part: ContentPart
    status: str | None = None


class ResponseReasoningSummaryTextDeltaEvent(
    _SummaryEvent, frozen=True, kw_only=True, tag="response.reasoning_summary_text.delta"
):
    """A fragment of reasoning-summary text."""

    delta: str
    obfuscation: str | None = None


class ResponseReasoningSummaryTextDoneEvent(
    _SummaryEvent, frozen=True, kw_only=True, tag="response.reasoning_summary_text.done"
):
    """The full text of a reasoning-summary part."""

    text: str


# --------------------------------------------------------------------------------------------
# Function and custom tool calls
# --------------------------------------------------------------------------------------------


class ResponseFunctionCallArgumentsDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.function_call_arguments.delta"
):
    """A fragment of a function call's JSON arguments text."""

    delta: str
    obfuscation: str | None = None


class ResponseFunctionCallArgumentsDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.function_call_arguments.done"
):
    """A function call's full arguments (``name`` is sent by OpenRouter, not by OpenAI)."""

    arguments: str
    name: str | None = None


class ResponseCustomToolCallInputDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.custom_tool_call_input.delta"
):
    """A fragment of a custom tool call's input."""

    delta: str
    obfuscation: str | None = None


class ResponseCustomToolCallInputDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.custom_tool_call_input.done"
):
    """A custom tool call's full input."""

    input: str


# --------------------------------------------------------------------------------------------
# Hosted tools: web search, file search, code interpreter, image generation, apply_patch
# --------------------------------------------------------------------------------------------


class ResponseWebSearchCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.web_search_call.in_progress"
):
    """A web search started."""


class ResponseWebSearchCallSearchingEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.web_search_call.searching"
):
    """A web search is searching."""


class ResponseWebSearchCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.web_search_call.completed"
):
    """A web search finished."""


class ResponseFileSearchCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.file_search_call.in_progress"
):
    """A file search started (OpenAI)."""


class ResponseFileSearchCallSearchingEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.file_search_call.searching"
):
    """A file search is searching (OpenAI)."""


class ResponseFileSearchCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.file_search_call.completed"
):
    """A file search finished (OpenAI)."""


class ResponseCodeInterpreterCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.code_interpreter_call.in_progress"
):
    """A code-interpreter call started."""


class ResponseCodeInterpreterCallInterpretingEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.code_interpreter_call.interpreting"
):
    """A code-interpreter call is running its code."""


class ResponseCodeInterpreterCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.code_interpreter_call.completed"
):
    """A code-interpreter call finished."""


class ResponseCodeInterpreterCallCodeDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.code_interpreter_call_code.delta"
):
    """A fragment of the code a code-interpreter call will run."""

    delta: str
    obfuscation: str | None = None


class ResponseCodeInterpreterCallCodeDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.code_interpreter_call_code.done"
):
    """The full code of a code-interpreter call."""

    code: str


class ResponseImageGenerationCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.image_generation_call.in_progress"
):
    """An image generation started."""


class ResponseImageGenerationCallGeneratingEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.image_generation_call.generating"
):
    """An image is being generated."""


class ResponseImageGenerationCallPartialImageEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.image_generation_call.partial_image"
):
    """A partial (progressive) image, base64 (the four optional keys are OpenAI's)."""

    partial_image_b64: str
    partial_image_index: int
    background: str | None = None
    output_format: str | None = None
    quality: str | None = None
    size: str | None = None


class ResponseImageGenerationCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.image_generation_call.completed"
):
    """An image generation finished."""


class ResponseApplyPatchCallOperationDiffDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.apply_patch_call_operation_diff.delta"
):
    """A fragment of an apply_patch operation's diff."""

    delta: str
    obfuscation: str | None = None


class ResponseApplyPatchCallOperationDiffDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.apply_patch_call_operation_diff.done"
):
    """The full diff of an apply_patch operation."""

    diff: str


# --------------------------------------------------------------------------------------------
# OpenRouter fusion calls
# --------------------------------------------------------------------------------------------


class ResponseFusionCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.fusion_call.in_progress"
):
    """A fusion call started (OpenRouter)."""


class ResponseFusionCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.fusion_call.completed"
):
    """A fusion call finished (OpenRouter)."""


class ResponseFusionCallPanelAddedEvent(
    _FusionPanelEvent, frozen=True, kw_only=True, tag="response.fusion_call.panel.added"
):
    """A panel model joined a fusion call (OpenRouter)."""


class ResponseFusionCallPanelDeltaEvent(
    _FusionPanelEvent, frozen=True, kw_only=True, tag="response.fusion_call.panel.delta"
):
    """A fragment of a panel model's answer (OpenRouter)."""

    delta: str


class ResponseFusionCallPanelReasoningDeltaEvent(
    _FusionPanelEvent, frozen=True, kw_only=True, tag="response.fusion_call.panel.reasoning.delta"
):
    """A fragment of a panel model's reasoning (OpenRouter)."""

    delta: str


class ResponseFusionCallPanelCompletedEvent(
    _FusionPanelEvent, frozen=True, kw_only=True, tag="response.fusion_call.panel.completed"
):
    """A panel model's full answer (OpenRouter)."""

    content: str


class ResponseFusionCallPanelFailedEvent(
    _FusionPanelEvent, frozen=True, kw_only=True, tag="response.fusion_call.panel.failed"
):
    """A panel model failed (OpenRouter)."""

    error: str
    status_code: int | None = None


class ResponseFusionCallAnalysisInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.fusion_call.analysis.in_progress"
):
    """The fusion analysis started (OpenRouter)."""

    analyst_model: str
    judge_model: str


class ResponseFusionCallAnalysisCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.fusion_call.analysis.completed"
):
    """The fusion analysis: consensus, contradictions, blind spots... (OpenRouter)."""

    analysis: dict[str, Any]


# --------------------------------------------------------------------------------------------
# OpenAI-only: audio, MCP, compaction, shell
# --------------------------------------------------------------------------------------------


class ResponseAudioDeltaEvent(BaseEvent, frozen=True, kw_only=True, tag="response.audio.delta"):
    """A chunk of base64 audio (no item or index on the wire)."""

    delta: str
    obfuscation: str | None = None


class ResponseAudioDoneEvent(BaseEvent, frozen=True, kw_only=True, tag="response.audio.done"):
    """The audio is complete."""


class ResponseAudioTranscriptDeltaEvent(
    BaseEvent, frozen=True, kw_only=True, tag="response.audio.transcript.delta"
):
    """A fragment of the audio transcript."""

    delta: str
    obfuscation: str | None = None


class ResponseAudioTranscriptDoneEvent(
    BaseEvent, frozen=True, kw_only=True, tag="response.audio.transcript.done"
):
    """The audio transcript is complete."""


class ResponseMcpCallInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_call.in_progress"
):
    """An MCP tool call started."""


class ResponseMcpCallCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_call.completed"
):
    """An MCP tool call finished."""


class ResponseMcpCallFailedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_call.failed"
):
    """An MCP tool call failed."""


class ResponseMcpCallArgumentsDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_call_arguments.delta"
):
    """A fragment of an MCP tool call's JSON arguments."""

    delta: str
    obfuscation: str | None = None


class ResponseMcpCallArgumentsDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_call_arguments.done"
):
    """An MCP tool call's full arguments."""

    arguments: str


class ResponseMcpListToolsInProgressEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_list_tools.in_progress"
):
    """Listing an MCP server's tools started."""


class ResponseMcpListToolsCompletedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_list_tools.completed"
):
    """Listing an MCP server's tools finished."""


class ResponseMcpListToolsFailedEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.mcp_list_tools.failed"
):
    """Listing an MCP server's tools failed."""


class ResponseCompactionCompactingEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.compaction.compacting"
):
    """The conversation is being compacted."""


class ResponseShellCallCommandAddedEvent(
    _ShellCommandEvent, frozen=True, kw_only=True, tag="response.shell_call_command.added"
):
    """A shell command starts."""

    command: str


class ResponseShellCallCommandDeltaEvent(
    _ShellCommandEvent, frozen=True, kw_only=True, tag="response.shell_call_command.delta"
):
    """A fragment of a shell command."""

    delta: str
    obfuscation: str | None = None


class ResponseShellCallCommandDoneEvent(
    _ShellCommandEvent, frozen=True, kw_only=True, tag="response.shell_call_command.done"
):
    """A shell command's full text."""

    command: str


class ShellOutputDelta(_Shape, frozen=True, kw_only=True):
    """New stdout and stderr text of a running shell command."""

    stdout: str | None = None
    stderr: str | None = None


class ResponseShellCallOutputContentDeltaEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.shell_call_output_content.delta"
):
    """New output of shell command ``command_index`` (``delta`` is an object, not a string)."""

    command_index: int
    delta: ShellOutputDelta


class ResponseShellCallOutputContentDoneEvent(
    _ItemEvent, frozen=True, kw_only=True, tag="response.shell_call_output_content.done"
):
    """The full output of shell command ``command_index``: stdout, stderr, outcome."""

    command_index: int
    output: list[dict[str, Any]]


# --------------------------------------------------------------------------------------------
# Unions and lookup tables
# --------------------------------------------------------------------------------------------

TaggedEvent: TypeAlias = (
    ResponseCreatedEvent
    | ResponseQueuedEvent
    | ResponseInProgressEvent
    | ResponseCompletedEvent
    | ResponseIncompleteEvent
    | ResponseFailedEvent
    | ErrorEvent
    | ResponseDebugEvent
    | ResponseKeepAliveEvent
    | KeepaliveEvent
    | ResponseOutputItemAddedEvent
    | ResponseOutputItemDoneEvent
    | ResponseContentPartAddedEvent
    | ResponseContentPartDoneEvent
    | ResponseOutputTextDeltaEvent
    | ResponseOutputTextDoneEvent
    | ResponseOutputTextAnnotationAddedEvent
    | ResponseRefusalDeltaEvent
    | ResponseRefusalDoneEvent
    | ResponseReasoningTextDeltaEvent
    | ResponseReasoningTextDoneEvent
    | ResponseReasoningSummaryPartAddedEvent
    | ResponseReasoningSummaryPartDoneEvent
    | ResponseReasoningSummaryTextDeltaEvent
    | ResponseReasoningSummaryTextDoneEvent
    | ResponseFunctionCallArgumentsDeltaEvent
    | ResponseFunctionCallArgumentsDoneEvent
    | ResponseCustomToolCallInputDeltaEvent
    | ResponseCustomToolCallInputDoneEvent
    | ResponseWebSearchCallInProgressEvent
    | ResponseWebSearchCallSearchingEvent
    | ResponseWebSearchCallCompletedEvent
    | ResponseFileSearchCallInProgressEvent
    | ResponseFileSearchCallSearchingEvent
    | ResponseFileSearchCallCompletedEvent
    | ResponseCodeInterpreterCallInProgressEvent
    | ResponseCodeInterpreterCallInterpretingEvent
    | ResponseCodeInterpreterCallCompletedEvent
    | ResponseCodeInterpreterCallCodeDeltaEvent
    | ResponseCodeInterpreterCallCodeDoneEvent
    | ResponseImageGenerationCallInProgressEvent
    | ResponseImageGenerationCallGeneratingEvent
    | ResponseImageGenerationCallPartialImageEvent
    | ResponseImageGenerationCallCompletedEvent
    | ResponseApplyPatchCallOperationDiffDeltaEvent
    | ResponseApplyPatchCallOperationDiffDoneEvent
    | ResponseFusionCallInProgressEvent
    | ResponseFusionCallCompletedEvent
    | ResponseFusionCallPanelAddedEvent
    | ResponseFusionCallPanelDeltaEvent
    | ResponseFusionCallPanelReasoningDeltaEvent
    | ResponseFusionCallPanelCompletedEvent
    | ResponseFusionCallPanelFailedEvent
    | ResponseFusionCallAnalysisInProgressEvent
    | ResponseFusionCallAnalysisCompletedEvent
    | ResponseAudioDeltaEvent
    | ResponseAudioDoneEvent
    | ResponseAudioTranscriptDeltaEvent
    | ResponseAudioTranscriptDoneEvent
    | ResponseMcpCallInProgressEvent
    | ResponseMcpCallCompletedEvent
    | ResponseMcpCallFailedEvent
    | ResponseMcpCallArgumentsDeltaEvent
    | ResponseMcpCallArgumentsDoneEvent
    | ResponseMcpListToolsInProgressEvent
    | ResponseMcpListToolsCompletedEvent
    | ResponseMcpListToolsFailedEvent
    | ResponseCompactionCompactingEvent
    | ResponseShellCallCommandAddedEvent
    | ResponseShellCallCommandDeltaEvent
    | ResponseShellCallCommandDoneEvent
    | ResponseShellCallOutputContentDeltaEvent
    | ResponseShellCallOutputContentDoneEvent
)
"""Every tagged event class: the type a ``msgspec.json.Decoder`` decodes payloads into."""

TerminalEvent: TypeAlias = ResponseCompletedEvent | ResponseIncompleteEvent | ResponseFailedEvent
"""The events that end a response."""

TERMINAL_TYPES: frozenset[str] = frozenset(
    {"response.completed", "response.incomplete", "response.failed"}
)
"""Wire types of the terminal events."""


class UnknownEvent(msgspec.Struct, frozen=True, gc=False):
    """A JSON event whose ``type`` no class here models, kept as its raw payload."""

    type: str
    raw: bytes

    @property
    def sequence_number(self) -> int | None:
        """The payload's ``sequence_number`` if it has an integer one, else None."""
        try:
            return msgspec.json.decode(self.raw, type=_SequenceOnly).sequence_number
        except msgspec.DecodeError:
            return None

    @property
    def data(self) -> Any:
        """The payload decoded as plain JSON values."""
        return msgspec.json.decode(self.raw)


class OpaqueEvent(UnknownEvent, frozen=True, gc=False):
    """A JSON payload with no string ``type``: an event of another SSE dialect (a Chat
    Completions ``chat.completion.chunk``, ...), kept as its raw payload. ``type`` is the
    payload's ``object`` when that is a string, else ``"[untyped]"``."""


class _SequenceOnly(msgspec.Struct, gc=False):
    """Reads just ``sequence_number`` out of an unknown payload."""

    sequence_number: int | None = None


class MalformedEvent(msgspec.Struct, frozen=True, gc=False):
    """A ``data:`` payload that could not be decoded, with the reason and its byte offset."""

    type: ClassVar[str] = "[malformed]"
    raw: bytes
    error: str
    offset: int


class Done(msgspec.Struct, frozen=True, gc=False):
    """The ``data: [DONE]`` sentinel that ends an OpenRouter stream."""

    type: ClassVar[str] = "[DONE]"


Event: TypeAlias = TaggedEvent | UnknownEvent | MalformedEvent | Done
"""Anything a decoder yields for one ``data:`` payload."""

EVENT_TYPES: dict[str, type[BaseEvent]] = {cls.type: cls for cls in get_args(TaggedEvent)}
"""Wire type -> event class, for every tagged event."""
