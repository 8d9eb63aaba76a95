"""The eval scenarios as a live cluster: each one an Argo CD Application on the Kubernetes stand-in (cluster.py).

A scenario (evals/scenarios/<name>/scenario.yaml) holds what the extension attaches (a manifest, its events, its
log) and the objects the back-end reads itself. Seeded here, scenario `<name>` becomes Application `argocd:<name>`
as a cluster would hold it, so the context tools and a proactive read can find the evidence the way they do on a
real cluster:

* the objects, in the scenario's namespace; owner chains completed where a scenario only names an owner (a Pod
  owned by ReplicaSet `orders-6f9c7d8b5` gets that ReplicaSet and Deployment `orders`, a Job owned by a CronJob
  gets the CronJob), and owner-less Pods or ReplicaSets that a scenario's workload selects adopted by it;
* the Application: the scenario's own (spec and status, renamed) when it has one, else one whose
  `status.resources` lists every managed object (no owner) with the health Argo CD would give it (`health()`), all
  Synced; its health the worst of theirs. Managed objects the scenario's own Application does not list are added;
* Events with `involvedObject.uid` pointing at the seeded object (the scenarios' uids are random), events about the
  scenario's Application moved onto `argocd:<name>`;
* the container logs: the current one and, when the scenario has one, the previous (crashed) instance's; a Pod the
  log names but the scenario does not hold is made from its workload's template (a Job's failed Pod).

Scenarios share namespace `shop`; one whose objects would collide with another's moves to a namespace named after
it (`SeededApp.namespace`), so evidence that spells the namespace out may then not match (`SeededApp.moved`).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kmock
import yaml

from llama_stack_argocd.cli.eval import DEFAULT_SCENARIOS, Scenario, load_scenarios
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.source import KINDS
from tests.support import cluster as fx

Obj = dict[str, Any]
ARGOCD_NS = fx.ARGOCD_NS
# Not managed by Argo CD: created by controllers or the cluster itself, never in git.
_NEVER_MANAGED = frozenset({"Event", "Endpoints", "EndpointSlice", "Node", "PersistentVolume", "AnalysisRun"})
_CLUSTER_SCOPED = frozenset({"Node", "PersistentVolume", "Namespace", "StorageClass", "ClusterRole"})
_HEALTH_ORDER = ("Healthy", "Suspended", "Progressing", "Missing", "Degraded")  # worst last
_BAD_WAITING = frozenset({"CrashLoopBackOff", "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError",
                          "CreateContainerError", "InvalidImageName", "RunContainerError"})


@dataclass
class SeededApp:
    """One scenario as the stand-in serves it."""

    scenario: Scenario
    app: AppRef
    namespace: str
    focus: ResourceRef | None  # the resource the extension attaches (the scenario's manifest)
    moved: bool = False  # seeded in a namespace of its own (its objects would have collided with another's)
    objects: list[Obj] = field(default_factory=list, repr=False)
    events: list[Obj] = field(default_factory=list, repr=False)
    logs: dict[str, tuple[str, str | None]] = field(default_factory=dict, repr=False)  # pod -> (current, previous)
    application: Obj = field(default_factory=dict, repr=False)
    original_namespace: str = "shop"

    @property
    def evidence(self) -> list[list[str]]:
        """The scenario's evidence strings as this seeding spells them: `shop/x` is `<namespace>/x` once moved."""
        if not self.moved:
            return [list(e) for e in self.scenario.evidence]
        old, new = self.original_namespace, self.namespace
        return [[a.replace(f"{old}/", f"{new}/").replace(f"namespace {old}", f"namespace {new}") for a in e]
                for e in self.scenario.evidence]

    @property
    def header(self) -> str:
        """The `Argocd-Application-Name` value argocd-server would send for it."""
        return str(self.app)

    def attachments(self, log_lines: int) -> list[tuple[str, str]]:
        """What the extension attaches for the resource open in it, as (kind, JSON): the live manifest (as seeded:
        renamed or moved like the rest), the events about it, and the scenario's log (its last `log_lines`)."""
        live = self.application if self.focus is None or self.focus.kind == "Application" else next(
            (o for o in self.objects if _key(o)[0] == self.focus.kind and _key(o)[2] == self.focus.name), None)
        if live is None:
            return []
        kind, namespace, name = _key(live)
        events = [e for e in self.events if (e.get("involvedObject") or {}).get("kind") == kind
                  and (e.get("involvedObject") or {}).get("name") == name]
        out = [("manifest", json.dumps(live, separators=(",", ":")))]
        if events:
            out.append(("events", json.dumps({"apiVersion": "v1", "items": events}, separators=(",", ":"))))
        if self.scenario.log_entries:
            out.append(("logs", self.scenario.logs_json(log_lines) or ""))
        return out


