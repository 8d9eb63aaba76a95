"""The three Lightspeed answer forms of one agent turn: plain text, the OLS JSON event stream, one object.

Plain text is what the extension renders (raw bytes appended and shown as Markdown), so tool activity there is a
short readable line (`agent/activity.py`, worded as in the other dialects) and errors are written in-band; the
JSON stream follows OLS event shapes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from llama_stack_argocd.agent.activity import line_for
from llama_stack_argocd.agent.turn_events import (
    AgentEvent,
    Failed,
    Finished,
    Preface,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnReport,
)
from llama_stack_argocd.apis.lightspeed.models import QueryResponse, ToolCallSummary, ToolResultSummary


@dataclass
class TurnRecord:
    """What a turn produced, kept for the conversation's history and the non-streamed answer."""

    text: list[str] = field(default_factory=list)
    tool_calls: list[ToolCallSummary] = field(default_factory=list)
    tool_results: list[ToolResultSummary] = field(default_factory=list)
    report: TurnReport | None = None
    response_id: str | None = None
    error: str | None = None
    error_status: int = 502

    def observe(self, event: AgentEvent) -> None:
        match event:
            case TextDelta(text=text) | Preface(text=text):
                self.text.append(text)
            case ToolCall():
                self.tool_calls.append(ToolCallSummary(id=event.call_id, name=event.name, args=event.arguments))
            case ToolResult():
                status = "error" if event.is_error else "success"
                self.tool_results.append(
                    ToolResultSummary(id=event.call_id, status=status, content=event.output, round=event.round)
                )
            case Finished(response_id=response_id, report=report):
                self.response_id, self.report = response_id, report
            case Failed(message=message, report=report, status=status):
                self.error, self.report, self.error_status = message, report, status

    def answer(self, conversation_id: str, quotas: dict[str, int]) -> QueryResponse:
        report = self.report or TurnReport()
        return QueryResponse(
            conversation_id=conversation_id,
            response="".join(self.text),
            truncated=report.truncated,
            input_tokens=report.input_tokens,
            output_tokens=report.output_tokens,
            available_quotas=quotas,
            tool_calls=self.tool_calls,
            tool_results=self.tool_results,
        )


async def plain_text(events: AsyncIterator[AgentEvent], record: TurnRecord) -> AsyncIterator[str]:
    async for event in events:
        record.observe(event)
        match event:
            case TextDelta(text=text) | Preface(text=text):
                yield text
            case ToolCall() | ToolResult():
                if line := line_for(event):
                    yield line
            case Failed(message=message):
                yield f"\n\nError: {message}\n"


def _sse(event: str, data: dict[str, Any], **extra: Any) -> str:
    return f"data: {json.dumps({'event': event, 'data': data, **extra})}\n\n"


async def json_events(
    events: AsyncIterator[AgentEvent], record: TurnRecord, conversation_id: str, quotas: dict[str, int]
) -> AsyncIterator[str]:
    yield _sse("start", {"conversation_id": conversation_id})
    token_id = 0
    async for event in events:
        record.observe(event)
        match event:
            case TextDelta(text=text) | Preface(text=text):
                yield _sse("token", {"id": token_id, "token": text})
                token_id += 1
            case ToolCall():
                yield _sse("tool_call", record.tool_calls[-1].model_dump())
            case ToolResult():
                yield _sse("tool_result", record.tool_results[-1].model_dump())
            case Finished(report=report):
                end = {
                    "referenced_documents": [],
                    "truncated": report.truncated,
                    "input_tokens": report.input_tokens,
                    "output_tokens": report.output_tokens,
                }
                yield _sse("end", end, available_quotas=quotas)
            case Failed(message=message, status=status):
                yield _sse("error", {"status_code": status, "response": "The assistant could not answer",
                                     "cause": message})
