"""The Responses dialect: a CreateResponseRequest in, Responses stream events (or one response object) out.

Rules from the extension's client: every SSE message is JSON; only output-text events carry a top-level
`delta` (the client appends every `delta` it sees); `response.completed` carries the id to chain from; a failure
mid-stream is `{"error": {"message": ...}}`. Server-side tool calls are shown as `mcp_call` items (executed by
the server, like a remote MCP tool), never as client-side `function_call`s, each with its activity line
(`agent/activity.py`) as a reasoning summary: a `delta` the extension shows, and no answer text for other clients.
Those reasoning items are stream-only: neither the final response nor the stored one holds them, so a later turn
replays none of them to the model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from llama_stack_api import (
    CreateResponseRequest,
    OpenAIResponseMCPApprovalRequest,
    OpenAIResponseObject,
    OpenAIResponseObjectStreamResponseCompleted,
    OpenAIResponseObjectStreamResponseIncomplete,
    OpenAIResponseObjectStreamResponseMcpCallCompleted,
    OpenAIResponseObjectStreamResponseMcpCallFailed,
    OpenAIResponseObjectStreamResponseMcpCallInProgress,
    OpenAIResponseObjectStreamResponseOutputItemAdded,
    OpenAIResponseObjectStreamResponseOutputItemDone,
    OpenAIResponseObjectStreamResponseReasoningSummaryPartAdded,
    OpenAIResponseObjectStreamResponseReasoningSummaryPartDone,
    OpenAIResponseObjectStreamResponseReasoningSummaryTextDelta,
    OpenAIResponseObjectStreamResponseReasoningSummaryTextDone,
    OpenAIResponseContentPartOutputText,
    OpenAIResponseContentPartReasoningSummary,
    OpenAIResponseObjectStreamResponseContentPartAdded,
    OpenAIResponseObjectStreamResponseContentPartDone,
    OpenAIResponseObjectStreamResponseOutputTextDelta,
    OpenAIResponseObjectStreamResponseOutputTextDone,
    OpenAIResponseOutputMessageMCPCall,
    OpenAIResponseOutputMessageReasoningItem,
    OpenAIResponseOutputMessageReasoningSummary,
)

from llama_stack_argocd.agent import diagnosis
from llama_stack_argocd.agent.activity import line_for
from llama_stack_argocd.agent.attachments import split_inline
from llama_stack_argocd.agent.core import AgentRequest
from llama_stack_argocd.agent.turn_events import (
    AgentEvent,
    ApprovalRequested,
    Failed,
    Finished,
    Passthrough,
    Preface,
    TextDelta,
    ToolCall,
    ToolResult,
)
from llama_stack_argocd.agent.generation import TurnFailure
from llama_stack_argocd.agent.history import content_text
from llama_stack_argocd.bridge.credentials import split_mcp_tools
from llama_stack_argocd.caller import Caller, current_caller
from llama_stack_argocd.context.refs import AppRef

SERVER_LABEL = "argocd"
_PASSED_OPTIONS = ("temperature", "top_p", "max_output_tokens", "metadata", "text", "parallel_tool_calls")
_ONCE_PER_TURN = {"response.created", "response.in_progress"}
_CLOSING = {"incomplete": OpenAIResponseObjectStreamResponseIncomplete}


def agent_request_from(request: CreateResponseRequest) -> AgentRequest:
    prior, question, attachments = _split_input(request.input)
    approvals = {_field(i, "approval_request_id"): bool(_field(i, "approve")) for i in prior if _is_approval(i)}
    prior = [item for item in prior if not _is_approval(item)]
    tools, argocd_token = split_mcp_tools(request.tools or [])
    caller = resolve_caller(request.metadata)
    return AgentRequest(
        model=request.model,
        question=question,
        attachments=attachments,
        instructions=request.instructions,
        previous_response_id=request.previous_response_id or None,
        conversation=request.conversation or None,
        caller=(caller or Caller()).with_argocd_token(argocd_token) if argocd_token else caller,
        prior_items=prior,
        extra_tools=tools,
        options={k: v for k in _PASSED_OPTIONS if (v := getattr(request, k, None)) is not None},
        approvals=approvals,
        approvals_supported=True,
    )


def resolve_caller(metadata: dict[str, str] | None) -> Caller | None:
    """The Application from trusted headers wins; a direct caller may name one in `metadata.argocd_application`."""
    caller = current_caller()
    if caller is not None and caller.application is not None:
        return caller
    if metadata and (app := metadata.get("argocd_application")):
        return (caller or Caller()).model_copy(update={"application": AppRef.parse(app)})
    return caller


def _split_input(value: str | list[Any]) -> tuple[list[Any], str | None, list[Any]]:
    """Find the question: the input string, or the text of the last user message of structured input."""
    if isinstance(value, str):
        question, attachments = split_inline(value)
        return [], question, attachments
    items = list(value)
    if items and _field(items[-1], "role") == "user":
        question, attachments = split_inline(content_text(_field(items[-1], "content")))
        return items[:-1], question, attachments
    return items, None, []


def _field(item: Any, name: str) -> Any:
    """A field of an input item, given as a dict or as llama-stack's model."""
    return item.get(name) if isinstance(item, dict) else getattr(item, name, None)


