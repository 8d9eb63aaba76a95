"""Deployments, ReplicaSets, StatefulSets and DaemonSets: stuck rollouts, missing availability, failed Pod creation."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, condition, event_message, name_of, namespace_of, ref
from .registry import analyzer

_QUOTA = re.compile(r"exceeded quota|forbidden: .*(quota|limitrange|maximum)|admission webhook .* denied", re.IGNORECASE)


# A LimitRange's admission errors: per-Container/Pod maximum or minimum, the limit/request ratio, or the name itself.
_LIMIT_RANGE = re.compile(r"(maximum|minimum) (cpu|memory|ephemeral-storage|storage) usage per (Container|Pod|"
                          r"PersistentVolumeClaim)|max limit to request ratio|limitrange", re.IGNORECASE)


def _limit_range(obj: Obj, msg: str, cluster: Cluster, source: str) -> Finding:
    """Pods refused by a LimitRange: not a ResourceQuota (nothing is used up); the Pod spec asks outside the range."""
    ranges = [o for o in cluster.of_kind("LimitRange") if namespace_of(o) in ("", namespace_of(obj))
              and not o.get("_stub")]
    detail = f"The namespace's LimitRange refuses the Pods: {clip(msg, 400)}."
    evidence = [source, *(m.group(0) for m in _LIMIT_RANGE.finditer(msg))][:3] + [clip(msg)]
    for lr in ranges[:2]:
        for item in (lr.get("spec") or {}).get("limits") or []:
            bounds = "; ".join(f"{k} {', '.join(f'{r}={v}' for r, v in (item.get(k) or {}).items())}"
                               for k in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio")
                               if item.get(k))
            detail += f" LimitRange {name_of(lr)} ({item.get('type')}): {bounds}."
            evidence.append(f"LimitRange {name_of(lr)} {item.get('type')}: {bounds}")
    detail += " Change the Pod's resources to fit the range (or the LimitRange); this is not a quota."
    return Finding(Severity.CRITICAL, "Pods refused by a LimitRange", detail, evidence, ref(obj),
                   "LimitRangeExceeded")


def _replica_failure(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    cond = condition(obj, "ReplicaFailure")
    msgs = []
    if cond and cond.get("status") == "True":
        msgs.append(str(cond.get("message") or cond.get("reason") or ""))
    events = cluster.warnings_for(obj, "FailedCreate")
    if events:
        msgs.append(event_message(events[-1]))
    if not msgs:
        return
    msg = msgs[-1]
    # what kubectl shows: the event's reason, else the condition's type with its reason (ReplicaFailure: FailedCreate)
    source = "FailedCreate" if events else ": ".join(
        str(x) for x in ("ReplicaFailure", (cond or {}).get("reason")) if x)
    if _LIMIT_RANGE.search(msg):
        yield _limit_range(obj, msg, cluster, source)
        return
    quota = bool(_QUOTA.search(msg))
    yield Finding(Severity.CRITICAL, "Pods cannot be created" + (" (quota or admission)" if quota else ""),
                  clip(msg, 400), [source, clip(msg)], ref(obj),
                  "QuotaExceeded" if "quota" in msg.lower() else "ReplicaFailure")


@analyzer("Deployment")
def deployment(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    if obj.get("_stub"):
        yield from _replica_failure(obj, cluster)
        return
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0) or 0
    available = status.get("availableReplicas", 0) or 0
    updated = status.get("updatedReplicas", 0) or 0
    counts = f"{available}/{want} available, {ready} ready, {updated} updated"
    progressing = condition(obj, "Progressing")
    avail = condition(obj, "Available")
    if progressing and progressing.get("status") == "False":
        msg = str(progressing.get("message") or "")
        yield Finding(Severity.CRITICAL, f"rollout stuck: {progressing.get('reason', 'not progressing')}",
                      f"The rollout stopped making progress ({counts}): {clip(msg)} The new Pods never became "
                      "ready; their status and events show why.",
                      [str(progressing.get("reason") or ""), clip(msg), counts], ref(obj), "RolloutStuck")
    if spec.get("paused"):
        yield Finding(Severity.WARNING, "rollout paused", "spec.paused is true: changes are not rolled out.",
                      ["paused: true"], ref(obj), "RolloutStuck")
    if want and (avail and avail.get("status") == "False" or available < want):
        msg = str((avail or {}).get("message") or "")
        yield Finding(Severity.ERROR if available else Severity.CRITICAL,
                      f"Deployment unavailable: {available} of {want} replicas available",
                      f"{counts}." + (f" {clip(msg)}" if msg else ""),
                      [counts] + ([clip(msg)] if msg else []), ref(obj), "DeploymentUnavailable")
    yield from _replica_failure(obj, cluster)


@analyzer("ReplicaSet")
def replicaset(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    yield from _replica_failure(obj, cluster)


@analyzer("StatefulSet")
def statefulset(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    yield from _replica_failure(obj, cluster)
    if obj.get("_stub"):
        return
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    want = spec.get("replicas", 1)
    ready = status.get("readyReplicas", 0) or 0
    if want and ready < want:
        detail = f"{ready}/{want} replicas ready."
        evidence = [f"readyReplicas: {ready}/{want}"]
        if status.get("updateRevision") and status.get("currentRevision") != status.get("updateRevision"):
            detail += (f" The update to revision {status['updateRevision']} is not complete: a StatefulSet updates "
                       "one Pod at a time and waits for each to be ready.")
            evidence.append(f"updateRevision: {status['updateRevision']}")
        yield Finding(Severity.ERROR, f"StatefulSet unavailable: {ready} of {want} ready", detail, evidence,
                      ref(obj), "StatefulSetUnavailable")


@analyzer("DaemonSet")
def daemonset(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    yield from _replica_failure(obj, cluster)
    if obj.get("_stub"):
        return
    status = obj.get("status") or {}
    unavailable = status.get("numberUnavailable", 0) or 0
    desired = status.get("desiredNumberScheduled", 0) or 0
    misscheduled = status.get("numberMisscheduled", 0) or 0
    if unavailable:
        yield Finding(Severity.ERROR, f"DaemonSet unavailable on {unavailable} of {desired} nodes",
                      f"{unavailable} of {desired} daemon Pods are not available.",
                      [f"numberUnavailable: {unavailable}"], ref(obj), "DaemonSetUnavailable")
    if misscheduled:
        yield Finding(Severity.WARNING, f"DaemonSet running on {misscheduled} nodes it should not",
                      "Node selectors or taints changed.", [f"numberMisscheduled: {misscheduled}"], ref(obj),
                      "DaemonSetUnavailable")
