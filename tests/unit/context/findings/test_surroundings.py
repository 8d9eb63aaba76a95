"""Findings about networking, storage and Argo CD that name the objects around the failing one: the class an Ingress
asks for, the claim a volume error is about, the Services that do exist when a name does not, the policy that drops
the traffic, the keys a ConfigMap has, and the innermost cause of a long wrapped error."""

from __future__ import annotations

from llama_stack_argocd.context.findings import analyze, render_findings
from llama_stack_argocd.context.findings.base import clip

NS = "payments"


def only(findings, code):
    matching = [f for f in findings if f.code == code]
    assert len(matching) == 1, render_findings(findings)
    return matching[0]


def warning(kind, name, reason, message, type_="Warning"):
    return {"kind": "Event", "type": type_, "reason": reason, "message": message, "count": 3,
            "involvedObject": {"kind": kind, "name": name, "namespace": NS}, "lastTimestamp": "2025-02-01T10:00:00Z"}


def application(*resources, health="Progressing"):
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {"name": "ledger",
            "namespace": "argocd"}, "spec": {"destination": {"namespace": NS}}, "status": {"health": {"status": health}, "sync": {"status": "Synced"},
            "resources": [{"kind": k, "namespace": NS, "name": n, "health": {"status": h}} for k, n, h in resources]}}


def service(name, selector=None, ip="10.96.7.7"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": NS},
            "spec": {"clusterIP": ip, "selector": selector or {"app": name}, "ports": [{"port": 80, "targetPort": 9000}]}}


def ingress(name, backend, class_name="traefik-edge", address=False):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": NS},
            "spec": {"ingressClassName": class_name, "rules": [{"host": "ledger.example.org", "http": {"paths": [
                {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": backend, "port": {"number": 80}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9"}]} if address else {}}}


def test_an_ingress_without_an_address_names_its_class_and_whether_the_class_exists():
    app = application(("Ingress", "portal", "Progressing"))
    f = only(analyze([app, ingress("portal", "portal")]), "ApplicationProgressing")
    assert "class=traefik-edge" in f.detail
    classes = [{"apiVersion": "networking.k8s.io/v1", "kind": "IngressClass", "metadata": {"name": "traefik"}}]
    f = only(analyze([app, ingress("portal", "portal"), *classes]), "ApplicationProgressing")
    assert "class=traefik-edge" in f.detail and "no IngressClass traefik-edge" in f.detail and "traefik" in f.detail
    legacy = ingress("portal", "portal", class_name="")
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "haproxy-dmz"}
    assert "class=haproxy-dmz" in only(analyze([app, legacy]), "ApplicationProgressing").detail


def test_a_pending_claim_quotes_its_events_even_normal_ones_and_says_it_waits_for_a_pod():
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "wal-ledger-1", "namespace": NS},
             "spec": {"storageClassName": "topolvm", "accessModes": ["ReadWriteOnce"]}, "status": {"phase": "Pending"}}
    msg = "waiting for first consumer to be created before binding"
    f = only(analyze([claim, warning("PersistentVolumeClaim", "wal-ledger-1", "WaitForFirstConsumer", msg,
                                     "Normal")]), "PVCPending")
    assert msg in f.detail and "Pod" in f.detail
    assert f.severity.value == "warning"  # the Pod that would consume it is what to look at
    f = only(analyze([claim, warning("PersistentVolumeClaim", "wal-ledger-1", "ProvisioningFailed",
                                     "storageclass.storage.k8s.io \"topolvm\" not found")]), "PVCPending")
    assert f.severity.value == "critical" and "topolvm" in f.detail


def test_a_multi_attach_error_names_the_claim_and_its_access_mode():
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ledger-7c9d-abcde", "namespace": NS},
           "spec": {"containers": [{"name": "ledger", "image": "ledger:2"}],
                    "volumes": [{"name": "store", "persistentVolumeClaim": {"claimName": "ledger-store"}}]},
           "status": {"phase": "Pending"}}
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "ledger-store", "namespace": NS},
             "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pvc-0a1b2c3d"}, "status": {"phase": "Bound"}}
    msg = ('Multi-Attach error for volume "pvc-0a1b2c3d" Volume is already exclusively attached to one node and '
           "can't be attached to another")
    ev = warning("Pod", "ledger-7c9d-abcde", "FailedAttachVolume", msg)
    for objects in ([pod, claim, ev], [claim, ev]):  # the Pod itself read, or only its event
        f = only(analyze(objects), "VolumeMountFailed")
        said = f.detail + " ".join(f.evidence[:2])
        assert "ReadWriteOnce" in said and "ledger-store" in said, render_findings([f])


