"""Adjustments to two of llama-stack's own routers, for the clients the Argo CD extension ships with.

- `POST /v1/responses` learns who is calling: the Argocd-* headers argocd-server adds become the request's
  `Caller` (llama-stack's router does not hand headers to providers), and the path of clients up to 0.3.x,
  `/v1/openai/v1/responses`, is served too.
- `GET`/`DELETE /v1/conversations/{id}` serve two dialects on one path: UUIDs are Lightspeed conversations
  (client-chosen ids), anything else (`conv_...`) goes to llama-stack's Conversations API as before.
- `GET /v1/models` lists each model in both shapes: OpenAI's (`id`, `object`, `created`, `owned_by`) and the
  llama-stack fields older clients filter on (`identifier`, `model_type`, `provider_id`, ...). The extension
  keeps `model_type == "llm"` by `identifier`; without these it finds no model on llama-stack 0.4+.

Why here: llama-stack 0.7 builds each API's router from a factory in `fastapi_router_registry._ROUTER_FACTORIES`
and includes routers in set order, so a second router on the same path would win or lose by chance. Wrapping the
two factories is deterministic. Pinned to llama-stack 0.7.x; `tests/unit/apis/test_overlays.py` fails if the hook
point moves.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Request
from fastapi.routing import APIWebSocketRoute
from fastapi.responses import JSONResponse, StreamingResponse
from llama_stack.core.server import fastapi_router_registry
from llama_stack_api import CreateResponseRequest, DeleteResponseRequest, ListToolsRequest, RetrieveResponseRequest
from llama_stack_api.common.errors import OpenAIErrorResponse
from llama_stack_api.conversations import DeleteConversationRequest, GetConversationRequest
from llama_stack_api.responses.fastapi_routes import sse_generator
from llama_stack_api.router_utils import PUBLIC_ROUTE_KEY, ExceptionTranslatingRoute

from llama_stack_argocd import hosting
from llama_stack_argocd.agent.generation import TurnFailure
from llama_stack_argocd.apis.identity import body_within_limit, caller_for
from llama_stack_argocd.caller import acting_as

_MARK = "_argocd_overlay"
LEGACY_PREFIX = "/v1/openai/v1"
PUBLIC = {PUBLIC_ROUTE_KEY: True}  # openapi_extra of routes that need no authentication (probes)

# The Lightspeed provider registers itself here when configured; see `_conversations_router`.
_uuid_conversations: Any = None


# The tool groups routing table, registered by the Responses provider (see `_admin_router`).
_tool_groups: Any = None


def serve_tools(tool_groups: Any) -> None:
    global _tool_groups
    _tool_groups = tool_groups


def serve_uuid_conversations(impl: Any) -> None:
    global _uuid_conversations
    _uuid_conversations = impl


def _wrappers() -> dict[str, Callable[[Callable[[Any], APIRouter]], Callable[[Any], APIRouter]]]:
    """The routers wrapped on this host: `GET /v1/tools` is the `tool_groups` API's on llama-stack 0.7; OGX moved it
    to the `admin` API's `/v1/admin/tools`, so there the admin router serves it at `/v1/tools` too."""
    if "tool_groups" in fastapi_router_registry._ROUTER_FACTORIES:
        return _WRAPPERS
    return {**_WRAPPERS, "admin": _admin_router}


def install_route_overlays() -> None:
    """Wrap the router factories (`_wrappers()`) once per process."""
    factories = fastapi_router_registry._ROUTER_FACTORIES
    for api, wrap in _wrappers().items():
        factory = factories.get(api)
        if factory is not None and not getattr(factory, _MARK, False):
            factories[api] = _marked(wrap(factory))


class OverlayMissing(RuntimeError):
    """A router overlay did not apply: serving on would lose the caller's Application scope on /v1/responses."""


def verify_route_overlays() -> None:
    """Refuse to start unless every overlay is in place (called while providers start, before routers are built)."""
    factories = fastapi_router_registry._ROUTER_FACTORIES
    missing = [api for api in _wrappers() if not getattr(factories.get(api), _MARK, False)]
    if missing:
        raise OverlayMissing(
            f"The route overlays of llama-stack-argocd did not apply to {', '.join(missing)}: this llama-stack "
            "version builds its routers elsewhere. Refusing to start, since /v1/responses would lose the caller's "
            "Application scope. Use llama-stack 0.7.x."
        )


