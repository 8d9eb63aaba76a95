"""The one Argo CD agent every front door runs on.

A turn: build the system instructions, turn the question and its attachments into one user message (redacted,
fitted, sent once per conversation), then let the model call the Argo CD tools, executing them server-side in a
bounded loop on top of llama-stack's Responses implementation, and stream what happens as `AgentEvent`s.
Each loop round is one stored response chained by `previous_response_id`, so a later turn that continues from
the final response id sees the whole exchange, tool calls included.
"""

from __future__ import annotations

import asyncio
import functools
import json
from contextlib import aclosing
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llama_stack.log import get_logger
from llama_stack_api import (
    CreateResponseRequest,
    OpenAIResponseIncompleteDetails,
    OpenAIResponseMessage,
    OpenAIResponseOutputMessageContentOutputText,
)
from pydantic import BaseModel, Field

from llama_stack_argocd.agent import diagnosis
from llama_stack_argocd.agent.attachments import Attachment
from llama_stack_argocd.agent.composer import Composed, ContextComposer
from llama_stack_argocd.agent.events import (
    AgentEvent,
    ApprovalRequested,
    Failed,
    Finished,
    Passthrough,
    TextDelta,
    ToolCall,
    ToolResult,
    TurnReport,
)
from llama_stack_argocd.agent.generation import (
    REPETITION_MARKER,
    Deadline,
    GenerationSettings,
    ModelRound,
    RepetitionGuard,
    TurnFailure,
    output_allowance,
)
from llama_stack_argocd.agent.history import as_items, history_tokens, trim
from llama_stack_argocd.agent.instructions import focus_line, system_instructions, unavailable_tools_note
from llama_stack_argocd.agent.state import ConversationMemory
from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.caller import Caller
from llama_stack_argocd.context.budget import Budget
from llama_stack_argocd.context.evidence import Collected, Evidence, EvidenceGatherer, EvidenceSettings, focus_of
from llama_stack_argocd.context.findings import Finding
from llama_stack_argocd.observability.turns import TurnWatch
from llama_stack_argocd.security.quota import QuotaKeeper, QuotaSettings


_log = get_logger(name=__name__, category="agents")