def test_a_name_that_does_not_resolve_lists_the_services_there_closest_first():
    app = application(("Service", "orders-cache-primary", "Healthy"), ("Service", "orders-api", "Healthy"),
                      ("Deployment", "checkout", "Healthy"), health="Healthy")
    logs = [("checkout-5f6g7h-xyz12", "Error: getaddrinfo ENOTFOUND cache-primary")]
    f = only(analyze([app], logs), "DNSResolutionFailed")
    shown = f.detail[:300]  # what the diagnosis block shows of it
    assert f"no Service {NS}/cache-primary" in shown
    assert shown.index(f"Service {NS}/orders-cache-primary") < shown.index(f"Service {NS}/orders-api")
    external = [("checkout-5f6g7h-xyz12", "Error: getaddrinfo ENOTFOUND api.partner.example.org")]
    assert "Service" not in only(analyze([app], external), "DNSResolutionFailed").detail.partition(":")[0]


def test_a_missing_ingress_backend_lists_the_services_there_closest_first():
    objects = [ingress("billing", "billing-svc", address=True), service("frontend"), service("billing", ip="10.96.7.8")]
    f = only(analyze(objects), "IngressBackendMissing")
    said = f.detail + " ".join(f.evidence)
    assert f"Service {NS}/billing" in said and said.index(f"Service {NS}/billing") < said.index(f"Service {NS}/frontend")
    app = application(("Service", "billing", "Healthy"), ("Service", "frontend", "Healthy"), health="Healthy")
    f = only(analyze([app, ingress("billing", "billing-svc", address=True), service("frontend")]),
             "IngressBackendMissing")
    assert f"Service {NS}/billing" in f.detail  # known from the Application, though not read


def test_a_policy_that_drops_the_traffic_names_the_peers_it_allows():
    client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reports-1", "namespace": NS,
              "labels": {"app": "reports"}}, "spec": {"containers": [{"name": "r"}]}, "status": {"podIP": "10.244.3.3"}}
    backend = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ledger-1", "namespace": NS,
               "labels": {"app": "ledger"}}, "spec": {"containers": [{"name": "l", "ports": [{"containerPort": 9000}]}]},
               "status": {"podIP": "10.244.4.4"}}
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
              "metadata": {"name": "ledger-only-edge", "namespace": NS},
              "spec": {"podSelector": {"matchLabels": {"app": "ledger"}}, "policyTypes": ["Ingress"],
                       "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "edge-proxy"}}}],
                                    "ports": [{"protocol": "TCP", "port": 9000}]}]}}
    logs = [("reports-1", "request failed: connect ETIMEDOUT 10.96.7.9:80")]
    f = only(analyze([client, backend, service("ledger", ip="10.96.7.9"), policy], logs), "NetworkPolicyBlocking")
    said = f.title + f.detail + " ".join(f.evidence[:2])
    assert "ledger-only-edge" in said and "tier=edge-proxy" in said


def test_a_long_wrapped_error_keeps_its_whole_last_cause():
    msg = ("rpc error: code = Unknown desc = `helm template .` failed exit status 1: " + "# Notice: deprecated. " * 40
           + "Error: loading chart: reading dependencies of 'charts/platform-cache' for release 'ledger-prod': "
           "stat '/srv/checkout/0123456789abcdef/charts/platform-cache': lstat: directory "
           "'/repo/charts/cache/subchart' has no Chart.yaml, expected one of 'Chart.yaml' or 'Chart.yml' in it")
    out = clip(msg, 300)
    assert len(out) <= 300 and out.startswith("rpc error")
    assert "directory '/repo/charts/cache/subchart' has no Chart.yaml, expected one of 'Chart.yaml' or 'Chart.yml' in it" in out
    assert "Error: loading chart" in out
