"""An MCP server (the `mcp` SDK's low-level `Server`) over the `argocd::context` tools.

It lists the tools as llama-stack's tool groups list them (`GET /v1/tools`) and runs them through llama-stack's tool
runtime with the agent's `Toolbox`, so scope, redaction, error shape and time limit are the ones the agent gets.
Results are cut to a token cap with the budget's explicit marker. The caller (and with it the Application in scope)
is a context variable set by the route from the trusted request, never a tool argument.

Each HTTP request gets its own stateless streamable-HTTP transport and task group, started inside the server's
event loop (llama-stack builds providers in a temporary loop, where nothing long-lived may start); nothing is kept
between requests, so any replica can answer any request.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from mcp import types
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from starlette.types import Receive, Scope, Send

from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.caller import current_caller
from llama_stack_argocd.context.budget import cut_text
from llama_stack_argocd.context.errors import ContextError
from llama_stack_argocd.context.tools import tool_spec

SERVER_NAME = "llama-stack-argocd"
INSTRUCTIONS = (
    "Read-only Argo CD and Kubernetes context for one Argo CD Application: the one your request is scoped to "
    "(Argo CD's proxy sets it; a local client sends the Argocd-Application-Name header, 'namespace:name'). "
    "Start with argocd_application; resources outside that Application are refused; secret values are redacted."
)
# Every tool of the catalog only reads, and only inside the caller's Application.
READ_ONLY = types.ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


def _package_version() -> str | None:
    try:
        return version("llama_stack_argocd")
    except PackageNotFoundError:
        return None


class ContextToolServer:
    def __init__(self, toolbox: Toolbox, max_result_tokens: int, tool_timeout_seconds: float) -> None:
        self._toolbox = toolbox
        self._max_result_tokens = max_result_tokens
        self._timeout = tool_timeout_seconds
        self.server: Any = _mcp_server(self)

    async def tools(self) -> list[types.Tool]:
        definitions, _ = await self._toolbox.definitions()
        return [
            types.Tool(
                name=tool["name"],
                description=tool["description"],
                inputSchema=tool["parameters"],
                annotations=READ_ONLY,
            )
            for tool in definitions
        ]

    async def call(self, name: str, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Run one catalog tool as the current caller; every failure is a result with isError, never a raise."""
        try:
            tool_spec(name)  # only this catalog: the tool runtime would also route other groups' tools
        except ContextError as error:
            return _result(json.dumps(error.to_dict()), is_error=True, truncated=False)
        output, is_error = await self._toolbox.call_as(current_caller(), name, arguments or {}, self._timeout)
        cut = cut_text(output, self._max_result_tokens, "head")
        return _result(cut.text, is_error=is_error, truncated=cut.truncated)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request with a fresh stateless transport (JSON responses); protocol errors are its own."""
        manager = StreamableHTTPSessionManager(self.server, json_response=True, stateless=True)
        async with manager.run():
            await manager.handle_request(scope, receive, send)


def _mcp_server(tools: ContextToolServer) -> Any:
    """The SDK's low-level server with our two handlers: mcp 1.x (llama-stack 0.7) registers them by decorator,
    mcp 2.x (OGX) takes them as arguments. The arguments are validated by the tools' own models, whose messages say
    how to correct a call (mcp 1.x would validate them first, hence `validate_input=False`)."""
    if hasattr(Server, "list_tools"):  # mcp 1.x
        server: Any = Server(SERVER_NAME, version=_package_version(), instructions=INSTRUCTIONS)
        server.list_tools()(tools.tools)
        server.call_tool(validate_input=False)(tools.call)
        return server

    async def on_list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=await tools.tools())

    async def on_call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return await tools.call(params.name, params.arguments)

    return Server(SERVER_NAME, version=_package_version() or "", instructions=INSTRUCTIONS,  # type: ignore[call-arg]
                  on_list_tools=on_list_tools, on_call_tool=on_call_tool)


def _result(text: str, is_error: bool, truncated: bool) -> types.CallToolResult:
    meta = {"argocd_truncated": True} if truncated else None
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], isError=is_error, _meta=meta)
