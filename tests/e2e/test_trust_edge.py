"""The trust holes of issue 19, tried as an attacker would, against proxy-trust behind the proxy stand-in.

Raw HTTP (a socket, so repeated header lines stay repeated), through a copy of argocd-server's proxy extension that
checks RBAC on the first `Argocd-Application-Name` and forwards every value, as argocd-server does.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.argocd_proxy import ArgoCDProxy
from tests.support.http import MODEL
from tests.support.scripted_llm import Text, ToolCalls
from tests.support.stack import StackHandle, StackStarter

SECRET = "proxy-secret-" + "e" * 24
MINE, OTHER = f"{fx.ARGOCD_NS}:{fx.APP}", f"{fx.ARGOCD_NS}:{fx.OTHER_APP}"
DIRECT = {"Authorization": f"Bearer {SECRET}", "Argocd-Username": "alice", "Argocd-Application-Name": MINE,
          "Argocd-Project-Name": "default"}
TOOL_CALL = {"name": "argocd_application", "arguments": {}}
# Every dialect and the MCP endpoint: (method, path, body)
ROUTES = [
    ("POST", "/v1/responses", {"model": MODEL, "input": "Why is it failing?"}),
    ("POST", "/v1/openai/v1/responses", {"model": MODEL, "input": "Why?", "stream": True}),
    ("POST", "/v1/streaming_query", {"query": "Why is it failing?"}),
    ("POST", "/v1/query", {"query": "Why is it failing?"}),
    ("POST", "/v1/agents", {"agent_config": {"model": MODEL, "instructions": "x"}}),
    ("POST", "/v1/argocd/mcp", {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": TOOL_CALL}),
]


@pytest.fixture(scope="module")
def stack(stack_with: StackStarter) -> StackHandle:
    return stack_with("distributions/argocd/proxy-trust.yaml", env={"ARGOCD_ASSISTANT_PROXY_SECRET": SECRET})


@pytest.fixture(scope="module")
def proxy(stack) -> Iterator[ArgoCDProxy]:
    # The user is authorised for guestbook only; billing exists in the cluster but not for this user.
    with ArgoCDProxy(stack.base_url, username="alice", groups=("dev",),
                     service_headers={"Authorization": f"Bearer {SECRET}"},
                     applications={MINE: "default"}) as running:
        yield running


def raw_request(port: int, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> tuple[int, bytes]:
    """One HTTP/1.1 exchange on a fresh socket, header lines exactly as given (repeats kept)."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close",
             "Content-Type: application/json", "Accept: application/json, text/event-stream",
             f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers)]
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, rest = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), rest


def foreign(cluster, before: int) -> list[str]:
    return [u for u in cluster.paths_since(before) if f"/namespaces/{fx.OTHER_NS}/" in u or f"/{fx.OTHER_APP}" in u]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[r[1] for r in ROUTES])
def test_a_second_application_header_through_the_proxy_is_refused(stack, proxy, cluster, llm, method, path, body):
    """RBAC passed on the first value; the back-end refuses the request whole: nothing reads the other one."""
    llm.push(ToolCalls([("argocd_application", {})]), Text("done"))
    before, asked = cluster.request_count(), len(llm.requests)
    status, answer = raw_request(proxy.port, method, "/extensions/assistant" + path, [
        ("Argocd-Application-Name", MINE), ("Argocd-Application-Name", OTHER), ("Argocd-Project-Name", "default")],
        json.dumps(body).encode())
    assert proxy.forwarded and proxy.last.headers.getall("Argocd-Application-Name") == [MINE, OTHER]
    assert status == 400, answer
    assert b"more than once" in answer
    assert foreign(cluster, before) == [] and cluster.paths_since(before) == []
    assert len(llm.requests) == asked


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[r[1] for r in ROUTES])
@pytest.mark.parametrize("headers", [
    [("Argocd-Username", "alice"), ("Argocd-Username", "bob")],
    [("Argocd-User-Id", "a"), ("Argocd-User-Id", "b")],
    [("Argocd-User-Groups", "dev"), ("Argocd-User-Groups", "admins")],
    [("Argocd-Project-Name", "default"), ("Argocd-Project-Name", "payments")],
    [("Argocd-Application-Name", f"{MINE},{OTHER}")],
    [("Argocd-Project-Name", "default,payments")],
    [("Argocd-Application-Name", "argocd:guestbook:billing")],
], ids=["username", "user-id", "groups", "project", "app-comma", "project-comma", "app-malformed"])
def test_repeated_or_malformed_identity_headers_are_refused_on_every_route(stack, cluster, llm, method, path, body,
                                                                             headers):
    base = [(k, v) for k, v in DIRECT.items() if k not in {h for h, _ in headers}]
    before, asked = cluster.request_count(), len(llm.requests)
    status, answer = raw_request(stack.port, method, path, [*base, *headers], json.dumps(body).encode())
    assert status == 400, answer
    assert SECRET.encode() not in answer
    assert cluster.paths_since(before) == [] and len(llm.requests) == asked


def test_one_comma_joined_groups_header_stays_valid(stack, proxy):
    proxy.set_user("alice", groups=("dev", "ops", "argocd:admins"))
    response = httpx.get(proxy.url + "/v1/models", headers={"Argocd-Application-Name": MINE,
                                                           "Argocd-Project-Name": "default"}, timeout=30)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("count", [1100, 5000])
