"""`inline::argocd-responses`: llama-stack's Responses API answered by the Argo CD agent."""

import inspect
from typing import Any

from llama_stack_api import Api

from .config import ArgoCDResponsesConfig


def builtin_dependencies(impl_class: type, deps: dict[Api, Any]) -> dict[str, Any]:
    """The builtin's `<api>_api` constructor arguments from `deps`, by its own signature: llama-stack 0.7 takes
    `safety_api`, OGX 1.5 dropped it and added `skills_api`."""
    arguments = {}
    for name in inspect.signature(impl_class.__init__).parameters:
        if not name.endswith("_api"):
            continue
        api = Api(name.removesuffix("_api"))
        arguments[name] = deps.get(api)  # the stack has checked that every required one is there
    return arguments


async def get_provider_impl(config: ArgoCDResponsesConfig, deps: dict[Api, Any], policy: list[Any]):
    from .impl import ArgoCDResponsesImpl

    impl = ArgoCDResponsesImpl(config=config, policy=policy, **builtin_dependencies(ArgoCDResponsesImpl, deps))
    await impl.initialize()
    return impl
