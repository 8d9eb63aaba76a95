"""The per-turn audit event: one JSON object on the `llama_stack_argocd.audit` logger, never any content."""

from __future__ import annotations

import json
from typing import Any

import structlog
from pydantic import BaseModel

# llama-stack's logging renders it (install.py registers the logger's category), with the request id bound.
audit_logger = structlog.get_logger("llama_stack_argocd.audit")


class AuditEvent(BaseModel):
    """Who asked about what, and what the turn cost; the names of tools, never their arguments or results."""

    event: str = "argocd.turn"
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
    audit_logger.info("argocd-audit " + json.dumps(event.model_dump(mode="json"), separators=(",", ":")))


def parse(line: str) -> dict[str, Any] | None:
    """The event in a log line, for tests and log shippers that read our own format."""
    start = line.find("argocd-audit {")
    return json.loads(line[start + len("argocd-audit "):].strip()) if start >= 0 else None
