"""PersistentVolumeClaims: Pending (no StorageClass, provisioning failed, no matching volume, waiting for its first
consumer) or Lost."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, event_message, event_reason, ref
from .registry import analyzer

# What a Pending claim's events say, Normal ones too: WaitForFirstConsumer and ExternalProvisioning are Normal.
_CLAIM_REASONS = ("ProvisioningFailed", "FailedBinding", "ExternalProvisioning", "WaitForFirstConsumer",
                  "Provisioning")


@analyzer("PersistentVolumeClaim")
def pvc(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    phase = (obj.get("status") or {}).get("phase")
    events = [e for e in cluster.events_for(obj) if event_reason(e) in _CLAIM_REASONS]
    failed = [e for e in events if (e.get("type") or "Warning") != "Normal"]
    if phase == "Lost":
        yield Finding(Severity.CRITICAL, "PersistentVolumeClaim lost its volume",
                      "The bound PersistentVolume no longer exists.", ["phase: Lost"], ref(obj), "PVCPending")
    elif phase == "Pending" or (failed and phase != "Bound"):
        last = (failed or events)[-1] if events else None
        msg = event_message(last) if last is not None else ""
        waits = last is not None and not failed and event_reason(last) == "WaitForFirstConsumer"
        sc = (obj.get("spec") or {}).get("storageClassName")
        detail = "The claim is not bound to a volume" + (f": {clip(msg)}." if msg else ".")
        if waits:  # volumeBindingMode WaitForFirstConsumer: bound once a Pod using it is scheduled
            detail += (" Its StorageClass binds only once a Pod that mounts it is scheduled: what keeps that Pod "
                       "Pending (scheduling, a missing Pod) is the cause, not the claim.")
        detail += f" storageClassName: {sc}." if sc else " No storageClassName is set and no default class applies."
        yield Finding(Severity.WARNING if waits else Severity.CRITICAL, "PersistentVolumeClaim Pending", detail,
                      ["phase: Pending", *([clip(msg)] if msg else []), f"storageClassName: {sc or '<none>'}"],
                      ref(obj), "PVCPending")
