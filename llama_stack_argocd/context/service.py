"""The six reads behind the tools, each inside one Application and redacted before it is returned."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_stack_argocd.context.errors import InvalidArgument
from llama_stack_argocd.context.events import group_events
from llama_stack_argocd.context.logs import compress_logs
from llama_stack_argocd.context.manifests import clean_manifest
from llama_stack_argocd.context.membership import ApplicationScope, fetch_in_scope, load_scope
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.context.scope import AppRef, ResourceRef
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.source import ClusterSource
from llama_stack_argocd.context.workloads import WORKLOAD_KINDS, children, container_summary, pods_of, related

LOG_TOKENS = 3000  # a log read fits this many tokens; repeats collapse, errors and the tail are kept


class ContextService:
    def __init__(self, source: ClusterSource, settings: ContextSettings) -> None:
        self.source = source
        self.settings = settings

    def _redacted(self, payload: dict[str, Any]) -> dict[str, Any]:
        redactor = Redactor(self.settings.redaction_filters)
        out = redactor.redact_obj(payload)
        if redactor.count:
            out["redacted_values"] = redactor.count
        return out

    async def _in_scope(self, app: AppRef, ref: ResourceRef) -> tuple[ApplicationScope, dict[str, Any]]:
        scope = await load_scope(self.source, app)
        return scope, await fetch_in_scope(self.source, scope, ref)

    async def ping(self) -> None:
        await self.source.ping()

    async def application(self, app: AppRef) -> dict[str, Any]:
        application = (await load_scope(self.source, app)).application
        spec, status = application.get("spec") or {}, application.get("status") or {}
        operation = status.get("operationState") or {}
        results = (operation.get("syncResult") or {}).get("resources") or []
        failed = [
            {k: r.get(k) for k in ("group", "kind", "namespace", "name", "status", "message", "hookPhase") if r.get(k)}
            for r in results
            if r.get("status") not in (None, "Synced", "Pruned") or r.get("hookPhase") in ("Failed", "Error")
        ]
        return self._redacted(
            {
                "application": str(app),
                "project": spec.get("project"),
                "source": spec.get("source") or spec.get("sources"),
                "destination": spec.get("destination"),
                "sync": {k: v for k, v in (status.get("sync") or {}).items() if k in ("status", "revision", "revisions")},
                "health": status.get("health"),
                "conditions": status.get("conditions") or [],
                "operationState": {
                    k: operation.get(k) for k in ("phase", "message", "startedAt", "finishedAt") if operation.get(k)
                }
                | ({"failedResults": failed} if failed else {}),
                "resources": [
                    {
                        "kind": r.get("kind"),
                        "namespace": r.get("namespace"),
                        "name": r.get("name"),
                        "group": r.get("group") or None,
                        "sync": r.get("status"),
                        "health": r.get("health"),
                    }
                    for r in status.get("resources") or []
                ],
            }
        )

    async def manifest(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        _, obj = await self._in_scope(app, ref)
        return self._redacted({"manifest": clean_manifest(obj)})

    async def events(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        _, obj = await self._in_scope(app, ref)
        meta = obj.get("metadata") or {}
        subjects = [obj]
        if obj.get("kind") in WORKLOAD_KINDS - {"Pod"}:
            subjects += await pods_of(self.source, obj, self.settings.max_pods)
            subjects += await self._owned_replicasets(obj)
        uids = {(s.get("metadata") or {}).get("uid") for s in subjects} - {None}
        names = {(s.get("kind"), (s.get("metadata") or {}).get("name")) for s in subjects}
        items = await self.source.list("Event", meta.get("namespace"))
        mine = [
            e for e in items
            if (io := e.get("involvedObject") or {}).get("uid") in uids or (io.get("kind"), io.get("name")) in names
        ]
        groups = group_events(mine[-self.settings.max_events:])
        return self._redacted(
            {"resource": f"{obj.get('kind')}/{meta.get('name')}", "events": [g.model_dump() for g in groups]}
        )

    async def _owned_replicasets(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        if obj.get("kind") not in ("Deployment", "Rollout"):
            return []
        return await children(self.source, obj)

    async def containers(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        _, obj = await self._in_scope(app, ref)
        pods = await pods_of(self.source, obj, self.settings.max_pods)
        return self._redacted({"pods": [container_summary(p) for p in pods]})

    async def logs(
        self, app: AppRef, ref: ResourceRef, container: str | None, tail_lines: int | None, previous: bool
    ) -> dict[str, Any]:
        _, obj = await self._in_scope(app, ref)
        pods = await pods_of(self.source, obj, self.settings.max_pods)
        if not pods:
            raise InvalidArgument(f"{ref} has no Pods, so it has no logs.")
        lines = min(tail_lines or self.settings.default_log_lines, self.settings.max_log_lines)
        per_pod = max(1, lines // len(pods))

        async def read(pod: dict[str, Any]) -> dict[str, Any]:
            names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
            names += [c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or []]
            chosen = container or (names[0] if len(names) == 1 else None)
            pod_name = (pod.get("metadata") or {}).get("name", "")
            if chosen is None:
                raise InvalidArgument(f"Pod {pod_name} has several containers; say which.", hint=f"Containers: {names}")
            if chosen not in names:
                raise InvalidArgument(f"Pod {pod_name} has no container {chosen!r}.", hint=f"Containers: {names}")
            text = await self.source.log(pod["metadata"]["namespace"], pod_name, chosen, per_pod, previous)
            tail = "\n".join(text.splitlines()[-per_pod:])
            compressed = compress_logs(tail, LOG_TOKENS // len(pods))
            return {
                "pod": pod_name,
                "container": chosen,
                "previous": previous,
                "lines_read": compressed.total_lines,
                "log": compressed.text,
            }

        return self._redacted({"logs": list(await asyncio.gather(*(read(p) for p in pods)))})

    async def related(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        _, obj = await self._in_scope(app, ref)
        return self._redacted(await related(self.source, obj))
