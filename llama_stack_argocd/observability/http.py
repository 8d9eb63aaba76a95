"""The edge of every HTTP request: its id (header and log lines) and its count by route template and status.

A plain ASGI class (no framework import): the route template comes from the route the app matched
(`scope["route"]`), or, for a request answered before routing (a 401 from authentication), from matching the
app's routes; a path that matches none is `unmatched`, so no label ever holds a caller's path.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from llama_stack_argocd.observability import metrics, request_id

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]
_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


class RequestObservation:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), None)
        rid = request_id.begin(incoming.decode("latin-1") if incoming else None)
        header = (b"x-request-id", rid.encode())
        status = 500
        started = time.perf_counter()

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*(h for h in message.get("headers", ()) if h[0].lower() != b"x-request-id"),
                                      header]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = scope.get("method", "GET")
            route = route_template(scope)
            method = method if method in _METHODS else "OTHER"
            metrics.REQUESTS.labels(route, method, str(status)).inc()
            metrics.REQUEST_DURATION.labels(route, method).observe(time.perf_counter() - started)


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    if route is not None and getattr(route, "path", None):
        return route.path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # noqa: BLE001 - a route type that cannot match this scope
            continue
        if match.value and getattr(candidate, "path", None):  # FULL or PARTIAL (wrong method): the path is known
            return candidate.path
    return "unmatched"
