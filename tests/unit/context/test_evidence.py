"""`context/evidence.py` against the Kubernetes stand-in over real HTTP: what is picked, read, redacted and fitted
before the model's first round, that every read stays inside the caller's Application, and that a failing read
leaves the rest of the evidence."""

from __future__ import annotations

from collections import Counter

import kmock
import pytest

from llama_stack_argocd.context.evidence import EvidenceGatherer, EvidenceSettings, focus_of, named_in, pick_targets
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from tests.support import cluster as fx

APP = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
OTHER = AppRef(namespace=fx.ARGOCD_NS, name=fx.OTHER_APP)
LOST = "guestbook-ui-5d8f7c9b6-lost1"


def gatherer_for(handle, **settings) -> EvidenceGatherer:
    config = ContextSettings(kubeconfig=handle.kubeconfig_path, **settings)
    return EvidenceGatherer(ContextService(KubernetesSource(config), config))


def paths(handle, since: int) -> list[str]:
    return [p.split("//", 1)[-1].partition("/")[2] for p in handle.paths_since(since)]


async def test_the_crash_evidence_is_read_redacted_and_fitted_findings_first(cluster):
    gatherer = gatherer_for(cluster)
    evidence = await gatherer.gather(APP, budget_tokens=1500)
    assert evidence.tokens <= 1500
    text = evidence.text
    assert fx.CRASH_LINE in text  # the previous instance's log
    assert "BackOff" in text and "CrashLoopBackOff" in text  # the event, the container state
    assert 'ConfigMap "guestbook-config" is invalid' in text  # the failed sync result
    assert text.index("## Findings") < text.index("## Logs")
    assert 'container "web" in CrashLoopBackOff' in [f.title for f in evidence.findings]
    assert [secret for secret in fx.PLANTED if secret in text] == [] and evidence.redactions > 0
    assert any(r.startswith(f"Deployment {fx.APP_NS}/{fx.DEPLOYMENT}") for r in evidence.read)


async def test_a_small_budget_still_holds_the_crash_line(cluster):
    evidence = await gatherer_for(cluster).gather(APP, budget_tokens=700)
    assert evidence.tokens <= 700 and evidence.truncated
    assert fx.CRASH_LINE in evidence.text


async def test_the_focused_resource_comes_first_and_the_count_is_bounded(cluster):
    gatherer = gatherer_for(cluster)
    gatherer.settings = EvidenceSettings(max_resources=1)
    collected = await gatherer.collect(APP, focus=ResourceRef(kind="Pod", name=fx.CRASHING_POD))
    assert [str(r.target.ref) for r in collected.reads] == [f"Pod {fx.CRASHING_POD}"]
    evidence = gatherer.render(collected, 1500)
    assert f"# Context for Pod {fx.APP_NS}/{fx.CRASHING_POD}" in evidence.text
    assert fx.CRASH_LINE in evidence.text


async def test_the_resource_a_question_names_is_the_focus(cluster):
    collected = await gatherer_for(cluster).collect(APP, question="is guestbook-config why sync fails?")
    assert collected.reads[0].target.ref.name == fx.CONFIGMAP
    collected = await gatherer_for(cluster).collect(APP, question=f"what about Pod/{fx.CRASHING_POD}?")
    assert collected.reads[0].target.ref == ResourceRef(kind="Pod", name=fx.CRASHING_POD)


