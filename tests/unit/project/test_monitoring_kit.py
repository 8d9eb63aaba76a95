"""deploy/overlays/monitoring: the metrics port reachable from the monitoring namespace only, never through the
Service argocd-server calls; the ServiceMonitor scrapes it; alert rules pass `promtool check rules` and every series
the rules and the dashboard query is one the back-end exports.

promtool comes from Debian's `prometheus` package (`make test` installs it when apt-get can); without it the
rules are still checked by structure, and the promtool check is skipped with that reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from llama_stack_argocd.observability.metrics import REGISTRY
from tests.unit.project.test_deploy_kit import NAME, one, render_component

COMPONENT = "deploy/overlays/monitoring"
PORT = 9464
SERIES = re.compile(r"\b(?:argocd_assistant|gen_ai)_[a-z_]+\b")


def validate_monitoring_cr(obj: dict) -> None:
    """ServiceMonitor and PrometheusRule (no schema in kubernetes-validate): the fields this kit sets, by shape."""
    kind, spec = obj["kind"], obj["spec"]
    assert set(obj) == {"apiVersion", "kind", "metadata", "spec"}
    if kind == "ServiceMonitor":
        assert set(spec) == {"selector", "endpoints"} and spec["selector"]["matchLabels"]
        for endpoint in spec["endpoints"]:
            assert set(endpoint) <= {"port", "path", "interval", "scheme"} and endpoint["port"]
    elif kind == "PrometheusRule":
        assert set(spec) == {"groups"}
        for group in spec["groups"]:
            assert set(group) == {"name", "rules"}
            for rule in group["rules"]:
                assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"} and rule["alert"] and rule["expr"]
    else:
        pytest.fail(f"no structural check for {kind}")


def exported_series() -> set[str]:
    names = set()
    for family in REGISTRY.collect():
        for suffix in ("", "_total", "_bucket", "_sum", "_count", "_created"):
            names.add(family.name + suffix)
    return names


@pytest.fixture(scope="module", params=["argocd-backend", "openshift-backend"])
def objects(request, tmp_path_factory):
    return render_component(COMPONENT, request.param, str(tmp_path_factory.mktemp("monitoring")))


def test_the_metrics_port_is_its_own(objects):
    container = one(objects, "Deployment", NAME)["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["ARGOCD_METRICS_PORT"] == str(PORT) and env["ARGOCD_METRICS_HOST"] == "0.0.0.0"
    assert {"name": "metrics", "containerPort": PORT, "protocol": "TCP"} in container["ports"]
    # argocd-server's Service keeps only the API port; the metrics have a Service of their own.
    assert [p["port"] for p in one(objects, "Service", NAME)["spec"]["ports"]] == [8321]
    metrics = one(objects, "Service", f"{NAME}-metrics")
    assert [(p["port"], p["targetPort"]) for p in metrics["spec"]["ports"]] == [(PORT, "metrics")]
    monitor = one(objects, "ServiceMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= metrics["metadata"]["labels"].items()
    assert monitor["spec"]["endpoints"] == [{"port": "metrics", "path": "/metrics", "interval": "30s"}]


def test_network_policy_opens_the_metrics_port_to_the_monitoring_namespace_only(objects):
    policies = {p["metadata"]["name"]: p for p in objects if p["kind"] == "NetworkPolicy"}
    base = policies[NAME]
    assert all(port["port"] == 8321 for rule in base["spec"]["ingress"] for port in rule["ports"])
    (rule,) = policies[f"{NAME}-metrics"]["spec"]["ingress"]
    assert rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert rule["ports"] == [{"port": PORT, "protocol": "TCP"}]


def test_rules_and_dashboard_query_only_exported_series(objects):
    rules = one(objects, "PrometheusRule")["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {"AssistantTurnErrorRate", "AssistantFirstTextSlow",
                                           "AssistantUpstreamErrors", "AssistantQuotaRefusals"}
    dashboard = json.loads(one(objects, "ConfigMap", f"{NAME}-dashboard")["data"]["llama-stack-argocd.json"])
    exprs = [r["expr"] for r in rules] + [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    used = {name for expr in exprs for name in SERIES.findall(expr)}
    assert used and used <= exported_series(), used - exported_series()
    titles = " ".join(p["title"] for p in dashboard["panels"]).lower()
    for topic in ("turns", "first text", "tokens", "tool calls", "upstream errors"):
        assert topic in titles


def test_rules_pass_promtool(objects, tmp_path):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool (Debian package `prometheus`) is not installed; the rules were checked by structure")
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(one(objects, "PrometheusRule")["spec"]))
    run = subprocess.run([promtool, "check", "rules", str(rules)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS: 4 rules found" in run.stdout
