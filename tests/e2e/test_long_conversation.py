"""A conversation longer than the model's window: the oldest turns are cut, visibly, in every dialect.

The stack runs with a 2,048-token window for the scripted model; each turn asks and answers a few hundred tokens, so
the replayed history outgrows its share after a few turns. What reaches the model is read from the scripted LLM.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from llama_stack_argocd.context.tokens import count_tokens
from tests.support.http import EXTENSION_HEADERS, MODEL, agents_session
from tests.support.scripted_llm import Text
from tests.support.stack import StackHandle, StackStarter

WINDOW = 2048
MARKER = "earlier conversation items"


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with(**{"providers.responses.0.config.agent.default_context_window": WINDOW})


def question(n: int, words: int = 30) -> str:
    return f"Question {n}: " + " ".join(f"detail{n}-{i}" for i in range(words))


def answer(n: int, words: int = 30) -> Text:
    return Text(f"Answer {n}: " + ",".join(f"finding{n}-{i}" for i in range(words)))  # few chunks: quick to stream


def prompt_text(request: dict) -> str:
    parts = []
    for message in request["body"]["messages"]:
        content = message.get("content")
        parts.append(content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or []))
    return "\n".join(parts)


def test_responses_chain_is_trimmed_with_a_marker_and_goes_on_from_there(stack, llm):
    previous = None
    reports = []
    for n in range(8):
        llm.push(answer(n))
        body = {"model": MODEL, "input": question(n), "previous_response_id": previous}
        response = httpx.post(f"{stack.base_url}/v1/responses", json=body, headers=EXTENSION_HEADERS, timeout=60)
        assert response.status_code == 200, response.text
        previous = response.json()["id"]
        reports.append(response.json()["metadata"])
        seen = prompt_text(llm.requests[-1])
        assert f"Question {n}:" in seen  # the current question is always there
        assert count_tokens(seen) < WINDOW

    trimmed = [i for i, m in enumerate(reports) if int(m["argocd_history_items_omitted"]) > 0]
    assert trimmed, reports
    first_trim = trimmed[0]
    assert reports[first_trim]["argocd_truncated"] == "true"
    assert reports[first_trim]["argocd_history_over_budget"] == "true"
    last = prompt_text(llm.requests[-1])
    assert MARKER in last and "Question 0:" not in last and "Answer 0:" not in last
    assert "Answer 6:" in last  # the newest exchange is kept
    # Turns after a trim continue the restarted chain: the marker stays in the conversation.
    assert all(MARKER in prompt_text(r) for r in llm.requests[first_trim:])


def test_lightspeed_reports_truncated_when_the_history_is_cut(stack, llm):
    conversation = str(uuid.uuid4())
    answers = []
    for n in range(8):
        llm.push(answer(n))
        reply = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                           json={"conversation_id": conversation, "query": question(n)})
        assert reply.status_code == 200, reply.text
        answers.append(reply.json())
    assert any(a["truncated"] for a in answers) and not answers[0]["truncated"]
    last = prompt_text(llm.requests[-1])
    assert MARKER in last and "Question 0:" not in last and "Question 7:" in last
    # The conversation as the user sees it is not cut: only what the model is sent.
    history = httpx.get(f"{stack.base_url}/v1/conversations/{conversation}", headers=EXTENSION_HEADERS).json()
    assert len(history["chat_history"]) == 8


def test_agents_session_is_trimmed_the_same_way(stack, llm):
    agent_id, session_id = agents_session(httpx, stack.base_url, EXTENSION_HEADERS, "You help with Argo CD.", "long",
                                          name="Assistant for Argo CD")
    for n in range(8):
        llm.push(answer(n))
        turn = httpx.post(f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}/turn", headers=EXTENSION_HEADERS,
                          json={"stream": False, "messages": [{"role": "user", "content": question(n)}]}, timeout=60)
        assert turn.status_code == 200, turn.text
    last = prompt_text(llm.requests[-1])
    assert MARKER in last and "Question 0:" not in last and "Question 7:" in last
    session = httpx.get(f"{stack.base_url}/v1/agents/{agent_id}/session/{session_id}", headers=EXTENSION_HEADERS)
    assert len(session.json()["turns"]) == 8


def test_attachments_dropped_with_old_turns_are_sent_again(stack, llm):
    manifest = ('{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"guestbook-ui","namespace":"guestbook"},'
                '"spec":{"replicas":3},"status":{"unavailableReplicas":2}}')
    previous, reports, last_user = None, [], []
    for n in range(8):
        llm.push(answer(n, words=8))
        body = {"model": MODEL, "previous_response_id": previous,
                "input": f"{question(n, words=8)}\n\n[Attachment:application/json]\n{manifest}"}
        response = httpx.post(f"{stack.base_url}/v1/responses", json=body, headers=EXTENSION_HEADERS, timeout=60)
        previous = response.json()["id"]
        reports.append(response.json()["metadata"])
        last_user.append(llm.requests[-1]["body"]["messages"][-1]["content"])
    trimmed = next(i for i, m in enumerate(reports) if int(m["argocd_history_items_omitted"]) > 0)
    assert "unavailableReplicas" in str(last_user[0]) and "Unchanged since earlier" in str(last_user[1])
    assert "unavailableReplicas" in str(last_user[trimmed]) and "Unchanged" not in str(last_user[trimmed])
