"""The bridge's tool runtime against a server that accepts connections and never answers: bounded, and readable."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator

import pytest
from llama_stack_api import URL, ToolDef

from llama_stack_argocd.caller import Caller, acting_as
from llama_stack_argocd.context.errors import Unavailable
from llama_stack_argocd.context.scope import AppRef
from llama_stack_argocd.providers.mcp_bridge.config import ArgoCDMCPConfig
from llama_stack_argocd.providers.mcp_bridge.impl import ArgoCDMCPToolRuntimeImpl

CALLER = Caller(username="alice", application=AppRef(namespace="argocd", name="guestbook"))


@pytest.fixture
def silent_server() -> Iterator[str]:
    """127.0.0.1, a free port: takes connections, reads, never writes a byte."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


class _Tools:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    async def get_tool(self, name: str) -> ToolDef:
        return ToolDef(name=name, metadata={"endpoint": self.endpoint, "parameters": ["applicationName"]})


def runtime(endpoint: str) -> ArgoCDMCPToolRuntimeImpl:
    impl = ArgoCDMCPToolRuntimeImpl(ArgoCDMCPConfig(
        api_token="server-token-123", list_timeout_seconds=0.5, call_timeout_seconds=0.5))
    impl.tool_store = _Tools(endpoint)
    return impl


def test_listing_a_silent_server_fails_within_its_bound(silent_server):
    with pytest.raises(TimeoutError):
        asyncio.run(runtime(silent_server).list_runtime_tools("mcp::argocd", URL(uri=silent_server)))


def test_after_a_failed_listing_the_server_is_not_waited_on_again_at_once(silent_server):
    impl = runtime(silent_server)
    listing = impl.list_runtime_tools("mcp::argocd", URL(uri=silent_server))
    with pytest.raises(TimeoutError):
        asyncio.run(listing)
    with pytest.raises(Unavailable, match="not asked again"):
        asyncio.run(impl.list_runtime_tools("mcp::argocd", URL(uri=silent_server)))


def test_a_call_to_a_silent_server_comes_back_as_unavailable_without_the_token(silent_server):
    async def call():
        with acting_as(CALLER):
            return await runtime(silent_server).invoke_tool("get_application", {"applicationName": "guestbook"})

    result = asyncio.run(call())
    body = json.loads(result.content)
    assert result.error_code == 1 and body["error"] == "unavailable" and "in time" in body["message"]
    assert "server-token-123" not in result.content


def test_a_write_tool_is_refused_when_writes_are_off(silent_server):
    async def call():
        with acting_as(CALLER):
            return await runtime(silent_server).invoke_tool("delete_application", {"applicationName": "guestbook"})

    assert json.loads(asyncio.run(call()).content)["error"] == "out_of_scope"
