"""Agent event sequences a turn produces, for the dialects' renderer tests: built from the events' own fields."""

from __future__ import annotations

from llama_stack_api import (
    OpenAIResponseIncompleteDetails,
    OpenAIResponseMessage,
    OpenAIResponseObject,
    OpenAIResponseObjectStreamResponseCreated,
    OpenAIResponseObjectStreamResponseInProgress,
    OpenAIResponseOutputMessageContentOutputText,
    OpenAIResponseOutputMessageFunctionToolCall,
)

from llama_stack_argocd.agent import diagnosis
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
    TurnReport,
)

ARGS = {"kind": "Deployment", "name": "guestbook-ui"}
PREFACE_TEXT = "**What I checked**\n\n- **CrashLoopBackOff** (error, Pod/guestbook-ui-1)\n\n"


def response(response_id: str, output: list, status: str = "completed", reason: str | None = None):
    details = OpenAIResponseIncompleteDetails(reason=reason) if reason else None
    return OpenAIResponseObject(id=response_id, created_at=0, model="m", output=output, status=status, store=True,
                                incomplete_details=details)


def answer(item_id: str, text: str) -> OpenAIResponseMessage:
    return OpenAIResponseMessage(id=item_id, role="assistant", status="completed",
                                 content=[OpenAIResponseOutputMessageContentOutputText(text=text)])


def round_opened(response_id: str) -> list[AgentEvent]:
    """What the builtin streams before the model's first token: passed on to Responses clients only."""
    opened = response(response_id, [], status="in_progress")
    return [Passthrough(OpenAIResponseObjectStreamResponseCreated(response=opened, sequence_number=0)),
            Passthrough(OpenAIResponseObjectStreamResponseInProgress(response=opened, sequence_number=1))]


def tool_turn(*, failing: bool = False, preface: bool = False, status: str = "completed",
              reason: str | None = None) -> list[AgentEvent]:
    """A two-round turn: a tool call (failing or not), then the answer "It is crash-looping." in two deltas."""
    report = TurnReport(tool_rounds=1, tools_called=["argocd_application"], input_tokens=300, output_tokens=40)
    output = ('{"error": "timeout", "message": "argocd_application did not answer in time."}' if failing
              else '{"status": "Degraded"}')
    result = ToolResult("call_1", "argocd_application", ARGS, output, failing, 1)
    block = diagnosis.message(PREFACE_TEXT) if preface else None
    final = response("resp_2", [*([block] if block else []), answer("msg_2", "It is crash-looping.")], status, reason)
    events: list[AgentEvent] = [*round_opened("resp_1")]
    if block is not None:
        events.append(Preface(block.id, PREFACE_TEXT))
    events += [
        ToolCall("call_1", "argocd_application", ARGS, 1),
        result,
        *round_opened("resp_2"),
        TextDelta("It is ", "msg_2"),
        TextDelta("crash-looping.", "msg_2"),
        Finished("resp_2", status, report, reason, (result,), preface_id=block.id if block else None, raw=final),
    ]
    return events


def approval_turn() -> list[AgentEvent]:
    """A turn that stops at a write tool: its call waits for the user's approval."""
    call = OpenAIResponseOutputMessageFunctionToolCall(id="fc_1", call_id="call_9", name="argocd_sync",
                                                       arguments='{"name": "guestbook"}', status="completed")
    approval = ApprovalRequested("mcpr_call_9", "call_9", "argocd_sync", {"name": "guestbook"})
    report = TurnReport(tool_rounds=1)
    return [*round_opened("resp_1"), approval,
            Finished("resp_1", "completed", report, approvals=(approval,), held_calls=frozenset({"call_9"}),
                     raw=response("resp_1", [call]))]


def failed_turn(status: int = 504) -> list[AgentEvent]:
    return [*round_opened("resp_1"), TextDelta("It is", "msg_1"),
            Failed("The model stopped sending for 30 s; the model call was stopped.", TurnReport(), status)]


async def stream(events: list[AgentEvent]):
    for event in events:
        yield event
