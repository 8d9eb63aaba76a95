"""A loopback stand-in for argocd-server's proxy extension, as it treats `/extensions/assistant/...`.

What argocd-server does with a request to `/extensions/<name>/<rest>` (server/extension/extension.go and Go's
httputil.ReverseProxy; see docs of the contract, sections 6 and 11), and what this stand-in does too:

1. Session: the `argocd.token` cookie names the logged-in user. Here a cookie minted by `login()` selects that
   user; without one (or with an unknown token) the proxy's current user is used (`set_user()` changes it).
   `require_session=True` turns an unknown or missing session into `401 Unauthorized`.
2. Routing: an extension name other than the configured one gives `404 Extension not found`.
3. `ValidateHeaders`: `Argocd-Application-Name` (`<namespace>:<app-name>`) and `Argocd-Project-Name` must be present
   and valid, otherwise `400 Invalid headers: <reason>` (same reasons as argocd-server).
4. `authorize`: if the user may not invoke the extension, or `applications` is given and the application is not
   there or belongs to another project, `401 Unauthorized extension request`.
5. Sanitising: `Authorization` and `Cookie` are deleted; `Argocd-Namespace`, `Argocd-Target-Cluster-Name` (if
   any), `Argocd-Target-Cluster-URL`, `Argocd-User-Id` (if the user has one; argocd-server >= 3.2),
   `Argocd-Username` and `Argocd-User-Groups` (comma-joined) are set; then the configured service headers are set
   (`services[].headers`, e.g. `Authorization: Bearer <secret>`). The `/extensions/<name>` prefix is stripped,
   the query string is kept. Hop-by-hop headers are dropped and `X-Forwarded-For` gets the client address.
6. Streaming: the answer is copied back chunk by chunk as it arrives, never buffered; no `Content-Length` is added
   (an upstream one is passed through). Like Go's ReverseProxy, the status line and headers reach the client
   together with the first body bytes (`defer_headers=True`), so a back-end that sends headers but no body for a
   minute still trips the client's 60 s header timeout. An unreachable back-end gives `502` with an empty body.

Every request that reached the back-end is recorded in `forwarded` (refused ones in `refused`), for assertions.
The proxy runs its own event loop in a background thread, so sync and async tests can both use it.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

HEADER_APP = "Argocd-Application-Name"
HEADER_PROJECT = "Argocd-Project-Name"
SESSION_COOKIE = "argocd.token"

# RFC 7230 hop-by-hop headers, as Go's ReverseProxy removes them (plus whatever `Connection` lists).
_HOP_BY_HOP = ("connection", "proxy-connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class ArgoUser:
    """The Argo CD user a request runs as. `user_id=None` mimics argocd-server < 3.2 (no `Argocd-User-Id`)."""

    username: str
    groups: tuple[str, ...] = ()
    user_id: str | None = None
    may_invoke: bool = True  # RBAC `extensions, invoke, assistant`


@dataclass(frozen=True)
class ArgoApp:
    """An Application argocd-server knows: its project and destination (for the target-cluster headers)."""

    project: str
    server: str | None = "https://kubernetes.default.svc"
    cluster_name: str | None = None


@dataclass
class ForwardedRequest:
    """One request as the back-end received it, and what came back."""

    method: str
    path: str  # upstream path + query string, e.g. "/v1/models?limit=1"
    headers: CIMultiDict[str]  # as sent to the back-end (case-insensitive)
    body: bytes
    incoming_path: str  # as the browser sent it, e.g. "/extensions/assistant/v1/models"
    incoming_headers: CIMultiDict[str]
    user: ArgoUser
    started: float = field(default_factory=time.monotonic)
    status: int | None = None
    response_headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    chunks: list[tuple[float, int]] = field(default_factory=list)  # (seconds since start, bytes) as forwarded
    finished: bool = False
    error: str | None = None

    def json(self) -> Any:
        import json

        return json.loads(self.body) if self.body else None

    def __getitem__(self, key: str) -> Any:  # lets older tests write record["headers"]
        return getattr(self, key)


@dataclass
class RefusedRequest:
    method: str
    incoming_path: str
    incoming_headers: CIMultiDict[str]
    status: int
    reason: str


class ArgoCDProxy:
    """argocd-server's proxy extension on 127.0.0.1, in front of `upstream` (the back-end URL, `services[].url`).

    Use as a context manager (`with ArgoCDProxy(url) as proxy:`), via `serving()`, or `start()`/`stop()`.
    `url` is what the extension uses as its base URL: `http://127.0.0.1:<port>/extensions/assistant`.
    """

    def __init__(
        self,
        upstream: str,
        *,
        username: str = "tester",
        groups: tuple[str, ...] | list[str] = ("developers",),
        user_id: str | None = "tester-sub",
        user: ArgoUser | None = None,
        service_headers: Mapping[str, str] | None = None,
        extension: str = "assistant",
        namespace: str = "argocd",
        applications: Mapping[str, ArgoApp | str] | None = None,
        target_cluster_url: str | None = "https://kubernetes.default.svc",
        target_cluster_name: str | None = None,
        require_session: bool = False,
        defer_headers: bool = True,
        connection_timeout: float = 2.0,
        port: int = 0,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.user = user or ArgoUser(username=username, groups=tuple(groups), user_id=user_id)
        self.service_headers = dict(service_headers or {})
        self.extension = extension
        self.namespace = namespace
        self.applications = {k: ArgoApp(project=v) if isinstance(v, str) else v for k, v in (applications or {}).items()}
        self.restrict_applications = applications is not None
        self.target_cluster_url = target_cluster_url
        self.target_cluster_name = target_cluster_name
        self.require_session = require_session
        self.defer_headers = defer_headers
        self.connection_timeout = connection_timeout
        self.port = port
        self.sessions: dict[str, ArgoUser] = {}
        self.forwarded: list[ForwardedRequest] = []
        self.refused: list[RefusedRequest] = []
        self._in_flight = 0
        self._idle = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._client: aiohttp.ClientSession | None = None

    # ---- addresses ---------------------------------------------------------------------------------------
    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The extension's base URL (`'https://' + location.host + '/extensions/assistant'` in the browser)."""
        return f"{self.root_url}/extensions/{self.extension}"

    # ---- the user being played ---------------------------------------------------------------------------
    def set_user(self, username: str, groups: tuple[str, ...] | list[str] = (), user_id: str | None = None,
                 *, may_invoke: bool = True) -> ArgoUser:
        """Change the default user (the one used for requests without a session cookie from `login()`)."""
        self.user = ArgoUser(username=username, groups=tuple(groups), user_id=user_id, may_invoke=may_invoke)
        return self.user

    def login(self, user: ArgoUser | str, groups: tuple[str, ...] | list[str] = (), user_id: str | None = None) -> str:
        """Open a session for `user`; returns the `Cookie` header value (`argocd.token=<random>`) a browser of
        that user would send. The proxy deletes the cookie before forwarding, as argocd-server does."""
        if isinstance(user, str):
            user = ArgoUser(username=user, groups=tuple(groups), user_id=user_id)
        token = secrets.token_urlsafe(24)
        self.sessions[token] = user
        return f"{SESSION_COOKIE}={token}"

    # ---- records -----------------------------------------------------------------------------------------
    @property
    def last(self) -> ForwardedRequest:
        return self.forwarded[-1]

    def clear(self) -> None:
        self.forwarded.clear()
        self.refused.clear()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every forwarded exchange is complete (its record has `finished` or `error` set)."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise TimeoutError(f"{self._in_flight} proxied request(s) still running")

    async def await_idle(self, timeout: float = 10.0) -> None:
        await asyncio.to_thread(self.wait_idle, timeout)

    # ---- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        ready = threading.Event()
        failure: list[Exception] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._serve(sock, ready))
            except Exception as exc:  # noqa: BLE001 - whatever broke start-up is reported by start()
                failure.append(exc)
                ready.set()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name=f"argocd-proxy:{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(10) or failure:
            raise RuntimeError(f"the Argo CD proxy stand-in did not start: {failure!r}")
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(10)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @contextmanager
    def serving(self) -> Iterator[Self]:
        with self:
            yield self

    async def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        self._stopping = asyncio.Event()
        self._client = aiohttp.ClientSession(
            auto_decompress=False,  # pass the bytes through untouched, as Go's proxy does
            timeout=aiohttp.ClientTimeout(total=None, connect=self.connection_timeout, sock_read=None),
            skip_auto_headers=("Accept-Encoding", "User-Agent", "Content-Type"),
        )
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.SockSite(runner, sock)
        await site.start()
        ready.set()
        try:
            await self._stopping.wait()
        finally:
            await runner.cleanup()
            await self._client.close()

    # ---- the handler -------------------------------------------------------------------------------------
    def _refuse(self, request: web.Request, status: int, message: str, body: bytes | None = None) -> web.Response:
        self.refused.append(RefusedRequest(request.method, request.path_qs, CIMultiDict(request.headers), status,
                                           message))
        # Go's http.Error: text/plain, nosniff, message + newline
        return web.Response(status=status, body=(message + "\n").encode(),
                            headers={"Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"})

    def _session_user(self, request: web.Request) -> ArgoUser | None:
        token = request.cookies.get(SESSION_COOKIE)
        if token is not None and token in self.sessions:
            return self.sessions[token]
        return None if self.require_session else self.user

    def _validate_headers(self, request: web.Request) -> tuple[str, str, str] | str:
        app_header = request.headers.get(HEADER_APP, "")
        if not app_header:
            return f'header "{HEADER_APP}" must be provided'
        parts = app_header.split(":")
        if len(parts) != 2:
            return (f'error getting app details: invalid value for "{HEADER_APP}" header: '
                    "expected format: <namespace>:<app-name>")
        namespace, name = parts
        if not (len(namespace) <= 63 and _DNS_LABEL.match(namespace)):
            return "invalid value for namespace"
        if not (len(name) <= 253 and _DNS_SUBDOMAIN.match(name)):
            return "invalid value for application name"
        project = request.headers.get(HEADER_PROJECT, "")
        if not project:
            return f'header "{HEADER_PROJECT}" must be provided'
        if not (len(project) <= 253 and _DNS_SUBDOMAIN.match(project)):
            return "invalid value for project name"
        return namespace, name, project

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        user = self._session_user(request)
        if user is None:
            return self._refuse(request, 401, "Unauthorized")
        prefix = f"/extensions/{self.extension}"
        path = request.rel_url.raw_path
        if not path.startswith("/extensions/"):
            return self._refuse(request, 404, "404 page not found")
        if not (path == prefix or path.startswith(prefix + "/")):
            return self._refuse(request, 404, "Extension not found")
        checked = self._validate_headers(request)
        if isinstance(checked, str):
            return self._refuse(request, 400, f"Invalid headers: {checked}")
        namespace, name, project = checked
        app = self.applications.get(f"{namespace}:{name}")
        if not user.may_invoke or (self.restrict_applications and (app is None or app.project != project)):
            return self._refuse(request, 401, "Unauthorized extension request")

        headers = self._outgoing_headers(request, user, app)
        upstream_path = path[len(prefix):] or "/"
        if request.rel_url.raw_query_string:
            upstream_path += "?" + request.rel_url.raw_query_string
        body = await request.read()
        record = ForwardedRequest(method=request.method, path=upstream_path, headers=headers, body=body,
                                  incoming_path=request.path_qs, incoming_headers=CIMultiDict(request.headers),
                                  user=user)
        self.forwarded.append(record)
        with self._idle:
            self._in_flight += 1
        try:
            return await self._forward(request, record)
        finally:
            record.finished = record.error is None
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def _outgoing_headers(self, request: web.Request, user: ArgoUser, app: ArgoApp | None) -> CIMultiDict[str]:
        drop = set(_HOP_BY_HOP) | {"host", "content-length", "authorization", "cookie"}
        for listed in request.headers.getall("Connection", []):
            drop.update(h.strip().lower() for h in listed.split(",") if h.strip())
        headers: CIMultiDict[str] = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in drop
        )
        peer = request.remote or "127.0.0.1"
        prior = headers.getall("X-Forwarded-For", [])
        headers["X-Forwarded-For"] = ", ".join([*prior, peer])
        cluster_url = app.server if app is not None else self.target_cluster_url
        cluster_name = app.cluster_name if app is not None else self.target_cluster_name
        headers["Argocd-Namespace"] = self.namespace
        if cluster_name:
            headers["Argocd-Target-Cluster-Name"] = cluster_name
        if cluster_url:
            headers["Argocd-Target-Cluster-URL"] = cluster_url
        if user.user_id is not None:
            headers["Argocd-User-Id"] = user.user_id
        headers["Argocd-Username"] = user.username
        headers["Argocd-User-Groups"] = ",".join(user.groups)
        for key, value in self.service_headers.items():
            headers[key] = value
        return headers

    async def _forward(self, request: web.Request, record: ForwardedRequest) -> web.StreamResponse:
        assert self._client is not None
        try:
            upstream_cm = self._client.request(record.method, self.upstream + record.path, headers=record.headers,
                                               data=record.body if record.body else None, allow_redirects=False)
            upstream = await upstream_cm.__aenter__()
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            record.status = 502
            return web.Response(status=502)  # Go's default ErrorHandler: 502, empty body
        try:
            record.status = upstream.status
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            drop = set(_HOP_BY_HOP)
            for listed in upstream.headers.getall("Connection", []):
                drop.update(h.strip().lower() for h in listed.split(",") if h.strip())
            for key, value in upstream.headers.items():
                if key.lower() not in drop:
                    response.headers.add(key, value)
            record.response_headers = CIMultiDict(response.headers)
            prepared = False
            if not self.defer_headers:
                await response.prepare(request)
                prepared = True
            chunks = upstream.content.iter_any().__aiter__()
            while True:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                    # Go aborts the client connection when the upstream body breaks mid-stream
                    record.error = f"upstream body: {type(exc).__name__}: {exc}"
                    if request.transport is not None:
                        request.transport.close()
                    return response
                try:
                    if not prepared:
                        await response.prepare(request)
                        prepared = True
                    await response.write(chunk)  # on the socket now: one chunk out per chunk in, no buffering
                except (ConnectionError, aiohttp.ClientError) as exc:
                    record.error = f"client went away: {type(exc).__name__}: {exc}"
                    return response
                record.chunks.append((time.monotonic() - record.started, len(chunk)))
            if not prepared:
                await response.prepare(request)
            await response.write_eof()
            return response
        finally:
            await upstream_cm.__aexit__(None, None, None)


@contextmanager
def argocd_proxy(upstream: str, **options: Any) -> Iterator[ArgoCDProxy]:
    """`with argocd_proxy(backend_url, service_headers={...}) as proxy:` (same options as `ArgoCDProxy`)."""
    with ArgoCDProxy(upstream, **options) as proxy:
        yield proxy


@asynccontextmanager
async def serving_app(app: web.Application) -> AsyncIterator[str]:
    """An upstream for the proxy in the test's own event loop: `app` on 127.0.0.1 at a free port, its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()
