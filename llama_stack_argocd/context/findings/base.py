"""What a finding is, the index analyzers read objects from, and small helpers over plain Kubernetes JSON."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

Obj = Mapping[str, Any]


class Severity(StrEnum):
    CRITICAL = "critical"  # the workload is down or cannot start
    ERROR = "error"  # something failed and needs a change
    WARNING = "warning"  # degraded, or about to fail
    INFO = "info"  # worth knowing, not wrong by itself

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.ERROR: 1, Severity.WARNING: 2, Severity.INFO: 3}

# Within one severity, causes come before the symptoms they produce (a missing Secret before the CrashLoopBackOff).
CODE_ORDER = (
    "OOMKilled", "ImagePullBackOff", "LimitRangeExceeded", "MissingConfigMap", "MissingSecret", "MissingConfigKey",
    "MissingPVC", "PVCPending", "Unschedulable", "ContainerCannotRun", "LivenessProbeFailing",
    "ReadinessProbeFailing", "StartupProbeFailing", "InitContainerFailing", "CrashLoopBackOff", "ContainerFailed",
    "LogErrors",
    "Evicted", "QuotaExceeded", "ReplicaFailure", "JobFailed", "HookFailed", "SyncFailed", "ComparisonError",
    "InvalidSpecError", "SyncError", "HPAUnableToScale", "HPAMetricsUnavailable", "ServiceNoMatchingPods",
    "ServiceNoEndpoints", "ServiceTargetPortMismatch", "IngressBackendMissing", "RolloutStuck",
    "DeploymentUnavailable", "StatefulSetUnavailable", "DaemonSetUnavailable", "VolumeMountFailed", "SandboxFailed",
    "NetworkPolicyBlocking", "DNSResolutionFailed", "LoadBalancerPending", "IngressBackendPortMismatch",
    "AnalysisRunFailed", "ApplicationProgressing", "ApplicationDegraded", "ApplicationMissing", "OutOfSync",
    "SyncRunning", "HPAAtMaxReplicas", "WarningEvent",
)
_CODE_RANK = {code: i for i, code in enumerate(CODE_ORDER)}

MAX_EVIDENCE_CHARS = 300


@dataclass(frozen=True)
class Finding:
    """One diagnosed problem. `evidence` holds literal strings from the objects, so the model can quote them."""

    severity: Severity
    title: str
    detail: str
    evidence: list[str] = field(default_factory=list)
    resource: str = ""  # "Pod shop/orders-6f9c7d8b5-x2kqz"
    code: str = ""  # stable identifier, e.g. "CrashLoopBackOff"

    def sort_key(self) -> tuple[Any, ...]:
        return (self.severity.rank, _CODE_RANK.get(self.code, len(_CODE_RANK)), self.resource, self.title)

    def render(self) -> str:
        head = f"- [{self.severity.value}] {self.title}"
        if self.resource:
            head += f" ({self.resource})"
        lines = [head]
        if self.detail:
            lines.append(f"  {self.detail}")
        if self.evidence:
            lines.append("  evidence: " + " | ".join(self.evidence))
        return "\n".join(lines)


@dataclass(frozen=True)
class Focus:
    """The resources the user is looking at: the manifest the extension attached (the one open in the UI), the
    resource the question names, the Pods read with either, the objects the attached events are about. Their
    findings come first, in the context and in the diagnosis block, whatever else was read beside them."""

    resources: frozenset[tuple[str, str]] = frozenset()  # (kind, name); namespaces differ between sources
    lead: frozenset[tuple[str, str, str]] = frozenset()  # findings that go before all others (`about`)

    @classmethod
    def leading(cls, findings: Iterable[Finding]) -> Focus:
        """A focus whose `findings` lead: those the extension's attachments produce on their own (what the user
        has open), ahead of the findings about the same resources that only the agent's reads produce."""
        return cls(lead=frozenset(about(f) for f in findings))

    @classmethod
    def of(cls, objects: Iterable[Any]) -> Focus:
        """The focus on these objects (dicts with kind and metadata.name, or events: their involved object)."""
        out: set[tuple[str, str]] = set()
        for obj in objects:
            if not isinstance(obj, Mapping):
                continue
            target = event_object(obj) if is_event(obj) else {"kind": obj.get("kind"), "name": name_of(obj)}
            if target.get("kind") and target.get("name"):
                out.add((str(target["kind"]), str(target["name"])))
        return cls(frozenset(out))

    def __bool__(self) -> bool:
        return bool(self.resources or self.lead)

    def __or__(self, other: Focus) -> Focus:
        return Focus(self.resources | other.resources, self.lead | other.lead)

    def holds(self, resource: str) -> bool:
        """Whether a finding's `resource` ("Pod shop/orders-x", "Deployment web") is in focus."""
        return _kind_name(resource) in self.resources

    def first(self, findings: Iterable[Finding]) -> list[Finding]:
        """`findings` with the leading ones first, then those about the focus, then the rest, each in its order."""
        def tier(f: Finding) -> int:
            return 0 if about(f) in self.lead else 1 if self.holds(f.resource) else 2
        return sorted(findings, key=tier)  # stable: each tier keeps the analyzers' order


