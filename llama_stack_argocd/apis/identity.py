"""The caller of an HTTP request, for our own routes.

With proxy trust configured, llama-stack's authentication has already checked the request and holds the identity
(`security/authn.py`); without it (a local, loopback-only set-up) the Argocd-* headers are taken as sent.
"""

from __future__ import annotations

from fastapi import HTTPException, Request
from llama_stack.core.request_headers import get_authenticated_user

from llama_stack_argocd.caller import Caller, caller_from_headers
from llama_stack_argocd.security.authn import caller_of


def caller_for(request: Request) -> Caller:
    if user := get_authenticated_user():
        return caller_of(user.principal, user.attributes)
    try:
        return caller_from_headers(request.headers)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=f"Invalid Argocd-Application-Name header: {error}") from error
