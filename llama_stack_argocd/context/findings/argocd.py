"""Argo CD Applications (sync, health, operation, hooks, conditions) and Argo Rollouts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .base import Cluster, Finding, Obj, Severity, clip, name_of, ref
from .registry import analyzer

_CONDITION_CODES = {"ComparisonError": "ComparisonError", "InvalidSpecError": "InvalidSpecError",
                    "SyncError": "SyncError"}
MAX_LISTED = 8


def _res(r: Mapping[str, Any]) -> str:
    ns = r.get("namespace")
    return f"{r.get('kind', '?')} {ns + '/' if ns else ''}{r.get('name', '?')}"


def _versioned(r: Mapping[str, Any]) -> str:
    """A sync result's resource with its API version (a removed version is often the whole story)."""
    version = "/".join(x for x in (r.get("group"), r.get("version")) if x)
    return f"{version} {_res(r)}" if version else _res(r)


@analyzer("Application")
def application(app: Obj, cluster: Cluster) -> Iterator[Finding]:
    status = app.get("status") or {}
    resource = ref(app)
    op = status.get("operationState") or {}
    phase = op.get("phase")
    results = ((op.get("syncResult") or {}).get("resources")) or []

    for r in results:
        if r.get("hookType") and r.get("hookPhase") in ("Failed", "Error"):
            msg = str(r.get("message") or "")
            yield Finding(Severity.CRITICAL, f"{r['hookType']} hook {r.get('kind')}/{r.get('name')} failed",
                          f"The {r['hookType']} hook {_res(r)} ended {r.get('hookPhase')}: {clip(msg)} A failed "
                          "hook stops the sync; its Job's Pod logs show why.",
                          [f"{r['hookType']} hook", f"{r.get('kind')}/{r.get('name')}", clip(msg)], resource,
                          "HookFailed")

    if phase in ("Failed", "Error"):
        msg = str(op.get("message") or "")
        failed = [r for r in results if r.get("status") == "SyncFailed" and not r.get("hookType")]
        detail = f"The last sync ({phase}) said: {clip(msg, 500)}"
        if failed:
            detail += " Failed resources: " + "; ".join(f"{_res(r)}: {clip(r.get('message', ''), 200)}"
                                                        for r in failed[:MAX_LISTED])
        rev = (op.get("syncResult") or {}).get("revision") or (op.get("operation") or {}).get("sync", {}).get(
            "revision")
        yield Finding(Severity.CRITICAL, "sync failed", detail + (f" (revision {rev})" if rev else ""),
                      [f"phase: {phase}", clip(msg)] + [f"{_versioned(r)}: status {r.get('status')}: "
                                                        f"{clip(r.get('message', ''), 200)}" for r in failed[:2]],
                      resource, "SyncFailed")
    elif phase == "Running" and "waiting" in str(op.get("message") or "").lower():
        yield Finding(Severity.WARNING, "sync still running", clip(op.get("message") or ""),
                      [clip(op.get("message") or "")], resource, "SyncRunning")

    for cond in status.get("conditions") or []:
        ctype = str(cond.get("type") or "")
        msg = str(cond.get("message") or "")
        severity = Severity.ERROR if ctype.endswith("Error") else Severity.WARNING
        if ctype == "ComparisonError":
            severity = Severity.CRITICAL
        yield Finding(severity, ctype, clip(msg, 600), [ctype, clip(msg)], resource,
                      _CONDITION_CODES.get(ctype, "WarningEvent"))

    health = status.get("health") or {}
    resources = [r for r in status.get("resources") or [] if isinstance(r, Mapping)]
    hstatus = health.get("status")
    if hstatus in ("Degraded", "Missing", "Unknown"):
        bad = [r for r in resources if (r.get("health") or {}).get("status") in ("Degraded", "Missing", "Unknown")]
        listed = "; ".join(
            f"{_res(r)} {(r.get('health') or {}).get('status')}"
            + (f": {clip((r.get('health') or {}).get('message'), 200)}" if (r.get('health') or {}).get('message')
               else "") for r in bad[:MAX_LISTED])
        detail = f"Application health is {hstatus}" + (f": {clip(health['message'])}" if health.get("message") else "")
        if listed:
            detail += f". Unhealthy resources: {listed}"
        evidence = [f"health: {hstatus}"] + [_res(r) for r in bad[:3]] + [
            clip((r.get("health") or {}).get("message"), 200) for r in bad[:2] if (r.get("health") or {}).get(
                "message")]
        yield Finding(Severity.ERROR if hstatus != "Unknown" else Severity.WARNING, f"Application {hstatus}",
                      detail + ".", evidence, resource,
                      "ApplicationMissing" if hstatus == "Missing" else "ApplicationDegraded")

    if hstatus == "Progressing":
        yield _progressing(app, resources, health, cluster)

    sync = status.get("sync") or {}
    if sync.get("status") == "OutOfSync":
        drift = [r for r in resources if r.get("status") == "OutOfSync"]
        prune = [r for r in drift if r.get("requiresPruning")]
        auto = ((app.get("spec") or {}).get("syncPolicy") or {}).get("automated")
        detail = (f"{len(drift)} resource(s) differ from Git at revision {sync.get('revision', '?')}: "
                  + "; ".join(_res(r) + (" (missing in cluster)" if (r.get("health") or {}).get("status") == "Missing"
                                         else " (to prune)" if r.get("requiresPruning") else "")
                              for r in drift[:MAX_LISTED]))
        detail += ". Automated sync is on, so the sync itself is failing or is not allowed to prune/heal." if auto \
            else ". Automated sync is off: sync manually."
        yield Finding(Severity.WARNING, "Application OutOfSync", detail,
                      ["OutOfSync"] + [_res(r) for r in drift[:3]] + (["requiresPruning"] if prune else []),
                      resource, "OutOfSync")


