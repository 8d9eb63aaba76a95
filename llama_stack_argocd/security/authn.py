"""Who a request is from, decided once per request for llama-stack's authentication middleware.

Two ways in:
- through argocd-server's proxy extension: the bearer token is the shared proxy secret, and the identity is in the
  Argocd-* headers argocd-server set after its own RBAC check;
- directly, when enabled: a Kubernetes bearer token, checked with a TokenReview and a SubjectAccessReview on a
  virtual path (as OpenShift Lightspeed does), naming the Application in `Argocd-Application-Name`.
The result becomes llama-stack's authenticated principal, so its ownership rules apply to everything stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from pydantic import BaseModel

from llama_stack_argocd.caller import Caller, caller_from_headers
from llama_stack_argocd.security.proxy_secret import ProxySecret


class Unauthenticated(Exception):
    """The request carries no acceptable credentials; the message says why, never what was presented."""


class Principal(BaseModel):
    principal: str
    attributes: dict[str, list[str]]


class TokenReviewer(Protocol):
    async def review(self, token: str) -> tuple[str, str | None, tuple[str, ...]] | None:
        """(username, uid, groups) when the token is valid and allowed; None otherwise."""


def principal_of(caller: Caller) -> Principal:
    # No groups: llama-stack's default policy shares resources between users with a common role, and conversations
    # here belong to the one user who started them; its SQL filter also ORs one term per attribute value, so a list
    # of thousands of groups would make every stored-resource query too large ("Expression tree is too large").
    attributes: dict[str, list[str]] = {}
    for name, value in (
        ("username", caller.username),
        ("user_id", caller.user_id),
        ("argocd_application", str(caller.application) if caller.application else None),
        ("argocd_project", caller.project),
    ):
        if value:
            attributes[name] = [value]
    return Principal(principal=caller.principal, attributes=attributes)


def caller_of(principal: str, attributes: Mapping[str, list[str]] | None) -> Caller:
    """The inverse of `principal_of`, for code that only sees llama-stack's authenticated user."""
    attributes = attributes or {}

    def first(name: str) -> str | None:
        values = attributes.get(name) or []
        return values[0] if values else None

    headers = {
        "Argocd-Username": first("username") or principal,
        "Argocd-User-Id": first("user_id") or "",
        "Argocd-User-Groups": ",".join(attributes.get("groups") or []),
        "Argocd-Application-Name": first("argocd_application") or "",
        "Argocd-Project-Name": first("argocd_project") or "",
    }
    return caller_from_headers({k: v for k, v in headers.items() if v})


class Authenticator:
    """The one decision of who a request is from (called in-process by the edge, `apis/edge.py`)."""

    def __init__(self, proxy_secret: ProxySecret | None, token_reviewer: TokenReviewer | None = None) -> None:
        self._secret = proxy_secret
        self._reviewer = token_reviewer

    def missing_credentials(self) -> str:
        return (
            "No 'Authorization: Bearer <proxy secret>' header: this service answers requests forwarded by Argo CD's "
            "proxy extension" + (" or carrying a valid Kubernetes token." if self._reviewer else ".")
        )

    async def authenticate(self, token: str, headers: Mapping[str, str]) -> Principal:
        if self._secret is not None and self._secret.matches(token):
            try:
                caller = caller_from_headers(headers)
            except ValueError as error:
                raise Unauthenticated(f"Invalid Argo CD identity headers: {error}") from error
            if not (caller.username or caller.user_id):
                raise Unauthenticated(
                    "The proxy secret was given without an Argocd-Username header: argocd-server's proxy extension "
                    "sets it for the logged-in user; a request not sent through it has no user."
                )
            return principal_of(caller)
        if self._reviewer is not None:
            reviewed = await self._reviewer.review(token)
            if reviewed is not None:
                username, uid, groups = reviewed
                lowered = {k.lower(): v for k, v in headers.items()}
                caller = caller_from_headers(
                    {
                        "Argocd-Username": username,
                        "Argocd-User-Id": uid or "",
                        "Argocd-User-Groups": ",".join(groups),
                        "Argocd-Application-Name": lowered.get("argocd-application-name", ""),
                    }
                )
                return principal_of(caller)
        raise Unauthenticated(
            "The bearer token is not the configured proxy secret"
            + (" nor a Kubernetes token allowed to use the assistant" if self._reviewer else "")
            + ": this service answers requests forwarded by Argo CD's proxy extension."
        )
