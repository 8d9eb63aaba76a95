"""The caller of an HTTP request, for our own routes.

With proxy trust configured, llama-stack's authentication has already checked the request and holds the identity
(`security/authn.py`); without it (a local, loopback-only set-up) the Argocd-* headers are taken as sent.
"""

from __future__ import annotations

import os

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


MAX_BODY_BYTES = int(os.environ.get("ARGOCD_ASSISTANT_MAX_BODY_BYTES", str(4 * 1024 * 1024)))


def body_within_limit(request: Request) -> None:
    """413 for a declared body over the cap (ARGOCD_ASSISTANT_MAX_BODY_BYTES, default 4 MiB), before any work."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status_code=413, detail=f"Request body over {MAX_BODY_BYTES} bytes.")
