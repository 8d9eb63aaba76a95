"""Context the clients attach to a question: recognised, classified and fingerprinted.

Every front door hands attachments over differently (Responses: `[Attachment:mime]` blocks in the input string;
Agents: `documents`; Lightspeed: `attachments` with a type). They all become `Attachment`s here, so the agent
treats them one way: redacted, fitted to the budget, and sent once per conversation.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

_BLOCK = re.compile(r"\n\n\[Attachment:([^\]\n]*)\]\n")


class AttachmentKind(StrEnum):
    MANIFEST = "manifest"
    EVENTS = "events"
    LOGS = "logs"
    OTHER = "other"


class Attachment(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: AttachmentKind
    content: str
    mime_type: str = "application/json"

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(f"{self.kind}\0{self.content}".encode()).hexdigest()[:32]

    def parsed(self) -> Any:
        """The content as JSON when it is JSON, else None."""
        try:
            return json.loads(self.content)
        except ValueError:
            return None

    @property
    def label(self) -> str:
        if self.kind is AttachmentKind.MANIFEST and isinstance(obj := self.parsed(), dict):
            meta = obj.get("metadata") or {}
            where = f"{meta['namespace']}/" if meta.get("namespace") else ""
            return f"{obj.get('kind', 'object')} {where}{meta.get('name', '?')}"
        return self.kind.value


def classify(content: str, hint: str | None = None) -> AttachmentKind:
    """Tell a manifest from an event list or a log dump by its shape; `hint` is a client's own type label."""
    by_hint = {
        "api object": AttachmentKind.MANIFEST,
        "configuration": AttachmentKind.MANIFEST,
        "event": AttachmentKind.EVENTS,
        "log": AttachmentKind.LOGS,
        "stack trace": AttachmentKind.LOGS,
    }
    if hint and hint.lower() in by_hint:
        return by_hint[hint.lower()]
    try:
        data = json.loads(content)
    except ValueError:
        return AttachmentKind.OTHER
    if isinstance(data, dict):
        items = data.get("items")
        if isinstance(items, list) and (not items or _looks_like_event(items[0])):
            return AttachmentKind.EVENTS
        if "kind" in data and "metadata" in data:
            return AttachmentKind.MANIFEST
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0].get("result", data[0])
        if isinstance(first, dict) and "content" in first:
            return AttachmentKind.LOGS
    return AttachmentKind.OTHER


def _looks_like_event(item: Any) -> bool:
    return isinstance(item, dict) and ("involvedObject" in item or "reason" in item or "regarding" in item)


def split_inline(text: str) -> tuple[str, list[Attachment]]:
    """Split the extension's `prompt\\n\\n[Attachment:mime]\\ncontent...` string into the question and attachments."""
    parts = _BLOCK.split(text)
    question, rest = parts[0], parts[1:]
    attachments = [
        Attachment(kind=classify(content), content=content, mime_type=mime.strip() or "text/plain")
        for mime, content in zip(rest[0::2], rest[1::2], strict=True)
    ]
    return question.strip(), attachments
