"""The six reads behind the tools, each inside one Application and redacted before it is returned.

Every method takes the caller's `AppRef` first, reads the Application, checks the resource is in its scope, and
returns a JSON-able dict that has been through a fresh `Redactor`; when values were withheld, `redacted_values` says
how many. Reads go through a short-lived `ReadCache` per Application and credentials (`read_cache_seconds`), shared
with the evidence gathered before the model's first round; the scope check runs on every call all the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

from llama_stack_argocd.context.cache import ReadCache
from llama_stack_argocd.context.errors import ContextError, InvalidArgument
from llama_stack_argocd.context.kube_events import about, group_events, last_seen, parse_time
from llama_stack_argocd.context.logs import compress_logs
from llama_stack_argocd.context.manifests import clean_manifest
from llama_stack_argocd.context.application_scope import ApplicationScope, fetch_in_scope, in_scope, load_scope
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.source import ClusterSource
from llama_stack_argocd.context.workloads import (
    WORKLOAD_KINDS,
    container_names,
    container_summary,
    default_container,
    descendants,
    related,
)

LOG_TOKENS = 3000  # a log read fits this many tokens; repeats collapse, errors and the tail are kept
FAILED_SYNC_STATUSES = frozenset({"SyncFailed"})
FAILED_HOOK_PHASES = frozenset({"Failed", "Error"})


def _pick(mapping: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: mapping[k] for k in keys if mapping.get(k) not in (None, "", [], {})}


class ContextService:
    def __init__(
        self,
        source: ClusterSource,
        settings: ContextSettings,
        redactor_factory: Callable[[], Redactor] | None = None,
    ) -> None:
        self.source = source
        self.settings = settings
        self._redactor_factory = redactor_factory or (lambda: Redactor(settings.redaction_filters))
        self.cache = ReadCache(settings.read_cache_seconds, settings.read_cache_entries)

    def redactor(self) -> Redactor:
        """A fresh redactor with the operator's filters, as every read of this service uses."""
        return self._redactor_factory()

    def bound(self, app: AppRef) -> ClusterSource:
        """The source for one call about `app`: bound to it, its reads kept briefly for `app` and these credentials."""
        source = self.source.for_application(app)
        if not self.cache.enabled:
            return source
        return self.cache.bind(source, app, source.credentials_key())

    def _redacted(self, payload: dict[str, Any]) -> dict[str, Any]:
        redactor = self.redactor()
        out: dict[str, Any] = redactor.redact_obj(payload)
        if redactor.count:
            out["redacted_values"] = redactor.count
        return out

    @staticmethod
    async def _in_scope(
        source: ClusterSource, app: AppRef, ref: ResourceRef
    ) -> tuple[ApplicationScope, dict[str, Any]]:
        scope = await load_scope(source, app)
        return scope, await fetch_in_scope(source, scope, ref)

    async def ping(self) -> None:
        await self.source.ping()

    async def application(self, app: AppRef) -> dict[str, Any]:
        """Sync and health, conditions, the last operation with its failed results, every managed resource."""
        scope = await load_scope(self.bound(app), app)
        application = scope.application
        spec, status = application.get("spec") or {}, application.get("status") or {}
        operation = status.get("operationState") or {}
        sync_result = operation.get("syncResult") or {}
        failed = [
            _pick(r, "group", "kind", "namespace", "name", "status", "message", "hookPhase")
            for r in sync_result.get("resources") or []
            if r.get("status") in FAILED_SYNC_STATUSES or r.get("hookPhase") in FAILED_HOOK_PHASES
        ]
        operation_state = _pick(operation, "phase", "message", "startedAt", "finishedAt")
        if sync_result.get("revision"):
            operation_state["revision"] = sync_result["revision"]
        if failed:
            operation_state["failedResults"] = failed
        return self._redacted(
            {
                "application": str(app),
                "project": spec.get("project"),
                "source": spec.get("source") or spec.get("sources"),
                "destination": spec.get("destination"),
                "sync": _pick(status.get("sync") or {}, "status", "revision", "revisions"),
                "health": _pick(status.get("health") or {}, "status", "message"),
                "conditions": status.get("conditions") or [],
                "operationState": operation_state,
                "resources": [
                    {
                        "kind": r.get("kind"),
                        "namespace": scope.namespace_of(r),
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
        """The live object without noise; Secrets show keys only."""
        _, obj = await self._in_scope(self.bound(app), app, ref)
        return self._redacted({"manifest": clean_manifest(obj)})

    async def events(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        """Events of the resource and, for a workload, of its ReplicaSets/Jobs and Pods; grouped, newest first."""
        source = self.bound(app)
        _, obj = await self._in_scope(source, app, ref)
        meta = obj.get("metadata") or {}
        subjects = [obj]
        if obj.get("kind") in WORKLOAD_KINDS - {"Pod"}:
            middle, pods = await descendants(source, obj)
            subjects += [*middle, *pods[: self.settings.max_pods]]
        items = await source.events(meta.get("namespace"), subjects)
        mine = sorted((e for e in items if about(e, subjects)), key=lambda e: parse_time(last_seen(e)), reverse=True)
        kept = mine[: self.settings.max_events]
        payload: dict[str, Any] = {
            "resource": f"{obj.get('kind')}/{meta.get('name')}",
            "events": [g.model_dump(exclude={"objects"} if len(g.objects) < 2 else None) for g in group_events(kept)],
        }
        if len(mine) > len(kept):
            payload["older_events_omitted"] = len(mine) - len(kept)
        return self._redacted(payload)

    async def _pods(self, source: ClusterSource, obj: dict[str, Any], purpose: str) -> list[dict[str, Any]]:
        if obj.get("kind") not in WORKLOAD_KINDS:
            name = (obj.get("metadata") or {}).get("name")
            raise InvalidArgument(
                f"{obj.get('kind')} {name} runs no containers, so there are no {purpose} to show.",
                hint="Ask about a Pod or a workload (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob); "
                "argocd_related_resources shows which Pods a Service selects.",
            )
        return (await descendants(source, obj))[1][: self.settings.max_pods]

    async def containers(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        """Containers and init containers of a Pod or of a workload's newest Pods, with state and last exit."""
        source = self.bound(app)
        _, obj = await self._in_scope(source, app, ref)
        pods = await self._pods(source, obj, "containers")
        return self._redacted({"resource": f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
                               "pods": [container_summary(p) for p in pods]})

    async def logs(
        self,
        app: AppRef,
        ref: ResourceRef,
        container: str | None = None,
        tail_lines: int | None = None,
        previous: bool = False,
    ) -> dict[str, Any]:
        """The last lines of one container of a Pod, or of each of a workload's Pods (lines shared between them)."""
        source = self.bound(app)
        _, obj = await self._in_scope(source, app, ref)
        pods = await self._pods(source, obj, "logs")
        if not pods:
            raise InvalidArgument(f"{ref} has no Pods right now, so there are no logs to read.",
                                  hint="argocd_resource_events may say why no Pod was created or scheduled.")
        lines = self.settings.log_lines(tail_lines)
        per_pod = max(1, lines // len(pods))
        single = obj.get("kind") == "Pod"

        async def read(pod: dict[str, Any]) -> dict[str, Any]:
            pod_meta = pod.get("metadata") or {}
            pod_name = pod_meta.get("name") or ""
            names, init_names = container_names(pod)
            chosen = container or default_container(pod)
            if chosen is None:
                raise InvalidArgument(
                    f"Pod {pod_name} has several containers ({', '.join(names)}); say which one with `container`.",
                    hint=f"Containers: {', '.join(names)}" + (f"; init containers: {', '.join(init_names)}"
                                                             if init_names else "") + ".",
                )
            if chosen not in names and chosen not in init_names:
                raise InvalidArgument(
                    f"Pod {pod_name} has no container {chosen!r}.",
                    hint=f"Containers: {', '.join(names + init_names)}.",
                )
            text = await source.log(pod_meta.get("namespace") or "", pod_name, chosen, per_pod, previous)
            tail = text.splitlines()[-per_pod:]  # also when the source ignores tailLines
            compressed = compress_logs("\n".join(tail), LOG_TOKENS // len(pods))
            return {
                "pod": pod_name,
                "container": chosen,
                "previous": previous,
                "lines_read": compressed.total_lines,
                "log": compressed.text,
            }

        if single:
            results = [await read(pods[0])]
        else:  # one Pod without a previous instance (or gone meanwhile) does not sink the others
            outcomes = await asyncio.gather(*(read(p) for p in pods), return_exceptions=True)
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            for failure in failures:
                if not isinstance(failure, ContextError):
                    raise failure
            if len(failures) == len(outcomes):
                raise failures[0]
            results = [
                o if isinstance(o, dict) else {"pod": (p.get("metadata") or {}).get("name"), **cast(ContextError, o).to_dict()}
                for p, o in zip(pods, outcomes, strict=True)
            ]
        return self._redacted({"resource": f"{obj.get('kind')}/{(obj.get('metadata') or {}).get('name')}",
                               "max_lines": lines, "logs": list(results)})

    async def related(self, app: AppRef, ref: ResourceRef) -> dict[str, Any]:
        """Owner chain up, children down, and for a Service its Endpoints and the Pods its selector matches."""
        source = self.bound(app)
        scope, obj = await self._in_scope(source, app, ref)

        async def visible(candidate: dict[str, Any]) -> bool:
            return await in_scope(source, scope, candidate)

        return self._redacted(await related(source, obj, visible))
