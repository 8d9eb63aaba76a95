"""The MCP tool server's own logic, in process: the catalog it lists, the caller it runs as, the cap and its marker,
the errors it answers with. The tools run for real (our tool runtime against the Kubernetes stand-in); only
llama-stack's routing table is replaced by a direct hand-over to that runtime."""

from __future__ import annotations

import asyncio
import json

import pytest
from llama_stack_api import ListToolsRequest

from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.apis.mcp_server.server import ContextToolServer
from llama_stack_argocd.caller import Caller, acting_as, current_caller
from llama_stack_argocd.context.errors import InvalidArgument
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.tokens import count_tokens
from llama_stack_argocd.context.tools import TOOLS, input_schema, tool_spec
from llama_stack_argocd.providers.tool_runtime.config import ArgoCDToolRuntimeConfig
from llama_stack_argocd.providers.tool_runtime.impl import ArgoCDToolRuntimeImpl
from tests.support import cluster as fx

GUESTBOOK = Caller(username="alice", application=AppRef(namespace=fx.ARGOCD_NS, name=fx.APP))


class _OneGroup:
    """llama-stack's tool groups table, reduced to the one group our runtime serves."""

    def __init__(self, runtime: ArgoCDToolRuntimeImpl) -> None:
        self.runtime = runtime
        self.asked: list[str | None] = []

    async def list_tools(self, request: ListToolsRequest):
        self.asked.append(request.toolgroup_id)
        return await self.runtime.list_runtime_tools(request.toolgroup_id)


@pytest.fixture
def runtime(cluster):
    return ArgoCDToolRuntimeImpl(ArgoCDToolRuntimeConfig(kubeconfig=cluster.kubeconfig_path))


def server_for(runtime, max_result_tokens: int = 8000, timeout: float = 30) -> ContextToolServer:
    toolbox = Toolbox(_OneGroup(runtime), runtime, ["argocd::context"])
    return ContextToolServer(toolbox, max_result_tokens, timeout)


def test_an_unknown_tool_name_is_an_invalid_argument_listing_the_tools():
    assert tool_spec("argocd_application") is TOOLS[0]
    with pytest.raises(InvalidArgument) as raised:
        tool_spec("kubectl_delete")
    assert all(spec.name in raised.value.hint for spec in TOOLS)


async def test_tools_are_the_catalog_read_only(runtime):
    tools = await server_for(runtime).tools()
    assert [t.name for t in tools] == [spec.name for spec in TOOLS]
    assert [t.inputSchema for t in tools] == [input_schema(spec) for spec in TOOLS]
    assert all(t.annotations.readOnlyHint and not t.annotations.destructiveHint for t in tools)


async def test_a_call_runs_as_the_current_caller(runtime):
    server = server_for(runtime)
    with acting_as(GUESTBOOK):
        result = await server.call("argocd_application", {})
    assert result.isError is False and result.meta is None
    assert json.loads(result.content[0].text)["application"] == "argocd:guestbook"
    without = await server.call("argocd_application", {})
    assert without.isError is True and json.loads(without.content[0].text)["error"] == "invalid_argument"


async def test_a_result_over_the_cap_is_cut_with_a_marker(runtime):
    with acting_as(GUESTBOOK):
        result = await server_for(runtime, max_result_tokens=256).call("argocd_application", {})
    text = result.content[0].text
    assert result.isError is False and result.meta == {"argocd_truncated": True}
    assert "omitted ...]" in text and count_tokens(text) <= 256


async def test_tools_of_other_groups_are_not_run(runtime):
    class Runtime:
        called = False

        async def invoke_tool(self, **_):
            Runtime.called = True

    server = ContextToolServer(Toolbox(_OneGroup(runtime), Runtime(), ["argocd::context"]), 8000, 30)
    with acting_as(GUESTBOOK):
        result = await server.call("web_search", {"query": "x"})
    assert result.isError is True and "There is no tool" in result.content[0].text
    assert Runtime.called is False


async def test_call_as_sets_the_caller_and_bounds_the_time(runtime):
    seen: list[Caller | None] = []

    class SlowRuntime:
        async def invoke_tool(self, tool_name, kwargs):
            seen.append(current_caller())
            await asyncio.sleep(5)

    toolbox = Toolbox(_OneGroup(runtime), SlowRuntime(), ["argocd::context"])
    output, is_error = await toolbox.call_as(GUESTBOOK, "argocd_application", {}, timeout=0.05)
    assert is_error and json.loads(output)["error"] == "timeout"
    assert seen == [GUESTBOOK] and current_caller() is None
