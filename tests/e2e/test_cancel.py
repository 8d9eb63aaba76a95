"""A client that goes away cancels the model call, in every dialect: the scripted model sees its connection closed
soon after (not when its answer would have ended), the stored response is settled, and the next request is served.

The model answers slowly and at length (a minute and more of distinct words), and the turn's bounds are long, so
nothing but the client leaving can end the call within the waits below.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from tests.support.cluster import ClusterHandle
from tests.support.http import agents_session
from tests.support.scripted_llm import ScriptedLLM, Stall, Text, module_fixture
from tests.support.stack import StackHandle, StackStarter

MODEL = "openai/scripted"
HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}
LONG = Text(" ".join(f"w{i}" for i in range(2000)))  # 2,000 distinct words, 0.05 s apart: 100 s of answer
CLOSE_WITHIN = 15.0  # seconds the model's connection may stay open after the client left (the answer runs 100 s)


llm = module_fixture(chunk_delay=0.05)


@pytest.fixture(scope="module")
def stack(cluster: ClusterHandle, llm: ScriptedLLM, stack_with: StackStarter) -> StackHandle:
    bounds = {"first_token_seconds": 120, "token_gap_seconds": 120, "turn_seconds": 600}
    return stack_with(**{"providers.responses.0.config.agent.generation": bounds})


def _responses(path: str) -> Callable[[httpx.Client, str], tuple[str, dict]]:
    def request(client: httpx.Client, base: str) -> tuple[str, dict]:
        return f"{base}{path}", {"model": MODEL, "input": "Why is it degraded?", "stream": True}
    request.__name__ = path
    return request


def _agents(client: httpx.Client, base: str) -> tuple[str, dict]:
    agent, session = agents_session(client, base, HEADERS)
    return (f"{base}/v1/agents/{agent}/session/{session}/turn",
            {"messages": [{"role": "user", "content": "Why?"}], "stream": True})


def _lightspeed(media_type: str) -> Callable[[httpx.Client, str], tuple[str, dict]]:
    def request(client: httpx.Client, base: str) -> tuple[str, dict]:
        return f"{base}/v1/streaming_query", {"query": "Why?", "model": MODEL, "media_type": media_type}
    request.__name__ = f"streaming_query {media_type}"
    return request


DIALECTS = [_responses("/v1/responses"), _responses("/v1/openai/v1/responses"), _agents,
            _lightspeed("text/plain"), _lightspeed("application/json")]


def _created_id(lines: list[str]) -> str | None:
    for line in lines:
        if line.startswith("data: "):
            event = json.loads(line[6:])
            if event.get("type") == "response.created":
                return str(event["response"]["id"])
    return None


def leave_after_first_text(client: httpx.Client, url: str, body: dict) -> list[str]:
    """Stream until the answer's first words arrive, then close the connection: a user who closed the tab."""
    received = ""
    with client.stream("POST", url, headers=HEADERS, json=body, timeout=60) as answer:
        assert answer.status_code == 200, answer.read()
        for text in answer.iter_text():  # plain text has no lines to wait for
            received += text
            if "w1" in received:
                break
    return received.splitlines()


def _settled(client: httpx.Client, base: str, response_id: str) -> dict:
    deadline = time.monotonic() + CLOSE_WITHIN
    while True:
        stored = client.get(f"{base}/v1/responses/{response_id}").json()
        if stored.get("status") != "in_progress" or time.monotonic() > deadline:
            return stored
        time.sleep(0.1)


def _in_progress(client: httpx.Client, base: str) -> list[str]:
    """Stored responses still `in_progress` once the model call closed (waiting a little for the settling)."""
    deadline = time.monotonic() + CLOSE_WITHIN
    while True:
        listed = client.get(f"{base}/v1/responses", params={"limit": 100}).json()["data"]
        left = [r["id"] for r in listed if r["status"] == "in_progress"]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.__name__)
def test_a_client_that_leaves_cancels_the_model_call(stack, llm, dialect):
    with httpx.Client() as client:
        llm.push(LONG)
        url, body = dialect(client, stack.base_url)
        lines = leave_after_first_text(client, url, body)
        left = time.monotonic()
        closed = llm.wait_for_close(timeout=CLOSE_WITHIN)  # raises when the model call runs on
        print(f"{dialect.__name__}: the model call closed {closed - left:+.2f} s after the client left")
        assert not llm.open_requests()
        created = _created_id(lines)
        if created:
            assert _settled(client, stack.base_url, created)["status"] == "failed"
        assert _in_progress(client, stack.base_url) == []  # the dialects that show no response id, too
        llm.push(Text("All healthy."))
        healthy = client.post(f"{stack.base_url}/v1/responses", headers=HEADERS, timeout=60,
                              json={"model": MODEL, "input": "And now?"})
        assert healthy.status_code == 200 and healthy.json()["status"] == "completed", healthy.text
    assert stack.running


def test_a_client_that_leaves_while_the_model_is_silent_cancels_it(stack, llm):
    """The other place a turn waits: between two model events (the read itself is what gets cancelled)."""
    with httpx.Client() as client:
        llm.push(Stall("w0 w1 w2", after=2))
        url, body = _responses("/v1/responses")(client, stack.base_url)
        lines = leave_after_first_text(client, url, body)
        llm.wait_for_close(timeout=CLOSE_WITHIN)
        created = _created_id(lines)
        assert created and _settled(client, stack.base_url, created)["status"] == "failed"
