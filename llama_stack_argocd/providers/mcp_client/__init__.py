"""`inline::argocd-mcp-client`: mcp-for-argocd's tools behind the bridge's policy (tool group `mcp::argocd`)."""

from typing import Any

from .config import McpClientConfig


async def get_provider_impl(config: McpClientConfig, deps: dict[Any, Any]):
    from .impl import McpClientToolRuntimeImpl

    return McpClientToolRuntimeImpl(config)
