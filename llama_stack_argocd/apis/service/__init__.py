"""`inline::argocd-service`: proxy trust for requests forwarded by argocd-server, decided at the edge.

The provider loads the proxy secret (and the Kubernetes token reviewer when enabled) and hands the edge
(`apis/edge.py`) what to enforce on every request: one identity per request, authentication in-process (no HTTP
call to the server itself), and the routes open to an authenticated user. llama-stack's `custom` auth provider
points at `apis.edge.IN_PROCESS_ENDPOINT`; the edge's provider returns the principal already decided. It serves
no route of its own.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter
from llama_stack_api import ProviderSpec

from llama_stack_argocd.apis import edge
from llama_stack_argocd.apis.spec import inline_provider
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.security.authn import Authenticator
from llama_stack_argocd.security.kube_review import KubernetesTokenReviewer
from llama_stack_argocd.security.proxy_secret import ProxySecret
from llama_stack_argocd.security.routes import ASSISTANT_ROUTES, RouteAllowlist

API_NAME = "argocd"


class ArgoCDService(Protocol):
    """Marker protocol: the service has no routes; it configures the edge."""


def available_providers() -> list[ProviderSpec]:
    return inline_provider(
        API_NAME, "inline::argocd-service", __name__, "ServiceConfig",
        "Proxy trust and identity for requests forwarded by argocd-server.",
    )


class ServiceImpl:
    def __init__(self, authenticator: Authenticator) -> None:
        self.authenticator = authenticator

    async def shutdown(self) -> None:
        return None


async def get_provider_impl(config: Any, deps: dict[Any, Any]) -> ServiceImpl:
    secret = ProxySecret.load(config.proxy_secret_env, config.proxy_secret_file_env)
    if secret is None and config.require_proxy_secret:
        raise RuntimeError(
            f"No proxy secret: set {config.proxy_secret_env} or mount a file and set {config.proxy_secret_file_env} "
            "(the same value Argo CD sends as 'Authorization: Bearer ...' from argocd-secret)."
        )
    edge.install_edge()
    if not edge.installed():
        raise RuntimeError("The assistant's edge could not be installed on this host server; refusing to start.")
    reviewer = None
    if config.kubernetes_tokens:
        settings = ContextSettings(kubeconfig=config.kubeconfig)
        reviewer = KubernetesTokenReviewer(settings, config.access_path)
    authenticator = Authenticator(secret, reviewer)
    edge.configure(edge.Gate(
        max_groups=config.max_groups,
        authenticator=authenticator,
        routes=RouteAllowlist.of(ASSISTANT_ROUTES, config.extra_routes or "") if config.restrict_routes else None,
    ))
    return ServiceImpl(authenticator)


def create_router(impl: ServiceImpl) -> APIRouter:
    return APIRouter(tags=["Service"])
