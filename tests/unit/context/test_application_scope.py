"""Application scope against the Kubernetes stand-in over real HTTP: what is in, what is refused, and that a refusal
never carries the refused object's content (nor, for another namespace, reads it at all)."""

from __future__ import annotations

import json

import pytest

from llama_stack_argocd.context.errors import NotFound, OutOfScope
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.application_scope import ApplicationScope, fetch_in_scope, load_scope
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support import cluster as fx

GUESTBOOK = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
STRAY_POD = "stray-debug"  # in guestbook's namespace, labelled like its Pods, owned by nothing the app lists
STRAY_MARKER = "stray-pod-private-value"


@pytest.fixture(scope="module")
def own_cluster():
    """A private stand-in this module may add objects to without disturbing the shared one."""
    import kmock

    with fx.start_cluster() as handle:
        stray = {"apiVersion": "v1", "kind": "Pod", "metadata": {
            "name": STRAY_POD, "namespace": fx.APP_NS, "uid": "uid-stray", "resourceVersion": "1",
            "creationTimestamp": fx.T0, "labels": {"app": "guestbook-ui"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "someone-elses", "uid": "x",
                                 "controller": True}]},
            "spec": {"containers": [{"name": "c", "image": "busybox", "env": [{"name": "NOTE",
                                                                               "value": STRAY_MARKER}]}]},
            "status": {"phase": "Running"}}
        handle.emulator.objects[kmock.resource("", "v1", "pods"), fx.APP_NS, STRAY_POD] = stray
        yield handle


@pytest.fixture
def source(cluster):
    return KubernetesSource(ContextSettings(kubeconfig=cluster.kubeconfig_path))


async def test_listed_resources_are_in_scope(source):
    scope = await load_scope(source, GUESTBOOK)
    deployment = await fetch_in_scope(source, scope, ResourceRef(kind="Deployment", name=fx.DEPLOYMENT))
    assert deployment["metadata"]["uid"] == "uid-deploy"
    # listed without a namespace in status.resources: the destination namespace is meant
    secret = await fetch_in_scope(source, scope, ResourceRef(kind="secret", name=fx.SECRET))
    assert secret["metadata"]["namespace"] == fx.APP_NS


@pytest.mark.parametrize(("kind", "name"), [
    ("ReplicaSet", fx.REPLICASET), ("Pod", fx.CRASHING_POD), ("Job", fx.JOB), ("Pod", fx.JOB_POD)])
async def test_owned_resources_are_in_scope_through_the_owner_chain(source, kind, name):
    scope = await load_scope(source, GUESTBOOK)
    obj = await fetch_in_scope(source, scope, ResourceRef(kind=kind, name=name, namespace=fx.APP_NS))
    assert obj["metadata"]["name"] == name


@pytest.mark.parametrize("ref", [
    ResourceRef(kind="Pod", name=fx.OTHER_POD, namespace=fx.OTHER_NS),
    ResourceRef(kind="Secret", name=fx.OTHER_SECRET, namespace=fx.OTHER_NS),
    ResourceRef(kind="Application", name=fx.OTHER_APP, namespace=fx.ARGOCD_NS),
    ResourceRef(kind="Namespace", name=fx.OTHER_NS),
], ids=str)
async def test_another_applications_resources_are_refused_without_being_read(cluster, source, ref):
    scope = await load_scope(source, GUESTBOOK)
    before = cluster.request_count()
    with pytest.raises(OutOfScope) as refused:
        await fetch_in_scope(source, scope, ref)
    assert cluster.paths_since(before) == []
    assert f"is not part of Argo CD Application {GUESTBOOK}" in refused.value.message
    assert ref.name in refused.value.message


async def test_refusal_names_kind_namespace_and_application():
    source = KubernetesSource(ContextSettings(kubeconfig="/nonexistent"))  # never used: refused before reading
    scope = ApplicationScope(GUESTBOOK, {"spec": {"destination": {"namespace": fx.APP_NS}}})
    expected = r"^Pod billing/billing-api is not part of Argo CD Application argocd:guestbook"
    with pytest.raises(OutOfScope, match=expected):
        await fetch_in_scope(source, scope, ResourceRef(kind="Pod", name=fx.OTHER_POD, namespace=fx.OTHER_NS))


async def test_an_unowned_object_in_the_apps_namespace_is_refused_and_its_content_never_returned(own_cluster):
    settings = ContextSettings(kubeconfig=own_cluster.kubeconfig_path)
    service = ContextService(KubernetesSource(settings), settings)
    ref = ResourceRef(kind="Pod", name=STRAY_POD)
    for read in (service.manifest(GUESTBOOK, ref), service.containers(GUESTBOOK, ref), service.logs(GUESTBOOK, ref),
                 service.events(GUESTBOOK, ref), service.related(GUESTBOOK, ref)):
        with pytest.raises(OutOfScope) as refused:
            await read
        assert STRAY_MARKER not in json.dumps(refused.value.to_dict())
    assert not any("/log" in url for url in own_cluster.paths_since(0))


async def test_a_services_selector_does_not_show_pods_outside_the_application(own_cluster):
    settings = ContextSettings(kubeconfig=own_cluster.kubeconfig_path)
    service = ContextService(KubernetesSource(settings), settings)
    related = await service.related(GUESTBOOK, ResourceRef(kind="Service", name=fx.SERVICE))
    assert {p["name"] for p in related["selectedPods"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    assert related["selectedPodsOutsideApplication"] == 1
    assert STRAY_POD not in json.dumps(related)


async def test_the_application_itself_is_in_scope_but_a_missing_one_is_not_found(source):
    scope = await load_scope(source, GUESTBOOK)
    own = await fetch_in_scope(source, scope, ResourceRef(kind="Application", name=fx.APP, namespace=fx.ARGOCD_NS))
    assert own is scope.application
    with pytest.raises(NotFound, match="argocd:nope does not exist"):
        await load_scope(source, AppRef(namespace=fx.ARGOCD_NS, name="nope"))


async def test_the_endpoints_of_a_listed_service_are_in_scope(source):
    """Endpoints carry no ownerReferences; they belong to the Service of the same name (as in Argo CD's tree)."""
    scope = await load_scope(source, GUESTBOOK)
    endpoints = await fetch_in_scope(source, scope, ResourceRef(kind="Endpoints", name=fx.SERVICE))
    assert endpoints["subsets"][0]["addresses"][0]["ip"] == "10.0.0.12"


async def test_a_listed_name_does_not_let_another_kind_of_that_name_in(own_cluster):
    import kmock

    own_cluster.emulator.objects[kmock.resource("", "v1", "configmaps"), fx.APP_NS, fx.DEPLOYMENT] = {
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": fx.DEPLOYMENT, "namespace": fx.APP_NS},
        "data": {"k": STRAY_MARKER}}
    source = KubernetesSource(ContextSettings(kubeconfig=own_cluster.kubeconfig_path))
    scope = await load_scope(source, GUESTBOOK)
    with pytest.raises(OutOfScope) as refused:
        await fetch_in_scope(source, scope, ResourceRef(kind="ConfigMap", name=fx.DEPLOYMENT))
    assert STRAY_MARKER not in str(refused.value.to_dict())