class AgentSettings(BaseModel):
    max_tool_rounds: int = Field(default=5, ge=0, le=20, description="Rounds of server-side tool calls per turn.")
    instructions: str | None = Field(default=None, description="Replaces the built-in instructions (callers' own win).")
    tool_timeout_seconds: float = Field(default=30.0, gt=0)
    default_context_window: int = Field(default=8192, ge=1024, description="Tokens, for models not listed below.")
    context_windows: dict[str, int] = Field(
        default_factory=dict, description="Context window per model id (or regex); known families are built in."
    )
    diagnosis_block: dict[str, bool] = Field(
        default_factory=dict,
        description="Per model id (or regex): the answer starts with the findings and their evidence (the embedded "
        "model's do, built in); for models that do not quote the evidence themselves.",
    )
    quota: QuotaSettings = Field(default_factory=QuotaSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    evidence: EvidenceSettings = Field(default_factory=EvidenceSettings)


@dataclass
class AgentRequest:
    """One turn, as every dialect describes it."""

    model: str
    question: str | None  # None: structured input that ends in something other than a user message
    attachments: list[Attachment] = field(default_factory=list)
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | None = None  # a llama-stack conversation (`conv_...`) to continue instead of a chain
    caller: Caller | None = None
    prior_items: list[Any] = field(default_factory=list)  # structured Responses input before the question
    extra_tools: list[Any] = field(default_factory=list)  # the caller's own Responses tools (mcp, functions...)
    options: dict[str, Any] = field(default_factory=dict)  # passed through: temperature, max_output_tokens, ...
    entrypoint: str = "responses"  # the dialect that asked: a metrics label and the audit event's `dialect`
    approvals: dict[str, bool] = field(default_factory=dict)  # the user's answers to approval requests, by id
    approvals_supported: bool = False  # the dialect can show an approval request: write tools may be offered


# Creates one Responses round: llama-stack's builtin `create_openai_response` with a CreateResponseRequest.
ResponsesBackend = Callable[[Any], Awaitable[Any]]
# The items continuing from a stored response replays (its input, then its output); empty when it is unknown.
HistoryItems = Callable[[str], Awaitable[list[Any]]]
# Marks a stored response that its stream left behind (abandoned past a bound) as failed, with the message.
SettleResponse = Callable[[str, str], Awaitable[None]]
# Stores a response the agent changed, in place of the builtin's: a round it stopped (a loop), or the last round
# with the diagnosis block before the model's output.
StoreResponse = Callable[[Any], Awaitable[None]]


CLIENT_LEFT = "The client went away before the answer was complete; the model call was stopped."
# The evidence gatherer over the tools' own context service; None when there is none (no argocd tool runtime).
EvidenceFinder = Callable[[], EvidenceGatherer | None]


def _no_evidence() -> EvidenceGatherer | None:
    return None


async def _no_settle(response_id: str, message: str) -> None:
    return None


async def _no_store(response: Any) -> None:
    return None


async def _none() -> list[Any]:
    return []


class ArgoCDAgent:
    def __init__(
        self,
        backend: ResponsesBackend,
        toolbox: Toolbox,
        memory: ConversationMemory,
        composer: ContextComposer,
        settings: AgentSettings,
        quota: QuotaKeeper,
        history: HistoryItems,
        settle: SettleResponse = _no_settle,
        store_stopped: StoreResponse = _no_store,
        evidence: EvidenceFinder = _no_evidence,
    ) -> None:
        self._evidence = evidence
        self._history = history
        self._settle = settle
        self._store_stopped = store_stopped
        self.quota = quota
        self._backend = backend
        self._toolbox = toolbox
        self._memory = memory
        self._composer = composer
        self._settings = settings

    async def start(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        """Prepare the turn and start its first round now, so bad requests fail before any byte is streamed."""
        watch = TurnWatch(request.entrypoint, request.model)
        principal = request.caller.principal if request.caller else "anonymous"
        await self.quota.admit(principal)
        withheld = self._redact(request)
        turn = await self._prepare(request)
        turn.watch = watch
        turn.report.redactions += withheld
        turn.deadline = Deadline(self._settings.generation)
        turn.preface = self._preface(request.model, turn.findings)
        offer = self._settings.max_tool_rounds > 0
        first = await self._round(turn, turn.first_input, turn.previous_response_id, offer_tools=offer)
        return self._audited(turn, self._run(turn, first), principal)

    def _preface(self, model: str, findings: list[Finding]) -> OpenAIResponseMessage | None:
        """The diagnosis block's message for models configured to get one, redacted like all the server writes."""
        if not diagnosis.wanted(model, self._settings.diagnosis_block):
            return None
        text = self.redacted(diagnosis.render(findings))
        return diagnosis.message(text) if text else None

    async def _prefaced(self, turn: _Turn, response: Any) -> Any:
        """The turn's last response as stored: the diagnosis block, when one was streamed, before the model's output."""
        if turn.preface is None or not turn.preface_shown:
            return response
        response = response.model_copy(update={"output": [turn.preface, *response.output]})
        await self._store_stopped(response)
        return response

    def redacted(self, text: str) -> str:
        """`text` as the model would get it, for what a front door stores beside a turn (an agent's instructions)."""
        return self._composer.redactor().redact_text(text)

    def _redact(self, request: AgentRequest) -> int:
        """Redact what the caller wrote, once, here, in place: the question, the instructions and earlier input items.

        Every dialect stores `request.question` after `start`, so the model, the stored conversation (Lightspeed
        conversations, Agents sessions, Responses input) and anything logged hold the same redacted text.
        Attachments are redacted by structure when they are composed. Returns how many values were withheld.
        """
        redactor = self._composer.redactor()
        if request.question:
            request.question = redactor.redact_text(request.question)
        if request.instructions:
            request.instructions = redactor.redact_text(request.instructions)
        request.prior_items = [
            redactor.redact_obj(item.model_dump(exclude_none=True) if isinstance(item, BaseModel) else item)
            for item in request.prior_items
        ]
        return redactor.count

    async def _audited(self, turn: _Turn, events: AsyncIterator[AgentEvent], principal: str) -> AsyncIterator[AgentEvent]:
        """Count the tokens against the user's quota; metrics, trace and one audit event per turn (no content)."""
        status = "incomplete"
        try:
            async for event in events:
                if isinstance(event, Finished):
                    status = "awaiting_approval" if event.approvals else event.response.status
                elif isinstance(event, Failed):
                    status = "failed"
                elif isinstance(event, TextDelta):
                    turn.watch.first_text()
                yield event
        finally:
            report = turn.report
            await self.quota.spend_tokens(principal, report.input_tokens + report.output_tokens)
            turn.watch.finish(status, report, turn.request.caller)

    async def _prepare(self, request: AgentRequest) -> _Turn:
        previous = request.previous_response_id
        manifest = next((a for a in request.attachments if a.kind == "manifest"), None)
        gathering = self._gather(request, manifest)  # reads run while the rest of the turn is prepared
        try:
            instructions = system_instructions(request.instructions, self._settings.instructions)
            # The turn's reads at once: tool listing, the chain it continues, what it saw, calls held for approval.
            (tools, missing), stored, seen, pending = await asyncio.gather(
                self._toolbox.definitions(), self._history(previous) if previous else _none(),
                self._memory.seen(request.conversation or previous), self._memory.pending_calls(previous))
            if not request.approvals_supported or request.conversation:
                tools = [tool for tool in tools if not self._toolbox.needs_approval(tool["name"])]
            if missing:
                instructions += "\n\n" + unavailable_tools_note(missing)
            budget = self._composer.budget(request.model)
            history = as_items(stored)
            replayed = history_tokens(history, budget)
            allocation = self._composer.allocation(budget, instructions, replayed)
            held = [_Call(**call) for call in pending]
            restart: list[dict[str, Any]] = []
            omitted = 0
            if allocation.history_over and not held:  # held calls must stay next to the chain that made them
                # Restart the chain from what fits; attachments the model saw in the omitted part are sent again.
                trimmed = trim(history, allocation.history, budget)
                restart, replayed, omitted, previous, seen = trimmed.items, trimmed.tokens, trimmed.omitted, None, set()
            composed = self._composer.compose(
                request.question,
                request.attachments,
                seen=seen,
                focus=focus_line(request.caller, manifest.label if manifest else None),
                model=request.model,
                instructions=instructions,
                history_tokens=replayed,
            )
        except BaseException:  # a refused turn (unknown previous response, ...) stops its reads too
            if gathering is not None:
                gathering.cancel()
            raise
        evidence, evidence_read = await self._fitted_evidence(gathering, budget, allocation.attachments, composed, seen)
        report = TurnReport(
            redactions=composed.redactions + (evidence.redactions if evidence else 0),
            truncated=composed.truncated or omitted > 0,
            attachments_sent=composed.sent,
            attachments_deduplicated=composed.deduplicated,
            history_tokens=replayed,
            history_over_budget=allocation.history_over,
            history_items_omitted=omitted,
            evidence_read=evidence_read,
            evidence_sent=evidence is not None,
        )
        user_message = [{"type": "message", "role": "user", "content": composed.text}] if composed.text else []
        resumed = await self._resume(held, request, previous) if held else []
        answers = [{"type": "function_call_output", "call_id": r.call_id, "output": r.output} for r in resumed]
        return _Turn(
            request=request,
            findings=_merged(composed.findings, list(evidence.findings) if evidence else []),
            instructions=instructions,
            previous_response_id=previous,
            first_input=[*restart, *answers, *request.prior_items, *user_message],
            tools=[*tools, *request.extra_tools],
            offered={tool["name"] for tool in tools},
            fingerprints=seen | composed.fingerprints,
            report=report,
            resumed=resumed,
            output_allowance=output_allowance(
                request.model, budget.reserve, self._settings.generation, request.options.get("max_output_tokens")
            ),
        )

    def _gather(self, request: AgentRequest, manifest: Attachment | None) -> asyncio.Task[Collected] | None:
        """Start reading the evidence of the caller's Application (context/evidence.py), if the turn has one."""
        app = request.caller.application if request.caller else None
        if app is None or not self._settings.evidence.enabled:
            return None
        gatherer = self._evidence()
        if gatherer is None:
            return None
        focus = focus_of(manifest.parsed()) if manifest else None
        return asyncio.ensure_future(gatherer.collect(app, focus, request.question))

    async def _fitted_evidence(
        self, gathering: asyncio.Task[Collected] | None, budget: Budget, room: int, composed: Composed, seen: set[str]
    ) -> tuple[Evidence | None, int]:
        """The evidence put into `composed` (see `ContextComposer.add_evidence`), and how many resources were read.
        Never fails the turn: a gathering that failed is no evidence (the model can still call the tools)."""
        gatherer = self._evidence()
        if gathering is None or gatherer is None:
            return None, 0
        try:
            collected = await gathering
            evidence = self._composer.add_evidence(composed, gatherer, collected, budget, room, seen)
        except Exception as error:  # noqa: BLE001
            _log.warning("evidence not read: %s", type(error).__name__)
            return None, 0
        return evidence, sum(1 for r in collected.reads if r.obj is not None)

    async def _resume(self, held: list[_Call], request: AgentRequest, previous: str | None) -> list[ToolResult]:
        """Answer the calls the last turn stopped at: approved ones run now, the others are reported as declined.

        The held calls are forgotten first, so repeating the request cannot run a write twice.
        """
        if previous:
            await self._memory.hold_calls(previous, [])
        runnable = [c for c in held if not c.approval_id or request.approvals.get(c.approval_id)]
        executed, _ = await self._execute(runnable, request, round_number=0)
        by_id = {result.call_id: result for result in executed}
        declined = json.dumps({"error": "not_approved", "message": "The user did not approve this call; it was not run."})
        return [by_id.get(c.call_id) or ToolResult(c.call_id, c.name, c.arguments, declined, True, 0) for c in held]

    async def _round(self, turn: _Turn, input_items: list[Any], previous: str | None, offer_tools: bool) -> Any:
        body: dict[str, Any] = {
            **turn.request.options,
            "model": turn.request.model,
            "input": input_items,
            "instructions": turn.instructions,
            "previous_response_id": previous or None,
            "conversation": turn.request.conversation,
            "tools": turn.tools or None,
            "stream": True,
            "store": True,
        }
        if turn.tools and not offer_tools:
            body["tool_choice"] = "none"
        # Every round may answer within what is left of the turn's output allowance (the caller's, if smaller).
        left = turn.output_allowance - turn.report.output_tokens
        body["max_output_tokens"] = max(16, left)
        turn.watch.round_started()
        try:
            return await self._backend(CreateResponseRequest(**body))
        except Exception as exc:
            turn.watch.round_failed(exc)
            raise

    async def _run(self, turn: _Turn, stream: AsyncIterator[Any]) -> AsyncIterator[AgentEvent]:
        report, results = turn.report, list(turn.resumed)
        for result in turn.resumed:
            report.tools_called.append(result.name)
            yield ToolCall(result.call_id, result.name, result.arguments, 0)
            yield result
        for round_number in range(1, self._settings.max_tool_rounds + 2):
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
                            for shown in turn.preface_events(round_id or ""):  # the answer starts with it, once
                                yield shown
                        async for shown in self._shown(event, hidden_items):
                            yield shown
                        if kind == "response.output_text.delta":
                            deltas += 1
                            said.append(event.delta)
                            if guard.feed(event.delta):  # the model call is closed before the round is stored
                                marker = event.model_copy(update={"delta": REPETITION_MARKER})
                                yield TextDelta(REPETITION_MARKER, marker)
                                await model_round.closed()
                                response = await self._stopped(snapshot, "".join(said) + REPETITION_MARKER, event)
                                break
                        if kind in ("response.completed", "response.incomplete", "response.failed"):
                            response = event.response
            except TurnFailure as failure:
                await model_round.closed()
                if round_id:
                    await self._settle(round_id, failure.message)
                yield Failed(failure.message, report, failure.status_code)
                return
            except (asyncio.CancelledError, GeneratorExit):  # the client went away: no waiting here, it is over
                model_round.stop()
                if round_id:
                    model_round.then(functools.partial(self._settle, round_id, CLIENT_LEFT))
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
            calls = [item for item in response.output if _is_function_call(item) and item.name in turn.offered]
            if not calls or response.status != "completed" or round_number > self._settings.max_tool_rounds:
                await self._memory.remember(response.id, turn.fingerprints)
                if turn.request.conversation:
                    await self._memory.remember(turn.request.conversation, turn.fingerprints)
                response = await self._prefaced(turn, response)
                yield Finished(response, report, tuple(results), preface=turn.preface if turn.preface_shown else None)
                return
            report.tool_rounds = round_number
            held = [_Call(c.call_id, c.name, _arguments(c.arguments)) for c in calls]
            if any(self._toolbox.needs_approval(call.name) for call in held):
                async for event in self._hold(turn, response, held, results):
                    yield event
                return
            outputs = []
            for call in held:
                yield ToolCall(call.call_id, call.name, call.arguments, round_number)
            with turn.watch.tools():
                executed, cut = await self._execute(held, turn.request, round_number)
            report.truncated |= cut
            for result in executed:
                report.tools_called.append(result.name)
                results.append(result)
                yield result
                outputs.append({"type": "function_call_output", "call_id": result.call_id, "output": result.output})
            last_round = round_number == self._settings.max_tool_rounds
            try:
                # A conversation keeps every round's items itself (llama-stack refuses it beside a response id).
                chain = None if turn.request.conversation else response.id
                stream = await self._round(turn, outputs, chain, offer_tools=not last_round)
            except Exception as exc:  # noqa: BLE001 - reported to the user in-band; the turn cannot go on
                yield Failed(f"The model could not continue after the tool calls: {exc}", report)
                return

    async def _hold(
        self, turn: _Turn, response: Any, held: list[_Call], results: list[ToolResult]
    ) -> AsyncIterator[AgentEvent]:
        """A write waits for the user: the turn ends here, and the next request of the chain answers (`_resume`).

        Every call of the round is held, so the chain gets one answer per call when it goes on.
        """
        for call in held:
            if self._toolbox.needs_approval(call.name):
                call.approval_id = f"mcpr_{call.call_id}"
        await self._memory.hold_calls(response.id, [call.__dict__ for call in held])
        await self._memory.remember(response.id, turn.fingerprints)
        approvals = tuple(
            ApprovalRequested(call.approval_id, call.call_id, call.name, call.arguments)
            for call in held if call.approval_id
        )
        for approval in approvals:
            yield approval
        response = await self._prefaced(turn, response)
        yield Finished(response, turn.report, tuple(results), approvals, frozenset(c.call_id for c in held),
                       preface=turn.preface if turn.preface_shown else None)

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
        await self._store_stopped(response)
        return response

    async def _shown(self, event: Any, hidden_items: set[str]) -> AsyncIterator[AgentEvent]:
        """What a dialect sees of one Responses event: answer text, or work the builtin did itself."""
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            yield TextDelta(event.delta, event)
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            return
        elif not self._is_own_tool_event(event, hidden_items):
            yield Passthrough(event)

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
        self, calls: list[_Call], request: AgentRequest, round_number: int
    ) -> tuple[list[ToolResult], bool]:
        """Run one round's calls concurrently, each as the caller; outputs fitted to the tool-result budget."""
        async def one(call: _Call) -> ToolResult:
            arguments = call.arguments
            output, is_error = await self._toolbox.call_as(
                request.caller, call.name, arguments, self._settings.tool_timeout_seconds
            )
            output, cut = self._composer.fit_tool_output(output, request.model, len(calls))
            if cut:
                truncated.append(call.call_id)
            return ToolResult(call.call_id, call.name, arguments, output, is_error, round_number)

        truncated: list[str] = []

        results = list(await asyncio.gather(*(one(call) for call in calls)))
        return results, bool(truncated)


@dataclass
class _Call:
    """A tool call the model made, as the agent runs it (and holds it, when it waits for approval)."""

    call_id: str
    name: str
    arguments: dict[str, Any]
    approval_id: str | None = None


@dataclass
class _Turn:
    request: AgentRequest
    instructions: str
    previous_response_id: str | None  # None when the history was trimmed and the chain restarts
    first_input: list[Any]
    tools: list[Any]
    fingerprints: set[str]
    report: TurnReport
    resumed: list[ToolResult] = field(default_factory=list)  # held calls answered before the first round
    offered: set[str] = field(default_factory=set)  # our tools offered this turn: the ones run server-side
    watch: TurnWatch = field(default_factory=lambda: TurnWatch("unknown", traced=False))  # set by start()
    output_allowance: int = 4096  # output tokens the whole turn may take (see agent/generation.py)
    deadline: Deadline = field(default_factory=lambda: Deadline(GenerationSettings()))  # set by start()
    findings: list[Finding] = field(default_factory=list)  # what the turn composed, the decisive first
    preface: OpenAIResponseMessage | None = None  # the diagnosis block, for models that get one (set by start())
    preface_shown: bool = False  # streamed: the stored answer starts with it

    def preface_events(self, response_id: str) -> list[AgentEvent]:
        """The diagnosis block's events the first time they are due, then nothing."""
        if self.preface is None or self.preface_shown:
            return []
        self.preface_shown = True
        return diagnosis.streamed(self.preface, diagnosis.text_of(self.preface), response_id)


def _merged(attached: list[Finding], read: list[Finding]) -> list[Finding]:
    """The attachments' findings (the resource the user has open) first, then those of what the agent read."""
    seen = {(f.title, f.resource) for f in attached}
    return [*attached, *(f for f in read if (f.title, f.resource) not in seen)]


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
