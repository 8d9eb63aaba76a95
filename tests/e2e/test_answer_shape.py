"""What the user sees of a turn in every dialect the extension renders: the tool activity lines while the agent
reads (never replayed to the model), and, for models configured for it, the diagnosis block the answer starts with
(the same in the stream and in the stored conversation). Real `llama stack run`, the scripted model over HTTP."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.http import EXTENSION_HEADERS, MODEL, agents_session, completed, sse_events, stream_response
from tests.support.stack import StackHandle
from tests.support.scripted_llm import Text, ToolCalls

ANSWER = "The web container cannot reach its database."
ACTIVITY = "_Looking up `argocd_resource_events` (Deployment/guestbook-ui) ..._"
CALL = ("argocd_resource_events", {"kind": "Deployment", "name": fx.DEPLOYMENT})
OUT_OF_SCOPE = ("argocd_resource_events", {"kind": "Pod", "name": fx.OTHER_POD, "namespace": fx.OTHER_NS})
# An event whose message holds `"`, `&` (the extension double-escapes them inside backticks) and a planted token.
PROBE = 'Readiness probe failed: Get "http://10.0.0.13:8080/healthz?probe=1&full=true": connection refused'
HOOK = f'PostStartHook failed: curl -H "Authorization: Bearer {fx.PLANTED_EVENT_TOKEN}" http://registry/warmup'
EVENTS = json.dumps({"apiVersion": "v1", "items": [
    {"reason": "Unhealthy", "type": "Warning", "message": PROBE, "count": 9,
     "involvedObject": {"kind": "Pod", "name": fx.CRASHING_POD}},
    {"reason": "FailedPostStartHook", "type": "Warning", "message": HOOK, "count": 2,
     "involvedObject": {"kind": "Pod", "name": fx.CRASHING_POD}}]})
MANIFEST = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": fx.DEPLOYMENT, "namespace": fx.APP_NS},
                       "status": {"conditions": [{"type": "Available", "status": "False",
                                                  "reason": "MinimumReplicasUnavailable"}]}})
DIALECTS = ["responses", "openai-responses", "responses-object", "agents", "agents-object", "lightspeed",
            "lightspeed-query"]
STREAMED = ["responses", "openai-responses", "agents", "lightspeed"]


@pytest.fixture(scope="module")
def diagnosing(cluster, llm, stack_with) -> StackHandle:
    """run.yaml with the scripted model configured for the diagnosis block (as the embedded one is by default)."""
    return stack_with(**{"providers.responses.0.config.agent.diagnosis_block": {"openai/scripted": True}})


# -- one client per dialect, as the extension drives it -------------------------------------------------------------


@dataclass
class Chat:
    """A conversation in one dialect: `ask` returns what the extension would show, `stored` the kept answers."""

    stack: StackHandle
    dialect: str
    state: dict[str, Any] = field(default_factory=dict)

    def ask(self, question: str, attachments: bool = True) -> str:
        return getattr(self, "_" + self.dialect.split("-")[0].replace("openai", "responses"))(question, attachments)

    # Responses: the attachments packed into `input`, the chain by previous_response_id
    def _responses(self, question: str, attachments: bool) -> str:
        text = question + (f"\n\n[Attachment:application/json]\n{MANIFEST}"
                           f"\n\n[Attachment:application/json]\n{EVENTS}" if attachments else "")
        body = {"model": MODEL, "input": text, "previous_response_id": self.state.get("previous")}
        path = "/v1/openai/v1/responses" if self.dialect == "openai-responses" else "/v1/responses"
        if self.dialect == "responses-object":
            response = httpx.post(self.stack.base_url + path, json=body, headers=EXTENSION_HEADERS, timeout=60)
            assert response.status_code == 200, response.text
            final = response.json()
            shown = "".join(c["text"] for item in final["output"] if item["type"] == "message"
                            for c in item["content"] if c["type"] == "output_text")
        else:
            events = stream_response(self.stack, body, path=path)
            final = completed(events)
            shown = "".join(e["delta"] for e in events if "delta" in e)  # the extension appends every `delta`
            self.state["events"] = events
        self.state["previous"] = final["id"]
        self.state["final"] = final
        return shown

    # Agents: one agent and session, documents beside the message, text deltas of step_progress
    def _agents(self, question: str, attachments: bool) -> str:
        base = self.stack.base_url
        if "session" not in self.state:
            agent, session = agents_session(httpx, base, EXTENSION_HEADERS, "You help with Argo CD.", "assistant",
                                            name="Assistant for Argo CD")
            self.state.update(agent=agent, session=session)
        url = f"{base}/v1/agents/{self.state['agent']}/session/{self.state['session']}/turn"
        body = {"stream": self.dialect == "agents", "messages": [{"role": "user", "content": question}],
                "documents": [{"content": c, "mime_type": "text/json"} for c in (MANIFEST, EVENTS)] if attachments
                else []}
        if self.dialect == "agents-object":
            turn = httpx.post(url, json=body, headers=EXTENSION_HEADERS, timeout=60).json()
            return turn["output_message"]["content"]
        with httpx.stream("POST", url, json=body, headers=EXTENSION_HEADERS, timeout=60) as response:
            assert response.status_code == 200
            payloads = [c["event"]["payload"] for c in sse_events(response)]
        return "".join(p["delta"]["text"] for p in payloads
                       if p["event_type"] == "step_progress" and p["delta"]["type"] == "text")

    # Lightspeed: a client-made UUID, attachments as OLS ones, plain text read as raw bytes
    def _lightspeed(self, question: str, attachments: bool) -> str:
        conversation = self.state.setdefault("conversation", str(uuid.uuid4()))
        body = {"conversation_id": conversation, "query": question, "model": "scripted", "attachments": [
            {"content": MANIFEST, "content_type": "application/json", "attachment_type": "api object"},
            {"content": EVENTS, "content_type": "application/json", "attachment_type": "event"},
        ] if attachments else []}
        if self.dialect == "lightspeed-query":
            response = httpx.post(f"{self.stack.base_url}/v1/query", json=body, headers=EXTENSION_HEADERS, timeout=60)
            return response.json()["response"]
        with httpx.stream("POST", f"{self.stack.base_url}/v1/streaming_query", json=body, headers=EXTENSION_HEADERS,
                          timeout=60) as response:
            return "".join(response.iter_text())

    def stored(self) -> list[str]:
        """The assistant's answers as the dialect keeps them (stored response, session turns, conversation)."""
        base = self.stack.base_url
        if self.dialect.startswith(("responses", "openai")):
            stored = httpx.get(f"{base}/v1/responses/{self.state['previous']}", headers=EXTENSION_HEADERS).json()
            return ["".join(c["text"] for item in stored["output"] if item["type"] == "message"
                            for c in item["content"] if c["type"] == "output_text")]
        if self.dialect.startswith("agents"):
            session = httpx.get(f"{base}/v1/agents/{self.state['agent']}/session/{self.state['session']}",
                                headers=EXTENSION_HEADERS).json()
            return [turn["output_message"]["content"] for turn in session["turns"]]
        history = httpx.get(f"{base}/v1/conversations/{self.state['conversation']}", headers=EXTENSION_HEADERS).json()
        return [m["content"] for turn in history["chat_history"] for m in turn["messages"] if m["type"] == "assistant"]