def test_thousands_of_groups_are_served(stack, llm, count):
    """The group list never reaches llama-stack's access-control query (it made it too large: a 500)."""
    headers = {**DIRECT, "Argocd-User-Groups": ",".join(f"group-{i}" for i in range(count))}
    llm.push(Text("fine"))
    created = httpx.post(f"{stack.base_url}/v1/responses", headers=headers, timeout=60,
                         json={"model": MODEL, "input": "hi"})
    assert created.status_code == 200, created.text
    listed = httpx.get(f"{stack.base_url}/v1/responses", headers=headers, timeout=60)
    assert listed.status_code == 200, listed.text
    assert httpx.get(f"{stack.base_url}/v1/health", timeout=30).status_code == 200


def test_a_group_list_over_the_bound_is_refused(stack):
    headers = {**DIRECT, "Argocd-User-Groups": ",".join(f"g{i}" for i in range(10_001))}
    response = httpx.get(f"{stack.base_url}/v1/models", headers=headers, timeout=30)
    assert response.status_code == 400 and "ARGOCD_ASSISTANT_MAX_GROUPS" in response.text


def test_a_401_says_why_and_never_echoes_the_secret(stack):
    no_user = {k: v for k, v in DIRECT.items() if k != "Argocd-Username"}
    response = httpx.get(f"{stack.base_url}/v1/models", headers=no_user, timeout=30)
    assert response.status_code == 401 and "Argocd-Username" in response.json()["error"]["message"]
    wrong = httpx.get(f"{stack.base_url}/v1/models", headers={**DIRECT, "Authorization": "Bearer guess-" + "x" * 20})
    assert wrong.status_code == 401 and "guess-" not in wrong.text and "proxy secret" in wrong.text
    none = httpx.post(f"{stack.base_url}/v1/query", json={"query": "x"}, timeout=30)
    assert none.status_code == 401 and "Authorization" in none.json()["detail"]["cause"]
    assert SECRET not in response.text + wrong.text + none.text


CLOSED = [("POST", "/v1/chat/completions"), ("POST", "/v1/openai/v1/chat/completions"), ("POST", "/v1/completions"),
          ("POST", "/v1/embeddings"), ("GET", "/v1/files"), ("POST", "/v1/files"), ("GET", "/v1/vector_stores"),
          ("POST", "/v1/vector_stores"), ("POST", "/v1/models"), ("DELETE", "/v1/models/x"),
          ("POST", "/v1/tool-runtime/invoke"), ("POST", "/v1/toolgroups"), ("GET", "/v1/providers"),
          ("GET", "/v1/inspect/routes"), ("GET", "/v1/prompts"), ("POST", "/v1/connectors"),
          ("POST", "/v1/moderations"), ("GET", "/v1/scoring-functions"), ("POST", "/v1/batches")]
OPEN = [("GET", "/v1/models"), ("GET", "/v1/openai/v1/models"), ("GET", "/v1/tools"), ("GET", "/v1/responses"),
        ("GET", "/v1/agents"), ("GET", "/v1/conversations"), ("POST", "/authorized"), ("GET", "/v1/health"),
        ("GET", "/readiness"), ("GET", "/v1/feedback/status")]


@pytest.mark.parametrize(("method", "path"), CLOSED)
def test_routes_the_assistant_does_not_serve_are_closed_to_proxied_users(stack, proxy, method, path):
    response = httpx.request(method, proxy.url + path, json={}, timeout=30,
                             headers={"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"})
    assert response.status_code == 403, response.text
    assert "ARGOCD_ASSISTANT_EXTRA_ROUTES" in response.json()["error"]["message"]


@pytest.mark.parametrize(("method", "path"), OPEN)
def test_the_assistant_routes_stay_open(stack, proxy, method, path):
    response = httpx.request(method, proxy.url + path, timeout=30,
                             headers={"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"})
    assert response.status_code == 200, (path, response.text)


class Listener:
    """A loopback TCP listener that must receive nothing: the SSRF target."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    target = Listener()
    yield target
    target.close()


def _ssrf_bodies(url: str) -> list[dict]:
    image = {"type": "input_image", "image_url": url + "/latest/meta-data", "detail": "auto"}
    file = {"type": "input_file", "file_url": url + "/f.pdf", "filename": "f.pdf"}
    return [
        {"tools": [{"type": "mcp", "server_label": "x", "server_url": url + "/mcp", "headers": {"X-Key": "k"}}]},
        {"tools": [{"type": "mcp", "server_label": "x", "server_url": url + "/sse", "require_approval": "never"}],
         "stream": True},
        {"input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "see"}, image]}]},
        {"input": [{"type": "message", "role": "user", "content": [file]}]},
    ]


@pytest.mark.parametrize("case", range(4))
@pytest.mark.parametrize("prefix", ["/v1", "/v1/openai/v1"])
def test_caller_chosen_urls_are_refused_before_any_connection(stack, proxy, llm, listener, case, prefix):
    body = {"model": MODEL, "input": "hi", **_ssrf_bodies(listener.url)[case]}
    llm.push(Text("unused"))
    asked = len(llm.requests)
    response = httpx.post(proxy.url + prefix + "/responses", json=body, timeout=60,
                          headers={"Argocd-Application-Name": MINE, "Argocd-Project-Name": "default"})
    assert response.status_code == 400, response.text
    assert "ARGOCD_ASSISTANT_ALLOWED_URLS" in response.text
    assert listener.accepted == 0 and len(llm.requests) == asked
