"""OpenShift Lightspeed-compatible routes, so the extension's Lightspeed provider and OLS clients work unchanged.

`GET`/`DELETE /v1/conversations/{id}` share their paths with llama-stack's Conversations API; the overlay in
`apis/overlays.py` sends UUID ids (Lightspeed's) here and `conv_...` ids to llama-stack.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, StreamingResponse
from llama_stack_api import Api, ProviderSpec
from llama_stack_api.router_utils import ExceptionTranslatingRoute
from pydantic import BaseModel, TypeAdapter, ValidationError

from llama_stack_argocd.apis.identity import body_within_limit, caller_for
from llama_stack_argocd.apis.lightspeed.impl import ols_error
from llama_stack_argocd.apis.lightspeed.models import FeedbackRequest, QueryRequest, QueryResponse, TopicUpdate
from llama_stack_argocd.apis.overlays import PUBLIC, serve_uuid_conversations
from llama_stack_argocd.apis.spec import inline_provider
from llama_stack_argocd.apis.storage_health import broken_kv_stores, verify_kv_store_hook
from llama_stack_argocd.context.schema import inline_refs

API_NAME = "lightspeed"
Body = TypeVar("Body", bound=BaseModel)


class Lightspeed(Protocol):
    """Marker protocol: routes are defined in `create_router`."""


def available_providers() -> list[ProviderSpec]:
    return inline_provider(
        API_NAME, "inline::argocd-lightspeed", __name__, "LightspeedConfig",
        "OpenShift Lightspeed-compatible routes on the Argo CD agent core.", needs=[Api.responses, Api.models],
    )


async def get_provider_impl(config: Any, deps: dict[Any, Any]) -> Any:
    from llama_stack_argocd.agent.host import hosted_agent
    from llama_stack_argocd.apis.lightspeed.impl import LightspeedImpl

    verify_kv_store_hook()  # /liveness relies on it
    impl = LightspeedImpl(config, hosted_agent(deps[Api.responses], "Lightspeed"), deps[Api.models])
    await impl.initialize()
    serve_uuid_conversations(impl)
    return impl


async def _validated(request: Request, model: type[Body]) -> Body:
    """Validate the body ourselves so that errors come in OLS's shape (422 `{"detail": {response, cause}}`)."""
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors(include_url=False)
        )
        raise ols_error(422, "Invalid request", problems) from error


_MCP_HEADERS = TypeAdapter(dict[str, dict[str, str]])


async def _question(request: Request) -> QueryRequest:
    """The query, with MCP headers from lightspeed-stack's `MCP-HEADERS` header when the body has none."""
    body = await _validated(request, QueryRequest)
    raw = request.headers.get("mcp-headers")
    if raw and not body.mcp_headers:
        try:
            body = body.model_copy(update={"mcp_headers": _MCP_HEADERS.validate_json(raw)})
        except ValidationError as error:
            raise ols_error(422, "Invalid MCP-HEADERS header", "a JSON object {server: {header: value}}") from error
    return body


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON schema for routes that validate their body themselves, with `$defs` inlined."""
    schema = inline_refs(model.model_json_schema())
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_router(impl: Any) -> APIRouter:
    router = APIRouter(tags=["Lightspeed"], route_class=ExceptionTranslatingRoute,
                       dependencies=[Depends(body_within_limit)])

    @router.post("/v1/query", response_model=QueryResponse, openapi_extra=_body_schema(QueryRequest))
    async def query(request: Request) -> QueryResponse:
        return await impl.query(await _question(request), caller_for(request))

    @router.post("/v1/streaming_query", response_model=None, openapi_extra=_body_schema(QueryRequest))
    async def streaming_query(request: Request) -> StreamingResponse:
        answer = await impl.streaming_query(await _question(request), caller_for(request))
        return StreamingResponse(answer.body, media_type=answer.media_type)

    @router.get("/v1/conversations")
    async def list_conversations(request: Request) -> dict[str, Any]:
        return await impl.list_conversations(caller_for(request))

    @router.put("/v1/conversations/{conversation_id}", openapi_extra=_body_schema(TopicUpdate))
    async def update_conversation(request: Request, conversation_id: str) -> dict[str, Any]:
        topic = await _validated(request, TopicUpdate)
        return await impl.update_conversation(conversation_id, topic.topic_summary, caller_for(request))

    @router.post("/v1/feedback", openapi_extra=_body_schema(FeedbackRequest))
    async def feedback(request: Request) -> dict[str, str]:
        return await impl.feedback(await _validated(request, FeedbackRequest), caller_for(request))

    @router.get("/v1/feedback/status")
    async def feedback_status() -> dict[str, Any]:
        return {"functionality": "feedback", "status": {"enabled": impl.config.feedback_enabled}}

    @router.get("/liveness", openapi_extra=PUBLIC)
    async def liveness() -> JSONResponse:
        if broken := broken_kv_stores():  # only a restart re-opens them (see apis/storage_health.py)
            detail = {"response": "Service is not alive", "cause": f"Storage connection lost: {', '.join(broken)}"}
            return JSONResponse(status_code=503, content={"detail": detail})
        return JSONResponse({"alive": True})

    @router.get("/readiness", openapi_extra=PUBLIC)
    async def readiness() -> JSONResponse:
        llms = [m for m in (await impl.models.list_models()).data if str(m.model_type.value) == "llm"]
        if not llms:
            detail = {"response": "Service is not ready", "cause": "LLM is not ready"}
            return JSONResponse(status_code=503, content={"detail": detail})
        return JSONResponse({"ready": True, "reason": "service is ready"})

    @router.post("/authorized")
    async def authorized(request: Request) -> dict[str, Any]:
        caller = caller_for(request)
        return {"user_id": caller.user_id or caller.principal, "username": caller.username or caller.principal,
                "skip_user_id_check": False}

    return router


__all__ = ["available_providers", "create_router", "get_provider_impl"]
