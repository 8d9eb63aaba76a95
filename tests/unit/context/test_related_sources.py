"""The related reads that decide against an object, against the Kubernetes stand-in over real HTTP: a Pod's namespace
LimitRanges and the volumes of its claims, a claim's bound PersistentVolume, a Rollout's AnalysisRuns; all inside
the caller's Application and redacted like every read."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from llama_stack_argocd.context.errors import OutOfScope
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from llama_stack_argocd.context.tools import run_tool
from tests.support import cluster as fx
from tests.support import live_sources as shop
from tests.support.cluster import ClusterHandle, start_cluster

SHOP = AppRef(namespace=fx.ARGOCD_NS, name=shop.SHOP_APP)


@pytest.fixture(scope="module")
def shop_cluster() -> Iterator[ClusterHandle]:
    with start_cluster(seed=shop.seed_shop) as handle:
        yield handle


@pytest.fixture
def service(shop_cluster: ClusterHandle) -> ContextService:
    settings = ContextSettings(kubeconfig=shop_cluster.kubeconfig_path)
    return ContextService(KubernetesSource(settings), settings)


async def test_a_rollout_shows_its_own_analysis_runs_newest_first_with_values_and_condition(service):
    result = await service.related(SHOP, ResourceRef(kind="Rollout", name=shop.ROLLOUT))
    runs = result["analysisRuns"]
    assert [r["name"] for r in runs] == [shop.FAILED_RUN, shop.PASSED_RUN]  # not the other Rollout's run
    failed = runs[0]
    assert failed["phase"] == "Failed" and "failureLimit (1)" in failed["message"]
    (metric,) = failed["metricResults"]
    assert metric["successCondition"] == shop.SUCCESS_CONDITION and metric["failureLimit"] == 1
    assert metric["failed"] == 3 and metric["count"] == 3
    assert [m["value"] for m in metric["measurements"]] == [f"[{v}]" for v in shop.MEASURED]


async def test_a_pod_shows_its_namespace_limit_ranges_and_the_zone_of_the_volume_it_mounts(service):
    result = await service.related(SHOP, ResourceRef(kind="Pod", name=shop.DB_POD))
    (limits,) = result["limitRanges"]
    assert limits["name"] == shop.LIMIT_RANGE and limits["limits"][0]["max"] == {"memory": "1Gi", "cpu": "2"}
    (claim,) = result["volumeClaims"]  # the emptyDir is no claim
    assert claim["name"] == shop.DB_CLAIM and claim["phase"] == "Bound"
    volume = claim["persistentVolume"]
    assert volume["name"] == shop.DB_VOLUME and volume["claim"] == f"{shop.SHOP_NS}/{shop.DB_CLAIM}"
    expression = volume["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
    assert expression == {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [shop.ZONE]}


async def test_a_claim_shows_its_bound_volume(service):
    result = await service.related(SHOP, ResourceRef(kind="PersistentVolumeClaim", name=shop.DB_CLAIM))
    volume = result["persistentVolume"]
    assert volume["phase"] == "Bound" and volume["capacity"] == {"storage": "20Gi"}
    assert volume["storageClassName"] == "standard-rwo" and shop.ZONE in json.dumps(volume["nodeAffinity"])


async def test_a_claim_naming_a_volume_bound_to_another_claim_gets_none_of_its_fields(service):
    result = await service.related(SHOP, ResourceRef(kind="PersistentVolumeClaim", name=shop.STOLEN_CLAIM))
    assert result["persistentVolume"] == {"name": shop.BILLING_VOLUME, "error": "bound to another claim"}
    text = json.dumps(result)
    assert shop.BILLING_VOLUME_HANDLE not in text and "europe-west1-c" not in text
    assert "data-billing-db" not in text  # not even whose claim it is


async def test_the_new_kinds_stay_inside_the_application(service):
    with pytest.raises(OutOfScope):  # billing's volume, asked for by name, is not the shop Application's
        await service.manifest(SHOP, ResourceRef(kind="PersistentVolume", name=shop.BILLING_VOLUME))
    with pytest.raises(OutOfScope):  # guestbook's caller cannot read the shop Rollout's runs
        await service.related(AppRef(namespace=fx.ARGOCD_NS, name=fx.APP),
                              ResourceRef(kind="Rollout", name=shop.ROLLOUT, namespace=shop.SHOP_NS))
    # an AnalysisRun is the Application's through its owning Rollout, read by its own kind's name
    result = await run_tool(service, SHOP, "argocd_resource_manifest", {"kind": "analysisrun",
                                                                         "name": shop.FAILED_RUN})
    assert result["manifest"]["status"]["phase"] == "Failed"


async def test_related_reads_are_redacted(shop_cluster):
    settings = ContextSettings(kubeconfig=shop_cluster.kubeconfig_path)
    service = ContextService(KubernetesSource(settings), settings, lambda: Redactor())
    result = await service.related(SHOP, ResourceRef(kind="Rollout", name=shop.ROLLOUT))
    # the redactor runs over the whole payload, the runs included (no secret planted: nothing withheld)
    assert "redacted_values" not in result and result["analysisRuns"]


async def test_a_namespace_without_limit_ranges_or_claims_reads_as_empty(cluster):
    settings = ContextSettings(kubeconfig=cluster.kubeconfig_path)
    result = await ContextService(KubernetesSource(settings), settings).related(
        AppRef(namespace=fx.ARGOCD_NS, name=fx.APP), ResourceRef(kind="Pod", name=fx.CRASHING_POD))
    assert result["limitRanges"] == [] and "volumeClaims" not in result


def test_selector_requirements_and_tolerations_keep_their_label_keys():
    """`key` of a node affinity term, label selector requirement or toleration names a label or taint, never a
    credential: it reaches the model as it is (a zone's key decides a volume conflict), its values are still scanned."""
    redactor = Redactor()
    terms = {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["zone-a"]}]}
    toleration = {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"}
    assert redactor.redact_obj([terms, toleration]) == [terms, toleration] and redactor.count == 0
    # a `key` beside no operator is still a name that may say secret (a cloud access key in a config map entry)
    assert Redactor().redact_obj({"key": "Zx81kQp9Lm2vR7tY"}) == {"key": "[REDACTED]"}


# What the related reads ask the API for, by kind: the base ClusterRole must grant exactly these verbs' worth.
RELATED_READS = {"NetworkPolicy": "list", "LimitRange": "list", "AnalysisRun": "list", "PersistentVolume": "get"}


def test_the_base_role_grants_the_related_reads_and_volumes_by_name_only():
    from pathlib import Path

    import yaml

    from llama_stack_argocd.context.source import KINDS

    role = yaml.safe_load((Path(__file__).parents[3] / "deploy/base/clusterrole.yaml").read_text())
    grants = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
              for v in rule["verbs"]}
    for kind, verb in RELATED_READS.items():
        rtype = KINDS[kind]
        assert (rtype.group, rtype.plural, verb) in grants, kind
    assert ("", "persistentvolumes", "list") not in grants  # no listing of every tenant's volumes