def _kind_name(resource: str) -> tuple[str, str]:
    kind, _, rest = resource.partition(" ")
    return kind, rest.rpartition("/")[2]


def about(finding: Finding) -> tuple[str, str, str]:
    """What a finding says about what, whichever source it came from: (code or title, kind, name)."""
    return (finding.code or finding.title, *_kind_name(finding.resource))


_INNERMOST = ("Error: ", "error: ", "desc = ", "Caused by: ", "caused by: ", "err: ", "failed: ")


def clip(text: Any, limit: int = MAX_EVIDENCE_CHARS) -> str:
    """One line within `limit` characters. A long message keeps its start and its decisive end: the innermost cause
    of a wrapped error (`... desc = ... Error: ...`), its first words and its end when it is long, or, with none, the
    last part (render errors end with the error)."""
    s = " ".join(str(text).split())
    if len(s) <= limit:
        return s
    head_len = max(20, limit // 4)
    starts = [s.rfind(m) for m in _INNERMOST]
    start = max(starts)
    room = limit - head_len - 5
    if start > head_len and len(s) - start > room:  # the innermost cause's first words, and the very end
        half = (room - 5) // 2
        tail = _last_clause(s[start:], half, room - 5 - MIN_CAUSE_CHARS) or s[len(s) - half:]
        return s[:head_len] + " ... " + s[start:start + room - 5 - len(tail)] + " ... " + tail
    return s[:head_len] + " ... " + s[max(start, len(s) - room) if start > head_len else len(s) - room:]


MIN_CAUSE_CHARS = 40  # of the innermost cause's first words, kept beside its last clause


def _last_clause(text: str, enough: int, limit: int) -> str:
    """The end of a wrapped error from the start of a clause (`outer: inner: last words`): its last clause, and the
    ones before it while they are shorter than `enough`, within `limit`; "" when the last clause alone is longer. A
    cut in the middle of the last clause loses what it is about (the file, the key it names)."""
    best = ""
    at = text.rfind(": ")
    while at > 0 and len(text) - at - 2 <= limit:
        best = text[at + 2:]
        if len(best) >= enough:
            break
        at = text.rfind(": ", 0, at)
    return best


# -- object helpers --------------------------------------------------------------------------------------------------


def meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Obj) -> str:
    return str(meta(obj).get("namespace") or "")


def kind_of(obj: Obj) -> str:
    return str(obj.get("kind") or "")


def ref(obj: Obj) -> str:
    ns = namespace_of(obj)
    return f"{kind_of(obj)} {ns + '/' if ns else ''}{name_of(obj)}"


def conditions(obj: Obj) -> list[Mapping[str, Any]]:
    return [c for c in ((obj.get("status") or {}).get("conditions") or []) if isinstance(c, Mapping)]


def condition(obj: Obj, ctype: str) -> Mapping[str, Any] | None:
    for c in conditions(obj):
        if c.get("type") == ctype:
            return c
    return None


def pod_spec(obj: Obj) -> Mapping[str, Any]:
    """The Pod spec of a Pod or of a workload's template (CronJob: its job template's)."""
    spec = obj.get("spec") or {}
    if kind_of(obj) == "Pod":
        return spec
    if kind_of(obj) == "CronJob":
        spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    return ((spec.get("template") or {}).get("spec")) or {}


def containers(spec: Mapping[str, Any], init: bool = True) -> list[Mapping[str, Any]]:
    out = list(spec.get("initContainers") or []) if init else []
    return out + list(spec.get("containers") or [])


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, Any] | None) -> bool:
    """A plain `{k: v}` selector or a LabelSelector (`matchLabels` and `matchExpressions`)."""
    if not selector:
        return False
    labels = labels or {}
    if "matchLabels" in selector or "matchExpressions" in selector:
        for k, v in (selector.get("matchLabels") or {}).items():
            if labels.get(k) != v:
                return False
        for expr in selector.get("matchExpressions") or []:
            key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return True
    return all(labels.get(k) == v for k, v in selector.items())


def format_selector(selector: Mapping[str, Any] | None) -> str:
    if not selector:
        return ""
    plain = selector.get("matchLabels", selector) if isinstance(selector, Mapping) else {}
    return ",".join(f"{k}={v}" for k, v in sorted(plain.items()) if isinstance(v, str))


def format_requirement(req: Mapping[str, Any]) -> str:
    """One selector requirement (a label or node selector's expression) as `key Operator v1,v2`."""
    values = ",".join(map(str, req.get("values") or []))
    return " ".join(x for x in (str(req.get("key", "")), str(req.get("operator", "")), values) if x)


