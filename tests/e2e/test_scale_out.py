"""Two replicas of distributions/argocd/scale-out.yaml on one PostgreSQL: any replica continues what the other began.

Real parts only: a throwaway PostgreSQL 15 cluster (tests/support/postgres.py), two `llama stack run` processes
booted at once, the scripted model (which records the history each turn replays) and the Kubernetes stand-in.
Every dialect crosses replicas (Responses by previous_response_id and by conversation, the legacy Agents API,
Lightspeed); ownership holds across them; a replica SIGKILLed mid-stream or between turns loses nothing that was
already answered.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.http import MODEL, agents_session, completed, sse_events, stream_response
from tests.support.postgres import PostgresHandle, start_postgres
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCalls
from tests.support.stack import ON_OGX, StackHandle, StackStarter

SECRET = "proxy-secret-" + "r" * 24
ALICE = {"Authorization": f"Bearer {SECRET}", "Argocd-Username": "alice", "Argocd-User-Groups": "dev",
         "Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}
MALLORY = {**ALICE, "Argocd-Username": "mallory"}
REQUESTS_PER_HOUR = 1000


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresHandle]:
    with start_postgres() as handle:
        yield handle


@pytest.fixture(scope="module")
def replicas(postgres, stack_with: StackStarter, tmp_path_factory) -> tuple[StackHandle, StackHandle]:
    env = {**postgres.env(), "ARGOCD_ASSISTANT_PROXY_SECRET": SECRET,
           # the ReadWriteMany volume both replicas mount
           "ARGOCD_FILES_DIR": str(tmp_path_factory.mktemp("scale-out") / "shared-files"),
           # The Files API is closed to proxied users unless an operator opens it, as this deployment does.
           "ARGOCD_ASSISTANT_EXTRA_ROUTES": "/v1/files,/v1/files/*"}
    # OGX 1.5 creates its job queue's indexes check-then-create: two replicas starting at once on a fresh database
    # can both try, and the one that loses exits (Kubernetes starts it again); there they start one after the other.
    first, second = stack_with.replicas(2, "distributions/argocd/scale-out.yaml", env=env, together=not ON_OGX, **{
        "providers.responses.0.config.agent.quota.requests_per_hour": REQUESTS_PER_HOUR})
    return first, second


# -- what the model was shown ----------------------------------------------------------------------------------------


def replayed(llm: ScriptedLLM) -> list[tuple[str, str]]:
    """(role, text) of the last model request, system message left out: the history a turn replayed."""
    out = []
    for message in llm.requests[-1]["body"]["messages"]:
        content = message.get("content")
        text = content if isinstance(content, str) else json.dumps(content)
        if message["role"] != "system":
            out.append((message["role"], text or ""))
    return out


def assert_history(llm: ScriptedLLM, *questions: str) -> None:
    """The last request replayed exactly these questions in order, each answered, the last one new."""
    history = replayed(llm)
    users = [text for role, text in history if role == "user"]
    assert len(users) == len(questions), history
    for text, question in zip(users, questions, strict=True):
        assert question in text, (question, text)
    answers = [text for role, text in history if role == "assistant"]
    assert len(answers) == len(questions) - 1, history
    for answer, question in zip(answers, questions, strict=False):
        assert answer.startswith("You asked:") and question in answer, (question, answer)


# -- the dialects' calls ---------------------------------------------------------------------------------------------


def respond(stack: StackHandle, question: str, headers: dict[str, str] = ALICE, **extra: Any) -> dict[str, Any]:
    return completed(stream_response(stack, {"model": MODEL, "input": question, **extra}, headers=headers))


def new_session(stack: StackHandle, headers: dict[str, str] = ALICE) -> tuple[str, str]:
    return agents_session(httpx, stack.base_url, headers, "You help with Argo CD.", "assistant")


def turn_url(stack: StackHandle, agent_id: str, session_id: str) -> str:
    return f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}/turn"


def agents_turn(stack: StackHandle, agent_id: str, session_id: str, question: str) -> list[dict[str, Any]]:
    body = {"stream": True, "messages": [{"role": "user", "content": question}]}
    with httpx.stream("POST", turn_url(stack, agent_id, session_id), json=body, headers=ALICE, timeout=60) as response:
        assert response.status_code == 200, response.read()
        chunks = sse_events(response)
    assert chunks[-1]["event"]["payload"]["event_type"] == "turn_complete"
    return chunks


def ask_lightspeed(stack: StackHandle, conversation: str, question: str, headers: dict[str, str] = ALICE) -> str:
    with httpx.stream("POST", f"{stack.base_url}/v1/streaming_query", headers=headers, timeout=60,
                      json={"query": question, "conversation_id": conversation}) as response:
        assert response.status_code == 200, response.read()
        return response.read().decode()


def session_turns(stack: StackHandle, agent_id: str, session_id: str) -> list[dict[str, Any]]:
    session = httpx.get(f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}", headers=ALICE, timeout=30)
    assert session.status_code == 200, session.text
    return session.json()["turns"]


def lightspeed_history(stack: StackHandle, conversation: str) -> list[dict[str, Any]]:
    found = httpx.get(f"{stack.base_url}/v1/conversations/{conversation}", headers=ALICE, timeout=30)
    assert found.status_code == 200, found.text
    return found.json()["chat_history"]


# -- every dialect crosses replicas ----------------------------------------------------------------------------------


def test_a_responses_chain_continues_on_the_other_replica(replicas, llm):
    a, b = replicas
    first = respond(a, "Remember the word pineapple.")
    second = respond(b, "Which word?", previous_response_id=first["id"])
    assert_history(llm, "Remember the word pineapple.", "Which word?")
    respond(a, "Spell it.", previous_response_id=second["id"])
    assert_history(llm, "Remember the word pineapple.", "Which word?", "Spell it.")

    for stack, response in ((b, first), (a, second)):
        stored = httpx.get(f"{stack.base_url}/v1/responses/{response['id']}", headers=ALICE, timeout=30)
        assert stored.status_code == 200 and stored.json()["output"][-1]["content"][0]["text"].startswith("You asked")
    items = httpx.get(f"{b.base_url}/v1/responses/{second['id']}/input_items", headers=ALICE, timeout=30)
    assert "Which word?" in items.text


def test_a_responses_conversation_continues_on_the_other_replica(replicas, llm):
    a, b = replicas
    created = httpx.post(f"{a.base_url}/v1/conversations", headers=ALICE, json={}, timeout=30)
    assert created.status_code == 200, created.text
    conversation = created.json()["id"]
    llm.push(ToolCalls([("argocd_application", {})]), Text("Noted: mango."))  # a tool round inside the conversation
    first = respond(a, "Remember the word mango.", conversation=conversation)
    assert first["metadata"]["argocd_tools_called"] == "argocd_application"
    respond(b, "Which fruit?", conversation=conversation)
    roles = [role for role, _ in replayed(llm)]
    assert roles == ["user", "assistant", "tool", "assistant", "user"], replayed(llm)
    assert "Remember the word mango." in replayed(llm)[0][1] and replayed(llm)[3][1] == "Noted: mango."
    respond(a, "And its colour?", conversation=conversation)
    users = [text for role, text in replayed(llm) if role == "user"]
    assert len(users) == 3 and all(q in t for q, t in zip(
        ("Remember the word mango.", "Which fruit?", "And its colour?"), users, strict=True)), users
    items = httpx.get(f"{b.base_url}/v1/conversations/{conversation}/items", headers=ALICE, timeout=30)
    assert items.status_code == 200
    assert all(q in items.text for q in ("Remember the word mango.", "Which fruit?", "And its colour?"))
    both = httpx.post(f"{b.base_url}/v1/responses", headers=ALICE, timeout=30, json={
        "model": MODEL, "input": "x", "conversation": conversation, "previous_response_id": first["id"]})
    assert both.status_code == 400, both.text


def test_a_legacy_agents_session_continues_on_the_other_replica(replicas, llm):
    a, b = replicas
    agent_id, session_id = new_session(a)
    agents_turn(b, agent_id, session_id, "Remember the word cherry.")
    agents_turn(a, agent_id, session_id, "Which word?")
    assert_history(llm, "Remember the word cherry.", "Which word?")
    turns = session_turns(b, agent_id, session_id)
    assert [t["input_messages"][0]["content"] for t in turns] == ["Remember the word cherry.", "Which word?"]
    assert turns[1]["output_message"]["content"].startswith("You asked: Which word?")


def test_a_lightspeed_conversation_continues_on_the_other_replica(replicas, llm):
    a, b = replicas
    conversation = str(uuid.uuid4())
    assert "You asked: Remember the word kiwi." in ask_lightspeed(a, conversation, "Remember the word kiwi.")
    ask_lightspeed(b, conversation, "Which word?")
    assert_history(llm, "Remember the word kiwi.", "Which word?")

    listed = httpx.get(f"{b.base_url}/v1/conversations", headers=ALICE, timeout=30).json()["conversations"]
    assert conversation in {c["conversation_id"] for c in listed}
    history = lightspeed_history(b, conversation)
    assert [h["messages"][0]["content"] for h in history] == ["Remember the word kiwi.", "Which word?"]


# -- ownership holds across replicas ---------------------------------------------------------------------------------


def test_another_user_gets_404_on_the_other_replica_in_every_dialect(replicas, llm):
    a, b = replicas
    response = respond(a, "Alice's secret word is walnut.")
    created = httpx.post(f"{a.base_url}/v1/conversations", headers=ALICE, json={}, timeout=30).json()
    agent_id, session_id = new_session(a)
    conversation = str(uuid.uuid4())
    ask_lightspeed(a, conversation, "Alice's question.")
    requests_before = len(llm.requests)

    def on_b(method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, b.base_url + path, headers=MALLORY, timeout=30, **kwargs)

    assert on_b("GET", f"/v1/responses/{response['id']}").status_code == 404
    assert on_b("GET", f"/v1/responses/{response['id']}/input_items").status_code == 404
    assert response["id"] not in on_b("GET", "/v1/responses").text
    assert on_b("POST", "/v1/responses", json={"model": MODEL, "input": "What was the word?",
                                               "previous_response_id": response["id"]}).status_code == 404
    assert on_b("GET", f"/v1/conversations/{created['id']}").status_code == 404
    assert on_b("GET", f"/v1/agents/{agent_id}").status_code == 404
    assert on_b("GET", f"/v1/agents/{agent_id}/session/{session_id}").status_code == 404
    assert on_b("POST", f"/v1/agents/{agent_id}/session/{session_id}/turn",
                json={"stream": False, "messages": [{"role": "user", "content": "hi"}]}).status_code == 404
    assert on_b("GET", f"/v1/conversations/{conversation}").status_code == 404
    assert on_b("POST", "/v1/query", json={"query": "hi", "conversation_id": conversation}).status_code == 404
    assert conversation not in on_b("GET", "/v1/conversations").text
    assert len(llm.requests) == requests_before, "nothing of Alice's reached the model for another user"


# -- a replica dies --------------------------------------------------------------------------------------------------


def start_each_dialect(stack: StackHandle) -> dict[str, Any]:
    """One answered turn in each dialect, begun on `stack`: what a client holds to continue."""
    agent_id, session_id = new_session(stack)
    agents_turn(stack, agent_id, session_id, "Agents: remember plum.")
    conversation = str(uuid.uuid4())
    ask_lightspeed(stack, conversation, "Lightspeed: remember lime.")
    response = respond(stack, "Responses: remember fig.")
    return {"agents": (agent_id, session_id), "lightspeed": conversation, "responses": response["id"]}


def continue_each_dialect(stack: StackHandle, llm: ScriptedLLM, held: dict[str, Any], answered: int) -> None:
    """Continue all three on `stack`: each replays its answered turn, and nothing of a turn cut short."""
    agent_id, session_id = held["agents"]
    agents_turn(stack, agent_id, session_id, "Agents: which fruit?")
    assert_history(llm, "Agents: remember plum.", "Agents: which fruit?")
    assert len(session_turns(stack, agent_id, session_id)) == answered + 1

    ask_lightspeed(stack, held["lightspeed"], "Lightspeed: which fruit?")
    assert_history(llm, "Lightspeed: remember lime.", "Lightspeed: which fruit?")
    assert len(lightspeed_history(stack, held["lightspeed"])) == answered + 1

    respond(stack, "Responses: which fruit?", previous_response_id=held["responses"])
    assert_history(llm, "Responses: remember fig.", "Responses: which fruit?")


def test_a_replica_killed_between_turns_loses_nothing(replicas, llm):
    a, b = replicas
    held = start_each_dialect(a)
    a.kill()
    try:
        continue_each_dialect(b, llm, held, answered=1)
    finally:
        a.start()


def test_a_replica_killed_mid_stream_loses_nothing_already_answered(replicas, llm):
    a, b = replicas
    held = start_each_dialect(a)
    agent_id, session_id = held["agents"]
    cut_short = {
        "agents": ("POST", turn_url(b, agent_id, session_id),
                   {"stream": True, "messages": [{"role": "user", "content": "Agents: cut short"}]}),
        "lightspeed": ("POST", f"{b.base_url}/v1/streaming_query",
                       {"query": "Lightspeed: cut short", "conversation_id": held["lightspeed"]}),
        "responses": ("POST", f"{b.base_url}/v1/responses",
                      {"model": MODEL, "input": "Responses: cut short", "stream": True,
                       "previous_response_id": held["responses"]}),
    }
    streaming = {name: threading.Event() for name in cut_short}
    outcome: dict[str, str] = {}

    def stream(name: str) -> None:
        method, url, body = cut_short[name]
        try:
            with httpx.stream(method, url, json=body, headers=ALICE, timeout=60) as response:
                for chunk in response.iter_text():
                    if "answer" in chunk:
                        streaming[name].set()
            outcome[name] = "finished"
        except httpx.HTTPError as exc:
            outcome[name] = f"cut: {type(exc).__name__}"
        finally:
            streaming[name].set()

    long_answer = "partial answer " + " ".join(["word"] * 400)
    llm.push(*[Text(long_answer)] * len(cut_short))
    llm.chunk_delay, delay = 0.05, llm.chunk_delay
    threads = [threading.Thread(target=stream, args=(name,), daemon=True) for name in cut_short]
    try:
        for thread in threads:
            thread.start()
        for name, event in streaming.items():
            assert event.wait(30), f"{name} never started streaming"
        assert not outcome, f"a stream ended before the kill: {outcome}"
        b.kill()
        for thread in threads:
            thread.join(30)
    finally:
        llm.chunk_delay = delay
        llm.script.clear()
    assert set(outcome) == set(cut_short) and all(v.startswith("cut") for v in outcome.values()), outcome
    try:
        continue_each_dialect(a, llm, held, answered=1)
        assert "cut short" not in json.dumps(llm.requests[-1]["body"]["messages"])
    finally:
        b.start()


@pytest.mark.skipif(ON_OGX, reason="OGX 1.5's kv_postgres reconnects by itself (the test below)")
def test_after_a_database_restart_liveness_fails_and_a_restarted_replica_continues(replicas, postgres, llm):
    """llama-stack's kv_postgres never reconnects: /liveness says so, the kubelet restarts the pod, nothing is lost."""
    a, b = replicas
    conversation = str(uuid.uuid4())
    ask_lightspeed(a, conversation, "Remember the word date.")
    assert httpx.get(f"{b.base_url}/liveness").status_code == 200
    postgres.restart()
    try:
        touched = httpx.post(f"{b.base_url}/v1/query", headers=ALICE, timeout=60,
                             json={"query": "Which word?", "conversation_id": conversation})
        assert touched.status_code == 500  # the dead connection fails once, and is then known closed
        alive = httpx.get(f"{b.base_url}/liveness", timeout=30)
        assert alive.status_code == 503 and "lightspeed" in alive.json()["detail"]["cause"], alive.text
    finally:
        for stack in (a, b):  # what the kubelet does after the failed liveness probes
            stack.restart()
    assert httpx.get(f"{b.base_url}/liveness").status_code == 200
    ask_lightspeed(b, conversation, "Which word?")
    assert_history(llm, "Remember the word date.", "Which word?")


