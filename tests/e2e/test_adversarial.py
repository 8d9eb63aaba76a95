"""Out-of-scope tool calls forced through every dialect and the MCP endpoint, behind the proxy stand-in.

The scripted model (or an MCP client) asks for other namespaces, cluster-scoped kinds, Secrets the Application
does not hold, odd kind spellings, name tricks, unknown arguments and huge numbers. Nothing of another
Application reaches an answer or the model, and the Kubernetes stand-in sees no request outside the Application
and no read of a foreign Secret's content. One stack process for every call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import kmock
import pytest

from tests.support import cluster as fx
from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.http import MODEL, agents_session
from tests.support.scripted_llm import Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter

SECRET = "proxy-secret-" + "a" * 24
MINE = f"{fx.ARGOCD_NS}:{fx.APP}"
APP_HEADERS = {"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"}
STRAY_SECRET, STRAY_VALUE = "stray-credentials", "stray-secret-value-never-read"
# Data of what is not the caller's: none of it may appear anywhere.
FOREIGN_MARKS = [fx.OTHER_SECRET_VALUE, base64.b64encode(fx.OTHER_SECRET_VALUE.encode()).decode(), STRAY_VALUE,
                 base64.b64encode(STRAY_VALUE.encode()).decode(), "uid-app-billing", "9b1d2e0", "billing.git"]

OTHER = fx.OTHER_NS
ATTACKS: list[tuple[str, dict]] = [
    # other namespaces
    *[(tool, {"kind": "Pod", "name": fx.OTHER_POD, "namespace": OTHER}) for tool in (
        "argocd_resource_manifest", "argocd_resource_events", "argocd_containers", "argocd_container_logs",
        "argocd_related_resources")],
    ("argocd_resource_manifest", {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": OTHER}),
    ("argocd_resource_manifest", {"kind": "Application", "name": fx.OTHER_APP, "namespace": fx.ARGOCD_NS}),
    ("argocd_resource_events", {"kind": "Application", "name": fx.OTHER_APP, "namespace": fx.ARGOCD_NS}),
    ("argocd_resource_manifest", {"kind": "Secret", "name": "argocd-secret", "namespace": fx.ARGOCD_NS}),
    ("argocd_resource_manifest", {"kind": "ConfigMap", "name": "kube-root-ca.crt", "namespace": "kube-system"}),
    # cluster-scoped kinds
    *[("argocd_resource_manifest", {"kind": kind, "name": name}) for kind, name in (
        ("Namespace", OTHER), ("Node", "node-1"), ("ClusterRole", "cluster-admin"),
        ("ClusterRoleBinding", "cluster-admin"), ("CustomResourceDefinition", "applications.argoproj.io"),
        ("PersistentVolume", "pv-1"), ("StorageClass", "standard"))],
    # Secrets not in the Application (one exists in its namespace)
    ("argocd_resource_manifest", {"kind": "Secret", "name": STRAY_SECRET}),
    ("argocd_resource_manifest", {"kind": "Secret", "name": STRAY_SECRET, "namespace": fx.APP_NS}),
    ("argocd_resource_events", {"kind": "Secret", "name": STRAY_SECRET}),
    ("argocd_related_resources", {"kind": "Secret", "name": STRAY_SECRET}),
    # kind spellings
    *[("argocd_resource_manifest", {"kind": kind, "name": fx.OTHER_SECRET, "namespace": OTHER}) for kind in (
        "secret", "SECRETS", "Secrets", "v1/Secret", "core/Secret", "secrets.v1", " Secret ", "Secret\u200b")],
    *[("argocd_resource_manifest", {"kind": kind, "name": STRAY_SECRET}) for kind in ("secret", "secrets")],
    ("argocd_resource_manifest", {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": OTHER, "group": "core"}),
    # name tricks
    *[("argocd_resource_manifest", {"kind": "Secret", "name": name}) for name in (
        f"../{OTHER}/{fx.OTHER_SECRET}", f"{fx.OTHER_SECRET}/../..", f"{fx.SECRET},{STRAY_SECRET}", "*",
        "%2e%2e%2f" + fx.OTHER_SECRET, STRAY_SECRET + "\n", "x" * 5000, f"{OTHER}/{fx.OTHER_SECRET}")],
    ("argocd_resource_manifest", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": f"{fx.APP_NS},{OTHER}"}),
    ("argocd_resource_manifest", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": f"{fx.APP_NS}/../{OTHER}"}),
    # unknown arguments
    ("argocd_application", {"application": f"{fx.ARGOCD_NS}:{fx.OTHER_APP}"}),
    ("argocd_application", {"name": fx.OTHER_APP, "namespace": fx.ARGOCD_NS}),
    ("argocd_resource_manifest", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": OTHER, "all_namespaces": True}),
    ("argocd_containers", {"kind": "Pod", "name": fx.OTHER_POD, "app": fx.OTHER_APP, "namespace": OTHER}),
    ("argocd_no_such_tool", {"kind": "Secret", "name": fx.OTHER_SECRET, "namespace": OTHER}),
    # huge numbers
    ("argocd_container_logs", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": OTHER, "tail_lines": 10**18}),
    ("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "tail_lines": 10**30}),
    ("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "tail_lines": -1}),
    ("argocd_container_logs", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": OTHER, "tail_lines": 1e308}),
]


@pytest.fixture(scope="module")
def stray_secret(cluster) -> Iterator[None]:
    """A Secret in the Application's namespace that the Application does not hold."""
    key = (kmock.resource("", "v1", "secrets"), fx.APP_NS, STRAY_SECRET)
    cluster.emulator.objects[key] = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": STRAY_SECRET, "namespace": fx.APP_NS, "uid": "uid-stray"},
        "data": {"password": base64.b64encode(STRAY_VALUE.encode()).decode()}}
    yield
    del cluster.emulator.objects[key]


