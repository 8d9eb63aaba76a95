"""`ClusterSource` over argocd-server's REST API, for Applications on clusters the back-end's account cannot see.

Argo CD answers per Application, not per kind, so reads go through a source bound to the caller's Application
(`ArgoCDSource.for_application`, once per tool call):

- the Application: `GET /api/v1/applications/{name}?appNamespace=`
- `get` and `list`: the nodes of `GET .../{name}/resource-tree` (the managed resources and everything they own),
  filtered by kind and namespace, each object read with `GET .../{name}/resource` (a JSON string in `manifest`).
  An object outside the tree is `NotFound` without a request: Argo CD would refuse it anyway.
- `events`: `GET .../{name}/events` per subject, by its uid (the Application's own events without resource
  parameters)
- `log`: `GET .../{name}/logs?podName=&follow=false`, newline-delimited `{"result": LogEntry}` lines

The tree and the objects read are kept for the one call the bound source lives for, so a workload's Pods are read
once even when several steps of a tool ask for them. The token (from the settings or a mounted file, read for each
call so a rotated Secret applies) goes only into the Authorization header: it is never logged and never part of an
error message (argocd-server's own messages are scrubbed of it too). TLS is verified unless configured otherwise.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import ssl
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import httpx

from llama_stack_argocd.context.bounded import BoundedBody, TooLarge
from llama_stack_argocd.context.errors import AccessDenied, ContextError, InvalidArgument, NotFound, Unavailable
from llama_stack_argocd.context.kube_events import about
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.settings import HARD_MAX_LOG_BYTES, HARD_MAX_LOG_LINES, HARD_MAX_READ_BYTES, ContextSettings
from llama_stack_argocd.context.source import resource_type
from llama_stack_argocd.observability.metrics import status_kind, upstream_error

_MAX_CONCURRENT_READS = 8  # objects of one listing read at once: bounded, argocd-server serves every user too
_MAX_ERROR_BYTES = 2**16  # an error's message is short; its end is kept, past this it is not parsed
_RBAC_EXAMPLE = "p, role:assistant-readonly, applications, get, */*, allow"
_LOGS_RBAC_EXAMPLE = "p, role:assistant-readonly, logs, get, */*, allow"

Obj = dict[str, Any]


T = TypeVar("T")

class ArgoCDClient:
    """HTTP to argocd-server: the bearer token, TLS settings, a timeout on every call, errors as `ContextError`s."""

    def __init__(self, settings: ContextSettings) -> None:
        self._settings = settings
        self.base_url = settings.argocd.server_url or ""
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _http(self) -> httpx.AsyncClient:
        """One connection pool per event loop (tests run several loops; the server runs one)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            argocd = self._settings.argocd
            verify: ssl.SSLContext | bool = True
            if argocd.insecure:
                verify = False
            elif argocd.ca_file:
                try:
                    verify = ssl.create_default_context(cafile=argocd.ca_file)
                except (OSError, ssl.SSLError) as error:
                    raise Unavailable(f"The CA file {argocd.ca_file} for argocd-server cannot be used: {error}",
                                      hint="Point ARGOCD_CA_FILE at a PEM bundle.") from error
            self._client = httpx.AsyncClient(
                base_url=self.base_url, verify=verify, timeout=httpx.Timeout(self._settings.request_timeout_seconds)
            )
            self._loop = loop
        return self._client

    def _token(self) -> str:
        try:
            return self._settings.argocd.token()
        except ValueError as error:
            raise AccessDenied(str(error), hint="Set ARGOCD_API_TOKEN or mount the token and set "
                               "ARGOCD_API_TOKEN_FILE.") from None

    def credentials_key(self) -> str:
        """argocd-server and the account's current token (a rotated one is new credentials), hashed."""
        return hashlib.sha256(f"{self.base_url}\0{self._token()}".encode()).hexdigest()[:32]

    def _scrub(self, text: str, token: str) -> str:
        return text.replace(token, "[REDACTED]") if token else text

    async def get_json(self, path: str, params: dict[str, str], what: str, logs: bool = False) -> Any:
        body = await self._read(path, params, what, BoundedBody(HARD_MAX_READ_BYTES, "all"), logs)
        try:
            return json.loads(body)
        except ValueError:
            raise Unavailable(f"argocd-server answered {what} with something other than JSON.",
                              hint="Check that ARGOCD_SERVER_URL points at argocd-server itself.") from None

    async def stream_json_lines(self, path: str, params: dict[str, str], what: str) -> list[Any]:
        """The objects of a newline-delimited JSON stream (a server-streaming call): its newest lines within
        HARD_MAX_LOG_BYTES."""
        body = await self._read(path, params, what, BoundedBody(HARD_MAX_LOG_BYTES, "newest"), logs=True)
        try:
            return [json.loads(line) for line in body.splitlines() if line.strip()]
        except ValueError:
            raise Unavailable(f"argocd-server sent a malformed line reading {what}.") from None

    async def _read(self, path: str, params: dict[str, str], what: str, body: BoundedBody, logs: bool) -> bytes:
        """The body of one GET, within `body`'s bound and one deadline for the whole read (httpx's timeout bounds
        each wait, so a server that drips would otherwise hold the read for ever)."""
        token = self._token()
        try:
            async with asyncio.timeout(self._settings.request_timeout_seconds):
                async with self._http().stream(
                    "GET", path, params=params, headers={"Authorization": f"Bearer {token}"}
                ) as response:
                    if response.status_code >= 300:
                        error = BoundedBody(_MAX_ERROR_BYTES, "newest")
                        async for chunk in response.aiter_bytes():
                            error.add(chunk)
                        raise self._status_error(response.status_code, error.value(), what, token, logs)
                    async for chunk in response.aiter_bytes():
                        body.add(chunk)
        except TimeoutError:
            raise self._transport_error(httpx.ReadTimeout("the read deadline passed"), what) from None
        except TooLarge as error:
            upstream_error("argocd_api", "other")
            raise Unavailable(f"argocd-server answered {error} reading {what}; the assistant reads no more than that.",
                              hint="Ask for one resource instead of a listing, or for fewer log lines.") from None
        except httpx.HTTPError as error:
            raise self._transport_error(error, what) from None
        return body.value()

    def _transport_error(self, error: httpx.HTTPError, what: str) -> Unavailable:
        timeout = self._settings.request_timeout_seconds
        upstream_error("argocd_api", "timeout" if isinstance(error, httpx.TimeoutException) else "refused")
        if isinstance(error, httpx.TimeoutException):
            return Unavailable(f"argocd-server timed out after {timeout:g}s reading {what}.",
                               hint="argocd-server is slow or overloaded; try again shortly, or ask for less.")
        detail = str(error) or type(error).__name__
        hint = "argocd-server may be down or ARGOCD_SERVER_URL wrong; try again shortly."
        if "CERTIFICATE_VERIFY_FAILED" in detail or isinstance(error.__context__, ssl.SSLError):
            hint = ("argocd-server's certificate is not trusted: set ARGOCD_CA_FILE to its CA bundle "
                    "(ARGOCD_INSECURE=true only for development).")
        return Unavailable(f"argocd-server unreachable at {self.base_url} reading {what}: {detail}", hint=hint)

    def _status_error(self, status: int, body: bytes, what: str, token: str, logs: bool) -> ContextError:
        message = self._scrub(_error_message(body), token)
        detail = f": {message}" if message else ""
        if status == 401:
            return AccessDenied(
                f"argocd-server refused the assistant's Argo CD API token (HTTP 401{detail}) reading {what}.",
                hint="The token is invalid, expired or revoked: generate a new one for the read-only account "
                "(argocd account generate-token --account <account>) and update the Secret or ARGOCD_API_TOKEN.",
            )
        if status == 403:
            needed = f"`{_RBAC_EXAMPLE}`" + (f" and `{_LOGS_RBAC_EXAMPLE}`" if logs else "")
            return AccessDenied(
                f"The assistant's Argo CD account may not read {what} (HTTP 403{detail}).",
                hint="argocd-server says 403 both for an Application the account's RBAC hides and for one that does "
                f"not exist. If it exists, grant the account's role in argocd-rbac-cm, e.g. {needed}.",
            )
        if status == 404:
            return NotFound(f"{what} does not exist{detail or '.'}", hint="Check the kind, name and namespace.")
        if status == 400 and "not found as part of application" in message:
            return NotFound(f"{what} is not part of the Application's resource tree{detail}.")
        if status == 400:
            return InvalidArgument(f"argocd-server rejected reading {what}{detail}.")
        upstream_error("argocd_api", status_kind(status) or "other")
        return Unavailable(f"argocd-server answered HTTP {status} reading {what}{detail}.",
                           hint="A server-side problem; try again shortly.")


