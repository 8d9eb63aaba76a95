"""`ClusterSource` over the Kubernetes API, with the official `kubernetes` client.

The client's configuration loading (in-cluster service account or kubeconfig), TLS and auth are used as they are;
requests are plain REST reads through `ApiClient.call_api` on explicit paths (source.KINDS), bounded by a timeout on
every call and run in threads, so independent reads overlap. The client (about half a second of imports) is imported
on first use, so a server that never reads a cluster does not pay for it at start-up. Identical reads in flight at
the same moment (the tool calls of one round all read the Application, most read the same workload) share one
request; nothing is kept here once it answered (the short-lived cache per Application and credentials is a layer
above, context/cache.py). Bodies are decoded as JSON dicts, exactly as the API
serves them, and taken in within a size bound and a deadline for the whole read (context/bounded.py). Failures become `ContextError`s that say what failed and what the back-end's own account is missing.
"""

from __future__ import annotations

import asyncio
import builtins
import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote, urlencode

from llama_stack_argocd.context.bounded import BoundedBody, TooLarge
from llama_stack_argocd.context.errors import AccessDenied, InvalidArgument, NotFound, Unavailable
from llama_stack_argocd.context.kube_events import about
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.settings import (
    HARD_MAX_LOG_BYTES,
    HARD_MAX_LOG_LINES,
    HARD_MAX_READ_BYTES,
    ContextSettings,
)
from llama_stack_argocd.context.source import ResourceType, resource_type
from llama_stack_argocd.observability.metrics import status_kind, upstream_error

if TYPE_CHECKING:
    import urllib3
    from kubernetes import client

_IN_CLUSTER_ENV = "KUBERNETES_SERVICE_HOST"
_CHUNK_BYTES = 2**16
_MAX_ERROR_BYTES = 2**16  # an error's Status message is short; its end is kept, past this it is not parsed


def api_client(settings: ContextSettings) -> client.ApiClient:
    """An ApiClient for the configured cluster: explicit kubeconfig, else in-cluster, else $KUBECONFIG/~/.kube."""
    from kubernetes import client, config

    configuration = client.Configuration()
    if settings.kubeconfig:
        config.load_kube_config(settings.kubeconfig, context=settings.kube_context, client_configuration=configuration)
    elif os.environ.get(_IN_CLUSTER_ENV):
        config.load_incluster_config(client_configuration=configuration)
    else:  # read now, not at import: the client's own default is frozen when it is imported
        config.load_kube_config(
            os.environ.get("KUBECONFIG") or None, context=settings.kube_context, client_configuration=configuration
        )
    configuration.retries = 0  # no silent retries: the timeout bounds the whole read, the model may ask again
    return client.ApiClient(configuration)


class _DeadlinePassed(Exception):
    """The whole read took longer than the request timeout (a server that drips its answer)."""


class _Read(NamedTuple):
    """One API read, described for error messages: `verb` on `rtype` (`subresource`) in `namespace`."""

    verb: str
    rtype: ResourceType
    kind: str
    namespace: str | None
    name: str | None = None
    subresource: str | None = None

    def describe(self) -> str:
        where = f" in namespace {self.namespace}" if self.namespace else ""
        if self.subresource == "log":
            return f"the log of Pod {self.namespace}/{self.name}"
        if self.name:
            return f"{self.kind} {self.namespace + '/' if self.namespace else ''}{self.name}"
        return f"the {self.kind} list{where}"

    def permission(self) -> str:
        resource = f"{self.rtype.plural}/{self.subresource}" if self.subresource else self.rtype.plural
        group = self.rtype.group or '"" (core)'
        where = f" in namespace {self.namespace}" if self.namespace else " cluster-wide"
        return f"'{self.verb}' on '{resource}' (API group {group}){where}"


def _status_message(body: bytes) -> str:
    """The `message` of a Kubernetes Status body, if the error came with one."""
    try:
        status = json.loads(body)
    except ValueError:
        return ""
    return str(status.get("message") or "") if isinstance(status, dict) else ""


# The API server answers with the object's metadata only (no `data`, no `spec`): PartialObjectMetadata.
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json;q=0.5"


