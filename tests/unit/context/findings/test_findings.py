"""Each analyzer turns realistic Kubernetes / Argo CD objects into the finding a person would name, with evidence."""

from __future__ import annotations

import json
import random

import pytest

from llama_stack_argocd.context.findings import CODE_ORDER, Finding, Severity, analyze, registered, render_findings

NS = "shop"


def pod(name="web-5c7f9d6b8-h2lq9", containers=None, statuses=None, init_statuses=None, phase="Running", **extra):
    spec = {"containers": containers or [{"name": "web", "image": "ghcr.io/acme/web:1.0.0"}]}
    spec.update(extra.pop("spec", {}))
    status = {"phase": phase, "containerStatuses": statuses or []}
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status.update(extra.pop("status", {}))
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "labels": extra.pop("labels", {"app": "web"})},
            "spec": spec, "status": status}


def event(kind, name, reason, message, type_="Warning", count=1):
    return {"kind": "Event", "type": type_, "reason": reason, "message": message, "count": count,
            "involvedObject": {"kind": kind, "name": name, "namespace": NS},
            "lastTimestamp": "2024-11-05T09:30:00Z"}


def codes(findings):
    return [f.code for f in findings]


def only(findings, code) -> Finding:
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, render_findings(findings)
    return matching[0]


def has(f: Finding, text: str) -> bool:
    return text in f.detail or any(text in e for e in f.evidence) or text in f.title


# -- pods: container states ---------------------------------------------------------------------------------------


def test_crashloopbackoff_names_the_last_exit():
    p = pod(statuses=[{"name": "web", "restartCount": 12, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                       "lastState": {"terminated": {"exitCode": 1, "reason": "Error",
                                                    "finishedAt": "2024-11-05T09:37:01Z",
                                                    "message": "config file /etc/web/app.yaml: permission denied"}}}])
    f = only(analyze([p]), "CrashLoopBackOff")
    assert f.severity is Severity.CRITICAL
    assert f.resource == f"Pod {NS}/web-5c7f9d6b8-h2lq9"
    assert has(f, "exit code 1") and has(f, "restarted 12 times") and has(f, "permission denied")


def test_oomkilled_is_compared_with_the_memory_limit_and_heap_flags():
    p = pod(containers=[{"name": "api", "image": "api:1", "args": ["-Xmx1g"],
                         "resources": {"limits": {"memory": "512Mi"}, "requests": {"memory": "256Mi"}}}],
            statuses=[{"name": "api", "restartCount": 3, "state": {"running": {}},
                       "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}])
    f = only(analyze([p]), "OOMKilled")
    assert has(f, "limits.memory: 512Mi") and has(f, "-Xmx1g") and has(f, "exit code 137")
    assert "request 256Mi" in f.detail


def test_oomkilled_without_a_limit_says_so():
    p = pod(statuses=[{"name": "web", "state": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}])
    assert "no memory limit" in only(analyze([p]), "OOMKilled").detail


@pytest.mark.parametrize(("message", "cause"), [
    ('failed to pull and unpack image "ghcr.io/acme/web:9.9.9": ghcr.io/acme/web:9.9.9: not found', "does not exist"),
    ("failed to resolve reference: unexpected status from HEAD request: 401 Unauthorized", "imagePullSecrets"),
    ("dial tcp: lookup registry.acme.internal on 10.96.0.10:53: no such host", "cannot be reached"),
])
def test_image_pull_errors_name_image_and_reason(message, cause):
    p = pod(statuses=[{"name": "web", "image": "ghcr.io/acme/web:9.9.9",
                       "state": {"waiting": {"reason": "ErrImagePull", "message": message}}}])
    f = only(analyze([p]), "ImagePullBackOff")
    assert has(f, "ghcr.io/acme/web:9.9.9") and cause in f.detail


def test_image_pull_from_events_when_only_the_events_are_known():
    ev = event("Pod", "web-5c7f9d6b8-zzzzz", "Failed",
               'Failed to pull image "ghcr.io/acme/web:v2": rpc error: code = NotFound desc = not found')
    f = only(analyze([ev]), "ImagePullBackOff")
    assert has(f, "ghcr.io/acme/web:v2") and f.resource == f"Pod {NS}/web-5c7f9d6b8-zzzzz"


@pytest.mark.parametrize(("message", "code"), [
    ('secret "db-credentials" not found', "MissingSecret"),
    ('configmap "web-config" not found', "MissingConfigMap"),
    ("couldn't find key LOG_LEVEL in ConfigMap shop/app-settings", "MissingConfigKey"),
])
def test_create_container_config_error_names_the_missing_reference(message, code):
    p = pod(statuses=[{"name": "web", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                            "message": message}}}])
    f = only(analyze([p]), code)
    assert f.severity is Severity.CRITICAL and has(f, message.split(" not found")[0].split(" in ")[0])


def test_missing_key_lists_the_keys_the_configmap_has():
    p = pod(statuses=[{"name": "web", "state": {"waiting": {
        "reason": "CreateContainerConfigError", "message": "couldn't find key LOG_LEVEL in ConfigMap shop/settings"}}}])
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings", "namespace": NS},
          "data": {"log_level": "info", "flags": "a,b"}}
    assert has(only(analyze([p, cm]), "MissingConfigKey"), "has keys: flags, log_level")


