"""The edge: one ASGI layer in front of every route, before the host's own middleware and routing.

Why here: neither llama-stack 0.7 nor OGX 1.5 offers a hook for another middleware. Both add
`RequestMetricsMiddleware` (`<host>.core.server.metrics`) as the outermost of their own (only OGX's zstd
decompression is outside it), so `install_edge()` wraps that class's `__call__` once per process: whatever
`add_layer` registered, then the gate, run first on every route (both dialect prefixes, the MCP endpoint, the
host's own). Patching the class, not the name the server looks up, applies to the instance whether it was built
before our providers loaded (OGX builds the middleware before it starts the stack, in the app's lifespan) or after
(llama-stack 0.7 starts the stack first). The chain is built on the first request, when the configuration is known.

Under proxy trust the gate also authenticates, in-process: the host's `custom` auth provider would make an HTTP
call to the server itself for every request. Its `validate_token` is wrapped (again on the class, so the instance
the host already built is covered) so that a provider configured with the endpoint `IN_PROCESS_ENDPOINT` returns
the principal the gate already decided; unwrapped, it would POST to that non-HTTP address and refuse every request.
OGX's own `upstream_header` auth would trust identity headers with no shared-secret check, so it is not used.
`tests/unit/apis/test_edge.py` fails if the hook points move; start-up is refused when the edge did not apply.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llama_stack.core.datatypes import User
from llama_stack.core.server.auth_providers import CustomAuthProvider
from llama_stack.core.server.metrics import RequestMetricsMiddleware

from llama_stack_argocd.security.authn import Authenticator, Principal, Unauthenticated
from llama_stack_argocd.security.headers import DEFAULT_MAX_GROUPS, BadIdentity, check_identity_headers
from llama_stack_argocd.security.routes import RouteAllowlist

ASGIApp = Callable[[dict[str, Any], Callable[..., Awaitable[Any]], Callable[..., Awaitable[Any]]], Awaitable[Any]]
Layer = Callable[[ASGIApp], ASGIApp]

IN_PROCESS_ENDPOINT = "inprocess://argocd-service/authenticate"
PUBLIC_PATHS = frozenset({"/v1/health", "/v1/version", "/liveness", "/readiness"})
_SCOPE_KEY = "argocd_principal"
_MARK = "_argocd_edge"
_LIGHTSPEED = ("/v1/query", "/v1/streaming_query", "/v1/feedback", "/authorized")
MCP_PATH = "/v1/argocd/mcp"


@dataclass
class Gate:
    """What the edge enforces; the `inline::argocd-service` provider sets the proxy-trust parts."""

    max_groups: int = DEFAULT_MAX_GROUPS
    authenticator: Authenticator | None = None  # proxy trust: every non-public route authenticates here
    routes: RouteAllowlist | None = None  # proxy trust: the routes open to an authenticated user


@dataclass
class _State:
    gate: Gate = field(default_factory=Gate)
    layers: list[Layer] = field(default_factory=list)


_state = _State()


def configure(gate: Gate) -> None:
    _state.gate = gate


def add_layer(layer: Layer) -> None:
    """Add an ASGI layer at the edge (outermost of all: the first added runs first)."""
    if layer not in _state.layers:
        _state.layers.append(layer)


def installed() -> bool:
    return bool(getattr(RequestMetricsMiddleware.__call__, _MARK, False)) and bool(
        getattr(CustomAuthProvider.validate_token, _MARK, False)
    )


def install_edge() -> None:
    """Wrap the host's outermost middleware and its custom auth provider, once per process."""
    original_call = RequestMetricsMiddleware.__call__
    if not getattr(original_call, _MARK, False):

        async def outermost(self: Any, scope: dict[str, Any], receive: Any, send: Any) -> Any:
            chain = self.__dict__.get(_MARK)
            if chain is None:

                async def host(scope: dict[str, Any], receive: Any, send: Any) -> Any:
                    return await original_call(self, scope, receive, send)

                chain = _GateLayer(host)
                for layer in reversed(_state.layers):
                    chain = layer(chain)
                self.__dict__[_MARK] = chain
            return await chain(scope, receive, send)

        setattr(outermost, _MARK, True)
        RequestMetricsMiddleware.__call__ = outermost  # type: ignore[method-assign]

    original_validate = CustomAuthProvider.validate_token
    if not getattr(original_validate, _MARK, False):

        async def validate_token(self: Any, token: str, scope: dict[str, Any] | None = None) -> User:
            if getattr(self.config, "endpoint", None) == IN_PROCESS_ENDPOINT:
                return _principal_of(scope)
            return await original_validate(self, token, scope)

        setattr(validate_token, _MARK, True)
        CustomAuthProvider.validate_token = validate_token  # type: ignore[method-assign]


def _principal_of(scope: dict[str, Any] | None) -> User:
    """The host's user for a request the gate authenticated (proxy trust); any other request is refused."""
    principal = (scope or {}).get(_SCOPE_KEY)
    if not isinstance(principal, Principal):
        raise ValueError("This request was not authenticated by the assistant's edge.")
    return User(principal=principal.principal, attributes=principal.attributes)


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class _GateLayer:
    """Refuses, in the caller's dialect, what must not reach llama-stack: 400, 401 or 403."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") == "websocket":  # nothing of ours is served over WebSocket (OGX's Responses one is removed)
            return await send({"type": "websocket.close", "code": 1008})
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        path, method = scope.get("path") or "/", scope.get("method") or "GET"
        gate = _state.gate  # read per request: OGX configures it after the middleware was built
        try:
            check_identity_headers(scope.get("headers") or (), gate.max_groups)
        except BadIdentity as error:
            return await _refuse(send, path, 400, "Invalid Argo CD identity headers", str(error))
        if gate.authenticator is not None and path not in PUBLIC_PATHS:
            authorization = _header(scope, b"authorization")
            if not authorization.startswith("Bearer "):
                return await _refuse(send, path, 401, "Unauthorized", gate.authenticator.missing_credentials())
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or ()}
            headers.pop("authorization", None)
            try:
                principal = await gate.authenticator.authenticate(authorization[len("Bearer "):], headers)
            except Unauthenticated as error:
                return await _refuse(send, path, 401, "Unauthorized", str(error))
            scope[_SCOPE_KEY] = principal
            if gate.routes is not None and not gate.routes.allows(method, path):
                return await _refuse(send, path, 403, "Forbidden", RouteAllowlist.refusal(method, path))
        return await self.app(scope, receive, send)


async def _refuse(send: Any, path: str, status: int, title: str, message: str) -> None:
    """One error in the dialect of the route: OLS `detail`, JSON-RPC for MCP, OpenAI `error` elsewhere."""
    if path.startswith(_LIGHTSPEED) or path == "/v1/conversations" or path.startswith("/v1/conversations/"):
        # OLS clients read `detail`; llama-stack's conversation ids share these paths, so `error` is there too.
        body: dict[str, Any] = {"detail": {"response": title, "cause": message},
                                "error": {"message": message, "type": "invalid_request_error", "code": str(status)}}
    elif path == MCP_PATH:
        body = {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": f"{title}: {message}"}}
    else:
        body = {"error": {"message": message, "type": "invalid_request_error", "code": str(status)}}
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="argocd-assistant"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
