"""An argocd-server API stand-in over real HTTP, serving the same fixtures as the Kubernetes stand-in (cluster.py).

What it serves, with the shapes argocd-server 3.x answers (grpc-gateway v1 with Argo CD's encoding/json marshaler:
Kubernetes-style camelCase, empty fields left out):

    GET    /api/version                                   {"Version"} anonymous, the full VersionMessage when logged in
    GET    /api/v1/applications                           ApplicationList; `name` (exact), `projects`/`project`,
                                                          `appNamespace`, `selector` (k=v,...), `repo` filter it;
                                                          `search` is not a field of ApplicationQuery: ignored, as
                                                          argocd-server ignores unknown query parameters
    GET    /api/v1/applications/{name}                    Application (no kind/apiVersion, like the informer's copy)
    GET    .../{name}/resource-tree                       ApplicationTree {nodes: [ResourceNode]}
    GET    .../{name}/managed-resources                   {items: [ResourceDiff]} (kind/namespace/name/group filters;
                                                          liveState/targetState are JSON strings; hooks left out)
    GET    .../{name}/resource                            {"manifest": "<JSON string>"}; the node must be in the tree
                                                          (else 400 "... not found as part of application ...")
    GET    .../{name}/resource/actions                    {actions: [...]}
    GET    .../{name}/events                              EventList: the Application's own events without resource
                                                          parameters; else resourceName + resourceUID +
                                                          resourceNamespace must name a tree node (else 400)
    GET    .../{name}/logs, .../{name}/pods/{pod}/logs    newline-delimited {"result": LogEntry} lines (chunked), the
                                                          Pods chosen through the tree (podName, or kind/group/
                                                          resourceName/namespace: the resource and what it owns);
                                                          a Pod whose log cannot be read becomes one entry whose
                                                          content is the kubelet's error, with no podName; the stream
                                                          ends with a `last: true` entry (none at all when no Pod
                                                          matched). `follow=true` is recorded but the stream still ends.
    GET    /api/v1/clusters, /api/v1/projects/{name}      ClusterList (credentials left out), AppProject
    POST/PUT/PATCH/DELETE on applications, sync, rollback, resource, resource/actions(/v2), operation
                                                          recorded in `writes()`, answered minimally, nothing changes

Authentication: `Authorization: Bearer <token>` must be one of `accounts` (default: TOKEN reads everything,
LIMITED_TOKEN only sees `argocd/guestbook` and may not read logs). No header: 401 "no session information"; an
unknown token: 401 "invalid session: ..."; errors are `{"error", "code" (gRPC), "message"}`, and on the log stream
`{"error": {"grpc_code", "http_code", "message", "http_status"}}`.

RBAC-hidden and missing Applications: 403 `permission denied` (code 7), as argocd-server answers when the request
names no `project`, so nobody can tell a hidden Application from a missing one. With `project` given: 404 when the
Application is missing or in another project. A resource outside the Application's tree: 400 (InvalidArgument).

Every request is recorded (method, path, query, headers, body) for assertions: `requests`, `writes()`,
`paths_since()`. `start_argocd_api()` serves on 127.0.0.1 and a free port from a daemon thread; `tls=True` serves
HTTPS with a throw-away CA (`ca_file`).
"""

from __future__ import annotations

import atexit
import copy
import datetime
import json
import re
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from tests.support import cluster as fx

TOKEN = "argocd-stand-in-assistant-token-7f3c9e"  # account argocd-assistant: applications get + logs get on */*
LIMITED_TOKEN = "argocd-stand-in-limited-token-51b2a0"  # account limited: only argocd/guestbook, no logs
ARGOCD_VERSION = "v3.2.0+stand-in"
CONTROL_NAMESPACE = fx.ARGOCD_NS  # argocd-server's own namespace: the default appNamespace
IN_CLUSTER = "https://kubernetes.default.svc"
ZERO_TIME = "0001-01-01T00:00:00Z"

