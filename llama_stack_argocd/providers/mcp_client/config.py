"""Configuration of `inline::argocd-mcp-client`: how the bridge authenticates to mcp-for-argocd and Argo CD.

The MCP server's URL is the tool group's endpoint (registered by the Responses provider from the same
`ARGOCD_MCP_URL`), as for llama-stack's own MCP provider. The Argo CD account is the one the Argo CD API source
uses (`ArgoCDAccount`: an inline token or a mounted file, read at each call so a rotated Secret is picked up).
mcp-for-argocd's own inbound token (0.9: `MCP_AUTH_TOKEN`, required once it listens beyond loopback) is a separate
secret, spelled and read the same way.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from llama_stack_argocd.context.secret_setting import SecretSetting
from llama_stack_argocd.context.settings import ArgoCDAccount, OptionalSecret, OptionalText

MCP_AUTH_TOKEN = SecretSetting("the mcp-for-argocd auth token", "ARGOCD_MCP_AUTH_TOKEN", "ARGOCD_MCP_AUTH_TOKEN_FILE")


class McpClientConfig(ArgoCDAccount):
    argocd_base_url: OptionalText = Field(
        default=None,
        description="argocd-server's URL, sent as x-argocd-base-url; empty: the MCP server's own ARGOCD_BASE_URL. "
        "A caller can never choose it, so no token is sent to a host the operator did not name.",
    )
    mcp_auth_token: OptionalSecret = Field(
        default=None, description="Bearer token the MCP server itself asks for (its MCP_AUTH_TOKEN), if any "
        "(prefer mcp_auth_token_file: a mounted Secret)."
    )
    mcp_auth_token_file: OptionalText = Field(
        default=None, description="A file holding that bearer token; read on every request, so a rotated Secret "
        "applies. Set this or mcp_auth_token, not both."
    )
    allow_write_tools: bool = Field(
        default=False, description="Offer sync/update/delete/actions; every such call then waits for approval."
    )
    list_timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Bound on listing the tools.")
    call_timeout_seconds: float = Field(default=30.0, gt=0, le=300, description="Bound on one tool call.")
    retry_after_seconds: float = Field(
        default=30.0, ge=0, le=3600, description="After a failed listing, how long turns go on without asking again."
    )

    @model_validator(mode="after")
    def _one_inbound_token_form(self) -> McpClientConfig:
        MCP_AUTH_TOKEN.configured(self.mcp_auth_token, self.mcp_auth_token_file)  # both set: refused at start-up
        return self

    def inbound_token(self) -> str | None:
        """The bearer token for mcp-for-argocd itself (None: it asks for none); a file is read now."""
        return MCP_AUTH_TOKEN.read(self.mcp_auth_token, self.mcp_auth_token_file)

    def server_token(self) -> str | None:
        """The distribution's own token, if one is configured (else mcp-for-argocd's own ARGOCD_API_TOKEN)."""
        return self.token() if self.has_token else None

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {
            "argocd_base_url": "${env.ARGOCD_SERVER_URL:=}",
            "api_token": "${env.ARGOCD_API_TOKEN:=}",
            "api_token_file": "${env.ARGOCD_API_TOKEN_FILE:=}",
            "mcp_auth_token": "${env.ARGOCD_MCP_AUTH_TOKEN:=}",
            "mcp_auth_token_file": "${env.ARGOCD_MCP_AUTH_TOKEN_FILE:=}",
            "allow_write_tools": "${env.ARGOCD_MCP_ALLOW_WRITE_TOOLS:=false}",
        }
