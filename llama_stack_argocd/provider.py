"""Every provider this package adds to llama-stack; run.yaml loads them with `module: llama_stack_argocd`."""

from llama_stack_api import Api, InlineProviderSpec, ProviderSpec

from llama_stack_argocd.providers.toolgroups import CONTEXT_TOOLGROUP


def _builtin_responses() -> ProviderSpec:
    """llama-stack's own Responses provider as its registry declares it: ours runs it behind the agent, so it needs
    what the builtin needs (read from the registry, not copied, so a llama-stack upgrade carries over)."""
    from llama_stack.providers.registry.responses import available_providers

    return next(spec for spec in available_providers() if spec.provider_type == "inline::builtin")


def get_provider_spec() -> list[ProviderSpec]:
    # Loaded before the server builds its routers (and, on llama-stack 0.7, its middleware): the place to adjust
    # them (see apis/overlays.py and apis/edge.py), once the host has every name they hook into.
    from llama_stack_argocd import hosting
    from llama_stack_argocd.apis.edge import install_edge
    from llama_stack_argocd.apis.overlays import install_route_overlays
    from llama_stack_argocd.apis.provider_health import install_provider_health
    from llama_stack_argocd.logs import install_log_hygiene
    from llama_stack_argocd.observability.install import install_observability
    from llama_stack_argocd.speedups import install_speedups

    hosting.verify()
    install_route_overlays()
    install_edge()
    install_speedups()
    install_provider_health()
    install_observability()  # request ids, route metrics, the metrics port (see observability/install.py)
    install_log_hygiene()
    builtin = _builtin_responses()
    return [
        InlineProviderSpec(
            api=Api.tool_runtime,
            provider_type="inline::argocd",
            module="llama_stack_argocd.providers.tool_runtime",
            config_class="llama_stack_argocd.providers.tool_runtime.config.ArgoCDToolRuntimeConfig",
            toolgroup_id=CONTEXT_TOOLGROUP,
            description="Read-only Argo CD / Kubernetes context tools, scoped to the caller's Application.",
        ),
        InlineProviderSpec(
            api=Api.tool_runtime,
            provider_type="inline::argocd-mcp-client",
            module="llama_stack_argocd.providers.mcp_client",
            config_class="llama_stack_argocd.providers.mcp_client.config.McpClientConfig",
            description="mcp-for-argocd's tools through a bridge: the caller's Application only, read-only by default.",
        ),
        InlineProviderSpec(
            api=Api.inference,
            provider_type="inline::argocd-embedded",
            module="llama_stack_argocd.providers.inference",
            config_class="llama_stack_argocd.providers.inference.config.EmbeddedModelConfig",
            description="SmolLM2-135M served in-process by llama.cpp: the default when no model is configured.",
        ),
        InlineProviderSpec(
            api=Api.responses,
            provider_type="inline::argocd-responses",
            module="llama_stack_argocd.providers.responses",
            config_class="llama_stack_argocd.providers.responses.config.ArgoCDResponsesConfig",
            api_dependencies=list(builtin.api_dependencies),
            optional_api_dependencies=list(builtin.optional_api_dependencies),
            description="The Argo CD agent: llama-stack's Responses with server-side Argo CD tools.",
        ),
    ]
