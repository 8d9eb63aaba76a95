"""A cause the Pod's status names (an OOM kill, a probe, a Job's deadline) is shown with the log line that supports
it, whatever that line's level: the last memory figure, the longest pause or start-up step, where the process
listens when the probe's port refused, how far a Job got."""

from __future__ import annotations

import json

from llama_stack_argocd.context.findings import Finding, analyze
from llama_stack_argocd.context.logs import cause_lines, distinct_records

NOISE = [f"2024-03-02 14:{i % 60:02d}:10.000 INFO GET /status 200 {i % 9}ms" for i in range(300)]


def _log(lines: list[str], source: str) -> list[dict]:
    return [{"result": {"content": text, "podName": source}} for text in lines]


def _pod(name: str, container: str, *, last: dict | None = None, probe: dict | None = None,
         owner: str = "") -> dict:
    spec: dict = {"name": container, "image": f"{container}:2", "resources": {"limits": {"memory": "768Mi"}}}
    spec.update(probe or {})
    meta: dict = {"name": name, "namespace": "media", "labels": {"app": container}}
    if owner:
        meta["ownerReferences"] = [{"kind": "Job", "name": owner, "apiVersion": "batch/v1"}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"containers": [spec]},
            "status": {"phase": "Running", "containerStatuses": [{
                "name": container, "ready": False, "restartCount": 4, "state": {"running": {}},
                "lastState": {"terminated": last} if last else {}}]}}


def _event(pod: str, reason: str, message: str) -> dict:
    return {"kind": "Event", "type": "Warning", "reason": reason, "message": message, "count": 9,
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": "media"}}


def _finding(findings: list[Finding], code: str) -> Finding:
    return next(f for f in findings if f.code == code)


def test_an_oom_kill_is_shown_with_the_last_memory_figure_of_the_killed_instance():
    stats = [json.dumps({"level": "info", "ts": 1709388000 + i, "msg": "pool stats", "workers": 40 + i,
                         "heap_inuse_mb": 300 + 100 * i}) for i in range(4)]
    lines = [*NOISE[:100], stats[0], *NOISE[100:200], stats[1], *NOISE[200:], stats[3], *NOISE[:4]]
    pod = _pod("thumbs-6b7c8d9e0-abcde", "thumbs", last={"reason": "OOMKilled", "exitCode": 137})
    findings = analyze([pod], distinct_records(_log(lines, "thumbs-6b7c8d9e0-abcde/thumbs (previous instance)")))
    oom = _finding(findings, "OOMKilled")
    assert "pool stats: workers: 43, heap_inuse_mb: 600" in oom.evidence[:4]
    assert oom.evidence[1] == "exit code 137"  # the decisive fields stay first


def test_a_liveness_kill_is_shown_with_the_longest_pause_before_it():
    pauses = [f"[2024-03-02T14:20:0{i}.000+0000][info][gc] GC({90 + i}) Pause {kind} 1000M->980M(1024M) {ms}ms"
              for i, (kind, ms) in enumerate((("Young (Normal)", 14.2), ("Full (Allocation Failure)", 2750.5),
                                              ("Young (Normal)", 31.0)))]
    lines = [*NOISE[:150], pauses[0], pauses[1], *NOISE[150:], pauses[2], *NOISE[:3]]
    pod = _pod("render-5c4b3a2d1-zzzzz", "render", last={"reason": "Error", "exitCode": 143},
               probe={"livenessProbe": {"httpGet": {"path": "/alive", "port": 9000}, "timeoutSeconds": 2}})
    event = _event("render-5c4b3a2d1-zzzzz", "Unhealthy",
                   'Liveness probe failed: Get "http://10.1.2.3:9000/alive": context deadline exceeded')
    findings = analyze([pod, event], distinct_records(_log(lines, "render-5c4b3a2d1-zzzzz/render")))
    probe = _finding(findings, "LivenessProbeFailing")
    shown = [e for e in probe.evidence if e not in probe.detail][:4]
    assert any("2750.5ms" in e for e in shown)
    assert not any("14.2ms" in e or "31.0ms" in e for e in probe.evidence)  # under a second: no stall


def test_a_refused_probe_is_shown_with_where_the_process_listens():
    listening = json.dumps({"level": "info", "ts": 1709388000.2, "caller": "server/http.go:40",
                            "msg": "serving http", "listen": "0.0.0.0:9191"})
    lines = [listening, *NOISE]
    pod = _pod("gateway-77f8e9d0c-qwert", "gateway",
               probe={"readinessProbe": {"httpGet": {"path": "/ready", "port": 9090}}})
    event = _event("gateway-77f8e9d0c-qwert", "Unhealthy",
                   'Readiness probe failed: Get "http://10.1.2.4:9090/ready": dial tcp 10.1.2.4:9090: connect: '
                   "connection refused")
    findings = analyze([pod, event], distinct_records(_log(lines, "gateway-77f8e9d0c-qwert/gateway")))
    probe = _finding(findings, "ReadinessProbeFailing")
    assert "serving http: listen: 0.0.0.0:9191" in probe.evidence[:4]


def test_a_job_out_of_time_is_shown_with_how_far_it_got():
    progress = [f"2024-03-02 14:{m:02d}:00,000 INFO exporter: copied {m * 120}/9000 rows ({m * 120 * 100 // 9000}%)"
                for m in range(10, 30, 5)]
    lines = [*NOISE[:50], progress[0], *NOISE[50:120], progress[1], *NOISE[120:200], progress[2], *NOISE[200:260],
             progress[3], *NOISE[:2]]
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "export-rows", "namespace": "media"},
           "spec": {"activeDeadlineSeconds": 900, "backoffLimit": 0},
           "status": {"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "DeadlineExceeded",
                                                   "message": "Job was active longer than specified deadline"}]}}
    pod = _pod("export-rows-k2j4h", "exporter", owner="export-rows")
    findings = analyze([job, pod], distinct_records(_log(lines, "export-rows-k2j4h/exporter")))
    failed = _finding(findings, "JobFailed")
    assert progress[3].split("INFO ")[1] in " ".join(failed.evidence[:4])


