"""Workloads and their Pods: who owns whom, what the containers are doing, what a Service selects.

Owners are matched through ownerReferences (uid, else kind and name) on namespace listings, never with label
selectors: kmock ignores them, and a second source may not support them either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from llama_stack_argocd.context.errors import ContextError
from llama_stack_argocd.context.source import ClusterSource
from llama_stack_argocd.context.findings.base import selector_matches

Obj = dict[str, Any]

# What each controller owns one level down.
CHILD_KIND = {
    "Deployment": "ReplicaSet", "Rollout": "ReplicaSet", "CronJob": "Job",
    "ReplicaSet": "Pod", "StatefulSet": "Pod", "DaemonSet": "Pod", "Job": "Pod",
}
WORKLOAD_KINDS = frozenset({*CHILD_KIND, "Pod"})
DEFAULT_CONTAINER_ANNOTATION = "kubectl.kubernetes.io/default-container"
MAX_OWNER_DEPTH = 5


def _meta(obj: Obj) -> Obj:
    return obj.get("metadata") or {}


def _created(obj: Obj) -> str:
    return str(_meta(obj).get("creationTimestamp") or "")


def owned_by(items: list[Obj], owner: Obj) -> list[Obj]:
    """The items whose ownerReferences name `owner` (by uid, else by kind and name)."""
    meta = _meta(owner)
    uid, name, kind = meta.get("uid"), meta.get("name"), owner.get("kind")

    def matches(ref: Obj) -> bool:
        if uid and ref.get("uid"):
            return bool(ref.get("uid") == uid)
        return bool(ref.get("kind") == kind and ref.get("name") == name)

    return [i for i in items if any(matches(r) for r in _meta(i).get("ownerReferences") or [])]


async def children(source: ClusterSource, obj: Obj) -> list[Obj]:
    """Objects `obj` owns one level down (ReplicaSets of a Deployment, Pods of a ReplicaSet, Jobs of a CronJob)."""
    child = CHILD_KIND.get(obj.get("kind") or "")
    if child is None:
        return []
    return owned_by(await source.list(child, _meta(obj).get("namespace")), obj)


async def descendants(source: ClusterSource, obj: Obj) -> tuple[list[Obj], list[Obj]]:
    """(intermediate controllers, Pods) of a workload, newest first; a Pod is its own only Pod.

    The two namespace listings a two-level workload needs (ReplicaSets or Jobs, and Pods) run concurrently.
    """
    kind, namespace = obj.get("kind") or "", _meta(obj).get("namespace")
    if kind == "Pod":
        return [], [obj]
    child = CHILD_KIND.get(kind)
    if child is None:
        return [], []
    if child == "Pod":
        pods = owned_by(await source.list("Pod", namespace), obj)
        middle: list[Obj] = []
    else:
        listed, all_pods = await asyncio.gather(source.list(child, namespace), source.list("Pod", namespace))
        middle = owned_by(listed, obj)
        pods = [p for m in middle for p in owned_by(all_pods, m)]
    middle.sort(key=_created, reverse=True)
    pods.sort(key=_created, reverse=True)
    return middle, pods


async def pods_of(source: ClusterSource, obj: Obj, limit: int) -> list[Obj]:
    """The Pods of a workload (or the Pod itself), newest first, at most `limit`."""
    return (await descendants(source, obj))[1][:limit]


def container_names(pod: Obj) -> tuple[list[str], list[str]]:
    """(containers, init containers) of a Pod, by name."""
    spec = pod.get("spec") or {}
    return (
        [c.get("name") or "" for c in spec.get("containers") or []],
        [c.get("name") or "" for c in spec.get("initContainers") or []],
    )


def default_container(pod: Obj) -> str | None:
    """The container `kubectl logs` would pick without -c: the annotated default, or the only one."""
    names, _ = container_names(pod)
    annotated = (_meta(pod).get("annotations") or {}).get(DEFAULT_CONTAINER_ANNOTATION)
    if annotated in names:
        return str(annotated)
    return names[0] if len(names) == 1 else None


def _state(state: Obj | None) -> Obj:
    if not state:
        return {"state": "unknown"}
    name, detail = next(iter(state.items()))
    out: Obj = {"state": name}
    for key in ("reason", "message", "exitCode", "signal", "startedAt", "finishedAt"):
        if detail and detail.get(key) not in (None, ""):
            out[key] = detail[key]
    return out


def container_summary(pod: Obj) -> Obj:
    """Per container and init container: image, state (with waiting/terminated reason), ready, restarts, last exit."""
    spec, status, meta = pod.get("spec") or {}, pod.get("status") or {}, _meta(pod)

    def describe(specs: list[Obj], statuses: list[Obj]) -> list[Obj]:
        by_name = {s.get("name"): s for s in statuses}
        out = []
        for container in specs:
            st = by_name.get(container.get("name"), {})
            entry = {
                "name": container.get("name"),
                "image": container.get("image"),
                "ready": bool(st.get("ready", False)),
                "restartCount": st.get("restartCount", 0),
                **_state(st.get("state")),
            }
            if last := st.get("lastState"):
                entry["lastTermination"] = _state(last)
            if resources := container.get("resources"):
                entry["resources"] = resources
            out.append(entry)
        return out

    summary: Obj = {
        "pod": f"{meta.get('namespace')}/{meta.get('name')}",
        "phase": status.get("phase"),
        "node": spec.get("nodeName"),
    }
    for key in ("reason", "message"):  # Evicted, NodeLost, DeadlineExceeded...
        if status.get(key):
            summary[key] = status[key]
    summary["initContainers"] = describe(spec.get("initContainers") or [], status.get("initContainerStatuses") or [])
    summary["containers"] = describe(spec.get("containers") or [], status.get("containerStatuses") or [])
    return summary


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """A Service's equality selector; an empty selector selects nothing (Endpoints are then managed by hand)."""
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def brief(obj: Obj) -> Obj:
    """One related object in a line's worth of fields."""
    meta, status = _meta(obj), obj.get("status") or {}
    out: Obj = {"kind": obj.get("kind"), "name": meta.get("name")}
    if obj.get("kind") == "Pod":
        statuses = status.get("containerStatuses") or []
        out["phase"] = status.get("phase")
        out["ready"] = bool(statuses) and all(c.get("ready") for c in statuses)
        out["restarts"] = sum(c.get("restartCount", 0) for c in statuses)
    elif obj.get("kind") == "Job":
        out.update({k: status[k] for k in ("active", "succeeded", "failed") if k in status})
    elif "replicas" in status or "readyReplicas" in status:
        out["replicas"] = status.get("replicas", 0)
        out["ready"] = status.get("readyReplicas", 0)
    return out


