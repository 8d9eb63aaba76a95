"""The caller of an HTTP request, for our own routes."""

from __future__ import annotations

from fastapi import HTTPException, Request

from llama_stack_argocd.caller import Caller, caller_from_headers


def caller_for(request: Request) -> Caller:
    try:
        return caller_from_headers(request.headers)
    except ValueError as error:
        raise HTTPException(status_code=400, detail=f"Invalid Argocd-Application-Name header: {error}") from error