def format_ports(ports: Sequence[Mapping[str, Any]] | None) -> str:
    """A Service's ports as `port(name)->targetPort`, comma-separated: one spelling in the prompt and the findings."""
    return ",".join(f"{p.get('port')}" + (f"({p['name']})" if p.get("name") else "")
                    + f"->{p.get('targetPort', p.get('port'))}" for p in ports or [] if isinstance(p, Mapping))


# -- events ------------------------------------------------------------------------------------------------------------


def event_object(ev: Obj) -> Mapping[str, Any]:
    return ev.get("involvedObject") or ev.get("regarding") or {}


def event_reason(ev: Obj) -> str:
    return str(ev.get("reason") or "")


def event_message(ev: Obj) -> str:
    return str(ev.get("message") or ev.get("note") or "")


def event_count(ev: Obj) -> int:
    series = ev.get("series") or {}
    for value in (ev.get("count"), series.get("count"), ev.get("deprecatedCount")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def event_time(ev: Obj) -> str:
    series = ev.get("series") or {}
    return str(ev.get("lastTimestamp") or series.get("lastObservedTime") or ev.get("eventTime")
               or ev.get("deprecatedLastTimestamp") or ev.get("firstTimestamp") or "")


def is_event(obj: Obj) -> bool:
    return kind_of(obj) == "Event" or ("involvedObject" in obj and "reason" in obj) or (
        "regarding" in obj and "reason" in obj)


# -- the index -------------------------------------------------------------------------------------------------------


def flatten(objects: Iterable[Any]) -> Iterator[Obj]:
    """Objects, lists (`kind: XList` / `{items: [...]}`) and JSON strings of either."""
    import json

    for obj in objects:
        if obj is None:
            continue
        if isinstance(obj, (str, bytes)):
            try:
                obj = json.loads(obj)
            except ValueError:
                continue
        if isinstance(obj, list):
            yield from flatten(obj)
        elif isinstance(obj, Mapping):
            if isinstance(obj.get("items"), list) and "metadata" not in obj or str(obj.get("kind", "")).endswith(
                    "List"):
                yield from flatten(obj.get("items") or [])
            else:
                yield obj


class Cluster:
    """What the analyzers see: the objects by kind, and the events about each of them.

    Events about an object we were not given (a Pod's, when only its Deployment was attached) produce a stub object,
    so the analyzers of that kind still read them.
    """

    def __init__(self, objects: Iterable[Any], logs: Iterable[tuple[str, str]] = ()) -> None:
        self.logs: list[tuple[str, str]] = list(logs)  # (Pod name or "", text) of each distinct log record
        self.focus: Obj | None = None
        self.objects: list[Obj] = []
        self.events: list[Obj] = []
        seen: set[tuple[str, str, str]] = set()
        for obj in flatten(objects):
            if is_event(obj):
                self.events.append(obj)
                continue
            key = (kind_of(obj), namespace_of(obj), name_of(obj))
            if key in seen or not key[0]:
                continue
            seen.add(key)
            self.objects.append(obj)
            if self.focus is None:
                self.focus = obj
        self._events_by: dict[tuple[str, str, str], list[Obj]] = {}
        for ev in self.events:
            io = event_object(ev)
            ns = str(io.get("namespace") or ev.get("metadata", {}).get("namespace") or "")
            key = (str(io.get("kind") or ""), ns, str(io.get("name") or ""))
            self._events_by.setdefault(key, []).append(ev)
            if key not in seen and key[0] and key[2]:
                seen.add(key)
                stub = {"apiVersion": io.get("apiVersion", "v1"), "kind": key[0],
                        "metadata": {"name": key[2], "namespace": ns, "uid": io.get("uid", "")}, "_stub": True}
                self.objects.append(stub)
        self.objects.sort(key=lambda o: (kind_of(o), namespace_of(o), name_of(o)))

    def of_kind(self, *kinds: str) -> list[Obj]:
        return [o for o in self.objects if kind_of(o) in kinds]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        for o in self.objects:
            if kind_of(o) == kind and name_of(o) == name and (not namespace or namespace_of(o) in ("", namespace)):
                return o
        return None

    def has_inventory(self, kind: str, namespace: str) -> bool:
        """Whether we were given real objects of `kind` in `namespace` (then one not among them is missing)."""
        return any(kind_of(o) == kind and namespace_of(o) == namespace and not o.get("_stub") for o in self.objects)

    def events_for(self, obj: Obj) -> list[Obj]:
        evs = self._events_by.get((kind_of(obj), namespace_of(obj), name_of(obj)), [])
        return sorted(evs, key=event_time)

    def warnings_for(self, obj: Obj, *reasons: str) -> list[Obj]:
        return [e for e in self.events_for(obj)
                if (e.get("type") or "Warning") != "Normal" and (not reasons or event_reason(e) in reasons)]

    def pods_in(self, namespace: str) -> list[Obj]:
        return [o for o in self.of_kind("Pod") if namespace_of(o) == namespace and not o.get("_stub")]
