"""The edge hooks into llama-stack where 0.7.x builds its middleware and auth provider; this fails if they move."""

import inspect

import pytest
from llama_stack.core.datatypes import AuthenticationConfig, CustomAuthConfig
from llama_stack.core.server import auth as llama_auth
from llama_stack.core.server import server as llama_server
from llama_stack.core.server.auth_providers import CustomAuthProvider

from llama_stack_argocd.apis import edge
from llama_stack_argocd.security.headers import BadIdentity, check_identity_headers
from llama_stack_argocd.security.routes import ASSISTANT_ROUTES, RouteAllowlist


def test_edge_wraps_the_outermost_middleware_and_the_auth_factory():
    edge.install_edge()
    edge.install_edge()  # idempotent
    assert edge.installed()
    # create_app adds RequestMetricsMiddleware last (outermost) and AuthenticationMiddleware builds its provider
    # through auth.create_auth_provider: both looked up by name at call time.
    source = inspect.getsource(llama_server.create_app)
    assert "app.add_middleware(RequestMetricsMiddleware" in source
    assert source.rindex("app.add_middleware(RequestMetricsMiddleware") == source.rindex("app.add_middleware(")
    assert "create_auth_provider(auth_config)" in inspect.getsource(llama_auth.AuthenticationMiddleware.__init__)
    ours = llama_auth.create_auth_provider(
        AuthenticationConfig(provider_config=CustomAuthConfig(endpoint=edge.IN_PROCESS_ENDPOINT)))
    assert isinstance(ours, edge.InProcessAuthProvider)
    theirs = llama_auth.create_auth_provider(
        AuthenticationConfig(provider_config=CustomAuthConfig(endpoint="http://127.0.0.1:1/auth")))
    assert isinstance(theirs, CustomAuthProvider)


def test_start_up_is_refused_when_in_process_auth_did_not_apply():
    edge.install_edge()
    saved = (edge._state.gate, edge._state.auth_providers_made)
    try:
        edge.configure(edge.Gate(in_process_auth=True))
        edge._state.auth_providers_made = 0
        with pytest.raises(RuntimeError, match="refusing to start"):
            llama_server.RequestMetricsMiddleware(lambda *a: None, route_to_api={})
    finally:
        edge._state.gate, edge._state.auth_providers_made = saved


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
