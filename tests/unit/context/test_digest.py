"""build_context: the one code path. Findings first, noise removed, every part fitted to the budget, cuts visible."""

from __future__ import annotations

import json

import pytest

from llama_stack_argocd.context.budget import ATTACHMENTS, Budget
from llama_stack_argocd.context.digest import build_context, summarize
from llama_stack_argocd.context.tokens import count_tokens

POD = {
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {
        "name": "orders-6f9c7d8b5-x2kqz", "namespace": "shop", "uid": "0b6c7f1e-2f7a-4d8e-9c1b-5a3e2d4f6a8b",
        "resourceVersion": "48213377", "creationTimestamp": "2024-11-05T08:12:40Z", "labels": {"app": "orders"},
        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"v1","kind":"Pod"}'},
        "managedFields": [{"manager": "kubelet", "operation": "Update", "fieldsType": "FieldsV1",
                           "fieldsV1": {"f:status": {"f:conditions": {}}}}],
    },
    "spec": {"containers": [{"name": "orders", "image": "ghcr.io/acme/orders:2.14.0",
                             "resources": {"limits": {"memory": "1Gi"}}}]},
    "status": {"phase": "Running", "containerStatuses": [{
        "name": "orders", "ready": False, "restartCount": 9, "image": "ghcr.io/acme/orders:2.14.0",
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "reason": "Error"}}}]},
}
EVENTS = {"apiVersion": "v1", "items": [
    {"type": "Warning", "reason": "BackOff", "count": 212, "lastTimestamp": "2024-11-05T09:09:00Z",
     "message": "Back-off restarting failed container orders in pod orders-6f9c7d8b5-x2kqz_shop(0b6c7f1e)",
     "involvedObject": {"kind": "Pod", "name": "orders-6f9c7d8b5-x2kqz", "namespace": "shop"}},
    {"type": "Normal", "reason": "Pulled", "count": 10, "lastTimestamp": "2024-11-05T09:08:00Z",
     "message": 'Container image "ghcr.io/acme/orders:2.14.0" already present on machine',
     "involvedObject": {"kind": "Pod", "name": "orders-6f9c7d8b5-x2kqz", "namespace": "shop"}},
]}
NEEDLE = 'FATAL: password authentication failed for user "orders"'
LOG_LINES = [f"2024-11-05 09:{i // 600 % 60:02d}:{i // 10 % 60:02d}.000  INFO 1 --- [exec-{i % 9}] c.a.Api : "
             f"GET /api/orders/{i * 7919 % 99991} 200 {i % 300}ms" for i in range(8000)]
LOG_LINES.insert(3000, f"2024-11-05 09:05:00.000 ERROR 1 --- [main] c.z.h.pool.HikariPool : {NEEDLE}")
LOGS = json.dumps([{"result": {"content": line, "timeStamp": "2024-11-05T09:00:00Z",
                               "podName": "orders-6f9c7d8b5-x2kqz", "last": False}} for line in LOG_LINES])


@pytest.mark.parametrize("budget", [300, 1000, 2000, 4000, 8000])
def test_fits_the_budget_and_keeps_the_cause(budget):
    d = build_context(manifest=json.dumps(POD), events=json.dumps(EVENTS), logs=LOGS, budget=budget)
    assert d.tokens <= budget
    assert d.tokens == count_tokens(d.text)
    assert d.budget_tokens == budget
    assert "CrashLoopBackOff" in d.text
    if budget >= 1000:
        assert NEEDLE in d.text
        assert "exit code 1" in d.text


def test_findings_come_first_then_manifest_events_logs():
    d = build_context(manifest=POD, events=EVENTS, logs=LOGS, budget=4000)
    order = [d.text.index(h) for h in ("## Findings", "## Manifest", "## Events", "## Logs")]
    assert order == sorted(order)
    assert [f.code for f in d.findings][:1] == ["CrashLoopBackOff"]
    assert not d.truncated  # 8,000 near-identical lines collapse into one with a count: nothing is lost
    assert "[x8,000" in d.text
    small = build_context(manifest=POD, events=EVENTS, logs=LOGS, budget=400)
    assert small.truncated and "omitted ...]" in small.text


def test_noise_is_removed_from_the_manifest():
    d = build_context(manifest=POD, budget=4000)
    for noise in ("managedFields", "last-applied-configuration", "resourceVersion", "48213377", "f:status"):
        assert noise not in d.text
    assert "restartCount: 9" in d.text
    assert not d.truncated


def test_everything_small_is_kept_whole():
    d = build_context(manifest=POD, events=EVENTS, logs="ERROR one thing went wrong\nINFO done", budget=4000)
    assert not d.truncated
    assert "ERROR one thing went wrong" in d.text and "Back-off restarting" in d.text
    assert d.sections["logs"] > 0 and d.sections["findings"] > 0


def test_a_budget_object_gives_the_attachments_share():
    budget = Budget.for_model("ollama/llama3:8b")
    d = build_context(manifest=POD, events=EVENTS, logs=LOGS, budget=budget)
    assert d.tokens <= budget.share(ATTACHMENTS)
    assert d.budget_tokens == budget.share(ATTACHMENTS)
    assert build_context(manifest=POD).budget_tokens == Budget().share(ATTACHMENTS)


def test_related_objects_feed_the_findings_and_a_summary_line():
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orders", "namespace": "shop"},
                  "spec": {"replicas": 2}, "status": {"readyReplicas": 1, "availableReplicas": 1}}
    d = build_context(manifest=deployment, related_objects=[POD, EVENTS], budget=3000)
    assert {"CrashLoopBackOff", "DeploymentUnavailable"} <= {f.code for f in d.findings}
    assert "- Pod shop/orders-6f9c7d8b5-x2kqz: phase=Running ready=0/1 restarts=9" in d.text


def test_nothing_in_nothing_out():
    d = build_context(budget=1000)
    assert d.findings == [] and not d.truncated and d.tokens <= 1000
    assert build_context(manifest="not json: [", events="", logs=None, budget=500).tokens <= 500


def test_metadata_for_the_routes():
    meta = build_context(manifest=POD, logs=LOGS, budget=500).to_metadata()
    assert meta["truncated"] is True and meta["context_budget"] == 500 and meta["context_tokens"] <= 500
    assert any("CrashLoopBackOff" in t for t in meta["findings"])


def test_summaries_of_common_kinds():
    svc = {"kind": "Service", "metadata": {"name": "web", "namespace": "shop"},
           "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 3000}]}}
    assert summarize(svc) == "- Service shop/web: type=ClusterIP selector=app=web ports=80->3000"
    job = {"kind": "Job", "metadata": {"name": "j", "namespace": "shop"}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}}
    assert "Failed: BackoffLimitExceeded" in summarize(job)


def test_a_finding_that_does_not_fit_whole_keeps_its_detail_and_first_evidence():
    from llama_stack_argocd.context.digest import _fit_findings
    from llama_stack_argocd.context.findings import Finding, Severity

    first = Finding(Severity.ERROR, "Startup probe failing", "Startup probe failed 12 times; failureThreshold: 6.",
                    ["Startup probe failed: connection refused", *(f"log line {i} " + "x" * 200 for i in range(6))],
                    "Pod media/encoder-1", "StartupProbeFailing")
    text, cut = _fit_findings([first], 150, None)
    assert "failureThreshold: 6" in text and "Startup probe failed: connection refused" in text
    assert "log line 5" not in text and not cut
