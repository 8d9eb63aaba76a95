"""`inline::argocd-responses`: llama-stack's Responses API answered by the Argo CD agent."""

from typing import Any

from llama_stack_api import Api

from .config import ArgoCDResponsesConfig


async def get_provider_impl(config: ArgoCDResponsesConfig, deps: dict[Api, Any], policy: list[Any]):
    from .impl import ArgoCDResponsesImpl

    impl = ArgoCDResponsesImpl(
        config,
        deps[Api.inference],
        deps[Api.vector_io],
        deps.get(Api.safety),
        deps[Api.tool_runtime],
        deps[Api.tool_groups],
        deps[Api.conversations],
        deps[Api.prompts],
        deps[Api.files],
        deps[Api.connectors],
        policy,
    )
    await impl.initialize()
    return impl
