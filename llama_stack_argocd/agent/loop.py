"""The turn loop: the model's rounds, our tools run between them, and what every dialect sees of it as events.

Each round is one stored response of the backend (agent/backend.py). A round that calls our tools gets their
outputs in the next round, chained by `previous_response_id` (or inside the request's llama-stack conversation,
which keeps every round's items itself); at most `max_tool_rounds` such rounds, and the last may not call tools.
A round whose calls include a write tool ends the turn with the calls held: the next request of the chain answers
them (`resume`), each approved call run then, once.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llama_stack_api import (
    OpenAIResponseIncompleteDetails,
    OpenAIResponseMessage,
    OpenAIResponseOutputMessageContentOutputText,
)

from llama_stack_argocd.agent.backend import ResponsesBackend
from llama_stack_argocd.agent.composer import ContextComposer
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
from llama_stack_argocd.agent.generation import (
    REPETITION_MARKER,
    Deadline,
    ModelRound,
    RepetitionGuard,
    TurnFailure,
)
from llama_stack_argocd.agent.planner import TurnPlan, round_request
from llama_stack_argocd.agent.state import ConversationMemory
from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.observability.turns import TurnWatch

if TYPE_CHECKING:
    from llama_stack_argocd.agent.core import AgentRequest

CLIENT_LEFT = "The client went away before the answer was complete; the model call was stopped."
NOT_APPROVED = json.dumps({"error": "not_approved", "message": "The user did not approve this call; it was not run."})
_CLOSING_EVENTS = ("response.completed", "response.incomplete", "response.failed")


@dataclass
class PendingCall:
    """A tool call the model made, as the agent runs it (and holds it, when it waits for approval)."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    approval_id: str | None = None


@dataclass
class TurnState:
    """One turn as the loop runs it: its request and plan, and what it has produced so far."""

    request: AgentRequest
    plan: TurnPlan
    fingerprints: set[str]  # what the conversation has seen once this turn is answered
    report: TurnReport
    watch: TurnWatch
    deadline: Deadline
    resumed: list[ToolResult] = field(default_factory=list)  # held calls answered before the first round
    preface: OpenAIResponseMessage | None = None  # the diagnosis block, for models that get one
    preface_text: str = ""
    preface_shown: bool = False  # streamed: the stored answer starts with it

    def preface_due(self) -> list[AgentEvent]:
        """The diagnosis block the first time it is due, then nothing."""
        if self.preface is None or self.preface_shown:
            return []
        self.preface_shown = True
        return [Preface(self.preface.id or "", self.preface_text)]


