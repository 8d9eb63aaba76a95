"""Configuration of `inline::argocd`: the context domain's settings, as run.yaml spells them."""

from __future__ import annotations

from typing import Any

from llama_stack_argocd.context.settings import ContextSettings


class ArgoCDToolRuntimeConfig(ContextSettings):
    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {"kubeconfig": "${env.KUBECONFIG:=}", "request_timeout_seconds": 10, "max_log_lines": 500}
