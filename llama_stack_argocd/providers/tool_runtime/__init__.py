"""`inline::argocd`: the tool group `argocd::context`, a thin adapter over the context domain."""

from typing import Any

from .config import ArgoCDToolRuntimeConfig


async def get_provider_impl(config: ArgoCDToolRuntimeConfig, deps: dict[Any, Any]):
    from .impl import ArgoCDToolRuntimeImpl

    return ArgoCDToolRuntimeImpl(config)
