"""The router overlays hook into llama-stack where 0.7.x builds its routers; this fails if that place moves."""

from fastapi import APIRouter
from llama_stack.core.server import fastapi_router_registry

from llama_stack_argocd.apis.overlays import install_route_overlays


def _routes(router: APIRouter) -> set[tuple[str, str]]:
    return {(method, route.path) for route in router.routes for method in getattr(route, "methods", ())}


def test_overlays_replace_create_and_list_routes_and_add_legacy_paths():
    install_route_overlays()
    install_route_overlays()  # idempotent
    factories = fastapi_router_registry._ROUTER_FACTORIES
    responses = _routes(factories["responses"](object()))
    assert ("POST", "/v1/responses") in responses
    assert ("POST", "/v1/openai/v1/responses") in responses
    assert ("GET", "/v1/responses/{response_id}") in responses
    assert ("GET", "/v1/openai/v1/responses/{response_id}") in responses
    assert sum(1 for method, path in responses if (method, path) == ("POST", "/v1/responses")) == 1
    created = [r for r in factories["responses"](object()).routes
               if r.path == "/v1/responses" and "POST" in getattr(r, "methods", ())]
    assert len(created) == 1
    # OGX also serves Responses over a WebSocket at /v1/responses: not served here (no caller scope there)
    assert not [r for r in factories["responses"](object()).routes if r.path == "/v1/responses" and
                not getattr(r, "methods", None)]
    models = _routes(factories["models"](object()))
    assert ("GET", "/v1/models") in models and ("GET", "/v1/openai/v1/models") in models
    assert len([r for r in factories["models"](object()).routes if r.path == "/v1/models"]) == 1


def test_start_up_is_refused_when_an_overlay_did_not_apply(monkeypatch):
    import pytest

    from llama_stack_argocd.apis.overlays import OverlayMissing, verify_route_overlays

    install_route_overlays()
    verify_route_overlays()  # in place: no complaint
    plain = lambda impl: APIRouter()  # what llama-stack builds when the wrap is gone
    monkeypatch.setitem(fastapi_router_registry._ROUTER_FACTORIES, "responses", plain)
    with pytest.raises(OverlayMissing, match="responses"):
        verify_route_overlays()
    monkeypatch.delitem(fastapi_router_registry._ROUTER_FACTORIES, "models")
    with pytest.raises(OverlayMissing, match="responses, models"):
        verify_route_overlays()


def test_the_tools_are_listed_at_v1_tools_on_either_host():
    """llama-stack 0.7 serves GET /v1/tools from its tool_groups router; OGX moved it to the admin API."""
    install_route_overlays()
    factories = fastapi_router_registry._ROUTER_FACTORIES
    owner = "tool_groups" if "tool_groups" in factories else "admin"
    assert ("GET", "/v1/tools") in _routes(factories[owner](object()))