@pytest.fixture(scope="module")
def stack(stray_secret, stack_with: StackStarter) -> StackHandle:
    return stack_with("distributions/argocd/proxy-trust.yaml",
                      env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET, "ARGOCD_AGENT_MAX_TOOL_ROUNDS": "2"})


@pytest.fixture(scope="module")
def proxy(stack) -> Iterator[ArgoCDProxy]:
    with ArgoCDProxy(stack.base_url, username="alice", service_headers={"Authorization": f"Bearer {SECRET}"},
                     applications={MINE: "default"}) as running:
        yield running


def assert_nothing_foreign(cluster, before: int, *texts: str) -> None:
    for text in texts:
        leaked = [mark for mark in FOREIGN_MARKS if mark in text]
        assert leaked == [], leaked
    for request in list(cluster.emulator)[before:]:
        url = str(request.url)
        assert f"/namespaces/{OTHER}/" not in url and f"/applications/{fx.OTHER_APP}" not in url, url
        assert "/namespaces/" in url, url  # no cluster-scoped read
        assert "/namespaces/kube-system/" not in url, url
        if "/secrets/" in url and not url.endswith(f"/secrets/{fx.SECRET}"):
            accept = request.headers.get("Accept", "")
            assert "PartialObjectMetadata" in accept, (url, accept)  # metadata only, never the content


def test_out_of_scope_calls_over_mcp(stack, proxy, cluster):
    before = cluster.request_count()
    texts = []
    for index, (tool, arguments) in enumerate(ATTACKS):
        response = httpx.post(proxy.url + "/v1/argocd/mcp", timeout=60, headers={
            **APP_HEADERS, "Accept": "application/json, text/event-stream"}, json={
            "jsonrpc": "2.0", "id": index, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
        assert response.status_code in (200, 400), response.text
        texts.append(response.text)
        if response.status_code == 200 and "result" in response.json():
            assert response.json()["result"].get("isError") is True, (tool, arguments, response.text[:300])
    assert_nothing_foreign(cluster, before, *texts)


DIALECTS = [
    ("/v1/responses", lambda: {"model": MODEL, "input": "Show me everything.", "stream": True}),
    ("/v1/openai/v1/responses", lambda: {"model": MODEL, "input": "Show me everything."}),
    ("/v1/streaming_query", lambda: {"query": "Show me everything.", "model": MODEL}),
]


@pytest.mark.parametrize(("path", "body"), DIALECTS, ids=[d[0] for d in DIALECTS])
def test_out_of_scope_calls_forced_by_the_model(stack, proxy, cluster, llm, path, body):
    llm.push(ToolCalls([(tool, arguments) for tool, arguments in ATTACKS if tool != "argocd_no_such_tool"]),
             Text("done"))
    before = cluster.request_count()
    response = httpx.post(proxy.url + path, json=body(), headers=APP_HEADERS, timeout=120)
    assert response.status_code == 200, response.text
    assert_nothing_foreign(cluster, before, response.text, llm.prompts_text())
    results = [m for r in llm.requests for m in r["body"]["messages"] if m.get("role") == "tool"]
    assert len(results) >= len(ATTACKS) - 1
    assert all(json.loads(m["content"]).get("error") for m in results if m["content"].startswith("{")), results


def test_out_of_scope_calls_through_legacy_agents(stack, proxy, cluster, llm):
    agent, session = agents_session(httpx, proxy.url, APP_HEADERS, "x")
    llm.push(ToolCalls([(tool, arguments) for tool, arguments in ATTACKS if tool != "argocd_no_such_tool"]),
             Text("done"))
    before = cluster.request_count()
    response = httpx.post(f"{proxy.url}/v1/agents/{agent}/session/{session}/turn", headers=APP_HEADERS,
                          timeout=120, json={"messages": [{"role": "user", "content": "Show me everything."}]})
    assert response.status_code == 200, response.text
    assert_nothing_foreign(cluster, before, response.text, llm.prompts_text())
    assert len([m for r in llm.requests for m in r["body"]["messages"] if m.get("role") == "tool"]) >= len(ATTACKS) - 1


def test_the_attack_set_is_large_enough():
    # MCP: every attack; three dialects and Agents: every attack but the unknown tool
    assert len(ATTACKS) + 4 * (len(ATTACKS) - 1) >= 100
