"""The argocd-server proxy-extension stand-in: header checks, sanitising, identity headers, streaming."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from tests.support.argocd_proxy import ArgoApp, ArgoCDProxy, ArgoUser, serving_app

APP_HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}


class Upstream:
    """A tiny back-end: echoes what it got, or streams slowly under the test's control."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.finished = False
        self.url = ""

    async def echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        return web.json_response({"method": request.method, "path": request.path_qs,
                                  "headers": [[k, v] for k, v in request.headers.items()],
                                  "body": body.decode()})

    async def slow(self, request: web.Request) -> web.StreamResponse:
        self.finished = False
        response = web.StreamResponse(headers={"Content-Type": "text/plain; charset=utf-8"})
        await response.prepare(request)
        await response.write(b"first ")
        await asyncio.wait_for(self.gate.wait(), 10)  # held until the test saw the first chunk
        await response.write(b"second")
        await response.write_eof()
        self.finished = True
        return response

    async def sse(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for i in range(4):
            await response.write(f"data: {json.dumps({'i': i})}\n\n".encode())
            await asyncio.sleep(0.1)
        await response.write_eof()
        return response

    async def late_body(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)  # headers now, body half a second later
        await asyncio.sleep(0.5)
        await response.write(b"body")
        await response.write_eof()
        return response

    async def fixed(self, request: web.Request) -> web.Response:
        return web.Response(body=b"0123456789", content_type="application/json")


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    server = Upstream()
    app = web.Application()
    app.router.add_get("/slow", server.slow)
    app.router.add_get("/sse", server.sse)
    app.router.add_get("/late-body", server.late_body)
    app.router.add_get("/fixed", server.fixed)
    app.router.add_route("*", "/{tail:.*}", server.echo)
    async with serving_app(app) as url:
        server.url = url
        yield server
        server.gate.set()


@pytest.fixture
def proxy(upstream: Upstream):
    with ArgoCDProxy(upstream.url, username="sso-user", groups=("team-a", "team-b"), user_id="sub-123",
                     service_headers={"Authorization": "Bearer proxy-secret"}) as server:
        yield server


async def test_chunks_reach_the_client_before_the_upstream_finishes(proxy, upstream):
    async with (httpx.AsyncClient(timeout=10) as client,
                client.stream("GET", proxy.url + "/slow", headers=APP_HEADERS) as response):
        assert response.status_code == 200
        assert "content-length" not in response.headers
        assert response.headers["transfer-encoding"] == "chunked"
        pieces = response.aiter_raw()
        first = await asyncio.wait_for(pieces.__anext__(), 5)  # a buffering proxy would hang here
        assert first == b"first " and not upstream.finished
        upstream.gate.set()
        rest = b"".join([piece async for piece in pieces])
    assert rest == b"second" and upstream.finished
    await proxy.await_idle()
    assert [size for _, size in proxy.last.chunks] == [6, 6] and proxy.last.finished


async def test_server_sent_events_arrive_one_by_one(proxy):
    arrivals = []
    async with (httpx.AsyncClient(timeout=10) as client,
                client.stream("GET", proxy.url + "/sse", headers=APP_HEADERS) as response):
        assert response.headers["content-type"] == "text/event-stream"
        async for piece in response.aiter_raw():
            arrivals.append((time.monotonic(), piece))
    assert [p for _, p in arrivals] == [f"data: {json.dumps({'i': i})}\n\n".encode() for i in range(4)]
    assert arrivals[-1][0] - arrivals[0][0] > 0.25


async def test_headers_are_stripped_and_identity_added(proxy):
    async with httpx.AsyncClient() as client:
        response = await client.post(
            proxy.url + "/v1/openai/v1/responses?x=1&y=two", content=b'{"a": 1}',
            headers={**APP_HEADERS, "Authorization": "Bearer user-token", "Cookie": "argocd.token=abc; other=1",
                     "Argocd-Username": "spoofed", "Argocd-User-Groups": "admins", "X-Stainless-Lang": "js",
                     "Content-Type": "application/json", "Origin": proxy.root_url},
        )
    seen = response.json()
    assert seen["method"] == "POST" and seen["path"] == "/v1/openai/v1/responses?x=1&y=two"
    assert seen["body"] == '{"a": 1}'
    headers = {}
    for key, value in seen["headers"]:
        headers.setdefault(key.lower(), []).append(value)
    assert headers["authorization"] == ["Bearer proxy-secret"]  # the user's token is gone, the secret is set
    assert "cookie" not in headers
    assert headers["argocd-username"] == ["sso-user"]
    assert headers["argocd-user-groups"] == ["team-a,team-b"]
    assert headers["argocd-user-id"] == ["sub-123"]
    assert headers["argocd-namespace"] == ["argocd"]
    assert headers["argocd-target-cluster-url"] == ["https://kubernetes.default.svc"]
    assert headers["argocd-application-name"] == ["argocd:guestbook"]
    assert headers["argocd-project-name"] == ["default"]
    assert headers["x-stainless-lang"] == ["js"] and headers["origin"] == [proxy.root_url]
    assert headers["x-forwarded-for"] == ["127.0.0.1"]
    assert headers["content-length"] == ["8"]
    record = proxy.last
    assert record.path == "/v1/openai/v1/responses?x=1&y=two"
    assert record.incoming_path == "/extensions/assistant/v1/openai/v1/responses?x=1&y=two"
    assert record.headers["argocd-username"] == "sso-user" and "Cookie" not in record.headers
    assert record.incoming_headers["Authorization"] == "Bearer user-token"
    assert record.json() == {"a": 1} and record.status == 200 and record.user.username == "sso-user"
    assert record["headers"] is record.headers


async def test_no_service_headers_means_no_authorization(upstream):
    with ArgoCDProxy(upstream.url, user=ArgoUser("legacy", user_id=None)) as proxy:
        async with httpx.AsyncClient() as client:
            seen = (await client.get(proxy.url + "/v1/models",
                                     headers={**APP_HEADERS, "Authorization": "Bearer x"})).json()
    names = {k.lower(): v for k, v in seen["headers"]}
    assert "authorization" not in names and "argocd-user-id" not in names  # argocd-server < 3.2
    assert names["argocd-username"] == "legacy" and names["argocd-user-groups"] == ""


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, 'header "Argocd-Application-Name" must be provided'),
    ({"Argocd-Application-Name": "guestbook", "Argocd-Project-Name": "default"},
     ('error getting app details: invalid value for "Argocd-Application-Name" header: '
      "expected format: <namespace>:<app-name>")),
    ({"Argocd-Application-Name": ":", "Argocd-Project-Name": "default"}, "invalid value for namespace"),
    ({"Argocd-Application-Name": "argocd:Bad_Name", "Argocd-Project-Name": "default"},
     "invalid value for application name"),
    ({"Argocd-Application-Name": "argocd:guestbook"}, 'header "Argocd-Project-Name" must be provided'),
])
async def test_invalid_application_headers_are_refused(proxy, headers, reason):
    async with httpx.AsyncClient() as client:
        response = await client.post(proxy.url + "/v1/streaming_query", json={"query": "x"}, headers=headers)
    assert response.status_code == 400
    assert response.text == f"Invalid headers: {reason}\n"
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert proxy.forwarded == [] and proxy.refused[-1].status == 400


