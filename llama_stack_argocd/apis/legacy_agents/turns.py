"""Renders one agent turn in the Agents dialect: `{"event": {"payload": ...}}` chunks, or the finished Turn.

The extension appends `payload.delta.text` of `step_progress` events whose delta type is `text`; tool activity is
reported as tool-call deltas and tool-execution steps, which it skips, and as a short text delta (the activity line
of `agent/activity.py`) that it shows. That line is stream-only: the stored turn's answer never holds it, and the
next turn continues the stored Responses chain, so the model never reads it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from llama_stack_argocd.agent.activity import line_for
from llama_stack_argocd.agent.turn_events import AgentEvent, Failed, Finished, Preface, TextDelta, ToolCall, ToolResult
from llama_stack_argocd.apis.legacy_agents.models import CompletionMessage, Message, Turn


def _now() -> datetime:
    return datetime.now(UTC)


def _chunk(event_type: str, **payload: Any) -> dict[str, Any]:
    return {"event": {"payload": {"event_type": event_type, **payload}}}


@dataclass
class TurnBuilder:
    """Accumulates the steps of one turn while its chunks stream out."""

    session_id: str
    input_messages: list[Message]
    turn_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started_at: datetime = field(default_factory=_now)
    steps: list[dict[str, Any]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    step_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    step_started: datetime = field(default_factory=_now)
    step_text: list[str] = field(default_factory=list)
    pending_calls: list[ToolCall] = field(default_factory=list)
    response_id: str | None = None
    error: str | None = None
    error_status: int = 502
    stop_reason: str = "end_of_turn"  # "out_of_tokens" once the model ran out of output tokens

    def close_inference_step(self) -> dict[str, Any]:
        step = {
            "step_type": "inference",
            "step_id": self.step_id,
            "turn_id": self.turn_id,
            "started_at": self.step_started.isoformat(),
            "completed_at": _now().isoformat(),
            "model_response": CompletionMessage(
                content="".join(self.step_text),
                stop_reason="end_of_message" if self.pending_calls else self.stop_reason,
                tool_calls=[_tool_call(c) for c in self.pending_calls],
            ).model_dump(mode="json"),
        }
        self.steps.append(step)
        return step

    def open_step(self) -> None:
        self.step_id, self.step_started, self.step_text = str(uuid.uuid4()), _now(), []

    def turn(self) -> Turn:
        return Turn(
            turn_id=self.turn_id,
            session_id=self.session_id,
            input_messages=self.input_messages,
            steps=self.steps,
            output_message=CompletionMessage(content="".join(self.text), stop_reason=self.stop_reason),
            started_at=self.started_at,
            completed_at=_now(),
        )


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {"call_id": call.call_id, "tool_name": call.name, "arguments": call.arguments}


async def render_turn(events: AsyncIterator[AgentEvent], builder: TurnBuilder) -> AsyncIterator[dict[str, Any]]:
    """Agent events → Agents stream chunks. `builder` holds the finished turn (or the error) afterwards."""
    yield _chunk("turn_start", turn_id=builder.turn_id)
    yield _chunk("step_start", step_type="inference", step_id=builder.step_id, metadata={})
    results: list[ToolResult] = []
    async for event in events:
        match event:
            case TextDelta(text=text) | Preface(text=text):
                builder.text.append(text)
                builder.step_text.append(text)
                yield _chunk(
                    "step_progress", step_type="inference", step_id=builder.step_id, delta={"type": "text", "text": text}
                )
            case ToolCall():
                builder.pending_calls.append(event)
                yield _chunk(
                    "step_progress",
                    step_type="inference",
                    step_id=builder.step_id,
                    delta={"type": "tool_call", "tool_call": _tool_call(event), "parse_status": "succeeded"},
                )
                yield _activity(builder, event)
            case ToolResult():
                results.append(event)
                if event.is_error:
                    yield _activity(builder, event)
                if len(results) < len(builder.pending_calls):
                    continue
                yield _chunk("step_complete", step_type="inference", step_id=builder.step_id,
                             step_details=builder.close_inference_step())
                yield _chunk("step_complete", step_type="tool_execution", step_id=str(uuid.uuid4()),
                             step_details=_tool_step(builder, results))
                builder.pending_calls, results = [], []
                builder.open_step()
                yield _chunk("step_start", step_type="inference", step_id=builder.step_id, metadata={})
            case Finished():
                builder.response_id = event.response_id
                builder.stop_reason = stop_reason(event)
                yield _chunk("step_complete", step_type="inference", step_id=builder.step_id,
                             step_details=builder.close_inference_step())
                yield _chunk("turn_complete", turn=builder.turn().model_dump(mode="json"))
            case Failed(message=message, status=status):
                builder.error, builder.error_status = message, status
                yield {"error": {"message": message, "code": str(status)}}


# Responses' reasons for an answer cut at the output-token limit (llama-stack's builtin says "length", OpenAI
# "max_output_tokens"); the legacy Agents schema has one value for it.
_OUT_OF_TOKENS = {"length", "max_output_tokens"}


def stop_reason(finished: Finished) -> str:
    """The legacy Agents `stop_reason` of a finished turn: `out_of_tokens` when the output-token limit cut it."""
    if finished.status == "incomplete" and finished.incomplete_reason in _OUT_OF_TOKENS:
        return "out_of_tokens"
    return "end_of_turn"


def _activity(builder: TurnBuilder, event: ToolCall | ToolResult) -> dict[str, Any]:
    """The activity line as a text delta of the current step, kept out of the step's and the turn's text."""
    text = line_for(event) or ""
    return _chunk("step_progress", step_type="inference", step_id=builder.step_id, delta={"type": "text", "text": text})


def _tool_step(builder: TurnBuilder, results: list[ToolResult]) -> dict[str, Any]:
    step = {
        "step_type": "tool_execution",
        "step_id": str(uuid.uuid4()),
        "turn_id": builder.turn_id,
        "tool_calls": [{"call_id": r.call_id, "tool_name": r.name, "arguments": r.arguments} for r in results],
        "tool_responses": [{"call_id": r.call_id, "tool_name": r.name, "content": r.output} for r in results],
        "completed_at": _now().isoformat(),
    }
    builder.steps.append(step)
    return step
