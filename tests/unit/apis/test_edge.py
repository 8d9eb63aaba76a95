"""The edge hooks into the host (llama-stack 0.7 or OGX 1.5) where it builds its middleware and auth provider; this
fails if they move. It runs on either host (`make test` runs it on both)."""

import inspect
import json

import pytest
from llama_stack.core.datatypes import CustomAuthConfig
from llama_stack.core.server import server as host_server
from llama_stack.core.server.auth_providers import CustomAuthProvider
from llama_stack.core.server.metrics import RequestMetricsMiddleware

from llama_stack_argocd.apis import edge
from llama_stack_argocd.security.authn import Principal
from llama_stack_argocd.security.headers import BadIdentity, check_identity_headers
from llama_stack_argocd.security.routes import ASSISTANT_ROUTES, RouteAllowlist

# Middleware the host may add outside RequestMetricsMiddleware: it must not answer before the edge has decided.
_OUTSIDE_THE_EDGE = {"ZstdDecompressionMiddleware"}


def test_the_metrics_middleware_is_the_hosts_outermost():
    source = inspect.getsource(host_server.create_app)
    added = [line.split("app.add_middleware(")[1].split(")")[0].split(",")[0]
             for line in source.splitlines() if "app.add_middleware(" in line]
    assert "RequestMetricsMiddleware" in added
    assert set(added[added.index("RequestMetricsMiddleware") + 1:]) <= _OUTSIDE_THE_EDGE
    assert "validate_token" in inspect.getsource(CustomAuthProvider)


def _metrics_middleware(app):
    """Built the way the host builds it (the constructors differ: llama-stack 0.7 takes a route map)."""
    if "route_to_api" in inspect.signature(RequestMetricsMiddleware.__init__).parameters:
        return RequestMetricsMiddleware(app, route_to_api={})
    return RequestMetricsMiddleware(app)


async def test_the_edge_covers_a_middleware_built_before_it_was_installed():
    """OGX builds its middleware before our providers load: the gate must still run first."""
    reached = []

    async def app(scope, receive, send):
        reached.append(scope["path"])

    built_before = _metrics_middleware(app)
    edge.install_edge()
    edge.install_edge()  # idempotent
    assert edge.installed()
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/v1/responses",
             "headers": [(b"argocd-application-name", b"argocd:a"), (b"argocd-application-name", b"argocd:b")]}
    await built_before(scope, None, send)
    assert sent[0]["status"] == 400 and not reached
    assert "identity headers" in json.loads(sent[1]["body"])["error"]["message"] or json.loads(sent[1]["body"])


async def test_the_in_process_endpoint_returns_the_gates_principal_and_nothing_else():
    edge.install_edge()
    provider = CustomAuthProvider(CustomAuthConfig(endpoint=edge.IN_PROCESS_ENDPOINT))  # as the host builds it
    user = await provider.validate_token("secret", {"argocd_principal": Principal(principal="alice",
                                                                                  attributes={"roles": ["a"]})})
    assert user.principal == "alice" and user.attributes == {"roles": ["a"]}
    with pytest.raises(ValueError, match="not authenticated by the assistant's edge"):
        await provider.validate_token("secret", {})


@pytest.mark.parametrize("headers", [
    [(b"argocd-application-name", b"argocd:a"), (b"Argocd-Application-Name", b"argocd:b")],
    [(b"authorization", b"Bearer a"), (b"authorization", b"Bearer b")],
    [(b"argocd-application-name", b"argocd:a, argocd:b")],
    [(b"argocd-application-name", b"argocd:a\x00")],
    [(b"argocd-application-name", b"\xff\xfe")],
    [(b"argocd-username", b"alice,bob")],
    [(b"argocd-project-name", b"Default Project")],
    [(b"argocd-user-groups", b",".join(b"g%d" % i for i in range(20)))],
])
def test_identity_headers_refused(headers):
    with pytest.raises(BadIdentity) as refused:
        check_identity_headers(headers, max_groups=10)
    assert b"argocd:b" not in str(refused.value).encode()


def test_identity_headers_accepted():
    check_identity_headers([(b"argocd-application-name", b"argocd:cart"), (b"argocd-user-groups", b"a,b,c"),
                            (b"argocd-project-name", b"default"), (b"x-other", b"1"), (b"x-other", b"2")])


def test_route_allowlist():
    routes = RouteAllowlist.of(ASSISTANT_ROUTES, "POST /v1/embeddings, /v1/files/*")
    assert routes.allows("POST", "/v1/responses") and routes.allows("GET", "/v1/responses/resp_1/input_items")
    assert routes.allows("GET", "/v1/models/") and not routes.allows("POST", "/v1/models")
    assert not routes.allows("POST", "/v1/responsesX") and not routes.allows("POST", "/v1/chat/completions")
    assert routes.allows("POST", "/v1/embeddings") and routes.allows("DELETE", "/v1/files/f1")
    assert not RouteAllowlist.of(ASSISTANT_ROUTES).allows("GET", "/v1/files")
