"""The context domain on its own: redaction, event grouping, Application scope, Kubernetes error handling."""

from __future__ import annotations

import socket
import time

import pytest

from llama_stack_argocd.context.errors import AccessDenied, NotFound, OutOfScope, Unavailable
from llama_stack_argocd.context.kube_events import group_events
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.application_scope import ApplicationScope, fetch_in_scope
from llama_stack_argocd.context.redaction import RedactionFilter, Redactor
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.settings import ContextSettings
from tests.support.cluster import write_kubeconfig

SECRETS = {
    "jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU",
    "bearer": "Authorization: Bearer abcdef0123456789xyz",
    "url": "redis://default:p4ssw0rd-in-url@redis:6379/0",
    "pair": "connecting with password=correct-horse-battery",
    "aws": "key AKIAIOSFODNN7EXAMPLE in use",
    "pem": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----",
}


@pytest.mark.parametrize("name", sorted(SECRETS))
def test_secrets_in_text_are_redacted(name):
    redactor = Redactor()
    out = redactor.redact_text(SECRETS[name])
    for fragment in ("eyJzdWIi", "abcdef0123456789xyz", "p4ssw0rd-in-url", "correct-horse", "AKIAIOSFODNN7", "MIIEvQ"):
        assert fragment not in out
    assert "[REDACTED]" in out and redactor.count >= 1


def test_harmless_text_is_left_alone():
    text = "GET /api/entries status=200 duration=12ms key=value token-count=3 user=admin"
    redactor = Redactor()
    assert redactor.redact_text(text) == text and redactor.count == 0


def test_objects_are_redacted_by_structure_without_touching_the_input():
    secret = {"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="}}
    pod = {"kind": "Pod", "spec": {"containers": [{"env": [
        {"name": "DB_PASSWORD", "value": "x"}, {"name": "API_KEY", "value": "y"},
        {"name": "LOG_LEVEL", "value": "debug"}, {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "s"}}}]}]}}
    redactor = Redactor()
    out_secret, out_pod = redactor.redact_obj(secret), redactor.redact_obj(pod)
    assert out_secret["data"] == {"a": "[REDACTED]", "b": "[REDACTED]"} and secret["data"]["a"] == "eA=="
    env = {e["name"]: e for e in out_pod["spec"]["containers"][0]["env"]}
    assert env["DB_PASSWORD"]["value"] == env["API_KEY"]["value"] == "[REDACTED]"
    assert env["LOG_LEVEL"]["value"] == "debug" and "valueFrom" in env["TOKEN"]
    assert redactor.count == 4


def test_operator_filters_apply_too():
    redactor = Redactor([RedactionFilter(pattern=r"cust-\d{6}", replace_with="<customer>")])
    assert redactor.redact_text("order for cust-123456") == "order for <customer>"


def event(reason, message, count, last, etype="Warning", name="p"):
    return {"reason": reason, "message": message, "count": count, "type": etype, "lastTimestamp": last,
            "firstTimestamp": "2026-01-01T00:00:00Z", "involvedObject": {"kind": "Pod", "name": name}}


def test_events_group_with_counts_newest_first():
    groups = group_events([
        event("BackOff", "restarting", 3, "2026-01-01T00:05:00Z"),
        event("Pulled", "pulled", 1, "2026-01-01T00:01:00Z", "Normal"),
        event("BackOff", "restarting", 4, "2026-01-01T00:09:00Z"),
    ])
    assert [(g.reason, g.count, g.last_seen) for g in groups] == [
        ("BackOff", 7, "2026-01-01T00:09:00Z"), ("Pulled", 1, "2026-01-01T00:01:00Z")]
    assert groups[0].render().startswith("- Warning BackOff x7 (Pod/p)")


APPLICATION = {
    "spec": {"destination": {"namespace": "web"}},
    "status": {"resources": [{"group": "apps", "kind": "Deployment", "namespace": "web", "name": "front"}]},
}


class FakeSource:
    """Objects by (kind, namespace, name); records every read."""

    def __init__(self, objects):
        self.objects, self.reads = objects, []

    async def get(self, kind, namespace, name):
        self.reads.append((kind, namespace, name))
        if (kind, namespace, name) not in self.objects:
            raise NotFound(f"{kind} {name}")
        return self.objects[kind, namespace, name]

    async def get_metadata(self, kind, namespace, name):
        self.reads.append(("metadata", kind, namespace, name))
        if (kind, namespace, name) not in self.objects:
            raise NotFound(f"{kind} {name}")
        obj = self.objects[kind, namespace, name]
        return {"kind": obj.get("kind"), "apiVersion": obj.get("apiVersion"), "metadata": obj.get("metadata") or {}}