async def test_unknown_extension_is_not_found(proxy):
    async with httpx.AsyncClient() as client:
        response = await client.get(proxy.root_url + "/extensions/other/v1/models", headers=APP_HEADERS)
    assert (response.status_code, response.text) == (404, "Extension not found\n")
    assert proxy.forwarded == []


async def test_authorization_by_application_and_rbac(upstream):
    apps = {"argocd:guestbook": ArgoApp(project="default", server="https://10.0.0.1:6443", cluster_name="prod")}
    with ArgoCDProxy(upstream.url, applications=apps) as proxy:
        async with httpx.AsyncClient() as client:
            ok = await client.get(proxy.url + "/v1/models", headers=APP_HEADERS)
            wrong_project = await client.get(proxy.url + "/v1/models", headers={**APP_HEADERS,
                                                                                 "Argocd-Project-Name": "other"})
            unknown_app = await client.get(proxy.url + "/v1/models", headers={**APP_HEADERS,
                                                                               "Argocd-Application-Name": "argocd:x"})
            proxy.set_user("viewer", may_invoke=False)
            no_rbac = await client.get(proxy.url + "/v1/models", headers=APP_HEADERS)
    names = {k.lower(): v for k, v in ok.json()["headers"]}
    assert names["argocd-target-cluster-url"] == "https://10.0.0.1:6443"
    assert names["argocd-target-cluster-name"] == "prod"
    for refused in (wrong_project, unknown_app, no_rbac):
        assert (refused.status_code, refused.text) == (401, "Unauthorized extension request\n")
    assert len(proxy.forwarded) == 1


