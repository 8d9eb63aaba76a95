"""A caller's own Argo CD token, as the extension and OLS clients send it for mcp-for-argocd.

The extension puts it in the headers of a Responses `mcp` tool (`x-argocd-api-token`); OLS clients in
`mcp_headers` (`{server: {header: value}}`). The token is taken out of the request here, so it never reaches the
model, the stored response or a log line, and travels on only as a header to the MCP server.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

TOKEN_HEADER = "x-argocd-api-token"


def token_in(headers: Mapping[str, Any] | None) -> str | None:
    for name, value in (headers or {}).items():
        if name.lower() == TOKEN_HEADER and isinstance(value, str) and value.strip():
            return value.strip()
    return None


def split_mcp_tools(tools: Iterable[Any]) -> tuple[list[Any], str | None]:
    """The caller's Responses tools without the mcp-for-argocd ones carrying a token, and that token.

    An `mcp` tool that carries an Argo CD token is served by the bridge (scoped, read-only by default), not
    handed to llama-stack, which would let the model call every tool of that server with the user's token.
    """
    kept, token = [], None
    for tool in tools:
        tool_type = tool.get("type") if isinstance(tool, dict) else getattr(tool, "type", None)
        headers = tool.get("headers") if isinstance(tool, dict) else getattr(tool, "headers", None)
        found = token_in(headers) if tool_type == "mcp" else None
        if found:
            token = token or found
        else:
            kept.append(tool)
    return kept, token


def token_in_mcp_headers(mcp_headers: Mapping[str, Mapping[str, Any]] | None) -> str | None:
    for headers in (mcp_headers or {}).values():
        if found := token_in(headers):
            return found
    return None
