"""The model's own reason when its stream breaks off, instead of llama-stack's "An unexpected error occurred".

llama-stack's builtin Responses turns any exception from a model stream into a generic message, logged with its
whole traceback (rendered synchronously: seconds on a loaded machine, during which the turn's gap bound runs and
a cut stream could end as a 504 stall). Exceptions that look like a provider SDK's status error (`status_code`
and `body`) are the one kind it reports as they are, with a one-line warning. So the inference API handed to the
builtin re-raises a failing stream's error in that form, with its innermost cause as the message, redacted and
without URLs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

from llama_stack_argocd.context.redaction import Redactor

MAX_REASON_CHARS = 300
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


class ModelStreamBroken(Exception):
    """A model stream that failed after it started: a 502 with the upstream's reason (no traceback)."""

    status_code = httpx.codes.BAD_GATEWAY

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.body = {"error": {"code": "server_error", "message": reason}}


def reason(exc: BaseException) -> str:
    """What broke, from the innermost cause outwards: "peer closed connection without sending complete message
    body (RemoteProtocolError)". URLs are left out (they may carry credentials), secrets redacted, length bounded."""
    causes: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in causes and len(causes) < 10:
        causes.append(current)
        current = current.__cause__ or current.__context__
    innermost = next((c for c in reversed(causes) if str(c).strip()), causes[-1])
    text = " ".join(str(innermost).split()) or "no message"
    text = Redactor().redact_text(_URL.sub("<url>", text))
    if len(text) > MAX_REASON_CHARS:
        text = text[:MAX_REASON_CHARS] + "..."
    return f"{text} ({type(innermost).__name__})"


async def _reported(stream: AsyncIterator[Any]) -> AsyncIterator[Any]:
    try:
        async for chunk in stream:
            yield chunk
    except Exception as exc:
        if hasattr(exc, "status_code") and hasattr(exc, "body"):
            raise  # already a provider status error: llama-stack reports its message
        raise ModelStreamBroken(f"the model's stream broke off: {reason(exc)}") from exc


class ReportingInference:
    """The inference API as the builtin Responses sees it: the same, but a stream that breaks says why."""

    def __init__(self, inference: Any) -> None:
        self._inference = inference

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inference, name)

    async def openai_chat_completion(self, params: Any) -> Any:
        result = await self._inference.openai_chat_completion(params)
        return _reported(result) if isinstance(result, AsyncIterator) else result

    async def openai_chat_completions_with_reasoning(self, params: Any) -> Any:
        result = await self._inference.openai_chat_completions_with_reasoning(params)
        return _reported(result) if isinstance(result, AsyncIterator) else result
