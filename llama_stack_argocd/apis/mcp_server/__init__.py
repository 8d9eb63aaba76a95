"""The `argocd::context` tools for MCP clients (other agents, IDEs): streamable HTTP at `POST /v1/argocd/mcp`.

A route like every other: behind llama-stack's authentication (under proxy trust a request without the proxy secret
gets 401 before it reaches here), and scoped to the caller's Application (`apis/identity.py`). The route hands the
raw ASGI request to the `mcp` SDK's transport (`server.py`), which speaks the protocol; nothing of MCP is written here.
"""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from llama_stack_api import Api, ProviderSpec
from starlette.types import Message, Receive, Scope, Send

from llama_stack_argocd.apis.identity import body_within_limit, caller_for
from llama_stack_argocd.apis.mcp_server.server import ContextToolServer
from llama_stack_argocd.apis.mcp_server.wellformed import error_body, problem
from llama_stack_argocd.apis.spec import inline_provider
from llama_stack_argocd.caller import Caller, acting_as
from llama_stack_argocd.providers.toolgroups import CONTEXT_TOOLGROUP

API_NAME = "mcp_server"
MCP_PATH = "/v1/argocd/mcp"


class McpServer(Protocol):
    """Marker protocol: routes are defined in `create_router`."""


def available_providers() -> list[ProviderSpec]:
    return inline_provider(
        API_NAME, "inline::argocd-mcp-server", __name__, "McpServerConfig",
        "The argocd::context tools over MCP (streamable HTTP), scoped to the caller's Application.",
        needs=[Api.tool_runtime, Api.tool_groups],
    )


class McpServerImpl:
    def __init__(self, tools: ContextToolServer) -> None:
        self.tools = tools

    async def shutdown(self) -> None:
        return None


async def get_provider_impl(config: Any, deps: dict[Any, Any]) -> McpServerImpl:
    from llama_stack_argocd.agent.toolbox import Toolbox

    toolbox = Toolbox(deps[Api.tool_groups], deps[Api.tool_runtime], [CONTEXT_TOOLGROUP])
    return McpServerImpl(ContextToolServer(toolbox, config.max_result_tokens, config.tool_timeout_seconds))


class _ToMcpTransport(Response):
    """The route's answer: the request itself, handed to the MCP transport as the caller it was authenticated as."""

    def __init__(self, tools: ContextToolServer, caller: Caller, body: bytes) -> None:
        super().__init__()
        self._tools = tools
        self._caller = caller
        self._body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        replayed = False

        async def body_then_rest() -> Message:  # the route read the body already: hand it to the transport again
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": self._body, "more_body": False}
            return await receive()

        with acting_as(self._caller):
            await self._tools.handle(scope, body_then_rest, send)


def create_router(impl: McpServerImpl) -> APIRouter:
    router = APIRouter(tags=["MCP"], dependencies=[Depends(body_within_limit)])

    # An APIRoute, not a starlette Mount: an ordinary route of this router, included and authenticated like the
    # others. POST carries the messages; DELETE gets the transport's stateless answer (405). GET is not routed (405,
    # as the protocol allows): a stateless server has no stream to offer, and an open one would only hold a socket.
    @router.api_route(MCP_PATH, methods=["POST", "DELETE"], response_model=None, include_in_schema=False)
    async def mcp(request: Request) -> Response:
        body = await request.body()
        if request.method == "POST" and (found := problem(body)):
            return JSONResponse(status_code=400, content=error_body(*found))
        return _ToMcpTransport(impl.tools, caller_for(request), body)

    return router


__all__ = ["available_providers", "create_router", "get_provider_impl"]
