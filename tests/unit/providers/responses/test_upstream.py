"""A broken model stream says why, in the form llama-stack's builtin reports as it is; no URL, no secret."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from llama_stack_argocd.providers.responses.upstream import ModelStreamBroken, ReportingInference, reason


class _Inference:
    def __init__(self, stream) -> None:
        self.stream = stream
        self.other = "delegated"

    async def openai_chat_completion(self, params):
        return self.stream


async def _chunks(error: Exception):
    yield "chunk"
    raise error


def _broken(error: Exception) -> list:
    async def read() -> list:
        seen = []
        async for chunk in await ReportingInference(_Inference(_chunks(error))).openai_chat_completion(None):
            seen.append(chunk)
        return seen
    return asyncio.run(read())


def test_a_cut_stream_reports_its_innermost_cause_as_a_provider_status_error():
    try:
        try:
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")
        except httpx.RemoteProtocolError as cause:
            raise RuntimeError("Connection error.") from cause
    except RuntimeError as error:
        outer = error
    with pytest.raises(ModelStreamBroken) as raised:
        _broken(outer)
    broken = raised.value
    assert broken.status_code == 502  # llama-stack's builtin reports errors with status_code and body as they are
    message = broken.body["error"]["message"]
    assert message == ("the model's stream broke off: peer closed connection without sending complete message body"
                       " (RemoteProtocolError)")


def test_the_reason_carries_no_url_and_no_secret():
    token = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
    error = ConnectionError(f"cannot reach https://admin:hunter2@models.internal:8443/v1 with api_key={token}")
    text = reason(error)
    assert "hunter2" not in text and "models.internal" not in text and token not in text
    assert text.endswith("(ConnectionError)")
    assert len(reason(ValueError("x" * 5000))) < 400


def test_a_provider_status_error_and_everything_else_pass_unchanged():
    class StatusError(Exception):
        status_code, body = 503, {"error": {"message": "overloaded"}}

    with pytest.raises(StatusError):
        _broken(StatusError())
    inference = ReportingInference(_Inference(None))
    assert inference.other == "delegated"
