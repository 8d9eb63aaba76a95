"""Observability end to end on a real `llama stack run`: a scrape after a scripted conversation, the trace of one
turn at an OTLP/HTTP receiver stand-in, the JSON audit event, the request id in headers and log lines."""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from llama_stack_argocd.observability.audit import parse
from tests.support.cluster import CRASHING_POD, OTHER_NS, OTHER_POD, PLANTED_JWT, write_kubeconfig
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response
from tests.support.otlp import TraceReceiver
from tests.support.scripted_llm import Error, Text, ToolCalls, free_port
from tests.support.stack import StackStarter

QUESTION = f"why is my-very-private-question failing, with token {PLANTED_JWT}"


@pytest.fixture(scope="module")
def receiver():
    with TraceReceiver() as handle:
        yield handle


@pytest.fixture(scope="module")
def observed(cluster, receiver, stack_with: StackStarter):
    """The stack reads Kubernetes through a proxy that never answers log reads (a Kubernetes timeout)."""
    from tests.support.stalling_proxy import StallingProxy

    proxy = StallingProxy(cluster.url, stall_when="/log")
    kubeconfig = write_kubeconfig(proxy.url)
    port = free_port()
    env = {"KUBECONFIG": kubeconfig, "ARGOCD_CONTEXT_TIMEOUT_SECONDS": "1", "ARGOCD_METRICS_PORT": str(port),
           "ARGOCD_OTLP_TRACES_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "100",
           "ARGOCD_AGENT_EVIDENCE": "false"}  # the counts below are the tools' own reads
    with proxy, stack_with(cluster=None, env=env,
                           **{"providers.responses.0.config.agent.quota": {"requests_per_hour": 1}}) as handle:
        handle.metrics_url = f"http://127.0.0.1:{port}/metrics"
        yield handle


