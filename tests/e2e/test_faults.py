"""A model that hangs, stalls, cuts its stream, fails or sends garbage: every dialect ends the turn with a clear
error in its own shape (504 past a bound, 502 otherwise), nothing stays `in_progress`, and the next request on the
same keep-alive connection through the proxy is answered."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.http import agents_session
from tests.support.scripted_llm import Cut, Error, Garbage, Hang, ScriptedLLM, Stall, Text
from tests.support.stack import StackHandle, StackStarter

MODEL = "openai/scripted"
# What the client is told of a cut stream: how far the model got, and the upstream's own reason.
CUT_WORDS = "The model stopped after 2 tokens: the model's stream broke off: peer closed connection"
HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}
# Short bounds, so a hung model costs a test seconds (the defaults are 60 s / 30 s / 300 s).
BOUNDS = {"first_token_seconds": 2, "token_gap_seconds": 3, "turn_seconds": 40}


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with(**{"providers.responses.0.config.agent.generation": BOUNDS})


def responses(client: httpx.Client, base: str, stream: bool = False) -> httpx.Response:
    return client.post(f"{base}/v1/responses", headers=HEADERS, timeout=60,
                       json={"model": MODEL, "input": "Why is it degraded?", "stream": stream})


def agents_turn(client: httpx.Client, base: str, stream: bool = False) -> httpx.Response:
    agent, session = agents_session(client, base, HEADERS)
    return client.post(f"{base}/v1/agents/{agent}/session/{session}/turn", headers=HEADERS, timeout=60,
                       json={"messages": [{"role": "user", "content": "Why?"}], "stream": stream})


def query(client: httpx.Client, base: str) -> httpx.Response:
    return client.post(f"{base}/v1/query", headers=HEADERS, timeout=60, json={"query": "Why?", "model": MODEL})


def arm(llm: ScriptedLLM, fault: object) -> None:
    """Only this fault next; an HTTP error three times, as the OpenAI SDK under llama-stack retries it twice."""
    llm.script.clear()
    llm.push(*([fault] * (3 if isinstance(fault, Error) else 1)))


def sse(body: str) -> list[dict]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


@pytest.mark.parametrize("fault, status, words", [
    (Hang(), 504, "did not answer within 2 s"),
    (Stall("the pod is", after=2), 504, "stopped sending for 3 s"),
    (Cut("the pod is crashing", after=2), 502, CUT_WORDS),
    (Error(500, "upstream exploded"), 502, "upstream exploded"),
    (Garbage(), 502, ""),
])
def test_a_failing_model_gets_the_same_status_in_every_dialect(stack, llm, fault, status, words):
    with httpx.Client() as client:
        for ask in (responses, agents_turn, query):
            arm(llm, fault)
            answer = ask(client, stack.base_url)
            assert answer.status_code == status, (ask.__name__, answer.text)
            body = answer.json()
            message = body["detail"]["cause"] if ask is query else (
                body["error"]["message"] if ask is responses else body["detail"])
            if ask is query:
                assert body["detail"]["response"] == "The assistant could not answer"
            assert words in message, (ask.__name__, message)
    assert stack.running


@pytest.mark.parametrize("fault, words", [
    (Hang(), "did not answer within 2 s"),
    (Stall("the pod is", after=2), "stopped sending for 3 s"),
    (Cut("the pod is crashing", after=2), CUT_WORDS),
])
def test_a_stream_ends_with_a_clear_error_and_the_stored_response_is_settled(stack, llm, fault, words):
    arm(llm, fault)
    with httpx.Client() as client:
        events = sse(responses(client, stack.base_url, stream=True).text)
        errors = [e["error"] for e in events if "error" in e]
        assert errors and words in errors[0]["message"], events
        created = next(e for e in events if e.get("type") == "response.created")["response"]["id"]
        stored = client.get(f"{stack.base_url}/v1/responses/{created}").json()
        assert stored["status"] == "failed", stored
        # Lightspeed's plain text says it in-band, the JSON stream as an OLS error event with the status
        arm(llm, fault)
        text = client.post(f"{stack.base_url}/v1/streaming_query", headers=HEADERS, timeout=60,
                           json={"query": "Why?", "model": MODEL}).text
        assert words in text
        arm(llm, fault)
        ols = sse(client.post(f"{stack.base_url}/v1/streaming_query", headers=HEADERS, timeout=60,
                              json={"query": "Why?", "model": MODEL, "media_type": "application/json"}).text)
        assert ols[-1]["event"] == "error" and words in ols[-1]["data"]["cause"], ols
    if isinstance(fault, Hang | Stall):  # each of the three model calls was closed when its bound passed
        for index in range(len(llm.requests)):
            llm.wait_for_close(index, timeout=10)


def test_after_a_failed_turn_the_next_request_on_the_same_connection_succeeds(stack, llm):
    with ArgoCDProxy(upstream=stack.base_url, username="alice").serving() as proxy, httpx.Client() as client:
        for fault in (Error(500, "boom"), Cut("a b c", after=1), Hang()):
            arm(llm, fault)
            assert responses(client, proxy.url).status_code in (502, 504)
            arm(llm, fault)
            assert query(client, proxy.url).status_code in (502, 504)
            llm.push(Text("All healthy."))
            healthy = responses(client, proxy.url)
            assert healthy.status_code == 200, healthy.text
            assert healthy.json()["status"] == "completed"


LOOP = Text("The pod is crashing: The user is: " * 150)


def test_a_looping_answer_is_stopped_with_a_marker_and_reported_incomplete(stack, llm):
    with httpx.Client() as client:
        arm(llm, LOOP)
        events = sse(responses(client, stack.base_url, stream=True).text)
        text = "".join(e.get("delta", "") for e in events)
        final = events[-1]
        assert final["type"] == "response.incomplete", final
        assert final["response"]["incomplete_details"] == {"reason": "repetition"}
        assert text.endswith("it kept repeating itself.]") and text.count("The user is:") < 30
        closed = llm.wait_for_close(timeout=10)  # the guard closed the model call (its answer would run 20 s more)
        print(f"loop: the model call closed {closed - llm.requests[-1]['received_at']:.2f} s after it started")
        stored = client.get(f"{stack.base_url}/v1/responses/{final['response']['id']}").json()
        assert stored["status"] == "incomplete"
        arm(llm, LOOP)
        answer = query(client, stack.base_url)
        assert answer.status_code == 200 and answer.json()["truncated"] is True, answer.text
        assert answer.json()["response"].endswith("it kept repeating itself.]")
