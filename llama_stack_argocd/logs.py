"""Log hygiene, installed once at start-up (provider.py): no request body, no traceback for a refused request,
no line longer than a few kB.

llama-stack's exception handler prints the whole traceback of every failed request to stderr, and a validation
error's text carries the request's input (a 5 MB body made a 10 MB line). It is replaced by one that writes one
short line naming the method, path, status and error type, never the input. Every log record is cut to
`MAX_LINE_CHARS` by a filter on the root handlers.

llama-stack's start-up warnings "Failed to import module ... llama_stack.providers.registry.<api>" for `argocd`,
`mcp_server`, `legacy_agents` and `lightspeed` are llama-stack probing its own registry for our external API names
before it loads them from `external_apis_dir`; they are written before any module of ours is imported, and mean
nothing (the APIs load right after).

One line is dropped: llama-stack's builtin Responses warns "Service tier is None, setting to default" on every model
round whose provider does not report a service tier (vLLM, Ollama, llama.cpp, the embedded model): it says nothing
an operator can act on, and rendering it through llama-stack's Rich console handler cost more CPU per round than the
agent's own work (see benchmarks/, README "Development").
"""

from __future__ import annotations

import logging
from typing import Any

from llama_stack_argocd import hosting

MAX_LINE_CHARS = 4000
_MARK = "_argocd_quiet"
# (logger name below the host's package, message) of the host's records that are noise on every request; the
# package is `llama_stack` on llama-stack 0.7 and `ogx` on OGX (`hosting.package()`).
NOISE = frozenset({
    ("providers.inline.responses.builtin.responses.streaming", "Service tier is None, setting to default"),
})
_HOST_PACKAGE = hosting.package()


def _event(record: logging.LogRecord) -> object:
    """The message of a record as llama-stack's structlog loggers hand it over (a dict with `event`) or plainly."""
    return record.msg.get("event") if isinstance(record.msg, dict) else record.msg


class BoundedLines(logging.Filter):
    """Cuts a record's text to MAX_LINE_CHARS, saying how much was left out; drops the NOISE records."""

    def filter(self, record: logging.LogRecord) -> bool:
        host, _, below = record.name.partition(".")
        if host == _HOST_PACKAGE and (below, _event(record)) in NOISE:
            return False
        if isinstance(record.msg, str) and not record.args and len(record.msg) <= MAX_LINE_CHARS:
            return True
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is dropped to its template
            text = str(record.msg)
        if len(text) > MAX_LINE_CHARS:
            text = f"{text[:MAX_LINE_CHARS]} [... {len(text) - MAX_LINE_CHARS} characters cut]"
        if isinstance(record.msg, str) or len(text) > MAX_LINE_CHARS:
            record.msg, record.args = text, ()
        if record.exc_text and len(record.exc_text) > MAX_LINE_CHARS:
            record.exc_text = record.exc_text[-MAX_LINE_CHARS:]
        return True


def _handler(server: Any) -> Any:
    """llama-stack's exception handler without the traceback and the input: one line per failed request."""
    from fastapi import HTTPException
    from fastapi.responses import JSONResponse
    from llama_stack.log import get_logger

    logger = get_logger(name="llama_stack_argocd.requests", category="core::server")

    async def handle(request: Any, exc: Exception) -> Any:
        http_exc = server.translate_exception(exc)
        if isinstance(exc, server.ResourceNotFoundError) and request.url.path.startswith("/v1/vector_stores"):
            http_exc = HTTPException(status_code=400, detail=str(exc))  # as llama-stack's own handler does
        where = exc.__traceback__
        while where is not None and where.tb_next is not None:
            where = where.tb_next
        origin = f"{where.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{where.tb_lineno}" if where else ""
        log = logger.warning if http_exc.status_code < 500 else logger.error
        log("request failed", method=request.method, path=request.url.path[:200], status=http_exc.status_code,
            error=type(exc).__name__, origin=origin)
        content = server.OpenAIErrorResponse.from_message(http_exc.detail).to_dict()
        return JSONResponse(status_code=http_exc.status_code, content=content)

    setattr(handle, _MARK, True)
    return handle


class QuietHandlers:
    """An edge layer that, on the first request, puts the quiet handler in place of the host's in the app's built
    middleware (Starlette's `ServerErrorMiddleware.handler` and `ExceptionMiddleware.add_exception_handler`): on
    OGX the handlers are registered before our providers load, so the module's name cannot be swapped in time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.done = False

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if not self.done and scope.get("type") == "http" and scope.get("app") is not None:
            quiet_app_handlers(scope["app"])
            self.done = True
        return await self.app(scope, receive, send)


def quiet_app_handlers(app: Any) -> int:
    """Replace the host's exception handler wherever the app's middleware holds it; how many places it was."""
    from starlette.middleware.errors import ServerErrorMiddleware
    from starlette.middleware.exceptions import ExceptionMiddleware

    from llama_stack.core.server import server

    original, quiet = server.global_exception_handler, _handler(server)
    registered = [key for key, handler in (getattr(app, "exception_handlers", None) or {}).items() if handler is original]
    replaced, node, depth = 0, getattr(app, "middleware_stack", None), 0
    while node is not None and depth < 64:  # a middleware chain is a few dozen deep at most
        if isinstance(node, ServerErrorMiddleware) and node.handler is original:
            node.handler, replaced = quiet, replaced + 1
        elif isinstance(node, ExceptionMiddleware):
            for key in registered:
                node.add_exception_handler(key, quiet)
                replaced += 1
        node, depth = getattr(node, "app", None), depth + 1
    return replaced


def install_log_hygiene() -> None:
    """Once per process: the quiet exception handler (at the edge, see QuietHandlers) and the line bound."""
    from llama_stack_argocd.apis.edge import add_layer, install_edge

    install_edge()
    add_layer(QuietHandlers)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, BoundedLines) for f in handler.filters):
            handler.addFilter(BoundedLines())
