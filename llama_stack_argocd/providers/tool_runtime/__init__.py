"""`inline::argocd`: the tool group `argocd::context`, a thin adapter over the context domain."""

from typing import Any

from .config import ArgoCDToolRuntimeConfig


async def get_provider_impl(config: ArgoCDToolRuntimeConfig, deps: dict[Any, Any]):
    from llama_stack_argocd.apis.provider_health import reports_health

    from .impl import ArgoCDToolRuntimeImpl

    return reports_health(ArgoCDToolRuntimeImpl(config))