# -- API coordinates ---------------------------------------------------------------------------------------------------


def _gvp(obj: Obj) -> tuple[str, str, str]:
    kind = obj.get("kind") or ""
    known = KINDS.get(kind)
    if known is not None:
        return known.group, known.version, known.plural
    group, _, version = (obj.get("apiVersion") or "v1").rpartition("/")
    low = kind.lower()
    plural = low[:-1] + "ies" if low.endswith("y") else low + ("es" if low.endswith("s") else "s")
    return group, version, plural


def _namespaced(kind: str) -> bool:
    known = KINDS.get(kind)
    return known.namespaced if known is not None else kind not in _CLUSTER_SCOPED


def _meta(obj: Obj) -> Obj:
    meta: Obj = obj.setdefault("metadata", {})
    return meta


def _uid(*parts: str) -> str:
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _key(obj: Obj) -> tuple[str, str | None, str]:
    meta = obj.get("metadata") or {}
    return obj.get("kind") or "", meta.get("namespace"), meta.get("name") or ""


# -- Argo CD health, as its health checks decide it for the built-in kinds ------------------------------------------


def _condition(obj: Obj, kind: str) -> Obj:
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _pod_health(pod: Obj) -> tuple[str, str]:
    status = pod.get("status") or {}
    statuses = (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or [])
    for st in statuses:
        waiting = (st.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in _BAD_WAITING:
            return "Degraded", waiting.get("message") or waiting["reason"]
    phase = status.get("phase")
    if phase == "Failed":
        return "Degraded", status.get("message") or status.get("reason") or "Pod failed"
    if phase == "Succeeded":
        return "Healthy", ""
    if phase == "Pending":
        scheduled = _condition(pod, "PodScheduled")
        return "Progressing", scheduled.get("message") or ""
    ready = _condition(pod, "Ready")
    if ready.get("status") == "False":
        return "Progressing", ready.get("message") or ""
    return "Healthy", ""


def health(obj: Obj) -> dict[str, str] | None:
    """The `health` Argo CD reports for an object in `status.resources`; None for kinds it has no check for."""
    kind, status, spec = obj.get("kind"), obj.get("status") or {}, obj.get("spec") or {}
    state, message = "", ""
    if kind == "Pod":
        state, message = _pod_health(obj)
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        progressing = _condition(obj, "Progressing")
        replicas = spec.get("replicas", 1) if kind != "DaemonSet" else status.get("desiredNumberScheduled", 0)
        ready = status.get("numberReady" if kind == "DaemonSet" else "readyReplicas", 0) or 0
        if progressing.get("reason") == "ProgressDeadlineExceeded":
            state, message = "Degraded", progressing.get("message") or f"{kind} exceeded its progress deadline"
        elif _condition(obj, "ReplicaFailure").get("status") == "True":
            state, message = "Degraded", _condition(obj, "ReplicaFailure").get("message") or ""
        elif kind == "Deployment" and (status.get("updatedReplicas", replicas) or 0) < replicas:
            state = "Progressing"
            message = (f"Waiting for rollout to finish: {status.get('updatedReplicas', 0)} out of {replicas} new "
                       "replicas have been updated...")
        elif ready < replicas:
            state = "Progressing"
            message = f"Waiting for rollout to finish: {ready} of {replicas} updated replicas are available..."
        else:
            state = "Healthy"
    elif kind == "Job":
        failed = _condition(obj, "Failed")
        if failed.get("status") == "True":
            state, message = "Degraded", failed.get("message") or failed.get("reason") or "Job failed"
        elif _condition(obj, "Complete").get("status") == "True":
            state = "Healthy"
        else:
            state = "Progressing"
    elif kind == "PersistentVolumeClaim":
        state = "Healthy" if status.get("phase") == "Bound" else ("Degraded" if status.get("phase") == "Lost"
                                                                  else "Progressing")
    elif kind == "Service":
        pending = spec.get("type") == "LoadBalancer" and not (status.get("loadBalancer") or {}).get("ingress")
        state = "Progressing" if pending else "Healthy"
    elif kind == "Ingress":
        state = "Healthy" if (status.get("loadBalancer") or {}).get("ingress") else "Progressing"
    elif kind == "HorizontalPodAutoscaler":
        bad = [c for c in status.get("conditions") or [] if c.get("status") == "False"
               and c.get("type") in ("AbleToScale", "ScalingActive")]
        state, message = ("Degraded", bad[0].get("message") or "") if bad else ("Healthy", "")
    elif kind == "Rollout":
        phase = status.get("phase") or "Progressing"
        state, message = (phase if phase in _HEALTH_ORDER else "Progressing"), status.get("message") or ""
    elif kind == "CronJob":
        state = "Healthy"
    if not state:
        return None
    return {"status": state, **({"message": message} if message else {})}


def _worst(states: Iterable[str]) -> str:
    ranked = [s for s in states if s in _HEALTH_ORDER]
    return max(ranked, key=_HEALTH_ORDER.index) if ranked else "Healthy"


# -- owner chains --------------------------------------------------------------------------------------------------


def _owner_ref(owner: Obj) -> Obj:
    meta = _meta(owner)
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": True}


def _pod_template(pod: Obj) -> Obj:
    spec = {k: v for k, v in (pod.get("spec") or {}).items() if k not in ("nodeName",)}
    labels = {k: v for k, v in (_meta(pod).get("labels") or {}).items()}
    return {"metadata": {"labels": labels}, "spec": spec}


def _ready(pod: Obj) -> bool:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return bool(statuses) and all(s.get("ready") for s in statuses)


class _Builder:
    """The objects of one scenario, in one namespace, with the owners a cluster would hold."""

    def __init__(self, name: str, namespace: str, original: str) -> None:
        self.name, self.namespace, self.original = name, namespace, original
        self.objects: list[Obj] = []

    def add(self, obj: Obj) -> Obj:
        meta = _meta(obj)
        if _namespaced(obj.get("kind") or ""):
            if meta.get("namespace") in (None, "", self.original):
                meta["namespace"] = self.namespace
        else:
            meta.pop("namespace", None)
        meta.setdefault("uid", _uid(self.name, *map(str, _key(obj))))
        meta.setdefault("resourceVersion", "1")
        meta.setdefault("creationTimestamp", "2024-11-05T08:00:00Z")
        self.objects.append(obj)
        return obj

    def find(self, kind: str, name: str) -> Obj | None:
        return next((o for o in self.objects if o.get("kind") == kind and _meta(o).get("name") == name), None)

    def _synthesize_owner(self, child: Obj, ref: Obj) -> Obj | None:
        """The owner `ref` names, made from its child, for the kinds whose shape follows from the child."""
        kind, name = ref.get("kind") or "", ref.get("name") or ""
        if child.get("kind") == "Pod":
            template = _pod_template(child)
        else:
            template = ((child.get("spec") or {}).get("template") or {}) if kind != "CronJob" else {}
        labels = (template.get("metadata") or {}).get("labels") or {}
        pods = [o for o in self.objects if o.get("kind") == "Pod" and any(
            r.get("name") == name for r in _meta(o).get("ownerReferences") or [])] or [child]
        ready = sum(_ready(p) for p in pods)
        owner: Obj
        if kind == "ReplicaSet":
            owner = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": labels},
                     "spec": {"replicas": len(pods), "selector": {"matchLabels": labels}, "template": template},
                     "status": {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}}
            pod_hash = labels.get("pod-template-hash") or name.rpartition("-")[2]
            base = name[: -len(pod_hash) - 1] if name.endswith(f"-{pod_hash}") else ""
            if base and child.get("kind") == "Pod":
                _meta(owner)["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "Deployment", "name": base}]
        elif kind in ("Deployment", "StatefulSet", "DaemonSet"):
            selector = {k: v for k, v in labels.items() if k != "pod-template-hash"}
            template = {**template, "metadata": {"labels": selector}}
            owner = {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": name, "labels": selector},
                     "spec": {"replicas": len(pods), "selector": {"matchLabels": selector}, "template": template}}
            owner["status"] = {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready,
                               "updatedReplicas": len(pods)}
            if ready < len(pods) and kind == "Deployment":
                owner["status"]["unavailableReplicas"] = len(pods) - ready
                owner["status"]["conditions"] = [{"type": "Available", "status": "False",
                                                  "reason": "MinimumReplicasUnavailable",
                                                  "message": "Deployment does not have minimum availability."}]
        elif kind == "Job":
            owner = {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name},
                     "spec": {"template": template}, "status": {}}
        elif kind == "CronJob":
            owner = {"apiVersion": "batch/v1", "kind": kind, "metadata": {"name": name},
                     "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": child.get("spec") or {}}},
                     "status": {}}
        else:
            return None
        if ref.get("uid"):
            _meta(owner)["uid"] = ref["uid"]
        return self.add(owner)

    def complete_owners(self) -> None:
        """Every ownerReference resolves to a seeded object (made when missing) and carries its uid."""
        index = 0
        while index < len(self.objects):  # synthesized owners are appended and completed in turn
            obj = self.objects[index]
            index += 1
            refs = _meta(obj).get("ownerReferences") or []
            kept = []
            for ref in refs:
                owner = self.find(ref.get("kind") or "", ref.get("name") or "") or self._synthesize_owner(obj, ref)
                if owner is None:
                    continue  # an owner of a kind we cannot make: the object stands alone
                kept.append({**_owner_ref(owner), "controller": ref.get("controller", True)})
            if refs:
                _meta(obj)["ownerReferences"] = kept

    def adopt(self) -> None:
        """Owner-less Pods and ReplicaSets that a workload of the scenario selects become that workload's; an
        owner-less AnalysisRun becomes its Rollout's (Argo Rollouts names a run after the Rollout and owns it)."""
        rollouts = [o for o in self.objects if o.get("kind") == "Rollout"]
        for run in [o for o in self.objects if o.get("kind") == "AnalysisRun" and not _meta(o).get("ownerReferences")]:
            named = [r for r in rollouts if str(_meta(run).get("name", "")).startswith(f"{_meta(r).get('name')}-")]
            if owner := (named or (rollouts if len(rollouts) == 1 else [None]))[0]:
                _meta(run)["ownerReferences"] = [_owner_ref(owner)]
        workloads = [o for o in self.objects if o.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")]
        for obj in list(self.objects):
            if obj.get("kind") not in ("Pod", "ReplicaSet") or _meta(obj).get("ownerReferences"):
                continue
            labels = _meta(obj).get("labels") or {}
            for workload in workloads:
                selector = ((workload.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
                if workload.get("kind") == "Job":
                    selector = selector or {"job-name": _meta(workload).get("name")}
                if not selector or any(labels.get(k) != v for k, v in selector.items()):
                    continue
                owner = workload
                if workload.get("kind") == "Deployment" and obj.get("kind") == "Pod":
                    pod_hash = labels.get("pod-template-hash") or "0"
                    rs_name = f"{_meta(workload).get('name')}-{pod_hash}"
                    owner = self.find("ReplicaSet", rs_name) or self._synthesize_owner(
                        obj, {"kind": "ReplicaSet", "name": rs_name})  # type: ignore[assignment]
                    if not _meta(owner).get("ownerReferences"):
                        _meta(owner)["ownerReferences"] = [_owner_ref(workload)]
                _meta(obj)["ownerReferences"] = [_owner_ref(owner)]
                break

    def pod_for_log(self, pod_name: str) -> Obj | None:
        """A Pod the log names but the scenario does not hold, made from the workload whose name prefixes it."""
        owners = [o for o in self.objects if o.get("kind") in ("Job", "StatefulSet", "ReplicaSet", "DaemonSet")
                  and pod_name.startswith(f"{_meta(o).get('name')}-")]
        if not owners:
            return None
        owner = max(owners, key=lambda o: len(_meta(o).get("name") or ""))
        template = ((owner.get("spec") or {}).get("template") or {})
        spec = copy.deepcopy(template.get("spec") or {})
        containers = spec.get("containers") or [{"name": "main", "image": "unknown"}]
        spec["containers"] = containers
        failed = owner.get("kind") == "Job" and (
            _condition(owner, "Failed").get("status") == "True" or (owner.get("status") or {}).get("failed"))
        if failed:
            state: Obj = {"terminated": {"reason": "Error", "exitCode": 1}}
            phase, ready = "Failed", False
        else:
            state, phase, ready = {"running": {"startedAt": "2024-11-05T08:55:00Z"}}, "Running", False
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": pod_name, "labels": (template.get("metadata") or {}).get("labels") or {},
                            "ownerReferences": [_owner_ref(owner)]},
               "spec": spec,
               "status": {"phase": phase, "containerStatuses": [
                   {"name": c.get("name"), "image": c.get("image"), "ready": ready, "restartCount": 0,
                    "state": state} for c in containers]}}
        return self.add(pod)


# -- one scenario ----------------------------------------------------------------------------------------------------


def _spec(root: Path, name: str) -> Obj:
    loaded: Obj = yaml.safe_load((root / name / "scenario.yaml").read_text())
    return loaded


def _log_text(entries: Sequence[Obj]) -> str:
    return "".join(f"{(e.get('result') or e).get('content', '')}\n" for e in entries)


def build(scenario: Scenario, namespace: str | None = None, root: Path = DEFAULT_SCENARIOS) -> SeededApp:
    """Scenario `scenario` as Application `argocd:<name>`, its objects in `namespace` (default: its own)."""
    spec = _spec(root, scenario.name)
    original = str(spec.get("namespace", "shop"))
    namespace = namespace or original
    held = [copy.deepcopy(o) for o in ([scenario.manifest] if scenario.manifest else []) + scenario.related]
    own_app = next((o for o in held if o.get("kind") == "Application"), None)
    events = [copy.deepcopy(e) for e in scenario.events] + [o for o in held if o.get("kind") == "Event"]
    objects = [o for o in held if o.get("kind") not in ("Application", "Event") and _meta(o).get("name")]

    builder = _Builder(scenario.name, namespace, original)
    for obj in objects:
        builder.add(obj)
    builder.complete_owners()
    builder.adopt()
    builder.complete_owners()

    logs: dict[str, tuple[str, str | None]] = {}
    log_spec = spec.get("logs") or {}
    if scenario.log_entries or scenario.previous_log_entries:
        pod_name = log_spec.get("pod") or next(
            ((e.get("result") or {}).get("podName") for e in scenario.log_entries if (e.get("result") or {})
             .get("podName")), "")
        pod = builder.find("Pod", pod_name) if pod_name else None
        if pod is None and pod_name:
            pod = builder.pod_for_log(pod_name)
        if pod is None:
            pod = next((o for o in builder.objects if o.get("kind") == "Pod"), None)
        if pod is not None:
            logs[_meta(pod)["name"]] = (_log_text(scenario.log_entries),
                                        _log_text(scenario.previous_log_entries) if scenario.previous_log_entries
                                        else None)

    app_ref = AppRef(namespace=ARGOCD_NS, name=scenario.name)
    application = _application(scenario, app_ref, own_app, builder, original)
    app_meta = application["metadata"]
    old_app_name = _meta(own_app).get("name") if own_app else None
    by_key = {(o.get("kind"), _meta(o).get("name")): o for o in builder.objects}
    fixed_events = []
    for i, event in enumerate(events):
        involved = event.setdefault("involvedObject", {})
        if involved.get("kind") == "Application" and involved.get("name") in (old_app_name, scenario.name, None):
            involved.update(name=scenario.name, namespace=ARGOCD_NS, uid=app_meta["uid"],
                            apiVersion="argoproj.io/v1alpha1")
            ns = ARGOCD_NS
        else:
            if involved.get("namespace") in (None, "", original):
                involved["namespace"] = namespace
            ns = involved["namespace"]
            target = by_key.get((involved.get("kind"), involved.get("name")))
            if target is not None:
                involved["uid"] = _meta(target)["uid"]
                involved["apiVersion"] = target.get("apiVersion", "v1")
            else:
                involved.pop("uid", None)  # about nothing seeded: never matched by a stale random uid
        meta = _meta(event)
        meta["namespace"] = ns
        meta["name"] = f"{involved.get('name', 'x')}.{scenario.name}.{i}"
        meta.setdefault("uid", _uid(scenario.name, "event", str(i)))
        event.setdefault("apiVersion", "v1")
        event["kind"] = "Event"
        event.setdefault("type", "Normal")
        event.setdefault("count", 1)
        event.setdefault("firstTimestamp", "2024-11-05T08:30:00Z")
        event.setdefault("lastTimestamp", "2024-11-05T09:00:00Z")
        fixed_events.append(event)

    focus = None
    if scenario.manifest and scenario.manifest.get("kind") != "Application":
        m = scenario.manifest
        focus = ResourceRef(kind=m["kind"], name=m["metadata"]["name"],
                            namespace=namespace if _namespaced(m["kind"]) else None)
    return SeededApp(scenario, app_ref, namespace, focus, namespace != original, builder.objects, fixed_events,
                     logs, application, original)


def _application(scenario: Scenario, ref: AppRef, own: Obj | None, builder: _Builder, original: str) -> Obj:
    namespace = builder.namespace
    managed = [o for o in builder.objects
               if o.get("kind") not in _NEVER_MANAGED and not _meta(o).get("ownerReferences")]

    def entry(obj: Obj) -> Obj:
        group, version, _ = _gvp(obj)
        out: Obj = {"group": group, "version": version, "kind": obj["kind"], "name": _meta(obj)["name"],
                    "status": "Synced"}
        if _meta(obj).get("namespace"):
            out["namespace"] = _meta(obj)["namespace"]
        if (h := health(obj)) is not None:
            out["health"] = h
        return out

    if own is not None:
        app = copy.deepcopy(own)
        status = app.setdefault("status", {})
        destination = app.setdefault("spec", {}).setdefault("destination", {})
        if destination.get("namespace") in (None, original):
            destination["namespace"] = namespace

        def moved(items: list[Obj]) -> None:
            for item in items:
                if item.get("namespace") == original:
                    item["namespace"] = namespace

        moved(status.get("resources") or [])
        moved(((status.get("operationState") or {}).get("syncResult") or {}).get("resources") or [])
        listed = {(r.get("kind"), r.get("name")) for r in status.get("resources") or []}
        status["resources"] = (status.get("resources") or []) + [
            entry(o) for o in managed if (o["kind"], _meta(o)["name"]) not in listed]
    else:
        resources = [entry(o) for o in managed]
        states = [r["health"]["status"] for r in resources if "health" in r]
        worst = _worst(states)
        app_health: Obj = {"status": worst}
        culprit = next((r for r in resources if r.get("health", {}).get("status") == worst and worst != "Healthy"),
                       None)
        if culprit is not None:
            app_health["message"] = f"{culprit['kind']} {culprit['name']} is {worst}"
        app = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": {},
               "spec": {"project": "default",
                        "source": {"repoURL": "https://git.example.com/platform/shop-deploy.git",
                                   "path": f"apps/{scenario.name}", "targetRevision": "main"},
                        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
                        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}}},
               "status": {"sync": {"status": "Synced", "revision": hashlib.sha1(scenario.name.encode()).hexdigest()},
                          "health": app_health, "resources": resources}}
    meta = app.setdefault("metadata", {})
    app["apiVersion"], app["kind"] = "argoproj.io/v1alpha1", "Application"
    meta.update(name=ref.name, namespace=ref.namespace, uid=_uid("application", ref.name), resourceVersion="1")
    meta.setdefault("creationTimestamp", "2024-11-01T08:00:00Z")
    return app


