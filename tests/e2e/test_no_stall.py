"""No request can stall the others: while one turn waits on a model that went silent and another on a Kubernetes
read that never answers, the probes, the model listing and a turn on a healthy path are all served."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.support.cluster import CRASHING_POD, ClusterHandle, write_kubeconfig
from tests.support.scripted_llm import ScriptedLLM, Stall, Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter
from tests.support.stalling_proxy import StallingProxy

MODEL = "openai/scripted"
HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}
WAIT = 30.0  # how long a stuck request must keep waiting at least: far longer than anything below takes


@pytest.fixture(scope="module")
def proxy(cluster: ClusterHandle) -> Iterator[StallingProxy]:
    with StallingProxy(cluster.url, stall_when="/log") as handle:  # container logs never come back
        yield handle


@pytest.fixture(scope="module")
def stack(proxy: StallingProxy, llm: ScriptedLLM, stack_with: StackStarter) -> StackHandle:
    env = {"KUBECONFIG": write_kubeconfig(proxy.url), "ARGOCD_CONTEXT_TIMEOUT_SECONDS": str(WAIT * 4)}
    return stack_with(cluster=None, env=env, **{
        "providers.responses.0.config.agent.generation": {"first_token_seconds": WAIT * 4, "token_gap_seconds": WAIT * 4},
        "providers.responses.0.config.agent.tool_timeout_seconds": WAIT * 4,
        # the evidence gathered before each turn's first round reads logs too: bounded short, so the healthy turns
        # below wait 1 s on the stalled log read, not the default 5 s
        "providers.responses.0.config.agent.evidence.timeout_seconds": 1,
    })


def _until(condition, what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.05)


def _turn(client: httpx.Client, base: str, question: str) -> httpx.Response:
    """A streamed turn, left open: its headers are back, its answer is still to come."""
    request = client.build_request("POST", f"{base}/v1/responses", headers=HEADERS,
                                   json={"model": MODEL, "input": question, "stream": True})
    return client.send(request, stream=True)


def test_a_stalled_model_and_a_stalled_kubernetes_read_hold_up_no_one_else(stack, llm, proxy):
    with httpx.Client(timeout=WAIT * 4) as stuck, httpx.Client(timeout=WAIT) as client:
        llm.push(Stall("Let me look", after=2))
        silent_model = _turn(stuck, stack.base_url, "Why is it degraded?")
        llm.wait_for_requests(1)
        llm.push(ToolCalls([("argocd_container_logs", {"kind": "Pod", "name": CRASHING_POD})]))
        silent_kubernetes = _turn(stuck, stack.base_url, "What do the logs say?")
        _until(lambda: proxy.held >= 1, "the log read never reached the stalling proxy")

        llm.push(Text("All healthy."))
        assert client.get(f"{stack.base_url}/v1/health").status_code == 200
        assert client.get(f"{stack.base_url}/readiness").status_code == 200
        assert client.get(f"{stack.base_url}/v1/models").status_code == 200
        healthy = client.post(f"{stack.base_url}/v1/responses", headers=HEADERS,
                              json={"model": MODEL, "input": "Is the other app fine?"})
        assert healthy.status_code == 200 and healthy.json()["status"] == "completed", healthy.text
        answer = client.post(f"{stack.base_url}/v1/query", headers=HEADERS, json={"query": "And now?", "model": MODEL})
        assert answer.status_code == 200, answer.text

        # ...while both stuck turns were still waiting, not failed nor answered
        assert proxy.held >= 1
        assert llm.requests[0]["closed_at"] is None and llm.requests[0]["answered_at"] is None
        silent_model.close()
        silent_kubernetes.close()
    llm.wait_for_close(0)  # the client left: the silent model's call is closed too
    # The Kubernetes read runs in a worker thread (the kubernetes client is synchronous): it ends at its own
    # timeout (ARGOCD_CONTEXT_TIMEOUT_SECONDS), not when its turn is cancelled.
