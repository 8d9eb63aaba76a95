"""The evidence reads the objects a failure names beside the failing one, scoped to the Application: the ConfigMap a
container lacks a key of (all the Pod references of that kind, so none looks missing), and the Service a log's
failed connections go to, with its Pods and the NetworkPolicies that select them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from llama_stack_argocd.cli.eval import load_scenarios
from llama_stack_argocd.context.evidence import EvidenceGatherer
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support import cluster as stand_in
from tests.support.scenario_cluster import build_all, seeder

NS = "ledger"


def _pod(name, labels, containers, status):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS, "labels": labels},
            "spec": {"containers": containers}, "status": status}


KEY_POD = _pod("ledger-api-55f6c7d8e9-k2m4p", {"app": "ledger-api"}, [{
    "name": "api", "image": "ledger:3",
    "envFrom": [{"configMapRef": {"name": "ledger-common"}}],
    "env": [{"name": "RETRY_LIMIT", "valueFrom": {"configMapKeyRef": {"name": "ledger-tuning", "key": "RETRY_LIMIT"}}}],
}], {"phase": "Pending", "containerStatuses": [{"name": "api", "ready": False, "restartCount": 0, "state": {
    "waiting": {"reason": "CreateContainerConfigError",
                "message": f"couldn't find key RETRY_LIMIT in ConfigMap {NS}/ledger-tuning"}}}]})
CONFIGMAPS = [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ledger-tuning", "namespace": NS},
               "data": {"retry_limit": "5", "timeout_ms": "900"}},
              {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ledger-common", "namespace": NS},
               "data": {"REGION": "north"}}]

CLIENT = _pod("statements-6a7b8c9d0-q1w2e", {"app": "statements"}, [{"name": "statements", "image": "st:1"}],
              {"phase": "Running", "podIP": "10.244.5.5", "containerStatuses": [
                  {"name": "statements", "ready": True, "restartCount": 0, "state": {"running": {}}}]})
CALLEE = [{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "vault-proxy", "namespace": NS},
           "spec": {"clusterIP": "10.96.9.9", "selector": {"app": "vault-proxy"},
                    "ports": [{"port": 8443, "targetPort": 8443}]}},
          _pod("vault-proxy-7f8e9d-zx9c8", {"app": "vault-proxy"}, [{"name": "proxy", "image": "vp:2", "ports": [
              {"containerPort": 8443}]}], {"phase": "Running", "podIP": "10.244.6.6", "containerStatuses": [
                  {"name": "proxy", "ready": True, "restartCount": 0, "state": {"running": {}}}]}),
          {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
           "metadata": {"name": "vault-from-ops", "namespace": NS},
           "spec": {"podSelector": {"matchLabels": {"app": "vault-proxy"}}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {"matchLabels": {"role": "ops"}}}]}]}}]


def _scenario(root: Path, name: str, body: dict) -> None:
    (root / name).mkdir()
    (root / name / "scenario.yaml").write_text(yaml.safe_dump({
        "seed": 3, "namespace": NS, "decorate": False, "evidence": ["x"], "expected_finding": "x", **body}))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    _scenario(root, "ledger-key", {"manifest": KEY_POD, "related": [CONFIGMAPS]})
    _scenario(root, "ledger-policy", {"manifest": CLIENT, "related": [CALLEE], "logs": {
        "pod": CLIENT["metadata"]["name"], "generate": {"profile": "node", "lines": 200, "needles": [
            {"at": 0.5, "text": ["fetch statement key failed: connect ETIMEDOUT 10.96.9.9:8443"]}]}}})
    apps = build_all(load_scenarios(root), root=root)
    with stand_in.start_cluster(seeder(apps), keep_requests=False) as handle:
        settings = ContextSettings(kubeconfig=handle.kubeconfig_path)
        yield EvidenceGatherer(ContextService(KubernetesSource(settings), settings)), {a.scenario.name: a for a in apps}


async def _findings(seeded, name):
    gatherer, apps = seeded
    app = apps[name]
    collected = await gatherer.collect(app.app, app.focus, "why?")
    return gatherer.render(collected, 3000).findings


async def test_a_missing_key_reads_the_configmaps_the_pod_references_and_says_what_keys_they_have(seeded):
    findings = await _findings(seeded, "ledger-key")
    key = next(f for f in findings if f.code == "MissingConfigKey")
    assert "has keys: retry_limit, timeout_ms" in key.evidence
    assert not [f for f in findings if f.code == "MissingConfigMap"]  # the other one read too: not taken for missing


async def test_a_timeout_to_a_service_reads_the_policies_of_its_pods(seeded):
    findings = await _findings(seeded, "ledger-policy")
    blocking = next(f for f in findings if f.code == "NetworkPolicyBlocking")
    assert "vault-from-ops" in blocking.detail and "role=ops" in blocking.detail
