"""A second user of the same Application, through the proxy stand-in, tries to continue the first user's
conversations in every dialect, and to name another Application in the request body. Each is refused or starts
afresh; nothing the first user asked reaches the second user's model input or answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.http import MODEL
from tests.support.scripted_llm import Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter

SECRET = "proxy-secret-" + "c" * 24
MINE = f"{fx.ARGOCD_NS}:{fx.APP}"
APP_HEADERS = {"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"}
PRIVATE = "alice-private-question-7f3a"  # what only the first user wrote


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with("distributions/argocd/proxy-trust.yaml", env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET})


def proxy_for(stack: StackHandle, user: str) -> ArgoCDProxy:
    return ArgoCDProxy(stack.base_url, username=user, user_id=f"{user}-sub",
                       service_headers={"Authorization": f"Bearer {SECRET}"}, applications={MINE: "default"})


@pytest.fixture(scope="module")
def alice(stack) -> Iterator[str]:
    with proxy_for(stack, "alice") as running:
        yield running.url


@pytest.fixture(scope="module")
def mallory(stack) -> Iterator[str]:
    with proxy_for(stack, "mallory") as running:
        yield running.url


def post(base: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(base + path, headers=APP_HEADERS, json=body, timeout=120)


def test_another_users_response_chain_cannot_be_continued_or_read(alice, mallory, llm):
    first = post(alice, "/v1/responses", {"model": MODEL, "input": PRIVATE})
    assert first.status_code == 200, first.text
    llm.requests.clear()
    stolen = post(mallory, "/v1/responses", {"model": MODEL, "input": "What did I ask?",
                                              "previous_response_id": first.json()["id"]})
    assert stolen.status_code in (400, 404), stolen.text
    assert PRIVATE not in stolen.text and PRIVATE not in llm.prompts_text()
    for path in (f"/v1/responses/{first.json()['id']}", f"/v1/responses/{first.json()['id']}/input_items"):
        assert httpx.get(mallory + path, headers=APP_HEADERS).status_code == 404


def test_another_users_conversation_cannot_be_continued(alice, mallory, llm):
    created = httpx.post(alice + "/v1/conversations", headers=APP_HEADERS, json={}, timeout=30)
    assert created.status_code == 200, created.text
    conversation = created.json()["id"]
    assert post(alice, "/v1/responses", {"model": MODEL, "input": PRIVATE, "conversation": conversation}
                ).status_code == 200
    llm.requests.clear()
    stolen = post(mallory, "/v1/responses", {"model": MODEL, "input": "What did I ask?", "conversation": conversation})
    assert stolen.status_code in (400, 404), stolen.text
    assert PRIVATE not in stolen.text and PRIVATE not in llm.prompts_text()


def test_another_users_lightspeed_conversation_is_not_continued(alice, mallory, llm):
    conversation = str(uuid.uuid4())
    assert post(alice, "/v1/query", {"query": PRIVATE, "conversation_id": conversation}).status_code == 200
    llm.requests.clear()
    stolen = post(mallory, "/v1/query", {"query": "What did I ask?", "conversation_id": conversation})
    assert PRIVATE not in stolen.text and PRIVATE not in llm.prompts_text()
    assert PRIVATE in httpx.get(f"{alice}/v1/conversations/{conversation}", headers=APP_HEADERS).text


def test_another_users_agent_session_cannot_take_a_turn(alice, mallory, llm):
    agent = post(alice, "/v1/agents", {"agent_config": {"model": MODEL, "instructions": "x"}}).json()["agent_id"]
    session = post(alice, f"/v1/agents/{agent}/session", {"session_name": "s"}).json()["session_id"]
    assert post(alice, f"/v1/agents/{agent}/session/{session}/turn",
                {"messages": [{"role": "user", "content": PRIVATE}]}).status_code == 200
    llm.requests.clear()
    stolen = post(mallory, f"/v1/agents/{agent}/session/{session}/turn",
                  {"messages": [{"role": "user", "content": "What did I ask?"}]})
    assert stolen.status_code == 404, stolen.text
    assert PRIVATE not in stolen.text and PRIVATE not in llm.prompts_text()


def test_the_request_body_cannot_name_another_application(mallory, llm, cluster):
    llm.push(ToolCalls([("argocd_application", {})]), Text("done"))
    before = cluster.request_count()
    answer = post(mallory, "/v1/responses", {"model": MODEL, "input": "status?",
                                             "metadata": {"argocd_application": f"{fx.ARGOCD_NS}:{fx.OTHER_APP}"}})
    assert answer.status_code == 200, answer.text
    # The Application may come from the read cache (an earlier test read it): what counts is what was read and
    # what the tool answered the model.
    read = [u for u in cluster.paths_since(before) if "/applications/" in u]
    assert all(f"/applications/{fx.APP}" in u for u in read), read
    assert "guestbook.git" in llm.prompts_text()
    assert "billing.git" not in llm.prompts_text() and "billing.git" not in json.dumps(answer.json())
