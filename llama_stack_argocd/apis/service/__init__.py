"""Service routes: the authentication hook behind llama-stack's `custom` auth provider.

llama-stack's authentication middleware posts `{api_key, request: {path, headers, params}}` for every request to the
endpoint configured in `server.auth.provider_config` (see `distributions/argocd/proxy-trust.yaml`); this route
answers with the principal and attributes (`security/authn.py`), or 401. It is public itself, and reachable only on
loopback when the server binds there; its answer carries no secret.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, HTTPException, Request
from llama_stack_api import Api, InlineProviderSpec, ProviderSpec
from pydantic import BaseModel

from llama_stack_argocd.apis.overlays import PUBLIC
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.security.authn import Authenticator, Principal, Unauthenticated
from llama_stack_argocd.security.kube_review import KubernetesTokenReviewer
from llama_stack_argocd.security.proxy_secret import ProxySecret

API_NAME = "argocd"


class ArgoCDService(Protocol):
    """Marker protocol: routes are defined in `create_router`."""


class _AuthContext(BaseModel):
    path: str = ""
    headers: dict[str, str] = {}
    params: dict[str, Any] = {}


class AuthRequest(BaseModel):
    api_key: str
    request: _AuthContext = _AuthContext()


def available_providers() -> list[ProviderSpec]:
    return [
        InlineProviderSpec(
            api=Api(API_NAME),
            provider_type="inline::argocd-service",
            module="llama_stack_argocd.apis.service",
            config_class="llama_stack_argocd.apis.service.config.ServiceConfig",
            description="Proxy trust and identity for requests forwarded by argocd-server.",
        )
    ]


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
    reviewer = None
    if config.kubernetes_tokens:
        settings = ContextSettings(kubeconfig=config.kubeconfig)
        reviewer = KubernetesTokenReviewer(settings, config.access_path)
    return ServiceImpl(Authenticator(secret, reviewer))


def create_router(impl: ServiceImpl) -> APIRouter:
    router = APIRouter(tags=["Service"])

    @router.post("/v1/argocd/authenticate", response_model=Principal, openapi_extra=PUBLIC, include_in_schema=False)
    async def authenticate(body: AuthRequest, request: Request) -> Principal:
        if request.client and request.client.host not in ("127.0.0.1", "::1"):
            raise HTTPException(status_code=404, detail="Not Found")
        try:
            return await impl.authenticator.authenticate(body.api_key, body.request.headers)
        except Unauthenticated as error:
            raise HTTPException(status_code=401, detail=str(error)) from error

    return router
