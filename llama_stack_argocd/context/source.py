"""Where the context comes from: the seam between the domain and a cluster API.

`KubernetesSource` (kube.py) reads through the Kubernetes API with the back-end's service account;
`ArgoCDSource` (argocd_api.py) reads through argocd-server's REST API with a read-only Argo CD account, for
Applications on clusters the back-end cannot reach. Everything crossing this seam is plain Kubernetes JSON
(camelCase dicts, as the API serves them), so the domain never sees client models.

Argo CD's API is per Application, not per kind, so the service asks for a source bound to the caller's Application
(`for_application`) at the start of every tool call and reads through it; the Kubernetes source is the same for
every Application and returns itself.
"""

from __future__ import annotations

import builtins
from typing import Any, NamedTuple, Protocol

from llama_stack_argocd.context.errors import InvalidArgument
from llama_stack_argocd.context.refs import AppRef


class ResourceType(NamedTuple):
    """Where a kind lives in the API: group, version, plural, and whether objects sit in a namespace."""

    group: str
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


# Explicit rather than discovered: the kinds the tools reason about, at the versions every supported cluster serves.
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
    "PersistentVolume": ResourceType("", "v1", "persistentvolumes", namespaced=False),
    "LimitRange": ResourceType("", "v1", "limitranges"),
    "Deployment": ResourceType("apps", "v1", "deployments"),
    "ReplicaSet": ResourceType("apps", "v1", "replicasets"),
    "StatefulSet": ResourceType("apps", "v1", "statefulsets"),
    "DaemonSet": ResourceType("apps", "v1", "daemonsets"),
    "Job": ResourceType("batch", "v1", "jobs"),
    "CronJob": ResourceType("batch", "v1", "cronjobs"),
    "Ingress": ResourceType("networking.k8s.io", "v1", "ingresses"),
    "NetworkPolicy": ResourceType("networking.k8s.io", "v1", "networkpolicies"),
    "HorizontalPodAutoscaler": ResourceType("autoscaling", "v2", "horizontalpodautoscalers"),
    "PodDisruptionBudget": ResourceType("policy", "v1", "poddisruptionbudgets"),
    "Role": ResourceType("rbac.authorization.k8s.io", "v1", "roles"),
    "RoleBinding": ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings"),
    "Application": ResourceType("argoproj.io", "v1alpha1", "applications"),
    "Rollout": ResourceType("argoproj.io", "v1alpha1", "rollouts"),
    "AnalysisRun": ResourceType("argoproj.io", "v1alpha1", "analysisruns"),
}
_BY_LOWER = {kind.lower(): kind for kind in KINDS}
# What a model may type instead of the kind's name.
_ALIASES = {
    "po": "Pod", "pods": "Pod", "svc": "Service", "services": "Service", "ep": "Endpoints", "endpoint": "Endpoints",
    "cm": "ConfigMap", "configmaps": "ConfigMap", "secrets": "Secret", "pvc": "PersistentVolumeClaim",
    "sa": "ServiceAccount", "ns": "Namespace", "deploy": "Deployment", "deployments": "Deployment",
    "rs": "ReplicaSet", "replicasets": "ReplicaSet", "sts": "StatefulSet", "statefulsets": "StatefulSet",
    "ds": "DaemonSet", "daemonsets": "DaemonSet", "jobs": "Job", "cj": "CronJob", "cronjobs": "CronJob",
    "ing": "Ingress", "ingresses": "Ingress", "hpa": "HorizontalPodAutoscaler", "pdb": "PodDisruptionBudget",
    "app": "Application", "applications": "Application", "ro": "Rollout", "rollouts": "Rollout",
    "pv": "PersistentVolume", "limits": "LimitRange", "limitranges": "LimitRange", "analysisruns": "AnalysisRun",
}


def resource_type(kind: str, group: str | None = None) -> tuple[str, ResourceType]:
    """The canonical kind name and its API coordinates.

    Unknown kinds, and a known kind asked for in another API group (say `Service` of serving.knative.dev), are
    refused with the supported kinds listed, so the model can correct itself instead of reading the wrong object.
    """
    key = kind.strip().lower()
    canonical = _BY_LOWER.get(key) or _ALIASES.get(key)
    if canonical is None:
        raise InvalidArgument(f"Unsupported kind {kind!r}.", hint=f"Supported kinds: {', '.join(sorted(KINDS))}.")
    rtype = KINDS[canonical]
    if group and _normal_group(group) != rtype.group:
        raise InvalidArgument(
            f"{canonical} in API group {group!r} is not supported; {canonical} is read from "
            f"{rtype.group or 'the core group'}.",
            hint="Leave group empty for the standard kinds.",
        )
    return canonical, rtype


def _normal_group(group: str) -> str:
    """`apps`, `apps/v1`, `core`, `v1` and `` as the API names groups (`` is the core group)."""
    group = group.strip().lower()
    if "/" in group:
        group = group.partition("/")[0]
    return "" if group in ("core", "v1") else group


class ClusterSource(Protocol):
    """Read-only access to one cluster's objects, as plain JSON dicts.

    Implementations raise the `ContextError`s of errors.py: `NotFound` for a missing object, `AccessDenied` when
    their own credentials are refused, `Unavailable` when the API is unreachable, slow or failing.
    """

    def for_application(self, app: AppRef) -> ClusterSource:
        """The source to read `app`'s resources through, for one tool call (it may cache within that call)."""
        ...

    def credentials_key(self) -> str:
        """A fingerprint (never the secret itself) of the credentials this source reads with: answers read with
        one account's rights are kept apart from another's (context/cache.py)."""
        ...

    async def get_application(self, namespace: str, name: str) -> dict[str, Any]:
        """The Argo CD Application custom object (argoproj.io/v1alpha1)."""
        ...

    async def get(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> dict[str, Any]:
        """One object by kind (optionally checked against `group`), namespace and name."""
        ...

    async def get_metadata(self, kind: str, namespace: str | None, name: str) -> dict[str, Any]:
        """Only `kind`, `apiVersion` and `metadata` (with ownerReferences) of one object, never its content: what a
        membership check may read of an object that may not be the caller's (a Secret's data never travels)."""
        ...

    async def list(self, kind: str, namespace: str | None) -> list[dict[str, Any]]:
        """Every object of a kind in a namespace, each with `kind` and `apiVersion` set.

        No label or field selectors: callers filter by owner or involved object themselves, which keeps a second
        source simple. A kind the cluster does not serve (an uninstalled CRD) lists as empty.
        """
        ...

    async def events(
        self, namespace: str | None, subjects: builtins.list[dict[str, Any]]
    ) -> builtins.list[dict[str, Any]]:
        """The Events (core/v1 or events.k8s.io/v1 dicts) about any of `subjects`, objects read from this source.

        Subjects rather than a namespace listing: Argo CD serves events per resource (by uid), Kubernetes per
        namespace; each source asks the way its API answers and returns only the events about the subjects.
        """
        ...

    async def log(self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool) -> str:
        """The last `tail_lines` lines of a container's log; `previous` for the instance before the last restart."""
        ...

    async def ping(self) -> None:
        """Cheap reachability check for health endpoints."""
        ...