def _is_approval(item: Any) -> bool:
    """The user's answer to an approval request: taken by the agent, not replayed to llama-stack."""
    return _field(item, "type") == "mcp_approval_response"




async def stream_events(events: AsyncIterator[AgentEvent]) -> AsyncIterator[Any]:
    """Render one agent turn as a single Responses event stream.

    The turn's rounds, the diagnosis block and the server-side calls become one response: each item gets the next
    output index when it first appears, and every event about it carries that index (a round of the builtin counts
    its own items from 0), so a client that builds the response from the stream puts each delta in its item.
    """
    sequence, response_id = 0, ""
    emitted: set[str] = set()
    tool_items: list[OpenAIResponseOutputMessageMCPCall] = []
    placed: dict[str, int] = {}  # item id -> its output index in this stream

    def numbered(event: Any) -> Any:
        nonlocal sequence
        sequence += 1
        update: dict[str, Any] = {"sequence_number": sequence}
        item_id = getattr(event, "item_id", None) or getattr(getattr(event, "item", None), "id", None)
        if item_id and hasattr(event, "output_index"):
            update["output_index"] = placed.setdefault(item_id, len(placed))
        return event.model_copy(update=update)

    async for event in events:
        match event:
            case TextDelta():
                yield numbered(_text_delta(event))
            case Preface():
                for shown in _preface(event, response_id):
                    yield numbered(shown)
            case Passthrough(raw=raw):
                kind = raw.type
                if kind.endswith(".arguments.delta") or (kind in _ONCE_PER_TURN and kind in emitted):
                    continue
                emitted.add(kind)
                response_id = getattr(getattr(raw, "response", None), "id", response_id)
                yield numbered(raw)
            case ToolCall():
                for shown in _activity(line_for(event) or "", f"rs_{event.call_id}", response_id):
                    yield numbered(shown)
                item = _mcp_item(event)
                tool_items.append(item)
                yield numbered(OpenAIResponseObjectStreamResponseOutputItemAdded(
                    response_id=response_id, item=item, output_index=0, sequence_number=0))
                yield numbered(OpenAIResponseObjectStreamResponseMcpCallInProgress(
                    item_id=item.id, output_index=0, sequence_number=0))
            case ToolResult():
                done = _mcp_item(event)
                tool_items[:] = [done if t.id == done.id else t for t in tool_items]
                status = OpenAIResponseObjectStreamResponseMcpCallFailed if event.is_error else (
                    OpenAIResponseObjectStreamResponseMcpCallCompleted
                )
                yield numbered(status(sequence_number=0))
                yield numbered(OpenAIResponseObjectStreamResponseOutputItemDone(
                    response_id=response_id, item=done, output_index=0, sequence_number=0))
                if event.is_error:
                    for shown in _activity(line_for(event) or "", f"rs_{event.call_id}_failed", response_id):
                        yield numbered(shown)
            case ApprovalRequested():
                request_item = _approval_item(event)
                for shown in (OpenAIResponseObjectStreamResponseOutputItemAdded,
                              OpenAIResponseObjectStreamResponseOutputItemDone):
                    yield numbered(shown(response_id=response_id, item=request_item, output_index=0,
                                         sequence_number=0))
            case Finished():
                final = _final_response(event, tool_items)
                closing = _CLOSING.get(final.status, OpenAIResponseObjectStreamResponseCompleted)
                yield numbered(closing(response=final, sequence_number=0))
            case Failed(message=message, status=status):
                yield {"error": {"message": message, "code": str(status)}}


async def collect_response(events: AsyncIterator[AgentEvent]) -> OpenAIResponseObject:
    """The non-streamed form: the last round's response, with the server-side tool calls before its output."""
    tool_items: list[OpenAIResponseOutputMessageMCPCall] = []
    async for event in events:
        match event:
            case ToolResult():
                tool_items.append(_mcp_item(event))
            case Finished():
                return _final_response(event, tool_items)
            case Failed(message=message, status=status):
                raise TurnFailure(message, status)
    raise TurnFailure("The agent ended without an answer.")