# -- many scenarios, one stand-in ---------------------------------------------------------------------------------


def build_all(scenarios: Sequence[Scenario], root: Path = DEFAULT_SCENARIOS) -> list[SeededApp]:
    """Each scenario in its own namespace when its objects would collide with an earlier one's (or the
    guestbook fixture's)."""
    taken = {(o["kind"], ns, name) for (_, _, _), ns, name, o in fx.objects()}
    out = []
    for scenario in scenarios:
        seeded = build(scenario, root=root)
        keys = {_key(o) for o in seeded.objects + seeded.events}
        if keys & taken:
            seeded = build(scenario, namespace=scenario.name, root=root)
            keys = {_key(o) for o in seeded.objects + seeded.events}
        taken |= keys
        out.append(seeded)
    return out


def seeder(apps: Sequence[SeededApp]) -> Callable[[Any], None]:
    """A `seed(emulator)` for `start_cluster` that serves `apps`: objects, Events, Applications and logs."""

    def seed(emulator: Any) -> None:
        plain = kmock.headers({"Content-Type": "text/plain; charset=utf-8"})
        for seeded in apps:
            for obj in [seeded.application, *seeded.objects, *seeded.events]:
                group, version, plural = _gvp(obj)
                kind, namespace, name = _key(obj)
                emulator.objects[kmock.resource(group, version, plural), namespace, name] = obj
            pods = {_meta(o).get("name"): _meta(o).get("namespace") for o in seeded.objects if o.get("kind") == "Pod"}
            for pod, namespace in pods.items():  # a Pod without a log in the scenario: the API's refusal, not the Pod
                if pod not in seeded.logs:
                    emulator[f"get /api/v1/namespaces/{namespace}/pods/{pod}/log"] << 400 << {
                        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest",
                        "code": 400, "message": f'container in pod "{pod}" is waiting to start'}
            for pod, (current, previous) in seeded.logs.items():  # in the Pod's own namespace, the app's by default
                path = f"get /api/v1/namespaces/{pods.get(pod) or seeded.namespace}/pods/{pod}/log"
                if previous is None:
                    emulator[path, kmock.params(previous="true")] << 400 << {
                        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "BadRequest",
                        "code": 400, "message": f'previous terminated container in pod "{pod}" not found'}
                else:
                    emulator[path, kmock.params(previous="true")] << plain << previous.encode()
                emulator[path] << plain << current.encode()

    return seed