def test_run_container_error():
    msg = 'exec: "/app/start.sh": stat /app/start.sh: no such file or directory: unknown'
    p = pod(statuses=[{"name": "web", "state": {"waiting": {"reason": "RunContainerError", "message": msg}}}])
    assert has(only(analyze([p]), "ContainerCannotRun"), "/app/start.sh")


def test_terminated_container_of_a_job_pod():
    p = pod(statuses=[{"name": "web", "state": {"terminated": {"exitCode": 127, "reason": "Error"}}}],
            phase="Failed", spec={"restartPolicy": "Never"})
    f = only(analyze([p]), "ContainerFailed")
    assert has(f, "exit code 127") and "not found in the image" in f.detail


def test_init_container_crashloop():
    p = pod(phase="Pending", init_statuses=[{"name": "wait-for-db", "restartCount": 5,
                                             "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                                             "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}])
    f = only(analyze([p]), "InitContainerFailing")
    assert 'init container "wait-for-db"' in f.title


# -- pods: events, scheduling, eviction ----------------------------------------------------------------------------


def test_liveness_and_readiness_probes_from_events_with_the_probe_spec():
    p = pod(containers=[{"name": "web", "image": "w", "livenessProbe": {
        "httpGet": {"path": "/healthz", "port": 8080}, "initialDelaySeconds": 5, "failureThreshold": 3}}])
    evs = [event("Pod", p["metadata"]["name"], "Unhealthy",
                 "Liveness probe failed: HTTP probe failed with statuscode: 503", count=40),
           event("Pod", p["metadata"]["name"], "Unhealthy",
                 'Readiness probe failed: Get "http://10.244.0.5:8080/ready": context deadline exceeded', count=9)]
    found = analyze([p, *evs])
    live = only(found, "LivenessProbeFailing")
    assert has(live, "statuscode: 503") and has(live, "httpGet /healthz port 8080") and "40 times" in live.detail
    assert has(live, "initialDelaySeconds: 5")
    ready = only(found, "ReadinessProbeFailing")
    assert ready.severity is Severity.WARNING and has(ready, "context deadline exceeded")


def test_failed_mount_of_a_missing_configmap():
    ev = event("Pod", "web-1", "FailedMount",
               'MountVolume.SetUp failed for volume "config" : configmap "storefront-config" not found', count=23)
    assert has(only(analyze([pod("web-1"), ev]), "MissingConfigMap"), 'configmap "storefront-config" not found')


def test_other_mount_failures_and_sandbox_errors():
    evs = [event("Pod", "web-1", "FailedAttachVolume", "AttachVolume.Attach failed for volume \"pvc-1\": timed out"),
           event("Pod", "web-1", "FailedCreatePodSandBox",
                 "Failed to create pod sandbox: plugin type=\"calico\" failed (add): connection is unauthorized")]
    found = analyze([pod("web-1"), *evs])
    assert {"VolumeMountFailed", "SandboxFailed"} <= set(codes(found))


