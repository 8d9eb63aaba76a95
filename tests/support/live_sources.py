"""A second Application for the Kubernetes stand-in, `argocd:shop`, holding the kinds the related reads go to.

Namespace `shop`: a Rollout whose newest AnalysisRun failed on its measured values (an older one succeeded, and a
run owned by another Rollout must not show), a LimitRange, a Pod that mounts a claim bound to a PersistentVolume
pinned to a zone, and a claim whose `volumeName` names billing's volume (bound to billing's own claim): that volume's
fields must never come out. Seeded with `start_cluster(seed=seed_shop)`, beside the guestbook objects, which it
leaves as they are. `argocd:shop` lists its resources in `status.resources` like any Application.
"""

from __future__ import annotations

from typing import Any

import kmock

from tests.support.cluster import ARGOCD_NS, OTHER_NS, T0, application, object_meta, owner_refs

SHOP_APP, SHOP_NS = "shop", "shop"
ROLLOUT, OTHER_ROLLOUT = "shop-web", "shop-search"
FAILED_RUN, PASSED_RUN, OTHER_RUN = "shop-web-7d9c8f6b5-12", "shop-web-6b8d7c5a4-11", "shop-search-5c4b3a2d1-3"
LIMIT_RANGE = "shop-limits"
DB_POD, DB_CLAIM, DB_VOLUME = "shop-db-0", "data-shop-db-0", "pvc-4f1c2e9a-zone-a"
STOLEN_CLAIM, BILLING_VOLUME = "borrowed-data", "pvc-billing-db-7a1e"
ZONE = "europe-west1-b"
BILLING_VOLUME_HANDLE = "projects/billing-prod/zones/europe-west1-c/disks/billing-ledger"  # must never come out
SUCCESS_CONDITION = "result[0] >= 0.95"
MEASURED = ("0.912", "0.887", "0.874")


def _application() -> dict[str, Any]:
    def res(kind: str, name: str, group: str = "", health: str | None = None) -> dict[str, Any]:
        entry: dict[str, Any] = {"group": group, "version": "v1alpha1" if group else "v1", "kind": kind,
                                 "namespace": SHOP_NS, "name": name, "status": "Synced"}
        if health:
            entry["health"] = {"status": health}
        return entry

    return application(
        SHOP_APP, "uid-app-shop", project="default", namespace=SHOP_NS,
        source={"repoURL": "https://git.example.com/shop.git", "path": "."},
        sync={"status": "Synced", "revision": "c0ffee1"}, health={"status": "Degraded"},
        resources=[res("Rollout", ROLLOUT, "argoproj.io", "Degraded"),
                   res("Rollout", OTHER_ROLLOUT, "argoproj.io", "Healthy"), res("Pod", DB_POD, health="Progressing"), res("PersistentVolumeClaim", DB_CLAIM, health="Healthy"),
                   res("PersistentVolumeClaim", STOLEN_CLAIM, health="Healthy"), res("LimitRange", LIMIT_RANGE)])


def _rollout(name: str, uid: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
            "metadata": object_meta(name, SHOP_NS, uid, labels={"app": name}),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "web", "image": f"ghcr.io/example/{name}:2.1.0"}]}},
                     "strategy": {"canary": {"steps": [{"setWeight": 20}, {"analysis": {"templates": [
                         {"templateName": "success-rate"}]}}]}}},
            "status": {"phase": "Degraded", "message": "RolloutAborted: Rollout aborted update to revision 12",
                       "replicas": 3, "readyReplicas": 3}}


def _run(name: str, owner: str, owner_uid: str, phase: str, values: tuple[str, ...], created: str) -> dict[str, Any]:
    failed = sum(1 for v in values if float(v) < 0.95)
    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "AnalysisRun",
        "metadata": object_meta(name, SHOP_NS, f"uid-{name}", created=created,
                          ownerReferences=owner_refs("Rollout", owner, owner_uid, "argoproj.io/v1alpha1")),
        "spec": {"metrics": [{"name": "success-rate", "interval": "1m", "count": 3, "failureLimit": 1,
                              "successCondition": SUCCESS_CONDITION,
                              "provider": {"prometheus": {"address": "http://prometheus.monitoring:9090",
                                                          "query": 'sum(rate(http_requests_total{code!~"5.."}[2m]))'
                                                                   ' / sum(rate(http_requests_total[2m]))'}}}]},
        "status": {
            "phase": phase, "startedAt": created,
            **({"message": "Metric \"success-rate\" assessed Failed due to failed (2) > failureLimit (1)"}
               if phase == "Failed" else {}),
            "metricResults": [{
                "name": "success-rate", "phase": phase, "count": len(values), "successful": len(values) - failed,
                "failed": failed,
                "measurements": [{"phase": "Failed" if float(v) < 0.95 else "Successful", "value": f"[{v}]",
                                  "startedAt": created, "finishedAt": created} for v in values],
            }],
        },
    }