def model_input(request: dict[str, Any]) -> str:
    return json.dumps(request["body"]["messages"])


# -- activity lines --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", STREAMED)
def test_the_stream_shows_the_activity_line_then_the_answer(stack, llm, dialect):
    chat = Chat(stack, dialect)
    llm.push(ToolCalls([CALL]), Text(ANSWER))
    shown = chat.ask("Why is this failing?", attachments=False)
    assert ACTIVITY in shown and shown.endswith(ANSWER)
    assert shown.index(ACTIVITY) < shown.index(ANSWER)


@pytest.mark.parametrize("dialect", STREAMED)
def test_activity_lines_never_reach_the_model_nor_the_stored_answer(stack, llm, dialect):
    chat = Chat(stack, dialect)
    llm.push(ToolCalls([CALL]), Text(ANSWER), Text("Restart it after the fix."))
    assert ACTIVITY in chat.ask("Why is this failing?", attachments=False)
    chat.ask("And then?", attachments=False)
    assert len(llm.requests) == 3
    later = model_input(llm.requests[-1])
    assert ANSWER in later  # the first turn is replayed...
    assert "Looking up" not in later  # ...without what the stream showed about its tool call
    tool_results = [m for r in llm.requests for m in r["body"]["messages"] if m["role"] == "tool"]
    assert tool_results and "Looking up" not in json.dumps(tool_results)
    assert chat.stored()[-1] == "Restart it after the fix." and "Looking up" not in json.dumps(chat.stored())


