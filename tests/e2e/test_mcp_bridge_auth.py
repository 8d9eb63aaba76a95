"""The MCP bridge against mcp-for-argocd 0.9 started as it must be when exposed: `MCP_AUTH_TOKEN` set.

The real npm `argocd-mcp` 0.9.0 then answers 401 to any request without `Authorization: Bearer <MCP_AUTH_TOKEN>`
(its `bearerAuth` middleware, before every route but `/healthz`). Through a real `llama stack run`:
- the right token (inline `ARGOCD_MCP_AUTH_TOKEN` or a mounted file `ARGOCD_MCP_AUTH_TOKEN_FILE`): the bridged tools
  are listed and run, in Responses and in Lightspeed;
- a wrong or missing token: the turn still answers with our own tools, the model is told the `mcp::argocd` tools
  are unavailable and why, `GET /v1/tools` still answers 200 with ours, and the log says which setting to fix;
- no token (the MCP one, right or wrong, nor the Argo CD one) in any log line, stored response or model request.
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from tests.support.argocd_api import TOKEN
from tests.support.argocd_mcp import bridge_env, start_argocd_mcp
from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response, tool_outputs
from tests.support.scripted_llm import Text, ToolCalls
from tests.support.stack import StackHandle

MCP_TOKEN = "mcp-inbound-" + uuid.uuid4().hex  # what the server's MCP_AUTH_TOKEN is in this module
WRONG_TOKEN = "mcp-inbound-" + uuid.uuid4().hex
READ_TOOLS = {"get_application", "get_application_events", "get_resources"}


@pytest.fixture(scope="module")
def guarded_mcp():
    with start_argocd_mcp(auth_token=MCP_TOKEN, args=["--stateless"]) as handle:
        yield handle


@pytest.fixture(scope="module")
def token_file_stack(argocd_api, guarded_mcp, tmp_path_factory, stack_with):
    token_file = tmp_path_factory.mktemp("mcp-auth-file") / "mcp-token"
    token_file.write_text(MCP_TOKEN + "\n")  # as a Secret mounted from `kubectl create secret --from-file` is
    return stack_with(env={**bridge_env(argocd_api, guarded_mcp.url), "ARGOCD_MCP_AUTH_TOKEN_FILE": str(token_file)})


@pytest.fixture(scope="module", params=["wrong", "missing"])
def refused_stack(request, argocd_api, guarded_mcp, stack_with):
    env = bridge_env(argocd_api, guarded_mcp.url)
    if request.param == "wrong":
        env["ARGOCD_MCP_AUTH_TOKEN"] = WRONG_TOKEN
    with stack_with(env=env) as handle:
        yield handle


def offered(request: dict) -> set[str]:
    return {tool["function"]["name"] for tool in request["body"].get("tools", [])}


def system_text(request: dict) -> str:
    return request["body"]["messages"][0]["content"]


def answer_text(response: dict) -> str:
    return "".join(part.get("text", "") for item in response["output"] if item["type"] == "message"
                   for part in item["content"])


def assert_no_token_anywhere(stack: StackHandle, llm, stored: list[str]) -> None:
    sent = json.dumps([r["body"] for r in llm.requests]) + json.dumps([r["headers"] for r in llm.requests])
    for token in (MCP_TOKEN, WRONG_TOKEN, TOKEN):
        assert token not in stack.log_text()
        assert token not in sent
        for text in stored:
            assert token not in text


def test_the_right_token_from_a_file_lists_and_runs_the_tools_in_responses(token_file_stack, llm, argocd_api):
    tools = httpx.get(f"{token_file_stack.base_url}/v1/tools", timeout=30).json()["data"]
    assert READ_TOOLS <= {t["name"] for t in tools if t["toolgroup_id"] == "mcp::argocd"}
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application", {"applicationName": "guestbook"})]), Text("It is OutOfSync."))
    response = completed(stream_response(token_file_stack, {"model": MODEL, "input": "Is guestbook in sync?"}))
    assert "OutOfSync" in tool_outputs(response)["get_application"]
    assert any(r.path == "/api/v1/applications/guestbook" for r in argocd_api.requests_since(before))
    assert READ_TOOLS <= offered(llm.requests[0]) and "Unavailable" not in system_text(llm.requests[0])
    stored = httpx.get(f"{token_file_stack.base_url}/v1/responses/{response['id']}", headers=EXTENSION_HEADERS,
                       timeout=30)
    assert stored.status_code == 200
    assert_no_token_anywhere(token_file_stack, llm, [stored.text])


def test_the_right_token_runs_the_tools_in_lightspeed(token_file_stack, llm, argocd_api):
    before = argocd_api.request_count()
    llm.push(ToolCalls([("get_application_events", {"applicationName": "guestbook"})]), Text("Sync failed."))
    answer = httpx.post(f"{token_file_stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                        json={"conversation_id": str(uuid.uuid4()), "query": "What happened?"})
    assert answer.status_code == 200, answer.text
    assert [c["name"] for c in answer.json()["tool_calls"]] == ["get_application_events"]
    assert any(r.path == "/api/v1/applications/guestbook/events" for r in argocd_api.requests_since(before))
    assert_no_token_anywhere(token_file_stack, llm, [answer.text])


def test_the_right_token_inline(llm, argocd_api, guarded_mcp, stack_with):
    with stack_with(env={**bridge_env(argocd_api, guarded_mcp.url), "ARGOCD_MCP_AUTH_TOKEN": MCP_TOKEN}) as handle:
        llm.push(ToolCalls([("get_resources", {"applicationName": "guestbook"})]), Text("Listed."))
        response = completed(stream_response(handle, {"model": MODEL, "input": "What does it manage?"}))
        assert "guestbook-ui" in tool_outputs(response)["get_resources"]
        assert_no_token_anywhere(handle, llm, [json.dumps(response)])


def test_a_refused_token_leaves_the_tools_out_and_the_turn_answers_with_ours(refused_stack, llm):
    tools = httpx.get(f"{refused_stack.base_url}/v1/tools", timeout=30)
    assert tools.status_code == 200, tools.text  # the caller did nothing wrong: not a 401 for it
    groups = {t["toolgroup_id"] for t in tools.json()["data"]}
    assert groups == {"argocd::context"}

    llm.push(ToolCalls([("argocd_application", {})]), Text("Partly checked: the MCP tools were refused."))
    response = completed(stream_response(refused_stack, {"model": MODEL, "input": "Status?"}))
    assert "argocd_application" in tool_outputs(response)
    assert "Partly checked" in answer_text(response)
    first = llm.requests[0]
    assert "argocd_application" in offered(first) and not offered(first) & READ_TOOLS
    assert "Unavailable right now" in system_text(first) and "mcp::argocd" in system_text(first)

    llm.push(Text("The Argo CD MCP tools are unavailable."))
    answer = httpx.post(f"{refused_stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                        json={"query": "Status?"})
    assert answer.status_code == 200, answer.text
    assert "mcp::argocd" in system_text(llm.requests[-1]) and not offered(llm.requests[-1]) & READ_TOOLS

    stored = httpx.get(f"{refused_stack.base_url}/v1/responses/{response['id']}", headers=EXTENSION_HEADERS,
                       timeout=30)
    assert_no_token_anywhere(refused_stack, llm, [stored.text, answer.text])


def test_the_log_names_the_setting_to_fix(refused_stack):
    httpx.get(f"{refused_stack.base_url}/v1/tools", timeout=30)
    log = refused_stack.log_text()
    assert "ARGOCD_MCP_AUTH_TOKEN" in log and "401" in log


# -- the deploy kit's argocd-mcp, run as rendered: the real server reads its arguments and environment ---------

KIT = "deploy/overlays/mcp-for-argocd"


def kit_server(tmp_path) -> tuple[list[str], dict[str, str], str, str]:
    """argocd-mcp as the kit renders it: its arguments after the subcommand (but --port: the tests pick a free
    one), its plain environment values, and the host and port of the bridge's ARGOCD_MCP_URL."""
    from tests.unit.project.test_deploy_kit import COMPONENT_HOSTS, NAME, one, render_component

    objects = render_component(KIT, COMPONENT_HOSTS[KIT][0][0], str(tmp_path))
    (server,) = one(objects, "Deployment", "argocd-mcp")["spec"]["template"]["spec"]["containers"]
    (backend,) = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"]
    url = next(e["value"] for e in backend["env"] if e["name"] == "ARGOCD_MCP_URL")
    host, _, port = url.removeprefix("http://").partition("/")[0].partition(":")
    assert server["args"][0] == "http"
    args = server["args"][1:]
    at = args.index("--port")
    assert args[at + 1] == port
    env = {e["name"]: e["value"] for e in server["env"] if "value" in e}
    return args[:at] + args[at + 2:], env, host, port


