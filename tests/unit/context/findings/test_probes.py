"""Which probe failed is the one the kubelet's message names, whatever words the probed path holds."""

from __future__ import annotations

import pytest

from llama_stack_argocd.context.findings import analyze


def _pod() -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "api-1", "namespace": "shop"},
            "spec": {"containers": [{"name": "api", "image": "api:1",
                                     "startupProbe": {"httpGet": {"path": "/health/liveness", "port": 8080},
                                                      "failureThreshold": 10},
                                     "readinessProbe": {"httpGet": {"path": "/health/startup", "port": 8080}}}]},
            "status": {"phase": "Running"}}


def _event(reason: str, message: str) -> dict:
    return {"kind": "Event", "type": "Warning", "reason": reason, "message": message, "count": 3,
            "involvedObject": {"kind": "Pod", "name": "api-1", "namespace": "shop"}}


@pytest.mark.parametrize(("message", "code", "probe"), [
    ('Startup probe failed: Get "http://10.0.0.5:8080/health/liveness": connection refused', "StartupProbeFailing",
     "startupProbe httpGet /health/liveness"),
    ("Container api failed startup probe, will be restarted", "StartupProbeFailing", "failureThreshold: 10"),
    ('Readiness probe failed: Get "http://10.0.0.5:8080/health/startup": context deadline exceeded',
     "ReadinessProbeFailing", "readinessProbe httpGet /health/startup"),
])
def test_the_probe_named_by_the_message_is_the_finding(message: str, code: str, probe: str):
    findings = [f for f in analyze([_pod(), _event("Unhealthy" if "failed:" in message else "Killing", message)], ())
                if f.code.endswith("ProbeFailing")]
    assert [f.code for f in findings] == [code]
    assert probe in " ".join(findings[0].evidence)


def test_a_message_naming_no_probe_is_no_probe_finding():
    findings = analyze([_pod(), _event("Killing", "Stopping container api")], ())
    assert not [f for f in findings if f.code.endswith("ProbeFailing")]
