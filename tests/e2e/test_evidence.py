"""Evidence before the first model call, end to end: a real `llama stack run` reading the Kubernetes stand-in, the
scripted model recording what it was sent. A turn with an Application in scope and no attachments reaches the model
with the crash evidence already in its first prompt, without a tool call; nothing outside the caller's Application
is read; the read cache never answers for another Application; one turn reads each object once."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response
from tests.support.scripted_llm import Text, ToolCalls, message_text
from tests.support.stack import ROOT, running_stack, write_config

PREVIOUS_LOG = f"/api/v1/namespaces/{fx.APP_NS}/pods/{fx.CRASHING_POD}/log"
BILLING = {**EXTENSION_HEADERS, "Argocd-Application-Name": f"{fx.ARGOCD_NS}:{fx.OTHER_APP}"}


@pytest.fixture(scope="module")
def stack(cluster, llm, tmp_path_factory):
    config = write_config(ROOT / "run.yaml", tmp_path_factory.mktemp("config"))
    env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-test", "ARGOCD_READ_CACHE_SECONDS": "30",
           **cluster.kubeconfig_env()}
    with running_stack(config, env) as handle:
        yield handle


def first_user_text(llm) -> str:
    messages = llm.requests[0]["body"]["messages"]
    return "\n".join(message_text(m) for m in messages if m.get("role") == "user")


def paths(cluster, since: int) -> list[str]:
    return [p.split("//", 1)[-1].partition("/")[2] for p in cluster.paths_since(since)]


def test_one_turn_reads_each_object_once_evidence_and_tools_together(stack, llm, cluster):
    """First in the module, so the cache starts cold: the evidence reads everything once, and the tools the model
    then calls about the same workload are answered from those reads."""
    llm.push(ToolCalls([("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
                        ("argocd_resource_events", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
                        ("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True})]),
             Text("The database refuses connections."))
    before = cluster.request_count()
    response = completed(stream_response(stack, {"model": MODEL, "input": "Why is the guestbook failing?"}))
    assert response["metadata"]["argocd_tool_rounds"] == "1"
    read = paths(cluster, before)
    assert f"apis/argoproj.io/v1alpha1/namespaces/{fx.ARGOCD_NS}/applications/{fx.APP}" in read
    assert any(p.startswith(PREVIOUS_LOG[1:]) and "previous=true" in p for p in read)
    repeated = {p: n for p, n in Counter(read).items() if n > 1}
    assert repeated == {}, repeated


def test_first_prompt_holds_the_crash_evidence_with_no_tool_call(stack, llm):
    llm.push(Text("The web container cannot reach its database."))
    response = completed(stream_response(stack, {"model": MODEL, "input": "Why is this failing?"}))
    assert len(llm.requests) == 1  # one model call: no tool round was needed to see the evidence
    assert response["metadata"]["argocd_tool_rounds"] == "0"
    assert response["metadata"]["argocd_evidence_sent"] == "true"
    assert int(response["metadata"]["argocd_evidence_read"]) >= 1
    prompt = first_user_text(llm)
    assert fx.CRASH_LINE in prompt  # the previous instance's log line
    assert "BackOff" in prompt and "CrashLoopBackOff" in prompt  # the event and the container state
    assert 'ConfigMap "guestbook-config" is invalid' in prompt  # the failed sync result
    # right after the question, ahead of anything else
    assert prompt.index("Why is this failing?") < prompt.index("Checked before answering")
    for secret in fx.PLANTED:
        assert secret not in llm.prompts_text()


def test_evidence_is_sent_once_per_conversation(stack, llm):
    llm.push(Text("First answer."), Text("Second answer."))
    first = completed(stream_response(stack, {"model": MODEL, "input": "Why is this failing?"}))
    second = completed(stream_response(stack, {"model": MODEL, "input": "And what now?",
                                               "previous_response_id": first["id"]}))
    assert first["metadata"]["argocd_evidence_sent"] == "true"
    assert second["metadata"]["argocd_evidence_sent"] == "false"  # unchanged: the conversation has it already
    assert second["metadata"]["argocd_history_over_budget"] == "false"  # it fits the history share next turn
    last_user = [m for m in llm.requests[1]["body"]["messages"] if m.get("role") == "user"][-1]
    assert "Checked before answering" not in message_text(last_user)


def test_nothing_outside_the_callers_application_is_read(stack, llm, cluster):
    llm.push(Text("I can only look at guestbook."))
    before = cluster.request_count()
    question = (f"Why is Pod/{fx.OTHER_POD} failing? Compare {fx.OTHER_SECRET} in namespace {fx.OTHER_NS} and "
                f"Application {fx.OTHER_APP}.")
    completed(stream_response(stack, {"model": MODEL, "input": question}))
    read = paths(cluster, before)
    assert not [p for p in read if f"/namespaces/{fx.OTHER_NS}/" in p or p.endswith(f"applications/{fx.OTHER_APP}")]
    assert fx.OTHER_SECRET_VALUE not in llm.prompts_text()


def test_the_cache_never_answers_for_another_application(stack, llm, cluster):
    llm.push(Text("guestbook"), Text("billing"))
    completed(stream_response(stack, {"model": MODEL, "input": "Why is this failing?"}))
    before = cluster.request_count()
    completed(stream_response(stack, {"model": MODEL, "input": "Why is this failing?"}, headers=BILLING))
    read = paths(cluster, before)
    # billing's own Application is read for billing's caller, though guestbook's reads are still kept
    assert f"apis/argoproj.io/v1alpha1/namespaces/{fx.ARGOCD_NS}/applications/{fx.OTHER_APP}" in read
    billing_prompt = "\n".join(message_text(m) for m in llm.requests[1]["body"]["messages"] if m.get("role") == "user")
    assert "Checked before answering: Argo CD Application argocd:billing" in billing_prompt
    assert fx.DEPLOYMENT not in billing_prompt and fx.CRASH_LINE not in billing_prompt
    assert not [p for p in read if f"/namespaces/{fx.APP_NS}/" in p]  # nothing of guestbook read for billing


def test_without_an_application_nothing_is_gathered(stack, llm, cluster):
    llm.push(Text("A sync wave orders resources."))
    headers = {k: v for k, v in EXTENSION_HEADERS.items() if k != "Argocd-Application-Name"}
    before = cluster.request_count()
    response = completed(stream_response(stack, {"model": MODEL, "input": "What is a sync wave?"}, headers=headers))
    assert response["metadata"]["argocd_evidence_sent"] == "false"
    assert cluster.request_count() == before
    assert "Checked before answering" not in json.dumps(llm.requests[0]["body"])
