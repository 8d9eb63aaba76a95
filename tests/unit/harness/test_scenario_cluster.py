"""The eval scenarios served as Argo CD Applications by the Kubernetes stand-in: the tools find their evidence."""

from __future__ import annotations

import pytest

from llama_stack_argocd.cli.eval import found
from llama_stack_argocd.context.errors import OutOfScope
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support.scenario_cluster import health, read_as_tools, start_scenario_cluster

# One of each kind: a crash loop whose cause is in the previous instance's log, an OOM kill whose Pod names only its
# ReplicaSet (owners made), an image pull the Deployment's owner-less Pods show (Pods adopted), a failed sync (the
# scenario's own Application), a claim pending on a missing StorageClass (events of a listed PVC), a failed Job.
KINDS = ["django-migration-duplicate-column", "oomkilled-java-heap", "imagepull-tag-not-found",
         "argocd-sync-failed-immutable", "pvc-pending-storageclass", "job-deadline-exceeded"]


@pytest.fixture(scope="module")
def seeded():
    cluster, apps = start_scenario_cluster(KINDS)
    try:
        yield cluster, {a.scenario.name: a for a in apps}
    finally:
        cluster.stop()


@pytest.fixture
def service(seeded):
    settings = ContextSettings(kubeconfig=seeded[0].kubeconfig_path, default_log_lines=100, max_log_lines=500)
    return ContextService(KubernetesSource(settings), settings)


def test_every_scenario_asked_for_is_an_application(seeded):
    assert sorted(seeded[1]) == sorted(KINDS)


@pytest.mark.parametrize("name", KINDS)
async def test_the_tools_return_the_scenarios_evidence(seeded, service, name):
    app = seeded[1][name]
    text = await read_as_tools(service, app)
    hits = found(text, app.scenario.evidence)
    assert all(hits), [e for e, ok in zip(app.scenario.evidence, hits, strict=True) if not ok]


async def test_an_application_lists_its_managed_objects_with_argo_cd_health(seeded, service):
    result = await service.application(seeded[1]["oomkilled-java-heap"].app)
    resources = {(r["kind"], r["name"]): r for r in result["resources"]}
    # the scenario holds only the Pod (owned by ReplicaSet catalog-7b5d9c8f4): the Deployment is what git manages
    assert list(resources) == [("Deployment", "catalog")]
    assert resources["Deployment", "catalog"]["health"]["status"] == "Progressing"
    assert result["health"]["status"] == "Progressing" and result["sync"]["status"] == "Synced"
    containers = await service.containers(seeded[1]["oomkilled-java-heap"].app, ResourceRef(kind="Deployment",
                                                                                             name="catalog"))
    assert [c["lastTermination"]["reason"] for p in containers["pods"] for c in p["containers"]] == ["OOMKilled"]


async def test_the_scenarios_own_application_keeps_its_status_under_the_scenarios_name(seeded, service):
    app = seeded[1]["argocd-sync-failed-immutable"]
    result = await service.application(app.app)
    assert result["application"] == "argocd:argocd-sync-failed-immutable"
    assert result["operationState"]["phase"] == "Failed"
    assert [r["name"] for r in result["operationState"]["failedResults"]] == ["db-seed"]
    events = await service.events(app.app, ResourceRef(kind="Application", name=app.app.name, namespace="argocd"))
    assert any("field is immutable" in e["message"] for e in events["events"])  # moved onto the renamed Application


async def test_one_scenarios_application_cannot_read_anothers_objects(seeded, service):
    crash, pull = seeded[1]["django-migration-duplicate-column"], seeded[1]["imagepull-tag-not-found"]
    assert crash.focus is not None and crash.namespace == pull.namespace  # neighbours in one namespace
    with pytest.raises(OutOfScope):
        await service.manifest(pull.app, crash.focus)


def test_health_follows_argo_cds_checks():
    assert health({"kind": "Pod", "status": {"phase": "Running", "containerStatuses": [
        {"ready": False, "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 5m0s"}}}]}}) == {
        "status": "Degraded", "message": "back-off 5m0s"}
    assert health({"kind": "PersistentVolumeClaim", "status": {"phase": "Pending"}}) == {"status": "Progressing"}
    assert health({"kind": "Deployment", "spec": {"replicas": 2}, "status": {"conditions": [
        {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "too slow"}]}}) \
        == {"status": "Degraded", "message": "too slow"}
    assert health({"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {}})["status"] == "Progressing"
    assert health({"kind": "ConfigMap"}) is None


async def test_owner_less_pods_a_deployment_selects_are_its_own(seeded, service):
    app = seeded[1]["imagepull-tag-not-found"]
    result = await service.application(app.app)
    assert [(r["kind"], r["name"], r["health"]["status"]) for r in result["resources"]] == [
        ("Deployment", "web", "Progressing")]  # a rollout stuck at 1 of 3 updated replicas
    containers = await service.containers(app.app, ResourceRef(kind="Deployment", name="web"))
    assert sorted(c.get("reason", c["state"]) for p in containers["pods"] for c in p["containers"]) == [
        "ImagePullBackOff", "running"]