def start_scenario_cluster(only: Sequence[str] = (), root: Path = DEFAULT_SCENARIOS, keep_requests: bool = False
                           ) -> tuple[fx.ClusterHandle, list[SeededApp]]:
    """The stand-in (with its guestbook fixture) serving the scenarios whose names contain one of `only` (all
    when empty); stop the handle when done. It keeps no request history unless asked (the demo runs for hours)."""
    apps = build_all(load_scenarios(root, only), root)
    return fx.start_cluster(seeder(apps), keep_requests), apps


# -- what the tools show ---------------------------------------------------------------------------------------------


async def read_as_tools(service: Any, seeded: SeededApp) -> str:
    """What a careful caller of the six tools would read for `seeded`: the Application, then for the focused resource
    and every resource Argo CD calls unhealthy or out of sync, its manifest, events, containers and logs (current and
    previous), as JSON lines. Errors (no Pods, no previous instance) are part of what a caller sees."""
    import json

    from llama_stack_argocd.context.errors import ContextError

    out: list[str] = []

    async def call(name: str, run: Any) -> Any:
        try:
            result = await run
        except ContextError as error:
            result = error.to_dict()
        out.append(f"{name}: {json.dumps(result, sort_keys=True)}")
        return result

    application = await call("argocd_application", service.application(seeded.app))
    refs = [seeded.focus] if seeded.focus else []
    for r in application.get("resources") or []:
        if (r.get("health") or {}).get("status") not in (None, "Healthy") or r.get("sync") not in (None, "Synced"):
            ref = ResourceRef(kind=r["kind"], name=r["name"], namespace=r.get("namespace"))
            if ref not in refs:
                refs.append(ref)
    for ref in refs:
        await call("argocd_resource_manifest", service.manifest(seeded.app, ref))
        await call("argocd_resource_events", service.events(seeded.app, ref))
        if ref.kind in ("Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Rollout"):
            await call("argocd_containers", service.containers(seeded.app, ref))
            await call("argocd_container_logs", service.logs(seeded.app, ref))
            await call("argocd_container_logs", service.logs(seeded.app, ref, previous=True))
        else:
            await call("argocd_related_resources", service.related(seeded.app, ref))
    return "\n".join(out)
