"""Configuration of `inline::argocd-service`: how requests prove where they come from."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ServiceConfig(BaseModel):
    proxy_secret_env: str = Field(
        default="ARGOCD_ASSISTANT_PROXY_SECRET", description="Environment variable holding the proxy secret."
    )
    proxy_secret_file_env: str = Field(
        default="ARGOCD_ASSISTANT_PROXY_SECRET_FILE",
        description="Environment variable naming a file (a mounted Secret) that holds the proxy secret.",
    )
    require_proxy_secret: bool = Field(
        default=True, description="Refuse to start when no proxy secret is configured (production configs)."
    )
    kubernetes_tokens: bool = Field(
        default=False, description="Also accept direct clients with a Kubernetes bearer token (TokenReview + SAR)."
    )
    access_path: str = Field(
        default="/argocd-assistant-access", description="The virtual path a SubjectAccessReview checks `get` on."
    )
    kubeconfig: str | None = Field(default=None, description="For the reviews; empty: in-cluster, else ~/.kube.")
    restrict_routes: bool = Field(
        default=True, description="Open only the assistant's routes to authenticated users (README, 'Proxy trust')."
    )
    extra_routes: str | list[str] | None = Field(
        default=None, description="More routes to open, `[METHODS ]/path` or `/path/*`, comma-separated or a list."
    )
    max_groups: int = Field(default=10_000, ge=1, description="Most groups an Argocd-User-Groups header may list.")

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {"require_proxy_secret": True}