def _error_message(body: bytes) -> str:
    """The message of argocd-server's error shapes: {"error", "code", "message"} or a stream's {"error": {...}}."""
    try:
        data = json.loads(body)
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or "")
    return str(data.get("message") or error or "")


class ArgoCDSource:
    """Reads through argocd-server with a read-only Argo CD account; every read is inside one Application."""

    def __init__(self, settings: ContextSettings) -> None:
        self._settings = settings
        self.client = ArgoCDClient(settings)

    def for_application(self, app: AppRef) -> ArgoCDApplicationSource:
        return ArgoCDApplicationSource(self.client, app)

    def credentials_key(self) -> str:
        return self.client.credentials_key()

    async def get_application(self, namespace: str, name: str) -> Obj:
        return await self.for_application(AppRef(namespace=namespace, name=name)).get_application(namespace, name)

    async def _unbound(self, *_: Any) -> Any:
        raise InvalidArgument("The Argo CD API source reads inside one Application; none was given.")

    get = list = events = log = _unbound

    async def ping(self) -> None:
        await self.client.get_json("/api/version", {}, "the version")


class ArgoCDApplicationSource:
    """One Application's resources through argocd-server, for the length of one tool call."""

    def __init__(self, client: ArgoCDClient, app: AppRef) -> None:
        self.client = client
        self.app = app
        self._base = f"/api/v1/applications/{app.name}"
        self._cache: dict[Any, asyncio.Future[Any]] = {}
        self._reads = asyncio.Semaphore(_MAX_CONCURRENT_READS)

    def for_application(self, app: AppRef) -> ArgoCDApplicationSource:
        return self if app == self.app else ArgoCDApplicationSource(self.client, app)

    def credentials_key(self) -> str:
        return self.client.credentials_key()

    async def _once(self, key: Any, read: Callable[[], Awaitable[T]]) -> T:
        """`read()` the first time `key` is asked for in this call; concurrent askers share the one request."""
        future = self._cache.get(key)
        if future is None:
            future = self._cache[key] = asyncio.ensure_future(read())
        return cast(T, await asyncio.shield(future))

    def _params(self, **extra: str) -> dict[str, str]:
        return {"appNamespace": self.app.namespace, **{k: v for k, v in extra.items() if v}}

    async def get_application(self, namespace: str, name: str) -> Obj:
        if (namespace, name) != (self.app.namespace, self.app.name):
            raise InvalidArgument(f"This source reads Argo CD Application {self.app}, not {namespace}:{name}.")

        async def read() -> Obj:
            app: Obj = await self.client.get_json(self._base, self._params(), f"Argo CD Application {self.app}")
            app.setdefault("kind", "Application")  # argocd-server serves the informer's copy, without type meta
            app.setdefault("apiVersion", "argoproj.io/v1alpha1")
            return app

        return await self._once("application", read)

    async def tree(self) -> list[Obj]:
        """The resource tree's nodes: what the Application manages and everything those own."""

        async def read() -> list[Obj]:
            tree: Obj = await self.client.get_json(f"{self._base}/resource-tree", self._params(),
                                              f"the resource tree of Argo CD Application {self.app}")
            return list(tree.get("nodes") or [])

        return await self._once("tree", read)

    async def _object(self, node: Obj) -> Obj:
        key = (node.get("group") or "", node.get("kind") or "", node.get("namespace") or "", node.get("name") or "")

        async def read() -> Obj:
            group, kind, namespace, name = key
            params = self._params(namespace=namespace, resourceName=name, kind=kind, group=group,
                                  version=node.get("version") or "")
            what = f"{kind} {namespace + '/' if namespace else ''}{name}"
            async with self._reads:
                answer = await self.client.get_json(f"{self._base}/resource", params, what)
            try:
                obj = json.loads(answer.get("manifest") or "")
            except (ValueError, AttributeError):
                raise Unavailable(f"argocd-server sent no readable manifest for {what}.") from None
            obj.setdefault("kind", kind)
            obj.setdefault("apiVersion", f"{group}/{node.get('version')}" if group else node.get("version") or "v1")
            return cast(Obj, obj)

        return await self._once(("object", *key), read)

    async def get(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> Obj:
        canonical, rtype = resource_type(kind, group)
        namespace = namespace if rtype.namespaced else None
        if canonical == "Application" and (namespace, name) == (self.app.namespace, self.app.name):
            return await self.get_application(self.app.namespace, name)
        for node in await self.tree():
            if (node.get("group") or "", node.get("kind"), node.get("namespace") or None, node.get("name")) == (
                rtype.group, canonical, namespace, name
            ):
                return await self._object(node)
        where = f"{namespace}/" if namespace else ""
        raise NotFound(
            f"{canonical} {where}{name} is not in the resource tree of Argo CD Application {self.app}.",
            hint="Ask about a resource argocd_application lists, or one it owns (ReplicaSets, Pods, Jobs...).",
        )

    async def get_metadata(self, kind: str, namespace: str | None, name: str) -> Obj:
        """From the resource tree (argocd-server's own metadata), never the manifest."""
        canonical, rtype = resource_type(kind)
        namespace = namespace if rtype.namespaced else None
        for node in await self.tree():
            if (node.get("kind"), node.get("namespace") or None, node.get("name")) == (canonical, namespace, name):
                owners = [{"kind": p.get("kind"), "name": p.get("name"),
                           "apiVersion": f"{p['group']}/v1" if p.get("group") else "v1"}
                          for p in node.get("parentRefs") or []]
                meta = {"name": name, "namespace": namespace, "uid": node.get("uid"), "ownerReferences": owners}
                return {"kind": canonical, "apiVersion": rtype.api_version, "metadata": meta}
        raise NotFound(f"{canonical} {namespace + '/' if namespace else ''}{name} is not in the resource tree of "
                       f"Argo CD Application {self.app}.")

    async def list(self, kind: str, namespace: str | None) -> list[Obj]:
        canonical, rtype = resource_type(kind)
        namespace = namespace if rtype.namespaced else None
        if canonical == "Event":
            raise InvalidArgument("Argo CD serves events per resource: ask for the events of a resource.")
        nodes = [n for n in await self.tree() if n.get("kind") == canonical and (n.get("group") or "") == rtype.group
                 and (n.get("namespace") or None) == namespace]
        found = await asyncio.gather(*(self._object(n) for n in nodes), return_exceptions=True)
        for item in found:  # an object gone since the tree was computed is simply not listed
            if isinstance(item, BaseException) and not isinstance(item, NotFound):
                raise item
        return [item for item in found if isinstance(item, dict)]

    async def events(self, namespace: str | None, subjects: builtins.list[Obj]) -> builtins.list[Obj]:
        uids = {n.get("uid"): n for n in await self.tree() if n.get("uid")}

        async def of(subject: Obj) -> list[Obj]:
            meta = subject.get("metadata") or {}
            if subject.get("kind") == "Application" and (meta.get("namespace"), meta.get("name")) == (
                self.app.namespace, self.app.name
            ):
                params = self._params()
            elif meta.get("uid") in uids:
                node = uids[meta["uid"]]
                params = self._params(resourceNamespace=node.get("namespace") or "", resourceName=node.get("name")
                                      or "", resourceUID=node["uid"])
            else:
                return []  # not in the tree: argocd-server would refuse it
            what = f"the events of {subject.get('kind')} {meta.get('name')}"
            async with self._reads:
                answer = await self.client.get_json(f"{self._base}/events", params, what)
            return [{"apiVersion": "v1", "kind": "Event", **item} for item in answer.get("items") or []]

        seen: set[Any] = set()
        out: builtins.list[Obj] = []
        for batch in await asyncio.gather(*(of(s) for s in subjects)):
            for event in batch:
                uid = (event.get("metadata") or {}).get("uid")
                if uid not in seen and about(event, subjects):
                    seen.add(uid)
                    out.append(event)
        return out

    async def log(self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool) -> str:
        params = self._params(namespace=namespace, podName=pod, container=container or "",
                              tailLines=str(max(1, min(tail_lines, HARD_MAX_LOG_LINES))),
                              previous="true" if previous else "", follow="false")
        what = f"the log of Pod {namespace}/{pod}"
        lines, ended = [], False
        for chunk in await self.client.stream_json_lines(f"{self._base}/logs", params, what):
            if "error" in chunk:  # an error after the stream began: same shape as before it
                error = chunk["error"] if isinstance(chunk["error"], dict) else {}
                raise self.client._status_error(int(error.get("http_code") or 500), json.dumps(chunk).encode(),
                                                what, self.client._token(), logs=True)
            entry = chunk.get("result") or {}
            if entry.get("last"):
                ended = True
                break
            if not entry.get("podName"):  # the kubelet's refusal, forwarded as a line
                raise InvalidArgument(f"The log of Pod {namespace}/{pod} could not be read: {entry.get('content')}")
            lines.append(entry.get("content") or "")
        if not lines and not ended:
            raise NotFound(f"Pod {namespace}/{pod} is not in the resource tree of Argo CD Application {self.app}.",
                           hint="argocd_containers lists the Pods the Application has now.")
        return "\n".join(lines) + ("\n" if lines else "")

    async def ping(self) -> None:
        await self.client.get_json("/api/version", {}, "the version")