def test_responses_activity_is_a_reasoning_summary_kept_out_of_the_final_output(stack, llm):
    chat = Chat(stack, "responses")
    llm.push(ToolCalls([CALL]), Text(ANSWER))
    chat.ask("Why?", attachments=False)
    events = chat.state["events"]
    activity = [e for e in events if e.get("type") == "response.reasoning_summary_text.delta"]
    assert [e["delta"].strip() for e in activity] == [ACTIVITY]
    added = [e["item"]["id"] for e in events if e.get("type") == "response.output_item.added"]
    done = [e["item"]["id"] for e in events if e.get("type") == "response.output_item.done"]
    assert sorted(added) == sorted(done) and len(set(added)) == len(added)  # every item opened once and closed
    output = chat.state["final"]["output"]
    assert [item["type"] for item in output] == ["mcp_call", "message"]
    text = "".join(e["delta"] for e in events if e.get("type") == "response.output_text.delta")
    assert text == ANSWER


@pytest.mark.parametrize("dialect", STREAMED)
def test_a_failed_tool_call_shows_its_reason(stack, llm, dialect):
    llm.push(ToolCalls([OUT_OF_SCOPE]), Text(ANSWER))
    shown = Chat(stack, dialect).ask("And billing?", attachments=False)
    line = next(line for line in shown.splitlines() if "failed:" in line)
    assert line.startswith("_`argocd_resource_events` failed: ") and line.endswith("_")
    assert "Looking up `argocd_resource_events` (Pod/billing-api, namespace=billing)" in shown


# -- the diagnosis block ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_answer_starts_with_what_was_checked_and_is_stored_so(diagnosing, llm, dialect):
    chat = Chat(diagnosing, dialect)
    llm.push(Text(ANSWER))
    shown = chat.ask("Why is this failing?")
    block, _, rest = shown.partition("\n\n- ")
    assert block == "**What I checked**"
    assert shown.endswith(ANSWER) and "Readiness probe failing" in shown
    assert PROBE in shown  # the event's words, `"` and `&` included, as plain text
    line = next(line for line in shown.splitlines() if PROBE in line)
    assert "`" not in line and "```" not in shown.split(ANSWER)[0]  # nothing the extension would double-escape
    assert fx.PLANTED_EVENT_TOKEN not in shown and "PostStartHook" in shown  # redacted like everything else
    assert chat.stored() == [shown]  # the stored conversation has the same answer


@pytest.mark.parametrize("dialect", ["responses", "agents", "lightspeed"])
def test_the_block_comes_before_the_tool_activity_and_the_model_text(diagnosing, llm, dialect):
    chat = Chat(diagnosing, dialect)
    llm.push(ToolCalls([CALL]), Text(ANSWER))
    shown = chat.ask("Why is this failing?")
    assert shown.startswith("**What I checked**")
    assert shown.index(PROBE) < shown.index(ACTIVITY) < shown.index(ANSWER)
    assert [s.startswith("**What I checked**") and s.endswith(ANSWER) for s in chat.stored()] == [True]
    assert ACTIVITY not in chat.stored()[0]