def test_targets_focused_then_failed_sync_then_unhealthy_then_out_of_sync():
    application = fx._application()
    targets = pick_targets(application, ResourceRef(kind="Service", name=fx.SERVICE), limit=10)
    assert [(t.ref.kind, t.ref.name) for t in targets] == [
        ("Service", fx.SERVICE), ("ConfigMap", fx.CONFIGMAP), ("Deployment", fx.DEPLOYMENT)]
    assert targets[1].why.startswith("sync failed: ConfigMap")
    hook = {**application, "status": {**application["status"], "resources": [], "operationState": {
        "phase": "Failed", "syncResult": {"resources": [{"kind": "Job", "namespace": fx.APP_NS, "name": "migrate",
                                                         "hookType": "PreSync", "hookPhase": "Failed",
                                                         "message": "Job has reached the specified backoff limit"}]}}}}
    assert [(t.ref.name, t.why) for t in pick_targets(hook, None, 4)] == [
        ("migrate", "hook Failed: Job has reached the specified backoff limit")]
    assert len(pick_targets(application, None, limit=1)) == 1


def test_focus_and_names_come_from_the_manifest_and_the_question():
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "shop"}}
    assert focus_of(manifest) == ResourceRef(kind="Deployment", name="web", namespace="shop", group="apps")
    assert focus_of({"kind": "Deployment"}) is None and focus_of("not a manifest") is None
    application = {"status": {"resources": [{"kind": "Service", "name": "web"},
                                            {"kind": "Deployment", "name": "web-db", "namespace": "shop"}]}}
    assert named_in("why does web-db crash?", application) == ResourceRef(kind="Deployment", name="web-db",
                                                                          namespace="shop")
    assert named_in("Service/web down?", application) == ResourceRef(kind="Service", name="web")
    assert named_in("why is it failing?", application) is None


async def test_nothing_outside_the_application_is_read(cluster):
    gatherer = gatherer_for(cluster)
    before = cluster.request_count()
    for focus in (ResourceRef(kind="Pod", name=fx.OTHER_POD, namespace=fx.OTHER_NS),
                  ResourceRef(kind="Secret", name=fx.OTHER_SECRET, namespace=fx.OTHER_NS),
                  ResourceRef(kind="Application", name=fx.OTHER_APP, namespace=fx.ARGOCD_NS)):
        evidence = await gatherer.gather(APP, 1500, focus=focus)
        assert any("is not part of Argo CD Application argocd:guestbook" in p for p in evidence.not_read)
    read = paths(cluster, before)
    assert not [p for p in read if f"/namespaces/{fx.OTHER_NS}/" in p or p.endswith(f"applications/{fx.OTHER_APP}")]
    assert fx.OTHER_SECRET_VALUE not in evidence.text


async def test_each_object_is_read_once_by_the_evidence_and_the_tools_after_it(cluster):
    """The tools of the same turn are answered from the reads the evidence made (a fresh service: a cold cache)."""
    gatherer = gatherer_for(cluster, read_cache_seconds=60)
    service = gatherer.service
    before = cluster.request_count()
    await gatherer.gather(APP, 1500)
    gathered = len(paths(cluster, before))
    deployment, crashing = ResourceRef(kind="Deployment", name=fx.DEPLOYMENT), ResourceRef(kind="Pod",
                                                                                         name=fx.CRASHING_POD)
    await service.application(APP)
    await service.containers(APP, deployment)
    await service.events(APP, deployment)
    logs = await service.logs(APP, crashing, previous=True, tail_lines=100)
    assert fx.CRASH_LINE in logs["logs"][0]["log"]
    read = paths(cluster, before)
    assert gathered >= 5 and len(read) == gathered  # nothing the tools asked for was read a second time
    assert {p: n for p, n in Counter(read).items() if n > 1} == {}


async def test_with_the_cache_off_the_tools_read_again(cluster):
    gatherer = gatherer_for(cluster, read_cache_seconds=0)
    await gatherer.gather(APP, 1500)
    before = cluster.request_count()
    await gatherer.service.application(APP)
    assert paths(cluster, before) == [f"apis/argoproj.io/v1alpha1/namespaces/{fx.ARGOCD_NS}/applications/{fx.APP}"]


