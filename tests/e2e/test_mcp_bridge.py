"""The MCP bridge, end to end: the real npm `argocd-mcp` on loopback, reading the Argo CD API stand-in.

Through a real `llama stack run`: the read tools are listed beside `argocd::context` and the write tools are not;
the agent calls a read tool for a Responses request and for the Lightspeed route; calls about another Application
never leave the server; the distribution's token, or the caller's own, reaches Argo CD as a header only, and no
token shows in a log line, a stored response or anything the model was sent.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support.argocd_api import LIMITED_TOKEN, TOKEN, start_argocd_api
from tests.support.argocd_mcp import bridge_env, start_argocd_mcp
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response, tool_outputs
from tests.support.scripted_llm import Text, ToolCalls, free_port
from tests.support.stack import StackHandle, StackStarter

READ_TOOLS = {"get_application", "get_application_resource_tree", "get_application_managed_resources",
              "get_application_workload_logs", "get_application_events", "get_resource_events", "get_resources",
              "get_resource_actions", "get_appproject"}
WRITE_TOOLS = {"create_application", "update_application", "delete_application", "sync_application",
               "run_resource_action"}
USER_TOKEN = LIMITED_TOKEN  # an account that may read argocd/guestbook only


@pytest.fixture(scope="module")
def argocd_mcp():
    with start_argocd_mcp() as handle:
        yield handle


@pytest.fixture(scope="module")
def stack(argocd_api, argocd_mcp, stack_with: StackStarter) -> StackHandle:
    return stack_with(env=bridge_env(argocd_api, argocd_mcp.url))


def offered_tools(request: dict) -> set[str]:
    return {tool["function"]["name"] for tool in request["body"].get("tools", [])}


def bearer_tokens(requests) -> set[str]:
    return {r.headers.get("authorization", "").partition(" ")[2] for r in requests}


def test_read_tools_listed_beside_ours_and_no_write_tool(stack):
    tools = httpx.get(f"{stack.base_url}/v1/tools", timeout=30).json()["data"]
    groups = {}
    for tool in tools:
        groups.setdefault(tool["toolgroup_id"], set()).add(tool["name"])
    assert groups["mcp::argocd"] == READ_TOOLS
    assert "argocd_application" in groups["argocd::context"]
    bridged = next(t for t in tools if t["name"] == "get_application")
    assert "argocdBaseUrl" not in json.dumps(bridged["input_schema"])


def test_read_tool_through_responses_with_the_distribution_token(stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application", {"applicationName": "guestbook"})]), Text("It is OutOfSync."))
    events = stream_response(stack, {"model": MODEL, "input": "Is guestbook in sync?"})
    output = tool_outputs(completed(events))["get_application"]
    assert '"name":"guestbook"' in output.replace(" ", "") and "OutOfSync" in output
    assert offered_tools(llm.requests[0]) >= READ_TOOLS | {"argocd_application"}
    assert not offered_tools(llm.requests[0]) & WRITE_TOOLS
    reads = argocd_api.requests_since(before)
    assert any(r.path == "/api/v1/applications/guestbook" for r in reads)
    assert bearer_tokens(reads) == {TOKEN}


def test_read_tool_through_lightspeed_with_the_callers_token(stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application_events", {"applicationName": "guestbook"})]), Text("Sync failed."))
    answer = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60, json={
        "conversation_id": str(uuid.uuid4()), "query": "What happened?",
        "mcp_headers": {"argocd": {"x-argocd-api-token": USER_TOKEN}}})
    assert answer.status_code == 200, answer.text
    assert [c["name"] for c in answer.json()["tool_calls"]] == ["get_application_events"]
    reads = argocd_api.requests_since(before)
    assert any(r.path == "/api/v1/applications/guestbook/events" for r in reads)
    assert bearer_tokens(reads) == {USER_TOKEN}


def test_the_extensions_mcp_tool_lends_its_token_and_is_not_passed_on(stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application", {"applicationName": "guestbook"})]), Text("Healthy enough."))
    tool = {"type": "mcp", "server_label": "Argo CD MCP", "server_url": "http://argocd-mcp.example:3000/mcp",
            "require_approval": "never", "headers": {"x-argocd-api-token": USER_TOKEN,
                                                   "x-argocd-base-url": "https://evil.example"}}
    events = stream_response(stack, {"model": MODEL, "input": "Status?", "tools": [tool]})
    response = completed(events)
    assert "get_application" in tool_outputs(response)
    assert bearer_tokens(argocd_api.requests_since(before)) == {USER_TOKEN}
    stored = httpx.get(f"{stack.base_url}/v1/responses/{response['id']}", headers=EXTENSION_HEADERS, timeout=30)
    assert USER_TOKEN not in stored.text and "evil.example" not in stored.text


def test_another_application_is_refused_before_anything_is_forwarded(stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application", {"applicationName": "billing"}),
                        ("get_application", {"applicationName": "guestbook", "argocdBaseUrl": "https://evil.example"}),
                        ("get_appproject", {"projectName": "payments"})]),
             Text("Cannot."))
    outputs = tool_outputs(completed(stream_response(stack, {"model": MODEL, "input": "And billing?"})))
    assert "out_of_scope" in outputs["get_application"] and "out_of_scope" in outputs["get_appproject"]
    assert argocd_api.requests_since(before) == []


def test_write_tools_are_refused_even_when_the_model_names_them(stack, llm, argocd_api):
    llm.push(ToolCalls([("sync_application", {"applicationName": "guestbook"})]), Text("Did not sync."))
    stream_response(stack, {"model": MODEL, "input": "Sync it."})
    assert argocd_api.writes() == []
    assert "sync_application" not in offered_tools(llm.requests[0])


def test_no_token_in_any_log_line_or_model_request(stack, llm, argocd_mcp):
    llm.push(ToolCalls([("get_application", {"applicationName": "guestbook"})]), Text("ok"))
    httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60, json={
        "query": "status", "mcp_headers": {"argocd": {"x-argocd-api-token": USER_TOKEN}}})
    sent_to_model = json.dumps([r["body"] for r in llm.requests]) + json.dumps([r["headers"] for r in llm.requests])
    for token in (TOKEN, USER_TOKEN):
        assert token not in stack.log_text()
        assert token not in sent_to_model


def test_server_down_the_agent_answers_with_the_other_tools_and_says_so(stack_with, llm, argocd_api):
    closed = f"http://127.0.0.1:{free_port()}/mcp"
    with stack_with(env=bridge_env(argocd_api, closed)) as handle:
        llm.push(ToolCalls([("argocd_application", {})]), Text("Partly checked."))
        events = stream_response(handle, {"model": MODEL, "input": "Status?"})
        response = completed(events)
    assert "argocd_application" in tool_outputs(response)
    first = llm.requests[0]["body"]
    assert "mcp::argocd" in first["messages"][0]["content"] and "Unavailable right now" in first["messages"][0]["content"]
    assert "argocd_application" in offered_tools(llm.requests[0])
    assert not offered_tools(llm.requests[0]) & READ_TOOLS


def test_sse_transport_is_found_when_the_url_names_it(stack_with, llm, argocd_api):
    with start_argocd_mcp("sse") as sse, stack_with(env=bridge_env(argocd_api, sse.url)) as handle:
        names = {t["name"] for t in httpx.get(f"{handle.base_url}/v1/tools", timeout=30).json()["data"]}
        assert READ_TOOLS <= names
        llm.push(ToolCalls([("get_application_resource_tree", {"applicationName": "guestbook"})]), Text("Tree."))
        outputs = tool_outputs(completed(stream_response(handle, {"model": MODEL, "input": "Tree?"})))
    assert "guestbook-ui" in outputs["get_application_resource_tree"]


# -- write tools, when the distribution enables them: each call waits for the user's approval -------------------


@pytest.fixture(scope="module")
def write_api():
    """An Argo CD API stand-in of its own: the writes these tests make must not show in other tests' stand-in."""
    with start_argocd_api() as handle:
        yield handle


