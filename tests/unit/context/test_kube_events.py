"""Pure functions over plain Kubernetes JSON that other modules build on: `group_events` and `clean_manifest`."""

from __future__ import annotations

import copy

from llama_stack_argocd.context.kube_events import group_events
from llama_stack_argocd.context.manifests import clean_manifest
from llama_stack_argocd.context.redaction import MASK


def core_event(reason, message, count, first, last, etype="Warning", pod="p1"):
    return {"apiVersion": "v1", "kind": "Event", "reason": reason, "message": message, "count": count, "type": etype,
            "firstTimestamp": first, "lastTimestamp": last, "involvedObject": {"kind": "Pod", "name": pod}}


def test_same_type_reason_and_message_form_one_group_with_summed_counts_and_span():
    groups = group_events([
        core_event("BackOff", "Back-off restarting failed container", 42, "2026-01-01T00:02:00Z",
                   "2026-01-01T00:40:00Z"),
        core_event("Pulled", "image present", 8, "2026-01-01T00:01:00Z", "2026-01-01T00:39:00Z", "Normal"),
        core_event("BackOff", "Back-off restarting failed container", 3, "2026-01-01T00:40:30Z",
                   "2026-01-01T00:41:00Z"),
    ])
    assert [(g.type, g.reason, g.count) for g in groups] == [("Warning", "BackOff", 45), ("Normal", "Pulled", 8)]
    backoff = groups[0]
    assert (backoff.first_seen, backoff.last_seen) == ("2026-01-01T00:02:00Z", "2026-01-01T00:41:00Z")
    assert backoff.object == "Pod/p1"
    assert backoff.render() == ("- Warning BackOff x45 (Pod/p1) last 2026-01-01T00:41:00Z: "
                                "Back-off restarting failed container")


def test_one_message_across_pods_is_one_group_naming_every_pod_most_recent_first():
    groups = group_events([
        core_event("Unhealthy", "Readiness probe failed", 5, "2026-01-01T00:00:00Z", "2026-01-01T00:05:00Z", pod="a"),
        core_event("Unhealthy", "Readiness probe failed", 7, "2026-01-01T00:00:00Z", "2026-01-01T00:09:00Z", pod="b"),
        core_event("Unhealthy", "Readiness probe failed", 1, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z", pod="c"),
    ])
    assert len(groups) == 1
    assert groups[0].count == 13 and groups[0].object == "Pod/b"
    assert groups[0].objects == ["Pod/b", "Pod/a", "Pod/c"]
    assert "(Pod/b and 2 more)" in groups[0].render()


def test_newest_first_by_time_not_by_text_and_warnings_first_at_the_same_time():
    groups = group_events([
        core_event("A", "whole second", 1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "Normal"),
        core_event("B", "half past", 1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01.500000Z", "Normal"),
        core_event("C", "same second, warning", 1, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z"),
    ])
    assert [g.reason for g in groups] == ["B", "C", "A"]


def test_events_k8s_io_v1_series_and_regarding_are_understood():
    modern = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "type": "Warning", "reason": "FailedMount",
              "note": "MountVolume.SetUp failed", "eventTime": "2026-01-01T00:00:00.000000Z",
              "series": {"count": 12, "lastObservedTime": "2026-01-01T00:10:00.000000Z"},
              "regarding": {"kind": "Pod", "name": "db-0"}}
    (group,) = group_events([modern])
    assert (group.message, group.count, group.object) == ("MountVolume.SetUp failed", 12, "Pod/db-0")
    assert group.last_seen == "2026-01-01T00:10:00.000000Z" and group.first_seen == "2026-01-01T00:00:00.000000Z"


def test_no_events_no_groups():
    assert group_events([]) == []


def test_clean_manifest_drops_noise_keeps_evidence_and_leaves_the_input_alone():
    obj = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "uid": "u", "resourceVersion": "9", "generation": 4,
                     "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": "web"},
                     "managedFields": [{"manager": "kubectl"}],
                     "ownerReferences": [{"kind": "Thing", "name": "t"}],
                     "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                     "deployment.kubernetes.io/revision": "3",
                                     "argocd.argoproj.io/sync-wave": "2"}},
        "spec": {"replicas": 2}, "status": {"conditions": [{"type": "Available", "status": "False"}]},
    }
    original = copy.deepcopy(obj)
    cleaned = clean_manifest(obj)
    assert obj == original
    meta = cleaned["metadata"]
    for noise in ("managedFields", "uid", "resourceVersion", "generation"):
        assert noise not in meta
    assert meta["annotations"] == {"argocd.argoproj.io/sync-wave": "2"}
    assert meta["labels"] == {"app": "web"} and meta["ownerReferences"] and meta["creationTimestamp"]
    assert cleaned["spec"] == obj["spec"] and cleaned["status"] == obj["status"]


def test_clean_manifest_removes_an_annotations_map_left_empty():
    cleaned = clean_manifest({"kind": "ConfigMap", "metadata": {
        "name": "c", "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}}})
    assert "annotations" not in cleaned["metadata"]


def test_clean_manifest_keeps_only_the_keys_of_a_secret():
    cleaned = clean_manifest({"kind": "Secret", "metadata": {"name": "s"}, "data": {"a": "eA==", "b": "eQ=="},
                              "stringData": {"c": "plain"}})
    assert cleaned["data"] == {"a": MASK, "b": MASK} and cleaned["stringData"] == {"c": MASK}
