"""Configuration of `inline::argocd`: the context domain's settings, as run.yaml spells them."""

from __future__ import annotations

from typing import Any

from llama_stack_argocd.context.settings import ContextSettings


class ArgoCDToolRuntimeConfig(ContextSettings):
    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {
            "source": "${env.ARGOCD_CONTEXT_SOURCE:=kubernetes}",
            "kubeconfig": "${env.KUBECONFIG:=}",
            "argocd": {
                "server_url": "${env.ARGOCD_SERVER_URL:=}",
                "api_token": "${env.ARGOCD_API_TOKEN:=}",
                "api_token_file": "${env.ARGOCD_API_TOKEN_FILE:=}",
                "ca_file": "${env.ARGOCD_CA_FILE:=}",
                "insecure": "${env.ARGOCD_INSECURE:=false}",
            },
            "request_timeout_seconds": 10,
            "max_log_lines": 500,
        }