def owned(kind, name, owner_kind, owner_name, api="apps/v1"):
    return {"kind": kind, "metadata": {"name": name, "namespace": "web",
            "ownerReferences": [{"kind": owner_kind, "name": owner_name, "apiVersion": api, "controller": True}]}}


async def test_scope_follows_owner_references_and_refuses_the_rest():
    source = FakeSource({
        ("Deployment", "web", "front"): {"kind": "Deployment", "metadata": {"name": "front", "namespace": "web"}},
        ("ReplicaSet", "web", "front-1"): owned("ReplicaSet", "front-1", "Deployment", "front"),
        ("Pod", "web", "front-1-a"): owned("Pod", "front-1-a", "ReplicaSet", "front-1"),
        ("Pod", "web", "stray"): {"kind": "Pod", "metadata": {"name": "stray", "namespace": "web"}},
    })
    scope = ApplicationScope(AppRef(namespace="argocd", name="shop"), APPLICATION)
    pod = await fetch_in_scope(source, scope, ResourceRef(kind="pod", name="front-1-a"))
    assert pod["metadata"]["name"] == "front-1-a"
    with pytest.raises(OutOfScope, match="argocd:shop"):
        await fetch_in_scope(source, scope, ResourceRef(kind="Pod", name="stray"))
    source.reads.clear()
    with pytest.raises(OutOfScope):
        await fetch_in_scope(source, scope, ResourceRef(kind="Secret", name="db", namespace="payments"))
    assert source.reads == []  # another namespace: refused before any read


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_unreachable_api_is_unavailable_quickly():
    kubeconfig = write_kubeconfig(f"http://127.0.0.1:{closed_port()}")
    source = KubernetesSource(ContextSettings(kubeconfig=kubeconfig, request_timeout_seconds=2))
    start = time.monotonic()
    with pytest.raises(Unavailable, match="unreachable"):
        await source.get("Pod", "web", "x")
    assert time.monotonic() - start < 5


async def test_forbidden_and_missing_map_to_clear_errors(cluster):
    import kmock

    cluster.emulator["get /api/v1/namespaces/guestbook/secrets/forbidden"] << 403 << {"kind": "Status", "code": 403}
    source = KubernetesSource(ContextSettings(kubeconfig=cluster.kubeconfig_path))
    with pytest.raises(AccessDenied, match="service account"):
        await source.get("Secret", "guestbook", "forbidden")
    with pytest.raises(NotFound):
        await source.get("Pod", "guestbook", "no-such-pod")
    assert kmock  # the stand-in's own library drives the 403


async def test_no_kubeconfig_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    source = KubernetesSource(ContextSettings(kubeconfig=str(tmp_path / "missing")))
    with pytest.raises(Unavailable, match="No Kubernetes API"):
        await source.get("Pod", "web", "x")


async def test_a_secret_outside_the_application_is_refused_on_metadata_alone():
    """Least privilege: deciding that a Secret is not the Application's never reads its content."""
    source = FakeSource({
        ("Secret", "web", "other-db"): {"kind": "Secret", "apiVersion": "v1", "data": {"password": "c2VjcmV0"},
                                        "metadata": {"name": "other-db", "namespace": "web"}},
        ("Secret", "web", "sealed"): {**owned("Secret", "sealed", "Deployment", "front"), "data": {"k": "dg=="}},
    })
    scope = ApplicationScope(AppRef(namespace="argocd", name="shop"), APPLICATION)
    with pytest.raises(OutOfScope):
        await fetch_in_scope(source, scope, ResourceRef(kind="Secret", name="other-db"))
    assert source.reads == [("metadata", "Secret", "web", "other-db")]
    source.reads.clear()
    found = await fetch_in_scope(source, scope, ResourceRef(kind="Secret", name="sealed"))  # owned by a member
    assert found["data"] == {"k": "dg=="}
    # and the listed owner's metadata: its tracking annotation must say it is the caller's
    assert source.reads == [("metadata", "Secret", "web", "sealed"), ("metadata", "Deployment", "web", "front"),
                            ("Secret", "web", "sealed")]


async def test_owners_are_followed_on_metadata_only():
    source = FakeSource({
        ("ReplicaSet", "web", "front-1"): owned("ReplicaSet", "front-1", "Deployment", "other"),
        ("Deployment", "web", "other"): {"kind": "Deployment", "spec": {"x": 1},
                                         "metadata": {"name": "other", "namespace": "web"}},
        ("Pod", "web", "p"): owned("Pod", "p", "ReplicaSet", "front-1"),
    })
    with pytest.raises(OutOfScope):
        await fetch_in_scope(source, ApplicationScope(AppRef(namespace="argocd", name="shop"), APPLICATION), ResourceRef(kind="Pod", name="p"))
    assert [r for r in source.reads if r[0] != "metadata"] == [("Pod", "web", "p")]
