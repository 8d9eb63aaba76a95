"""The one Argo CD agent every front door runs on.

A turn: admit it against the caller's quota, redact what the caller wrote, read what the plan needs (tool
listings, the replayed history, what the conversation saw, calls held for approval, the Application's evidence),
plan it (agent/planner.py, pure), then run its rounds (agent/loop.py) on llama-stack's Responses implementation
(agent/backend.py), streaming what happens as `AgentEvent`s. Each round is one stored response chained by
`previous_response_id`, so a later turn that continues from the final response id sees the whole exchange.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from llama_stack.log import get_logger
from pydantic import BaseModel, Field

from llama_stack_argocd.agent import diagnosis
from llama_stack_argocd.agent.attachments import Attachment
from llama_stack_argocd.agent.backend import ResponsesBackend
from llama_stack_argocd.agent.composer import ContextComposer
from llama_stack_argocd.agent.turn_events import AgentEvent, Failed, Finished, Preface, TextDelta
from llama_stack_argocd.agent.generation import Deadline, GenerationSettings
from llama_stack_argocd.agent.loop import PendingCall, TurnLoop, TurnState
from llama_stack_argocd.agent.planner import (
    TurnPlan,
    findings_of,
    first_input,
    offered_tools,
    plan_turn,
    report_of,
)
from llama_stack_argocd.agent.state import ConversationMemory
from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.caller import Caller
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


# The evidence gatherer over the tools' own context service; None when there is none (no argocd tool runtime).
EvidenceFinder = Callable[[], EvidenceGatherer | None]


def _no_evidence() -> EvidenceGatherer | None:
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
        evidence: EvidenceFinder = _no_evidence,
    ) -> None:
        self.quota = quota
        self._backend = backend
        self._toolbox = toolbox
        self._memory = memory
        self._composer = composer
        self._settings = settings
        self._evidence = evidence
        self._loop = TurnLoop(backend, toolbox, memory, composer, settings.max_tool_rounds,
                              settings.tool_timeout_seconds)

    async def start(self, request: AgentRequest) -> AsyncIterator[AgentEvent]:
        """Prepare the turn and start its first round now, so bad requests fail before any byte is streamed."""
        watch = TurnWatch(request.entrypoint, request.model)
        principal = request.caller.principal if request.caller else "anonymous"
        await self.quota.admit(principal)
        withheld = self._redact(request)
        turn, first = await self._prepare(request, watch)
        turn.report.redactions += withheld
        return self._audited(turn, await self._loop.start(turn, first), principal)

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

    async def _audited(
        self, turn: TurnState, events: AsyncIterator[AgentEvent], principal: str
    ) -> AsyncIterator[AgentEvent]:
        """Count the tokens against the user's quota; metrics, trace and one audit event per turn (no content)."""
        status = "incomplete"
        try:
            async for event in events:
                if isinstance(event, Finished):
                    status = "awaiting_approval" if event.approvals else event.status
                elif isinstance(event, Failed):
                    status = "failed"
                elif isinstance(event, (TextDelta, Preface)):
                    turn.watch.first_text()
                yield event
        finally:
            report = turn.report
            await self.quota.spend_tokens(principal, report.input_tokens + report.output_tokens)
            turn.watch.finish(status, report, turn.request.caller)

    async def _prepare(self, request: AgentRequest, watch: TurnWatch) -> tuple[TurnState, list[Any]]:
        """Read what the plan needs, plan the turn, answer the calls held for approval; the first round's input."""
        previous = request.previous_response_id
        manifest = next((a for a in request.attachments if a.kind == "manifest"), None)
        gathering = self._gather(request, manifest)  # reads run while the rest of the turn is prepared
        try:
            # The turn's reads at once: tool listing, the chain it continues, what it saw, calls held for approval.
            (listed, missing), history, seen, pending = await asyncio.gather(
                self._toolbox.definitions(), self._backend.history(previous) if previous else _none(),
                self._memory.seen(request.conversation or previous), self._memory.pending_calls(previous))
            tools = offered_tools(listed, self._toolbox.needs_approval, request)
            held = [PendingCall(**call) for call in pending]
            plan = plan_turn(request, self._settings, self._composer, tools, missing, history, seen, bool(held))
        except BaseException:  # a refused turn (unknown previous response, ...) stops its reads too
            if gathering is not None:
                gathering.cancel()
            raise
        evidence, evidence_read = await self._fitted_evidence(gathering, plan)
        resumed = await self._loop.resume(held, request, previous) if held else []
        findings = findings_of(plan, evidence)
        preface = self._preface(request.model, findings)
        shown = {diagnosis.identity(f) for f in findings} if preface else set()
        turn = TurnState(
            request=request,
            plan=plan,
            fingerprints=plan.seen | plan.composed.fingerprints | shown,
            report=report_of(plan, evidence, evidence_read),
            watch=watch,
            deadline=Deadline(self._settings.generation),
            resumed=resumed,
            preface=diagnosis.message(preface) if preface else None,
            preface_text=preface,
        )
        return turn, first_input(plan, request, resumed)

    def _preface(self, model: str, findings: list[Finding]) -> str:
        """The diagnosis block for models configured to get one ("" for none), redacted like all the server writes."""
        if not diagnosis.wanted(model, self._settings.diagnosis_block):
            return ""
        return self.redacted(diagnosis.render(findings))

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
        self, gathering: asyncio.Task[Collected] | None, plan: TurnPlan
    ) -> tuple[Evidence | None, int]:
        """The evidence put into the plan's composed message (see `ContextComposer.add_evidence`), and how many
        resources were read. Never fails the turn: a gathering that failed is no evidence (the model can still call
        the tools)."""
        gatherer = self._evidence()
        if gathering is None or gatherer is None:
            return None, 0
        try:
            collected = await gathering
            evidence = self._composer.add_evidence(
                plan.composed, gatherer, collected, plan.budget, plan.allocation.attachments, plan.seen
            )
        except Exception as error:  # noqa: BLE001
            _log.warning("evidence not read: %s", type(error).__name__)
            return None, 0
        return evidence, sum(1 for r in collected.reads if r.obj is not None)