def test_backoff_event_of_an_unknown_pod_is_a_crashloop():
    ev = event("Pod", "api-1", "BackOff", "Back-off restarting failed container api in pod api-1_shop(uid)", count=9)
    assert only(analyze([ev]), "CrashLoopBackOff").resource == f"Pod {NS}/api-1"


def test_unschedulable_with_the_schedulers_reason_and_requests():
    msg = "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available."
    p = pod(phase="Pending", containers=[{"name": "es", "image": "es", "resources": {"requests": {"memory": "16Gi"}}}],
            status={"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                    "message": msg}]})
    f = only(analyze([p]), "Unschedulable")
    assert has(f, "Insufficient memory") and has(f, "memory=16Gi")


def test_unbound_pvc_while_scheduling():
    p = pod(phase="Pending", spec={"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-0"}}]})
    ev = event("Pod", p["metadata"]["name"], "FailedScheduling",
               "0/3 nodes are available: pod has unbound immediate PersistentVolumeClaims.")
    found = analyze([p, ev])
    assert has(only(found, "PVCPending"), "data-0")
    assert "Unschedulable" in codes(found)


def test_eviction():
    p = pod(phase="Failed", status={"reason": "Evicted",
                                    "message": "The node was low on resource: ephemeral-storage."})
    assert has(only(analyze([p]), "Evicted"), "ephemeral-storage")


def test_a_healthy_pod_has_no_findings():
    p = pod(statuses=[{"name": "web", "ready": True, "restartCount": 0, "state": {"running": {}}}])
    normal = event("Pod", p["metadata"]["name"], "Started", "Started container web", type_="Normal")
    assert analyze([p, normal]) == []


# -- references --------------------------------------------------------------------------------------------------


def deployment_with_refs():
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": NS},
            "spec": {"replicas": 1, "template": {"spec": {
                "containers": [{"name": "web", "image": "w",
                                "envFrom": [{"secretRef": {"name": "web-secrets"}}],
                                "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "x",
                                                                                         "optional": True}}}]}],
                "volumes": [{"name": "cfg", "configMap": {"name": "web-config"}}]}}},
            "status": {"replicas": 1, "availableReplicas": 1, "readyReplicas": 1}}


def test_missing_references_are_found_against_an_inventory():
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "other", "namespace": NS}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secrets", "namespace": NS}}
    found = analyze([deployment_with_refs(), cm, secret])
    f = only(found, "MissingConfigMap")
    assert 'ConfigMap "web-config"' in f.title and has(f, 'volume "cfg"')
    assert "MissingSecret" not in codes(found)  # it exists
    assert not any("flags" in x.title for x in found)  # optional


def test_no_inventory_no_guess():
    assert "MissingConfigMap" not in codes(analyze([deployment_with_refs()]))


# -- services and ingresses -------------------------------------------------------------------------------------------


def service(selector, target=8080):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "checkout", "namespace": NS},
            "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": target}]}}


def test_service_selector_matching_no_pods():
    pods = [pod("checkout-v2-1", labels={"app": "checkout-v2"}), pod("other", labels={"app": "web"})]
    f = only(analyze([service({"app": "checkout"}), *pods]), "ServiceNoMatchingPods")
    assert has(f, "selector: app=checkout") and has(f, "app=checkout-v2")


def test_service_without_ready_endpoints():
    ep = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "checkout", "namespace": NS},
          "subsets": [{"notReadyAddresses": [{"ip": "10.244.0.9"}], "ports": [{"port": 8080}]}]}
    f = only(analyze([service({"app": "checkout"}), ep]), "ServiceNoEndpoints")
    assert "readiness" in f.detail


def test_service_target_port_not_exposed():
    p = pod("checkout-1", labels={"app": "checkout"},
            containers=[{"name": "c", "image": "c", "ports": [{"containerPort": 3000, "name": "http"}]}])
    f = only(analyze([service({"app": "checkout"}, 8080), p]), "ServiceTargetPortMismatch")
    assert has(f, "targetPort: 8080") and has(f, "containerPort: 3000")
    assert analyze([service({"app": "checkout"}, "http"), p]) == []