# gRPC codes argocd-server maps onto HTTP statuses
OK, INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED, UNKNOWN = 0, 3, 5, 7, 16, 2
_HTTP = {INVALID_ARGUMENT: 400, NOT_FOUND: 404, PERMISSION_DENIED: 403, UNAUTHENTICATED: 401, UNKNOWN: 500}


@dataclass(frozen=True)
class Account:
    """A local Argo CD account's token and what its RBAC lets it read (`None`: every Application)."""

    name: str
    applications: frozenset[str] | None = None  # "namespace/name"
    logs: bool = True

    def may_get(self, app: dict[str, Any]) -> bool:
        meta = app["metadata"]
        return self.applications is None or f"{meta['namespace']}/{meta['name']}" in self.applications


DEFAULT_ACCOUNTS = {
    TOKEN: Account("argocd-assistant"),
    LIMITED_TOKEN: Account("limited", frozenset({f"{fx.ARGOCD_NS}/{fx.APP}"}), logs=False),
}


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def url(self) -> str:
        query = "&".join(f"{k}={v}" for k, values in self.query.items() for v in values)
        return f"{self.path}?{query}" if query else self.path


class ApiError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    @property
    def status(self) -> int:
        return _HTTP.get(self.code, 500)

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, "message": self.message}

    def stream_body(self) -> dict[str, Any]:
        return {"error": {"grpc_code": self.code, "http_code": self.status, "message": self.message,
                          "http_status": HTTPStatus(self.status).phrase}}


def _permission_denied() -> ApiError:
    return ApiError(PERMISSION_DENIED, "permission denied")


# -- the fixtures, seen through Argo CD ------------------------------------------------------------------------------

def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


def _version(api_version: str) -> str:
    return api_version.rpartition("/")[2]


def _app_event(name: str, reason: str, message: str, etype: str, when: str) -> dict[str, Any]:
    """An event argocd-application-controller records about the Application (in the Application's namespace)."""
    return {
        "metadata": {"name": f"{fx.APP}.{name}", "namespace": fx.ARGOCD_NS, "uid": f"uid-ev-app-{name}",
                     "resourceVersion": "1", "creationTimestamp": when},
        "involvedObject": {"kind": "Application", "namespace": fx.ARGOCD_NS, "name": fx.APP, "uid": "uid-app",
                           "apiVersion": "argoproj.io/v1alpha1", "resourceVersion": "1"},
        "reason": reason, "message": message, "source": {"component": "argocd-application-controller"},
        "firstTimestamp": when, "lastTimestamp": when, "count": 1, "type": etype, "eventTime": None,
        "reportingComponent": "argocd-application-controller",
    }


# The Kubernetes stand-in holds no event in namespace argocd; argocd-server would show the controller's.
APPLICATION_EVENTS = {
    (fx.ARGOCD_NS, fx.APP): [
        _app_event("op-started", "OperationStarted", f"Initiated automated sync to '{fx.REVISION}'", "Normal",
                   "2026-11-25T06:30:00Z"),
        _app_event("op-completed", "OperationCompleted",
                   f"Sync operation to {fx.REVISION} failed: one or more objects failed to apply", "Warning",
                   "2026-11-25T06:30:05Z"),
    ],
}


def _hide_secret(obj: dict[str, Any]) -> dict[str, Any]:
    """What argocd-server does to a Secret before answering: every value becomes a run of '+'."""
    if obj.get("kind") != "Secret" or _group(obj.get("apiVersion", "")):
        return obj
    hidden = copy.deepcopy(obj)
    for key in ("data", "stringData"):
        if isinstance(hidden.get(key), dict):
            hidden[key] = {k: "+" * 8 for k in hidden[key]}
    annotations = (hidden.get("metadata") or {}).get("annotations") or {}
    annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return hidden


def _pod_health(pod: dict[str, Any]) -> dict[str, str]:
    status = pod.get("status") or {}
    if status.get("phase") == "Succeeded":
        return {"status": "Healthy", "message": "Pod has completed"}
    for cs in status.get("containerStatuses") or []:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting:
            return {"status": "Degraded", "message": waiting.get("message") or waiting.get("reason", "")}
    return {"status": "Healthy"}


