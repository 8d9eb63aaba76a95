"""Who is asking, and about which Argo CD Application.

argocd-server's proxy extension checks RBAC and then adds identity headers; this module turns them into a
`Caller` and keeps it in a context variable for the duration of one request, so the agent and the tools act
inside the caller's Application without the model ever choosing the scope. Knows nothing of HTTP frameworks.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from llama_stack_argocd.context.refs import AppRef


class Caller(BaseModel):
    """The identity and Application scope of one request."""

    model_config = ConfigDict(frozen=True)

    username: str | None = None
    user_id: str | None = None
    groups: tuple[str, ...] = ()
    application: AppRef | None = None
    project: str | None = None
    # The caller's own Argo CD token for the MCP bridge, when the request carried one; never serialized.
    argocd_token: SecretStr | None = Field(default=None, exclude=True, repr=False)

    def with_argocd_token(self, token: str | None) -> Caller:
        return self.model_copy(update={"argocd_token": SecretStr(token)}) if token else self

    @property
    def principal(self) -> str:
        return self.user_id or self.username or "anonymous"


_current: contextvars.ContextVar[Caller | None] = contextvars.ContextVar("argocd_caller", default=None)


def caller_from_headers(headers: Mapping[str, str]) -> Caller:
    """Build a Caller from the Argocd-* headers (case-insensitive); a malformed application header raises ValueError."""
    lowered = {k.lower(): v for k, v in headers.items()}
    app_header = lowered.get("argocd-application-name")
    groups = tuple(g.strip() for g in lowered.get("argocd-user-groups", "").split(",") if g.strip())
    return Caller(
        username=lowered.get("argocd-username") or None,
        user_id=lowered.get("argocd-user-id") or None,
        groups=groups,
        application=AppRef.parse(app_header) if app_header else None,
        project=lowered.get("argocd-project-name") or None,
    )


def current_caller() -> Caller | None:
    return _current.get()


@contextmanager
def acting_as(caller: Caller | None) -> Iterator[None]:
    """Run a block on behalf of `caller` (None clears it)."""
    token = _current.set(caller)
    try:
        yield
    finally:
        _current.reset(token)
