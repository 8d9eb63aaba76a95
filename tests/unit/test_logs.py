"""Log hygiene's hook point in the host (llama-stack 0.7 or OGX 1.5) and the line bound."""

from __future__ import annotations

import inspect
import logging

import httpx
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel

from llama_stack.core.server import server

from llama_stack_argocd.logs import MAX_LINE_CHARS, BoundedLines, QuietHandlers, install_log_hygiene


class _Body(BaseModel):
    n: int


def _app_as_the_host_builds_it() -> FastAPI:
    app = FastAPI()

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret-in-the-exception")

    @app.post("/typed")
    async def typed(body: _Body) -> int:
        return body.n

    app.add_middleware(QuietHandlers)  # at the edge, inside the middleware the app builds
    for error in (RequestValidationError, Exception):
        app.exception_handler(error)(server.global_exception_handler)
    return app


async def test_the_hosts_handler_is_replaced_where_the_built_app_holds_it(capfd):
    """The host's handler prints every traceback (with the input of a bad request): it never runs."""
    install_log_hygiene()
    transport = httpx.ASGITransport(app=_app_as_the_host_builds_it(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        failed = await client.get("/boom")
        invalid = await client.post("/typed", json={"n": "password-in-the-body"})
    assert failed.status_code == 500 and "error" in failed.json()
    assert invalid.status_code in (400, 422)
    captured = capfd.readouterr()
    assert "Traceback" not in captured.err and "password-in-the-body" not in captured.err + captured.out


def test_long_records_are_cut_and_say_so():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%s", ("y" * 50_000,), None)
    assert BoundedLines().filter(record)
    assert len(record.getMessage()) < MAX_LINE_CHARS + 60 and "characters cut" in record.getMessage()
    short = logging.LogRecord("x", logging.INFO, __file__, 1, "ok %s", ("z",), None)
    assert BoundedLines().filter(short) and short.getMessage() == "ok z"


def test_the_per_round_service_tier_warning_is_dropped_and_other_warnings_stay():
    """llama-stack's builtin Responses logs it on every model round of a provider without service tiers."""
    from llama_stack.providers.inline.responses.builtin.responses import streaming

    assert 'logger.warning("Service tier is None, setting to default")' in inspect.getsource(streaming)
    name = streaming.__name__
    noise = logging.LogRecord(name, logging.WARNING, __file__, 1, {"event": "Service tier is None, setting to default",
                                                                    "category": "openai_responses"}, (), None)
    assert not BoundedLines().filter(noise)
    other = logging.LogRecord(name, logging.WARNING, __file__, 1, {"event": "Model refresh failed"}, (), None)
    assert BoundedLines().filter(other)
    elsewhere = logging.LogRecord("x", logging.WARNING, __file__, 1, "Service tier is None, setting to default", (), None)
    assert BoundedLines().filter(elsewhere)