@pytest.fixture(scope="module")
def writable(write_api, argocd_mcp, stack_with: StackStarter) -> StackHandle:
    return stack_with(env={**bridge_env(write_api, argocd_mcp.url), "ARGOCD_MCP_ALLOW_WRITE_TOOLS": "true"})


def ask_to_sync(stack, llm) -> dict:
    llm.push(ToolCalls([("sync_application", {"applicationName": "guestbook", "prune": False})]))
    response = completed(stream_response(stack, {"model": MODEL, "input": "Sync guestbook, please."}))
    requests = [item for item in response["output"] if item["type"] == "mcp_approval_request"]
    assert [r["name"] for r in requests] == ["sync_application"]
    assert not [item for item in response["output"] if item["type"] == "function_call"]
    return response


def answer(stack, response: dict, approve: bool) -> dict:
    approval = {"type": "mcp_approval_response", "approve": approve,
                "approval_request_id": next(i["id"] for i in response["output"] if i["type"] == "mcp_approval_request")}
    return completed(stream_response(stack, {"model": MODEL, "input": [approval],
                                             "previous_response_id": response["id"]}))


def sync_posts(argocd_api) -> list:
    return [w for w in argocd_api.writes() if w.path == "/api/v1/applications/guestbook/sync"]


def test_a_write_runs_only_after_the_user_approves_and_only_once(writable, llm, write_api):
    assert "sync_application" in offered_tools({"body": {"tools": [
        {"function": {"name": t["name"]}} for t in httpx.get(f"{writable.base_url}/v1/tools").json()["data"]]}})
    before = len(sync_posts(write_api))
    response = ask_to_sync(writable, llm)
    assert len(sync_posts(write_api)) == before  # nothing happened yet

    llm.push(Text("Sync started."))
    done = answer(writable, response, approve=True)
    assert len(sync_posts(write_api)) == before + 1
    assert "sync_application" in tool_outputs(done)
    tool_messages = [m for m in llm.requests[-1]["body"]["messages"] if m["role"] == "tool"]
    assert tool_messages and "not_approved" not in json.dumps(tool_messages)

    llm.push(Text("Again?"))
    answer(writable, response, approve=True)  # the same approval replayed: the write does not run twice
    assert len(sync_posts(write_api)) == before + 1