def _marked(factory: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    setattr(factory, _MARK, True)
    return factory


def _without(router: APIRouter, path: str, *methods: str) -> tuple[APIRouter, dict[str, Any]]:
    """The router minus the given routes, and the endpoints of the routes removed, by method."""
    kept, removed = APIRouter(), {}
    for route in router.routes:
        if isinstance(route, APIWebSocketRoute) and route.path == path:
            continue  # OGX's WebSocket Responses: it would run the agent without the caller's scope; not served
        matched = [m for m in methods if getattr(route, "path", None) == path and m in getattr(route, "methods", ())]
        if matched:
            removed[matched[0]] = route.endpoint
        else:
            kept.routes.append(route)
    return kept, removed


def streaming_or_object(result: Any) -> Any:
    """A stream becomes SSE (`data: <json>` only), sent with headers at once; an object is returned as is."""
    if isinstance(result, AsyncIterator):
        return StreamingResponse(hosting.renamed("preserve_context_for_sse")(sse_generator(result)), media_type="text/event-stream")
    return result


def _responses_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        router, _ = _without(original(impl), "/v1/responses", "POST")

        async def create(request: Request, body: Annotated[CreateResponseRequest, Body(...)]) -> Any:
            with acting_as(caller_for(request)):
                try:
                    return streaming_or_object(await impl.create_openai_response(body))
                except TurnFailure as failure:  # the model failed (502) or passed a bound (504): OpenAI's shape
                    error = OpenAIErrorResponse.from_message(failure.message, type="model_error",
                                                             code=str(failure.status_code))
                    return JSONResponse(status_code=failure.status_code, content=error.to_dict())

        async def retrieve(response_id: str) -> Any:
            return await impl.get_openai_response(RetrieveResponseRequest(response_id=response_id))

        async def delete(response_id: str) -> Any:
            return await impl.delete_openai_response(DeleteResponseRequest(response_id=response_id))

        def add(path: str, endpoint: Callable[..., Any], method: str, **kwargs: Any) -> None:
            router.add_api_route(
                path, endpoint, methods=[method], tags=["Responses"], route_class_override=ExceptionTranslatingRoute,
                **kwargs,
            )

        for prefix in ("/v1", LEGACY_PREFIX):
            add(f"{prefix}/responses", create, "POST", response_model=None, dependencies=[Depends(body_within_limit)])
        add(f"{LEGACY_PREFIX}/responses/{{response_id}}", retrieve, "GET")
        add(f"{LEGACY_PREFIX}/responses/{{response_id}}", delete, "DELETE")
        return router

    return factory


def _models_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        router, _ = _without(original(impl), "/v1/models", "GET")

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


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _conversations_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        path = "/v1/conversations/{conversation_id}"
        router, _ = _without(original(impl), path, "GET", "DELETE")

        async def get(request: Request, conversation_id: str) -> Any:
            if _uuid_conversations is not None and _is_uuid(conversation_id):
                return await _uuid_conversations.get_conversation(conversation_id, caller_for(request))
            return await impl.get_conversation(GetConversationRequest(conversation_id=conversation_id))

        async def delete(request: Request, conversation_id: str) -> Any:
            if _uuid_conversations is not None and _is_uuid(conversation_id):
                return await _uuid_conversations.delete_conversation(conversation_id, caller_for(request))
            return await impl.openai_delete_conversation(DeleteConversationRequest(conversation_id=conversation_id))

        for method, endpoint in (("GET", get), ("DELETE", delete)):
            router.add_api_route(
                path, endpoint, methods=[method], tags=["Conversations"], route_class_override=ExceptionTranslatingRoute
            )
        return router

    return factory


def _admin_router(original: Callable[[Any], APIRouter]) -> Callable[[Any], APIRouter]:
    def factory(impl: Any) -> APIRouter:
        router = original(impl)

        async def list_tools(toolgroup_id: str | None = None) -> Any:
            # Not `impl.list_tools`: OGX 1.5's admin API is built with the internal APIs only, so its own
            # /v1/admin/tools finds no tool groups (a KeyError); the routing table comes from our Responses provider.
            if _tool_groups is None:
                raise RuntimeError("no tool groups: the inline::argocd-responses provider is not configured")
            return await _tool_groups.list_tools(ListToolsRequest(toolgroup_id=toolgroup_id))

        router.add_api_route("/v1/tools", list_tools, methods=["GET"], tags=["Tools"], response_model=None,
                             route_class_override=ExceptionTranslatingRoute)
        return router

    return factory


_WRAPPERS: dict[str, Callable[[Callable[[Any], APIRouter]], Callable[[Any], APIRouter]]] = {
    "responses": _responses_router,
    "models": _models_router,
    "conversations": _conversations_router,
}