def test_ingress_backend_missing():
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop", "namespace": NS},
           "spec": {"rules": [{"http": {"paths": [{"path": "/api", "backend": {"service": {"name": "api-svc"}}}]}}]}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": NS}, "spec": {}}
    assert has(only(analyze([ing, svc]), "IngressBackendMissing"), "api-svc")


# -- workloads ----------------------------------------------------------------------------------------------------


def test_deployment_rollout_stuck_and_unavailable():
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "api", "namespace": NS},
         "spec": {"replicas": 3},
         "status": {"replicas": 4, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2, "conditions": [
             {"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable",
              "message": "Deployment does not have minimum availability."},
             {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded",
              "message": 'ReplicaSet "api-6f7d8c9b5" has timed out progressing.'}]}}
    found = analyze([d])
    stuck = only(found, "RolloutStuck")
    assert has(stuck, "ProgressDeadlineExceeded") and has(stuck, "has timed out progressing")
    assert has(only(found, "DeploymentUnavailable"), "2/3 available")


def test_replica_failure_from_quota():
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "worker-7d8", "namespace": NS},
          "status": {"conditions": [{"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                                     "message": 'pods "worker-7d8-" is forbidden: exceeded quota: compute, '
                                                "requested: limits.memory=2Gi, used: limits.memory=8Gi, "
                                                "limited: limits.memory=8Gi"}]}}
    assert has(only(analyze([rs]), "QuotaExceeded"), "exceeded quota: compute")


def test_statefulset_and_daemonset_unavailable():
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "pg", "namespace": NS},
           "spec": {"replicas": 3},
           "status": {"readyReplicas": 2, "currentRevision": "pg-1", "updateRevision": "pg-2"}}
    ds = {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": NS},
          "status": {"desiredNumberScheduled": 5, "numberUnavailable": 2}}
    found = analyze([sts, ds])
    assert has(only(found, "StatefulSetUnavailable"), "readyReplicas: 2/3")
    assert has(only(found, "DaemonSetUnavailable"), "numberUnavailable: 2")


# -- jobs and HPAs --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("reason", "message"), [
    ("BackoffLimitExceeded", "Job has reached the specified backoff limit"),
    ("DeadlineExceeded", "Job was active longer than specified deadline"),
])
def test_failed_jobs(reason, message):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "report", "namespace": NS},
           "spec": {"backoffLimit": 6, "activeDeadlineSeconds": 600}, "status": {"failed": 7, "conditions": [
               {"type": "Failed", "status": "True", "reason": reason, "message": message}]}}
    f = only(analyze([job]), "JobFailed")
    assert f.severity is Severity.CRITICAL and has(f, reason) and has(f, message)


def test_hpa_without_metrics_and_at_max():
    hpa = {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
           "metadata": {"name": "web", "namespace": NS},
           "spec": {"maxReplicas": 6, "scaleTargetRef": {"kind": "Deployment", "name": "web"}},
           "status": {"conditions": [
               {"type": "AbleToScale", "status": "False", "reason": "FailedGetScale",
                "message": 'deployments/scale.apps "web" not found'},
               {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
                "message": "failed to get cpu utilization: missing request for cpu in container web"},
               {"type": "ScalingLimited", "status": "True", "reason": "TooManyReplicas",
                "message": "the desired replica count is more than the maximum replica count"}]}}
    found = analyze([hpa])
    assert has(only(found, "HPAMetricsUnavailable"), "missing request for cpu")
    assert "resource request" in only(found, "HPAMetricsUnavailable").detail
    assert has(only(found, "HPAUnableToScale"), "FailedGetScale")
    assert has(only(found, "HPAAtMaxReplicas"), "maxReplicas: 6")


# -- Argo CD ---------------------------------------------------------------------------------------------------------


def application(status, sync_policy=None):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
            "metadata": {"name": "shop", "namespace": "argocd"},
            "spec": {"syncPolicy": sync_policy or {}}, "status": status}