async def test_an_application_argo_cd_calls_healthy_gets_its_workloads_read(cluster):
    """Nothing is Degraded or out of sync, yet the user asks: what runs (its current log, events) is where it shows."""
    evidence = await gatherer_for(cluster).gather(OTHER, 1500)
    assert f"- Read: Pod {fx.OTHER_NS}/{fx.OTHER_POD} (a workload of the Application" in evidence.text
    assert "billing-api ready" in evidence.text  # its current log
    assert fx.OTHER_SECRET_VALUE not in evidence.text and evidence.redactions >= 1


@pytest.fixture(scope="module")
def failing():
    """A stand-in whose Events listing answers 500, with a second crashing Pod whose log read fails."""
    def seed(emulator):
        status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 500,
                  "message": "etcdserver: request timed out"}
        emulator[f"get /api/v1/namespaces/{fx.APP_NS}/events"] << 500 << status
        emulator.objects[kmock.resource("", "v1", "pods"), fx.APP_NS, LOST] = fx._web_pod(LOST, "uid-lost", True)
        emulator[f"get /api/v1/namespaces/{fx.APP_NS}/pods/{LOST}/log"] << 500 << status

    with fx.start_cluster(seed=seed) as handle:
        yield handle


async def test_a_failing_read_is_reported_not_read_and_the_rest_is_kept(failing):
    evidence = await gatherer_for(failing).gather(APP, 1500)
    assert "CrashLoopBackOff" in evidence.text  # the Pod was read
    assert any(p.startswith(f"the events of Deployment {fx.APP_NS}/{fx.DEPLOYMENT}") for p in evidence.not_read)
    assert any(p.startswith(f"the previous log of {LOST}/web") for p in evidence.not_read)
    assert "- Not read: the previous log of" in evidence.text
    assert fx.CRASH_LINE in evidence.text  # the other crashed Pod's log was read all the same


async def test_an_unreachable_cluster_gives_a_note_not_an_error():
    from tests.unit.context.test_domain import closed_port

    config = ContextSettings(kubeconfig=None, request_timeout_seconds=1)
    source = KubernetesSource(config)
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = f"http://127.0.0.1:{closed_port()}"
    source._client = client.ApiClient(configuration)
    evidence = await EvidenceGatherer(ContextService(source, config)).gather(APP, 1500)
    assert evidence.read == () and evidence.not_read and evidence.not_read[0].startswith("Application argocd:guestbook")
    assert "Not read: Application argocd:guestbook" in evidence.text


async def test_the_same_evidence_through_the_argocd_api_each_read_once(argocd_api):
    from llama_stack_argocd.context.argocd_api import ArgoCDSource
    from tests.support.argocd_api import TOKEN

    settings = ContextSettings(source="argocd", argocd={"server_url": argocd_api.url, "api_token": TOKEN})
    gatherer = EvidenceGatherer(ContextService(ArgoCDSource(settings), settings))
    before = argocd_api.request_count()
    evidence = await gatherer.gather(APP, 1500)
    assert fx.CRASH_LINE in evidence.text and "BackOff" in evidence.text and "CrashLoopBackOff" in evidence.text
    assert [secret for secret in fx.PLANTED if secret in evidence.text] == []
    read = argocd_api.paths_since(before)
    assert read and all(f"/applications/{fx.APP}" in p for p in read)  # only the caller's Application
    assert {p: n for p, n in Counter(read).items() if n > 1} == {}


async def test_with_the_cache_off_one_gathering_still_reads_each_object_once(cluster):
    gatherer = gatherer_for(cluster, read_cache_seconds=0)
    before = cluster.request_count()
    evidence = await gatherer.gather(APP, 1500)
    read = paths(cluster, before)
    assert fx.CRASH_LINE in evidence.text and {p: n for p, n in Counter(read).items() if n > 1} == {}


