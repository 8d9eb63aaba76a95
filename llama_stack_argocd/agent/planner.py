"""The turn planner: what one turn sends, decided before the model is asked anything.

The tools offered, the context budget, whether the replayed history is over its share (then the chain restarts
from the newest part that fits), the composed user message, the first round's input and every round's request.
Pure: it gets what the agent read (tool listings, the replayed history, what the conversation saw) as plain data
and does no I/O, so each decision is tested with plain values (tests/unit/agent/test_planner.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from llama_stack_api import CreateResponseRequest

from llama_stack_argocd.agent import diagnosis
from llama_stack_argocd.agent.composer import Allocation, Composed, ContextComposer
from llama_stack_argocd.agent.turn_events import ToolResult, TurnReport
from llama_stack_argocd.agent.generation import output_allowance
from llama_stack_argocd.agent.history import as_items, history_tokens, trim
from llama_stack_argocd.agent.instructions import focus_line, system_instructions, unavailable_tools_note
from llama_stack_argocd.context.budget import Budget
from llama_stack_argocd.context.evidence import Evidence
from llama_stack_argocd.context.findings import Finding

if TYPE_CHECKING:
    from llama_stack_argocd.agent.core import AgentRequest, AgentSettings


@dataclass
class TurnPlan:
    instructions: str
    tools: list[Any]  # what the model is offered: our tools, then the caller's own
    offered: set[str]  # our tools among them: the ones the loop runs server-side
    budget: Budget
    allocation: Allocation
    previous_response_id: str | None  # None when the history was trimmed and the chain restarts
    restart: list[dict[str, Any]]  # the trimmed history a restarted chain begins with (else empty)
    history_tokens: int  # what the first round replays
    history_omitted: int  # items of the history left out by the trim
    seen: set[str]  # fingerprints of what the conversation already has (reset when the chain restarts)
    composed: Composed
    output_allowance: int  # output tokens the whole turn may take (see agent/generation.py)


def offered_tools(
    listed: Sequence[dict[str, Any]], needs_approval: Callable[[str], bool], request: AgentRequest
) -> list[dict[str, Any]]:
    """Write tools only to a dialect that can ask the user, and never in a llama-stack conversation (the held calls
    are kept per response id, which a conversation does not chain by)."""
    if request.approvals_supported and not request.conversation:
        return list(listed)
    return [tool for tool in listed if not needs_approval(tool["name"])]


def plan_turn(
    request: AgentRequest,
    settings: AgentSettings,
    composer: ContextComposer,
    tools: list[dict[str, Any]],
    missing: list[str],
    history: Sequence[Any],
    seen: set[str],
    holding: bool,
) -> TurnPlan:
    """Plan the turn from `tools` (already `offered_tools`), the tool groups `missing` (listed none), the
    `history` the previous response replays, the fingerprints the conversation has `seen`, and whether calls of
    the previous response are `holding` for approval (then the chain stays whole: they belong next to it)."""
    instructions = system_instructions(request.instructions, settings.instructions)
    if missing:
        instructions += "\n\n" + unavailable_tools_note(missing)
    budget = composer.budget(request.model)
    items = as_items(history) if request.previous_response_id else []
    replayed = history_tokens(items, budget)
    allocation = composer.allocation(budget, instructions, replayed)
    previous, restart, omitted = request.previous_response_id, [], 0
    if allocation.history_over and not holding:
        # Restart the chain from what fits; attachments the model saw in the omitted part are sent again.
        trimmed = trim(items, allocation.history, budget)
        restart, replayed, omitted, previous = trimmed.items, trimmed.tokens, trimmed.omitted, None
        seen = diagnosis.kept_across_trim(seen)
    manifest = next((a for a in request.attachments if a.kind == "manifest"), None)
    composed = composer.compose(
        request.question,
        request.attachments,
        seen=seen,
        focus=focus_line(request.caller, manifest.label if manifest else None),
        model=request.model,
        instructions=instructions,
        history_tokens=replayed,
    )
    return TurnPlan(
        instructions=instructions,
        tools=[*tools, *request.extra_tools],
        offered={tool["name"] for tool in tools},
        budget=budget,
        allocation=allocation,
        previous_response_id=previous,
        restart=restart,
        history_tokens=replayed,
        history_omitted=omitted,
        seen=seen,
        composed=composed,
        output_allowance=output_allowance(
            request.model, budget.reserve, settings.generation, request.options.get("max_output_tokens")
        ),
    )


def first_input(plan: TurnPlan, request: AgentRequest, answers: Sequence[ToolResult]) -> list[Any]:
    """The first round's input: the restarted history, the answers to held calls, the caller's earlier items, the
    composed user message (none when the composed text is empty)."""
    outputs = [{"type": "function_call_output", "call_id": r.call_id, "output": r.output} for r in answers]
    text = plan.composed.text
    user = [{"type": "message", "role": "user", "content": text}] if text else []
    return [*plan.restart, *outputs, *request.prior_items, *user]


def report_of(plan: TurnPlan, evidence: Evidence | None, evidence_read: int) -> TurnReport:
    """The turn's figures as planned; the loop adds the rounds, tools and tokens."""
    composed = plan.composed
    return TurnReport(
        redactions=composed.redactions + (evidence.redactions if evidence else 0),
        truncated=composed.truncated or plan.history_omitted > 0,
        attachments_sent=composed.sent,
        attachments_deduplicated=composed.deduplicated,
        history_tokens=plan.history_tokens,
        history_over_budget=plan.allocation.history_over,
        history_items_omitted=plan.history_omitted,
        evidence_read=evidence_read,
        evidence_sent=evidence is not None,
    )