def _pod_info(pod: dict[str, Any]) -> list[dict[str, str]]:
    status, spec = pod.get("status") or {}, pod.get("spec") or {}
    statuses = status.get("containerStatuses") or []
    reason = status.get("phase") or "Unknown"
    for cs in statuses:
        waiting = (cs.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason"):
            reason = waiting["reason"]
    ready = sum(1 for cs in statuses if cs.get("ready"))
    info = [{"name": "Status Reason", "value": "Completed" if reason == "Succeeded" else reason}]
    if spec.get("nodeName"):
        info.append({"name": "Node", "value": spec["nodeName"]})
    info.append({"name": "Containers", "value": f"{ready}/{len(spec.get('containers') or [])}"})
    restarts = sum(cs.get("restartCount", 0) for cs in statuses)
    if restarts:
        info.append({"name": "Restart Count", "value": str(restarts)})
    return info


class Fixtures:
    """cluster.py's objects and logs, indexed the way argocd-server finds them."""

    def __init__(self) -> None:
        self.objects: list[dict[str, Any]] = [copy.deepcopy(obj) for _, _, _, obj in fx.objects()]
        self.applications = {(a["metadata"]["namespace"], a["metadata"]["name"]): a
                             for a in self.objects if a["kind"] == "Application"}
        self.events = [o for o in self.objects if o["kind"] == "Event"]
        self.logs = fx.LOGS
        self.projects = {
            name: {"metadata": {"name": name, "namespace": CONTROL_NAMESPACE, "uid": f"uid-proj-{name}",
                                "resourceVersion": "1", "creationTimestamp": fx.T0},
                   "spec": {"sourceRepos": ["*"], "destinations": [{"server": IN_CLUSTER, "namespace": ns}],
                            "clusterResourceWhitelist": [{"group": "*", "kind": "*"}]},
                   "status": {}}
            for name, ns in (("default", "*"), ("payments", fx.OTHER_NS))
        }

    @staticmethod
    def key(obj: dict[str, Any]) -> tuple[str, str, str, str]:
        meta = obj.get("metadata") or {}
        return _group(obj.get("apiVersion", "")), obj.get("kind", ""), meta.get("namespace", ""), meta.get("name", "")

    def members(self, app: dict[str, Any]) -> list[tuple[str, str, str, str]]:
        destination = (app["spec"].get("destination") or {}).get("namespace", "")
        return [(r.get("group", ""), r["kind"], r.get("namespace") or destination, r["name"])
                for r in (app.get("status") or {}).get("resources") or []]

    def in_tree(self, app: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
        """(object, parent objects) for every live object of the Application's tree, members first."""
        by_key = {self.key(o): o for o in self.objects if o["kind"] not in ("Event", "Application")}
        by_uid = {o["metadata"]["uid"]: o for o in by_key.values()}
        members = self.members(app)
        found: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
        for key in members:
            if key in by_key:
                found[by_key[key]["metadata"]["uid"]] = (by_key[key], [])
        for group, kind, namespace, name in members:  # Endpoints hang under the Service of the same name
            endpoints = by_key.get(("", "Endpoints", namespace, name))
            if kind == "Service" and not group and endpoints:
                found[endpoints["metadata"]["uid"]] = (endpoints, [by_key[(group, kind, namespace, name)]])
        grew = True
        while grew:
            grew = False
            for obj in by_key.values():
                uid = obj["metadata"]["uid"]
                owners = [by_uid[r["uid"]] for r in obj["metadata"].get("ownerReferences") or []
                          if r.get("uid") in by_uid and r["uid"] in found]
                if uid not in found and owners:
                    found[uid] = (obj, owners)
                    grew = True
        return list(found.values())

    def node(self, app: dict[str, Any], obj: dict[str, Any], parents: list[dict[str, Any]]) -> dict[str, Any]:
        group, kind, namespace, name = self.key(obj)
        meta = obj["metadata"]
        node: dict[str, Any] = {}
        if group:
            node["group"] = group
        node.update(version=_version(obj["apiVersion"]), kind=kind, namespace=namespace, name=name, uid=meta["uid"])
        if parents:
            node["parentRefs"] = [{**({"group": g} if g else {}), "kind": k, "namespace": ns, "name": n,
                                   "uid": p["metadata"]["uid"]}
                                  for p in parents for g, k, ns, n in [self.key(p)]]
        if kind == "Pod":
            node["info"] = _pod_info(obj)
            node["networkingInfo"] = {"labels": meta.get("labels") or {}}
            node["images"] = [c["image"] for c in (obj["spec"].get("initContainers") or [])
                              + obj["spec"]["containers"]]
            node["health"] = _pod_health(obj)
        elif kind == "Service":
            node["networkingInfo"] = {"targetLabels": obj["spec"].get("selector") or {}}
        node["resourceVersion"] = meta.get("resourceVersion", "1")
        listed = {(r.get("group", ""), r["kind"], r["name"]): r for r in app["status"].get("resources") or []}
        health = (listed.get((group, kind, name)) or {}).get("health")
        if health:
            node["health"] = health
        elif kind in ("ReplicaSet", "Job") and "health" not in node:
            status = obj.get("status") or {}
            healthy = status.get("readyReplicas", 0) >= status.get("replicas", 0) if kind == "ReplicaSet" \
                else bool(status.get("succeeded"))
            node["health"] = {"status": "Healthy" if healthy else "Degraded"}
        node["createdAt"] = meta.get("creationTimestamp")
        return node

    def tree(self, app: dict[str, Any]) -> dict[str, Any]:
        return {"nodes": [self.node(app, obj, parents) for obj, parents in self.in_tree(app)]}

    def tree_object(self, app: dict[str, Any], group: str, kind: str, namespace: str, name: str) -> dict | None:
        for obj, _ in self.in_tree(app):
            if self.key(obj) == (group, kind, namespace, name):
                return obj
        return None

    def managed(self, app: dict[str, Any]) -> list[dict[str, Any]]:
        by_key = {self.key(o): o for o in self.objects}
        out_of_sync = {(r.get("group", ""), r["kind"], r["name"]) for r in app["status"].get("resources") or []
                       if r.get("status") == "OutOfSync"}
        items = []
        for group, kind, namespace, name in self.members(app):
            live = by_key.get((group, kind, namespace, name))
            if live is None:
                continue
            live = _hide_secret(live)
            target = {k: copy.deepcopy(v) for k, v in live.items() if k != "status"}
            target["metadata"] = {k: v for k, v in live["metadata"].items()
                                  if k in ("name", "namespace", "labels", "annotations")}
            modified = (group, kind, name) in out_of_sync
            if modified and isinstance(target.get("data"), dict):
                target["data"] = {**target["data"], "FEATURE_FLAGS": "guestbook-v2=false"}
            item: dict[str, Any] = {"group": group} if group else {}
            item.update(kind=kind, namespace=namespace, name=name, targetState=json.dumps(target),
                        liveState=json.dumps(live), normalizedLiveState=json.dumps(live),
                        predictedLiveState=json.dumps(target if modified else live),
                        resourceVersion=live["metadata"].get("resourceVersion", "1"))
            if modified:
                item["modified"] = True
            items.append(item)
        return items


# -- logs, the way argocd-server parses the kubelet's timestamped stream -----------------------------------------------

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)\s")


def _entries(pod: str, text: str, tail: int | None) -> list[dict[str, Any]]:
    lines = text.splitlines()
    if tail:
        lines = lines[-tail:]
    out, stamp = [], fx.T0
    for line in lines:
        match = _STAMP.match(line)
        stamp = match.group(1) if match else stamp
        out.append({"content": line, "timeStamp": stamp, "last": False, "timeStampStr": stamp, "podName": pod})
    return out


def _error_entry(message: str) -> dict[str, Any]:
    return {"content": message, "timeStamp": ZERO_TIME, "last": False, "timeStampStr": ZERO_TIME, "podName": ""}


# -- HTTP --------------------------------------------------------------------------------------------------------------

_APP = r"/api/v1/applications/(?P<name>[^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(f"^{p}$"), h) for m, p, h in [
        ("GET", r"/api/version", "version"),
        ("GET", r"/api/v1/applications", "list_applications"),
        ("GET", _APP, "get_application"),
        ("GET", _APP + r"/resource-tree", "resource_tree"),
        ("GET", _APP + r"/managed-resources", "managed_resources"),
        ("GET", _APP + r"/resource", "resource"),
        ("GET", _APP + r"/resource/actions", "resource_actions"),
        ("GET", _APP + r"/events", "events"),
        ("GET", _APP + r"/logs", "logs"),
        ("GET", _APP + r"/pods/(?P<pod>[^/]+)/logs", "logs"),
        ("GET", r"/api/v1/clusters", "clusters"),
        ("GET", r"/api/v1/projects/(?P<project>[^/]+)", "project"),
        ("POST", r"/api/v1/applications", "write_application"),
        ("PUT", _APP, "write_application"),
        ("PATCH", _APP, "write_application"),
        ("DELETE", _APP, "write_empty"),
        ("POST", _APP + r"/sync", "write_application"),
        ("POST", _APP + r"/rollback", "write_application"),
        ("POST", _APP + r"/resource", "write_manifest"),
        ("DELETE", _APP + r"/resource", "write_empty"),
        ("POST", _APP + r"/resource/actions", "write_empty"),
        ("POST", _APP + r"/resource/actions/v2", "write_empty"),
        ("DELETE", _APP + r"/operation", "write_empty"),
    ]
]
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class ArgoCDApiHandle:
    """A running stand-in: `url`, `token`, `requests` (every request, in order), `writes()`, `stop()`."""

    def __init__(self, accounts: dict[str, Account] | None = None, tls: bool = False) -> None:
        self.accounts = dict(DEFAULT_ACCOUNTS if accounts is None else accounts)
        self.token = next(iter(self.accounts), "")
        self.fixtures = Fixtures()
        self.requests: list[RecordedRequest] = []
        self.ca_file = ""
        self._lock = threading.Lock()
        self._tls = tls
        self._tmp = tempfile.TemporaryDirectory(prefix="argocd-stand-in-")
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- life cycle

    def _start(self) -> Self:
        handle = self

        class Handler(_Handler):
            stand_in = handle

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        scheme = "http"
        if self._tls:
            cert, key, self.ca_file = _self_signed(Path(self._tmp.name))
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(cert, key)
            server.socket = context.wrap_socket(server.socket, server_side=True)
            scheme = "https"
        self._server = server
        self.url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="argocd-api-stand-in", daemon=True)
        self._thread.start()
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        """Stop serving (the port then refuses connections). Idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- assertions

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def requests_since(self, count: int) -> list[RecordedRequest]:
        with self._lock:
            return list(self.requests[count:])

    def paths_since(self, count: int) -> list[str]:
        """Path and query of each request after the first `count`."""
        return [r.url for r in self.requests_since(count)]

    def writes(self) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method in WRITE_METHODS]

    def token_file(self, token: str | None = None) -> str:
        """A file holding the token (as a mounted Secret would), removed when the stand-in stops."""
        path = Path(self._tmp.name) / f"token-{len(list(Path(self._tmp.name).glob('token-*')))}"
        path.write_text((token or self.token) + "\n")
        return str(path)

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the stand-in's throw-away CA (`tls=True` only)."""
        return ssl.create_default_context(cafile=self.ca_file)

    def env(self, token_file: bool = False) -> dict[str, str]:
        """The environment that points the assistant's Argo CD API source at this stand-in."""
        env = {"ARGOCD_CONTEXT_SOURCE": "argocd", "ARGOCD_SERVER_URL": self.url}
        if token_file:
            env["ARGOCD_API_TOKEN_FILE"] = self.token_file()
        else:
            env["ARGOCD_API_TOKEN"] = self.token
        if self.ca_file:
            env["ARGOCD_CA_FILE"] = self.ca_file
        return env

    # -- the API

    def account(self, request: RecordedRequest) -> Account:
        header = request.headers.get("authorization", "")
        if not header:
            raise ApiError(UNAUTHENTICATED, "no session information")
        scheme, _, token = header.partition(" ")
        account = self.accounts.get(token.strip()) if scheme.lower() == "bearer" else None
        if account is None:
            raise ApiError(UNAUTHENTICATED, "invalid session: token signature is invalid")
        return account

    def application(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        """The Application `name` (appNamespace, default argocd), as argocd-server's RBAC lets `account` see it."""
        namespace = request.param("appNamespace") or CONTROL_NAMESPACE
        project = request.param("project") or ""
        app = self.fixtures.applications.get((namespace, name)) if namespace == CONTROL_NAMESPACE else None
        if app is None or not account.may_get(app):
            if project and (app is None or account.may_get(app)):
                raise ApiError(NOT_FOUND, f'applications.argoproj.io "{name}" not found')
            raise _permission_denied()
        if project and app["spec"].get("project", "default") != project:
            raise ApiError(NOT_FOUND, f'applications.argoproj.io "{name}" not found')
        return app

    def version(self, request: RecordedRequest) -> dict[str, Any]:
        try:
            self.account(request)
        except ApiError:
            return {"Version": ARGOCD_VERSION}
        return {"Version": ARGOCD_VERSION, "BuildDate": "2026-11-01T00:00:00Z", "GitCommit": "0" * 40,
                "GitTreeState": "clean", "GoVersion": "go1.25.3", "Compiler": "gc", "Platform": "linux/amd64",
                "KustomizeVersion": "v5.7.1", "HelmVersion": "v3.19.0", "KubectlVersion": "v0.34.0",
                "JsonnetVersion": "v0.21.0"}

    def list_applications(self, request: RecordedRequest, account: Account) -> dict[str, Any]:
        apps = sorted(self.fixtures.applications.values(), key=lambda a: a["metadata"]["name"])
        name, namespace = request.param("name"), request.param("appNamespace")
        projects = request.query.get("projects", []) + request.query.get("project", [])
        selector = dict(part.split("=", 1) for part in (request.param("selector") or "").split(",") if "=" in part)
        repo = request.param("repo")
        items = [
            _as_served(a) for a in apps
            if account.may_get(a) and (not name or a["metadata"]["name"] == name)
            and (not namespace or a["metadata"]["namespace"] == namespace)
            and (not projects or a["spec"].get("project") in projects)
            and all((a["metadata"].get("labels") or {}).get(k) == v for k, v in selector.items())
            and (not repo or (a["spec"].get("source") or {}).get("repoURL") == repo)
        ]
        return {"metadata": {"resourceVersion": "1"}, "items": items}

    def get_application(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        return _as_served(self.application(request, account, name))

    def resource_tree(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        return self.fixtures.tree(self.application(request, account, name))

    def managed_resources(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        items = self.fixtures.managed(self.application(request, account, name))
        wanted = {k: request.param(k) for k in ("kind", "namespace", "name", "group")}
        return {"items": [i for i in items if all(not v or i.get(k, "") == v for k, v in wanted.items())]}

    def _tree_resource(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        app = self.application(request, account, name)
        kind, group = request.param("kind") or "", request.param("group") or ""
        resource = request.param("resourceName") or ""
        obj = self.fixtures.tree_object(app, group, kind, request.param("namespace") or "", resource)
        if obj is None:
            raise ApiError(INVALID_ARGUMENT, f"{kind} {group} {resource} not found as part of application {name}")
        return obj

    def resource(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        obj = _hide_secret(self._tree_resource(request, account, name))
        return {"manifest": json.dumps(obj, separators=(",", ":"))}

    def resource_actions(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        obj = self._tree_resource(request, account, name)
        actions = {"Deployment": ["restart", "pause", "resume"], "StatefulSet": ["restart"],
                   "DaemonSet": ["restart"], "CronJob": ["create-job", "suspend"]}.get(obj["kind"], [])
        return {"actions": [{"name": a, "disabled": False} for a in actions]}

    def events(self, request: RecordedRequest, account: Account, name: str) -> dict[str, Any]:
        app = self.application(request, account, name)
        resource, uid = request.param("resourceName") or "", request.param("resourceUID") or ""
        if not resource and not uid:
            meta = app["metadata"]
            return {"metadata": {}, "items": APPLICATION_EVENTS.get((meta["namespace"], meta["name"]), [])}
        namespace = request.param("resourceNamespace") or ""
        nodes = self.fixtures.tree(app)["nodes"]
        if not any(n["uid"] == uid and n["name"] == resource and n["namespace"] == namespace for n in nodes):
            raise ApiError(INVALID_ARGUMENT, f"{resource} not found as part of application {name}")
        items = []
        for event in self.fixtures.events:
            involved = event["involvedObject"]
            if (involved.get("name"), involved.get("uid"), involved.get("namespace")) == (resource, uid, namespace):
                served = {k: v for k, v in event.items() if k not in ("apiVersion", "kind")}
                served.setdefault("eventTime", None)
                items.append(served)
        return {"metadata": {"resourceVersion": "1"}, "items": items}

    def log_entries(self, request: RecordedRequest, account: Account, name: str, pod: str | None) -> list[dict]:
        app = self.application(request, account, name)
        if not account.logs:
            meta = app["metadata"]
            raise ApiError(PERMISSION_DENIED, f"permission denied: logs, get, {app['spec']['project']}/"
                                              f"{meta['namespace']}/{meta['name']}")
        pod = pod or request.param("podName")
        kind, resource = ("Pod", pod) if pod else (request.param("kind") or "", request.param("resourceName") or "")
        group, namespace = request.param("group") or "", request.param("namespace") or ""
        tail = int(request.param("tailLines") or 0) or None
        previous = (request.param("previous") or "").lower() == "true"
        container = request.param("container") or ""
        tree = self.fixtures.in_tree(app)
        by_uid = {obj["metadata"]["uid"]: (obj, parents) for obj, parents in tree}

        def selected(obj: dict[str, Any]) -> bool:
            g, k, ns, n = Fixtures.key(obj)
            if (not resource or n == resource) and (not kind or k == kind) and (not group or g == group) \
                    and (not namespace or ns == namespace):
                return True
            return any(selected(p) for p in by_uid[obj["metadata"]["uid"]][1])

        pods = [obj for obj, _ in tree if obj["kind"] == "Pod" and selected(obj)]
        if not pods:
            return []
        entries: list[dict[str, Any]] = []
        for pod_obj in pods:
            pod_name, pod_ns = pod_obj["metadata"]["name"], pod_obj["metadata"]["namespace"]
            names = [c["name"] for c in pod_obj["spec"]["containers"]]
            init = [c["name"] for c in pod_obj["spec"].get("initContainers") or []]
            current, before = self.fixtures.logs.get((pod_ns, pod_name), ("", None))
            if not container and len(names) > 1:
                message = (f"a container name must be specified for pod {pod_name}, choose one of: "
                           f"[{' '.join(names)}]" + (f" or one of the init containers: [{' '.join(init)}]"
                                                     if init else ""))
                entries.append(_error_entry(message))
            elif container and container not in names + init:
                entries.append(_error_entry(f"container {container} is not valid for pod {pod_name}"))
            elif previous and before is None:
                chosen = container or names[0]
                entries.append(_error_entry(
                    f'previous terminated container "{chosen}" in pod "{pod_name}" not found'))
            else:
                entries.extend(_entries(pod_name, before if previous else current, tail))
        entries.sort(key=lambda e: e["timeStamp"])  # merged across Pods by time, each Pod's order kept
        now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        entries.append({"content": "", "timeStamp": now[:19] + "Z", "last": True, "timeStampStr": now,
                        "podName": ""})
        return entries

    def clusters(self, request: RecordedRequest, account: Account) -> dict[str, Any]:
        cluster = {
            "server": IN_CLUSTER, "name": "in-cluster", "config": {"tlsClientConfig": {"insecure": False}},
            "connectionState": {"status": "Successful", "message": "", "attemptedAt": fx.T0},
            "serverVersion": "1.34",
            "info": {"connectionState": {"status": "Successful", "message": "", "attemptedAt": fx.T0},
                     "serverVersion": "1.34", "cacheInfo": {"resourcesCount": len(self.fixtures.objects),
                                                            "apisCount": 60, "lastCacheSyncTime": fx.T0},
                     "applicationsCount": len(self.fixtures.applications)},
        }
        server, name = request.param("server"), request.param("name")
        items = [cluster] if (not server or server == IN_CLUSTER) and (not name or name == "in-cluster") else []
        return {"metadata": {}, "items": items}

    def project(self, request: RecordedRequest, account: Account, project: str) -> dict[str, Any]:
        found = self.fixtures.projects.get(project)
        if found is None:
            raise ApiError(NOT_FOUND, f'appprojects.argoproj.io "{project}" not found')
        return found

    def write(self, request: RecordedRequest, account: Account, handler: str, name: str | None) -> dict[str, Any]:
        if handler == "write_empty":
            return {}
        if handler == "write_manifest":
            return {"manifest": "{}"}
        if name is None:  # create: the Application as sent
            try:
                return json.loads(request.body or b"{}")
            except ValueError as error:
                raise ApiError(INVALID_ARGUMENT, f"invalid character in request body: {error}") from error
        return _as_served(self.application(request, account, name))


def _as_served(app: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in app.items() if k not in ("apiVersion", "kind")}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    stand_in: ArgoCDApiHandle

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet: tests read `requests`
        return

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(self.command, split.path, parse_qs(split.query, keep_blank_values=True),
                                  {k.lower(): v for k, v in self.headers.items()}, body)
        self.stand_in.record(request)
        for method, pattern, handler in _ROUTES:
            match = pattern.match(split.path)
            if match and method == self.command:
                params = {k: unquote(v) for k, v in match.groupdict().items()}
                break
        else:
            self._json(404, ApiError(NOT_FOUND, "Not Found").body())
            return
        stand_in = self.stand_in
        streaming = handler == "logs"
        try:
            if handler == "version":
                self._json(200, stand_in.version(request))
                return
            account = stand_in.account(request)
            if handler.startswith("write_"):
                result = stand_in.write(request, account, handler, params.get("name"))
            elif streaming:
                self._stream(stand_in.log_entries(request, account, params["name"], params.get("pod")))
                return
            else:
                result = getattr(stand_in, handler)(request, account, *params.values())
        except ApiError as error:
            self._json(error.status, error.stream_body() if streaming else error.body())
            return
        self._json(200, result)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, entries: list[dict[str, Any]]) -> None:
        """One chunk per `{"result": LogEntry}` line, as grpc-gateway forwards a server stream."""
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for entry in entries:
            line = json.dumps({"result": entry}).encode() + b"\n"
            self.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
        self.wfile.write(b"0\r\n\r\n")


def _self_signed(directory: Path) -> tuple[str, str, str]:
    """A throw-away CA and a certificate for 127.0.0.1 signed by it: (cert file, key file, CA file)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "argocd stand-in CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "argocd-server")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = directory / "server.crt", directory / "server.key", directory / "ca.crt"
    paths[0].write_bytes(cert.public_bytes(pem))
    paths[1].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    paths[2].write_bytes(ca.public_bytes(pem))
    return str(paths[0]), str(paths[1]), str(paths[2])


def start_argocd_api(accounts: dict[str, Account] | None = None, tls: bool = False) -> ArgoCDApiHandle:
    """Start the stand-in; use as `with start_argocd_api() as argocd:` or call `stop()` yourself."""
    return ArgoCDApiHandle(accounts, tls)._start()


def log_lines(body: bytes | str) -> Iterator[dict[str, Any]]:
    """The `result` (or `error`) objects of a log stream body, for assertions."""
    text = body.decode() if isinstance(body, bytes) else body
    for line in text.splitlines():
        if line.strip():
            yield json.loads(line)
