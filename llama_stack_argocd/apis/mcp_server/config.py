"""Configuration of `inline::argocd-mcp-server`: what a tool result may cost an MCP client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class McpServerConfig(BaseModel):
    max_result_tokens: int = Field(
        default=8000,
        ge=256,
        description="Tokens a tool result may take; longer ones are cut with an explicit '[... omitted ...]' marker.",
    )
    tool_timeout_seconds: float = Field(default=30.0, gt=0, description="Time a tool call may take.")

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {"max_result_tokens": "${env.ARGOCD_MCP_MAX_RESULT_TOKENS:=8000}"}
