"""How a context error reaches llama-stack from any of our tool runtimes: a result the model can read, not a raise."""

from __future__ import annotations

import json

from llama_stack_api import ToolInvocationResult

from llama_stack_argocd.context.errors import ContextError


def failure(error: ContextError) -> ToolInvocationResult:
    return ToolInvocationResult(content=json.dumps(error.to_dict()), error_message=error.message, error_code=1)
