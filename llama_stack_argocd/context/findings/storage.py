"""PersistentVolumeClaims: Pending (no StorageClass, provisioning failed, no matching volume) or Lost."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, event_message, ref
from .registry import analyzer


@analyzer("PersistentVolumeClaim")
def pvc(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    phase = (obj.get("status") or {}).get("phase")
    events = cluster.warnings_for(obj, "ProvisioningFailed", "FailedBinding", "ExternalProvisioning")
    if phase == "Lost":
        yield Finding(Severity.CRITICAL, "PersistentVolumeClaim lost its volume",
                      "The bound PersistentVolume no longer exists.", ["phase: Lost"], ref(obj), "PVCPending")
    elif phase == "Pending" or (events and phase != "Bound"):
        msg = event_message(events[-1]) if events else ""
        sc = (obj.get("spec") or {}).get("storageClassName")
        detail = "The claim is not bound to a volume" + (f": {clip(msg)}" if msg else ".")
        detail += f" storageClassName: {sc}." if sc else " No storageClassName is set and no default class applies."
        yield Finding(Severity.CRITICAL, "PersistentVolumeClaim Pending", detail,
                      ["phase: Pending", *([clip(msg)] if msg else []), f"storageClassName: {sc or '<none>'}"],
                      ref(obj), "PVCPending")