def findings_of(plan: TurnPlan, evidence: Evidence | None) -> list[Finding]:
    """The findings this turn's block shows: the attachments' (the resource the user has open; merged with the
    evidence, the evidence's findings are focus-first) first, then those of what the agent read; none an earlier
    block of the conversation showed. One finding both made is shown once, in the attachments' place, as the one
    that says more (the agent read the objects around it: an Application's finding names why its resources are
    held)."""
    return merged_findings(plan.composed.findings, evidence.findings if evidence else (), plan.seen)


def merged_findings(attached: Sequence[Finding], read: Sequence[Finding], seen: set[str]) -> list[Finding]:
    """`findings_of` over plain lists (the eval's block uses it too): attached first, each as the richer of its
    two versions, then the rest of what was read, none of those in `seen`."""
    by_key = {(f.title, f.resource): f for f in read}
    richer = [max((f, by_key.get((f.title, f.resource), f)), key=_says) for f in attached]
    keys = {(f.title, f.resource) for f in richer}
    return diagnosis.unshown(_unrepeated([*richer, *(f for key, f in by_key.items() if key not in keys)]), seen)


def _unrepeated(findings: list[Finding]) -> list[Finding]:
    """Each thing said once: a finding another one of its kind says all of goes (one cause seen from two names:
    the same log attached and read); two of one kind about one resource that quote some of the same lines are one
    (the attached tail and the whole log read: the later one's lines first, the agent read more). What stays stands
    where the first of them stood."""
    out: list[Finding] = []
    for finding in findings:
        quoted = set(finding.evidence)
        for i, kept in enumerate(out):
            if kept.code != finding.code or not quoted:
                continue
            if quoted <= set(kept.evidence) or set(kept.evidence) <= quoted:
                out[i] = max((kept, finding), key=_says)
                break
            if kept.resource == finding.resource and quoted & set(kept.evidence):
                out[i] = replace(finding, severity=min(kept.severity, finding.severity, key=lambda s: s.rank),
                                 evidence=list(dict.fromkeys([*finding.evidence, *kept.evidence])))
                break
        else:
            out.append(finding)
    return out


def _says(finding: Finding) -> int:
    return len(finding.detail) + sum(len(e) for e in finding.evidence)


def round_request(
    request: AgentRequest, plan: TurnPlan, input_items: list[Any], previous: str | None, offer_tools: bool,
    output_used: int,
) -> CreateResponseRequest:
    """One round's request: stored and streamed, chained to `previous` (or in the request's conversation), the
    model's tools forbidden when `offer_tools` is False (the last round must answer), and an output limit of what
    is left of the turn's allowance after `output_used` tokens."""
    body: dict[str, Any] = {
        **request.options,
        "model": request.model,
        "input": input_items,
        "instructions": plan.instructions,
        "previous_response_id": previous or None,
        "conversation": request.conversation,
        "tools": plan.tools or None,
        "stream": True,
        "store": True,
        "max_output_tokens": max(16, plan.output_allowance - output_used),
    }
    if plan.tools and not offer_tools:
        body["tool_choice"] = "none"
    return CreateResponseRequest(**body)
