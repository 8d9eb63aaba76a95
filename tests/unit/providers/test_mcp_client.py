"""The bridge's tool runtime against servers that misbehave, over real HTTP on 127.0.0.1.

A server that accepts connections and never answers: bounded, and readable. A server that refuses the bridge
itself as mcp-for-argocd 0.9 does (401 without its bearer token, 403 to a Host it was not told to accept): an
`access_denied` error naming the setting to fix, no token in it, and the token file read again on every request.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from llama_stack_api import URL, ToolDef

from llama_stack_argocd.caller import Caller, acting_as
from llama_stack_argocd.context.errors import AccessDenied, Unavailable
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.providers.mcp_client.config import McpClientConfig
from llama_stack_argocd.providers.mcp_client.impl import McpClientToolRuntimeImpl

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


def runtime(endpoint: str) -> McpClientToolRuntimeImpl:
    impl = McpClientToolRuntimeImpl(McpClientConfig(
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


class _Refusing(BaseHTTPRequestHandler):
    """Answers every request as mcp-for-argocd 0.9's guards do: `status` and a JSON-RPC error body."""

    status = 401
    seen_authorization: list[str] = []

    def _refuse(self) -> None:
        type(self).seen_authorization.append(self.headers.get("Authorization", ""))
        body = json.dumps({"jsonrpc": "2.0", "error": {"code": -32000, "message": "refused"}, "id": None}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _refuse

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(params=[401, 403])
def refusing_server(request) -> Iterator[tuple[str, type[_Refusing]]]:
    handler = type("Handler", (_Refusing,), {"status": request.param, "seen_authorization": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/mcp", handler
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_refusal_of_the_bridge_names_the_setting_and_no_token(refusing_server, tmp_path):
    url, handler = refusing_server
    token_file = tmp_path / "token"
    token_file.write_text("first-inbound-token\n")
    impl = McpClientToolRuntimeImpl(McpClientConfig(api_token="server-token-123", mcp_auth_token_file=str(token_file)))
    impl.tool_store = _Tools(url)
    with pytest.raises(AccessDenied) as refused:
        asyncio.run(impl.list_runtime_tools("mcp::argocd", URL(uri=url)))
    message = refused.value.message
    if handler.status == 401:
        assert "refused the bridge's bearer token (401)" in message and "ARGOCD_MCP_AUTH_TOKEN_FILE" in message
    else:
        assert "(403)" in message and "--allowed-host-header 127.0.0.1" in message
    assert "Bearer first-inbound-token" in handler.seen_authorization

    token_file.write_text("rotated-inbound-token\n")  # a rotated Secret applies to the next request

    async def call():
        with acting_as(CALLER):
            return await impl.invoke_tool("get_application", {"applicationName": "guestbook"})

    result = asyncio.run(call())
    body = json.loads(result.content)
    assert result.error_code == 1 and body["error"] == "access_denied", body
    assert handler.seen_authorization[-1] == "Bearer rotated-inbound-token"
    for secret in ("first-inbound-token", "rotated-inbound-token", "server-token-123"):
        assert secret not in message and secret not in result.content


@pytest.mark.parametrize("refusing_server", [401], indirect=True)
def test_a_401_without_a_configured_token_says_none_is_set(refusing_server):
    url, handler = refusing_server
    impl = McpClientToolRuntimeImpl(McpClientConfig(api_token="server-token-123"))
    with pytest.raises(AccessDenied, match="asks for a bearer token and none is set"):
        asyncio.run(impl.list_runtime_tools("mcp::argocd", URL(uri=url)))
    assert handler.seen_authorization and not any(handler.seen_authorization)


def test_the_inbound_token_set_inline_and_as_a_file_is_refused_without_showing_it(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("inbound-from-file\n")
    with pytest.raises(ValueError) as refused:
        McpClientConfig(mcp_auth_token="inbound-inline-456", mcp_auth_token_file=str(token_file))
    message = str(refused.value)
    assert "ARGOCD_MCP_AUTH_TOKEN" in message and "ARGOCD_MCP_AUTH_TOKEN_FILE" in message
    assert "inbound-inline-456" not in message and "inbound-from-file" not in message