def test_a_declined_write_is_not_run_and_the_model_is_told(writable, llm, write_api):
    before = len(sync_posts(write_api))
    response = ask_to_sync(writable, llm)
    llm.push(Text("Understood, not syncing."))
    answer(writable, response, approve=False)
    assert len(sync_posts(write_api)) == before
    assert "not_approved" in json.dumps(llm.requests[-1]["body"]["messages"])


def test_dialects_without_approvals_are_never_offered_write_tools(writable, llm, write_api):
    before = len(write_api.writes())
    llm.push(ToolCalls([("sync_application", {"applicationName": "guestbook"})]), Text("No."))
    httpx.post(f"{writable.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60, json={"query": "Sync it"})
    assert "sync_application" not in offered_tools(llm.requests[0]) and "get_application" in offered_tools(llm.requests[0])
    assert len(write_api.writes()) == before


def test_lightspeed_stacks_mcp_headers_header_lends_the_token_too(stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application", {"applicationName": "guestbook"})]), Text("ok"))
    headers = {**EXTENSION_HEADERS, "MCP-HEADERS": json.dumps({"argocd": {"x-argocd-api-token": USER_TOKEN}})}
    reply = httpx.post(f"{stack.base_url}/v1/query", headers=headers, timeout=60, json={"query": "status"})
    assert reply.status_code == 200, reply.text
    assert bearer_tokens(argocd_api.requests_since(before)) == {USER_TOKEN}
    bad = httpx.post(f"{stack.base_url}/v1/query", headers={**EXTENSION_HEADERS, "MCP-HEADERS": "{not json"},
                     timeout=60, json={"query": "status"})
    assert bad.status_code == 422 and bad.json()["detail"]["response"] == "Invalid MCP-HEADERS header"