def test_application_out_of_sync_lists_the_drift():
    app = application({"sync": {"status": "OutOfSync", "revision": "abc123"}, "health": {"status": "Healthy"},
                       "resources": [{"kind": "ConfigMap", "namespace": NS, "name": "old-flags",
                                      "status": "OutOfSync", "requiresPruning": True},
                                     {"kind": "Service", "namespace": NS, "name": "web", "status": "Synced"}]},
                      {"automated": {"prune": False}})
    f = only(analyze([app]), "OutOfSync")
    assert has(f, "ConfigMap shop/old-flags") and has(f, "requiresPruning") and "web" not in f.detail.split(":")[-1]


def test_application_degraded_and_missing():
    degraded = application({"health": {"status": "Degraded"}, "sync": {"status": "Synced"}, "resources": [
        {"kind": "Deployment", "namespace": NS, "name": "api", "status": "Synced",
         "health": {"status": "Degraded", "message": 'Deployment "api" exceeded its progress deadline'}}]})
    assert has(only(analyze([degraded]), "ApplicationDegraded"), "exceeded its progress deadline")
    missing = application({"health": {"status": "Missing"}, "sync": {"status": "OutOfSync"}})
    assert only(analyze([missing]), "ApplicationMissing").severity is Severity.ERROR


def test_sync_failed_with_the_operations_message_and_hook_failure():
    app = application({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}, "operationState": {
        "phase": "Failed", "message": "one or more objects failed to apply, reason: field is immutable",
        "syncResult": {"revision": "abc", "resources": [
            {"kind": "Job", "namespace": NS, "name": "db-seed", "status": "SyncFailed",
             "message": "Job.batch \"db-seed\" is invalid: spec.template: field is immutable"},
            {"kind": "Job", "namespace": NS, "name": "db-migrate", "hookType": "PreSync", "hookPhase": "Failed",
             "message": "Job has reached the specified backoff limit"}]}}})
    found = analyze([app])
    sync = only(found, "SyncFailed")
    assert has(sync, "field is immutable") and "Job shop/db-seed" in sync.detail
    hook = only(found, "HookFailed")
    assert has(hook, "PreSync hook") and has(hook, "Job/db-migrate")


def test_comparison_error_and_other_conditions():
    app = application({"sync": {"status": "Unknown"}, "conditions": [
        {"type": "ComparisonError", "message": "kustomize build failed: accumulating resources"},
        {"type": "SharedResourceWarning", "message": "ConfigMap/x is part of applications a and b"}]})
    found = analyze([app])
    assert only(found, "ComparisonError").severity is Severity.CRITICAL
    assert only(found, "WarningEvent").title == "SharedResourceWarning"


def test_sync_still_waiting_for_a_hook():
    app = application({"operationState": {"phase": "Running",
                                          "message": "waiting for completion of hook batch/Job/db-migrate"}})
    assert has(only(analyze([app]), "SyncRunning"), "db-migrate")


def test_argo_rollout_degraded():
    ro = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "metadata": {"name": "api", "namespace": NS},
          "status": {"phase": "Degraded", "message": "RolloutAborted: Rollout aborted update to revision 7"}}
    assert has(only(analyze([ro]), "RolloutStuck"), "RolloutAborted")


# -- storage and other events -----------------------------------------------------------------------------------------


def test_pvc_pending_with_the_provisioning_error():
    pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data-0", "namespace": NS},
           "spec": {"storageClassName": "fast-ssd"}, "status": {"phase": "Pending"}}
    ev = event("PersistentVolumeClaim", "data-0", "ProvisioningFailed",
               'storageclass.storage.k8s.io "fast-ssd" not found')
    f = only(analyze([pvc, ev]), "PVCPending")
    assert has(f, '"fast-ssd" not found') and has(f, "storageClassName: fast-ssd")


def test_unexplained_warning_events_are_kept_short():
    ev = event("Deployment", "web", "FailedDelete", "unable to delete pods: admission webhook denied", count=3)
    f = only(analyze([ev]), "WarningEvent")
    assert "FailedDelete" in f.title and "(x3)" in f.title


# -- the registry -------------------------------------------------------------------------------------------------


def test_every_family_is_registered():
    kinds = registered()
    for kind in ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob", "Service",
                 "Ingress", "HorizontalPodAutoscaler", "PersistentVolumeClaim", "Application", "Rollout"):
        assert kind in kinds