class TurnLoop:
    def __init__(
        self,
        backend: ResponsesBackend,
        toolbox: Toolbox,
        memory: ConversationMemory,
        composer: ContextComposer,
        max_tool_rounds: int,
        tool_timeout_seconds: float,
    ) -> None:
        self._backend = backend
        self._toolbox = toolbox
        self._memory = memory
        self._composer = composer
        self._max_rounds = max_tool_rounds
        self._tool_timeout = tool_timeout_seconds

    async def start(self, turn: TurnState, first_input: list[Any]) -> AsyncIterator[AgentEvent]:
        """Start the first round now (a request the backend refuses fails here, before any event), then the loop."""
        stream = await self._round(turn, first_input, turn.plan.previous_response_id, self._max_rounds > 0)
        return self._run(turn, stream)

    async def resume(self, held: list[PendingCall], request: AgentRequest, previous: str | None) -> list[ToolResult]:
        """Answer the calls the last turn stopped at: approved ones run now, the others are reported as declined.

        The held calls are forgotten first, so repeating the request cannot run a write twice.
        """
        if previous:
            await self._memory.hold_calls(previous, [])
        runnable = [c for c in held if not c.approval_id or request.approvals.get(c.approval_id)]
        executed, _ = await self._execute(runnable, request, round_number=0)
        by_id = {result.call_id: result for result in executed}
        return [by_id.get(c.call_id) or ToolResult(c.call_id, c.name, self._displayed(c.arguments), NOT_APPROVED, True, 0)
                for c in held]

    async def _round(self, turn: TurnState, input_items: list[Any], previous: str | None, offer_tools: bool) -> Any:
        request = round_request(turn.request, turn.plan, input_items, previous, offer_tools, turn.report.output_tokens)
        turn.watch.round_started()
        try:
            return await self._backend.create(request)
        except Exception as exc:
            turn.watch.round_failed(exc)
            raise

    async def _run(self, turn: TurnState, stream: AsyncIterator[Any]) -> AsyncIterator[AgentEvent]:
        report, results = turn.report, list(turn.resumed)
        for result in turn.resumed:
            report.tools_called.append(result.name)
            yield ToolCall(result.call_id, result.name, result.arguments, 0)
            yield result
        for round_number in range(1, self._max_rounds + 2):
            response = None
            hidden_items: set[str] = set()
            round_id, deltas, snapshot, guard, said = None, 0, None, RepetitionGuard(), []
            model_round = ModelRound(stream, turn.deadline)
            try:
                async with aclosing(model_round.events()) as events:
                    async for event in events:
                        kind = getattr(event, "type", "")
                        if kind == "response.created":
                            round_id, snapshot = event.response.id, event.response
                        elif kind != "response.in_progress":
                            for shown in turn.preface_due():  # the answer starts with it, once
                                yield shown
                        for shown in self._shown(event, hidden_items):
                            yield shown
                        if kind == "response.output_text.delta":
                            deltas += 1
                            said.append(event.delta)
                            if guard.feed(event.delta):  # the model call is closed before the round is stored
                                yield TextDelta(REPETITION_MARKER, event.item_id, event.content_index)
                                await model_round.closed()
                                response = await self._stopped(snapshot, "".join(said) + REPETITION_MARKER, event)
                                break
                        if kind in _CLOSING_EVENTS:
                            response = event.response
            except TurnFailure as failure:
                await model_round.closed()
                if round_id:
                    await self._backend.settle(round_id, failure.message)
                yield Failed(failure.message, report, failure.status_code)
                return
            except (asyncio.CancelledError, GeneratorExit):  # the client went away: no waiting here, it is over
                model_round.stop()
                if round_id:
                    model_round.then(functools.partial(self._backend.settle, round_id, CLIENT_LEFT))
                raise
            if response is None:
                yield Failed("The model stream ended without a response.", report)
                return
            _add_usage(report, response)
            turn.watch.round_finished(response)
            if response.status == "failed":
                message = response.error.message if response.error else "The model failed to answer."
                if deltas:
                    message = f"The model stopped after {deltas} tokens: {message}"
                yield Failed(message, report)
                return
            if response.status == "incomplete":
                report.truncated = True
            # Only what was offered this turn runs here (a write tool not offered to this dialect never does).
            calls = [item for item in response.output if _is_function_call(item) and item.name in turn.plan.offered]
            if not calls or response.status != "completed" or round_number > self._max_rounds:
                await self._memory.remember(response.id, turn.fingerprints)
                if turn.request.conversation:
                    await self._memory.remember(turn.request.conversation, turn.fingerprints)
                yield await self._finished(turn, response, tuple(results))
                return
            report.tool_rounds = round_number
            held = [PendingCall(c.call_id, c.name, _arguments(c.arguments)) for c in calls]
            if any(self._toolbox.needs_approval(call.name) for call in held):
                async for event in self._hold(turn, response, held, results):
                    yield event
                return
            outputs = []
            for call in held:
                yield ToolCall(call.call_id, call.name, self._displayed(call.arguments, report), round_number)
            with turn.watch.tools():
                executed, cut = await self._execute(held, turn.request, round_number)
            report.truncated |= cut
            for result in executed:
                report.tools_called.append(result.name)
                results.append(result)
                yield result
                outputs.append({"type": "function_call_output", "call_id": result.call_id, "output": result.output})
            last_round = round_number == self._max_rounds
            try:
                # A conversation keeps every round's items itself (llama-stack refuses it beside a response id).
                chain = None if turn.request.conversation else response.id
                stream = await self._round(turn, outputs, chain, offer_tools=not last_round)
            except Exception as exc:  # noqa: BLE001 - reported to the user in-band; the turn cannot go on
                yield Failed(f"The model could not continue after the tool calls: {exc}", report)
                return

    async def _hold(
        self, turn: TurnState, response: Any, held: list[PendingCall], results: list[ToolResult]
    ) -> AsyncIterator[AgentEvent]:
        """A write waits for the user: the turn ends here, and the next request of the chain answers (`resume`).

        Every call of the round is held, so the chain gets one answer per call when it goes on.
        """
        for call in held:
            if self._toolbox.needs_approval(call.name):
                call.approval_id = f"mcpr_{call.call_id}"
        await self._memory.hold_calls(response.id, [call.__dict__ for call in held])
        await self._memory.remember(response.id, turn.fingerprints)
        approvals = tuple(
            ApprovalRequested(call.approval_id, call.call_id, call.name, self._displayed(call.arguments, turn.report))
            for call in held if call.approval_id
        )
        for approval in approvals:
            yield approval
        yield await self._finished(turn, response, tuple(results), approvals, frozenset(c.call_id for c in held))

    async def _finished(
        self, turn: TurnState, response: Any, results: tuple[ToolResult, ...],
        approvals: tuple[ApprovalRequested, ...] = (), held: frozenset[str] = frozenset(),
    ) -> Finished:
        """The turn's end, from its last response as stored: with the diagnosis block, when one was streamed,
        before the model's output."""
        preface_id = None
        if turn.preface is not None and turn.preface_shown:
            response = response.model_copy(update={"output": [turn.preface, *response.output]})
            await self._backend.store(response)
            preface_id = turn.preface.id
        details = getattr(response, "incomplete_details", None)
        return Finished(
            response_id=response.id, status=response.status, report=turn.report,
            incomplete_reason=getattr(details, "reason", None), tool_results=results, approvals=approvals,
            held_calls=held, preface_id=preface_id, raw=response,
        )

    async def _stopped(self, snapshot: Any, text: str, delta: Any) -> Any:
        """The round's response when the agent stopped it (a loop): incomplete, with the text so far, stored so."""
        message = OpenAIResponseMessage(
            id=delta.item_id, role="assistant", status="incomplete",
            content=[OpenAIResponseOutputMessageContentOutputText(text=text)],
        )
        response = snapshot.model_copy(update={
            "status": "incomplete", "output": [message],
            "incomplete_details": OpenAIResponseIncompleteDetails(reason="repetition"),
        })
        await self._backend.store(response)
        return response

    def _displayed(self, arguments: dict[str, Any], report: TurnReport | None = None) -> dict[str, Any]:
        """A call's arguments as every dialect shows them (activity line, mcp_call item, approval, tool call lists):
        redacted, since the model writes them and may write what it read or was told. They run as written."""
        redactor = self._composer.redactor()
        shown: dict[str, Any] = redactor.redact_obj(arguments)
        if report is not None:
            report.redactions += redactor.count
        return shown

    def _shown(self, event: Any, hidden_items: set[str]) -> list[AgentEvent]:
        """What a dialect sees of one Responses event: answer text, or work the builtin did itself."""
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            return [TextDelta(event.delta, event.item_id, event.content_index)]
        if kind in _CLOSING_EVENTS or self._is_own_tool_event(event, hidden_items):
            return []
        return [Passthrough(event)]

    def _is_own_tool_event(self, event: Any, hidden_items: set[str]) -> bool:
        """Function-call events for our tools are executed here, not shown as deltas or handed to the client."""
        item = getattr(event, "item", None)
        if item is not None and _is_function_call(item) and item.name in self._toolbox:
            hidden_items.add(item.id)
            return True
        if getattr(event, "type", "").startswith("response.function_call_arguments."):
            return getattr(event, "item_id", None) in hidden_items
        return False

    async def _execute(
        self, calls: list[PendingCall], request: AgentRequest, round_number: int
    ) -> tuple[list[ToolResult], bool]:
        """Run one round's calls concurrently, each as the caller; outputs fitted to the tool-result budget."""
        truncated: list[str] = []

        async def one(call: PendingCall) -> ToolResult:
            output, is_error = await self._toolbox.call_as(request.caller, call.name, call.arguments,
                                                           self._tool_timeout)
            output, cut = self._composer.fit_tool_output(output, request.model, len(calls))
            if cut:
                truncated.append(call.call_id)
            return ToolResult(call.call_id, call.name, self._displayed(call.arguments), output, is_error, round_number)

        results = list(await asyncio.gather(*(one(call) for call in calls)))
        return results, bool(truncated)


def _is_function_call(item: Any) -> bool:
    return getattr(item, "type", None) == "function_call"


def _arguments(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {"_unparsed": raw}
    return value if isinstance(value, dict) else {"_unparsed": raw}


def _add_usage(report: TurnReport, response: Any) -> None:
    usage = getattr(response, "usage", None)
    if usage is not None:
        report.input_tokens += usage.input_tokens or 0
        report.output_tokens += usage.output_tokens or 0

