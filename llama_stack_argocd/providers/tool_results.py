"""What our tool runtimes share: how a context error reaches llama-stack (a result the model can read, not a raise),
and the tool groups they serve, which are fixed by the distribution."""

from __future__ import annotations

import json

from llama_stack_api import ToolGroup, ToolGroupsProtocolPrivate, ToolInvocationResult, ToolRuntime

from llama_stack_argocd.context.errors import ContextError


def failure(error: ContextError) -> ToolInvocationResult:
    return ToolInvocationResult(content=json.dumps(error.to_dict()), error_message=error.message, error_code=1)


class FixedToolGroupRuntime(ToolGroupsProtocolPrivate, ToolRuntime):
    """A tool runtime whose one tool group the distribution declares: registering it needs nothing from us."""

    async def register_toolgroup(self, toolgroup: ToolGroup) -> None:
        return None

    async def unregister_toolgroup(self, toolgroup_id: str) -> None:
        return None
