"""Configuration of `inline::argocd-responses`: the builtin's persistence plus the agent's own settings."""

from __future__ import annotations

from typing import Any

from llama_stack.core.storage.datatypes import KVStoreReference
from llama_stack.providers.inline.responses.builtin.config import BuiltinResponsesImplConfig
from pydantic import Field

from llama_stack_argocd.agent.core import AgentSettings
from llama_stack_argocd.context.redaction import RedactionFilter
from llama_stack_argocd.context.settings import OptionalText
from llama_stack_argocd.providers.toolgroups import CONTEXT_TOOLGROUP


class ArgoCDPersistence(BuiltinResponsesImplConfig.model_fields["persistence"].annotation):  # type: ignore[misc,name-defined]
    """The builtin's persistence plus the agent's own key-value store (llama-stack 0.7's builtin has the same
    field and opens it too; OGX's builtin dropped it)."""

    agent_state: KVStoreReference


class ArgoCDResponsesConfig(BuiltinResponsesImplConfig):
    persistence: ArgoCDPersistence
    agent: AgentSettings = Field(default_factory=AgentSettings)
    toolgroups: list[str] = Field(
        default_factory=lambda: [CONTEXT_TOOLGROUP],
        description="Tool groups whose tools the agent offers the model and executes server-side.",
    )
    argocd_mcp_url: OptionalText = Field(
        default=None,
        description="mcp-for-argocd's endpoint (streamable HTTP `/mcp`, or SSE `/sse`): registered as the tool group "
        "`mcp::argocd` (served by the `inline::argocd-mcp-client` tool runtime) and offered beside the toolgroups above.",
    )
    allowed_urls: str | list[str] | None = Field(
        default=None,
        description="URLs a caller's request may make the server connect to (mcp tools' server_url, input image or "
        "file URLs), comma-separated or a list; argocd_mcp_url is always allowed, nothing else by default.",
    )
    redaction_filters: list[RedactionFilter] = Field(
        default_factory=list, description="Extra regex filters applied to questions and attachments."
    )

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {
            **BuiltinResponsesImplConfig.sample_run_config(__distro_dir__),
            "agent": {"max_tool_rounds": 5},
            "toolgroups": [CONTEXT_TOOLGROUP],
        }
