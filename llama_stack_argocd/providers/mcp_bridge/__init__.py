"""`inline::mcp-for-argocd`: mcp-for-argocd's tools behind the bridge's policy (tool group `mcp::argocd`)."""

from typing import Any

from .config import ArgoCDMCPConfig


async def get_provider_impl(config: ArgoCDMCPConfig, deps: dict[Any, Any]):
    from .impl import ArgoCDMCPToolRuntimeImpl

    return ArgoCDMCPToolRuntimeImpl(config)
