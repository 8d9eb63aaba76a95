"""Warning events that no other analyzer explains, kept as short findings (reason, count, last message)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, event_count, event_message, event_reason, ref
from .registry import analyzer

# reasons another analyzer reads, or that say nothing by themselves
HANDLED = {
    "BackOff", "Failed", "ErrImagePull", "Unhealthy", "Killing", "FailedMount", "FailedAttachVolume",
    "FailedMapVolume", "FailedCreatePodSandBox", "FailedScheduling", "Evicted", "FailedCreate", "BackoffLimitExceeded",
    "DeadlineExceeded", "ProvisioningFailed", "FailedBinding", "ExternalProvisioning", "FailedGetResourceMetric",
    "FailedComputeMetricsReplicas", "FailedGetPodsMetric", "FailedGetExternalMetric", "FailedGetObjectMetric",
    "FailedGetContainerResourceMetric", "FailedNeedsStart", "UnexpectedJob",
}
ANALYZED_KINDS = ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service",
                  "Ingress", "PersistentVolumeClaim", "HorizontalPodAutoscaler", "Application", "Rollout", "Node",
                  "ConfigMap", "Secret", "Endpoints", "NetworkPolicy", "ServiceAccount", "PersistentVolume")


@analyzer(*ANALYZED_KINDS)
def other_warnings(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    by_reason: dict[str, list[Obj]] = {}
    for ev in cluster.warnings_for(obj):
        if (ev.get("type") or "") == "Warning" and event_reason(ev) not in HANDLED:
            by_reason.setdefault(event_reason(ev), []).append(ev)
    for reason, evs in sorted(by_reason.items()):
        count = sum(event_count(e) for e in evs)
        msg = event_message(evs[-1])
        yield Finding(Severity.WARNING, f"Warning event {reason} (x{count})", clip(msg, 400),
                      [reason, clip(msg)], ref(obj), "WarningEvent")
