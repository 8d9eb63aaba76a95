"""The Application is the boundary: what a tool may read on a caller's behalf.

A resource is in scope when the Application lists it in `status.resources`, or when it is owned (through
ownerReferences, transitively) by a resource that is. Anything in a namespace the Application does not deploy to
is refused before any read; anything else is refused before its content leaves this module.
"""

from __future__ import annotations

from typing import Any

from llama_stack_argocd.context.errors import NotFound, OutOfScope
from llama_stack_argocd.context.scope import AppRef, ResourceRef
from llama_stack_argocd.context.source import ClusterSource, resource_type

MAX_OWNER_DEPTH = 5


class ApplicationScope:
    def __init__(self, app: AppRef, application: dict[str, Any]) -> None:
        self.app = app
        self.application = application
        default_ns = ((application.get("spec") or {}).get("destination") or {}).get("namespace")
        self.members: set[tuple[str, str, str | None, str]] = set()
        for item in (application.get("status") or {}).get("resources") or []:
            # Argo CD lists namespaced resources with their namespace; cluster-scoped ones without.
            self.members.add((item.get("group") or "", item.get("kind", ""), item.get("namespace"), item.get("name", "")))
        self.namespaces = {ns for _, _, ns, _ in self.members if ns} | ({default_ns} if default_ns else set())

    def lists(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> bool:
        return any(
            k == kind and n == name and ns == namespace and (group is None or g == group)
            for g, k, ns, n in self.members
        )

    def default_namespace(self) -> str | None:
        return ((self.application.get("spec") or {}).get("destination") or {}).get("namespace")

    def refuse(self, what: str) -> OutOfScope:
        return OutOfScope(
            f"{what} is not part of Argo CD Application {self.app}; the assistant only reads that Application's "
            "resources and what they own.",
            hint="Ask about a resource listed by argocd_application, or open the assistant on the other Application.",
        )


async def load_scope(source: ClusterSource, app: AppRef) -> ApplicationScope:
    try:
        application = await source.get("Application", app.namespace, app.name)
    except NotFound as error:
        raise NotFound(f"Argo CD Application {app} does not exist.") from error
    return ApplicationScope(app, application)


async def fetch_in_scope(source: ClusterSource, scope: ApplicationScope, ref: ResourceRef) -> dict[str, Any]:
    """The object named by `ref` if the Application covers it; `OutOfScope` otherwise."""
    kind, rtype = resource_type(ref.kind)
    namespace = (ref.namespace or scope.default_namespace()) if rtype.namespaced else None
    what = str(ResourceRef(kind=kind, name=ref.name, namespace=namespace, group=ref.group))
    if kind == "Application" and (namespace, ref.name) == (scope.app.namespace, scope.app.name):
        return scope.application
    if rtype.namespaced and namespace not in scope.namespaces:
        raise scope.refuse(what)
    obj = await source.get(kind, namespace, ref.name)
    if scope.lists(kind, namespace, ref.name, ref.group or None) or await _owned_by_member(source, scope, obj):
        return obj
    raise scope.refuse(what)


async def _owned_by_member(source: ClusterSource, scope: ApplicationScope, obj: dict[str, Any]) -> bool:
    namespace = (obj.get("metadata") or {}).get("namespace")
    current = obj
    for _ in range(MAX_OWNER_DEPTH):
        owners = (current.get("metadata") or {}).get("ownerReferences") or []
        if not owners:
            return False
        owner = next((o for o in owners if o.get("controller")), owners[0])
        kind, name = owner.get("kind", ""), owner.get("name", "")
        group = (owner.get("apiVersion") or "").rpartition("/")[0]
        if scope.lists(kind, namespace, name, group):
            return True
        try:
            current = await source.get(kind, namespace, name)
        except Exception:  # noqa: BLE001 - an owner we cannot read (or an unknown kind) proves nothing
            return False
    return False
