"""The one code path from raw Argo CD / Kubernetes state to the context a model reads.

    digest = build_context(manifest=..., events=..., logs=..., related_objects=..., budget=Budget.for_model(m))

Findings come first (short, deterministic, with their evidence), then the manifest without its noise, the events
grouped, related objects as one line each, and the logs compressed: all of it within the budget, anything cut marked in
the text (`[... N lines omitted ...]`) and `Digest.truncated` set. Every front door and the tools call this.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import yaml

from .budget import ATTACHMENTS, Budget, cut_text, fair_allocate, omission_marker
from .kube_events import group_events
from .findings import Finding, analyze
from .findings.log_errors import LOG_ERRORS
from .findings.base import (
    Focus,
    condition,
    conditions,
    flatten,
    format_ports,
    format_selector,
    kind_of,
    ref,
)
from .findings.support import supporting_patterns
from .logs import compress_logs, distinct_records
from .manifests import clean_manifest
from .tokens import count_tokens

FINDINGS_MAX_SHARE = 0.4  # findings never take more than this share of the budget
SECTION_WEIGHTS = {"manifest": 0.25, "events": 0.15, "logs": 0.5, "related": 0.1}
HEADER = "# Context for {what} (findings first; noise removed; cuts are marked)"


@dataclass(frozen=True)
class Digest:
    text: str
    tokens: int
    truncated: bool
    findings: list[Finding] = field(default_factory=list)
    sections: Mapping[str, int] = field(default_factory=dict)  # tokens per section
    budget_tokens: int = 0

    def to_metadata(self) -> dict[str, Any]:
        """What a route reports beside the answer."""
        return {"context_tokens": self.tokens, "context_budget": self.budget_tokens, "truncated": self.truncated,
                "findings": [f.title for f in self.findings]}


# -- inputs ------------------------------------------------------------------------------------------------------------


def _load(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            try:
                return yaml.safe_load(text)
            except yaml.YAMLError:
                return None
    return value


def _event_items(events: Any) -> list[Mapping[str, Any]]:
    data = _load(events)
    if data is None:
        return []
    return [e for e in flatten([data]) if isinstance(e, Mapping)]


# -- the manifest --------------------------------------------------------------------------------------------------


def render_manifest(obj: Mapping[str, Any]) -> str:
    """Cleaned, as YAML (fewer tokens than JSON), status before spec so that a cut keeps the state."""
    cleaned = clean_manifest(obj)
    order = ["apiVersion", "kind", "metadata", "status", "spec"]
    ordered = {k: cleaned[k] for k in order if k in cleaned}
    ordered.update({k: v for k, v in cleaned.items() if k not in ordered})
    body = yaml.safe_dump(ordered, sort_keys=False, default_flow_style=False, width=160, allow_unicode=True)
    # the deciding fields first, on one line (an Ingress's class and routes, a Service's selector and ports): a cut
    # of a long spec keeps them, and they read as the related objects' lines do
    line = f"{summarize(obj)}\n" if kind_of(obj) in _SUMMARY_FIRST else ""
    return f"## Manifest: {ref(obj)}\n{line}{body.rstrip()}"


# -- events ----------------------------------------------------------------------------------------------------------


def render_events(items: Sequence[Mapping[str, Any]]) -> str:
    if not items:
        return ""
    lines = [group.render() for group in group_events(list(items))]
    return f"## Events ({len(items)} events, grouped, newest first)\n" + "\n".join(lines)


# -- related objects ------------------------------------------------------------------------------------------------


def summarize(obj: Mapping[str, Any]) -> str:
    """One line: what kind of thing this is and the state that matters."""
    kind = kind_of(obj)
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    labels = (obj.get("metadata") or {}).get("labels") or {}
    parts: list[str] = []
    if kind == "Pod":
        statuses = status.get("containerStatuses") or []
        ready = sum(1 for c in statuses if c.get("ready"))
        restarts = sum(c.get("restartCount", 0) for c in statuses)
        parts.append(f"phase={status.get('phase', '?')} ready={ready}/{len(statuses)} restarts={restarts}")
        for c in [*(status.get("initContainerStatuses") or []), *statuses]:
            waiting = ((c.get("state") or {}).get("waiting") or {}).get("reason")
            term = ((c.get("lastState") or {}).get("terminated") or {})
            if waiting:
                parts.append(f"{c.get('name')}: {waiting}")
            if term.get("reason"):
                parts.append(f"{c.get('name')} last exit: {term.get('reason')} code {term.get('exitCode')}")
    elif kind in ("Deployment", "StatefulSet", "ReplicaSet"):
        parts.append(f"replicas={spec.get('replicas', 1)} ready={status.get('readyReplicas', 0)} "
                     f"available={status.get('availableReplicas', 0)}")
    elif kind == "Service":
        ports = format_ports(spec.get("ports"))
        parts.append(f"type={spec.get('type', 'ClusterIP')} selector={format_selector(spec.get('selector'))} "
                     f"ports={ports}")
        if spec.get("type") == "LoadBalancer":
            lb = [i.get("ip") or i.get("hostname") for i in (status.get("loadBalancer") or {}).get("ingress") or []]
            parts.append(f"external address: {', '.join(map(str, lb)) if lb else '<pending>'}")
    elif kind in _DECIDING:
        parts.append(_DECIDING[kind](obj))
    elif kind == "Application":
        sync, health = (status.get("sync") or {}), (status.get("health") or {})
        parts.append(f"sync={sync.get('status')} health={health.get('status')}")
    elif status.get("phase"):
        parts.append(f"phase={status['phase']}")
    elif kind not in ("Job", "CronJob", "HorizontalPodAutoscaler", "Rollout", "DaemonSet"):
        parts.append(_generic(obj))
    for c in (status.get("conditions") or [])[:6]:
        if c.get("status") in ("False", "Unknown") or c.get("type") in ("Failed", "ReplicaFailure"):
            if c.get("type") == "Failed" and c.get("status") != "True":
                continue
            parts.append(f"{c.get('type')}={c.get('status')}"
                         + (f" ({c.get('reason')}: {str(c.get('message', ''))[:160]})" if c.get("reason") else ""))
    if labels and kind == "Pod":
        parts.append("labels " + ",".join(f"{k}={v}" for k, v in sorted(labels.items())[:4]))
    if kind == "Job" and (failed := condition(obj, "Failed")) and failed.get("status") == "True":
        parts.append(f"Failed: {failed.get('reason')}")
    return f"- {ref(obj)}: " + "; ".join(p for p in parts if p)


def _state_line(obj: Mapping[str, Any]) -> str:
    """A workload's state in a few tokens: replicas and the reasons of its failing conditions."""
    status = obj.get("status") or {}
    failing = [f"{c.get('type')}={c.get('status')} ({c.get('reason')})" for c in conditions(obj)
               if c.get("reason") and (c.get("status") in ("False", "Unknown") or c.get("type") == "ReplicaFailure")]
    return (f"state: replicas={(obj.get('spec') or {}).get('replicas', 1)} ready={status.get('readyReplicas', 0)} "
            f"available={status.get('availableReplicas', 0)}" + "".join(f"; {f}" for f in failing[:3]))


