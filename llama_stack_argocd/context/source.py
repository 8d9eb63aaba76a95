"""Where the context comes from: the seam between the domain and a cluster API.

`KubernetesSource` reads through the Kubernetes API with the back-end's service account; a second source (Argo CD's
REST API, for Applications on remote clusters) can implement the same protocol.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

from llama_stack_argocd.context.errors import InvalidArgument


class ResourceType(NamedTuple):
    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


KINDS: dict[str, ResourceType] = {
    "Pod": ResourceType("", "v1", "pods"),
    "Service": ResourceType("", "v1", "services"),
    "Endpoints": ResourceType("", "v1", "endpoints"),
    "ConfigMap": ResourceType("", "v1", "configmaps"),
    "Secret": ResourceType("", "v1", "secrets"),
    "PersistentVolumeClaim": ResourceType("", "v1", "persistentvolumeclaims"),
    "ServiceAccount": ResourceType("", "v1", "serviceaccounts"),
    "Event": ResourceType("", "v1", "events"),
    "Namespace": ResourceType("", "v1", "namespaces", namespaced=False),
    "Deployment": ResourceType("apps", "v1", "deployments"),
    "ReplicaSet": ResourceType("apps", "v1", "replicasets"),
    "StatefulSet": ResourceType("apps", "v1", "statefulsets"),
    "DaemonSet": ResourceType("apps", "v1", "daemonsets"),
    "Job": ResourceType("batch", "v1", "jobs"),
    "CronJob": ResourceType("batch", "v1", "cronjobs"),
    "Ingress": ResourceType("networking.k8s.io", "v1", "ingresses"),
    "NetworkPolicy": ResourceType("networking.k8s.io", "v1", "networkpolicies"),
    "HorizontalPodAutoscaler": ResourceType("autoscaling", "v2", "horizontalpodautoscalers"),
    "Application": ResourceType("argoproj.io", "v1alpha1", "applications"),
    "Rollout": ResourceType("argoproj.io", "v1alpha1", "rollouts"),
}
_BY_LOWER = {kind.lower(): kind for kind in KINDS}


def resource_type(kind: str) -> tuple[str, ResourceType]:
    """The canonical kind name and its API coordinates; unknown kinds are refused with the known ones listed."""
    canonical = _BY_LOWER.get(kind.strip().lower())
    if canonical is None:
        raise InvalidArgument(f"Unknown kind {kind!r}.", hint=f"Known kinds: {', '.join(sorted(KINDS))}.")
    return canonical, KINDS[canonical]


class ClusterSource(Protocol):
    async def get(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]: ...

    async def list(self, kind: str, namespace: str | None) -> list[dict[str, Any]]: ...

    async def log(
        self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool
    ) -> str: ...

    async def ping(self) -> None: ...
