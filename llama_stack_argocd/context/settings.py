"""Settings of the context domain (the tool runtime provider's config extends these, so run.yaml spells them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from llama_stack_argocd.context.redaction import RedactionFilter

HARD_MAX_LOG_LINES = 10_000  # whatever the configuration says, one read never asks the kubelet for more


class ArgoCDApiSettings(BaseModel):
    """Where argocd-server is and how the assistant's read-only Argo CD account authenticates to it."""

    server_url: str | None = Field(default=None, description="argocd-server's base URL, e.g. https://argocd.example.com.")
    api_token: SecretStr | None = Field(
        default=None, description="The read-only account's API token (prefer api_token_file: a mounted Secret)."
    )
    api_token_file: str | None = Field(
        default=None, description="A file holding the token; read on every tool call, so a rotated Secret applies."
    )
    ca_file: str | None = Field(default=None, description="PEM CA bundle to verify argocd-server's certificate with.")
    insecure: bool = Field(default=False, description="Skip TLS verification (development only).")

    @field_validator("server_url", "api_token_file", "ca_file", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("api_token", mode="before")
    @classmethod
    def _empty_token_is_none(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return value or None

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"server_url must start with https:// (or http://), got {value!r}")
        return value.rstrip("/") if value else value

    def token(self) -> str:
        """The token, from the file when one is configured (stripped of its trailing newline)."""
        if self.api_token_file:
            try:
                token = Path(self.api_token_file).read_text().strip()
            except OSError as error:  # the path may be shown; the content never is
                raise ValueError(f"cannot read the Argo CD API token file {self.api_token_file}: "
                                 f"{error.strerror or type(error).__name__}") from None
            if not token:
                raise ValueError(f"the Argo CD API token file {self.api_token_file} is empty")
            return token
        if self.api_token is None:
            raise ValueError("no Argo CD API token is configured (ARGOCD_API_TOKEN or ARGOCD_API_TOKEN_FILE)")
        return self.api_token.get_secret_value()


class ContextSettings(BaseModel):
    source: Literal["kubernetes", "argocd"] = Field(
        default="kubernetes",
        description="Where the tools read: `kubernetes` (the API server, with the back-end's service account) or "
        "`argocd` (argocd-server's REST API with a read-only Argo CD account: Applications on clusters the "
        "back-end cannot reach).",
    )
    argocd: ArgoCDApiSettings = Field(default_factory=ArgoCDApiSettings, description="For source `argocd`.")
    kubeconfig: str | None = Field(
        default=None,
        description="Path to a kubeconfig. Empty: the in-cluster service account when running in a Pod "
        "(KUBERNETES_SERVICE_HOST is set), else $KUBECONFIG or ~/.kube/config.",
    )
    kube_context: str | None = Field(default=None, description="A context of the kubeconfig other than the current.")
    request_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Bound on every Kubernetes or Argo CD API request (connect and read)."
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

    @field_validator("source", mode="before")
    @classmethod
    def _source_name(cls, value: object) -> object:
        return (value.strip().lower() or "kubernetes") if isinstance(value, str) else value

    @field_validator("kubeconfig", "kube_context", mode="before")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        return value or None  # run.yaml's `${env.KUBECONFIG:=}` gives "" when unset

    @model_validator(mode="after")
    def _default_within_max(self) -> ContextSettings:
        self.default_log_lines = min(self.default_log_lines, self.max_log_lines)
        return self

    @model_validator(mode="after")
    def _argocd_source_is_complete(self) -> ContextSettings:
        if self.source == "argocd":
            if not self.argocd.server_url:
                raise ValueError("source argocd needs argocd.server_url (ARGOCD_SERVER_URL)")
            if self.argocd.api_token is None and not self.argocd.api_token_file:
                raise ValueError("source argocd needs argocd.api_token or argocd.api_token_file "
                                 "(ARGOCD_API_TOKEN or ARGOCD_API_TOKEN_FILE)")
        return self

    def log_lines(self, asked: int | None) -> int:
        """Lines to read for a request that asked for `asked` (None: the default), never above the maximum."""
        return max(1, min(asked or self.default_log_lines, self.max_log_lines))
