"""Turns a question and its attachments into the one user message the model reads.

Attachments are redacted, de-duplicated against what the conversation already saw (the extension re-sends them
every turn), and fitted into the model's budget with findings first (`context.digest`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind
from llama_stack_argocd.context.redaction import Redactor


@dataclass
class Composed:
    text: str
    fingerprints: set[str] = field(default_factory=set)
    sent: int = 0
    deduplicated: int = 0
    redactions: int = 0
    truncated: bool = False


class ContextComposer:
    def __init__(self, redactor_factory: Callable[[], Redactor], max_attachment_chars: int = 60_000) -> None:
        self._redactor_factory = redactor_factory
        self._max_chars = max_attachment_chars

    def compose(
        self,
        question: str,
        attachments: Iterable[Attachment],
        seen: set[str],
        focus: str | None,
        model: str | None = None,
    ) -> Composed:
        redactor = self._redactor_factory()
        composed = Composed(text="")
        fresh: list[Attachment] = []
        repeated: list[Attachment] = []
        for attachment in attachments:
            if attachment.fingerprint in seen:
                repeated.append(attachment)
            else:
                fresh.append(attachment)
                composed.fingerprints.add(attachment.fingerprint)
        sections = [redactor.redact_text(question)]
        if focus:
            sections.append(focus)
        for attachment in fresh:
            body = redactor.redact_text(attachment.content)
            if len(body) > self._max_chars:
                cut = len(body) - self._max_chars
                body = f"{body[: self._max_chars]}\n[... {cut:,} characters omitted ...]"
                composed.truncated = True
            fence = "json" if attachment.kind is not AttachmentKind.OTHER else ""
            sections.append(f"Attached {attachment.label}:\n```{fence}\n{body}\n```")
        if repeated:
            names = ", ".join(a.label for a in repeated)
            sections.append(f"(Unchanged since earlier in this conversation, not repeated: {names}.)")
        composed.text = "\n\n".join(sections)
        composed.sent, composed.deduplicated = len(fresh), len(repeated)
        composed.redactions = redactor.count
        return composed
