"""Observability pieces on their own: the server hook, the edge middleware, bounded labels, tracing off by default."""

from __future__ import annotations

import inspect
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from llama_stack_argocd.observability import metrics, request_id, tracing, turns
from llama_stack_argocd.observability.exposition import serve_from_environment
from llama_stack_argocd.observability.http import RequestObservation
from tests.unit.providers.test_mcp_client import silent_server  # noqa: F401 - a fixture


def count(metric, **labels) -> float:
    return metrics.REGISTRY.get_sample_value(metric, labels) or 0.0


async def test_request_observation_wraps_the_gate_once():
    """Request ids and route metrics wrap the identity gate and the host's own middleware (the edge's hook point is
    pinned in tests/unit/apis/test_edge.py): the first request builds the chain, outermost first."""

    from llama_stack.core.server.metrics import RequestMetricsMiddleware

    from llama_stack_argocd.apis import edge
    from llama_stack_argocd.observability.install import install_observability

    install_observability()
    install_observability()  # once per process, however often the provider spec is loaded

    async def inner(scope, receive, send):
        await PlainTextResponse("ok")(scope, receive, send)

    if "route_to_api" in inspect.signature(RequestMetricsMiddleware.__init__).parameters:
        middleware = RequestMetricsMiddleware(inner, route_to_api={})
    else:
        middleware = RequestMetricsMiddleware(inner)
    transport = httpx.ASGITransport(app=middleware)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/v1/health")).status_code == 200
    chain = middleware.__dict__[edge._MARK]
    outside_the_gate = []
    layer = chain
    while type(layer).__name__ != "_GateLayer":  # other layers (log hygiene's) may sit beside it
        outside_the_gate.append(layer)
        layer = layer.app
    assert sum(isinstance(layer, RequestObservation) for layer in outside_the_gate) == 1