@pytest.mark.skipif(not ON_OGX, reason="llama-stack 0.7's kv_postgres stays closed (the test above)")
def test_after_a_database_restart_a_replica_reconnects_by_itself_and_continues(replicas, postgres, llm):
    """OGX 1.5's kv_postgres holds a pool that reconnects: the replica answers on and stays alive, nothing is lost."""
    a, b = replicas
    conversation = str(uuid.uuid4())
    ask_lightspeed(a, conversation, "Remember the word date.")
    postgres.restart()
    ask_lightspeed(b, conversation, "Which word?")
    assert_history(llm, "Remember the word date.", "Which word?")
    assert httpx.get(f"{b.base_url}/liveness", timeout=30).status_code == 200


# -- what else replicas share ----------------------------------------------------------------------------------------


def test_quota_counts_turns_on_every_replica(replicas):
    a, b = replicas
    quota_user = {**ALICE, "Argocd-Username": f"quota-{uuid.uuid4().hex[:8]}"}
    left = []
    for stack in (a, b, a):
        answer = httpx.post(f"{stack.base_url}/v1/query", headers=quota_user, json={"query": "hi"}, timeout=60)
        assert answer.status_code == 200, answer.text
        left.append(answer.json()["available_quotas"]["UserRequestQuota"])
    assert left == [REQUESTS_PER_HOUR - 1, REQUESTS_PER_HOUR - 2, REQUESTS_PER_HOUR - 3]