async def test_the_same_reads_render_once_and_a_change_renders_again(cluster):
    gatherer = gatherer_for(cluster)
    collected = await gatherer.collect(APP)
    first = gatherer.render(collected, 1500)
    assert gatherer.render(collected, 1500) is first  # another turn or user with the same reads
    assert gatherer.render(collected, 900) is not first  # another budget: fitted again
    collected.reads[-1].events = collected.reads[-1].events[1:]  # something changed on the cluster
    changed = gatherer.render(collected, 1500)
    assert changed is not first and changed.fingerprint != first.fingerprint


def _attached(lines: int) -> list:
    """What the extension would attach about the guestbook Deployment: its manifest, an event, and a long
    current log of distinct lines (nothing collapses) ending in a line only the attachment holds."""
    from llama_stack_argocd.agent.attachments import Attachment, AttachmentKind

    manifest = {"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": fx.DEPLOYMENT, "namespace": fx.APP_NS}, "spec": {"replicas": 2}}
    events = {"items": [{"kind": "Event", "metadata": {"name": "e1", "namespace": fx.APP_NS},
                         "involvedObject": {"kind": "Deployment", "name": fx.DEPLOYMENT}, "type": "Normal",
                         "reason": "ScalingReplicaSet", "message": "Scaled up replica set to 2 (attached)"}]}
    log = [{"result": {"content": f"2026-11-25T07:{i // 60 % 60:02d}:{i % 60:02d}Z INFO worker {i} took job "
                       f"{i * 7919 % 100003} from queue q{i % 97}", "podName": fx.CRASHING_POD}}
           for i in range(lines)]
    log.append({"result": {"content": "2026-11-25T08:00:00Z WARN attached-only: cache warmup skipped",
                           "podName": fx.CRASHING_POD}})
    import json

    return [Attachment(kind=AttachmentKind.MANIFEST, content=json.dumps(manifest)),
            Attachment(kind=AttachmentKind.EVENTS, content=json.dumps(events)),
            Attachment(kind=AttachmentKind.LOGS, content=json.dumps(log))]


async def test_large_attachments_do_not_crowd_out_the_evidence_read(cluster):
    """An 8k-window model, and attachments that alone would fill the attachments' room: the crash line of the
    previous log (which only the agent reads) is still in the first message, beside the attachment's own lines."""
    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.context.redaction import Redactor

    gatherer = gatherer_for(cluster)
    collected = await gatherer.collect(APP, ResourceRef(kind="Deployment", name=fx.DEPLOYMENT, namespace=fx.APP_NS))
    composer = ContextComposer(Redactor, default_context_window=8192)
    budget = composer.budget(None)
    room = composer.allocation(budget, "", 0).attachments
    composed = composer.compose("Why is it failing?", _attached(1500), set(), None)
    assert fx.CRASH_LINE not in composed.text  # the attachments alone do not have it
    evidence = composer.add_evidence(composed, gatherer, collected, budget, room, set())
    assert evidence is not None
    assert fx.CRASH_LINE in composed.text and "attached-only: cache warmup skipped" in composed.text
    assert budget.count(composed.text) <= room
    assert composed.text.count(f"## Manifest: Deployment {fx.APP_NS}/{fx.DEPLOYMENT}") == 1  # read and attached: once
    assert composed.text.count("# Context for") == 1  # one digest over both
    # the attachments' own findings lead the diagnosis block, the evidence's follow them
    assert 'container "web" in CrashLoopBackOff' in [f.title for f in [*composed.findings, *evidence.findings]]


async def test_an_attached_event_or_log_line_already_read_is_not_repeated(cluster):
    gatherer = gatherer_for(cluster)
    collected = await gatherer.collect(APP, ResourceRef(kind="Pod", name=fx.CRASHING_POD))
    read_event = next(e for r in collected.reads for e in r.events)
    read_line = next(line for r in collected.reads for *_, text in r.logs for line in text.splitlines() if line)
    from llama_stack_argocd.context.evidence import Attached

    plain = gatherer.render(collected, 6000)
    merged = gatherer.render(collected, 6000, attached=Attached(
        events=(read_event,), logs=[{"result": {"content": read_line, "podName": fx.CRASHING_POD}},
                                    {"result": {"content": "only attached", "podName": fx.CRASHING_POD}}]))
    assert merged.text.count(read_event["message"][:60]) == plain.text.count(read_event["message"][:60])
    assert "only attached" in merged.text and "only attached" not in plain.text
    assert merged.text.count(read_line[-40:]) == plain.text.count(read_line[-40:])