class _Guard:
    """Answers 401 before routing, like llama-stack's authentication middleware."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/v1/guarded"):
            await PlainTextResponse("no", status_code=401)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _app():
    async def item(request):
        return JSONResponse({"rid": request_id.current()}, headers={"X-Request-ID": "spoofed-by-handler"})

    inner = Starlette(routes=[Route("/v1/items/{item_id}", item), Route("/v1/guarded/{x}", item)])
    app = RequestObservation(_Guard(inner))
    return inner, app


async def test_route_templates_status_and_request_ids():
    inner, app = _app()

    async def scope_app(scope, receive, send):  # what Starlette gives middleware: the app in the scope
        scope["app"] = inner
        await app(scope, receive, send)

    transport = httpx.ASGITransport(app=scope_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        before = count("argocd_assistant_http_requests_total", route="/v1/items/{item_id}", method="GET", status="200")
        answer = await client.get("/v1/items/secret-app-name")
        assert answer.headers.get_list("x-request-id") == [answer.json()["rid"]]
        assert len(answer.json()["rid"]) == 32
        assert count("argocd_assistant_http_requests_total", route="/v1/items/{item_id}", method="GET",
                     status="200") == before + 1
        kept = await client.get("/v1/items/1", headers={"X-Request-ID": "gateway-id-1234"})
        assert kept.headers["x-request-id"] == "gateway-id-1234"
        for bad in ("short", "x" * 200, "new\nline-injected-id", "spaces are not allowed"):
            fresh = await client.get("/v1/items/1", headers={"X-Request-ID": bad})
            assert fresh.headers["x-request-id"] != bad and len(fresh.headers["x-request-id"]) == 32
        guarded = await client.get("/v1/guarded/anything")
        assert guarded.status_code == 401 and guarded.headers["x-request-id"]
        assert count("argocd_assistant_http_requests_total", route="/v1/guarded/{x}", method="GET", status="401") >= 1
        await client.get("/some/user-chosen/path")
        await client.request("BREW", "/v1/items/1")
    routes = {s.labels["route"] for f in metrics.REGISTRY.collect() if f.name == "argocd_assistant_http_requests"
              for s in f.samples}
    assert "unmatched" in routes and not any("user-chosen" in r or "secret-app" in r for r in routes)
    methods = {s.labels["method"] for f in metrics.REGISTRY.collect() if f.name == "argocd_assistant_http_requests"
               for s in f.samples}
    assert "BREW" not in methods and "OTHER" in methods


def test_tool_labels_take_no_free_text():
    with turns.tool_call("a tool name an MCP client invented", known=False) as probe:
        probe[:] = json.dumps({"error": "invalid_argument", "message": "?"}), True
    assert count("argocd_assistant_tool_calls_total", tool="unknown", outcome="invalid_argument") >= 1
    with turns.tool_call("argocd_application", known=True) as probe:
        probe[:] = json.dumps({"error": "out_of_scope", "message": "no"}), True
    assert count("argocd_assistant_scope_refusals_total", tool="argocd_application") >= 1
    with pytest.raises(RuntimeError), turns.tool_call("argocd_containers", known=True):
        raise RuntimeError("boom")
    assert count("argocd_assistant_tool_calls_total", tool="argocd_containers", outcome="error") >= 1


def test_error_kinds():
    assert metrics.message_kind("Error code: 503 - overloaded") == "5xx"
    assert metrics.message_kind("Request timed out.") == "timeout"
    assert metrics.message_kind("Connection error.") == "refused"
    assert metrics.message_kind("The model refused") == "other"
    assert metrics.exception_kind(TimeoutError()) == "timeout"
    assert metrics.exception_kind(ConnectionRefusedError()) == "refused"
    assert metrics.exception_kind(ValueError("bad model id")) is None
    metrics.upstream_error("kubernetes", "a kind nobody knows")
    assert count("argocd_assistant_upstream_errors_total", upstream="kubernetes", kind="other") >= 1


def test_tracing_is_off_without_an_endpoint(monkeypatch):
    for name in ("ARGOCD_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    tracing.tracer.cache_clear()
    try:
        assert tracing.tracer() is None
        watch = turns.TurnWatch("responses")
        watch.round_started()
        assert watch._span is None and watch._round_span is None
    finally:
        tracing.tracer.cache_clear()
    assert tracing.endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"}) == "http://c:4318/v1/traces"
    assert tracing.endpoint({"ARGOCD_OTLP_TRACES_ENDPOINT": "http://a/v1/traces",
                             "OTEL_EXPORTER_OTLP_ENDPOINT": "http://b"}) == "http://a/v1/traces"


def test_turn_model_label_is_the_answering_model_not_the_request():
    class Response:
        model, status, usage, error = "openai/scripted", "completed", None, None

    class Failed:
        model, status, usage = "made-up-model-x1", "failed", None
        error = type("E", (), {"message": "Error code: 503"})()

    watch = turns.TurnWatch("lightspeed", "made-up-model-x1", traced=False)
    watch.round_started()
    watch.round_finished(Failed())
    assert watch.model == "unknown"  # a request naming a model that does not exist adds no series of its own
    watch.round_started()
    watch.round_finished(Response())
    assert watch.model == "openai/scripted"
    series = {s.labels.get("model") or s.labels.get("gen_ai_request_model")
              for f in metrics.REGISTRY.collect() for s in f.samples}
    assert "made-up-model-x1" not in series


def test_no_metrics_port_unless_configured():
    assert serve_from_environment({}) is None
    assert serve_from_environment({"ARGOCD_METRICS_PORT": "  "}) is None


async def test_argocd_api_failures_count_as_upstream_errors_by_kind():
    import socket

    from llama_stack_argocd.context.argocd_api import ArgoCDSource
    from llama_stack_argocd.context.errors import Unavailable
    from tests.support.argocd_api import start_argocd_api
    from tests.unit.context.test_argocd_api import APP, argocd_settings

    refused = count("argocd_assistant_upstream_errors_total", upstream="argocd_api", kind="refused")
    timeouts = count("argocd_assistant_upstream_errors_total", upstream="argocd_api", kind="timeout")
    with start_argocd_api() as stopped:
        url = stopped.url
    with pytest.raises(Unavailable):
        await ArgoCDSource(argocd_settings(url)).ping()
    assert count("argocd_assistant_upstream_errors_total", upstream="argocd_api", kind="refused") == refused + 1
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow = ArgoCDSource(argocd_settings(f"http://127.0.0.1:{silent.getsockname()[1]}", request_timeout_seconds=0.3))
        with pytest.raises(Unavailable):
            await slow.for_application(APP).tree()
    assert count("argocd_assistant_upstream_errors_total", upstream="argocd_api", kind="timeout") == timeouts + 1


def test_mcp_bridge_timeouts_count_as_upstream_errors(silent_server):
    import asyncio

    from llama_stack_api import URL

    from llama_stack_argocd.caller import acting_as
    from tests.unit.providers.test_mcp_client import CALLER, runtime

    before = count("argocd_assistant_upstream_errors_total", upstream="mcp", kind="timeout")
    impl = runtime(silent_server)
    with pytest.raises(TimeoutError):
        asyncio.run(impl.list_runtime_tools("mcp::argocd", URL(uri=silent_server)))

    async def call():
        with acting_as(CALLER):
            return await impl.invoke_tool("get_application", {"applicationName": "guestbook"})

    asyncio.run(call())
    assert count("argocd_assistant_upstream_errors_total", upstream="mcp", kind="timeout") == before + 2
