"""Each `ContextService` read against the seeded Kubernetes stand-in over real HTTP, as the tools return it."""

from __future__ import annotations

import asyncio
import json

import pytest

from llama_stack_argocd.context.errors import InvalidArgument, NotFound
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.redaction import MASK, RedactionFilter, Redactor
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support import cluster as fx

APP = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
DEPLOYMENT = ResourceRef(kind="Deployment", name=fx.DEPLOYMENT)
CRASHING = ResourceRef(kind="Pod", name=fx.CRASHING_POD)
HEALTHY = ResourceRef(kind="Pod", name=fx.HEALTHY_POD)


@pytest.fixture
def settings(cluster):
    return ContextSettings(kubeconfig=cluster.kubeconfig_path, default_log_lines=100, max_log_lines=500)


@pytest.fixture
def service(settings):
    return ContextService(KubernetesSource(settings), settings)


def leaks(result) -> list[str]:
    text = json.dumps(result)
    return [secret for secret in fx.PLANTED if secret in text]


async def test_application_reports_sync_health_operation_and_resources(service):
    result = await service.application(APP)
    assert result["sync"] == {"status": "OutOfSync", "revision": fx.REVISION}
    assert result["health"] == {"status": "Degraded", "message": "Deployment guestbook-ui has 1 unavailable replica"}
    assert result["conditions"][0]["type"] == "SyncError"
    operation = result["operationState"]
    assert operation["phase"] == "Failed" and operation["message"] == "one or more objects failed to apply"
    assert operation["startedAt"] and operation["finishedAt"]
    # only what failed: the synced Deployment and the succeeded PreSync hook are not listed
    assert [(r["kind"], r["name"], r["status"]) for r in operation["failedResults"]] == [
        ("ConfigMap", fx.CONFIGMAP, "SyncFailed")]
    assert "Too long" in operation["failedResults"][0]["message"]
    resources = {(r["kind"], r["name"]): r for r in result["resources"]}
    assert resources["Deployment", fx.DEPLOYMENT]["health"]["status"] == "Degraded"
    assert resources["ConfigMap", fx.CONFIGMAP]["sync"] == "OutOfSync"
    assert resources["Secret", fx.SECRET]["namespace"] == fx.APP_NS  # defaulted from the destination


async def test_application_of_another_caller_is_that_application(service):
    result = await service.application(AppRef(namespace=fx.ARGOCD_NS, name=fx.OTHER_APP))
    assert result["application"] == "argocd:billing" and result["destination"]["namespace"] == fx.OTHER_NS


