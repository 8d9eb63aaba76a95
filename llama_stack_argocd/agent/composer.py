"""Turns a question and its attachments into the one user message the model reads.

Attachments are redacted, de-duplicated against what the conversation already saw (the extension re-sends them
every turn), and fitted into the model's budget with findings first through `context.digest`, the same code path
the tools use. Tool results get their own share of the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
from llama_stack_argocd.context.budget import ATTACHMENTS, HISTORY, INSTRUCTIONS, TOOL_RESULTS, Budget, cut_text
from llama_stack_argocd.context.digest import build_context
from llama_stack_argocd.context.evidence import Attached, Collected, Evidence, EvidenceGatherer
from llama_stack_argocd.context.findings.base import flatten
from llama_stack_argocd.context.findings import Finding
from llama_stack_argocd.context.redaction import Redactor

EVIDENCE_HISTORY_FRACTION = 2 / 3  # of the history's share, for evidence without attachments: the answer needs the rest
MIN_EVIDENCE_TOKENS = 300  # below this the findings alone do not fit; the attachments and the tools then suffice


@dataclass
class Composed:
    text: str
    fingerprints: set[str] = field(default_factory=set)
    sent: int = 0
    deduplicated: int = 0
    redactions: int = 0
    truncated: bool = False
    findings: list[Finding] = field(default_factory=list)  # the analyzers' findings, ordered, the decisive first
    sections: list[str] = field(default_factory=list)
    lead: int = 0  # sections before the context: the question and the focus line
    attached: Attached | None = None  # the fresh attachments, parsed and redacted: merged into the evidence
    digest_at: int | None = None  # the section holding the attachments' digest (replaced when merged)
    attached_chars: int = 0  # of the fresh attachments as sent, before digesting

    def with_evidence(self, evidence: str) -> None:
        """Put what the agent read itself right after the question, ahead of the attachments."""
        self.sections.insert(self.lead, evidence)
        self.text = "\n\n".join(self.sections)


@dataclass(frozen=True)
class Allocation:
    attachments: int  # tokens for this turn's attachments
    history: int  # tokens the replayed conversation may take
    history_over: bool  # the replayed conversation is longer than that


class ContextComposer:
    def __init__(
        self,
        redactor_factory: Callable[[], Redactor],
        context_windows: Mapping[str, int] | None = None,
        default_context_window: int = 8192,
    ) -> None:
        self._redactor_factory = redactor_factory
        self._windows = dict(context_windows or {})
        self._default_window = default_context_window

    def redactor(self) -> Redactor:
        """A fresh redactor with the operator's filters (one per turn, so its count is that turn's)."""
        return self._redactor_factory()

    def budget(self, model: str | None) -> Budget:
        return Budget.for_model(model, windows=self._windows, default_window=self._default_window)

    def compose(
        self,
        question: str | None,
        attachments: Iterable[Attachment],
        seen: set[str],
        focus: str | None,
        model: str | None = None,
        instructions: str = "",
        history_tokens: int = 0,
        evidence: str | None = None,
    ) -> Composed:
        """`evidence` (what the agent read itself, already fitted) goes first; the attachments get what it left."""
        redactor = self._redactor_factory()
        composed = Composed(text="")
        fresh: dict[AttachmentKind, list[Attachment]] = {}
        repeated: list[Attachment] = []
        for attachment in attachments:
            if attachment.fingerprint in seen:
                repeated.append(attachment)
            else:
                fresh.setdefault(attachment.kind, []).append(attachment)
                composed.fingerprints.add(attachment.fingerprint)
                composed.attached_chars += len(attachment.content or "")
        sections = [redactor.redact_text(evidence)] if evidence else []
        if question:
            sections.append(redactor.redact_text(question))
        if focus:
            sections.append(focus)
        composed.lead = len(sections)
        budget = self.budget(model)
        room = self.allocation(budget, instructions, history_tokens).attachments
        if evidence:
            room = max(0, room - budget.count(evidence) - 2)
        if any(kind is not AttachmentKind.OTHER for kind in fresh):
            manifest = _first(fresh, AttachmentKind.MANIFEST, redactor)
            events = _first(fresh, AttachmentKind.EVENTS, redactor)
            logs = _joined_logs(fresh.get(AttachmentKind.LOGS, []), redactor)
            digest = build_context(manifest=manifest, events=events, logs=logs, budget=room, model=model)
            composed.attached = Attached(
                manifest=manifest if isinstance(manifest, dict) else None,
                events=tuple(o for o in flatten([events]) if isinstance(o, dict)) if events else (),
                logs=logs,
                findings=tuple(digest.findings),
            )
            composed.digest_at = len(sections)
            sections.append(digest.text)
            composed.truncated |= digest.truncated
            composed.findings = list(digest.findings)
        for other in fresh.get(AttachmentKind.OTHER, []):
            cut = cut_text(redactor.redact_text(other.content), room // 4, "head", model)
            composed.truncated |= cut.truncated
            sections.append(f"Attached ({other.mime_type}):\n```\n{cut.text}\n```")
        if repeated:
            names = ", ".join(a.label for a in repeated)
            sections.append(f"(Unchanged since earlier in this conversation, not repeated: {names}.)")
        composed.sections = sections
        composed.text = "\n\n".join(sections)
        composed.sent = sum(len(v) for v in fresh.values())
        composed.deduplicated = len(repeated)
        composed.redactions = redactor.count
        return composed

    @staticmethod
    def allocation(budget: Budget, instructions: str, history_tokens: int) -> Allocation:
        """Tokens for this turn's attachments and for the replayed history, once the instructions are counted.

        The roles share the window fairly: what history and instructions do not use goes to the attachments, and
        a long history takes from them no more than its own share (the agent trims a history over it).
        """
        grants = budget.allocate({
            INSTRUCTIONS: budget.count(instructions),
            HISTORY: history_tokens,
            ATTACHMENTS: budget.caps.get(ATTACHMENTS, budget.input_tokens),
            TOOL_RESULTS: budget.share(TOOL_RESULTS),
        })
        history_room = max(grants[HISTORY], budget.share(HISTORY))
        return Allocation(grants[ATTACHMENTS], history_room, history_tokens > history_room)

    def add_evidence(
        self, composed: Composed, gatherer: EvidenceGatherer, collected: Collected, budget: Budget, room: int,
        seen: set[str],
    ) -> Evidence | None:
        """Put the evidence the agent read into `composed`. This turn's attachments are merged into it (`Attached`):
        one digest over what was read and what was attached, each object, event and log line once, findings over
        both first, within the attachments' `room`; so the attachments cannot crowd the decisive evidence out.
        Without attachments, the evidence also stays within 2/3 of the history's share (the message is replayed
        next turn; within that share the chain is not trimmed and the evidence not sent again).
        None, and `composed` unchanged, when too little room is left, nothing could be read (the attachments stay
        as they are) or the conversation already has this evidence (`seen`: fingerprints, like attachments')."""
        merge = composed.attached if collected.application is not None and composed.digest_at is not None else None
        kept = [t for i, t in enumerate(composed.sections) if merge is None or i != composed.digest_at]
        limit = room - budget.count("\n\n".join(kept))
        # The message is replayed next turn: within the history's share the chain is kept whole. So the message
        # stays within 2/3 of that share; merged with the attachments, it may be as long as they were as sent (about
        # 4 characters a token) or their digest alone: a message the attachments made that long anyway.
        share = int(budget.share(HISTORY) * EVIDENCE_HISTORY_FRACTION)
        if merge is None:
            limit = min(limit, share - budget.count(composed.text))
        elif composed.digest_at is not None:
            limit = min(limit, max(share - budget.count("\n\n".join(kept)), composed.attached_chars // 4,
                                   budget.count(composed.sections[composed.digest_at])))
        if (cap := gatherer.settings.token_cap(budget.model)) is not None:
            limit = min(limit, cap)
        if limit < MIN_EVIDENCE_TOKENS:
            return None
        evidence = gatherer.render(collected, limit, budget.model, merge)
        if evidence.fingerprint in seen:
            return None
        if merge is not None and composed.digest_at is not None:
            # `composed.findings` stay the attachments' own (what the user has open leads the diagnosis block);
            # the evidence's, focus-first, follow them there (`planner.findings_of`)
            composed.sections = kept
            composed.digest_at = None
        redactor = self._redactor_factory()  # this provider's own filters too
        evidence = replace(evidence, text=redactor.redact_text(evidence.text),
                           redactions=evidence.redactions + redactor.count)
        composed.fingerprints.add(evidence.fingerprint)
        composed.with_evidence(evidence.text)
        return evidence

    def fit_tool_output(self, output: str, model: str | None, calls_in_round: int) -> tuple[str, bool]:
        """A tool result within its share of the budget (split between the calls of one round)."""
        room = max(256, self.budget(model).share(TOOL_RESULTS) // max(1, calls_in_round))
        cut = cut_text(output, room, "head", model)
        return cut.text, cut.truncated


def _first(fresh: dict[AttachmentKind, list[Attachment]], kind: AttachmentKind, redactor: Redactor) -> Any:
    """The attachment of this kind, parsed and redacted as an object (Secret data, secret-looking env values)."""
    for attachment in fresh.get(kind, []):
        parsed = attachment.parsed()
        return redactor.redact_obj(parsed) if parsed is not None else redactor.redact_text(attachment.content)
    return None


def _joined_logs(attachments: list[Attachment], redactor: Redactor) -> Any:
    if not attachments:
        return None
    if len(attachments) == 1 and isinstance(parsed := attachments[0].parsed(), list):
        return redactor.redact_obj(parsed)
    return redactor.redact_text("\n".join(a.content for a in attachments))