def test_responses_object_lists_the_block_first(diagnosing, llm):
    chat = Chat(diagnosing, "responses-object")
    llm.push(ToolCalls([CALL]), Text(ANSWER))
    chat.ask("Why is this failing?")
    output = chat.state["final"]["output"]
    assert [item["type"] for item in output] == ["message", "mcp_call", "message"]
    assert output[0]["content"][0]["text"].startswith("**What I checked**")


def test_no_block_without_findings(diagnosing, llm):
    """No attachments and no Application in scope (so nothing read before the first round): no findings, no block."""
    llm.push(Text(ANSWER))
    headers = {k: v for k, v in EXTENSION_HEADERS.items() if k != "Argocd-Application-Name"}
    events = stream_response(diagnosing, {"model": MODEL, "input": "What is a sync wave?"}, headers=headers)
    assert "".join(e["delta"] for e in events if "delta" in e) == ANSWER


def test_without_attachments_the_block_holds_what_the_agent_read(diagnosing, llm):
    llm.push(Text(ANSWER))
    shown = Chat(diagnosing, "responses").ask("Why is this failing?", attachments=False)
    assert shown.startswith("**What I checked**") and 'container "web" in CrashLoopBackOff' in shown
    assert shown.endswith(ANSWER)


@pytest.mark.parametrize("dialect", ["responses", "agents", "lightspeed"])
def test_no_block_for_a_model_not_configured(stack, llm, dialect):
    llm.push(Text(ANSWER))
    chat = Chat(stack, dialect)
    assert chat.ask("Why is this failing?") == ANSWER
    assert "Readiness probe failed" in model_input(llm.requests[-1])  # the findings went to the model only
    assert chat.stored() == [ANSWER]


def test_a_later_turn_replays_the_findings_once(diagnosing, llm):
    chat = Chat(diagnosing, "responses")
    llm.push(Text(ANSWER), Text("Fix the probe."))
    assert chat.ask("Why is this failing?").startswith("**What I checked**")
    assert chat.ask("And now?") == "Fix the probe."  # the attachments were seen already: no new findings, no block
    later = model_input(llm.requests[-1])
    # the model reads the findings in the first prompt it is replayed, and its own answer, not the block again
    first = model_input(llm.requests[0])
    assert later.count("Readiness probe failed") == first.count("Readiness probe failed") > 0
    assert ANSWER in later and "What I checked" not in later


# -- one well-formed Responses stream --------------------------------------------------------------------------------


def test_every_item_of_the_stream_keeps_one_output_index(diagnosing, llm):
    chat = Chat(diagnosing, "responses")
    llm.push(ToolCalls([CALL, OUT_OF_SCOPE]), Text(ANSWER))
    chat.ask("Why is this failing?")
    events = chat.state["events"]
    order = [e["item"]["id"] for e in events if e.get("type") == "response.output_item.added"]
    kinds = {e["item"]["id"]: e["item"]["type"] for e in events if e.get("type") == "response.output_item.added"}
    assert [kinds[i] for i in order] == ["message", "reasoning", "mcp_call", "reasoning", "mcp_call", "reasoning",
                                         "message"]  # block, two calls with their lines, the failure's line, answer
    for event in events:
        item_id = event.get("item_id") or event.get("item", {}).get("id")
        if "output_index" in event and item_id:
            assert event["output_index"] == order.index(item_id), event
    for event in events:
        if event.get("type") == "response.output_text.delta":
            assert kinds[event["item_id"]] == "message"


def test_the_openai_sdk_stream_helper_builds_the_same_answer(diagnosing, llm):
    from openai import OpenAI

    llm.push(Text(ANSWER))
    client = OpenAI(base_url=f"{diagnosing.base_url}/v1", api_key="none", max_retries=0,
                    default_headers=EXTENSION_HEADERS)
    text = f"Why is this failing?\n\n[Attachment:application/json]\n{EVENTS}"
    with client.responses.stream(model=MODEL, input=text) as stream:
        deltas = [event.delta for event in stream if event.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas) and final.output_text.startswith("**What I checked**")
    assert final.output_text.endswith(ANSWER)
