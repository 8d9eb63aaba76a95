"""The events and spec fields a Pod's or workload's finding quotes: the kubelet's kill decision, the pull error's
cause, the sidecar that holds a port, the Job's deadline, the node terms a Pod asks for, the condition's reason."""

from __future__ import annotations

from llama_stack_argocd.context.findings import analyze
from llama_stack_argocd.context.logs import distinct_records

NS = "ledger"


def _pod(name: str, containers: list[dict], statuses: list[dict] | None = None, **spec: object) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
            "spec": {"containers": containers, **spec}, "status": {"phase": "Running",
                                                                   "containerStatuses": statuses or []}}


def _event(kind: str, name: str, reason: str, message: str, type_: str = "Warning", time: str = "") -> dict:
    return {"kind": "Event", "type": type_, "reason": reason, "message": message, "count": 4,
            "involvedObject": {"kind": kind, "name": name, "namespace": NS}, "lastTimestamp": time}


def _one(findings: list, code: str):
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, [(f.code, f.title) for f in findings]
    return matching[0]


def test_the_kubelets_kill_for_a_failed_probe_is_quoted_though_it_is_a_normal_event():
    pod = _pod("books-1", [{"name": "books", "image": "books:2",
                            "livenessProbe": {"tcpSocket": {"port": 9000}, "failureThreshold": 3}}])
    unhealthy = _event("Pod", "books-1", "Unhealthy", "Liveness probe failed: dial tcp 10.1.2.3:9000: i/o timeout",
                       time="2025-01-02T10:00:00Z")
    killing = _event("Pod", "books-1", "Killing", "Container books failed liveness probe, will be restarted",
                     "Normal", time="2025-01-02T10:00:05Z")
    stopping = _event("Pod", "books-1", "Killing", "Stopping container books", "Normal")
    probe = _one(analyze([pod, unhealthy, killing, stopping]), "LivenessProbeFailing")
    assert probe.evidence[:2] == [unhealthy["message"], killing["message"]]
    assert "tcpSocket port 9000" in probe.detail and "Stopping container" not in " ".join(probe.evidence)


def test_an_image_back_off_quotes_the_pull_error_that_says_why():
    pod = _pod("books-2", [{"name": "books", "image": "registry.corp/books:4.0"}], [
        {"name": "books", "image": "registry.corp/books:4.0", "state": {"waiting": {
            "reason": "ImagePullBackOff", "message": 'Back-off pulling image "registry.corp/books:4.0"'}}}])
    why = ('Failed to pull image "registry.corp/books:4.0": failed to authorize: failed to fetch oauth token: '
           "unexpected status: 401 Unauthorized")
    events = [_event("Pod", "books-2", "Failed", why), _event("Pod", "books-2", "Failed", "Error: ErrImagePull"),
              _event("Pod", "books-2", "BackOff", 'Back-off pulling image "registry.corp/books:4.0"', "Normal")]
    pull = _one(analyze([pod, *events]), "ImagePullBackOff")
    assert "imagePullSecrets" in pull.detail
    assert pull.evidence[:3] == ["ImagePullBackOff", "image: registry.corp/books:4.0", why]


def test_address_in_use_names_the_other_container_that_listens_on_the_port():
    pod = _pod("books-3", [
        {"name": "books", "image": "books:5", "ports": [{"containerPort": 7070}]},
        {"name": "proxy", "image": "proxy:1", "args": ["--upstream=http://127.0.0.1:7070", "--log-level=info"]},
        {"name": "stats", "image": "stats:1", "args": ["serve", "--web.bind-address", "0.0.0.0:7070"]},
        {"name": "agent", "image": "agent:1", "env": [{"name": "AGENT_LISTEN_PORT", "value": "7070"},
                                                      {"name": "RETRY_PORT", "value": "17070"},
                                                      {"name": "UPSTREAM_ADDR", "value": "http://db:7070"}]}])
    line = '{"level":"fatal","msg":"server exited","error":"listen tcp 0.0.0.0:7070: bind: address already in use"}'
    records = distinct_records([{"result": {"content": line, "podName": "books-3/books (previous instance)"}}])
    log = _one(analyze([pod], records), "LogErrors")
    said = log.evidence[1:]
    assert "stats args: --web.bind-address 0.0.0.0:7070" in said
    assert "agent env: AGENT_LISTEN_PORT=7070" in said
    assert not [e for e in said if "upstream" in e.lower() or "RETRY_PORT" in e or e.startswith("books")]


