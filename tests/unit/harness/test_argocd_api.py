"""The argocd-server API stand-in over real HTTP: shapes, authentication, RBAC answers, the log stream, the record."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support import cluster as fx
from tests.support.argocd_api import LIMITED_TOKEN, TOKEN, log_lines, start_argocd_api

APP_PATH = f"/api/v1/applications/{fx.APP}"


def get(api, path, token=TOKEN, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(api.url + path, params=params, headers=headers, timeout=10)


def test_authentication_is_required_with_argocd_error_shape(argocd_api):
    missing = get(argocd_api, "/api/v1/applications", token=None)
    assert missing.status_code == 401
    assert missing.json() == {"error": "no session information", "code": 16, "message": "no session information"}
    wrong = get(argocd_api, "/api/v1/applications", token="not-a-token")
    assert wrong.status_code == 401 and wrong.json()["message"].startswith("invalid session")
    # the version answers anyone, but only with the version
    assert get(argocd_api, "/api/version", token=None).json() == {"Version": "v3.2.0+stand-in"}
    assert "BuildDate" in get(argocd_api, "/api/version").json()


def test_applications_are_served_as_argocd_serves_them(argocd_api):
    listed = get(argocd_api, "/api/v1/applications").json()
    assert [a["metadata"]["name"] for a in listed["items"]] == [fx.OTHER_APP, fx.APP]
    assert [a["metadata"]["name"] for a in get(argocd_api, "/api/v1/applications", projects="payments").json()[
        "items"]] == [fx.OTHER_APP]
    assert get(argocd_api, "/api/v1/applications", name=fx.APP).json()["items"][0]["metadata"]["name"] == fx.APP
    app = get(argocd_api, APP_PATH, appNamespace=fx.ARGOCD_NS).json()
    assert "kind" not in app and app["status"]["sync"]["status"] == "OutOfSync"
    assert app["status"] == dict(fx.objects()[0][3]["status"])  # the Kubernetes stand-in's own Application


def test_hidden_and_missing_applications_are_both_permission_denied(argocd_api):
    hidden = get(argocd_api, f"/api/v1/applications/{fx.OTHER_APP}", token=LIMITED_TOKEN)
    missing = get(argocd_api, "/api/v1/applications/nope")
    assert hidden.status_code == missing.status_code == 403
    assert hidden.json() == missing.json() == {"error": "permission denied", "code": 7, "message": "permission denied"}
    # naming the project lets argocd-server say 404 for a missing Application
    assert get(argocd_api, "/api/v1/applications/nope", project="default").status_code == 404
    assert get(argocd_api, APP_PATH, appNamespace="elsewhere").status_code == 403


def test_resource_tree_holds_the_workload_chain_with_parent_refs(argocd_api):
    nodes = {(n["kind"], n["name"]): n for n in get(argocd_api, f"{APP_PATH}/resource-tree").json()["nodes"]}
    assert {("Deployment", fx.DEPLOYMENT), ("ReplicaSet", fx.REPLICASET), ("Pod", fx.CRASHING_POD),
            ("Endpoints", fx.SERVICE), ("Job", fx.JOB), ("Pod", fx.JOB_POD), ("Secret", fx.SECRET)} <= set(nodes)
    pod = nodes[("Pod", fx.CRASHING_POD)]
    assert pod["parentRefs"] == [{"group": "apps", "kind": "ReplicaSet", "namespace": fx.APP_NS,
                                  "name": fx.REPLICASET, "uid": "uid-rs"}]
    assert {"name": "Status Reason", "value": "CrashLoopBackOff"} in pod["info"]
    assert "group" not in pod and pod["health"]["status"] == "Degraded"
    assert not any(n["namespace"] == fx.OTHER_NS for n in nodes.values())


def test_resource_manifest_is_a_json_string_and_secrets_are_hidden(argocd_api):
    answer = get(argocd_api, f"{APP_PATH}/resource", resourceName=fx.DEPLOYMENT, namespace=fx.APP_NS,
                 kind="Deployment", group="apps", version="v1").json()
    assert set(answer) == {"manifest"} and json.loads(answer["manifest"])["metadata"]["uid"] == "uid-deploy"
    secret = json.loads(get(argocd_api, f"{APP_PATH}/resource", resourceName=fx.SECRET, namespace=fx.APP_NS,
                            kind="Secret", version="v1").json()["manifest"])
    assert secret["data"] == {"token": "++++++++"}
    other = get(argocd_api, f"{APP_PATH}/resource", resourceName=fx.OTHER_POD, namespace=fx.OTHER_NS, kind="Pod")
    assert other.status_code == 400 and "not found as part of application guestbook" in other.json()["message"]


def test_managed_resources_filter_and_carry_states_as_strings(argocd_api):
    items = get(argocd_api, f"{APP_PATH}/managed-resources").json()["items"]
    assert {i["name"] for i in items} == {fx.DEPLOYMENT, fx.SERVICE, fx.CONFIGMAP, fx.SECRET, fx.CRONJOB,
                                           fx.NETWORK_POLICY}
    (configmap,) = get(argocd_api, f"{APP_PATH}/managed-resources", kind="ConfigMap").json()["items"]
    assert configmap["modified"] is True and json.loads(configmap["liveState"])["data"]["LOG_LEVEL"] == "info"


def test_events_need_a_tree_node_and_the_app_has_its_own(argocd_api):
    own = get(argocd_api, f"{APP_PATH}/events").json()["items"]
    assert {e["reason"] for e in own} == {"OperationStarted", "OperationCompleted"}
    pod_events = get(argocd_api, f"{APP_PATH}/events", resourceName=fx.CRASHING_POD, resourceUID="uid-pod-2",
                     resourceNamespace=fx.APP_NS).json()["items"]
    assert {e["reason"] for e in pod_events} >= {"BackOff", "Unhealthy", "FailedScheduling"}
    assert all("kind" not in e and e["involvedObject"]["uid"] == "uid-pod-2" for e in pod_events)
    outside = get(argocd_api, f"{APP_PATH}/events", resourceName=fx.OTHER_POD, resourceUID="uid-billing-pod",
                  resourceNamespace=fx.OTHER_NS)
    assert outside.status_code == 400


def test_logs_stream_result_lines_and_end_with_last(argocd_api):
    body = get(argocd_api, f"{APP_PATH}/logs", podName=fx.CRASHING_POD, namespace=fx.APP_NS, container="web",
               tailLines=5, previous="true", follow="false").content
    entries = [line["result"] for line in log_lines(body)]
    assert entries[-1]["last"] is True and entries[-1]["content"] == ""
    assert [e["content"] for e in entries[:-1]] == fx.PREVIOUS_LOG.splitlines()[-5:]
    assert {e["podName"] for e in entries[:-1]} == {fx.CRASHING_POD}
    # a workload's Pods through the tree, and the legacy per-Pod path
    workload = [line["result"] for line in log_lines(get(argocd_api, f"{APP_PATH}/logs", kind="Deployment",
                                                         resourceName=fx.DEPLOYMENT, group="apps", tailLines=2,
                                                         namespace=fx.APP_NS).content)]
    assert {e["podName"] for e in workload if not e["last"]} == {fx.HEALTHY_POD, fx.CRASHING_POD}
    legacy = list(log_lines(get(argocd_api, f"{APP_PATH}/pods/{fx.HEALTHY_POD}/logs", tailLines=1).content))
    assert legacy[0]["result"]["content"] == fx.CURRENT_LOG.splitlines()[-1]


def test_log_failures_are_entries_without_a_pod_and_rbac_is_a_stream_error(argocd_api):
    entries = [line["result"] for line in log_lines(get(argocd_api, f"{APP_PATH}/logs", podName=fx.HEALTHY_POD,
                                                        previous="true").content)]
    assert entries[0]["podName"] == "" and "previous terminated container" in entries[0]["content"]
    denied = get(argocd_api, f"{APP_PATH}/logs", token=LIMITED_TOKEN, podName=fx.HEALTHY_POD)
    assert denied.status_code == 403
    assert denied.json()["error"]["http_code"] == 403 and denied.json()["error"]["message"].startswith(
        "permission denied: logs, get")


def test_writes_are_recorded_and_change_nothing():
    with start_argocd_api() as api:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        assert httpx.post(f"{api.url}{APP_PATH}/sync", json={"prune": True}, headers=headers).status_code == 200
        assert httpx.delete(f"{api.url}{APP_PATH}", headers=headers).json() == {}
        assert httpx.post(f"{api.url}{APP_PATH}/resource/actions", content=b'"restart"', headers=headers,
                          params={"kind": "Deployment", "resourceName": fx.DEPLOYMENT}).status_code == 200
        assert [(w.method, w.path) for w in api.writes()] == [
            ("POST", f"{APP_PATH}/sync"), ("DELETE", APP_PATH), ("POST", f"{APP_PATH}/resource/actions")]
        assert api.writes()[0].headers["authorization"] == f"Bearer {TOKEN}"
        assert get(api, APP_PATH).json()["metadata"]["name"] == fx.APP
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{api.url}/api/version", timeout=2)


def test_clusters_and_projects(argocd_api):
    clusters = get(argocd_api, "/api/v1/clusters").json()["items"]
    assert clusters[0]["server"] == "https://kubernetes.default.svc" and "bearerToken" not in json.dumps(clusters)
    assert get(argocd_api, "/api/v1/projects/payments").json()["metadata"]["name"] == "payments"
    assert get(argocd_api, "/api/v1/projects/none").status_code == 404


def test_tls_with_its_own_ca():
    with start_argocd_api(tls=True) as api:
        assert api.url.startswith("https://")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{api.url}/api/version", timeout=5)
        assert httpx.get(f"{api.url}/api/version", verify=api.ssl_context(), timeout=5).status_code == 200
