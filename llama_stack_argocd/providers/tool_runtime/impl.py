"""Lists the context tools to llama-stack and runs them inside the caller's Application.

The Application comes from the request's `Caller` (trusted headers, set by the routes and the agent), never from
the model's arguments. Every failure becomes a tool result the model can read; nothing here raises to the server.
"""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from llama_stack_api import (
    URL,
    ListToolDefsResponse,
    ToolDef,
    ToolInvocationResult,
)

from llama_stack_argocd.caller import current_caller
from llama_stack_argocd.context.argocd_api import ArgoCDSource
from llama_stack_argocd.context.errors import ContextError, NoApplication
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.tools import TOOLS, input_schema, run_tool
from llama_stack_argocd.providers.tool_results import FixedToolGroupRuntime, failure
from llama_stack_argocd.providers.tool_runtime.config import ArgoCDToolRuntimeConfig
from llama_stack_argocd.providers.toolgroups import CONTEXT_TOOLGROUP



_RUNNING: list[ArgoCDToolRuntimeImpl] = []  # this process's argocd tool runtime (one per distribution)


def running_context_service() -> ContextService | None:
    """The context service behind the running `argocd::context` tools, for the agent's own reads before the first
    round: the same source, scope checks and read cache as the tools (None when the distribution has no such
    tool runtime)."""
    return _RUNNING[-1].service if _RUNNING else None


class ArgoCDToolRuntimeImpl(FixedToolGroupRuntime):
    def __init__(self, config: ArgoCDToolRuntimeConfig) -> None:
        self.config = config
        _RUNNING[:] = [self]

    @cached_property
    def service(self) -> ContextService:
        """Built on first use, so a server without cluster access still starts (and says so when asked).

        The source is the configuration's choice: the Kubernetes API with the service account, or argocd-server's
        REST API with a read-only Argo CD account (Applications on clusters the back-end cannot reach)."""
        source = ArgoCDSource(self.config) if self.config.source == "argocd" else KubernetesSource(self.config)
        return ContextService(source, self.config)

    async def list_runtime_tools(
        self, tool_group_id: str | None = None, mcp_endpoint: URL | None = None, authorization: str | None = None
    ) -> ListToolDefsResponse:
        return ListToolDefsResponse(
            data=[
                ToolDef(
                    toolgroup_id=CONTEXT_TOOLGROUP,
                    name=spec.name,
                    description=spec.description,
                    input_schema=input_schema(spec),
                )
                for spec in TOOLS
            ]
        )

    async def invoke_tool(
        self, tool_name: str, kwargs: dict[str, Any], authorization: str | None = None
    ) -> ToolInvocationResult:
        caller = current_caller()
        try:
            if caller is None or caller.application is None:
                raise NoApplication()
            result = await run_tool(self.service, caller.application, tool_name, kwargs)
        except ContextError as error:
            return failure(error)
        except Exception as error:  # noqa: BLE001 - e.g. no kubeconfig: tell the model, keep serving
            problem = {"error": "internal", "message": f"{tool_name} could not run: {error}"}
            return ToolInvocationResult(content=json.dumps(problem), error_message=problem["message"], error_code=1)
        return ToolInvocationResult(content=json.dumps(result, default=str))

    async def health(self) -> dict[str, Any]:
        try:
            await self.service.ping()
        except Exception as error:  # noqa: BLE001
            return {"status": "Error", "message": str(error)}
        return {"status": "OK"}