def _text_delta(event: TextDelta) -> OpenAIResponseObjectStreamResponseOutputTextDelta:
    """The builtin's own delta event, as it streams it (the agent asks for no log probabilities)."""
    return OpenAIResponseObjectStreamResponseOutputTextDelta(
        content_index=event.content_index, delta=event.text, item_id=event.item_id, logprobs=[], output_index=0,
        sequence_number=0,
    )


def _preface(event: Preface, response_id: str) -> list[Any]:
    """The diagnosis block as a complete message item: added, its one text part with one delta, done (the stream
    numbers its output index). Its `completed` item is the one the stored response starts with."""
    where: dict[str, Any] = {"item_id": event.item_id, "output_index": 0, "content_index": 0, "sequence_number": 0}
    message = diagnosis.message(event.text, event.item_id)
    opened = message.model_copy(update={"status": "in_progress", "content": []})
    return [
        OpenAIResponseObjectStreamResponseOutputItemAdded(
            response_id=response_id, item=opened, output_index=0, sequence_number=0),
        OpenAIResponseObjectStreamResponseContentPartAdded(
            response_id=response_id, part=OpenAIResponseContentPartOutputText(text=""), **where),
        OpenAIResponseObjectStreamResponseOutputTextDelta(delta=event.text, logprobs=[], **where),
        OpenAIResponseObjectStreamResponseOutputTextDone(text=event.text, **where),
        OpenAIResponseObjectStreamResponseContentPartDone(
            response_id=response_id, part=OpenAIResponseContentPartOutputText(text=event.text), **where),
        OpenAIResponseObjectStreamResponseOutputItemDone(
            response_id=response_id, item=message, output_index=0, sequence_number=0),
    ]


def _activity(line: str, item_id: str, response_id: str, output_index: int = 0) -> list[Any]:
    """One activity line as a complete reasoning item with one summary part: added, its text, done (the stream
    numbers its output index)."""
    def item(status: str, summary: list[OpenAIResponseOutputMessageReasoningSummary]) -> Any:
        return OpenAIResponseOutputMessageReasoningItem(id=item_id, summary=summary, status=status)

    where = {"item_id": item_id, "output_index": output_index, "sequence_number": 0}
    part = OpenAIResponseContentPartReasoningSummary(text=line)
    return [
        OpenAIResponseObjectStreamResponseOutputItemAdded(
            response_id=response_id, item=item("in_progress", []), output_index=output_index, sequence_number=0
        ),
        OpenAIResponseObjectStreamResponseReasoningSummaryPartAdded(
            part=OpenAIResponseContentPartReasoningSummary(text=""), summary_index=0, **where
        ),
        OpenAIResponseObjectStreamResponseReasoningSummaryTextDelta(delta=line, summary_index=0, **where),
        OpenAIResponseObjectStreamResponseReasoningSummaryTextDone(text=line, summary_index=0, **where),
        OpenAIResponseObjectStreamResponseReasoningSummaryPartDone(part=part, summary_index=0, **where),
        OpenAIResponseObjectStreamResponseOutputItemDone(
            response_id=response_id, item=item("completed", [OpenAIResponseOutputMessageReasoningSummary(text=line)]),
            output_index=output_index, sequence_number=0,
        ),
    ]


def _mcp_item(event: ToolCall | ToolResult) -> OpenAIResponseOutputMessageMCPCall:
    item = OpenAIResponseOutputMessageMCPCall(
        id=f"mcp_{event.call_id}",
        arguments=json.dumps(event.arguments),
        name=event.name,
        server_label=SERVER_LABEL,
    )
    if isinstance(event, ToolResult):
        item = item.model_copy(update={"error": event.output} if event.is_error else {"output": event.output})
    return item


def _approval_item(event: ApprovalRequested) -> OpenAIResponseMCPApprovalRequest:
    return OpenAIResponseMCPApprovalRequest(
        id=event.approval_id, name=event.name, arguments=json.dumps(event.arguments), server_label=SERVER_LABEL
    )


def _final_response(event: Finished, tool_items: list[OpenAIResponseOutputMessageMCPCall]) -> OpenAIResponseObject:
    """The last round's response with the server-side calls first (after the diagnosis block, as streamed); calls
    waiting for approval shown as requests."""
    response: OpenAIResponseObject = event.raw
    metadata = {**(response.metadata or {}), **event.report.as_metadata()}
    preface = [o for o in response.output if event.preface_id and getattr(o, "id", None) == event.preface_id]
    output = [o for o in response.output if getattr(o, "call_id", None) not in event.held_calls and o not in preface]
    approvals = [_approval_item(a) for a in event.approvals]
    return response.model_copy(update={"output": [*preface, *tool_items, *approvals, *output], "metadata": metadata})