async def test_session_cookie_selects_the_user(upstream):
    with ArgoCDProxy(upstream.url, require_session=True) as proxy:
        cookie = proxy.login("ops-user", groups=["ops"], user_id="sub-ops")
        async with httpx.AsyncClient() as client:
            anonymous = await client.get(proxy.url + "/v1/models", headers=APP_HEADERS)
            logged_in = await client.get(proxy.url + "/v1/models", headers={**APP_HEADERS, "Cookie": cookie})
    assert anonymous.status_code == 401
    names = {k.lower(): v for k, v in logged_in.json()["headers"]}
    assert (names["argocd-username"], names["argocd-user-groups"], names["argocd-user-id"]) == \
        ("ops-user", "ops", "sub-ops")
    assert "cookie" not in names


async def test_per_instance_users_share_one_backend(upstream):
    with ArgoCDProxy(upstream.url, username="first") as one, ArgoCDProxy(upstream.url, username="second") as two:
        assert one.port != two.port
        async with httpx.AsyncClient() as client:
            a = (await client.get(one.url + "/v1/models", headers=APP_HEADERS)).json()
            b = (await client.get(two.url + "/v1/models", headers=APP_HEADERS)).json()
    assert {k.lower(): v for k, v in a["headers"]}["argocd-username"] == "first"
    assert {k.lower(): v for k, v in b["headers"]}["argocd-username"] == "second"


async def test_headers_wait_for_the_first_body_bytes_like_go(proxy):
    async with httpx.AsyncClient(timeout=10) as client:
        start = time.monotonic()
        async with client.stream("GET", proxy.url + "/late-body", headers=APP_HEADERS) as response:
            headers_after = time.monotonic() - start
            assert await response.aread() == b"body"
    assert headers_after >= 0.4


async def test_upstream_content_length_is_passed_through(proxy):
    async with httpx.AsyncClient() as client:
        response = await client.get(proxy.url + "/fixed", headers=APP_HEADERS)
    assert response.headers["content-length"] == "10" and response.content == b"0123456789"


async def test_unreachable_backend_is_a_bad_gateway():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with ArgoCDProxy(dead) as proxy:
        async with httpx.AsyncClient() as client:
            response = await client.get(proxy.url + "/v1/models", headers=APP_HEADERS)
    assert (response.status_code, response.content) == (502, b"")
    assert proxy.last.error and proxy.last.status == 502


async def test_a_negative_content_length_never_gets_through(proxy):
    # the extension sets `Content-Length: -1`; a browser drops it, and Go's server would refuse it (400)
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    writer.write(b"POST /extensions/assistant/v1/streaming_query HTTP/1.1\r\nHost: x\r\n"
                 b"Argocd-Application-Name: argocd:guestbook\r\nArgocd-Project-Name: default\r\n"
                 b"Content-Length: -1\r\n\r\n{}")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    assert b" 400 " in status_line and proxy.forwarded == []


def test_usable_from_sync_code_and_restartable_ports():
    with ArgoCDProxy("http://127.0.0.1:9") as proxy:
        port = proxy.port
        response = httpx.get(proxy.url + "/v1/models")  # no headers: refused before any upstream contact
        assert response.status_code == 400
    assert port > 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/extensions/assistant/v1/models", timeout=2)