def scrape(url: str) -> dict[tuple[str, frozenset], float]:
    samples = {}
    for family in text_string_to_metric_families(httpx.get(url, timeout=10).text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_a_conversation_shows_in_metrics_trace_and_audit(observed, llm, receiver):
    llm.push(
        ToolCalls([("argocd_application", {}), ("argocd_resource_manifest",
                                                {"kind": "Pod", "name": OTHER_POD, "namespace": OTHER_NS})]),
        ToolCalls([("argocd_container_logs", {"kind": "Pod", "name": CRASHING_POD})]),
        Text("The Pod is crash-looping."),
    )
    headers = {**EXTENSION_HEADERS, "X-Request-ID": "req-observe-0001"}
    with httpx.stream("POST", observed.base_url + "/v1/responses", headers=headers, timeout=60,
                      json={"model": MODEL, "input": QUESTION, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "req-observe-0001"
        body = response.read().decode()
    assert "response.completed" in body

    # A quota refusal (alice has used her one request this hour) and a model that answers 503.
    refused = httpx.post(observed.base_url + "/v1/query", headers=EXTENSION_HEADERS, json={"query": "again"},
                         timeout=60)
    assert refused.status_code == 429 and len(refused.headers["x-request-id"]) == 32
    llm.push(Error(503, "overloaded"), Error(503, "overloaded"), Error(503, "overloaded"))
    httpx.post(observed.base_url + "/v1/query", headers={**EXTENSION_HEADERS, "Argocd-Username": "bob"},
               json={"query": "hello"}, timeout=60)

    s = scrape(observed.metrics_url)
    assert value(s, "argocd_assistant_turns_total", dialect="responses", model=MODEL, outcome="completed") == 1
    assert value(s, "argocd_assistant_tool_calls_total", tool="argocd_application", outcome="ok") == 1
    assert value(s, "argocd_assistant_tool_calls_total", tool="argocd_resource_manifest", outcome="out_of_scope") == 1
    assert value(s, "argocd_assistant_tool_calls_total", tool="argocd_container_logs", outcome="unavailable") == 1
    assert value(s, "argocd_assistant_scope_refusals_total", tool="argocd_resource_manifest") == 1
    assert value(s, "argocd_assistant_quota_refusals_total", quota="requests") == 1
    assert value(s, "argocd_assistant_upstream_errors_total", upstream="kubernetes", kind="timeout") == 1
    assert value(s, "argocd_assistant_upstream_errors_total", upstream="model", kind="5xx") >= 1
    assert value(s, "argocd_assistant_tokens_total", model=MODEL, type="input") >= 30  # 3 rounds x 10 (+ bob's)
    assert value(s, "gen_ai_client_token_usage_count", gen_ai_operation_name="chat", gen_ai_request_model=MODEL,
                 gen_ai_token_type="output") >= 3
    assert value(s, "argocd_assistant_tool_rounds_sum", dialect="responses") == 2
    assert value(s, "argocd_assistant_time_to_first_text_seconds_count", dialect="responses", model=MODEL) == 1
    assert value(s, "argocd_assistant_turn_duration_seconds_count", dialect="responses", model=MODEL,
                 outcome="completed") == 1
    assert value(s, "gen_ai_execute_tool_duration_seconds_count", gen_ai_tool_name="argocd_application",
                 outcome="ok") == 1
    assert value(s, "argocd_assistant_http_requests_total", route="/v1/responses", method="POST", status="200") == 1
    assert value(s, "argocd_assistant_http_requests_total", route="/v1/query", method="POST", status="429") == 1
    assert value(s, "argocd_assistant_redactions_total", dialect="responses") == 1  # the token in the question
    labels = {v for (_, ls) in s for _, v in ls}
    assert not any(secret in " ".join(labels) for secret in ("alice", "guestbook", OTHER_POD, "private"))

    # The audit event of the first turn, field by field, and nothing of the conversation in it.
    events = [e for e in map(parse, observed.log_text().splitlines()) if e and e["request_id"] == "req-observe-0001"]
    assert len(events) == 1
    event = events[0]
    assert event == {**event, "event": "argocd.turn", "user_id": None, "user_name": "alice", "groups_count": 2,
                     "application": "argocd:guestbook", "project": "default", "dialect": "responses", "model": MODEL,
                     "tools": ["argocd_application", "argocd_resource_manifest", "argocd_container_logs"],
                     "tool_rounds": 2, "input_tokens": 30, "output_tokens": 15, "redactions": 1,
                     "scope_refusals": 1, "status": "completed"}
    assert event["duration_ms"] > 0
    assert set(event) == set(event) & {"event", "request_id", "user_id", "user_name", "groups_count", "application",
                                       "project", "dialect", "model", "tools", "tool_rounds", "input_tokens",
                                       "output_tokens", "redactions", "scope_refusals", "status", "duration_ms"}
    audit_lines = [line for line in observed.log_text().splitlines() if parse(line)]
    assert len(audit_lines) == 2
    assert not any(text in line for line in audit_lines for text in ("private-question", "crash-looping", PLANTED_JWT))
    # Every log line written while serving that request carries its id.
    tagged = [line for line in observed.log_text().splitlines() if "req-observe-0001" in line]
    assert len(tagged) >= 2, tagged

    # One trace for the turn: the turn span, three model rounds and three tool calls under it, no content.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any(s.name == "argocd.turn" for s in receiver.spans):
        time.sleep(0.2)
    turns = [s for s in receiver.spans if s.name == "argocd.turn" and
             s.attributes.get("argocd.request_id") == "req-observe-0001"]
    assert len(turns) == 1
    turn = turns[0]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and len([s for s in receiver.spans if s.parent_id == turn.span_id]) < 6:
        time.sleep(0.2)
    children = [s for s in receiver.spans if s.trace_id == turn.trace_id and s.parent_id == turn.span_id]
    assert sorted(s.name for s in children) == ["execute_tool argocd_application", "execute_tool argocd_container_logs",
                                                 "execute_tool argocd_resource_manifest", "gen_ai.chat",
                                                 "gen_ai.chat", "gen_ai.chat"]
    assert turn.attributes["gen_ai.usage.input_tokens"] == 30 and turn.attributes["argocd.tool_rounds"] == 2
    tools = {s.attributes["gen_ai.tool.name"]: s.attributes["argocd.outcome"] for s in children if "tool" in s.name}
    assert tools == {"argocd_application": "ok", "argocd_resource_manifest": "out_of_scope",
                     "argocd_container_logs": "unavailable"}
    assert all(s.attributes["gen_ai.usage.output_tokens"] == 5 for s in children if s.name == "gen_ai.chat")
    assert not any(text in body for body in receiver.bodies
                   for text in (b"my-very-private-question", b"crash-looping", PLANTED_JWT.encode()))


def test_metrics_are_not_served_on_the_api_port(observed):
    assert httpx.get(observed.base_url + "/metrics", timeout=10).status_code == 404
