"""Tool arguments the model writes, shown back to the user: a model told a credential (a log line, a pasted
question) may write it into its tool calls. Behind the proxy stand-in, through every dialect, the activity lines,
`mcp_call` items, Agents tool calls and Lightspeed events show it masked, and the server log never holds it (the
call runs with the arguments as written: tests/unit/agent/test_loop.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.http import MODEL
from tests.support.scripted_llm import Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter

SECRET = "proxy-secret-" + "b" * 24
MINE = f"{fx.ARGOCD_NS}:{fx.APP}"
APP_HEADERS = {"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"}
PLANTED = "Kx7qP2vLm9Rt4WzN8sBd"
CALLS = [
    ("argocd_resource_events", {"kind": "Pod", "name": fx.CRASHING_POD, "token": PLANTED}),
    ("argocd_container_logs", {"kind": "Pod", "name": f"{fx.CRASHING_POD} password={PLANTED}"}),
]


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with("distributions/argocd/proxy-trust.yaml", env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET})


@pytest.fixture(scope="module")
def proxy(stack) -> Iterator[ArgoCDProxy]:
    with ArgoCDProxy(stack.base_url, username="alice", service_headers={"Authorization": f"Bearer {SECRET}"},
                     applications={MINE: "default"}) as running:
        yield running


def agents_turn(base: str) -> httpx.Response:
    agent = httpx.post(base + "/v1/agents", headers=APP_HEADERS, timeout=30,
                       json={"agent_config": {"model": MODEL, "instructions": "x"}}).json()["agent_id"]
    session = httpx.post(f"{base}/v1/agents/{agent}/session", headers=APP_HEADERS, timeout=30,
                         json={"session_name": "s"}).json()["session_id"]
    return httpx.post(f"{base}/v1/agents/{agent}/session/{session}/turn", headers=APP_HEADERS, timeout=120,
                      json={"messages": [{"role": "user", "content": "Why?"}], "stream": True})


TURNS = {
    "responses stream": lambda base: httpx.post(base + "/v1/responses", headers=APP_HEADERS, timeout=120,
                                                json={"model": MODEL, "input": "Why?", "stream": True}),
    "responses": lambda base: httpx.post(base + "/v1/openai/v1/responses", headers=APP_HEADERS, timeout=120,
                                         json={"model": MODEL, "input": "Why?"}),
    "lightspeed": lambda base: httpx.post(base + "/v1/streaming_query", headers=APP_HEADERS, timeout=120,
                                          json={"query": "Why?", "model": MODEL}),
    "lightspeed json": lambda base: httpx.post(base + "/v1/streaming_query", headers=APP_HEADERS, timeout=120,
                                               json={"query": "Why?", "model": MODEL,
                                                     "media_type": "application/json"}),
    "agents": agents_turn,
}


@pytest.mark.parametrize("dialect", list(TURNS))
def test_a_credential_in_the_model_tool_arguments_is_shown_masked(stack, proxy, llm, dialect):
    llm.push(ToolCalls(CALLS), Text("done"))
    response = TURNS[dialect](proxy.url)
    assert response.status_code == 200, response.text
    assert fx.CRASHING_POD in response.text  # the calls were shown
    assert PLANTED not in response.text
    assert PLANTED not in stack.log_text()