async def owner_chain(source: ClusterSource, obj: Obj) -> list[str]:
    """`Kind/name` of the controlling owners, nearest first, as far as they can be read."""
    namespace, chain, current = _meta(obj).get("namespace"), [], obj
    for _ in range(MAX_OWNER_DEPTH):
        refs = _meta(current).get("ownerReferences") or []
        if not refs:
            break
        ref = next((r for r in refs if r.get("controller")), refs[0])
        chain.append(f"{ref.get('kind')}/{ref.get('name')}")
        try:
            current = await source.get(ref.get("kind") or "", namespace, ref.get("name") or "")
        except ContextError:  # the chain ends where it cannot be read further (gone, unknown kind)
            break
    return chain


async def related(source: ClusterSource, obj: Obj, visible: Callable[[Obj], Awaitable[bool]]) -> Obj:
    """Owner chain up, children down (two levels), and what decides against the object: for a Service its Endpoints
    and the Pods it selects; for a Pod the Services and NetworkPolicies selecting it, its namespace's LimitRanges and
    the claims it mounts with their volumes; for a claim its bound PersistentVolume; for a Rollout its AnalysisRuns.

    `visible` says whether a Pod found by label (not by ownership) belongs to the caller's Application; the others
    are only counted, so a Service's selector cannot be used to look into a neighbour's Pods.
    """
    meta, kind = _meta(obj), obj.get("kind")
    namespace, name = meta.get("namespace"), meta.get("name") or ""
    owners, (middle, pods) = await asyncio.gather(owner_chain(source, obj), descendants(source, obj))
    out: Obj = {
        "resource": f"{kind}/{name}",
        "owners": owners,
        "children": [brief(c) for c in middle] + ([] if kind == "Pod" else [brief(p) for p in pods]),
    }
    if kind == "Service":
        selector = (obj.get("spec") or {}).get("selector") or {}
        listed, endpoints = await asyncio.gather(
            source.list("Pod", namespace), _maybe(source.get("Endpoints", namespace, name))
        )
        matched = [p for p in listed if selects(selector, _meta(p).get("labels") or {})]
        shown = [p for p, ok in zip(matched, await asyncio.gather(*(visible(p) for p in matched)), strict=True) if ok]
        out["selector"] = selector
        out["selectedPods"] = [brief(p) for p in shown]
        if len(shown) < len(matched):
            out["selectedPodsOutsideApplication"] = len(matched) - len(shown)
        if endpoints:
            out["endpoints"] = endpoints.get("subsets") or []
    elif kind == "Pod":
        labels = meta.get("labels") or {}
        services = await source.list("Service", namespace)
        chosen = [s for s in services if selects((s.get("spec") or {}).get("selector") or {}, labels)]
        flags = await asyncio.gather(*(visible(s) for s in chosen))
        out["selectedBy"] = [f"Service/{_meta(s).get('name')}" for s, ok in zip(chosen, flags, strict=True) if ok]
        policies, limits, claims = await asyncio.gather(
            network_policies(source, namespace, labels), limit_ranges(source, namespace), pod_claims(source, obj))
        out["networkPolicies"], out["limitRanges"] = policies, limits
        if claims:
            out["volumeClaims"] = claims
    elif kind == "PersistentVolumeClaim":
        if volume := await bound_volume(source, obj):
            out["persistentVolume"] = volume
    elif kind == "Rollout":
        out["analysisRuns"] = await analysis_runs(source, obj)
    return out


