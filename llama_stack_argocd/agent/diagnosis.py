"""The diagnosis block: what the assistant checked, written by the server at the start of the answer.

Small models (the embedded one) rarely quote the evidence they were given; for the models an operator marks as
needing it, the answer starts with the turn's findings, each with its evidence (the log line, the event, the
field), and the model's text follows. The block is made here, once, from the findings the turn composed, and the
agent core streams it as answer text (a `Preface` event), so every dialect shows and stores the same words.

The extension double-escapes `"`, `&`, `<` and `>` inside code spans and blocks, so nothing here uses either:
every value is Markdown plain text (`activity.plain`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Mapping, Sequence

from llama_stack_api import OpenAIResponseMessage, OpenAIResponseOutputMessageContentOutputText

from llama_stack_argocd.agent.activity import plain
from llama_stack_argocd.context.budget import model_setting
from llama_stack_argocd.context.findings import Finding

# Models that get the block unless configured otherwise (pattern over the lower-cased model id).
KNOWN_DIAGNOSIS_MODELS: tuple[tuple[str, bool], ...] = ((r"smollm|argocd-embedded", True),)
HEADING = "**What I checked**"
MAX_FINDINGS = 5
MAX_EVIDENCE = 4
MAX_CHARS = 300
MAX_BLOCK_CHARS = 1300  # what a reader takes in above the answer; it is not model input (later turns replay the answer)
SHOWN = "shown:"  # the conversation's fingerprints of findings a block already showed (kept when history is trimmed)


def wanted(model: str | None, overrides: Mapping[str, bool] | None = None) -> bool:
    """Whether answers of `model` start with the block: an exact id or regex in `overrides`, then the known ones."""
    return model_setting(model, overrides, KNOWN_DIAGNOSIS_MODELS, False)


def identity(finding: Finding) -> str:
    """What a finding is about, as a fingerprint the conversation keeps: the same problem of the same resource is
    the same finding, whatever counts or evidence lines changed since."""
    body = "\0".join((finding.code or finding.title, finding.resource))
    return SHOWN + hashlib.sha256(body.encode()).hexdigest()[:24]


def unshown(findings: Iterable[Finding], seen: set[str]) -> list[Finding]:
    """The findings no earlier block of this conversation showed: the block is shown once per conversation."""
    return [f for f in findings if identity(f) not in seen]


def kept_across_trim(seen: set[str]) -> set[str]:
    """Of a conversation's fingerprints, the ones a restarted chain keeps: what the user was shown stays shown,
    while what the model read is sent again."""
    return {f for f in seen if f.startswith(SHOWN)}


def render(findings: Sequence[Finding]) -> str:
    """The block as Markdown, or "" when there is nothing to show. Findings come ordered, the decisive first; the
    block stays short (it sits above the model's answer): past MAX_BLOCK_CHARS, what is left goes to the model only."""
    if not findings:
        return ""
    lines, size, shown_findings = [HEADING, ""], 0, 0
    for finding in findings[:MAX_FINDINGS]:
        where = ", ".join(x for x in (finding.severity.value, finding.resource) if x)
        head = f"- **{plain(finding.title, MAX_CHARS)}** ({plain(where, MAX_CHARS)})"
        head = f"{head}: {plain(finding.detail, MAX_CHARS)}" if finding.detail else head
        if shown_findings and size + len(head) > MAX_BLOCK_CHARS:
            break
        lines.append(head)
        size += len(head)
        shown_findings += 1
        said = f"{finding.title}\n{finding.detail}"
        for evidence in [e for e in dict.fromkeys(finding.evidence) if e and e not in said][:MAX_EVIDENCE]:
            line = f"  - {plain(evidence, MAX_CHARS)}"
            if size + len(line) > MAX_BLOCK_CHARS:
                break
            lines.append(line)
            size += len(line)
    if len(findings) > shown_findings:
        lines.append(f"- ({len(findings) - shown_findings} more findings went to the model)")
    return "\n".join(lines) + "\n\n"


def message(text: str, item_id: str | None = None) -> OpenAIResponseMessage:
    """The block as the assistant message the stored response starts with (a new one, or the one `item_id` names)."""
    return OpenAIResponseMessage(
        id=item_id or f"msg_{uuid.uuid4().hex}", role="assistant", status="completed",
        content=[OpenAIResponseOutputMessageContentOutputText(text=text)],
    )