@analyzer("Rollout")
def rollout(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase in ("Degraded", "Paused") or status.get("abort"):
        msg = str(status.get("message") or "")
        yield Finding(Severity.ERROR if phase == "Degraded" or status.get("abort") else Severity.WARNING,
                      f"Rollout {phase or 'aborted'}", clip(msg) or f"phase {phase}",
                      [f"phase: {phase}", *([clip(msg)] if msg else [])], ref(obj), "RolloutStuck")


def _ingress_class(ing: Obj, cluster: Cluster) -> str:
    """The class an Ingress asks for (`spec.ingressClassName`, else the legacy annotation), and, when IngressClasses
    were read, whether one of that name exists: no controller admits an Ingress of a class nobody serves."""
    name = (ing.get("spec") or {}).get("ingressClassName") or (
        (ing.get("metadata") or {}).get("annotations") or {}).get("kubernetes.io/ingress.class")
    classes = sorted(name_of(c) for c in cluster.of_kind("IngressClass") if not c.get("_stub"))
    if not name:
        return "no ingressClassName (only a default IngressClass's controller would admit it)"
    said = f"class={name}"
    if classes and name not in classes:
        said += f", but there is no IngressClass {name} (classes: {', '.join(classes[:4])})"
    return said


def _why_progressing(obj: Obj | None, cluster: Cluster) -> str:
    """What keeps one live resource Progressing, from its own status."""
    if obj is None or obj.get("_stub"):
        return ""
    kind, spec, status = obj.get("kind"), obj.get("spec") or {}, obj.get("status") or {}
    if kind == "Service" and spec.get("type") == "LoadBalancer" and not (status.get("loadBalancer") or {}).get(
            "ingress"):
        return "type LoadBalancer without an external address (no load-balancer controller assigned one)"
    if kind == "Ingress" and not (status.get("loadBalancer") or {}).get("ingress"):
        return (f"no address in status.loadBalancer, {_ingress_class(obj, cluster)}: the controller of that class "
                "has not admitted it")
    if kind == "PersistentVolumeClaim" and status.get("phase") != "Bound":
        return f"phase {status.get('phase', 'Pending')}: not bound to a volume"
    if kind in ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet"):
        want = spec.get("replicas", 1)
        parts = [f"{status.get('readyReplicas', 0) or 0}/{want} ready, {status.get('updatedReplicas', 0) or 0} "
                 "updated"]
        for c in status.get("conditions") or []:
            if c.get("status") != "True" or c.get("type") == "ReplicaFailure":
                parts.append(f"{c.get('type')}={c.get('status')}: {clip(c.get('message') or c.get('reason'), 200)}")
        return "; ".join(parts)
    if kind == "Rollout":
        return f"phase {status.get('phase')}: {clip(status.get('message') or '', 200)}"
    if kind == "Job" and not status.get("succeeded"):
        return f"active {status.get('active', 0)}, failed {status.get('failed', 0)}, not complete"
    return ""


def _progressing(app: Obj, resources: list[Mapping[str, Any]], health: Mapping[str, Any],
                 cluster: Cluster) -> Finding:
    """An Application stays Progressing while one of its resources does: name which, and why."""
    held = [r for r in resources if (r.get("health") or {}).get("status") == "Progressing"]
    op = (app.get("status") or {}).get("operationState") or {}
    parts, evidence = [], ["health: Progressing"]
    for r in held[:MAX_LISTED]:
        live = cluster.get(str(r.get("kind")), str(r.get("namespace") or ""), str(r.get("name")))
        why = _why_progressing(live, cluster) or clip((r.get("health") or {}).get("message") or "", 200)
        parts.append(f"{_res(r)}" + (f": {why}" if why else ""))
        evidence.append(_res(r))
        if why:
            evidence.append(why)
    detail = "Application health is Progressing"
    detail += (": held by " + "; ".join(parts)) if parts else " but no resource says why"
    if op.get("phase") == "Running" and op.get("message"):
        detail += f". Sync: {clip(op['message'], 200)}"
        evidence.append(clip(op["message"], 200))
    detail += ". Argo CD waits for these to become Healthy (sync waves and hooks wait too)."
    return Finding(Severity.WARNING, "Application stuck Progressing", detail, evidence[:6], ref(app),
                   "ApplicationProgressing")


@analyzer("AnalysisRun")
def analysis_run(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    status = obj.get("status") or {}
    if status.get("phase") not in ("Failed", "Error", "Inconclusive"):
        return
    metrics = {m.get("name"): m for m in (obj.get("spec") or {}).get("metrics") or []}
    parts, evidence = [], [f"phase: {status.get('phase')}"]
    for result in status.get("metricResults") or []:
        if result.get("phase") == "Successful":
            continue
        spec = metrics.get(result.get("name")) or {}
        values = [str(m.get("value")) for m in result.get("measurements") or [] if m.get("value") is not None]
        cond = spec.get("successCondition") or spec.get("failureCondition") or ""
        parts.append(f"metric {result.get('name')} {result.get('phase')}: values {', '.join(values[-3:])}"
                     + (f" against {cond}" if cond else "") + (f" ({result['message']})" if result.get("message")
                                                              else ""))
        evidence += values[-2:] + ([cond] if cond else [])
    yield Finding(Severity.ERROR, f"AnalysisRun {status.get('phase')}",
                  "; ".join(parts) or clip(status.get("message") or ""), evidence, ref(obj), "AnalysisRunFailed")