def test_address_in_use_without_a_port_or_another_holder_adds_nothing():
    pod = _pod("books-4", [{"name": "books", "image": "books:5", "ports": [{"containerPort": 7070}]}])
    line = "2025-01-02 10:00:00 ERROR OSError: [Errno 98] Address already in use"
    records = distinct_records([{"result": {"content": line, "podName": "books-4/books"}}])
    assert _one(analyze([pod], records), "LogErrors").evidence == [line]


def test_a_failed_job_quotes_the_limit_it_hit_as_a_field():
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "export", "namespace": NS},
           "spec": {"backoffLimit": 1, "activeDeadlineSeconds": 1800}, "status": {"failed": 1, "conditions": [
               {"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                "message": "Job was active longer than specified deadline"}]}}
    deadline = _one(analyze([job]), "JobFailed")
    assert "activeDeadlineSeconds: 1800" in deadline.evidence[:3]
    job["status"]["conditions"][0].update(reason="BackoffLimitExceeded", message="Job has reached the limit")
    assert "backoffLimit: 1" in _one(analyze([job]), "JobFailed").evidence[:3]


def test_an_unschedulable_pod_quotes_the_node_terms_it_asks_for():
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["us-east-2c"]},
                              {"key": "spot", "operator": "DoesNotExist"}]}]}}}
    pod = _pod("books-5", [{"name": "books", "image": "books:5"}], nodeSelector={"disk": "nvme", "tier": "db"},
               affinity=affinity, tolerations=[{"key": "dedicated", "operator": "Equal", "value": "db",
                                                "effect": "NoSchedule"},
                                               {"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                                "effect": "NoExecute", "tolerationSeconds": 300}])
    msg = ("0/6 nodes are available: 2 node(s) had untolerated taint {batch: }, 4 node(s) didn't match Pod's node "
           "affinity/selector.")
    sched = _one(analyze([pod, _event("Pod", "books-5", "FailedScheduling", msg)]), "Unschedulable")
    assert sched.evidence[:2] == ["FailedScheduling", "nodeSelector: {disk: nvme, tier: db}"]
    assert "nodeAffinity: topology.kubernetes.io/zone In us-east-2c, spot DoesNotExist" in sched.evidence
    assert "tolerations: dedicated=db:NoSchedule" in sched.evidence


def test_an_unschedulable_pod_for_resources_quotes_no_node_terms():
    pod = _pod("books-6", [{"name": "books", "image": "books:5"}], nodeSelector={"disk": "nvme"})
    msg = "0/6 nodes are available: 6 Insufficient cpu."
    sched = _one(analyze([pod, _event("Pod", "books-6", "FailedScheduling", msg)]), "Unschedulable")
    assert not [e for e in sched.evidence if "nodeSelector" in e]


def test_a_workload_that_cannot_create_pods_quotes_the_conditions_reason():
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "books", "namespace": NS},
              "spec": {"replicas": 1}, "status": {"conditions": [
                  {"type": "ReplicaFailure", "status": "True", "reason": "FailedCreate",
                   "message": 'pods "books-5f-" is forbidden: unable to validate against any security policy'}]}}
    failure = _one(analyze([deploy]), "ReplicaFailure")
    assert failure.evidence[0] == "ReplicaFailure: FailedCreate"


def test_the_last_words_of_a_container_that_failed_and_was_not_restarted_are_quoted():
    pod = _pod("export-x1", [{"name": "export", "image": "export:3"}], [
        {"name": "export", "state": {"terminated": {"exitCode": 137, "reason": "Error"}}}])
    lines = ["2025-01-02 10:00:00 INFO export: started", "2025-01-02 10:29:59 INFO export: wrote 812 of 2000 files"]
    records = distinct_records([{"result": {"content": "\n".join(lines), "podName": "export-x1/export"}}])
    log = _one(analyze([pod], records), "LogErrors")
    assert log.evidence == [lines[-1]] and "last words" in log.detail
    pod["status"]["containerStatuses"][0]["state"] = {"running": {}}
    assert not [f for f in analyze([pod], records) if f.code == "LogErrors"]


def test_a_pod_refused_by_its_anti_affinity_quotes_the_term():
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "books-7"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    pod = _pod("books-7", [{"name": "books", "image": "books:5"}], affinity=anti)
    msg = "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."
    sched = _one(analyze([pod, _event("Pod", "books-7", "FailedScheduling", msg)]), "Unschedulable")
    assert "podAntiAffinity: app=books-7 per kubernetes.io/hostname" in sched.evidence
