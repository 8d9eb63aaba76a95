"""The context tools through the Argo CD API source, end to end: a real `llama stack run` (run.yaml with
ARGOCD_CONTEXT_SOURCE=argocd, the token in a mounted-style file, no kubeconfig), the argocd-server stand-in over real
HTTP, and the scripted model calling every tool. Each answer is compared with the same call answered through the
Kubernetes source (the `stack` fixture) for the same fixtures."""

from __future__ import annotations

import json

import pytest

from tests.support import cluster as fx
from tests.support.argocd_api import ArgoCDApiHandle
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response, tool_outputs
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter

APP_PATH = f"/api/v1/applications/{fx.APP}"


@pytest.fixture(scope="module")
def argo_stack(argocd_api: ArgoCDApiHandle, stack_with: StackStarter) -> StackHandle:
    # each tool's own reads are compared: none made before it (evidence) or kept from an earlier test
    return stack_with(cluster=None, env={"KUBECONFIG": "/nonexistent/kubeconfig", "KUBERNETES_SERVICE_HOST": None,
                                         **argocd_api.env(token_file=True),
                                         "ARGOCD_AGENT_EVIDENCE": "false", "ARGOCD_READ_CACHE_SECONDS": "0"})


def ask(stack: StackHandle, llm: ScriptedLLM, name: str, arguments: dict) -> dict:
    llm.push(ToolCalls([(name, arguments)]), Text("Done."))
    events = stream_response(stack, {"model": MODEL, "input": "What is wrong?"}, headers=EXTENSION_HEADERS)
    return json.loads(tool_outputs(completed(events))[name])


CALLS = [
    ("argocd_application", {}),
    ("argocd_resource_manifest", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_resource_manifest", {"kind": "Secret", "name": fx.SECRET}),
    ("argocd_resource_events", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True}),
    ("argocd_related_resources", {"kind": "Service", "name": fx.SERVICE}),
]


@pytest.mark.parametrize(("tool", "arguments"), CALLS, ids=[f"{t}-{a.get('kind', '')}" for t, a in CALLS])
def test_tools_answer_through_argocd_as_through_kubernetes(argo_stack, stack, llm, argocd_api, tool, arguments):
    before = argocd_api.request_count()
    through_argocd = ask(argo_stack, llm, tool, arguments)
    requests = argocd_api.requests_since(before)
    assert requests and all(r.path.startswith(APP_PATH) for r in requests), "answered by argocd-server"
    assert "error" not in through_argocd, through_argocd
    assert through_argocd == ask(stack, llm, tool, arguments)
    assert not [s for s in fx.PLANTED if s in llm.prompts_text()]


def test_the_useful_content_reaches_the_model(argo_stack, llm):
    application = ask(argo_stack, llm, "argocd_application", {})
    assert application["sync"]["status"] == "OutOfSync" and application["operationState"]["phase"] == "Failed"
    containers = ask(argo_stack, llm, "argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    crashing = next(p for p in containers["pods"] if p["pod"].endswith(fx.CRASHING_POD))
    assert crashing["containers"][0]["reason"] == "CrashLoopBackOff"
    logs = ask(argo_stack, llm, "argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True})
    assert fx.CRASH_LINE in logs["logs"][0]["log"]
    assert fx.CRASH_LINE in llm.requests[-1]["body"]["messages"][-1]["content"]


@pytest.mark.parametrize("arguments", fx.FOREIGN_RESOURCES)
def test_other_applications_are_refused_before_argocd_is_asked(argo_stack, llm, argocd_api, arguments):
    before = argocd_api.request_count()
    result = ask(argo_stack, llm, "argocd_resource_manifest", arguments)
    assert result["error"] == "out_of_scope" and "argocd:guestbook" in result["message"]
    assert [r.path for r in argocd_api.requests_since(before)] == [APP_PATH]
    assert fx.OTHER_SECRET_VALUE not in llm.prompts_text()


def test_hidden_application_is_access_denied_with_the_rbac_hint(argo_stack, llm):
    headers = {**EXTENSION_HEADERS, "Argocd-Application-Name": "argocd:does-not-exist"}
    llm.push(ToolCalls([("argocd_application", {})]), Text("Done."))
    events = stream_response(argo_stack, {"model": MODEL, "input": "status?"}, headers=headers)
    result = json.loads(tool_outputs(completed(events))["argocd_application"])
    assert result["error"] == "access_denied" and "applications, get" in result["hint"]


def test_nothing_was_written_and_the_token_never_left(argo_stack, llm, argocd_api):
    before = argocd_api.request_count()
    logs = ask(argo_stack, llm, "argocd_container_logs", {"kind": "Deployment", "name": fx.DEPLOYMENT})
    assert {entry["pod"] for entry in logs["logs"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    requests = argocd_api.requests_since(before)
    assert {r.headers.get("authorization") for r in requests} == {f"Bearer {argocd_api.token}"}
    assert all(r.param("follow") == "false" for r in requests if r.path.endswith("/logs"))
    assert not argocd_api.writes()
    assert argocd_api.token not in argo_stack.log_text()
    assert argocd_api.token not in llm.prompts_text()