async def test_a_log_longer_than_asked_is_cut_to_its_last_lines(cluster):
    """The stand-in, like a proxy that drops tailLines, answers with the whole log: the evidence keeps its tail."""
    gatherer = gatherer_for(cluster)
    gatherer.settings = EvidenceSettings(log_lines=3, scan_lines=0)
    collected = await gatherer.collect(APP)
    logs = [text for r in collected.reads for *_, text in r.logs]
    assert logs and all(len(text.splitlines()) <= 3 for text in logs)
    assert any("ConnectionRefusedError: [Errno 111] Connection refused" in text for text in logs)  # the last line


async def test_the_errors_before_the_last_lines_are_kept_the_rest_of_the_log_is_not(cluster):
    gatherer = gatherer_for(cluster)
    gatherer.settings = EvidenceSettings(log_lines=3)
    collected = await gatherer.collect(APP, ResourceRef(kind="Pod", name=fx.CRASHING_POD))
    previous = [text for r in collected.reads for _, _, was, text in r.logs if was]
    assert previous and all(fx.CRASH_LINE in text for text in previous)  # seven lines before the end: kept
    assert all(fx.STAND_IN_HEALTHY_LINE not in text and "earlier lines omitted" in text for text in previous)


async def test_a_shorter_tail_of_a_log_read_longer_is_answered_from_the_cache(cluster):
    gatherer = gatherer_for(cluster, read_cache_seconds=60)
    source = gatherer.service.bound(APP)
    long = await source.log(fx.APP_NS, fx.HEALTHY_POD, fx.CONTAINER, 500, False)
    before = cluster.request_count()
    short = await gatherer.service.bound(APP).log(fx.APP_NS, fx.HEALTHY_POD, fx.CONTAINER, 20, False)
    assert cluster.request_count() == before  # not read again
    assert short.splitlines() == long.splitlines()[-20:]
    wider = await gatherer.service.bound(APP).log(fx.APP_NS, fx.HEALTHY_POD, fx.CONTAINER, 800, False)
    assert cluster.request_count() == before + 1 and wider  # a longer tail than was read is read


async def test_the_embedded_model_reads_a_shorter_evidence_unless_configured(cluster):
    from llama_stack_argocd.agent.composer import ContextComposer
    from llama_stack_argocd.context.evidence import KNOWN_EVIDENCE_TOKENS
    from llama_stack_argocd.context.redaction import Redactor

    gatherer = gatherer_for(cluster)
    collected = await gatherer.collect(APP)
    composer = ContextComposer(Redactor)
    sizes = {}
    for model, settings in (("embedded/smollm2", EvidenceSettings()), ("other/model", EvidenceSettings()),
                            ("embedded/smollm2", EvidenceSettings(max_tokens={"smollm": 600}))):
        gatherer.settings = settings
        budget = composer.budget(model)
        composed = composer.compose("Why?", [], set(), None, model)
        evidence = composer.add_evidence(composed, gatherer, collected, budget,
                                         composer.allocation(budget, "", 0).attachments, set())
        assert evidence is not None and (fx.CRASH_LINE in evidence.text or settings.max_tokens)
        sizes[(model, bool(settings.max_tokens))] = evidence.tokens
    assert sizes[("embedded/smollm2", True)] <= 600 < sizes[("embedded/smollm2", False)] \
        <= dict(KNOWN_EVIDENCE_TOKENS)[r"smollm|argocd-embedded"]
