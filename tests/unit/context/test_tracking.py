"""Membership beyond `status.resources`: an entry there does not make another Application's object the caller's.

Argo CD lists what the caller's Application's manifests name, also when that object is live and tracked by another
Application (a shared resource, or a manifest naming a namespace the project does not allow). Argo CD's tracking
annotation on the live object says whose it is; the assistant refuses it before the content is read."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import kmock
import pytest

from llama_stack_argocd.context.errors import OutOfScope
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.application_scope import in_scope, load_scope, tracked_by_another
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.tools import run_tool
from tests.support import cluster as fx

APP = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
FOREIGN_VALUE = "billing-flag-value-never-shown"
TRACKING = "argocd.argoproj.io/tracking-id"


def tracked(owner: str, kind: str, namespace: str, name: str, group: str = "") -> dict:
    return {TRACKING: f"{owner}:{group}/{kind}:{namespace}/{name}"}


@pytest.fixture
def lab() -> Iterator[fx.ClusterHandle]:
    """The stand-in, with the caller's Application also listing a ConfigMap and a Secret of namespace billing
    that the billing Application tracks, and a ConfigMap of its own that is tracked as its own."""
    with fx.start_cluster() as handle:
        objects = handle.emulator.objects
        key = (kmock.resource("argoproj.io", "v1alpha1", "applications"), fx.ARGOCD_NS, fx.APP)
        application = fx._application()
        application["status"]["resources"] += [
            {"version": "v1", "kind": "ConfigMap", "namespace": fx.OTHER_NS, "name": "billing-flags"},
            {"version": "v1", "kind": "Secret", "namespace": fx.OTHER_NS, "name": "billing-keys"},
            {"version": "v1", "kind": "ConfigMap", "namespace": fx.APP_NS, "name": "own-flags"},
            {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": fx.OTHER_NS, "name": "billing-api"},
        ]
        objects[key] = application
        objects[kmock.resource("", "v1", "configmaps"), fx.OTHER_NS, "billing-flags"] = {
            "apiVersion": "v1", "kind": "ConfigMap", "data": {"flag": FOREIGN_VALUE},
            "metadata": {"name": "billing-flags", "namespace": fx.OTHER_NS, "uid": "uid-bf",
                         "annotations": tracked(fx.OTHER_APP, "ConfigMap", fx.OTHER_NS, "billing-flags")}}
        objects[kmock.resource("", "v1", "secrets"), fx.OTHER_NS, "billing-keys"] = {
            "apiVersion": "v1", "kind": "Secret", "data": {"k": base64.b64encode(FOREIGN_VALUE.encode()).decode()},
            "metadata": {"name": "billing-keys", "namespace": fx.OTHER_NS, "uid": "uid-bk",
                         "annotations": tracked(f"{fx.ARGOCD_NS}_{fx.OTHER_APP}", "Secret", fx.OTHER_NS,
                                                "billing-keys")}}
        objects[kmock.resource("", "v1", "configmaps"), fx.APP_NS, "own-flags"] = {
            "apiVersion": "v1", "kind": "ConfigMap", "data": {"flag": "on"},
            "metadata": {"name": "own-flags", "namespace": fx.APP_NS, "uid": "uid-of",
                         "annotations": tracked(f"{fx.ARGOCD_NS}_{fx.APP}", "ConfigMap", fx.APP_NS, "own-flags")}}
        objects[kmock.resource("apps", "v1", "deployments"), fx.OTHER_NS, "billing-api"] = {
            "apiVersion": "apps/v1", "kind": "Deployment", "spec": {},
            "metadata": {"name": "billing-api", "namespace": fx.OTHER_NS, "uid": "uid-ba",
                         "annotations": tracked(fx.OTHER_APP, "Deployment", fx.OTHER_NS, "billing-api", "apps")}}
        objects[kmock.resource("", "v1", "pods"), fx.OTHER_NS, "billing-api-1"] = {
            "apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "api", "image": "billing:1"}]},
            "metadata": {"name": "billing-api-1", "namespace": fx.OTHER_NS, "uid": "uid-bp", "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "Deployment", "name": "billing-api", "uid": "uid-ba"}]}}
        yield handle


@pytest.fixture
def service(lab):
    settings = ContextSettings(kubeconfig=lab.kubeconfig_path)
    return ContextService(KubernetesSource(settings), settings)


@pytest.mark.parametrize("kind,name", [("ConfigMap", "billing-flags"), ("Secret", "billing-keys")])
async def test_a_listed_object_another_application_tracks_is_refused(
        service, lab, kind, name):
    before = len(list(lab.emulator))
    with pytest.raises(OutOfScope) as refused:
        await run_tool(service, APP, "argocd_resource_manifest", {"kind": kind, "name": name,
                                                                  "namespace": fx.OTHER_NS})
    assert FOREIGN_VALUE not in str(refused.value)
    if kind == "Secret":  # a Secret's content is never read for a decision (METADATA_FIRST)
        for request in list(lab.emulator)[before:]:
            if f"/{name}" in str(request.url):
                assert "PartialObjectMetadata" in request.headers.get("Accept", ""), request.url


async def test_what_a_listed_object_of_another_application_owns_is_refused(service):
    with pytest.raises(OutOfScope):
        await run_tool(service, APP, "argocd_resource_manifest", {"kind": "Pod", "name": "billing-api-1",
                                                                  "namespace": fx.OTHER_NS})


async def test_a_listed_object_tracked_as_the_callers_own_is_read(service):
    manifest = await run_tool(service, APP, "argocd_resource_manifest", {"kind": "ConfigMap", "name": "own-flags"})
    assert manifest["manifest"]["data"] == {"flag": "on"}


@pytest.mark.parametrize(("annotation", "foreign"), [
    (None, False),
    (f"{fx.APP}:apps/Deployment:{fx.APP_NS}/x", False),
    (f"{fx.ARGOCD_NS}_{fx.APP}:apps/Deployment:{fx.APP_NS}/x", False),
    (f"{fx.OTHER_APP}:apps/Deployment:{fx.APP_NS}/x", True),
    (f"other_{fx.APP}:apps/Deployment:{fx.APP_NS}/x", True),  # the same name in another namespace
    ("no colon", False),  # not Argo CD's format: proves nothing
])
def test_the_tracking_annotation_names_the_owning_application(annotation, foreign):
    meta = {"annotations": {TRACKING: annotation}} if annotation else {}
    assert tracked_by_another(APP, {"metadata": meta}) is foreign


async def test_a_listing_shows_no_listed_object_another_application_tracks(lab):
    settings = ContextSettings(kubeconfig=lab.kubeconfig_path)
    source = KubernetesSource(settings)
    scope = await load_scope(source, APP)
    listed = {o["metadata"]["name"]: o for o in await source.list("ConfigMap", fx.OTHER_NS)}
    assert await in_scope(source, scope, listed["billing-flags"]) is False
    own = {o["metadata"]["name"]: o for o in await source.list("ConfigMap", fx.APP_NS)}
    assert await in_scope(source, scope, own["own-flags"]) is True