def test_a_file_uploaded_to_one_replica_is_read_from_the_other_on_a_shared_volume(replicas):
    a, b = replicas
    uploaded = httpx.post(f"{a.base_url}/v1/files", headers=ALICE, timeout=30, data={"purpose": "assistants"},
                          files={"file": ("notes.txt", b"sync wave 3 waits for the database", "text/plain")})
    assert uploaded.status_code == 200, uploaded.text
    file_id = uploaded.json()["id"]
    content = httpx.get(f"{b.base_url}/v1/files/{file_id}/content", headers=ALICE, timeout=30)
    assert content.status_code == 200 and content.content == b"sync wave 3 waits for the database"
    assert httpx.get(f"{b.base_url}/v1/files/{file_id}", headers=MALLORY, timeout=30).status_code == 404


def test_every_store_is_in_postgresql(replicas, postgres):
    a, b = replicas
    tables = {row[0] for row in postgres.query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")}
    assert {"llama_stack_argocd_kv", "responses", "openai_conversations", "conversation_messages",
            "openai_files"} <= tables, tables
    namespaces = {row[0] for row in postgres.query("SELECT DISTINCT split_part(key, ':', 1) FROM llama_stack_argocd_kv")}
    assert {"registry", "agents", "legacy_agents", "lightspeed"} <= namespaces, namespaces
    for stack in (a, b):
        local = [p for p in Path(stack.state_dir).rglob("*") if p.suffix in (".db", ".sqlite", ".db-wal")]
        assert local == [], f"state written next to a replica instead of PostgreSQL: {local}"
