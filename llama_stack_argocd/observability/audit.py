"""The per-turn audit event: one JSON object per line on stderr, never any content.

Its own logger and handler, not llama-stack's console renderer (which wraps long lines and would split the event);
a log shipper picks the lines with `"event":"argocd.turn"`.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from pydantic import BaseModel

EVENT = "argocd.turn"
audit_logger = logging.getLogger("llama_stack_argocd.audit")


class AuditEvent(BaseModel):
    """Who asked about what, and what the turn cost; the names of tools, never their arguments or results."""

    event: str = EVENT
    request_id: str | None
    user_id: str | None
    user_name: str | None
    groups_count: int
    application: str | None
    project: str | None
    dialect: str
    model: str
    tools: list[str]
    tool_rounds: int
    input_tokens: int
    output_tokens: int
    redactions: int
    scope_refusals: int
    status: str
    duration_ms: float


def write(event: AuditEvent) -> None:
    _ready()
    audit_logger.info(json.dumps(event.model_dump(mode="json"), separators=(",", ":")))


def _ready() -> None:
    """Our handler, set again if a logging (re)configuration removed or disabled it."""
    if audit_logger.disabled or not audit_logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        audit_logger.handlers = [handler]
        audit_logger.disabled = False
        audit_logger.propagate = False
        audit_logger.setLevel(logging.INFO)


def parse(line: str) -> dict[str, Any] | None:
    """The audit event a log line holds, or None."""
    if not line.startswith("{") or f'"event":"{EVENT}"' not in line:
        return None
    return json.loads(line)
