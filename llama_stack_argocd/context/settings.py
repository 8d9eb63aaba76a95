"""Settings of the context domain (the tool runtime provider's config extends these, so run.yaml spells them)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator, model_validator

from llama_stack_argocd.context.redaction import RedactionFilter

HARD_MAX_LOG_LINES = 10_000  # whatever the configuration says, one read never asks the kubelet for more


class ContextSettings(BaseModel):
    kubeconfig: str | None = Field(
        default=None,
        description="Path to a kubeconfig. Empty: the in-cluster service account when running in a Pod "
        "(KUBERNETES_SERVICE_HOST is set), else $KUBECONFIG or ~/.kube/config.",
    )
    kube_context: str | None = Field(default=None, description="A context of the kubeconfig other than the current.")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Bound on every Kubernetes API request (connect and read)."
    )
    max_log_lines: int = Field(
        default=500, ge=1, le=HARD_MAX_LOG_LINES, description="Most log lines one tool call reads, all Pods together."
    )
    default_log_lines: int = Field(default=100, ge=1, le=HARD_MAX_LOG_LINES, description="Lines read when not asked.")
    max_pods: int = Field(default=10, ge=1, le=100, description="Most Pods of a workload read in one call.")
    max_events: int = Field(default=200, ge=1, le=5_000, description="Most (newest) events grouped in one call.")
    redaction_filters: list[RedactionFilter] = Field(
        default_factory=list, description="Extra regex filters ({pattern, replacement}) applied to every tool result."
    )

    @field_validator("kubeconfig", "kube_context", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None  # run.yaml's `${env.KUBECONFIG:=}` gives "" when unset

    @model_validator(mode="after")
    def _default_within_max(self) -> ContextSettings:
        self.default_log_lines = min(self.default_log_lines, self.max_log_lines)
        return self

    def log_lines(self, asked: int | None) -> int:
        """Lines to read for a request that asked for `asked` (None: the default), never above the maximum."""
        return max(1, min(asked or self.default_log_lines, self.max_log_lines))
