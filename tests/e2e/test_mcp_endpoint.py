"""The MCP endpoint, end to end: the `mcp` SDK's own client against a real `llama stack run`, the Kubernetes
stand-in behind it. Same tools, scope, redaction and budget as the agent; under proxy trust, the same 401s."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from mcp import ClientSession, types
from mcp.client.streamable_http import streamable_http_client

from llama_stack_argocd.context.tokens import count_tokens
from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS
from tests.support.stack import StackHandle, StackStarter

MCP_PATH = "/v1/argocd/mcp"
SECRET = "mcp-proxy-secret-" + "y" * 24
PROXIED = {**EXTENSION_HEADERS, "Authorization": f"Bearer {SECRET}"}
MARKER = re.compile(r"\[\.\.\. [\d,]+ (lines|characters) omitted \.\.\.\]")
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "raw-http", "version": "0"}}}
ACCEPT = {"Accept": "application/json, text/event-stream"}


@asynccontextmanager
async def mcp_session(stack: StackHandle, headers: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
    """An initialized MCP client session over streamable HTTP, sending `headers` (the extension's by default)."""
    async with httpx.AsyncClient(headers=EXTENSION_HEADERS if headers is None else headers, timeout=60) as http, \
            streamable_http_client(stack.base_url + MCP_PATH, http_client=http) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def call(stack: StackHandle, name: str, arguments: dict, headers: dict[str, str] | None = None):
    async with mcp_session(stack, headers) as session:
        result = await session.call_tool(name, arguments)
    assert len(result.content) == 1 and isinstance(result.content[0], types.TextContent)
    return result, result.content[0].text


async def test_initialize_names_the_server_and_offers_tools(stack):
    async with httpx.AsyncClient(headers=EXTENSION_HEADERS) as http, \
            streamable_http_client(stack.base_url + MCP_PATH, http_client=http) as (read, write, _), \
            ClientSession(read, write) as session:
        init = await session.initialize()
    assert init.serverInfo.name == "llama-stack-argocd"
    assert init.capabilities.tools is not None
    assert "Argocd-Application-Name" in (init.instructions or "")


async def test_tools_are_the_catalog_of_v1_tools(stack):
    listed = httpx.get(f"{stack.base_url}/v1/tools", params={"toolgroup_id": "argocd::context"}).json()["data"]
    async with mcp_session(stack) as session:
        tools = (await session.list_tools()).tools
    assert [t.name for t in tools] == [t["name"] for t in listed] and len(tools) == 6
    for tool, catalog in zip(tools, listed, strict=True):
        assert tool.description == catalog["description"]
        assert tool.inputSchema == catalog["input_schema"]
        assert tool.annotations.readOnlyHint is True and tool.annotations.destructiveHint is False


CALLS = {
    "argocd_application": {},
    "argocd_resource_manifest": {"kind": "Deployment", "name": fx.DEPLOYMENT},
    "argocd_resource_events": {"kind": "Deployment", "name": fx.DEPLOYMENT},
    "argocd_containers": {"kind": "Deployment", "name": fx.DEPLOYMENT},
    "argocd_container_logs": {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True},
    "argocd_related_resources": {"kind": "Pod", "name": fx.CRASHING_POD},
}


def check_application(result):
    assert result["sync"] == {"status": "OutOfSync", "revision": fx.REVISION}
    assert result["operationState"]["failedResults"][0]["name"] == "guestbook-config"


def check_manifest(result):
    env = {e["name"]: e for e in result["manifest"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == "[REDACTED]" and result["redacted_values"] >= 1
    assert "managedFields" not in result["manifest"]["metadata"]


def check_events(result):
    backoff = next(e for e in result["events"] if e["reason"] == "BackOff")
    assert backoff["count"] == 45 and backoff["last_seen"] == fx.LAST_BACKOFF


def check_containers(result):
    pods = {p["pod"].split("/")[1]: p for p in result["pods"]}
    assert pods[fx.CRASHING_POD]["containers"][0]["reason"] == "CrashLoopBackOff"


def check_logs(result):
    log = result["logs"][0]["log"]
    assert fx.CRASH_LINE in log and "[x40]" in log
    assert fx.PLANTED_JWT not in log and fx.PLANTED_DB_URL_PASSWORD not in log


def check_related(result):
    assert result["owners"] == [f"ReplicaSet/{fx.REPLICASET}", f"Deployment/{fx.DEPLOYMENT}"]


CHECKS = {"argocd_application": check_application, "argocd_resource_manifest": check_manifest,
          "argocd_resource_events": check_events, "argocd_containers": check_containers,
          "argocd_container_logs": check_logs, "argocd_related_resources": check_related}


@pytest.mark.parametrize("name", list(CALLS))
async def test_each_tool_answers_for_the_guestbook(stack, name):
    result, text = await call(stack, name, CALLS[name])
    assert result.isError is False, text
    CHECKS[name](json.loads(text))
    assert not any(secret in text for secret in fx.PLANTED)
    assert result.meta is None  # nothing was cut under the default cap


async def test_secret_values_are_redacted(stack):
    result, text = await call(stack, "argocd_resource_manifest", {"kind": "Secret", "name": "guestbook-secret"})
    assert result.isError is False
    assert json.loads(text)["manifest"]["data"] == {"token": "[REDACTED]"}
    assert fx.SECRET_VALUE not in text and base64.b64encode(fx.SECRET_VALUE.encode()).decode() not in text


@pytest.mark.parametrize(
    ("name", "arguments"),
    [
        ("argocd_resource_manifest", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": fx.OTHER_NS}),
        ("argocd_resource_manifest", {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": fx.OTHER_NS}),
        ("argocd_container_logs", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": fx.OTHER_NS}),
        ("argocd_resource_manifest", {"kind": "Application", "name": fx.OTHER_APP, "namespace": fx.ARGOCD_NS}),
    ],
)
async def test_another_applications_resources_are_refused_before_any_read(stack, cluster, name, arguments):
    before = cluster.request_count()
    result, text = await call(stack, name, arguments)
    assert result.isError is True
    refusal = json.loads(text)
    assert refusal["error"] == "out_of_scope" and "argocd:guestbook" in refusal["message"]
    assert fx.OTHER_SECRET_VALUE not in text
    assert not any(f"/namespaces/{fx.OTHER_NS}/" in p for p in cluster.paths_since(before)), "fetched before refusal"


async def test_the_application_cannot_be_chosen_in_the_arguments(stack, cluster):
    before = cluster.request_count()
    result, text = await call(stack, "argocd_application", {"application": f"{fx.ARGOCD_NS}:{fx.OTHER_APP}"})
    error = json.loads(text)
    assert result.isError is True and error["error"] == "invalid_argument"
    assert "cannot be chosen" in error["hint"] and cluster.paths_since(before) == []


@pytest.mark.parametrize(
    ("name", "arguments", "expected"),
    [
        ("argocd_container_logs", {"kind": "Pod", "tail_lines": -3}, "name is required"),
        ("argocd_resource_manifest", {"kind": "Gizmo", "name": "x"}, "Gizmo"),
        ("argocd_delete_everything", {}, "There is no tool"),
    ],
)
async def test_bad_calls_are_readable_tool_errors(stack, name, arguments, expected):
    result, text = await call(stack, name, arguments)
    error = json.loads(text)
    assert result.isError is True and error["error"] == "invalid_argument"
    assert expected in error["message"] and error.get("hint")


async def test_without_an_application_the_error_says_how_to_name_one(stack, cluster):
    before = cluster.request_count()
    headers = {k: v for k, v in EXTENSION_HEADERS.items() if k != "Argocd-Application-Name"}
    result, text = await call(stack, "argocd_application", {}, headers=headers)
    error = json.loads(text)
    assert result.isError is True and error["error"] == "invalid_argument"
    assert "Argocd-Application-Name" in error["hint"] and cluster.paths_since(before) == []


@pytest.mark.parametrize(
    ("method", "headers", "body", "status"),
    [
        ("POST", ACCEPT, b"{not json", 400),  # JSON-RPC parse error
        ("POST", ACCEPT, json.dumps({"hello": "world"}).encode(), 400),  # not a JSON-RPC message
        ("POST", {"Accept": "text/html"}, json.dumps(INITIALIZE).encode(), 406),
        ("GET", ACCEPT, b"", 405),  # a stateless server offers no stream
        ("DELETE", ACCEPT, b"", 405),  # nor sessions to end
        ("POST", {**ACCEPT, "Argocd-Application-Name": "argocd"}, json.dumps(INITIALIZE).encode(), 400),
        ("POST", ACCEPT, b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}', 400),  # not UTF-8
        ("POST", ACCEPT, b"[" * 100_000 + b"]" * 100_000, 400),  # 100,000-deep array
        ("POST", ACCEPT, b'{"a":' * 20_000 + b"1" + b"}" * 20_000, 400),  # 20,000-deep object
        ("POST", ACCEPT, json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "x": [[[["["]]]]}}).encode(),
         200),  # brackets inside strings are text, not nesting
    ],
)
def test_malformed_requests_get_the_transports_errors_and_the_server_keeps_serving(stack, method, headers, body,
                                                                                     status):
    response = httpx.request(method, stack.base_url + MCP_PATH, content=body, timeout=30,
                             headers={"Content-Type": "application/json", **headers})
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    if status == 400 and response.json().get("error"):
        assert response.json()["error"]["code"] in (-32700, -32600, -32602), response.text
    assert httpx.get(f"{stack.base_url}/v1/health").status_code == 200
    ok = httpx.post(stack.base_url + MCP_PATH, json=INITIALIZE, headers={**ACCEPT, **EXTENSION_HEADERS}, timeout=30)
    assert ok.status_code == 200 and ok.json()["result"]["serverInfo"]["name"] == "llama-stack-argocd"


# -- behind the proxy-trust distribution, with a small result cap ---------------------------------------------------


@pytest.fixture(scope="module")
def trusted(stack_with: StackStarter) -> StackHandle:
    return stack_with("distributions/argocd/proxy-trust.yaml", env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET},
                      **{"providers.mcp_server.0.config.max_result_tokens": 300})


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-secret-of-enough-length", SECRET])
def test_without_the_proxy_secret_it_is_401(trusted, cluster, authorization):
    headers = {**ACCEPT, **EXTENSION_HEADERS}
    if authorization is not None:
        headers["Authorization"] = authorization
    before = cluster.request_count()
    call_body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                 "params": {"name": "argocd_application", "arguments": {}}}
    for body in (INITIALIZE, call_body):
        response = httpx.post(trusted.base_url + MCP_PATH, json=body, headers=headers, timeout=30)
        assert response.status_code == 401, response.text
        assert "message" in response.json()["error"]
    assert cluster.paths_since(before) == []
    assert SECRET not in trusted.log_text()


async def test_with_the_proxy_secret_it_serves_the_callers_application(trusted):
    result, text = await call(trusted, "argocd_related_resources", {"kind": "Service", "name": fx.SERVICE},
                              headers=PROXIED)
    assert result.isError is False, text
    assert {p["name"] for p in json.loads(text)["selectedPods"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    refused, text = await call(trusted, "argocd_resource_manifest",
                               {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": fx.OTHER_NS}, headers=PROXIED)
    assert refused.isError is True and json.loads(text)["error"] == "out_of_scope"


async def test_a_log_over_the_cap_is_cut_with_a_marker(trusted):
    result, text = await call(trusted, "argocd_container_logs",
                              {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True}, headers=PROXIED)
    assert result.isError is False
    assert MARKER.search(text), text[-200:]
    assert result.meta == {"argocd_truncated": True}
    assert fx.PLANTED_JWT not in text and fx.PLANTED_DB_URL_PASSWORD not in text
    assert count_tokens(text) <= 300
