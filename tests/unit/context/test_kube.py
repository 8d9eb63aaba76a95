"""`KubernetesSource` over real HTTP: kinds and paths, plain JSON out, bounded failures mapped to clear errors."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import kmock
import pytest
from kubernetes import client

from llama_stack_argocd.context.errors import AccessDenied, InvalidArgument, NotFound, Unavailable
from llama_stack_argocd.context.kube import KubernetesSource, api_client
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.source import KINDS, resource_type
from tests.support import cluster as fx
from tests.support.cluster import write_kubeconfig


def source_for(handle, **settings) -> KubernetesSource:
    return KubernetesSource(ContextSettings(kubeconfig=handle.kubeconfig_path, **settings))


@pytest.fixture(scope="module")
def every_kind():
    """A private stand-in holding one object of every supported kind in namespace `kinds`."""
    with fx.start_cluster() as handle:
        for kind, rtype in KINDS.items():
            namespace = "kinds" if rtype.namespaced else None
            meta = {"name": f"a-{kind.lower()}", "uid": f"uid-{kind}", "resourceVersion": "1",
                    "creationTimestamp": fx.T0, **({"namespace": namespace} if namespace else {})}
            obj = {"apiVersion": rtype.api_version, "kind": kind, "metadata": meta}
            if kind == "Event":
                obj["involvedObject"] = {"kind": "Pod", "name": "a-pod", "namespace": "kinds"}
            handle.emulator.objects[kmock.resource(rtype.group, rtype.version, rtype.plural), namespace,
                                    meta["name"]] = obj
        yield handle


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"Namespace", "PersistentVolume"}))
async def test_every_supported_namespaced_kind_can_be_read_and_listed(every_kind, kind):
    source = source_for(every_kind)
    obj = await source.get(kind, "kinds", f"a-{kind.lower()}")
    assert obj["kind"] == kind and obj["metadata"]["uid"] == f"uid-{kind}"
    listed = await source.list(kind, "kinds")
    assert [(o["kind"], o["apiVersion"], o["metadata"]["name"]) for o in listed] == [
        (kind, KINDS[kind].api_version, f"a-{kind.lower()}")]


async def test_cluster_scoped_kinds_are_read_without_a_namespace(every_kind):
    before = every_kind.request_count()
    obj = await source_for(every_kind).get("PersistentVolume", "ignored", "a-persistentvolume")
    assert obj["metadata"]["name"] == "a-persistentvolume"
    assert every_kind.paths_since(before)[0].endswith("/api/v1/persistentvolumes/a-persistentvolume")


async def test_a_kind_the_cluster_does_not_serve_lists_as_empty(cluster):
    assert await source_for(cluster).list("Rollout", fx.APP_NS) == []


def test_kinds_resolve_by_alias_and_group_and_refuse_the_rest():
    assert resource_type("deploy") == ("Deployment", KINDS["Deployment"])
    assert resource_type("Deployment", "apps/v1")[0] == "Deployment"
    assert resource_type("Pod", "core")[0] == "Pod"
    with pytest.raises(InvalidArgument, match="not supported") as wrong_group:
        resource_type("Service", "serving.knative.dev")
    assert "core group" in wrong_group.value.message
    with pytest.raises(InvalidArgument) as unknown:
        resource_type("Gizmo")
    assert "Deployment" in unknown.value.hint and "CronJob" in unknown.value.hint


async def test_objects_are_plain_camel_case_json_and_valid_for_the_official_models(cluster):
    """The seeded fixtures must deserialize into kubernetes 37's strict models, as a real API's objects do."""
    source = source_for(cluster)
    api = source.api
    pod = await source.get("Pod", fx.APP_NS, fx.CRASHING_POD)
    assert pod["status"]["containerStatuses"][0]["restartCount"] == 7  # camelCase, as the API serves it
    core, apps, batch = client.CoreV1Api(api), client.AppsV1Api(api), client.BatchV1Api(api)
    pods = await asyncio.to_thread(core.list_namespaced_pod, fx.APP_NS, _request_timeout=5)
    assert {p.metadata.name for p in pods.items} == {fx.HEALTHY_POD, fx.CRASHING_POD, fx.JOB_POD}
    events = await asyncio.to_thread(core.list_namespaced_event, fx.APP_NS, _request_timeout=5)
    assert all(e.involved_object.name for e in events.items) and len(events.items) == 11
    for call in (
        lambda: apps.read_namespaced_deployment(fx.DEPLOYMENT, fx.APP_NS, _request_timeout=5),
        lambda: apps.read_namespaced_replica_set(fx.REPLICASET, fx.APP_NS, _request_timeout=5),
        lambda: core.read_namespaced_service(fx.SERVICE, fx.APP_NS, _request_timeout=5),
        lambda: core.read_namespaced_endpoints(fx.SERVICE, fx.APP_NS, _request_timeout=5),
        lambda: core.read_namespaced_secret(fx.SECRET, fx.APP_NS, _request_timeout=5),
        lambda: core.read_namespaced_config_map(fx.CONFIGMAP, fx.APP_NS, _request_timeout=5),
        lambda: batch.read_namespaced_cron_job(fx.CRONJOB, fx.APP_NS, _request_timeout=5),
        lambda: batch.read_namespaced_job(fx.JOB, fx.APP_NS, _request_timeout=5),
        lambda: core.read_namespaced_pod(fx.OTHER_POD, fx.OTHER_NS, _request_timeout=5),
    ):
        assert (await asyncio.to_thread(call)).metadata.uid


async def test_log_reads_pass_container_tail_and_previous(cluster):
    source = source_for(cluster)
    before = cluster.request_count()
    text = await source.log(fx.APP_NS, fx.CRASHING_POD, "web", 20, previous=True)
    assert fx.CRASH_LINE in text
    (url,) = cluster.paths_since(before)
    assert "container=web" in url and "tailLines=20" in url and "previous=true" in url


async def test_missing_objects_are_not_found(cluster):
    with pytest.raises(NotFound, match="Pod guestbook/no-such-pod does not exist"):
        await source_for(cluster).get("Pod", fx.APP_NS, "no-such-pod")


@pytest.fixture(scope="module")
def refusing():
    """A stand-in that answers some reads with 401, 403, 500 and 400."""
    with fx.start_cluster() as handle:
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure"}
        k = handle.emulator
        k["get /api/v1/namespaces/guestbook/secrets/forbidden"] << 403 << {
            **status, "code": 403, "reason": "Forbidden",
            "message": 'secrets "forbidden" is forbidden: User "system:serviceaccount:argocd:assistant" cannot get '
                       'resource "secrets" in API group "" in the namespace "guestbook"'}
        k["get /apis/apps/v1/namespaces/guestbook/deployments"] << 403 << {**status, "code": 403}
        k["get /api/v1/namespaces/guestbook/configmaps/expired"] << 401 << {**status, "code": 401}
        k["get /api/v1/namespaces/guestbook/configmaps/broken"] << 500 << {**status, "code": 500,
                                                                          "message": "etcdserver: request timed out"}
        yield handle


async def test_forbidden_says_which_verb_and_resource_the_service_account_lacks(refusing):
    source = source_for(refusing)
    with pytest.raises(AccessDenied) as denied:
        await source.get("Secret", fx.APP_NS, "forbidden")
    assert "lacks 'get' on 'secrets'" in denied.value.message and "namespace guestbook" in denied.value.message
    assert "Role" in denied.value.hint
    with pytest.raises(AccessDenied, match="lacks 'list' on 'deployments' \\(API group apps\\)"):
        await source.list("Deployment", fx.APP_NS)


async def test_unauthorized_and_server_errors_are_clear(refusing):
    source = source_for(refusing)
    with pytest.raises(AccessDenied, match="refused the assistant's credentials \\(HTTP 401\\)"):
        await source.get("ConfigMap", fx.APP_NS, "expired")
    with pytest.raises(Unavailable, match="HTTP 500.*etcdserver: request timed out"):
        await source.get("ConfigMap", fx.APP_NS, "broken")


async def test_a_bad_request_carries_the_apis_message(cluster):
    with pytest.raises(InvalidArgument, match='previous terminated container "web"'):
        await source_for(cluster).log(fx.APP_NS, fx.HEALTHY_POD, "web", 10, previous=True)


async def test_a_stopped_api_is_unavailable_quickly():
    handle = fx.start_cluster()
    source = source_for(handle, request_timeout_seconds=5)
    assert (await source.get("Pod", fx.APP_NS, fx.HEALTHY_POD))["metadata"]["name"] == fx.HEALTHY_POD
    handle.stop()
    assert not Path(handle.kubeconfig_path).exists()
    start = time.monotonic()
    with pytest.raises(Unavailable, match="Kubernetes API unreachable") as down:
        await source.get("Pod", fx.APP_NS, fx.HEALTHY_POD)
    assert time.monotonic() - start < 2
    assert down.value.hint and fx.HEALTHY_POD in down.value.message


async def test_an_api_that_never_answers_times_out_within_the_configured_bound(tmp_path):
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        kubeconfig = write_kubeconfig(f"http://127.0.0.1:{silent.getsockname()[1]}")
        source = KubernetesSource(ContextSettings(kubeconfig=kubeconfig, request_timeout_seconds=0.5))
        start = time.monotonic()
        with pytest.raises(Unavailable, match="timed out after 0.5s reading the Pod list in namespace guestbook"):
            await source.list("Pod", fx.APP_NS)
        assert time.monotonic() - start < 1.5  # one attempt: no silent retries multiply the bound


def test_without_explicit_kubeconfig_outside_a_cluster_kubeconfig_env_is_used(cluster, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig_path)
    assert api_client(ContextSettings(kubeconfig="")).configuration.host == cluster.url


async def test_inside_a_cluster_the_service_account_is_used(cluster, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig_path)  # present, but in a Pod the service account wins
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    with pytest.raises(Unavailable, match="No Kubernetes API is configured") as missing:
        await KubernetesSource(ContextSettings()).get("Pod", fx.APP_NS, fx.HEALTHY_POD)
    assert "token" in missing.value.message.lower() or "serviceaccount" in missing.value.message.lower()


async def test_identical_reads_in_flight_share_one_request_and_nothing_is_kept(cluster):
    source = source_for(cluster)
    await source.get("Pod", fx.APP_NS, fx.HEALTHY_POD)  # client built, connection open
    before = cluster.request_count()
    pods = await asyncio.gather(*(source.get("Pod", fx.APP_NS, fx.HEALTHY_POD) for _ in range(4)),
                                source.get("Pod", fx.APP_NS, fx.CRASHING_POD))
    paths = cluster.paths_since(before)
    assert sum(fx.HEALTHY_POD in p for p in paths) == 1 and sum(fx.CRASHING_POD in p for p in paths) == 1
    assert pods[0] == pods[3] and pods[0] is not pods[1]  # each caller gets its own object to change
    before = cluster.request_count()
    await source.get("Pod", fx.APP_NS, fx.HEALTHY_POD)
    await source.get("Pod", fx.APP_NS, fx.HEALTHY_POD)
    assert len(cluster.paths_since(before)) == 2  # once answered, a read is made again
    with pytest.raises(NotFound):  # a shared failure reaches every caller, as its own error
        await asyncio.gather(*(source.get("Pod", fx.APP_NS, "no-such-pod") for _ in range(3)))
    assert source._in_flight == {}
