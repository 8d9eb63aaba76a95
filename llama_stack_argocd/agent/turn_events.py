"""What one agent turn produces, independent of any dialect. Each front door renders these its own way.

Every event carries its own typed fields. Two carry a llama-stack object besides, for the Responses dialect alone,
which answers with the builtin's own events and response object unchanged (`Passthrough.raw`, `Finished.raw`); no
other dialect reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text, in the message item `item_id` (the model's, or one the agent wrote)."""

    text: str
    item_id: str = ""
    content_index: int = 0


@dataclass(frozen=True)
class Preface:
    """A message the server writes at the start of the answer (the diagnosis block), whole: every dialect shows
    `text` as answer text, and the stored response starts with the message `item_id`."""

    item_id: str
    text: str


@dataclass(frozen=True)
class Passthrough:
    """A Responses stream event of the builtin about something other than answer text (a round created, a message
    item opened or closed, a caller's own MCP tool at work).

    `raw` is the builtin's own event: a Responses client must get it unchanged (its item, its fields), and only the
    Responses dialect reads it; the others show nothing of it.
    """

    raw: Any


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: dict[str, Any]
    round: int


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    arguments: dict[str, Any]
    output: str
    is_error: bool
    round: int


@dataclass(frozen=True)
class ApprovalRequested:
    """A write tool the model called: it runs only if the user approves, in the next request of the chain."""

    approval_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]


@dataclass
class TurnReport:
    """Figures about a turn that every dialect reports in its own metadata."""

    redactions: int = 0
    truncated: bool = False
    tool_rounds: int = 0
    tools_called: list[str] = field(default_factory=list)
    attachments_sent: int = 0
    attachments_deduplicated: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    history_tokens: int = 0
    history_over_budget: bool = False  # the conversation was longer than its share of the window...
    history_items_omitted: int = 0  # ...so this many of its oldest items were left out, with a marker
    evidence_read: int = 0  # resources the agent read itself before the first round (context/evidence.py)
    evidence_sent: bool = False  # and put first in the user message (False: none, or unchanged since sent)

    def as_metadata(self) -> dict[str, str]:
        """Responses metadata values must be strings."""
        return {
            "argocd_redactions": str(self.redactions),
            "argocd_truncated": str(self.truncated).lower(),
            "argocd_tool_rounds": str(self.tool_rounds),
            "argocd_tools_called": ",".join(self.tools_called),
            "argocd_attachments_sent": str(self.attachments_sent),
            "argocd_attachments_deduplicated": str(self.attachments_deduplicated),
            "argocd_history_tokens": str(self.history_tokens),
            "argocd_history_over_budget": str(self.history_over_budget).lower(),
            "argocd_history_items_omitted": str(self.history_items_omitted),
            "argocd_evidence_read": str(self.evidence_read),
            "argocd_evidence_sent": str(self.evidence_sent).lower(),
        }


@dataclass(frozen=True)
class Finished:
    """The turn's answer is complete (or it waits for approvals): the response a later turn continues from.

    The tokens the turn used are in `report`. `raw` is the last round's response object as stored, for the
    Responses dialect alone, which answers with it (its output items and fields unchanged).
    """

    response_id: str
    status: str  # "completed" or "incomplete" (cut short: the output-token limit, a loop stopped)
    report: TurnReport
    incomplete_reason: str | None = None  # why an incomplete answer stopped ("length", "repetition", ...)
    tool_results: tuple[ToolResult, ...] = ()
    approvals: tuple[ApprovalRequested, ...] = ()  # the turn stopped to ask for these
    held_calls: frozenset[str] = frozenset()  # call ids of the model's calls that wait with them
    preface_id: str | None = None  # the item id of the Preface the stored response starts with
    raw: Any = None


@dataclass(frozen=True)
class Failed:
    """The turn could not be answered: `status` is 504 when a bound on the model passed, else 502."""

    message: str
    report: TurnReport | None = None
    status: int = 502


AgentEvent = TextDelta | Preface | Passthrough | ToolCall | ToolResult | ApprovalRequested | Finished | Failed
