"""Workloads and their Pods: who owns whom, what the containers are doing, what a Service selects."""

from __future__ import annotations

import asyncio
from typing import Any

from llama_stack_argocd.context.source import ClusterSource

# Kinds whose Pods are found through ReplicaSets (or Jobs) they own, and kinds that own Pods directly.
_VIA = {"Deployment": "ReplicaSet", "Rollout": "ReplicaSet", "CronJob": "Job"}
_POD_OWNERS = {"ReplicaSet", "StatefulSet", "DaemonSet", "Job"}
WORKLOAD_KINDS = {*_VIA, *_POD_OWNERS, "Pod"}


def owned_by(items: list[dict[str, Any]], owner: dict[str, Any]) -> list[dict[str, Any]]:
    meta = owner.get("metadata") or {}
    uid, name, kind = meta.get("uid"), meta.get("name"), owner.get("kind")

    def matches(ref: dict[str, Any]) -> bool:
        return (uid is not None and ref.get("uid") == uid) or (ref.get("kind") == kind and ref.get("name") == name)

    return [i for i in items if any(matches(r) for r in (i.get("metadata") or {}).get("ownerReferences") or [])]


async def children(source: ClusterSource, obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Objects `obj` owns one level down (ReplicaSets of a Deployment, Pods of a ReplicaSet, Jobs of a CronJob)."""
    kind, namespace = obj.get("kind"), (obj.get("metadata") or {}).get("namespace")
    if kind in _VIA:
        return owned_by(await source.list(_VIA[kind], namespace), obj)
    if kind in _POD_OWNERS:
        return owned_by(await source.list("Pod", namespace), obj)
    return []


async def pods_of(source: ClusterSource, obj: dict[str, Any], limit: int) -> list[dict[str, Any]]:
    """The Pods of a workload (or the Pod itself), newest first, at most `limit`."""
    kind = obj.get("kind")
    if kind == "Pod":
        return [obj]
    if kind in _VIA:
        middle = await children(source, obj)
        namespace = (obj.get("metadata") or {}).get("namespace")
        all_pods = await source.list("Pod", namespace) if middle else []
        pods = [p for m in middle for p in owned_by(all_pods, m)]
    elif kind in _POD_OWNERS:
        pods = await children(source, obj)
    else:
        return []
    pods.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", reverse=True)
    return pods[:limit]


def _state(state: dict[str, Any] | None) -> dict[str, Any]:
    if not state:
        return {"state": "unknown"}
    name, detail = next(iter(state.items()))
    out = {"state": name}
    for key in ("reason", "message", "exitCode", "signal", "startedAt", "finishedAt"):
        if detail and detail.get(key) not in (None, ""):
            out[key] = detail[key]
    return out


def container_summary(pod: dict[str, Any]) -> dict[str, Any]:
    spec, status = pod.get("spec") or {}, pod.get("status") or {}

    def describe(specs: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_name = {s.get("name"): s for s in statuses}
        out = []
        for container in specs:
            st = by_name.get(container.get("name"), {})
            entry = {
                "name": container.get("name"),
                "image": container.get("image"),
                "ready": st.get("ready", False),
                "restartCount": st.get("restartCount", 0),
                **_state(st.get("state")),
            }
            if last := st.get("lastState"):
                entry["lastTermination"] = _state(last)
            resources = container.get("resources")
            if resources:
                entry["resources"] = resources
            out.append(entry)
        return out

    meta = pod.get("metadata") or {}
    return {
        "pod": f"{meta.get('namespace')}/{meta.get('name')}",
        "phase": status.get("phase"),
        "node": spec.get("nodeName"),
        "initContainers": describe(spec.get("initContainers") or [], status.get("initContainerStatuses") or []),
        "containers": describe(spec.get("containers") or [], status.get("containerStatuses") or []),
    }


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


async def related(source: ClusterSource, obj: dict[str, Any]) -> dict[str, Any]:
    """Owner chain up, children down, and for a Service its Endpoints and the Pods its selector matches."""
    meta = obj.get("metadata") or {}
    namespace = meta.get("namespace")
    owners: list[str] = []
    current = obj
    for _ in range(5):
        refs = (current.get("metadata") or {}).get("ownerReferences") or []
        if not refs:
            break
        ref = next((r for r in refs if r.get("controller")), refs[0])
        owners.append(f"{ref.get('kind')}/{ref.get('name')}")
        try:
            current = await source.get(ref.get("kind", ""), namespace, ref.get("name", ""))
        except Exception:  # noqa: BLE001 - the chain ends where we cannot read further
            break
    out: dict[str, Any] = {"resource": f"{obj.get('kind')}/{meta.get('name')}", "owners": owners, "children": []}
    level = [obj]
    for _ in range(2):  # Deployment -> ReplicaSets -> Pods
        found = [c for parent in level for c in await children(source, parent)]
        out["children"] += [_brief(c) for c in found]
        level = found
    if obj.get("kind") == "Service":
        selector = (obj.get("spec") or {}).get("selector") or {}
        pods, endpoints = await asyncio.gather(
            source.list("Pod", namespace), _maybe(source.get("Endpoints", namespace, meta.get("name", "")))
        )
        out["selector"] = selector
        out["selectedPods"] = [_brief(p) for p in pods if _selects(selector, (p.get("metadata") or {}).get("labels") or {})]
        if endpoints:
            out["endpoints"] = endpoints.get("subsets") or []
    return out


async def _maybe(awaitable: Any) -> Any:
    try:
        return await awaitable
    except Exception:  # noqa: BLE001 - e.g. no Endpoints object yet
        return None


def _brief(obj: dict[str, Any]) -> dict[str, Any]:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    brief = {"kind": obj.get("kind"), "name": meta.get("name")}
    if obj.get("kind") == "Pod":
        brief["phase"] = status.get("phase")
        brief["ready"] = all(c.get("ready") for c in status.get("containerStatuses") or []) or False
    elif "replicas" in status or "readyReplicas" in status:
        brief["replicas"] = status.get("replicas", 0)
        brief["ready"] = status.get("readyReplicas", 0)
    return brief