def test_order_is_deterministic_and_severity_first():
    objects = [
        application({"sync": {"status": "OutOfSync"}, "health": {"status": "Healthy"}}),
        pod(statuses=[{"name": "web", "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                             "message": 'secret "s" not found'}}}]),
        event("Pod", "x-1", "BackOff", "Back-off restarting failed container x in pod x-1"),
        event("Deployment", "web", "FailedDelete", "denied"),
    ]
    first = analyze(objects)
    for seed in range(5):
        shuffled = objects[:]
        random.Random(seed).shuffle(shuffled)
        assert analyze(shuffled) == first
    ranks = [f.severity.rank for f in first]
    assert ranks == sorted(ranks)
    assert codes(first)[:2] == ["MissingSecret", "CrashLoopBackOff"]  # cause before symptom
    assert set(codes(first)) <= set(CODE_ORDER)


def test_inputs_may_be_lists_eventlists_and_json_strings():
    ev = event("Pod", "x-1", "BackOff", "Back-off restarting failed container x in pod x-1")
    as_list = {"apiVersion": "v1", "kind": "EventList", "metadata": {"resourceVersion": "1"}, "items": [ev]}
    extension = json.dumps({"apiVersion": "v1", "items": [ev]})
    assert codes(analyze([as_list])) == codes(analyze([extension])) == codes(analyze([[ev]])) == ["CrashLoopBackOff"]
    assert analyze([None, "not json", 42]) == []


def test_duplicates_from_two_analyzers_merge_their_evidence():
    p = pod("web-1", statuses=[{"name": "web", "image": "w:2", "state": {"waiting": {
        "reason": "ImagePullBackOff", "message": 'Back-off pulling image "w:2"'}}}])
    ev = event("Pod", "web-1", "Failed", 'Failed to pull image "w:2": rpc error: not found')
    found = analyze([p, ev])
    assert codes(found).count("ImagePullBackOff") == 1


def test_render_is_short_and_quotes_evidence():
    p = pod(statuses=[{"name": "web", "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                       "lastState": {"terminated": {"exitCode": 2, "reason": "Error"}}}])
    text = render_findings(analyze([p]))
    assert text.startswith("- [critical] container \"web\" in CrashLoopBackOff (Pod shop/")
    assert "evidence: CrashLoopBackOff | restartCount: 2 | exit code 2" in text


# -- causes the suite had no analyzer for ------------------------------------------------------------------------------


def netpol(name, selector, types, **rules):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": NS},
            "spec": {"podSelector": {"matchLabels": selector}, "policyTypes": types, **rules}}


def svc(name, ports, selector=None, type_="ClusterIP", ip="10.96.8.20", status=None):
    out = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
           "spec": {"type": type_, "clusterIP": ip, "selector": selector or {"app": name}, "ports": ports}}
    if status is not None:
        out["status"] = status
    return out


@pytest.mark.parametrize("line", [
    '{"level":"error","msg":"call failed","error":"dial tcp: lookup payments on 10.96.0.10:53: no such host"}',
    "Error: getaddrinfo ENOTFOUND redis-master",
    "java.net.UnknownHostException: kafka-2.kafka-headless",
    "socket.gaierror: [Errno -3] Temporary failure in name resolution",
    "curl: (6) Could not resolve host: api.example.com",
])
def test_dns_failures_in_logs_of_a_ready_pod(line):
    ready = pod(statuses=[{"name": "web", "ready": True, "restartCount": 0, "state": {"running": {}}}])
    f = only(analyze([ready], [("web-5c7f9d6b8-h2lq9", f"2024-11-05 09:00:00 {line}")]), "DNSResolutionFailed")
    assert f.resource == f"Pod {NS}/web-5c7f9d6b8-h2lq9" and any(line[-30:] in e for e in f.evidence)
    assert "DNSResolutionFailed" not in codes(analyze([ready], [("", "GET /healthz 200")]))


def test_a_network_policy_without_the_egress_port_blocks_the_calls_the_logs_time_out():
    logs = [("", '{"level":"fatal","msg":"cannot open database","error":"dial tcp 10.96.8.20:5432: i/o timeout"}')]
    dns_only = netpol("egress", {"app": "web"}, ["Egress"], egress=[{"ports": [{"protocol": "UDP", "port": 53}]}])
    f = only(analyze([pod(), dns_only, svc("db", [{"port": 5432}])], logs), "NetworkPolicyBlocking")
    assert "10.96.8.20:5432: i/o timeout" in " ".join(f.evidence) and "NetworkPolicy egress" in " ".join(f.evidence)
    allowed = netpol("egress", {"app": "web"}, ["Egress"], egress=[{"ports": [{"protocol": "TCP", "port": 5432}]}])
    assert "NetworkPolicyBlocking" not in codes(analyze([pod(), allowed, svc("db", [{"port": 5432}])], logs))
    other_pods = netpol("egress", {"app": "batch"}, ["Egress"], egress=[])
    assert "NetworkPolicyBlocking" not in codes(analyze([pod(), other_pods], logs))


def test_an_ingress_policy_of_the_target_that_does_not_admit_the_caller():
    api = pod("api-1", labels={"app": "api"})
    only_gateway = netpol("api-in", {"app": "api"}, ["Ingress"], ingress=[
        {"from": [{"podSelector": {"matchLabels": {"app": "gateway"}}}], "ports": [{"port": 8080}]}])
    target = svc("api", [{"port": 80, "targetPort": 8080}], ip="10.96.40.11")
    logs = [("web-5c7f9d6b8-h2lq9", "GET /api failed: connect ETIMEDOUT 10.96.40.11:80")]
    f = only(analyze([pod(), api, target, only_gateway], logs), "NetworkPolicyBlocking")
    assert f.resource == f"Pod {NS}/api-1"


def test_a_load_balancer_without_an_address_and_the_application_it_holds_progressing():
    pending = svc("public", [{"port": 443}], type_="LoadBalancer", status={"loadBalancer": {}})
    app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application",
           "metadata": {"name": "shop", "namespace": "argocd"},
           "status": {"health": {"status": "Progressing"}, "sync": {"status": "Synced"}, "resources": [
               {"kind": "Service", "namespace": NS, "name": "public", "health": {"status": "Progressing"}}]}}
    found = analyze([app, pending])
    assert "<pending>" in " ".join(only(found, "LoadBalancerPending").evidence)
    assert "LoadBalancer without an external address" in only(found, "ApplicationProgressing").detail
    served = svc("public", [{"port": 443}], type_="LoadBalancer",
                 status={"loadBalancer": {"ingress": [{"ip": "1.2.3.4"}]}})
    assert "LoadBalancerPending" not in codes(analyze([served]))


@pytest.mark.parametrize(("port", "ok"), [({"number": 8080}, False), ({"name": "https"}, False), ({"number": 80}, True),
                                          ({"name": "http"}, True)])
def test_an_ingress_backend_port_the_service_does_not_have(port, ok):
    ing = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop", "namespace": NS},
           "spec": {"rules": [{"http": {"paths": [
               {"path": "/", "backend": {"service": {"name": "web", "port": port}}}]}}]}}
    found = codes(analyze([ing, svc("web", [{"name": "http", "port": 80, "targetPort": 8080}])]))
    assert ("IngressBackendPortMismatch" in found) is not ok


def test_pods_refused_by_a_limit_range_are_not_a_quota():
    msg = 'Error creating: pods "r-1" is forbidden: maximum memory usage per Container is 1Gi, but limit is 2Gi'
    lr = {"apiVersion": "v1", "kind": "LimitRange", "metadata": {"name": "limits", "namespace": NS},
          "spec": {"limits": [{"type": "Container", "max": {"memory": "1Gi"}}]}}
    f = only(analyze([event("ReplicaSet", "r", "FailedCreate", msg), lr]), "LimitRangeExceeded")
    assert "LimitRange limits Container: max memory=1Gi" in f.evidence
    quota = 'Error creating: pods "r-1" is forbidden: exceeded quota: compute, requested: limits.memory=2Gi'
    assert codes(analyze([event("ReplicaSet", "r", "FailedCreate", quota)])) == ["QuotaExceeded"]
    job_msg = 'Error creating: pods "j-1" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'
    assert "LimitRangeExceeded" in codes(analyze([event("Job", "j", "FailedCreate", job_msg)]))


def test_a_long_message_keeps_its_innermost_cause():
    from llama_stack_argocd.context.findings.base import clip

    msg = "rpc error: code = Unknown desc = `helm template . " + "--api-versions x/v1 " * 300 + "` failed exit " \
          "status 1: Error: template: shop/templates/deployment.yaml:42:28: nil pointer evaluating .repository"
    out = clip(msg, 300)
    assert len(out) <= 300 and out.startswith("rpc error") and out.endswith("nil pointer evaluating .repository")
    assert "deployment.yaml:42:28" in out


def test_related_objects_keep_the_fields_that_decide():
    from llama_stack_argocd.context.digest import summarize

    pv = {"kind": "PersistentVolume", "metadata": {"name": "pv-1"}, "spec": {
        "storageClassName": "gp3", "nodeAffinity": {
        "required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["eu-west-1a"]}]}]}}},
        "status": {"phase": "Bound"}}
    assert "topology.kubernetes.io/zone In eu-west-1a" in summarize(pv)
    pol = netpol("egress", {"app": "web"}, ["Egress"], egress=[{"ports": [{"protocol": "TCP", "port": 5432}]}])
    assert "policyTypes: [Egress]" in summarize(pol) and "5432" in summarize(pol)
    ar = {"kind": "AnalysisRun", "metadata": {"name": "a"}, "spec": {"metrics": [
        {"name": "success-rate", "successCondition": "result[0] >= 0.95"}]},
        "status": {"phase": "Failed", "metricResults": [
            {"name": "success-rate", "phase": "Failed", "measurements": [{"value": "[0.91]"}]}]}}
    assert "[0.91]" in summarize(ar) and "result[0] >= 0.95" in summarize(ar)
    assert "unknownField: 7" in summarize({"kind": "Gadget", "metadata": {"name": "g"}, "spec": {"unknownField": 7}})


def test_unhealthy_resources_say_what_to_read_first():
    from llama_stack_argocd.context.digest import unhealthy_resources

    app = {"kind": "Application", "status": {"resources": [
        {"kind": "ConfigMap", "namespace": NS, "name": "c", "status": "Synced"},
        {"kind": "Service", "namespace": NS, "name": "lb", "status": "Synced", "health": {"status": "Progressing"}},
        {"kind": "Deployment", "namespace": NS, "name": "web", "status": "Synced",
         "health": {"status": "Degraded", "message": "Deployment exceeded its progress deadline"}},
        {"kind": "Secret", "namespace": NS, "name": "s", "status": "OutOfSync"}]}}
    assert [(r["kind"], r["health"]) for r in unhealthy_resources(app)] == [
        ("Deployment", "Degraded"), ("Service", "Progressing"), ("Secret", "")]
    assert unhealthy_resources(json.dumps(app), limit=1)[0]["message"] == "Deployment exceeded its progress deadline"
    assert unhealthy_resources("not json") == [] and unhealthy_resources(None) == []


def test_findings_about_the_focus_come_first_the_attachments_own_before_them():
    from llama_stack_argocd.context.findings import Finding, Severity
    from llama_stack_argocd.context.findings.base import Focus

    other = Finding(Severity.CRITICAL, "Pod cannot be scheduled", "", resource="Pod shop/other-1", code="Unschedulable")
    mine = Finding(Severity.WARNING, "Readiness probe failing", "", resource="Pod web-1", code="ReadinessProbeFailing")
    crash = Finding(Severity.CRITICAL, "in CrashLoopBackOff", "", resource="Pod shop/web-1", code="CrashLoopBackOff")
    focus = Focus.of([{"kind": "Pod", "metadata": {"name": "web-1"}}])
    assert focus.first([other, crash, mine]) == [crash, mine, other]  # namespaces differ between sources
    assert (focus | Focus.leading([mine])).first([other, crash, mine]) == [mine, crash, other]
    assert not Focus() and Focus().first([other, mine]) == [other, mine]
