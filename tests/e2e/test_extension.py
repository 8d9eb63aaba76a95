"""The Assistant for Argo CD extension, unchanged: its real client (npm llama-stack-client 0.3.0) and its
Lightspeed request, through a stand-in of argocd-server's proxy extension, against a real `llama stack run`."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.extension_client import drive
from tests.support.scripted_llm import Text, ToolCalls

MANIFEST = json.dumps({"apiVersion": "apps/v1", "kind": "Deployment",
                       "metadata": {"name": fx.DEPLOYMENT, "namespace": fx.APP_NS},
                       "status": {"readyReplicas": 1, "replicas": 2}})
EVENTS = json.dumps({"apiVersion": "v1", "items": [
    {"reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container", "count": 4,
     "involvedObject": {"kind": "Pod", "name": fx.CRASHING_POD}}]})
LOGS = json.dumps([{"result": {"content": fx.CRASH_LINE, "timeStamp": "2026-11-25T06:40:00Z",
                               "podName": fx.CRASHING_POD, "last": False}}])
ANSWER = "The database refuses connections, so the web container exits with code 1 and restarts."


@pytest.fixture(scope="module")
def proxy(stack):
    with ArgoCDProxy(upstream=stack.base_url, username="alice", groups=("dev", "ops")).serving() as server:
        yield server


def slow_llm(llm):
    llm.chunk_delay = 0.05
    llm.push(ToolCalls([("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True})]),
             Text(ANSWER), Text("You asked about the crash before."))


@pytest.mark.parametrize("provider", ["agents", "responses"])
def test_extension_client_two_turns(stack, llm, proxy, provider):
    slow_llm(llm)
    events = drive({
        "baseURL": proxy.url, "application": "argocd:guestbook", "project": "default", "provider": provider,
        "prompts": ["Why is this crashing?", "What did I ask before?"], "firstPreviousNull": True,
        "attachments": [{"content": c, "mimeType": "application/json"} for c in (MANIFEST, EVENTS, LOGS)],
    })
    assert events[0] == {"kind": "model", "model": "openai/scripted", "t": events[0]["t"]}
    assert not [e for e in events if e["kind"] == "error"], events
    done = [e for e in events if e["kind"] == "done"]
    # the chat shows what the assistant read, then the answer; the next turn's model input has no such line
    activity = f"\n_Looking up `argocd_container_logs` (Pod/{fx.CRASHING_POD}, previous=True) ..._\n\n"
    assert [d["text"] for d in done] == [activity + ANSWER, "You asked about the crash before."]
    assert "Looking up" not in str(llm.requests[-1]["body"]["messages"])
    assert done[0]["conversationID"]
    first_turn = [e for e in events if e["kind"] == "delta" and e["turn"] == 0]
    assert len(first_turn) >= 5 and first_turn[-1]["t"] - first_turn[0]["t"] > 0.2 * 1000  # streamed, not buffered
    # the tool ran server-side, as the user the proxy vouched for, and the second turn saw the first
    assert "ConnectionRefusedError" in str(llm.requests[1]["body"]["messages"])
    assert "Why is this crashing?" in str(llm.requests[-1]["body"]["messages"])
    forwarded = proxy.forwarded[-1]["headers"]
    assert forwarded["Argocd-Username"] == "alice" and "Authorization" not in forwarded


def test_extension_lightspeed_request(stack, llm, proxy):
    llm.chunk_delay = 0.05
    llm.push(Text(ANSWER), Text("Yes: the same crash."))
    conversation = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "Accept": "application/json",
               "Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default",
               "Cookie": "argocd.token=browser-session", "Authorization": "Bearer user-token"}

    def ask(query: str) -> tuple[str, list[float]]:
        body = {"conversation_id": conversation, "query": query, "system_prompt": "You are an Argo CD assistant.",
                "model": "scripted",
                "attachments": [
                    {"content": MANIFEST, "content_type": "application/json", "attachment_type": "api object"},
                    {"content": EVENTS, "content_type": "application/json", "attachment_type": "event"},
                    {"content": LOGS, "content_type": "application/json", "attachment_type": "log"}]}
        text, times, start = "", [], time.monotonic()
        with httpx.stream("POST", f"{proxy.url}/v1/streaming_query", json=body, headers=headers, timeout=60) as r:
            assert r.status_code == 200
            for chunk in r.iter_bytes():  # as the extension: raw bytes decoded and appended, no parsing
                text += chunk.decode()
                times.append(time.monotonic() - start)
        return text, times

    first, times = ask("Why is this crashing?")
    assert first == ANSWER and len(times) >= 5 and times[-1] - times[0] > 0.2
    second, _ = ask("Is it the same problem?")
    assert second == "Yes: the same crash."
    assert "Why is this crashing?" in str(llm.requests[-1]["body"]["messages"])
    assert fx.CRASH_LINE in str(llm.requests[0]["body"]["messages"])
    forwarded = proxy.forwarded[-1]["headers"]
    assert "Cookie" not in forwarded and "Authorization" not in forwarded


def test_proxy_refuses_requests_without_application_headers(proxy):
    response = httpx.post(f"{proxy.url}/v1/streaming_query", json={"query": "x"})
    assert response.status_code == 400
