"""Settings of the context domain (the tool runtime provider's config extends these, so run.yaml spells them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, field_validator, model_validator

from llama_stack_argocd.context.redaction import RedactionFilter
from llama_stack_argocd.context.secret_setting import SecretSetting, SecretSettingError

HARD_MAX_LOG_LINES = 10_000  # whatever the configuration says, one read never asks the kubelet for more
# What one read takes in at most, whatever the server sends: an object or a listing (past it, the read fails and says
# so), and a log (its newest bytes are kept: one line with no newline can be any size).
HARD_MAX_READ_BYTES = 32 * 2**20
HARD_MAX_LOG_BYTES = 4 * 2**20


def _none_if_empty(value: object) -> object:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None  # run.yaml's `${env.X:=}` gives "" when X is unset


ARGOCD_API_TOKEN = SecretSetting("the Argo CD API token", "ARGOCD_API_TOKEN", "ARGOCD_API_TOKEN_FILE")

# Optional settings as run.yaml spells them: an unset environment variable means "not configured".
OptionalText = Annotated[str | None, BeforeValidator(_none_if_empty)]
OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_none_if_empty)]



class ArgoCDAccount(BaseModel):
    """The API token of the assistant's read-only local Argo CD account, inline or from a mounted file."""

    api_token: OptionalSecret = Field(
        default=None, description="The read-only account's API token (prefer api_token_file: a mounted Secret)."
    )
    api_token_file: OptionalText = Field(
        default=None, description="A file holding the token; read on every tool call, so a rotated Secret applies."
    )

    @model_validator(mode="after")
    def _one_token_form(self) -> ArgoCDAccount:
        ARGOCD_API_TOKEN.configured(self.api_token, self.api_token_file)  # both set: refused at start-up
        return self

    @property
    def has_token(self) -> bool:
        return ARGOCD_API_TOKEN.configured(self.api_token, self.api_token_file)

    def token(self) -> str:
        """The token, inline or read from the file now (stripped of its trailing newline)."""
        token = ARGOCD_API_TOKEN.read(self.api_token, self.api_token_file)
        if token is None:
            raise SecretSettingError("no Argo CD API token is configured (ARGOCD_API_TOKEN or ARGOCD_API_TOKEN_FILE)")
        return token


class ArgoCDApiSettings(ArgoCDAccount):
    """Where argocd-server is and how the assistant's read-only Argo CD account authenticates to it."""

    server_url: OptionalText = Field(
        default=None, description="argocd-server's base URL, e.g. https://argocd.example.com."
    )
    ca_file: OptionalText = Field(default=None, description="PEM CA bundle to verify argocd-server's certificate with.")
    insecure: bool = Field(default=False, description="Skip TLS verification (development only).")

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"server_url must start with https:// (or http://), got {value!r}")
        return value.rstrip("/") if value else value


class ContextSettings(BaseModel):
    source: Literal["kubernetes", "argocd"] = Field(
        default="kubernetes",
        description="Where the tools read: `kubernetes` (the API server, with the back-end's service account) or "
        "`argocd` (argocd-server's REST API with a read-only Argo CD account: Applications on clusters the "
        "back-end cannot reach).",
    )
    argocd: ArgoCDApiSettings = Field(default_factory=ArgoCDApiSettings, description="For source `argocd`.")
    kubeconfig: OptionalText = Field(
        default=None,
        description="Path to a kubeconfig. Empty: the in-cluster service account when running in a Pod "
        "(KUBERNETES_SERVICE_HOST is set), else $KUBECONFIG or ~/.kube/config.",
    )
    kube_context: OptionalText = Field(default=None, description="A context of the kubeconfig other than the current.")
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
    read_cache_seconds: float = Field(
        default=3.0, ge=0, le=300, description="How long a read is answered again from memory, per Application and "
        "credentials (the evidence before the first round and the tools of a turn share it); 0 disables it.",
    )
    read_cache_entries: int = Field(default=2048, ge=0, le=100_000, description="Most reads kept by that cache.")

    @field_validator("source", mode="before")
    @classmethod
    def _source_name(cls, value: object) -> object:
        return (value.strip().lower() or "kubernetes") if isinstance(value, str) else value

    @model_validator(mode="after")
    def _default_within_max(self) -> ContextSettings:
        self.default_log_lines = min(self.default_log_lines, self.max_log_lines)
        return self

    @model_validator(mode="after")
    def _argocd_source_is_complete(self) -> ContextSettings:
        if self.source == "argocd":
            if not self.argocd.server_url:
                raise ValueError("source argocd needs argocd.server_url (ARGOCD_SERVER_URL)")
            if not self.argocd.has_token:
                raise ValueError("source argocd needs argocd.api_token or argocd.api_token_file "
                                 "(ARGOCD_API_TOKEN or ARGOCD_API_TOKEN_FILE)")
        return self

    def log_lines(self, asked: int | None) -> int:
        """Lines to read for a request that asked for `asked` (None: the default), never above the maximum."""
        return max(1, min(asked or self.default_log_lines, self.max_log_lines))
