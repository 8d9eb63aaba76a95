"""The edge: one ASGI layer in front of every route, before llama-stack's own middleware and routing.

Why here: llama-stack 0.7 builds its middleware in `server.create_app` and offers no hook for another one; the
last it adds (so the outermost) is `RequestMetricsMiddleware`, looked up by name in `llama_stack.core.server.server`.
`install_edge()` wraps that name once per process, so whatever `add_layer` registered runs first, on every route
(both dialect prefixes, the MCP endpoint, llama-stack's own). Other layers (request ids, metrics) chain on with
`add_layer`. `tests/unit/test_edge.py` fails if the hook point moves; start-up is refused when a configuration
needs the edge and it did not apply.

Under proxy trust the gate also authenticates, in-process: llama-stack's `custom` auth provider would make an HTTP
call to the server itself for every request. Its provider factory (`auth.create_auth_provider`, also looked up by
name) is wrapped so that the endpoint `IN_PROCESS_ENDPOINT` gets a provider that returns the principal the gate
already decided. An unwrapped factory would try to POST to that non-HTTP address and refuse every request.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from llama_stack.core.datatypes import AuthenticationConfig, CustomAuthConfig, User
from llama_stack.core.server import auth as llama_auth
from llama_stack.core.server import server as llama_server
from llama_stack.core.server.auth_providers import AuthProvider

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
    in_process_auth: bool = False  # llama-stack's auth must be ours (checked when the middleware is built)


@dataclass
class _State:
    gate: Gate = field(default_factory=Gate)
    layers: list[Layer] = field(default_factory=list)
    auth_providers_made: int = 0


_state = _State()


def configure(gate: Gate) -> None:
    _state.gate = gate


def add_layer(layer: Layer) -> None:
    """Add an ASGI layer at the edge (outermost of all: the first added runs first)."""
    if layer not in _state.layers:
        _state.layers.append(layer)


def installed() -> bool:
    return bool(getattr(llama_server.RequestMetricsMiddleware, _MARK, False)) and bool(
        getattr(llama_auth.create_auth_provider, _MARK, False)
    )


def install_edge() -> None:
    """Wrap llama-stack's outermost middleware and its auth provider factory, once per process."""
    original_outer = llama_server.RequestMetricsMiddleware
    if not getattr(original_outer, _MARK, False):

        def outermost(app: ASGIApp, *args: Any, **kwargs: Any) -> ASGIApp:
            gate = _state.gate
            if gate.in_process_auth and _state.auth_providers_made == 0:
                raise RuntimeError(
                    "proxy trust needs in-process authentication, but llama-stack did not build its auth provider "
                    "through llama_stack_argocd (the llama-stack version moved the hook); refusing to start."
                )
            inner: ASGIApp = _GateLayer(original_outer(app, *args, **kwargs), gate)
            for layer in reversed(_state.layers):
                inner = layer(inner)
            return inner

        setattr(outermost, _MARK, True)
        llama_server.RequestMetricsMiddleware = outermost  # type: ignore[assignment,misc]

    original_factory = llama_auth.create_auth_provider
    if not getattr(original_factory, _MARK, False):

        def create_auth_provider(config: AuthenticationConfig) -> AuthProvider:
            provider = config.provider_config
            if isinstance(provider, CustomAuthConfig) and provider.endpoint == IN_PROCESS_ENDPOINT:
                _state.auth_providers_made += 1
                return InProcessAuthProvider()
            return original_factory(config)

        setattr(create_auth_provider, _MARK, True)
        llama_auth.create_auth_provider = create_auth_provider  # type: ignore[assignment]


class InProcessAuthProvider(AuthProvider):
    """llama-stack's auth provider for proxy trust: the gate has already authenticated the request."""

    async def validate_token(self, token: str, scope: dict[str, Any] | None = None) -> User:
        principal = (scope or {}).get(_SCOPE_KEY)
        if not isinstance(principal, Principal):
            raise ValueError("This request was not authenticated by the assistant's edge.")
        return User(principal=principal.principal, attributes=principal.attributes)

    async def close(self) -> None:
        return None

    def get_auth_error_message(self, scope: dict[str, Any] | None = None) -> str:
        return "Authentication required: send the request through Argo CD's proxy extension."


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


class _GateLayer:
    """Refuses, in the caller's dialect, what must not reach llama-stack: 400, 401 or 403."""

    def __init__(self, app: ASGIApp, gate: Gate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope.get("type") != "http":
            return await self.app(scope, receive, send)
        path, method = scope.get("path") or "/", scope.get("method") or "GET"
        try:
            check_identity_headers(scope.get("headers") or (), self.gate.max_groups)
        except BadIdentity as error:
            return await _refuse(send, path, 400, "Invalid Argo CD identity headers", str(error))
        gate = self.gate
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
