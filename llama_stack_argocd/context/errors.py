"""Errors a context read can end in. Each says what failed and what to try, so a model can act on it."""

from __future__ import annotations


class ContextError(Exception):
    """Base class: `code` is stable for programs, `message` and `hint` are for the model and the user."""

    code = "context_error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_dict(self) -> dict[str, str]:
        out = {"error": self.code, "message": self.message}
        if self.hint:
            out["hint"] = self.hint
        return out


class InvalidArgument(ContextError):
    code = "invalid_argument"


class OutOfScope(ContextError):
    """The resource is not part of the caller's Application: refused before anything is fetched."""

    code = "out_of_scope"


class NotFound(ContextError):
    code = "not_found"


class AccessDenied(ContextError):
    """The back-end's own credentials were refused (401/403) by the Kubernetes or Argo CD API."""

    code = "access_denied"


class Unavailable(ContextError):
    """The upstream API could not be reached, timed out, or answered with a server error."""

    code = "unavailable"


class NoApplication(InvalidArgument):
    """The request names no Argo CD Application, so no tool has a scope to read in."""

    def __init__(self) -> None:
        super().__init__(
            "No Argo CD Application is in scope for this request.",
            hint="Call through Argo CD's proxy extension (it sets Argocd-Application-Name), or give "
            "metadata.argocd_application = 'namespace:name' on a direct Responses request.",
        )