def _pv(name: str, claim_ns: str, claim: str, zone: str, handle: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": object_meta(name, None, f"uid-{name}"),
        "spec": {"capacity": {"storage": "20Gi"}, "accessModes": ["ReadWriteOnce"], "storageClassName": "standard-rwo",
                 "persistentVolumeReclaimPolicy": "Delete", "volumeMode": "Filesystem",
                 "claimRef": {"kind": "PersistentVolumeClaim", "namespace": claim_ns, "name": claim,
                              "uid": f"uid-{claim}"},
                 "csi": {"driver": "pd.csi.storage.gke.io", "volumeHandle": handle},
                 "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                     {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]}]}]}}},
        "status": {"phase": "Bound"},
    }


def _claim(name: str, volume: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": object_meta(name, SHOP_NS, f"uid-{name}"),
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "standard-rwo", "volumeName": volume,
                     "resources": {"requests": {"storage": "20Gi"}}},
            "status": {"phase": "Bound"}}


def _db_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": object_meta(DB_POD, SHOP_NS, "uid-shop-db-0", labels={"app": "shop-db"}),
        "spec": {"containers": [{"name": "postgres", "image": "postgres:16.4"}],
                 "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": DB_CLAIM}},
                             {"name": "tmp", "emptyDir": {}}]},
        "status": {"phase": "Pending", "conditions": [{
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable", "lastTransitionTime": T0,
            "message": "0/3 nodes are available: 3 node(s) had volume node affinity conflict."}]},
    }


def _limit_range() -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": object_meta(LIMIT_RANGE, SHOP_NS, "uid-limits"),
            "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi", "cpu": "2"},
                                 "defaultRequest": {"memory": "256Mi", "cpu": "100m"}}]}}


def objects() -> list[tuple[tuple[str, str, str], str | None, str, dict[str, Any]]]:
    """((group, version, plural), namespace, name, object) for every object of the shop Application and its
    neighbours."""
    argo, runs = ("argoproj.io", "v1alpha1", "applications"), ("argoproj.io", "v1alpha1", "analysisruns")
    rollouts, pvs, pvcs = ("argoproj.io", "v1alpha1", "rollouts"), ("", "v1", "persistentvolumes"), (
        "", "v1", "persistentvolumeclaims")
    return [
        (argo, ARGOCD_NS, SHOP_APP, _application()),
        (rollouts, SHOP_NS, ROLLOUT, _rollout(ROLLOUT, "uid-rollout-web")),
        (rollouts, SHOP_NS, OTHER_ROLLOUT, _rollout(OTHER_ROLLOUT, "uid-rollout-search")),
        (runs, SHOP_NS, FAILED_RUN, _run(FAILED_RUN, ROLLOUT, "uid-rollout-web", "Failed", MEASURED,
                                         "2026-11-25T06:30:00Z")),
        (runs, SHOP_NS, PASSED_RUN, _run(PASSED_RUN, ROLLOUT, "uid-rollout-web", "Successful",
                                         ("0.991", "0.987", "0.990"), "2026-11-24T10:00:00Z")),
        (runs, SHOP_NS, OTHER_RUN, _run(OTHER_RUN, OTHER_ROLLOUT, "uid-rollout-search", "Failed", ("0.5",),
                                        "2026-11-25T06:35:00Z")),
        (("", "v1", "limitranges"), SHOP_NS, LIMIT_RANGE, _limit_range()),
        (("", "v1", "pods"), SHOP_NS, DB_POD, _db_pod()),
        (pvcs, SHOP_NS, DB_CLAIM, _claim(DB_CLAIM, DB_VOLUME)),
        (pvcs, SHOP_NS, STOLEN_CLAIM, _claim(STOLEN_CLAIM, BILLING_VOLUME)),
        (pvs, None, DB_VOLUME, _pv(DB_VOLUME, SHOP_NS, DB_CLAIM, ZONE,
                                   "projects/shop/zones/europe-west1-b/disks/shop-db")),
        (pvs, None, BILLING_VOLUME, _pv(BILLING_VOLUME, OTHER_NS, "data-billing-db", "europe-west1-c",
                                        BILLING_VOLUME_HANDLE)),
    ]


def seed_shop(emulator: Any) -> None:
    """`start_cluster(seed=seed_shop)`: the guestbook stand-in plus the shop Application."""
    for (group, version, plural), namespace, name, obj in objects():
        emulator.objects[kmock.resource(group, version, plural), namespace, name] = obj
