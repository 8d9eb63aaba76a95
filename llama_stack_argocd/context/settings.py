"""Settings of the context domain (the tool runtime provider's config extends these)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from llama_stack_argocd.context.redaction import RedactionFilter


class ContextSettings(BaseModel):
    kubeconfig: str | None = Field(
        default=None, description="Path to a kubeconfig; empty means the in-cluster service account, else ~/.kube."
    )
    kube_context: str | None = Field(default=None, description="A context of the kubeconfig other than the current.")
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    max_log_lines: int = Field(default=500, ge=1, le=10_000, description="Most log lines one tool call reads.")
    default_log_lines: int = Field(default=100, ge=1, le=10_000)
    max_pods: int = Field(default=10, ge=1, le=100, description="Most Pods of a workload read in one call.")
    max_events: int = Field(default=200, ge=1, le=5_000)
    redaction_filters: list[RedactionFilter] = Field(default_factory=list)

    @field_validator("kubeconfig", "kube_context", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None
