"""`ArgoCDSource` against the argocd-server stand-in over real HTTP: each read, the same answers as the Kubernetes
source for the same fixtures, scope refused before any read, errors mapped, the token never in what comes out."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from pydantic import ValidationError

from llama_stack_argocd.context.argocd_api import ArgoCDSource
from llama_stack_argocd.context.errors import AccessDenied, InvalidArgument, NotFound, OutOfScope, Unavailable
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.tools import TOOLS_BY_NAME, run_tool
from tests.support import cluster as fx
from tests.support.argocd_api import LIMITED_TOKEN, TOKEN, start_argocd_api

APP = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
DEPLOYMENT = ResourceRef(kind="Deployment", name=fx.DEPLOYMENT)
CRASHING = ResourceRef(kind="Pod", name=fx.CRASHING_POD)


def argocd_settings(url: str, token: str | None = TOKEN, **extra) -> ContextSettings:
    argocd = {"server_url": url, "api_token": token, **extra.pop("argocd", {})}
    return ContextSettings(source="argocd", argocd=argocd, **extra)


@pytest.fixture
def source(argocd_api) -> ArgoCDSource:
    return ArgoCDSource(argocd_settings(argocd_api.url))


@pytest.fixture
def services(argocd_api, cluster) -> tuple[ContextService, ContextService]:
    argo, kube = argocd_settings(argocd_api.url), ContextSettings(kubeconfig=cluster.kubeconfig_path)
    return ContextService(ArgoCDSource(argo), argo), ContextService(KubernetesSource(kube), kube)


# -- each read -------------------------------------------------------------------------------------------------------

async def test_reads_go_through_the_application_endpoints(source, argocd_api):
    bound = source.for_application(APP)
    before = argocd_api.request_count()
    app = await bound.get_application(fx.ARGOCD_NS, fx.APP)
    assert app["kind"] == "Application" and app["status"]["sync"]["status"] == "OutOfSync"
    deployment = await bound.get("Deployment", fx.APP_NS, fx.DEPLOYMENT, "apps")
    assert deployment["metadata"]["uid"] == "uid-deploy" and deployment["kind"] == "Deployment"
    pods = await bound.list("Pod", fx.APP_NS)
    assert {p["metadata"]["name"] for p in pods} == {fx.HEALTHY_POD, fx.CRASHING_POD, fx.JOB_POD}
    again = await bound.get("Pod", fx.APP_NS, fx.CRASHING_POD)  # read once per call
    assert again is next(p for p in pods if p["metadata"]["name"] == fx.CRASHING_POD)
    requests = argocd_api.requests_since(before)
    assert {r.path for r in requests} == {f"/api/v1/applications/{fx.APP}", f"/api/v1/applications/{fx.APP}/resource",
                                          f"/api/v1/applications/{fx.APP}/resource-tree"}
    assert [r.path for r in requests].count(f"/api/v1/applications/{fx.APP}/resource-tree") == 1
    assert all(r.param("appNamespace") == fx.ARGOCD_NS for r in requests)
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in requests)
    assert not argocd_api.writes()


async def test_events_by_uid_and_logs_through_the_stream(source, argocd_api):
    bound = source.for_application(APP)
    pod = await bound.get("Pod", fx.APP_NS, fx.CRASHING_POD)
    before = argocd_api.request_count()
    events = await bound.events(fx.APP_NS, [pod])
    assert {e["reason"] for e in events} >= {"BackOff", "Unhealthy"} and all(e["kind"] == "Event" for e in events)
    (request,) = argocd_api.requests_since(before)
    assert (request.param("resourceUID"), request.param("resourceName")) == ("uid-pod-2", fx.CRASHING_POD)
    log = await bound.log(fx.APP_NS, fx.CRASHING_POD, "web", 3, previous=True)
    assert log.splitlines() == fx.PREVIOUS_LOG.splitlines()[-3:]
    stream = argocd_api.requests_since(before)[-1]
    assert stream.param("follow") == "false" and stream.param("tailLines") == "3" and stream.param("previous") == "true"
    with pytest.raises(InvalidArgument, match="previous terminated container"):
        await bound.log(fx.APP_NS, fx.HEALTHY_POD, "web", 10, previous=True)
    app_events = await bound.events(fx.ARGOCD_NS, [await bound.get_application(fx.ARGOCD_NS, fx.APP)])
    assert {e["reason"] for e in app_events} == {"OperationStarted", "OperationCompleted"}
    await source.ping()


async def test_objects_outside_the_tree_are_not_requested(source, argocd_api):
    bound = source.for_application(APP)
    await bound.tree()
    before = argocd_api.request_count()
    with pytest.raises(NotFound, match="not in the resource tree"):
        await bound.get("Pod", fx.OTHER_NS, fx.OTHER_POD)
    with pytest.raises(NotFound):
        await bound.get("Deployment", fx.APP_NS, "not-there")
    assert argocd_api.request_count() == before
    with pytest.raises(InvalidArgument):
        await bound.get_application(fx.ARGOCD_NS, fx.OTHER_APP)


# -- the same answers as the Kubernetes source -------------------------------------------------------------------------

CALLS = [
    ("argocd_application", {}),
    ("argocd_resource_manifest", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_resource_manifest", {"kind": "Pod", "name": fx.CRASHING_POD}),
    ("argocd_resource_manifest", {"kind": "Secret", "name": fx.SECRET}),
    ("argocd_resource_events", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_resource_events", {"kind": "CronJob", "name": fx.CRONJOB}),
    ("argocd_containers", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
    ("argocd_containers", {"kind": "CronJob", "name": fx.CRONJOB}),
    ("argocd_container_logs", {"kind": "Pod", "name": fx.CRASHING_POD, "previous": True}),
    ("argocd_container_logs", {"kind": "Deployment", "name": fx.DEPLOYMENT, "tail_lines": 40}),
    ("argocd_related_resources", {"kind": "Pod", "name": fx.CRASHING_POD}),
    ("argocd_related_resources", {"kind": "Service", "name": fx.SERVICE}),
    ("argocd_related_resources", {"kind": "Deployment", "name": fx.DEPLOYMENT}),
]


@pytest.mark.parametrize(("tool", "arguments"), CALLS, ids=[f"{t}-{a.get('kind', '')}" for t, a in CALLS])
async def test_every_tool_answers_as_with_the_kubernetes_source(services, tool, arguments):
    argo, kube = services
    through_argocd = await run_tool(argo, APP, tool, arguments)
    through_kubernetes = await run_tool(kube, APP, tool, arguments)
    assert through_argocd == through_kubernetes
    assert not [s for s in fx.PLANTED if s in json.dumps(through_argocd)]


@pytest.mark.parametrize(
    "ref",
    [
        ResourceRef(kind="Pod", name=fx.OTHER_POD, namespace=fx.OTHER_NS),
        ResourceRef(kind="Secret", name=fx.OTHER_SECRET, namespace=fx.OTHER_NS),
        ResourceRef(kind="Application", name=fx.OTHER_APP, namespace=fx.ARGOCD_NS),
    ],
)
async def test_other_applications_are_refused_before_any_read_of_them(services, argocd_api, ref):
    argo, _ = services
    before = argocd_api.request_count()
    with pytest.raises(OutOfScope, match="argocd:guestbook"):
        await argo.manifest(APP, ref)
    requests = argocd_api.requests_since(before)
    assert [r.path for r in requests] == [f"/api/v1/applications/{fx.APP}"]  # the caller's Application only
    assert not any(fx.OTHER_APP in r.url or fx.OTHER_NS in r.url for r in requests)


# -- errors, and the token never in them ---------------------------------------------------------------------------------

async def test_a_wrong_token_is_access_denied_without_the_token(argocd_api):
    source = ArgoCDSource(argocd_settings(argocd_api.url, token="wrong-token-value-123"))
    with pytest.raises(AccessDenied) as caught:
        await source.for_application(APP).get_application(fx.ARGOCD_NS, fx.APP)
    assert "401" in caught.value.message and "generate-token" in caught.value.hint
    assert "wrong-token-value-123" not in json.dumps(caught.value.to_dict())


async def test_rbac_refusals_name_the_policy_to_grant(argocd_api):
    limited = ContextService(ArgoCDSource(s := argocd_settings(argocd_api.url, token=LIMITED_TOKEN)), s)
    with pytest.raises(AccessDenied) as hidden:
        await limited.application(AppRef(namespace=fx.ARGOCD_NS, name=fx.OTHER_APP))
    assert "applications, get" in hidden.value.hint and "does" in hidden.value.hint
    with pytest.raises(AccessDenied) as logs:
        await limited.logs(APP, CRASHING)
    assert "logs, get" in logs.value.hint
    assert LIMITED_TOKEN not in hidden.value.message + hidden.value.hint + logs.value.message + logs.value.hint


async def test_unreachable_and_slow_servers_are_unavailable():
    with start_argocd_api() as stopped:
        url = stopped.url
    with pytest.raises(Unavailable, match="unreachable"):
        await ArgoCDSource(argocd_settings(url)).ping()
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        slow = ArgoCDSource(argocd_settings(f"http://127.0.0.1:{silent.getsockname()[1]}",
                                            request_timeout_seconds=0.3))
        with pytest.raises(Unavailable, match="timed out after 0.3s"):
            await slow.for_application(APP).tree()


async def test_tls_is_verified_unless_a_ca_or_insecure_is_configured():
    with start_argocd_api(tls=True) as api:
        with pytest.raises(Unavailable) as untrusted:
            await ArgoCDSource(argocd_settings(api.url)).ping()
        assert "ARGOCD_CA_FILE" in untrusted.value.hint
        await ArgoCDSource(argocd_settings(api.url, argocd={"ca_file": api.ca_file})).ping()
        await ArgoCDSource(argocd_settings(api.url, argocd={"insecure": True})).ping()


async def test_the_token_file_is_read_for_each_call(argocd_api, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("stale-token\n")
    source = ArgoCDSource(argocd_settings(argocd_api.url, token=None, argocd={"api_token_file": str(token_file)}))
    with pytest.raises(AccessDenied):
        await source.for_application(APP).tree()
    token_file.write_text(TOKEN + "\n")  # the mounted Secret was rotated
    assert await source.for_application(APP).tree()
    token_file.unlink()
    with pytest.raises(AccessDenied, match="cannot read the Argo CD API token file"):
        await source.for_application(APP).tree()


async def test_no_tool_result_or_error_carries_the_token(services, argocd_api):
    argo, _ = services
    outputs = []
    for name in TOOLS_BY_NAME:
        for arguments in ({}, {"kind": "Deployment", "name": fx.DEPLOYMENT}, {"kind": "Pod", "name": "gone"}):
            try:
                outputs.append(await run_tool(argo, APP, name, arguments))
            except Exception as error:  # noqa: BLE001 - errors are what the model would read
                outputs.append(error.to_dict() if hasattr(error, "to_dict") else str(error))
    assert TOKEN not in json.dumps(outputs)
    assert not argocd_api.writes()


def test_argocd_server_messages_are_scrubbed_of_the_token(source):
    body = json.dumps({"error": f"bad token {TOKEN}", "code": 16, "message": f"bad token {TOKEN}"}).encode()
    error = source.client._status_error(401, body, "x", TOKEN, logs=False)
    assert TOKEN not in error.message and "[REDACTED]" in error.message


def test_the_argocd_source_needs_an_address_and_a_token():
    with pytest.raises(ValidationError, match="server_url"):
        ContextSettings(source="argocd", argocd={"api_token": "t"})
    with pytest.raises(ValidationError, match="api_token"):
        ContextSettings(source="argocd", argocd={"server_url": "https://argocd.example.com"})
    with pytest.raises(ValidationError, match="https://"):
        ContextSettings(source="argocd", argocd={"server_url": "argocd.example.com", "api_token": "t"})
    settings = ContextSettings(source=" ArgoCD ", argocd={"server_url": "https://a.example/", "api_token": "t0k"})
    assert settings.source == "argocd" and settings.argocd.server_url == "https://a.example"
    assert "t0k" not in repr(settings) and "t0k" not in settings.model_dump_json()
    assert ContextSettings(source="", argocd={"api_token": ""}).source == "kubernetes"


async def test_concurrent_steps_of_one_call_share_reads(source, argocd_api):
    bound = source.for_application(APP)
    before = argocd_api.request_count()
    await asyncio.gather(*(bound.list("Pod", fx.APP_NS) for _ in range(4)))
    paths = [r.path for r in argocd_api.requests_since(before)]
    assert paths.count(f"/api/v1/applications/{fx.APP}/resource-tree") == 1
    assert paths.count(f"/api/v1/applications/{fx.APP}/resource") == 3
