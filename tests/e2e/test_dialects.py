"""The three front doors on one agent core: Responses, the legacy Agents API and Lightspeed, end to end."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS, MODEL, agents_session, completed, sse_events, stream_response
from tests.support.scripted_llm import Text, ToolCalls

MANIFEST = json.dumps({
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": fx.DEPLOYMENT, "namespace": fx.APP_NS, "managedFields": [{"manager": "x"}]},
    "spec": {"template": {"spec": {"containers": [{"name": "web", "env": [
        {"name": "DB_PASSWORD", "value": fx.PLANTED_PASSWORD}]}]}}},
    "status": {"conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable"}]},
})
EVENTS = json.dumps({"apiVersion": "v1", "items": [
    {"reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container", "count": 9,
     "involvedObject": {"kind": "Pod", "name": fx.CRASHING_POD}, "lastTimestamp": "2026-11-25T06:41:00Z"}]})


def user_messages(request: dict) -> list[str]:
    return [m["content"] if isinstance(m["content"], str) else json.dumps(m["content"])
            for m in request["body"]["messages"] if m["role"] == "user"]


# -- Responses -----------------------------------------------------------------------------------------------------


def extension_input(question: str) -> str:
    return f"{question}\n\n[Attachment:application/json]\n{MANIFEST}\n\n[Attachment:application/json]\n{EVENTS}"


def test_responses_chain_remembers_and_sends_attachments_once(stack, llm):
    first = stream_response(stack, {"model": MODEL, "instructions": "Be brief.", "input": extension_input("Why?"),
                                    "tools": [], "previous_response_id": None})
    first_id = completed(first)["id"]
    text = "".join(e["delta"] for e in first if "delta" in e)
    assert text.startswith("You asked: Why?")
    prompt = user_messages(llm.requests[-1])[-1]
    assert "MinimumReplicasUnavailable" in prompt  # the attachment, digested, reached the model
    assert "managedFields" not in prompt  # noise dropped
    assert fx.PLANTED_PASSWORD not in llm.prompts_text()

    second = stream_response(stack, {"model": MODEL, "instructions": "Be brief.",
                                     "input": extension_input("And now?"), "previous_response_id": first_id})
    meta = completed(second)["metadata"]
    assert meta["argocd_attachments_deduplicated"] == "2" and meta["argocd_attachments_sent"] == "0"
    history = user_messages(llm.requests[-1])
    assert any("Why?" in m for m in history)  # the first turn is remembered
    assert "Unchanged since earlier" in history[-1] and "MinimumReplicasUnavailable" not in history[-1]


def test_empty_previous_response_id_starts_a_new_conversation(stack, llm):
    events = stream_response(stack, {"model": MODEL, "input": "hello", "previous_response_id": ""})
    assert completed(events)["status"] == "completed"


def test_stream_carries_only_text_deltas_and_no_done_marker(stack, llm):
    llm.push(ToolCalls([("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT})]), Text("It crashes."))
    with httpx.stream("POST", f"{stack.base_url}/v1/openai/v1/responses", headers=EXTENSION_HEADERS, timeout=60,
                      json={"model": MODEL, "input": "why", "stream": True}) as response:
        raw = response.read().decode()
    assert "[DONE]" not in raw and "event:" not in raw
    events = sse_events_from(raw)
    deltas = [e for e in events if "delta" in e]  # the extension appends every one: answer text and activity
    assert {e["type"] for e in deltas} == {"response.output_text.delta", "response.reasoning_summary_text.delta"}
    assert "".join(e["delta"] for e in deltas if e["type"] == "response.output_text.delta") == "It crashes."
    assert "".join(e["delta"] for e in deltas).endswith("..._\n\nIt crashes.")
    assert any(e.get("type") == "response.mcp_call.completed" for e in events)


def sse_events_from(raw: str) -> list[dict]:
    return [json.loads(line[6:]) for line in raw.splitlines() if line.startswith("data: ")]


def test_non_streamed_response_lists_server_side_tool_calls(stack, llm):
    llm.push(ToolCalls([("argocd_application", {})]), Text("Out of sync."))
    body = httpx.post(f"{stack.base_url}/v1/responses", headers=EXTENSION_HEADERS, timeout=60,
                      json={"model": MODEL, "input": "status?"}).json()
    kinds = [item["type"] for item in body["output"]]
    assert kinds[0] == "mcp_call" and kinds[-1] == "message"
    assert body["metadata"]["argocd_tools_called"] == "argocd_application"


def test_unknown_model_is_a_client_error(stack):
    response = httpx.post(f"{stack.base_url}/v1/responses", json={"model": "nope/nope", "input": "x"}, timeout=30)
    assert 400 <= response.status_code < 500


def test_models_carry_both_shapes(stack):
    for path in ("/v1/models", "/v1/openai/v1/models"):
        model = next(m for m in httpx.get(stack.base_url + path).json()["data"] if m["id"] == MODEL)
        assert model["identifier"] == MODEL and model["model_type"] == "llm" and model["object"] == "model"
        assert {"created", "owned_by", "provider_id", "provider_resource_id", "type", "metadata"} <= set(model)


# -- Agents ----------------------------------------------------------------------------------------------------------


def agents_turn(stack, agent_id, session_id, question, headers=EXTENSION_HEADERS, stream=True):
    body = {"stream": stream, "messages": [{"role": "user", "content": question}],
            "documents": [{"content": MANIFEST, "mime_type": "text/json"}]}
    url = f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}/turn"
    if not stream:
        return httpx.post(url, json=body, headers=headers, timeout=60)
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        return sse_events(response)


def new_session(stack, headers=EXTENSION_HEADERS):
    return agents_session(httpx, stack.base_url, headers, "You help with Argo CD.", "assistant",
                          name="Assistant for Argo CD")


def test_agents_turns_stream_text_and_remember_the_session(stack, llm):
    agent_id, session_id = new_session(stack)
    llm.push(ToolCalls([("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT})]), Text("It crashes."))
    chunks = agents_turn(stack, agent_id, session_id, "What is wrong?")
    payloads = [c["event"]["payload"] for c in chunks]
    text = "".join(p["delta"]["text"] for p in payloads
                   if p["event_type"] == "step_progress" and p["delta"]["type"] == "text")
    assert text == "\n_Looking up `argocd_containers` (Deployment/guestbook-ui) ..._\n\nIt crashes."
    assert payloads[-1]["turn"]["output_message"]["content"] == "It crashes."  # the activity line is stream-only
    assert payloads[0]["event_type"] == "turn_start" and payloads[-1]["event_type"] == "turn_complete"
    steps = payloads[-1]["turn"]["steps"]
    assert [s["step_type"] for s in steps] == ["inference", "tool_execution", "inference"]

    agents_turn(stack, agent_id, session_id, "And the fix?")
    assert any("What is wrong?" in m for m in user_messages(llm.requests[-1]))
    session = httpx.get(f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}", headers=EXTENSION_HEADERS)
    assert len(session.json()["turns"]) == 2


def test_agents_non_streamed_turn_and_ownership(stack, llm):
    agent_id, session_id = new_session(stack)
    turn = agents_turn(stack, agent_id, session_id, "hello", stream=False).json()
    assert turn["output_message"]["content"].startswith("You asked: hello")
    intruder = {**EXTENSION_HEADERS, "Argocd-Username": "mallory"}
    assert httpx.get(f"{stack.base_url}/v1/agents/{agent_id}", headers=intruder).status_code == 404
    assert agents_turn(stack, agent_id, session_id, "hi", headers=intruder, stream=False).status_code == 404
    assert httpx.delete(f"{stack.base_url}/v1/agents/{agent_id}", headers=EXTENSION_HEADERS).status_code == 204
    assert httpx.get(f"{stack.base_url}/v1/agents/{agent_id}", headers=EXTENSION_HEADERS).status_code == 404


def test_an_agents_turn_cut_by_the_output_token_limit_says_out_of_tokens(stack, llm):
    """The legacy Agents schema's own stop reason, streamed and not; an answer that ended by itself says
    `end_of_turn`."""
    agent_id, session_id = new_session(stack)
    llm.push(Text("The Deployment is missing its", finish="length"))
    payloads = [c["event"]["payload"] for c in agents_turn(stack, agent_id, session_id, "Why?")]
    step = next(p for p in payloads if p["event_type"] == "step_complete")["step_details"]
    assert step["model_response"]["stop_reason"] == "out_of_tokens"
    assert payloads[-1]["turn"]["output_message"]["stop_reason"] == "out_of_tokens"
    llm.push(Text("The Deployment is missing its", finish="length"))
    turn = agents_turn(stack, agent_id, session_id, "Why?", stream=False).json()
    assert turn["output_message"]["stop_reason"] == "out_of_tokens", turn
    llm.push(Text("It is healthy."))
    turn = agents_turn(stack, agent_id, session_id, "And now?", stream=False).json()
    assert turn["output_message"]["stop_reason"] == "end_of_turn"
    assert turn["steps"][-1]["model_response"]["stop_reason"] == "end_of_turn"


# -- Lightspeed ------------------------------------------------------------------------------------------------------


def lightspeed_body(conversation_id: str, query: str, **extra) -> dict:
    return {"conversation_id": conversation_id, "query": query, "system_prompt": "You help with Argo CD.",
            "attachments": [
                {"content": MANIFEST, "content_type": "application/json", "attachment_type": "api object"},
                {"content": EVENTS, "content_type": "application/json", "attachment_type": "event"},
            ], **extra}


def test_lightspeed_streams_plain_text_and_continues_a_client_uuid(stack, llm):
    conversation = str(uuid.uuid4())
    llm.push(ToolCalls([("argocd_application", {})]), Text("The application is out of sync."))
    with httpx.stream("POST", f"{stack.base_url}/v1/streaming_query", headers=EXTENSION_HEADERS, timeout=60,
                      json=lightspeed_body(conversation, "Why degraded?", model="scripted")) as response:
        assert response.headers["content-type"].startswith("text/plain")
        assert "content-length" not in response.headers
        chunks = [c for c in response.iter_text() if c]
    text = "".join(chunks)
    assert len(chunks) > 2 and "The application is out of sync." in text and "argocd_application" in text
    assert not text.lstrip().startswith("data:")

    httpx.post(f"{stack.base_url}/v1/streaming_query", headers=EXTENSION_HEADERS, timeout=60,
               json=lightspeed_body(conversation, "And then?")).read()
    assert any("Why degraded?" in m for m in user_messages(llm.requests[-1]))
    listed = httpx.get(f"{stack.base_url}/v1/conversations", headers=EXTENSION_HEADERS).json()["conversations"]
    assert conversation in {c["conversation_id"] for c in listed}
    history = httpx.get(f"{stack.base_url}/v1/conversations/{conversation}", headers=EXTENSION_HEADERS).json()
    assert len(history["chat_history"]) == 2


def test_lightspeed_json_events_and_query_shape(stack, llm):
    llm.push(ToolCalls([("argocd_application", {})]), Text("Out of sync."))
    with httpx.stream("POST", f"{stack.base_url}/v1/streaming_query", headers=EXTENSION_HEADERS, timeout=60,
                      json={"query": "status?", "media_type": "application/json"}) as response:
        events = sse_events(response)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert {"tool_call", "tool_result", "token"} <= set(kinds)
    assert "available_quotas" in events[-1] and "truncated" in events[-1]["data"]

    answer = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                        json={"query": "hello"}).json()
    assert set(answer) >= {"conversation_id", "response", "referenced_documents", "truncated", "input_tokens",
                           "output_tokens", "available_quotas", "tool_calls", "tool_results"}
    assert answer["response"].startswith("You asked: hello")


def test_lightspeed_validation_errors_have_the_ols_shape(stack):
    cases = [
        {"query": "x", "unknown": 1},
        {"query": ""},
        {"query": "x" * 32_001},
        {"query": "x", "conversation_id": "not-a-uuid"},
        {"query": "x", "provider": "openai"},
        {"query": "x", "attachments": [{"attachment_type": "video", "content_type": "text/plain", "content": "x"}]},
        {"query": "x", "attachments": [{"attachment_type": "log", "content_type": "text/plain", "content": "x"}] * 11},
        {"query": "x", "model": "no-such-model"},
    ]
    for body in cases:
        response = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, json=body, timeout=30)
        assert response.status_code == 422, (body, response.text)
        detail = response.json()["detail"]
        assert set(detail) == {"response", "cause"}, body


def test_lightspeed_conversations_belong_to_their_user(stack, llm):
    conversation = str(uuid.uuid4())
    httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, json={"query": "hi",
               "conversation_id": conversation}, timeout=60)
    intruder = {**EXTENSION_HEADERS, "Argocd-Username": "mallory"}
    assert httpx.get(f"{stack.base_url}/v1/conversations/{conversation}", headers=intruder).status_code == 404
    assert conversation not in json.dumps(httpx.get(f"{stack.base_url}/v1/conversations", headers=intruder).json())
    resumed = httpx.post(f"{stack.base_url}/v1/query", headers=intruder, timeout=60,
                         json={"query": "hi", "conversation_id": conversation})
    assert resumed.status_code == 404
    deleted = httpx.delete(f"{stack.base_url}/v1/conversations/{conversation}", headers=EXTENSION_HEADERS)
    assert deleted.json()["success"] is True


def test_probes_and_feedback(stack):
    assert httpx.get(f"{stack.base_url}/liveness").json() == {"alive": True}
    assert httpx.get(f"{stack.base_url}/readiness").json()["ready"] is True
    assert httpx.get(f"{stack.base_url}/v1/feedback/status").json()["status"]["enabled"] is True


def test_llama_stack_conversations_still_work_beside_lightspeed_ones(stack):
    created = httpx.post(f"{stack.base_url}/v1/conversations", json={"metadata": {"topic": "x"}}).json()
    assert created["id"].startswith("conv_")
    fetched = httpx.get(f"{stack.base_url}/v1/conversations/{created['id']}")
    assert fetched.status_code == 200 and fetched.json()["id"] == created["id"]
    assert httpx.delete(f"{stack.base_url}/v1/conversations/{created['id']}").json()["deleted"] is True


def test_tool_loop_is_bounded(stack, llm):
    def keep_calling(request: dict) -> Text | ToolCalls:
        if not request.get("tools"):  # the last round offers none
            return Text("Enough looking; here is what I found.")
        return ToolCalls([("argocd_application", {})])

    llm.push(*[keep_calling] * 10)
    events = stream_response(stack, {"model": MODEL, "input": "Dig forever."})
    final = completed(events)
    assert final["metadata"]["argocd_tool_rounds"] == "5"
    assert len(llm.requests) == 6 and not llm.requests[-1]["body"].get("tools")
    text = "".join(e["delta"] for e in events if e.get("type") == "response.output_text.delta")
    assert text == "Enough looking; here is what I found."


def test_structured_input_items_are_understood(stack, llm):
    body = {"model": MODEL, "input": [
        {"type": "message", "role": "user",
         "content": [{"type": "input_text", "text": f"Why?\n\n[Attachment:application/json]\n{MANIFEST}"}]}]}
    events = stream_response(stack, body)
    assert completed(events)["metadata"]["argocd_attachments_sent"] == "1"
    assert "MinimumReplicasUnavailable" in user_messages(llm.requests[-1])[-1]