class KubernetesSource:
    """Reads one cluster with the back-end's own credentials. The ApiClient is built on first use."""

    def __init__(self, settings: ContextSettings) -> None:
        self._settings = settings
        self._client: client.ApiClient | None = None
        self._in_flight: dict[tuple[str, str], asyncio.Task[tuple[int, bytes]]] = {}

    events_by_namespace = True  # `events` is one listing of the namespace, filtered (see context/cache.py)

    def for_application(self, app: AppRef) -> KubernetesSource:
        return self  # the service account reads every Application the same way

    def credentials_key(self) -> str:
        """The API server and the authentication the client sends (token, client certificate, user), hashed."""
        configuration = self.api.configuration
        parts = [str(configuration.host), json.dumps(configuration.api_key or {}, sort_keys=True, default=str),
                 str(configuration.cert_file or ""), str(configuration.key_file or ""),
                 str(configuration.username or "")]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

    @property
    def api(self) -> client.ApiClient:
        if self._client is None:
            try:
                self._client = api_client(self._settings)
            except Exception as error:  # no kubeconfig, a bad file...: say so to the model
                raise Unavailable(
                    f"No Kubernetes API is configured for the assistant: {error}",
                    hint="Run it in-cluster with its service account, or set KUBECONFIG / the provider's kubeconfig.",
                ) from error
        return self._client

    @property
    def host(self) -> str:
        return str(self.api.configuration.host).rstrip("/")

    def _path(self, rtype: ResourceType, namespace: str | None, name: str | None = None) -> str:
        base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
        if rtype.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{rtype.plural}"
        return f"{base}/{quote(name, safe='')}" if name else base

    async def _request(
        self, path: str, read: _Read | None, accept: str = "application/json", logs: bool = False
    ) -> bytes:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        api, timeout = self.api, self._settings.request_timeout_seconds
        url = self.host + path
        what = read.describe() if read else path

        def call() -> tuple[int, bytes]:
            deadline = time.monotonic() + timeout  # the client's timeout bounds each socket wait, not the whole read
            response = api.call_api("GET", url, header_params={"Accept": accept}, _request_timeout=timeout).response
            ok = response.status < 300
            body = BoundedBody(
                (HARD_MAX_LOG_BYTES if logs else HARD_MAX_READ_BYTES) if ok else _MAX_ERROR_BYTES,
                "newest" if logs or not ok else "all",
            )
            try:
                for chunk in response.stream(_CHUNK_BYTES):
                    body.add(chunk)
                    if time.monotonic() > deadline:
                        raise _DeadlinePassed
            finally:
                response.close()  # a read cut short hangs up: nothing goes on downloading
                response.release_conn()
            return response.status, body.value()

        try:
            status, body = await self._shared(url, accept, call)
        except _DeadlinePassed:
            upstream_error("kubernetes", "timeout")
            raise self._timed_out(what) from None
        except TooLarge as error:
            upstream_error("kubernetes", "other")
            raise Unavailable(
                f"The Kubernetes API answered {error} reading {what}; the assistant reads no more than that.",
                hint="Ask for one object by name instead of a listing, or for fewer log lines.",
            ) from None
        except urllib3.exceptions.HTTPError as error:
            raise self._transport_error(error, what) from error
        except ApiException as error:  # the client's wrapper for TLS failures (status 0)
            raise Unavailable(
                f"Kubernetes API at {self.host} could not be reached reading {what}: {error.reason}",
                hint="Check the API server address and its TLS certificate in the kubeconfig.",
            ) from error
        except OSError as error:
            upstream_error("kubernetes", "refused")
            raise Unavailable(f"Kubernetes API unreachable at {self.host} reading {what}: {error}") from error
        if status < 300:
            return body
        raise self._status_error(status, _status_message(body), what, read)

    async def _shared(self, url: str, accept: str, call: Any) -> tuple[int, bytes]:
        """Run `call` in a thread, or join the identical one already running on this event loop."""
        key = (url, accept)
        task = self._in_flight.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(asyncio.to_thread(call))
            self._in_flight[key] = task
            task.add_done_callback(lambda done: self._in_flight.pop(key, None) if self._in_flight.get(key) is done
                                   else None)
        return await asyncio.shield(task)  # one caller timing out does not cancel the others' read

    def _transport_error(self, error: urllib3.exceptions.HTTPError, what: str) -> Unavailable:
        import urllib3

        reason = getattr(error, "reason", None) or error
        refused = isinstance(reason, urllib3.exceptions.NewConnectionError)  # a subclass of ConnectTimeoutError
        timed_out = isinstance(reason, urllib3.exceptions.TimeoutError) or isinstance(
            error, urllib3.exceptions.TimeoutError
        )
        upstream_error("kubernetes", "timeout" if timed_out and not refused else "refused")
        if timed_out and not refused:
            return self._timed_out(what)
        return Unavailable(
            f"Kubernetes API unreachable at {self.host} reading {what}: {type(reason).__name__}.",
            hint="The API server may be down or the address in the kubeconfig wrong; try again shortly.",
        )

    def _timed_out(self, what: str) -> Unavailable:
        return Unavailable(
            f"Kubernetes API timed out after {self._settings.request_timeout_seconds:g}s reading {what}.",
            hint="The API server is slow or overloaded; try again shortly, or ask for less (fewer log lines).",
        )

    def _status_error(self, status: int, message: str, what: str, read: _Read | None) -> Exception:
        detail = f": {message}" if message else "."
        if status == 404:
            return NotFound(f"{what} does not exist{detail}", hint="Check the kind, name and namespace.")
        if status == 401:
            return AccessDenied(
                f"The Kubernetes API refused the assistant's credentials (HTTP 401) reading {what}.",
                hint="The assistant's service account token (or kubeconfig user) is invalid or expired.",
            )
        if status == 403:
            needed = read.permission() if read else "access"
            return AccessDenied(
                f"The assistant's service account lacks {needed}, so it cannot read {what} (HTTP 403).",
                hint=f"Grant {needed} to the assistant's Role or ClusterRole.",
            )
        if status == 400:
            return InvalidArgument(f"The Kubernetes API rejected reading {what}{detail}")
        upstream_error("kubernetes", status_kind(status) or "other")
        return Unavailable(
            f"The Kubernetes API answered HTTP {status} reading {what}{detail}",
            hint="A server-side problem; try again shortly.",
        )

    @staticmethod
    def _typed(obj: dict[str, Any], kind: str, rtype: ResourceType) -> dict[str, Any]:
        obj.setdefault("kind", kind)  # list items carry no kind/apiVersion
        obj.setdefault("apiVersion", rtype.api_version)
        return obj

    async def get(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> dict[str, Any]:
        canonical, rtype = resource_type(kind, group)
        namespace = namespace if rtype.namespaced else None
        read = _Read("get", rtype, canonical, namespace, name)
        return self._typed(json.loads(await self._request(self._path(rtype, namespace, name), read)), canonical, rtype)

    async def get_metadata(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        canonical, rtype = resource_type(kind)
        namespace = namespace if rtype.namespaced else None
        read = _Read("get", rtype, canonical, namespace, name)
        body = await self._request(self._path(rtype, namespace, name), read, accept=METADATA_ONLY)
        return {"kind": canonical, "apiVersion": rtype.api_version, "metadata": json.loads(body).get("metadata") or {}}

    async def get_application(self, namespace: str, name: str) -> dict[str, Any]:
        return await self.get("Application", namespace, name)

    async def list(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        canonical, rtype = resource_type(kind)
        namespace = namespace if rtype.namespaced else None
        read = _Read("list", rtype, canonical, namespace)
        try:
            data = json.loads(await self._request(self._path(rtype, namespace), read))
        except NotFound:
            return []  # the cluster does not serve this kind (an uninstalled CRD): there are none
        return [self._typed(item, canonical, rtype) for item in data.get("items") or []]

    async def events(
        self, namespace: str | None, subjects: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """One listing of the namespace's Events (kmock ignores field selectors), filtered to the subjects."""
        return [e for e in await self.list("Event", namespace) if about(e, subjects)]

    async def log(self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool) -> str:
        _, rtype = resource_type("Pod")
        params: dict[str, Any] = {"tailLines": max(1, min(tail_lines, HARD_MAX_LOG_LINES))}
        if container:
            params["container"] = container
        if previous:
            params["previous"] = "true"
        read = _Read("get", rtype, "Pod", namespace, pod, subresource="log")
        body = await self._request(f"{self._path(rtype, namespace, pod)}/log?{urlencode(params)}", read, "text/plain", logs=True)
        return body.decode("utf-8", errors="replace")

    async def ping(self) -> None:
        await self._request("/version", None)