MAX_ANALYSIS_RUNS = 3  # the newest runs: the one that aborted the rollout and the ones before it
MAX_MEASUREMENTS = 4  # per metric, the newest values (what the condition was evaluated against)


async def _listed(source: ClusterSource, kind: str, namespace: str | None) -> list[Obj]:
    """A namespace listing that is context, not the object asked about: empty when the credentials may not list it."""
    try:
        return await source.list(kind, namespace)
    except ContextError:
        return []


async def limit_ranges(source: ClusterSource, namespace: str | None) -> list[Obj]:
    """The LimitRanges of the Pod's namespace (each applies to every Pod there): their min, max, defaults and
    ratios decide whether a Pod is admitted and what requests it gets when it sets none."""
    return [{"name": _meta(lr).get("name"), "limits": (lr.get("spec") or {}).get("limits") or []}
            for lr in await _listed(source, "LimitRange", namespace)]


def pv_summary(pv: Obj) -> Obj:
    """The fields of a PersistentVolume that decide against a Pod or claim: phase, class, size, modes, the claim it
    is bound to and its node affinity (the zone that pins every Pod mounting it)."""
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    out: Obj = {"name": _meta(pv).get("name"), "phase": status.get("phase")}
    for key in ("storageClassName", "capacity", "accessModes", "persistentVolumeReclaimPolicy", "volumeMode",
                "nodeAffinity"):
        if spec.get(key) not in (None, "", [], {}):
            out[key] = spec[key]
    if claim := spec.get("claimRef"):
        out["claim"] = f"{claim.get('namespace', '')}/{claim.get('name', '')}"
    if status.get("message"):
        out["message"] = status["message"]
    return out


async def bound_volume(source: ClusterSource, claim: Obj) -> Obj | None:
    """The PersistentVolume a claim names, read only when the volume says it is bound to that very claim.

    `spec.volumeName` is the claim's to set, so a claim could name anyone's volume: a volume bound elsewhere (or
    to an earlier claim of that name, by uid) is reported as such without any of its fields.
    """
    meta = _meta(claim)
    name = (claim.get("spec") or {}).get("volumeName")
    if not name:
        return None
    pv = await _maybe(source.get("PersistentVolume", None, name))
    if pv is None:
        return {"name": name, "error": "not readable (missing, or the assistant may not get PersistentVolumes)"}
    ref = (pv.get("spec") or {}).get("claimRef") or {}
    same = ref.get("namespace") == meta.get("namespace") and ref.get("name") == meta.get("name")
    if not same or (ref.get("uid") and meta.get("uid") and ref.get("uid") != meta.get("uid")):
        return {"name": name, "error": "bound to another claim"}
    return pv_summary(pv)


