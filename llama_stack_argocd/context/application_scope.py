"""The Application is the boundary: what a tool may read on a caller's behalf.

A resource is in scope when the Application lists it in `status.resources`, or when it is owned (through
ownerReferences, transitively: Pod -> ReplicaSet -> Deployment) by a resource that is. Anything in a namespace the
Application does not deploy to is refused before any read; anything else is refused before its content leaves this
module (its metadata is read to follow the owners, nothing more is used; a Secret's content is never read before
it is known to be the Application's, and owners are followed on metadata-only reads).
"""

from __future__ import annotations

from typing import Any

from llama_stack_argocd.context.errors import ContextError, NotFound, OutOfScope
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.source import KINDS, ClusterSource, resource_type

MAX_OWNER_DEPTH = 5  # CronJob -> Job -> Pod is the deepest chain of the built-in controllers; operators add a level

# Kinds whose content must not be read before membership is known (least privilege, and no secret in memory).
METADATA_FIRST = frozenset({"Secret"})

Member = tuple[str, str, str | None, str]  # group, kind, namespace, name


def _group_of(api_version: str) -> str:
    return api_version.rpartition("/")[0]


class ApplicationScope:
    """What one Application covers, computed once per call from its `status.resources`."""

    def __init__(self, app: AppRef, application: dict[str, Any]) -> None:
        self.app = app
        self.application = application
        self.destination_namespace: str | None = ((application.get("spec") or {}).get("destination") or {}).get(
            "namespace"
        ) or None
        self.members: set[Member] = {
            (item.get("group") or "", item.get("kind") or "", self.namespace_of(item), item.get("name") or "")
            for item in (application.get("status") or {}).get("resources") or []
        }
        self.namespaces = {ns for _, _, ns, _ in self.members if ns} | (
            {self.destination_namespace} if self.destination_namespace else set()
        )

    def namespace_of(self, item: dict[str, Any]) -> str | None:
        """The namespace of a `status.resources` entry: Argo CD may leave out the destination's own."""
        known = KINDS.get(item.get("kind") or "")
        if known is not None and not known.namespaced:
            return None
        return item.get("namespace") or self.destination_namespace

    def lists(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> bool:
        """Whether `status.resources` names this object (any group when `group` is None)."""
        return any(
            k == kind and n == name and ns == namespace and (group is None or g == group)
            for g, k, ns, n in self.members
        )

    def default_namespace(self) -> str | None:
        return self.destination_namespace

    def refuse(self, what: str) -> OutOfScope:
        return OutOfScope(
            f"{what} is not part of Argo CD Application {self.app}; the assistant only reads that Application's "
            "resources and what they own.",
            hint="Ask about a resource listed by argocd_application, or open the assistant on the other Application.",
        )


async def load_scope(source: ClusterSource, app: AppRef) -> ApplicationScope:
    """Read the Application once per tool call (through the read cache, at most `read_cache_seconds` old: its
    resources change with every sync)."""
    try:
        application = await source.get_application(app.namespace, app.name)
    except NotFound as error:
        raise NotFound(
            f"Argo CD Application {app} does not exist.",
            hint="It may have been deleted or renamed; reopen the assistant from the Application's page.",
        ) from error
    return ApplicationScope(app, application)


async def fetch_in_scope(source: ClusterSource, scope: ApplicationScope, ref: ResourceRef) -> dict[str, Any]:
    """The object named by `ref` if the Application covers it; `OutOfScope` otherwise.

    A namespaced ref without a namespace means the Application's destination namespace.
    """
    kind, rtype = resource_type(ref.kind, ref.group or None)
    namespace = (ref.namespace or scope.default_namespace()) if rtype.namespaced else None
    what = str(ResourceRef(kind=kind, name=ref.name, namespace=namespace, group=ref.group))
    if kind == "Application" and (namespace, ref.name) == (scope.app.namespace, scope.app.name):
        return scope.application
    if rtype.namespaced and namespace not in scope.namespaces:
        raise scope.refuse(what)  # another namespace: refused without a single read
    if not rtype.namespaced and not scope.lists(kind, None, ref.name):
        raise scope.refuse(what)  # cluster-scoped objects are never owned into scope
    listed = scope.lists(kind, namespace, ref.name, rtype.group)
    if kind in METADATA_FIRST:
        # Decide on metadata alone; the content is read only once the object is known to be the caller's.
        meta = await source.get_metadata(kind, namespace, ref.name)
        if tracked_by_another(scope.app, meta) or not (listed or await owned_by_member(source, scope, meta)):
            raise scope.refuse(what)
        return await source.get(kind, namespace, ref.name)
    obj = await source.get(kind, namespace, ref.name)
    if listed and tracked_by_another(scope.app, obj):
        raise scope.refuse(what)
    if listed or await owned_by_member(source, scope, obj):
        return obj
    if kind == "Endpoints" and scope.lists("Service", namespace, ref.name, ""):
        return obj  # a Service's Endpoints carry no ownerReference; they share its name (Argo CD's tree agrees)
    raise scope.refuse(what)


TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"


def tracked_by_another(app: AppRef, obj: dict[str, Any]) -> bool:
    """Whether Argo CD's tracking annotation says another Application manages `obj`.

    `status.resources` lists whatever the Application's manifests name, also an object another Application owns
    (a shared resource, a namespace its project does not allow); the live object's annotation
    (`<app>:<group>/<kind>:<namespace>/<name>`, `<app namespace>_<app>` outside the control namespace) decides.
    No annotation, or one in another format, proves nothing either way."""
    annotation = ((obj.get("metadata") or {}).get("annotations") or {}).get(TRACKING_ANNOTATION)
    if not isinstance(annotation, str) or ":" not in annotation:
        return False
    owner = annotation.partition(":")[0]
    return owner not in (app.name, f"{app.namespace}_{app.name}")


async def owned_by_member(source: ClusterSource, scope: ApplicationScope, obj: dict[str, Any]) -> bool:
    """Whether a listed resource owns `obj`, following every ownerReference up to MAX_OWNER_DEPTH levels."""
    namespace = (obj.get("metadata") or {}).get("namespace")
    level, seen = [obj], set()
    for _ in range(MAX_OWNER_DEPTH):
        owners = [o for current in level for o in (current.get("metadata") or {}).get("ownerReferences") or []]
        next_level = []
        for owner in owners:
            kind, name = owner.get("kind") or "", owner.get("name") or ""
            key = (kind, name)
            if key in seen:
                continue
            seen.add(key)
            listed = scope.lists(kind, namespace, name, _group_of(owner.get("apiVersion") or ""))
            try:  # owners are followed on metadata only
                meta = await source.get_metadata(kind, namespace, name)
            except ContextError:  # an owner we cannot read (gone, unknown kind) proves nothing beyond its listing
                if listed:
                    return True
                continue
            if listed:
                if not tracked_by_another(scope.app, meta):
                    return True
                continue  # listed, but another Application's: what it owns is not the caller's
            next_level.append(meta)
        if not next_level:
            return False
        level = next_level
    return False


async def in_scope(source: ClusterSource, scope: ApplicationScope, obj: dict[str, Any]) -> bool:
    """For objects already read by listing a namespace: whether one may be shown to the caller."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    if namespace not in scope.namespaces:
        return False
    group = _group_of(obj.get("apiVersion") or "")
    if scope.lists(obj.get("kind") or "", namespace, meta.get("name") or "", group):
        return not tracked_by_another(scope.app, obj)
    return await owned_by_member(source, scope, obj)