async def test_manifest_is_clean_and_redacted(service):
    result = await service.manifest(APP, DEPLOYMENT)
    manifest = result["manifest"]
    assert "managedFields" not in manifest["metadata"] and "uid" not in manifest["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in manifest["metadata"].get("annotations", {})
    env = {e["name"]: e for e in manifest["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == MASK and env["DB_HOST"]["value"] == "db"
    assert env["API_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == fx.SECRET
    assert manifest["status"]["unavailableReplicas"] == 1
    assert result["redacted_values"] == 1
    assert leaks(result) == []


async def test_secret_manifest_shows_keys_only_and_says_how_many_values_were_withheld(service):
    result = await service.manifest(APP, ResourceRef(kind="Secret", name=fx.SECRET))
    assert result["manifest"]["data"] == {"token": MASK}
    assert result["redacted_values"] == 1
    assert leaks(result) == []


async def test_events_of_a_deployment_cover_its_replicaset_and_pods_grouped_newest_first(service):
    result = await service.events(APP, DEPLOYMENT)
    events = result["events"]
    by_reason = {e["reason"]: e for e in events}
    assert by_reason["BackOff"]["count"] == 45 and by_reason["BackOff"]["type"] == "Warning"
    assert by_reason["BackOff"]["first_seen"] == "2026-11-25T06:02:00Z"
    assert by_reason["BackOff"]["last_seen"] == fx.LAST_BACKOFF
    assert by_reason["FailedScheduling"]["count"] == 2
    assert {"SuccessfulCreate", "ScalingReplicaSet", "Started", "Pulled", "Unhealthy"} <= set(by_reason)
    assert events[0]["reason"] == "BackOff"
    assert [e["last_seen"] for e in events] == sorted((e["last_seen"] for e in events), reverse=True)
    assert not any(fx.OTHER_POD in e["object"] or fx.CRONJOB in e["object"] for e in events)
    # the kubelet quoted a bearer token in a hook failure
    hook = by_reason["FailedPostStartHook"]["message"]
    assert fx.PLANTED_EVENT_TOKEN not in hook and "Bearer [REDACTED]" in hook
    assert result["redacted_values"] == 1 and leaks(result) == []


async def test_events_of_a_pod_are_only_its_own(service):
    result = await service.events(APP, HEALTHY)
    assert [(e["reason"], e["object"]) for e in result["events"]] == [("Started", f"Pod/{fx.HEALTHY_POD}")]


async def test_events_are_capped_to_the_newest(cluster):
    settings = ContextSettings(kubeconfig=cluster.kubeconfig_path, max_events=3)
    result = await ContextService(KubernetesSource(settings), settings).events(APP, DEPLOYMENT)
    assert [(e["reason"], e["count"]) for e in result["events"]] == [("BackOff", 45), ("Unhealthy", 15)]
    assert result["older_events_omitted"] == 7


async def test_containers_of_a_deployment_show_crashloop_restarts_and_last_exit(service):
    result = await service.containers(APP, DEPLOYMENT)
    pods = {p["pod"]: p for p in result["pods"]}
    assert set(pods) == {f"{fx.APP_NS}/{fx.HEALTHY_POD}", f"{fx.APP_NS}/{fx.CRASHING_POD}"}
    crashing = pods[f"{fx.APP_NS}/{fx.CRASHING_POD}"]["containers"][0]
    assert (crashing["name"], crashing["state"], crashing["reason"]) == ("web", "waiting", "CrashLoopBackOff")
    assert crashing["ready"] is False and crashing["restartCount"] == 7 and crashing["image"] == fx.IMAGE
    assert crashing["lastTermination"] == {"state": "terminated", "reason": "Error", "exitCode": 1,
                                           "finishedAt": "2026-11-25T06:40:00Z"}
    healthy = pods[f"{fx.APP_NS}/{fx.HEALTHY_POD}"]["containers"][0]
    assert (healthy["state"], healthy["ready"], healthy["restartCount"]) == ("running", True, 0)


async def test_containers_include_init_containers(service):
    result = await service.containers(APP, ResourceRef(kind="CronJob", name=fx.CRONJOB))
    (pod,) = result["pods"]
    assert pod["phase"] == "Succeeded"
    assert [c["name"] for c in pod["initContainers"]] == [fx.JOB_INIT_CONTAINER]
    assert [c["name"] for c in pod["containers"]] == list(fx.JOB_CONTAINERS)
    assert all(c["state"] == "terminated" and c["reason"] == "Completed" and c["exitCode"] == 0
               for c in pod["initContainers"] + pod["containers"])


async def test_containers_of_a_kind_without_pods_is_a_readable_refusal(service):
    with pytest.raises(InvalidArgument, match="runs no containers"):
        await service.containers(APP, ResourceRef(kind="Service", name=fx.SERVICE))


async def test_previous_log_of_the_crashed_container_keeps_the_crash_and_hides_credentials(service):
    result = await service.logs(APP, CRASHING, previous=True)
    (entry,) = result["logs"]
    assert (entry["pod"], entry["container"], entry["previous"]) == (fx.CRASHING_POD, "web", True)
    log = entry["log"]
    assert fx.CRASH_LINE in log and "ConnectionRefusedError: [Errno 111]" in log
    assert "[x40]" in log  # the repeated health check collapsed with its count
    assert "Authorization: Bearer [REDACTED]" in log and "postgres://app:[REDACTED]@db:5432/app" in log
    assert result["redacted_values"] == 2 and leaks(result) == []


async def test_current_log_is_the_running_instance(service):
    (entry,) = (await service.logs(APP, CRASHING))["logs"]
    assert entry["previous"] is False and "guestbook-ui 1.4.2 starting" in entry["log"]
    assert "Traceback" not in entry["log"]


async def test_tail_lines_bound_what_is_read(service):
    (entry,) = (await service.logs(APP, HEALTHY, tail_lines=5))["logs"]
    assert entry["lines_read"] == 5
    assert "06:49:59Z" in entry["log"] and "06:49:54Z" not in entry["log"]  # the last five of 600 lines


async def test_asking_for_more_than_the_maximum_reads_the_maximum(cluster):
    settings = ContextSettings(kubeconfig=cluster.kubeconfig_path, max_log_lines=50)
    service = ContextService(KubernetesSource(settings), settings)
    result = await service.logs(APP, HEALTHY, tail_lines=5000)
    assert result["max_lines"] == 50 and result["logs"][0]["lines_read"] == 50
    assert "tailLines=50" in " ".join(cluster.paths_since(cluster.request_count() - 1))


async def test_workload_logs_share_the_line_budget_between_pods(service):
    result = await service.logs(APP, DEPLOYMENT, tail_lines=10)
    assert {e["pod"] for e in result["logs"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    assert sum(e["lines_read"] for e in result["logs"]) <= 10


async def test_previous_logs_of_a_workload_report_pods_that_never_restarted(service):
    result = await service.logs(APP, DEPLOYMENT, previous=True)
    by_pod = {e["pod"]: e for e in result["logs"]}
    assert fx.CRASH_LINE in by_pod[fx.CRASHING_POD]["log"] or "Traceback" in by_pod[fx.CRASHING_POD]["log"]
    assert by_pod[fx.HEALTHY_POD]["error"] == "invalid_argument"
    assert "previous terminated container" in by_pod[fx.HEALTHY_POD]["message"]


async def test_previous_log_of_a_pod_that_never_restarted_is_an_error(service):
    with pytest.raises(InvalidArgument, match="previous terminated container"):
        await service.logs(APP, HEALTHY, previous=True)


async def test_a_pod_with_several_containers_needs_one_named_and_says_which_exist(service):
    job_pod = ResourceRef(kind="Pod", name=fx.JOB_POD)
    with pytest.raises(InvalidArgument) as unnamed:
        await service.logs(APP, job_pod)
    assert "cleanup, istio-proxy" in unnamed.value.message and fx.JOB_INIT_CONTAINER in unnamed.value.hint
    with pytest.raises(InvalidArgument, match="no container 'sidecar'"):
        await service.logs(APP, job_pod, container="sidecar")
    (entry,) = (await service.logs(APP, job_pod, container="cleanup"))["logs"]
    assert "removed 12 expired entries" in entry["log"]


async def test_related_of_a_pod_goes_up_the_owner_chain_and_to_its_service(service):
    result = await service.related(APP, CRASHING)
    assert result["owners"] == [f"ReplicaSet/{fx.REPLICASET}", f"Deployment/{fx.DEPLOYMENT}"]
    assert result["children"] == [] and result["selectedBy"] == [f"Service/{fx.SERVICE}"]


async def test_related_of_a_pod_shows_the_network_policies_that_select_it_with_their_rules(service):
    result = await service.related(APP, CRASHING)
    [policy] = result["networkPolicies"]  # the one selecting app=guestbook-ui, not the one for app=batch
    assert policy["name"] == fx.NETWORK_POLICY and policy["policyTypes"] == ["Egress"]
    assert {"protocol": "TCP", "port": 6379} in policy["egress"][0]["ports"]


async def test_related_of_a_deployment_goes_down_to_replicasets_and_pods(service):
    result = await service.related(APP, DEPLOYMENT)
    assert result["owners"] == []
    children = {(c["kind"], c["name"]): c for c in result["children"]}
    assert set(children) == {("ReplicaSet", fx.REPLICASET), ("Pod", fx.HEALTHY_POD), ("Pod", fx.CRASHING_POD)}
    assert children["Pod", fx.CRASHING_POD]["restarts"] == 7 and children["Pod", fx.CRASHING_POD]["ready"] is False
    assert children["ReplicaSet", fx.REPLICASET]["ready"] == 1


async def test_related_of_a_service_shows_endpoints_and_selected_pods(service):
    result = await service.related(APP, ResourceRef(kind="Service", name=fx.SERVICE))
    assert result["selector"] == {"app": "guestbook-ui"}
    assert {p["name"] for p in result["selectedPods"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    assert "selectedPodsOutsideApplication" not in result
    (subset,) = result["endpoints"]
    assert subset["notReadyAddresses"][0]["targetRef"]["name"] == fx.CRASHING_POD


async def test_related_of_a_cronjob_goes_down_to_jobs_and_their_pods(service):
    result = await service.related(APP, ResourceRef(kind="CronJob", name=fx.CRONJOB))
    assert [(c["kind"], c["name"]) for c in result["children"]] == [("Job", fx.JOB), ("Pod", fx.JOB_POD)]
    assert result["children"][0]["succeeded"] == 1


async def test_missing_resource_is_not_found(service):
    with pytest.raises(NotFound, match="ConfigMap guestbook/nope does not exist"):
        await service.manifest(APP, ResourceRef(kind="ConfigMap", name="nope"))


async def test_a_custom_redactor_factory_is_used_for_every_answer(settings):
    service = ContextService(KubernetesSource(settings), settings,
                             lambda: Redactor([RedactionFilter(pattern=r"guestbook-config", replacement="<cm>")]))
    result = await service.application(APP)
    assert "guestbook-config" not in json.dumps(result) and "<cm>" in json.dumps(result)
    assert result["redacted_values"] >= 2


async def test_the_application_is_read_again_once_the_read_cache_expired(cluster, settings):
    """A sync may have changed the resources: the Application is kept `read_cache_seconds` at most (0: never)."""
    for seconds, reads in ((0, 2), (0.2, 2), (60, 1)):
        service = ContextService(KubernetesSource(s := settings.model_copy(update={"read_cache_seconds": seconds})), s)
        before = cluster.request_count()
        await service.application(APP)
        if seconds == 0.2:
            await asyncio.sleep(0.3)
        await service.application(APP)
        app_reads = [u for u in cluster.paths_since(before) if "/applications/guestbook" in u]
        assert len(app_reads) == reads, seconds
