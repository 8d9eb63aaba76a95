"""The id of the HTTP request being served: set by the edge middleware, read by the audit event and the logs."""

from __future__ import annotations

import contextvars
import re
import uuid

import structlog

HEADER = "x-request-id"
_VALID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("argocd_request_id", default=None)


def current() -> str | None:
    return _current.get()


def begin(incoming: str | None) -> str:
    """Adopt a well-formed incoming id (a gateway's), else make one; bind it to every log line of the request."""
    request_id = incoming if incoming and _VALID.fullmatch(incoming) else uuid.uuid4().hex
    _current.set(request_id)
    structlog.contextvars.bind_contextvars(request_id=request_id)
    return request_id
