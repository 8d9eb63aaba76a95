"""Adjustments to two of llama-stack's own routers, for the clients the Argo CD extension ships with.

- `POST /v1/responses` learns who is calling: the Argocd-* headers argocd-server adds become the request's
  `Caller` (llama-stack's router does not hand headers to providers), and the path of clients up to 0.3.x,
  `/v1/openai/v1/responses`, is served too.
- `GET /v1/models` lists each model in both shapes: OpenAI's (`id`, `object`, `created`, `owned_by`) and the
  llama-stack fields older clients filter on (`identifier`, `model_type`, `provider_id`, ...). The extension
  keeps `model_type == "llm"` by `identifier`; without these it finds no model on llama-stack 0.4+.

Why here: llama-stack 0.7 builds each API's router from a factory in `fastapi_router_registry._ROUTER_FACTORIES`
and includes routers in set order, so a second router on the same path would win or lose by chance. Wrapping the
two factories is deterministic. Pinned to llama-stack 0.7.x; `tests/unit/test_overlays.py` fails if the hook
point moves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse
from llama_stack.core.server import fastapi_router_registry
from llama_stack_api import CreateResponseRequest, DeleteResponseRequest, RetrieveResponseRequest
from llama_stack_api.responses.fastapi_routes import _preserve_context_for_sse, sse_generator
from llama_stack_api.router_utils import ExceptionTranslatingRoute

from llama_stack_argocd.caller import acting_as, caller_from_headers

_MARK = "_argocd_overlay"
LEGACY_PREFIX = "/v1/openai/v1"


def install_route_overlays() -> None:
    """Wrap the `responses` and `models` router factories once per process."""
    factories = fastapi_router_registry._ROUTER_FACTORIES
    for api, wrap in (("responses", _responses_router), ("models", _models_router)):
        factory = factories.get(api)
        if factory is not None and not getattr(factory, _MARK, False):
            factories[api] = _marked(wrap(factory))


def _marked(factory: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    setattr(factory, _MARK, True)
    return factory


def _without(router: APIRouter, path: str, method: str) -> APIRouter:
    kept = APIRouter()
    kept.routes.extend(r for r in router.routes if not (r.path == path and method in getattr(r, "methods", ())))
    return kept


def streaming_or_object(result: Any) -> Any:
    """A stream becomes SSE (`data: <json>` only), sent with headers at once; an object is returned as is."""
    if isinstance(result, AsyncIterator):
        return StreamingResponse(_preserve_context_for_sse(sse_generator(result)), media_type="text/event-stream")
    return result


def _responses_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        router = _without(original(impl), "/v1/responses", "POST")
        extra = APIRouter(route_class=ExceptionTranslatingRoute, tags=["Responses"])

        async def create(request: Request, body: Annotated[CreateResponseRequest, Body(...)]) -> Any:
            with acting_as(caller_from_headers(request.headers)):
                return streaming_or_object(await impl.create_openai_response(body))

        async def retrieve(response_id: str) -> Any:
            return await impl.get_openai_response(RetrieveResponseRequest(response_id=response_id))

        async def delete(response_id: str) -> Any:
            return await impl.delete_openai_response(DeleteResponseRequest(response_id=response_id))

        for prefix in ("/v1", LEGACY_PREFIX):
            extra.add_api_route(f"{prefix}/responses", create, methods=["POST"], response_model=None)
        extra.add_api_route(f"{LEGACY_PREFIX}/responses/{{response_id}}", retrieve, methods=["GET"])
        extra.add_api_route(f"{LEGACY_PREFIX}/responses/{{response_id}}", delete, methods=["DELETE"])
        router.include_router(extra)
        return router

    return factory


def _models_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        router = _without(original(impl), "/v1/models", "GET")

        async def list_models() -> dict[str, Any]:
            listed = await impl.list_models()
            created = int(time.time())
            return {"object": "list", "data": [_both_shapes(model, created) for model in listed.data]}

        for prefix in ("/v1", LEGACY_PREFIX):
            router.add_api_route(f"{prefix}/models", list_models, methods=["GET"], tags=["Models"])
        return router

    return factory


def _both_shapes(model: Any, created: int) -> dict[str, Any]:
    legacy = model.model_dump(mode="json")
    return {
        "id": model.identifier,
        "object": "model",
        "created": created,
        "owned_by": model.provider_id,
        "custom_metadata": {
            "model_type": legacy.get("model_type"),
            "provider_id": model.provider_id,
            "provider_resource_id": model.provider_resource_id,
            **(model.metadata or {}),
        },
        **legacy,
    }
