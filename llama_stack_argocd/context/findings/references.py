"""References a Pod template makes to ConfigMaps, Secrets and PVCs that are not among the objects we were given.

Only decided when we were given that kind's objects for the namespace (an inventory); a reference marked optional is
not a problem. Messages that say "not found" are read by the Pod analyzers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Cluster, Finding, Obj, Severity, namespace_of, pod_spec, ref
from .registry import analyzer

_CODES = {"ConfigMap": "MissingConfigMap", "Secret": "MissingSecret", "PersistentVolumeClaim": "MissingPVC"}


def references(spec: Mapping[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(kind, name, where) for every non-optional reference of a Pod spec."""
    for vol in spec.get("volumes") or []:
        if (cm := vol.get("configMap")) and not cm.get("optional"):
            yield "ConfigMap", cm.get("name", ""), f"volume \"{vol.get('name')}\""
        if (sec := vol.get("secret")) and not sec.get("optional"):
            yield "Secret", sec.get("secretName", ""), f"volume \"{vol.get('name')}\""
        if pvc := vol.get("persistentVolumeClaim"):
            yield "PersistentVolumeClaim", pvc.get("claimName", ""), f"volume \"{vol.get('name')}\""
        for src in ((vol.get("projected") or {}).get("sources") or []):
            if (cm := src.get("configMap")) and not cm.get("optional"):
                yield "ConfigMap", cm.get("name", ""), f"projected volume \"{vol.get('name')}\""
            if (sec := src.get("secret")) and not sec.get("optional"):
                yield "Secret", sec.get("name", ""), f"projected volume \"{vol.get('name')}\""
    for c in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        where = f"container \"{c.get('name')}\""
        for env_from in c.get("envFrom") or []:
            if (cm := env_from.get("configMapRef")) and not cm.get("optional"):
                yield "ConfigMap", cm.get("name", ""), f"{where} envFrom"
            if (sec := env_from.get("secretRef")) and not sec.get("optional"):
                yield "Secret", sec.get("name", ""), f"{where} envFrom"
        for env in c.get("env") or []:
            src = env.get("valueFrom") or {}
            if (cm := src.get("configMapKeyRef")) and not cm.get("optional"):
                yield "ConfigMap", cm.get("name", ""), f"{where} env {env.get('name')}"
            if (sec := src.get("secretKeyRef")) and not sec.get("optional"):
                yield "Secret", sec.get("name", ""), f"{where} env {env.get('name')}"
    for secret in spec.get("imagePullSecrets") or []:
        yield "Secret", secret.get("name", ""), "imagePullSecrets"


@analyzer("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
def missing_references(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    if obj.get("_stub"):
        return
    ns = namespace_of(obj)
    seen: set[tuple[str, str]] = set()
    for kind, name, where in references(pod_spec(obj)):
        if not name or (kind, name) in seen or not cluster.has_inventory(kind, ns):
            continue
        seen.add((kind, name))
        if cluster.get(kind, ns, name) is None:
            yield Finding(Severity.CRITICAL if kind != "Secret" or where != "imagePullSecrets" else Severity.ERROR,
                          f"{kind} \"{name}\" not found",
                          f"{kind} \"{name}\" not found in namespace {ns}, and the {where} references it.",
                          [name, where], ref(obj), _CODES[kind])
