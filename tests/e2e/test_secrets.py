"""The planted-secret corpus end to end: a real `llama stack run`, the Kubernetes stand-in holding the corpus
(tests/support/secrets_corpus.py), the scripted model recording every request, every dialect and the MCP endpoint.

Figures: 0 planted secrets in anything sent to the model, in any response, in any stored file, in the server log;
harmless look-alikes reach the model intact (false positives <= 5%).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llama_stack_argocd.context.redaction import MASK
from tests.support import secrets_corpus as corpus_data
from tests.support.cluster import ClusterHandle, start_cluster
from tests.support.http import MODEL, agents_session
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCalls, message_text, module_fixture
from tests.support.stack import StackHandle, StackStarter

CORPUS = corpus_data.load()
HEADERS = {"Argocd-Application-Name": f"{corpus_data.ARGOCD_NS}:{corpus_data.LAB_APP}", "Argocd-Username": "alice"}
POD = {"kind": "Pod", "name": corpus_data.POD}
CALLS = [
    ("argocd_application", {}),
    ("argocd_resource_manifest", {"kind": "Deployment", "name": corpus_data.DEPLOYMENT}),
    ("argocd_resource_manifest", POD),
    ("argocd_resource_manifest", {"kind": "ConfigMap", "name": corpus_data.CONFIGMAP}),
    ("argocd_resource_events", POD),
    ("argocd_container_logs", {**POD, "container": corpus_data.CONTAINER}),
]
QUESTION = corpus_data.question(CORPUS)
ATTACHMENT = corpus_data.attachment(CORPUS)


@pytest.fixture(scope="module")
def lab() -> Iterator[ClusterHandle]:
    with start_cluster(seed=corpus_data.seed) as handle:
        yield handle


model = module_fixture(chunk_delay=0)  # not `llm`: its requests add up over the module (conftest clears `llm`'s)


@pytest.fixture(scope="module")
def stack(lab: ClusterHandle, model: ScriptedLLM, stack_with: StackStarter) -> StackHandle:
    # A window large enough that nothing is cut: what is withheld is withheld by redaction, not by the budget.
    return stack_with(model=model, cluster=lab, **{"providers.responses.0.config.agent.default_context_window": 200000})


def echo_everything(request: dict) -> Text:
    """The answer repeats every message the model got, so whatever reached the model would reach the response."""
    return Text(" ".join(message_text(m) for m in request["messages"]))


def script(model: ScriptedLLM) -> None:
    model.push(ToolCalls(CALLS), echo_everything)


def model_texts(model: ScriptedLLM) -> str:
    return "\n".join(message_text(m) for r in list(model.requests) for m in r["body"]["messages"])


@pytest.fixture(scope="module")
def bodies(stack: StackHandle, model: ScriptedLLM) -> dict[str, str]:
    """One turn through each dialect and each tool through the MCP endpoint; every response body, by route."""
    out: dict[str, str] = {}
    base = stack.base_url
    script(model)
    answer = httpx.post(f"{base}/v1/responses", headers=HEADERS, timeout=120, json={
        "model": MODEL, "input": f"{QUESTION}\n\n[Attachment:text/plain]\n{ATTACHMENT}", "stream": False})
    assert answer.status_code == 200, answer.text
    response_id = answer.json()["id"]
    out["responses"] = answer.text
    out["responses input_items"] = httpx.get(f"{base}/v1/responses/{response_id}/input_items", headers=HEADERS).text
    out["responses get"] = httpx.get(f"{base}/v1/responses/{response_id}", headers=HEADERS).text

    script(model)
    conversation = str(uuid.uuid4())
    with httpx.stream("POST", f"{base}/v1/streaming_query", headers=HEADERS, timeout=120, json={
        "conversation_id": conversation, "query": QUESTION, "system_prompt": f"Context: {ATTACHMENT}",
        "attachments": [{"content": ATTACHMENT, "content_type": "text/plain", "attachment_type": "log"}],
    }) as streamed:
        assert streamed.status_code == 200
        out["lightspeed stream"] = streamed.read().decode()
    out["lightspeed conversation"] = httpx.get(f"{base}/v1/conversations/{conversation}", headers=HEADERS).text
    out["lightspeed conversations"] = httpx.get(f"{base}/v1/conversations", headers=HEADERS).text

    script(model)
    agent_id, session_id = agents_session(httpx, base, HEADERS, f"You help with Argo CD. {QUESTION}", "lab")
    turn = httpx.post(f"{base}/v1/agents/{agent_id}/session/{session_id}/turn", headers=HEADERS, timeout=120, json={
        "stream": True, "messages": [{"role": "user", "content": QUESTION}],
        "documents": [{"content": ATTACHMENT, "mime_type": "text/plain"}]})
    assert turn.status_code == 200, turn.text
    out["agents turn"] = turn.text
    out["agents session"] = httpx.get(f"{base}/v1/agents/{agent_id}/session/{session_id}", headers=HEADERS).text
    out["agents agent"] = httpx.get(f"{base}/v1/agents/{agent_id}", headers=HEADERS).text

    mcp_headers = {**HEADERS, "Accept": "application/json, text/event-stream"}
    for index, (name, arguments) in enumerate(CALLS):
        call = httpx.post(f"{base}/v1/argocd/mcp", headers=mcp_headers, timeout=60, json={
            "jsonrpc": "2.0", "id": index, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
        assert call.status_code == 200 and '"isError":false' in call.text.replace(" ", ""), call.text
        out[f"mcp {name} {index}"] = call.text
    return out


def test_the_turns_really_carried_the_corpus(bodies, model):
    """Guards the figures below: the tools ran and read the lab, and the model saw the question and the tool results."""
    seen = model_texts(model)
    assert len(model.requests) == 6  # two rounds per dialect
    assert corpus_data.CONFIGMAP in seen and "requirepass" in seen and "LabReason" in seen
    assert seen.count("The admin password is") >= 3 and MASK in seen


def test_no_secret_reaches_the_model(bodies, model):
    leaked = CORPUS.leaks(model.prompts_text() + model_texts(model))
    assert [(p.form, p.item) for p in leaked] == []


def test_harmless_values_reach_the_model_intact(bodies, model):
    lost = CORPUS.lost_harmless(model_texts(model))
    assert len(lost) <= 0.05 * CORPUS.harmless_count, lost


def test_no_secret_in_any_response(bodies):
    leaks = {route: [p.form for p in CORPUS.leaks(body)] for route, body in bodies.items()}
    assert {route: forms for route, forms in leaks.items() if forms} == {}


def test_what_is_stored_is_the_redacted_text(bodies):
    """The stored question is what the model got: Lightspeed conversations and Agents sessions show it redacted."""
    for route in ("lightspeed conversation", "agents session", "responses input_items"):
        assert "The admin password is" in bodies[route] and MASK in bodies[route], route


def test_no_secret_in_any_stored_file(bodies, stack):
    stored = "\n".join(path.read_bytes().decode(errors="replace") for path in Path(stack.state_dir).rglob("*")
                       if path.is_file() and not path.name.startswith("server-"))
    assert stored, "nothing was stored"
    assert [(p.form, p.item) for p in CORPUS.leaks(stored)] == []


def test_no_secret_in_the_server_log(bodies, stack):
    assert [(p.form, p.item) for p in CORPUS.leaks(stack.log_text())] == []
