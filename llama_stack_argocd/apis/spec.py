"""How each external API of this package declares its one provider to llama-stack (`available_providers()`)."""

from __future__ import annotations

from collections.abc import Sequence

from llama_stack_api import Api, InlineProviderSpec, ProviderSpec


def inline_provider(api_name: str, provider_type: str, package: str, config_class: str, description: str,
                    needs: Sequence[Api] = ()) -> list[ProviderSpec]:
    """The API's provider: implemented by `package` (its `get_provider_impl`), configured by `package.config`."""
    return [
        InlineProviderSpec(
            api=Api(api_name),
            provider_type=provider_type,
            module=package,
            config_class=f"{package}.config.{config_class}",
            api_dependencies=list(needs),
            description=description,
        )
    ]
