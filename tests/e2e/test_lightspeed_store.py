"""A Lightspeed conversation changed while an answer streams keeps the change: the turn is appended to the
conversation as it is when the stream ends (a topic set meanwhile stays, a deletion is not undone); an Agents
session deleted while a turn streams stays deleted too."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.support.http import EXTENSION_HEADERS, agents_session
from tests.support.scripted_llm import ScriptedLLM, Text, module_fixture
from tests.support.stack import StackHandle, StackStarter

SLOW_ANSWER = " ".join(f"word{i}" for i in range(30))


slow_llm = module_fixture(chunk_delay=0.05)


@pytest.fixture(scope="module")
def stack(slow_llm: ScriptedLLM, stack_with: StackStarter) -> StackHandle:
    return stack_with(model=slow_llm)


def _stream_while(stack: StackHandle, conversation_id: str, meanwhile) -> str:
    """Stream one Lightspeed answer and call `meanwhile()` once its first text has arrived."""
    body = {"query": "Why is it degraded?", "conversation_id": conversation_id}
    with httpx.stream("POST", f"{stack.base_url}/v1/streaming_query", headers=EXTENSION_HEADERS, json=body,
                      timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_text()
        received = next(chunks)
        meanwhile()
        return received + "".join(chunks)


def _one_answered_turn(stack: StackHandle, slow_llm: ScriptedLLM) -> str:
    """A new conversation with one answered turn; the model's next answer streams slowly."""
    conversation_id = str(uuid.uuid4())
    slow_llm.push(Text("A first short answer."), Text(SLOW_ANSWER))
    first = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                       json={"query": "What is this?", "conversation_id": conversation_id})
    assert first.status_code == 200, first.text
    return conversation_id


def _conversation(stack: StackHandle, conversation_id: str) -> httpx.Response:
    return httpx.get(f"{stack.base_url}/v1/conversations/{conversation_id}", headers=EXTENSION_HEADERS, timeout=30)


def test_a_topic_set_while_an_answer_streams_stays(stack, slow_llm):
    conversation_id = _one_answered_turn(stack, slow_llm)

    def set_topic() -> None:
        put = httpx.put(f"{stack.base_url}/v1/conversations/{conversation_id}", headers=EXTENSION_HEADERS,
                        json={"topic_summary": "Degraded guestbook"}, timeout=30)
        assert put.status_code == 200, put.text

    assert "word29" in _stream_while(stack, conversation_id, set_topic)
    listed = httpx.get(f"{stack.base_url}/v1/conversations", headers=EXTENSION_HEADERS, timeout=30).json()
    mine = [c for c in listed["conversations"] if c["conversation_id"] == conversation_id]
    assert mine and mine[0]["topic_summary"] == "Degraded guestbook"
    assert mine[0]["message_count"] == 2  # and the streamed turn was kept


def test_a_conversation_deleted_while_an_answer_streams_stays_deleted(stack, slow_llm):
    conversation_id = _one_answered_turn(stack, slow_llm)

    def delete() -> None:
        gone = httpx.delete(f"{stack.base_url}/v1/conversations/{conversation_id}", headers=EXTENSION_HEADERS,
                            timeout=30)
        assert gone.status_code == 200, gone.text

    _stream_while(stack, conversation_id, delete)
    assert _conversation(stack, conversation_id).status_code == 404


# -- the Agents dialect keeps its sessions in the same kind of store (apis/records.py) ------------------------------


def test_an_agents_session_deleted_while_a_turn_streams_stays_deleted(stack, slow_llm):
    base = stack.base_url
    agent, session = agents_session(httpx, base, EXTENSION_HEADERS)
    slow_llm.push(Text(SLOW_ANSWER))
    turn = {"messages": [{"role": "user", "content": "Why is it degraded?"}], "stream": True}
    with httpx.stream("POST", f"{base}/v1/agents/{agent}/session/{session}/turn", headers=EXTENSION_HEADERS,
                      json=turn, timeout=60) as response:
        assert response.status_code == 200
        chunks = response.iter_text()
        next(chunks)
        gone = httpx.delete(f"{base}/v1/agents/{agent}/session/{session}", headers=EXTENSION_HEADERS, timeout=30)
        assert gone.status_code == 204, gone.text
        assert "word29" in "".join(chunks)
    assert httpx.get(f"{base}/v1/agents/{agent}/session/{session}", headers=EXTENSION_HEADERS,
                     timeout=30).status_code == 404
    sessions = httpx.get(f"{base}/v1/agents/{agent}/sessions", headers=EXTENSION_HEADERS, timeout=30).json()["data"]
    assert session not in [s["session_id"] for s in sessions]