def _flow(value: Any, limit: int = 240) -> str:
    """A compact one-line YAML of a field: what decides is in it, quotable."""
    text = str(yaml.safe_dump(value, default_flow_style=True, width=10 ** 6, sort_keys=False)).strip()
    return text if len(text) <= limit else text[:limit] + " ...}"


def _pv(obj: Mapping[str, Any]) -> str:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    terms = (((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms")) or []
    zones = [f"{e.get('key')} {e.get('operator', 'In')} {','.join(e.get('values') or [])}"
             for t in terms for e in t.get("matchExpressions") or []]
    claim = spec.get("claimRef") or {}
    return (f"phase={status.get('phase', '?')} storageClassName={spec.get('storageClassName', '')} "
            f"capacity={(spec.get('capacity') or {}).get('storage', '?')} "
            f"accessModes={','.join(spec.get('accessModes') or [])}"
            + (f" claim={claim.get('namespace', '')}/{claim.get('name')}" if claim else "")
            + (f" nodeAffinity: {'; '.join(zones)}" if zones else ""))


def _pvc(obj: Mapping[str, Any]) -> str:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    req = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "?")
    return (f"phase={status.get('phase', '?')} storageClassName={spec.get('storageClassName', '<none>')} "
            f"request={req} accessModes={','.join(spec.get('accessModes') or [])} "
            f"volumeName={spec.get('volumeName', '')}")


def _netpol(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec") or {}
    types = ", ".join(spec.get("policyTypes") or [])
    out = [f"podSelector={_flow(spec.get('podSelector') or {})} policyTypes: [{types}]"]
    for key in ("ingress", "egress"):
        if key in spec:
            out.append(f"{key}: {_flow(spec.get(key) or [], 400)}")
    return " ".join(out)


def _ingress(obj: Mapping[str, Any]) -> str:
    spec = obj.get("spec") or {}
    routes = []
    for r in spec.get("rules") or []:
        for p in (r.get("http") or {}).get("paths") or []:
            svc = (p.get("backend") or {}).get("service") or {}
            port = svc.get("port") or {}
            routes.append(f"{r.get('host', '*')}{p.get('path', '/')} -> {svc.get('name')}:"
                          f"{port.get('number', port.get('name'))}")
    lb = [i.get("ip") or i.get("hostname") for i in ((obj.get("status") or {}).get("loadBalancer") or {}).get(
        "ingress") or []]
    return (f"class={spec.get('ingressClassName', '')} " + "; ".join(routes)
            + f" address={','.join(map(str, lb)) or '<none>'}")


def _analysis_run(obj: Mapping[str, Any]) -> str:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    conds = {m.get("name"): m.get("successCondition") or m.get("failureCondition") for m in spec.get("metrics") or []}
    out = [f"phase={status.get('phase', '?')}"]
    for r in status.get("metricResults") or []:
        values = [str(m.get("value")) for m in r.get("measurements") or [] if m.get("value") is not None]
        out.append(f"{r.get('name')}: {r.get('phase')} values [{', '.join(values[-4:])}]"
                   + (f" condition {conds.get(r.get('name'))}" if conds.get(r.get("name")) else "")
                   + (f" failed {r.get('failed')}" if r.get("failed") else ""))
    if status.get("message"):
        out.append(str(status["message"])[:200])
    return "; ".join(out)


def _limit_range(obj: Mapping[str, Any]) -> str:
    return "; ".join(f"{i.get('type')}: " + " ".join(f"{k}={_flow(i[k])}" for k in (
        "max", "min", "default", "defaultRequest", "maxLimitRequestRatio") if i.get(k))
        for i in (obj.get("spec") or {}).get("limits") or [])


def _quota(obj: Mapping[str, Any]) -> str:
    status = obj.get("status") or {}
    hard, used = status.get("hard") or (obj.get("spec") or {}).get("hard") or {}, status.get("used") or {}
    return "; ".join(f"{k} used {used.get(k, '?')} of {v}" for k, v in hard.items())


def _endpoints(obj: Mapping[str, Any]) -> str:
    subsets = obj.get("subsets") or []
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    ports = ",".join(str(p.get("port")) for s in subsets for p in s.get("ports") or [])
    return f"ready={ready} notReady={not_ready} ports={ports}"


def _node(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    zone = labels.get("topology.kubernetes.io/zone", "")
    taints = ",".join(f"{t.get('key')}={t.get('value', '')}:{t.get('effect')}" for t in (obj.get("spec") or {}).get(
        "taints") or [])
    alloc = (obj.get("status") or {}).get("allocatable") or {}
    return (f"zone={zone} allocatable cpu={alloc.get('cpu', '?')} memory={alloc.get('memory', '?')}"
            + (f" taints={taints}" if taints else ""))


def _storage_class(obj: Mapping[str, Any]) -> str:
    topo = _flow(obj.get("allowedTopologies")) if obj.get("allowedTopologies") else ""
    return (f"provisioner={obj.get('provisioner')} volumeBindingMode={obj.get('volumeBindingMode', 'Immediate')}"
            + (f" allowedTopologies={topo}" if topo else ""))


def _configmap(obj: Mapping[str, Any]) -> str:
    keys = sorted({*(obj.get("data") or {}), *(obj.get("binaryData") or {})})
    return f"keys: {', '.join(keys) or '(none)'}"


def _generic(obj: Mapping[str, Any]) -> str:
    """A kind we have no summary for: its spec, compact, so the deciding field is still there."""
    spec = obj.get("spec")
    return f"spec: {_flow(spec, 300)}" if spec else ""


_DECIDING: dict[str, Any] = {
    "PersistentVolume": _pv, "PersistentVolumeClaim": _pvc, "NetworkPolicy": _netpol, "Ingress": _ingress,
    "AnalysisRun": _analysis_run, "LimitRange": _limit_range, "ResourceQuota": _quota, "Endpoints": _endpoints,
    "Node": _node, "StorageClass": _storage_class, "ConfigMap": _configmap, "Secret": lambda o: "",
}


# Kinds whose manifest starts with its one-line summary: their deciding fields lie deep in the spec. The others get
# it only when their manifest is cut (their state, below long metadata, would be cut first).
_SUMMARY_FIRST = frozenset({"Service", "Ingress", "NetworkPolicy", "PersistentVolume", "PersistentVolumeClaim",
                            "AnalysisRun"})
_STATE_BELOW = frozenset({"Deployment", "StatefulSet", "ReplicaSet", "DaemonSet", "Rollout", "Job"})


def render_related(objects: Sequence[Mapping[str, Any]]) -> str:
    if not objects:
        return ""
    return "## Related objects\n" + "\n".join(summarize(o) for o in objects)


# -- what to read first ----------------------------------------------------------------------------------------------

_HEALTH_ORDER = {"Degraded": 0, "Missing": 1, "Unknown": 2, "Progressing": 3, "Suspended": 4}


def unhealthy_resources(application: Mapping[str, Any] | str | None, limit: int = 8) -> list[dict[str, str]]:
    """The Application's resources worth reading before the model answers: unhealthy first (Degraded, Missing,
    Unknown, Progressing), then the out-of-sync ones; each `{kind, namespace, name, health, message}`.

    The agent can read these (manifest, events, related objects, logs) proactively and pass them to
    `build_context(manifest=application, related_objects=...)`, so the first prompt already holds the evidence.
    """
    app = _load(application)
    if not isinstance(app, Mapping):
        return []
    picked: list[tuple[int, int, dict[str, str]]] = []
    for i, r in enumerate(((app.get("status") or {}).get("resources")) or []):
        if not isinstance(r, Mapping):
            continue
        health = (r.get("health") or {})
        rank = _HEALTH_ORDER.get(str(health.get("status")), 9 if r.get("status") != "OutOfSync" else 5)
        if rank < 9:
            picked.append((rank, i, {"kind": str(r.get("kind") or ""), "namespace": str(r.get("namespace") or ""),
                                     "name": str(r.get("name") or ""), "health": str(health.get("status") or ""),
                                     "message": str(health.get("message") or "")}))
    return [entry for _, _, entry in sorted(picked)[:limit]]


# -- findings --------------------------------------------------------------------------------------------------------


def _fit_findings(findings: list[Finding], max_tokens: int, model: str | None) -> tuple[str, bool]:
    if not findings:
        return "", False
    head = "## Findings (deterministic checks, most severe first)"
    lines = [head]
    used = count_tokens(head, model)
    for i, f in enumerate(findings):
        block = f.render()
        cost = count_tokens("\n" + block, model)
        rest = len(findings) - i - 1
        reserve = count_tokens("\n" + omission_marker(rest, "findings"), model) if rest else 0
        if used + cost + reserve > max_tokens:
            short = next((s for s in _shorter(f) if used + count_tokens("\n" + s, model) + reserve <= max_tokens),
                         None)
            if short is not None:
                lines.append(short)
                used += count_tokens("\n" + short, model)
                continue
            lines.append(omission_marker(len(findings) - i, "findings"))
            return "\n".join(lines), True
        lines.append(block)
        used += cost
    return "\n".join(lines), False


def _shorter(finding: Finding) -> Iterator[str]:
    """Smaller renderings of a finding that does not fit whole: its detail with fewer evidence lines (the first ones
    are the decisive fields; the log lines that support them come later), then its title alone."""
    for kept in range(len(finding.evidence) - 1, 0, -1):
        yield replace(finding, evidence=finding.evidence[:kept]).render()
    yield f"- [{finding.severity.value}] {finding.title} ({finding.resource})"


# -- the one path ----------------------------------------------------------------------------------------------------


def build_context(
    manifest: Mapping[str, Any] | str | None = None,
    events: Mapping[str, Any] | Sequence[Mapping[str, Any]] | str | None = None,
    logs: str | Sequence[Any] | None = None,
    related_objects: Iterable[Any] = (),
    budget: Budget | int | None = None,
    model: str | None = None,
    focus: Focus | None = None,
) -> Digest:
    """Findings, cleaned manifest, grouped events, related objects and compressed logs, within `budget` tokens.

    Findings about `focus` (what the user has open) come first, then the rest, each part most severe first.

    `budget` is a `Budget` (this context gets the attachments' share of it), a number of tokens, or None (the
    attachments' share of the default 8192-token window). Inputs are dicts or the extension's JSON strings.
    """
    if isinstance(budget, Budget):
        model = model or budget.model
        limit = budget.share(ATTACHMENTS)
    elif isinstance(budget, int):
        limit = budget
    else:
        limit = Budget(model=model).share(ATTACHMENTS)

    obj = _load(manifest)
    obj = obj if isinstance(obj, Mapping) and obj.get("kind") else None
    items = _event_items(events)
    related = [o for o in flatten(list(related_objects)) if isinstance(o, Mapping) and o.get("kind")
               and o.get("kind") != "Event"]
    related_events = [o for o in flatten(list(related_objects)) if isinstance(o, Mapping)
                      and (o.get("kind") == "Event" or "involvedObject" in o)]
    findings = analyze([*([obj] if obj else []), *related, *items, *related_events],
                       distinct_records(logs) if logs else ())
    if focus:
        findings = focus.first(findings)
    pull = supporting_patterns(findings)

    what = ref(obj) if obj else "the selected resource"
    header = HEADER.format(what=what)
    used = count_tokens(header, model) + 2
    truncated = False

    # What a log says (its quoted errors) is for the diagnosis block: the model reads the log itself, errors first.
    prompt_findings = [f for f in findings if f.code != LOG_ERRORS]
    findings_text, cut = _fit_findings(prompt_findings, max(0, int((limit - used) * FINDINGS_MAX_SHARE)), model)
    truncated |= cut
    f_tokens = count_tokens(findings_text, model) + 2 if findings_text else 0
    rest = max(0, limit - used - f_tokens)

    texts = {
        "manifest": render_manifest(obj) if obj else "",
        "events": render_events(items + related_events),
        "related": render_related(related),
    }
    full_logs = compress_logs(logs, 10 ** 9, model, pull=pull) if logs else None
    demands = {k: count_tokens(v, model) + 2 for k, v in texts.items() if v}
    if full_logs is not None and full_logs.text:
        demands["logs"] = full_logs.tokens + 2
    grants = fair_allocate(rest, demands, SECTION_WEIGHTS)

    # what a section does not use goes to the next one in this order
    parts: dict[str, str] = {}
    sizes: dict[str, int] = {}
    spare = 0
    for name in ("manifest", "events", "related", "logs"):
        if name not in demands:
            continue
        room = grants[name] + spare - 2
        if name == "logs":
            assert full_logs is not None
            fitted = full_logs if full_logs.tokens <= room else compress_logs(logs, max(0, room), model,
                                                                                     pull=pull)
            text, tokens = fitted.text, fitted.tokens
            truncated |= fitted.truncated or (not text and bool(full_logs.text))
            if not text and full_logs.text:
                text = f"## Logs: {omission_marker(full_logs.total_lines)}"
                tokens = count_tokens(text, model)
        else:
            c = cut_text(texts[name], max(0, room), "head", model)
            if name == "manifest" and c.truncated and obj is not None and kind_of(obj) in _STATE_BELOW:
                # a cut manifest keeps its state on one line: the summary after the heading, then what fits
                head, _, body = texts[name].partition("\n")
                line = _state_line(obj)
                c = cut_text(f"{head}\n{line}\n{body}", max(0, room), "head", model)
            text, tokens = c.text, c.tokens
            truncated |= c.truncated
        spare = max(0, room - tokens)
        if text:
            parts[name] = text
            sizes[name] = tokens + 2

    ordered = [header]
    if findings_text:
        ordered.append(findings_text)
        sizes["findings"] = f_tokens
    ordered += [parts[k] for k in ("manifest", "events", "related", "logs") if k in parts]
    text = "\n\n".join(ordered)
    tokens = count_tokens(text, model)
    if tokens > limit:  # joins can cost a token or two more than the parts: cut the end, visibly
        c = cut_text(text, limit, "head", model)
        text, tokens, truncated = c.text, c.tokens, True
    return Digest(text, tokens, truncated, findings, sizes, limit)