async def pod_claims(source: ClusterSource, pod: Obj) -> list[Obj]:
    """The claims a Pod mounts, each with its bound volume: the zone of a volume decides where the Pod can run."""
    namespace = _meta(pod).get("namespace")
    names = [((v.get("persistentVolumeClaim") or {}).get("claimName")) for v in (pod.get("spec") or {}).get(
        "volumes") or []]

    async def one(name: str) -> Obj:
        claim = await _maybe(source.get("PersistentVolumeClaim", namespace, name))
        if claim is None:
            return {"name": name, "error": "not readable (missing, or the assistant may not get claims)"}
        spec = claim.get("spec") or {}
        out: Obj = {"name": name, "phase": (claim.get("status") or {}).get("phase"),
                    **{k: spec[k] for k in ("storageClassName", "volumeName") if spec.get(k)}}
        if volume := await bound_volume(source, claim):
            out["persistentVolume"] = volume
        return out

    return list(await asyncio.gather(*(one(n) for n in names if n)))


def analysis_summary(run: Obj) -> Obj:
    """An AnalysisRun as it decided: phase and message, and per metric its condition, counts and newest values."""
    spec, status = run.get("spec") or {}, run.get("status") or {}
    conditions = {m.get("name"): _pick(m, "successCondition", "failureCondition", "failureLimit",
                                          "inconclusiveLimit", "count", "interval")
                  for m in spec.get("metrics") or []}
    results = []
    for r in status.get("metricResults") or []:
        entry = {**_pick(r, "name", "phase", "count", "successful", "failed", "inconclusive", "error",
                            "consecutiveError", "message"), **conditions.get(r.get("name"), {})}
        entry["measurements"] = [_pick(m, "phase", "value", "message", "finishedAt")
                                 for m in (r.get("measurements") or [])[-MAX_MEASUREMENTS:]]
        results.append(entry)
    return {"name": _meta(run).get("name"), **_pick(status, "phase", "message", "startedAt"),
            "metricResults": results}


async def analysis_runs(source: ClusterSource, rollout: Obj) -> list[Obj]:
    """The AnalysisRuns a Rollout owns (canary steps, background and pre/post-promotion analyses), newest first."""
    runs = owned_by(await _listed(source, "AnalysisRun", _meta(rollout).get("namespace")), rollout)
    runs.sort(key=_created, reverse=True)
    return [analysis_summary(r) for r in runs[:MAX_ANALYSIS_RUNS]]


def _pick(mapping: Obj, *keys: str) -> Obj:
    return {k: mapping[k] for k in keys if mapping.get(k) not in (None, "", [], {})}


async def network_policies(source: ClusterSource, namespace: str | None, labels: dict[str, str]) -> list[Obj]:
    """The NetworkPolicies of the Pod's namespace that select it, with the fields that decide what they let through
    (policyTypes, ingress and egress rules). Namespace configuration, read like the Services; none when the
    credentials may not list them."""
    out = []
    for pol in await _listed(source, "NetworkPolicy", namespace):
        spec = pol.get("spec") or {}
        selector = spec.get("podSelector") or {}
        if selector.get("matchLabels") or selector.get("matchExpressions"):
            if not selector_matches(selector, labels):
                continue
        out.append({"name": _meta(pol).get("name"), "policyTypes": spec.get("policyTypes") or ["Ingress"],
                    **{k: spec[k] for k in ("ingress", "egress") if k in spec}})
    return out


async def _maybe(awaitable: Awaitable[Obj]) -> Obj | None:
    try:
        return await awaitable
    except ContextError:  # e.g. a Service without a selector has no Endpoints object yet
        return None