def replaced(args: list[str], flag: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(flag) + 1] = value
    return out


def mcp_list(url: str, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(url, timeout=30, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                      headers={"Accept": "application/json, text/event-stream", **headers})


def test_the_kits_arguments_as_argocd_mcp_reads_them(tmp_path, argocd_api):
    """The rendered flags and environment start the real 0.9.0 (its yargs is strict: an unknown flag stops it);
    only the bind address is loopback here, so nothing listens beyond 127.0.0.1. The Host the bridge sends is
    accepted, another is refused (403), a missing or wrong bearer token is 401, and the write tools are gone."""
    args, env, host, port = kit_server(tmp_path)
    with start_argocd_mcp(auth_token=MCP_TOKEN, env=env, args=replaced(args, "--bind-address", "127.0.0.1")) as mcp:
        credentials = {"x-argocd-base-url": argocd_api.url, "x-argocd-api-token": TOKEN}
        bearer = {"Authorization": f"Bearer {MCP_TOKEN}", **credentials}
        listed = mcp_list(mcp.url, {**bearer, "Host": f"{host}:{port}"})
        assert listed.status_code == 200, listed.text
        assert "get_application" in listed.text and "sync_application" not in listed.text  # MCP_READ_ONLY
        assert mcp_list(mcp.url, {**bearer, "Host": f"evil.example:{port}"}).status_code == 403
        assert mcp_list(mcp.url, {**credentials, "Host": f"{host}:{port}"}).status_code == 401
        wrong = {**credentials, "Authorization": f"Bearer {WRONG_TOKEN}", "Host": f"{host}:{port}"}
        assert mcp_list(mcp.url, wrong).status_code == 401
        log = mcp.log_text()
    assert MCP_TOKEN not in log and TOKEN not in log


def test_the_kits_wider_bind_does_not_start_without_the_token_secret(tmp_path):
    """A non-loopback bind (the kit's 0.0.0.0; here a TEST-NET address, so nothing can be bound) without
    MCP_AUTH_TOKEN: argocd-mcp 0.9 refuses to start. The Secret is what lets the kit's server run at all."""
    args, env, _, _ = kit_server(tmp_path)
    with pytest.raises(RuntimeError, match="Refusing to bind to 192.0.2.1 without inbound authentication"):
        with start_argocd_mcp(env=env, args=replaced(args, "--bind-address", "192.0.2.1")):
            pass
