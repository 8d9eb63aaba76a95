"""The Argo CD context tools, end to end: a real `llama stack run`, real HTTP to the Kubernetes stand-in, and a
scripted model that calls the tools through a Responses request, as the extension's V2 provider sends it."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response, tool_outputs
from tests.support.scripted_llm import Text, ToolCalls

TOOLS = {
    "argocd_application", "argocd_resource_manifest", "argocd_resource_events",
    "argocd_containers", "argocd_container_logs", "argocd_related_resources",
}


def ask_with_tool(stack, llm, name, arguments, headers=EXTENSION_HEADERS, **body):
    llm.push(ToolCalls([(name, arguments)]), Text("Done."))
    events = stream_response(stack, {"model": MODEL, "input": "What is wrong?", **body}, headers=headers)
    output = tool_outputs(completed(events))[name]
    return json.loads(output), events


def test_tools_are_listed_in_their_group(stack):
    listed = httpx.get(f"{stack.base_url}/v1/tools", params={"toolgroup_id": "argocd::context"}).json()["data"]
    assert {t["name"] for t in listed} == TOOLS
    for tool in listed:
        assert tool["description"] and tool["input_schema"]["type"] == "object"
        assert "application" not in tool["input_schema"]["properties"]  # the model never picks the scope


def test_application_tool_reports_sync_health_and_failed_operation(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_application", {})
    assert result["sync"] == {"status": "OutOfSync", "revision": "3f2a9c1"}
    assert result["health"]["status"] == "Degraded"
    assert result["operationState"]["phase"] == "Failed"
    assert result["operationState"]["failedResults"][0]["name"] == "guestbook-config"
    assert {(r["kind"], r["name"]) for r in result["resources"]} >= {("Deployment", fx.DEPLOYMENT)}
    # the model was given the tool output to answer from
    last = llm.requests[-1]["body"]["messages"][-1]
    assert last["role"] == "tool" and "OutOfSync" in last["content"]


def test_manifest_drops_noise_and_redacts_secret_env(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_resource_manifest", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    manifest = result["manifest"]
    assert "managedFields" not in manifest["metadata"]
    assert "annotations" not in manifest["metadata"]
    env = {e["name"]: e for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == "[REDACTED]"
    assert result["redacted_values"] >= 1
    assert fx.PLANTED_PASSWORD not in llm.prompts_text()


def test_secret_manifest_has_keys_only(stack, llm):
    result, events = ask_with_tool(stack, llm, "argocd_resource_manifest", {"kind": "Secret", "name": "guestbook-secret"})
    assert result["manifest"]["data"] == {"token": "[REDACTED]"}
    encoded = base64.b64encode(fx.SECRET_VALUE.encode()).decode()
    for leak in (fx.SECRET_VALUE, encoded):
        assert leak not in llm.prompts_text()
        assert leak not in json.dumps(events)


def test_events_of_a_deployment_include_its_pods_grouped_newest_first(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_resource_events", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    events = result["events"]
    backoff = next(e for e in events if e["reason"] == "BackOff")
    assert backoff["count"] == 45 and backoff["type"] == "Warning"  # two events of one kind, grouped
    assert backoff["last_seen"] == "2026-11-25T06:41:00Z"
    assert [e["last_seen"] for e in events] == sorted((e["last_seen"] for e in events), reverse=True)
    assert all("billing" not in e["object"] for e in events)


def test_containers_show_crashloop_with_last_exit(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    pods = {p["pod"].split("/")[1]: p for p in result["pods"]}
    web = pods[fx.CRASHING_POD]["containers"][0]
    assert web["state"] == "waiting" and web["reason"] == "CrashLoopBackOff"
    assert web["restartCount"] == 7
    assert web["lastTermination"] == {"state": "terminated", "reason": "Error", "exitCode": 1,
                                      "finishedAt": "2026-11-25T06:40:00Z"}
    assert pods[fx.HEALTHY_POD]["containers"][0]["ready"] is True


def test_previous_logs_keep_the_crash_and_hide_credentials(stack, llm):
    result, _ = ask_with_tool(
        stack, llm, "argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True}
    )
    log = result["logs"][0]["log"]
    assert fx.CRASH_LINE in log and "ConnectionRefusedError" in log
    assert "[x40]" in log  # the repeated health check collapsed with its count
    for secret in (fx.PLANTED_JWT, fx.PLANTED_DB_URL_PASSWORD):
        assert secret not in log
        assert secret not in llm.prompts_text()


def test_related_resources_follow_owners_and_selectors(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_related_resources", {"kind": "Pod", "name": fx.CRASHING_POD})
    assert result["owners"] == [f"ReplicaSet/{fx.REPLICASET}", f"Deployment/{fx.DEPLOYMENT}"]
    service, _ = ask_with_tool(stack, llm, "argocd_related_resources", {"kind": "Service", "name": fx.SERVICE})
    assert {p["name"] for p in service["selectedPods"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    deployment, _ = ask_with_tool(stack, llm, "argocd_related_resources", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    assert {c["name"] for c in deployment["children"]} == {fx.REPLICASET, fx.HEALTHY_POD, fx.CRASHING_POD}


@pytest.mark.parametrize("arguments", fx.FOREIGN_RESOURCES)
def test_resources_of_another_application_are_refused(stack, llm, cluster, arguments):
    before = cluster.request_count()
    result, events = ask_with_tool(stack, llm, "argocd_resource_manifest", arguments)
    assert result["error"] == "out_of_scope"
    assert "argocd:guestbook" in result["message"]
    assert "billing-db-password" not in json.dumps(events) and "billing:1" not in json.dumps(events)
    # what the model saw is the refusal
    assert "out_of_scope" in llm.requests[-1]["body"]["messages"][-1]["content"]
    assert not any(f"/namespaces/{fx.OTHER_NS}/" in p for p in cluster.paths_since(before)), "fetched before refusal"


def test_bad_arguments_come_back_as_a_readable_error(stack, llm):
    result, _ = ask_with_tool(stack, llm, "argocd_container_logs", {"kind": "Pod", "tail_lines": -3})
    assert result["error"] == "invalid_argument" and "name" in result["message"]
    unknown, _ = ask_with_tool(stack, llm, "argocd_resource_manifest", {"kind": "Gizmo", "name": "x"})
    assert unknown["error"] == "invalid_argument" and "Deployment" in unknown["hint"]


def test_direct_caller_names_the_application_in_metadata(stack, llm):
    llm.push(ToolCalls([("argocd_application", {})]), Text("Done."))
    events = stream_response(
        stack, {"model": MODEL, "input": "status?", "metadata": {"argocd_application": "argocd:guestbook"}},
        path="/v1/responses", headers={},
    )
    assert json.loads(tool_outputs(completed(events))["argocd_application"])["sync"]["status"] == "OutOfSync"


def test_without_an_application_the_tool_says_how_to_give_one(stack, llm):
    llm.push(ToolCalls([("argocd_application", {})]), Text("Done."))
    events = stream_response(stack, {"model": MODEL, "input": "status?"}, path="/v1/responses", headers={})
    result = json.loads(tool_outputs(completed(events))["argocd_application"])
    assert result["error"] == "invalid_argument" and "argocd_application" in result["hint"]


def test_kubernetes_api_down_is_a_tool_error_not_a_crash(stack, llm, cluster):
    # An Application that does not exist: the read 404s and the model is told, the server keeps serving.
    headers = {**EXTENSION_HEADERS, "Argocd-Application-Name": "argocd:does-not-exist"}
    result, _ = ask_with_tool(stack, llm, "argocd_application", {}, headers=headers)
    assert result["error"] == "not_found" and "does-not-exist" in result["message"]
    assert httpx.get(f"{stack.base_url}/v1/health").status_code == 200