def test_no_cause_no_supporting_line():
    stats = json.dumps({"level": "info", "ts": 1709388000, "msg": "pool stats", "heap_inuse_mb": 420})
    pod = _pod("thumbs-6b7c8d9e0-abcde", "thumbs", last={"reason": "Completed", "exitCode": 0})
    findings = analyze([pod], distinct_records(_log([*NOISE, stats], "thumbs-6b7c8d9e0-abcde/thumbs")))
    assert not any("pool stats" in e for f in findings for e in f.evidence if f.code != "LogErrors")


def test_a_postgres_message_keeps_its_detail_and_hint():
    lines = ["2024-03-02 14:00:01.100 UTC [88] LOG:  starting PostgreSQL 15.6",
             '2024-03-02 14:00:01.200 UTC [88] FATAL:  could not open file "/srv/pg/global/pg_filenode.map": '
             "Permission denied",
             "2024-03-02 14:00:01.201 UTC [88] HINT:  Check the permissions of the data directory.",
             "2024-03-02 14:00:01.300 UTC [91] LOG:  database system is shut down"]
    records = distinct_records(_log(lines, "ledger-db-0/postgres (previous instance)"))
    fatal = next(text for _, text in records if "FATAL" in text)
    assert cause_lines(fatal.splitlines())[1].endswith("HINT:  Check the permissions of the data directory.")
    quoted = _finding(analyze([], records), "LogErrors").evidence
    assert quoted[:2] == [" ".join(lines[1].split()), " ".join(lines[2].split())]


def test_a_log_naming_no_pod_supports_the_resource_open():
    stats = json.dumps({"level": "info", "ts": 1709388000, "msg": "pool stats", "heap_inuse_mb": 700})
    pod = _pod("thumbs-6b7c8d9e0-abcde", "thumbs", last={"reason": "OOMKilled", "exitCode": 137})
    oom = _finding(analyze([pod], distinct_records("\n".join([*NOISE, stats, *NOISE[:3]]))), "OOMKilled")
    assert "pool stats: heap_inuse_mb: 700" in oom.evidence


def test_the_settings_a_postgres_message_points_at_follow_its_hint():
    lines = ['2024-03-02 14:00:01.200 UTC [88] FATAL:  could not open file "/srv/pg/global/pg_filenode.map": '
             "Permission denied",
             "2024-03-02 14:00:01.201 UTC [88] HINT:  Check the permissions of the data directory."]
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ledger-db-0", "namespace": "media"},
           "spec": {"securityContext": {"runAsUser": 70},
                    "containers": [{"name": "postgres", "image": "postgres:15"}]},
           "status": {"phase": "Running"}}
    records = distinct_records(_log(lines, "ledger-db-0/postgres (previous instance)"))
    quoted = _finding(analyze([pod], records), "LogErrors").evidence
    assert quoted[:3] == [*(" ".join(line.split()) for line in lines), "runAsUser: 70"]
