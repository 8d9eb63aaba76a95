"""The evidence the agent gathers itself before the model's first round.

"Why is this failing?" needs the same reads every time: the Application's own health and sync per resource, the
operation's failed results, and for what is unhealthy its Pods, container states, events and the log of the
container instance that crashed. A strong model would spend a tool round on them; a small one never calls a tool.
So when a turn has an Application in scope, the agent reads them first:

    collected = await gatherer.collect(app, focus=ResourceRef(...) or None, question="why is it failing?")
    evidence = gatherer.render(collected, budget_tokens=1200, model="openai/gpt-4o")

`collect` reads the Application once, picks what to read (the focused resource first, then failed sync results
and hooks, then Degraded/Missing/Unknown/Progressing, then OutOfSync; at most `max_resources`), and reads each of
them concurrently through `ContextService.bound`: the same source, the same scope checks (`fetch_in_scope`), the
same short-lived read cache the tools of the turn then hit. Every read is bounded; a read that fails or times out is
reported as not read and never fails the turn. `render` redacts, runs the analyzers and fits findings first within
the budget through `digest.build_context`, the one fitter.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, Field

from llama_stack_argocd.context.budget import model_setting
from llama_stack_argocd.context.cache import CachedSource, ReadCache
from llama_stack_argocd.context.digest import build_context, unhealthy_resources
from llama_stack_argocd.context.errors import AccessDenied, ContextError, NotFound, Unavailable
from llama_stack_argocd.context.findings import Finding, Severity
from llama_stack_argocd.context.findings.support import supporting_patterns
from llama_stack_argocd.context.findings.base import Focus, selector_matches
from llama_stack_argocd.context.findings.network import connection_targets
from llama_stack_argocd.context.findings.references import references
from llama_stack_argocd.context.logs import ATTACHED, PREVIOUS_INSTANCE, parse_logs, scan_back
from llama_stack_argocd.context.settings import HARD_MAX_LOG_LINES
from llama_stack_argocd.context.application_scope import ApplicationScope, fetch_in_scope, in_scope, load_scope
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import FAILED_HOOK_PHASES, FAILED_SYNC_STATUSES, ContextService
from llama_stack_argocd.context.source import ClusterSource
from llama_stack_argocd.context.tokens import count_tokens
from llama_stack_argocd.context.workloads import (
    CHILD_KIND, WORKLOAD_KINDS, default_container, descendants, owned_by, selects)

Obj = dict[str, Any]
T = TypeVar("T")

HEADER = "# Checked before answering: Argo CD Application {app}"
_RENDERS_KEPT = 64
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
FOCUSED = "the resource the question is about"
START_LINES = 5  # of an instance's whole log, its first lines: how it started (address, configuration)
_CRASH_WAITING = frozenset({"CrashLoopBackOff", "Error", "RunContainerError"})


# Models that read their prompt slowly: the embedded SmolLM2 on a few shared cores takes tens of seconds per
# thousand tokens, and its answer gets the findings from the diagnosis block anyway (all of them: the analyzers run
# on everything read, whatever the fitting keeps).
KNOWN_EVIDENCE_TOKENS: tuple[tuple[str, int | None], ...] = ((r"smollm|argocd-embedded", 1024),)


class EvidenceSettings(BaseModel):
    """What the agent reads before the first model round (`agent.evidence` in run.yaml)."""

    enabled: bool = Field(default=True, description="Gather the evidence when a turn has an Application in scope.")
    max_resources: int = Field(default=4, ge=1, le=20, description="Resources read, the focused one first.")
    max_pods: int = Field(default=3, ge=1, le=20, description="Pods of one workload read, the unhealthy ones first.")
    max_logs: int = Field(default=3, ge=0, le=20, description="Container logs read: of crashed containers (the "
                          "previous instance, else the current), else the current one of the most troubled Pod.")
    log_lines: int = Field(default=100, ge=1, le=1000, description="Last lines of each of those logs.")
    scan_lines: int = Field(default=HARD_MAX_LOG_LINES, ge=0, le=HARD_MAX_LOG_LINES, description="Lines of each of those logs "
                            "read to find the errors and warnings before its last `log_lines` (0: none).")
    scan_kept: int = Field(default=60, ge=0, le=1000, description="Of those earlier lines, the newest kept.")
    timeout_seconds: float = Field(default=5.0, gt=0, le=60, description="Bound on each resource's reads.")
    max_tokens: dict[str, int] = Field(default_factory=dict, description="Most tokens of the evidence by model id "
                                       "(or regex); unset: the attachments' room (`KNOWN_EVIDENCE_TOKENS` for the "
                                       "embedded model).")

    def token_cap(self, model: str | None) -> int | None:
        """The bound on the evidence's tokens for `model`, if any."""
        return model_setting(model, self.max_tokens, KNOWN_EVIDENCE_TOKENS, None)


@dataclass(frozen=True)
class Target:
    """One resource to read, and why it was picked."""

    ref: ResourceRef
    why: str


@dataclass
class _Read:
    target: Target
    obj: Obj | None = None
    pods: list[Obj] = field(default_factory=list)
    events: list[Obj] = field(default_factory=list)
    logs: list[tuple[str, str, bool, str]] = field(default_factory=list)  # pod, container, previous, text
    related: list[Obj] = field(default_factory=list)  # Services, NetworkPolicies, backends around it
    problems: list[str] = field(default_factory=list)


@dataclass
class Collected:
    """The raw reads of one gathering (not yet redacted: `render` does that)."""

    app: AppRef
    application: Obj | None = None
    reads: list[_Read] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what could not be read, and why

    def key(self) -> str:
        """A hash of what was read, before redaction, for the in-memory renders only (never stored: the stored
        fingerprint is of the redacted reads)."""
        reads = [(str(r.target.ref), r.target.why, r.obj, r.pods, r.events, r.logs, r.related, r.problems)
                 for r in self.reads]
        return _fingerprint([str(self.app), self.application, reads, self.problems])


@dataclass(frozen=True)
class Attached:
    """What the extension attached to this turn (already redacted by the caller), merged into the evidence so that
    one digest holds both: the same object or event once, the attached log beside the one read, one budget. Without
    this the attachments would fill the room first and leave the decisive evidence out."""

    manifest: Obj | None = None
    events: tuple[Obj, ...] = ()
    logs: Any = None  # the extension's log entries or text
    findings: tuple[Finding, ...] = ()  # what the attachments show on their own: they lead the merged findings

    def key(self) -> str:
        return _fingerprint([self.manifest, list(self.events), self.logs])


@dataclass(frozen=True)
class Evidence:
    """What goes first in the first user message."""

    text: str
    tokens: int = 0
    truncated: bool = False
    findings: tuple[Finding, ...] = ()  # the analyzers', most severe first (of the redacted reads)
    read: tuple[str, ...] = ()
    not_read: tuple[str, ...] = ()
    redactions: int = 0
    fingerprint: str = ""  # of what was read, not of its fitting: like an attachment's, sent again when it changed


# -- what to read --------------------------------------------------------------------------------------------------


def focus_of(manifest: Any) -> ResourceRef | None:
    """The resource an attached manifest is (the extension attaches the one the user has open)."""
    if not isinstance(manifest, Mapping):
        return None
    meta = manifest.get("metadata") or {}
    kind, name = manifest.get("kind"), meta.get("name") if isinstance(meta, Mapping) else None
    if not isinstance(kind, str) or not isinstance(name, str) or not kind or not name:
        return None
    group = str(manifest.get("apiVersion") or "").rpartition("/")[0]
    namespace = meta.get("namespace")
    return ResourceRef(kind=kind, name=name, namespace=namespace if isinstance(namespace, str) else None, group=group)


_KIND_SLASH_NAME = re.compile(r"\b([A-Za-z]+)/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)\b")


def named_in(question: str | None, application: Mapping[str, Any]) -> ResourceRef | None:
    """The resource the question names: `Kind/name`, or the name of one of the Application's resources (the
    longest name that appears as a whole word, so `web-db` wins over `web`)."""
    if not question:
        return None
    resources = [r for r in ((application.get("status") or {}).get("resources") or []) if isinstance(r, Mapping)]
    for match in _KIND_SLASH_NAME.finditer(question):
        kind, name = match.group(1), match.group(2)
        listed = next((r for r in resources if str(r.get("name")) == name
                       and str(r.get("kind", "")).lower() == kind.lower()), None)
        if listed is not None:
            return _ref_of_entry(listed)
        if kind.lower() in ("pod", "po", "pods"):
            return ResourceRef(kind="Pod", name=name)
    words = set(re.findall(r"[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?", question.lower()))
    named = [r for r in resources if str(r.get("name") or "") in words]
    if not named:
        return None
    return _ref_of_entry(max(named, key=lambda r: len(str(r.get("name")))))


def _ref_of_entry(entry: Mapping[str, Any]) -> ResourceRef:
    namespace = entry.get("namespace")
    return ResourceRef(kind=str(entry.get("kind") or ""), name=str(entry.get("name") or ""),
                       namespace=str(namespace) if namespace else None, group=str(entry.get("group") or ""))


def pick_targets(application: Mapping[str, Any], focus: ResourceRef | None, limit: int) -> list[Target]:
    """Focused first; then failed sync results and hooks; then unhealthy, missing, out of sync (digest's order)."""
    out: list[Target] = []
    seen: set[tuple[str, str | None, str]] = set()

    def add(ref: ResourceRef, why: str) -> None:
        key = (ref.kind.lower(), ref.namespace, ref.name)
        if key not in seen and ref.kind and ref.name:
            seen.add(key)
            out.append(Target(ref, why))

    if focus is not None:
        add(focus, FOCUSED)
    operation = ((application.get("status") or {}).get("operationState")) or {}
    for result in (operation.get("syncResult") or {}).get("resources") or []:
        if result.get("status") in FAILED_SYNC_STATUSES or result.get("hookPhase") in FAILED_HOOK_PHASES:
            what = "hook " + str(result.get("hookPhase")) if result.get("hookType") else "sync failed"
            add(_ref_of_entry(result), f"{what}: {result.get('message') or ''}".rstrip(": "))
    for entry in unhealthy_resources(dict(application), limit=limit + len(out)):
        state = entry["health"] or "OutOfSync"
        add(ResourceRef(kind=entry["kind"], name=entry["name"], namespace=entry["namespace"] or None),
            f"{state}: {entry['message']}".rstrip(": "))
    if not out:  # Argo CD sees nothing wrong, the user does: what runs is where it shows (logs, restarts, events),
        # and how traffic reaches it (a Service whose selector matches nothing is Healthy to Argo CD)
        entries = [e for e in ((application.get("status") or {}).get("resources") or []) if isinstance(e, Mapping)]
        fallbacks: tuple[tuple[frozenset[str], str], ...] = (
            (WORKLOAD_KINDS - {"Pod"}, "a workload"), (frozenset({"Service", "Ingress"}), "a Service or Ingress"),
            (frozenset({"Pod"}), "a workload"))
        for kinds, why in fallbacks:
            for resource in entries:
                if resource.get("kind") in kinds:
                    add(_ref_of_entry(resource), f"{why} of the Application (none is reported unhealthy)")
    return out[:limit]


def _restarted(pod: Obj) -> list[tuple[str, bool]]:
    """(container, previous) whose log explains a crash: the previous instance of one that restarted or is
    backing off, the current one of one that ended in error without a restart (a Job's Pod)."""
    status = pod.get("status") or {}
    out: list[tuple[str, bool]] = []
    for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        name, state = str(c.get("name") or ""), c.get("state") or {}
        waiting = (state.get("waiting") or {}).get("reason")
        terminated = state.get("terminated") or {}
        if c.get("restartCount") or (c.get("lastState") or {}).get("terminated") or waiting in _CRASH_WAITING:
            out.append((name, True))
        elif terminated and terminated.get("exitCode") not in (None, 0):
            out.append((name, False))
    return out


def _supporting(pod: Obj | None, container: str) -> list[re.Pattern[str]]:
    """The log lines that would support what the container's state suggests, whatever their level: heap and GC
    lines for an OOM kill, pauses and start-up for a probe that killed it (`findings.support`); what holds a Pod
    unready is in its log's tail."""
    if pod is None:
        return []
    spec: Mapping[str, Any] = next((c for c in [*((pod.get("spec") or {}).get("initContainers") or []),
                             *((pod.get("spec") or {}).get("containers") or [])] if c.get("name") == container), {})
    status: Mapping[str, Any] = next((c for c in [*((pod.get("status") or {}).get("initContainerStatuses") or []),
                               *((pod.get("status") or {}).get("containerStatuses") or [])]
                   if c.get("name") == container), {})
    codes = []
    if "OOMKilled" in json.dumps([status.get("lastState"), status.get("state")]):
        codes.append("OOMKilled")
    if spec.get("livenessProbe") and (status.get("restartCount") or (status.get("lastState") or {}).get("terminated")):
        codes.append("LivenessProbeFailing")
    if spec.get("startupProbe") and status.get("restartCount"):
        codes.append("StartupProbeFailing")
    return supporting_patterns(Finding(Severity.INFO, "", "", code=code) for code in codes)


def _may_have_log(pod: Obj) -> bool:
    """Whether a Pod has a log to read: not a Pending one none of whose containers ever ran (the API refuses it; the
    scheduler's or kubelet's events say why)."""
    status = pod.get("status") or {}
    if status.get("phase") != "Pending":
        return True
    return any((c.get("state") or {}).get("running") or (c.get("state") or {}).get("terminated")
               or (c.get("lastState") or {}).get("terminated")
               for c in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])])


def _applies(policy: Obj, labels: Mapping[str, Any]) -> bool:
    """A NetworkPolicy selects the Pod (an empty podSelector selects every Pod of the namespace)."""
    selector = (policy.get("spec") or {}).get("podSelector") or {}
    if not (selector.get("matchLabels") or selector.get("matchExpressions")):
        return True
    return selector_matches(selector, labels)


def _trouble(pod: Obj) -> int:
    """Sort key: Pods with crashed or waiting containers first, then not-ready ones."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    if _restarted(pod):
        return 0
    return 1 if not statuses or not all(c.get("ready") for c in statuses) else 2


# -- the gatherer ---------------------------------------------------------------------------------------------------


class EvidenceGatherer:
    """Reads and renders the evidence for one Application, through the tools' own `ContextService`."""

    def __init__(self, service: ContextService, settings: EvidenceSettings | None = None) -> None:
        self.service = service
        self.settings = settings or EvidenceSettings()
        # Renders of recent reads: the turns and users the read cache serves the same reads get the same evidence.
        self._rendered: OrderedDict[tuple[str, int, str | None, str], Evidence] = OrderedDict()

    async def collect(self, app: AppRef, focus: ResourceRef | None = None, question: str | None = None) -> Collected:
        """Read the Application once, then every picked resource concurrently; never raises a read's failure."""
        collected = Collected(app)
        bound = self.settings.timeout_seconds
        try:
            source = self.service.bound(app)
            if not isinstance(source, CachedSource):  # the cache is off: still share reads within this gathering
                source = ReadCache(bound * 4, 1024).bind(source, app, "this gathering")
            scope = await asyncio.wait_for(load_scope(source, app), bound)
        except Exception as error:  # noqa: BLE001 - no evidence is an answer too; the tools will say why
            collected.problems.append(f"Application {app}: {_reason(error, bound)}")
            return collected
        collected.application = scope.application
        focus = focus or named_in(question, scope.application)
        targets = pick_targets(scope.application, focus, self.settings.max_resources)
        log_slots = asyncio.Semaphore(max(1, self.settings.max_logs))
        budget = [self.settings.max_logs]
        early = self._listings(source, scope, targets)
        collected.reads = list(await asyncio.gather(
            *(self._read(source, scope, target, budget, log_slots) for target in targets)))
        await asyncio.gather(*early, return_exceptions=True)
        return collected

    def _listings(self, source: ClusterSource, scope: ApplicationScope, targets: list[Target]) -> list[Any]:
        """Start the namespace listings the workloads' reads will need (Pods, their controllers, Events) now,
        beside the reads of the workloads themselves; the cache hands them over. Only namespaces in scope."""
        wanted: set[tuple[str, str]] = set()
        for target in targets:
            kind = target.ref.kind
            namespace = target.ref.namespace or scope.default_namespace()
            if kind not in WORKLOAD_KINDS or namespace not in scope.namespaces or namespace is None:
                continue
            wanted |= {("Pod", namespace), ("Service", namespace), ("NetworkPolicy", namespace), ("LimitRange", namespace)}
            if (child := CHILD_KIND.get(kind)) and child != "Pod":
                wanted.add((child, namespace))
            if getattr(source, "events_by_namespace", False):
                wanted.add(("Event", namespace))
        bound = self.settings.timeout_seconds
        return [asyncio.ensure_future(asyncio.wait_for(source.list(kind, ns), bound)) for kind, ns in sorted(wanted)]

    async def _read(self, source: ClusterSource, scope: ApplicationScope, target: Target, logs_left: list[int],
                    log_slots: asyncio.Semaphore) -> _Read:
        read = _Read(target)
        bound = self.settings.timeout_seconds
        try:
            read.obj = await asyncio.wait_for(fetch_in_scope(source, scope, target.ref), bound)
        except Exception as error:  # noqa: BLE001 - out of scope, gone (Missing), unreachable: not read
            read.problems.append(f"{target.ref}: {_reason(error, bound)}")
            return read
        obj = read.obj
        namespace = (obj.get("metadata") or {}).get("namespace")
        middle: list[Obj] = []
        if obj.get("kind") in WORKLOAD_KINDS:
            found = await self._bounded(descendants(source, obj), read, f"the Pods of {target.ref}")
            if found is not None:
                middle, pods = found
                read.pods = sorted(pods, key=_trouble)[: self.settings.max_pods]
        subjects = [obj, *middle, *read.pods]
        wanted: list[tuple[str, str, bool]] = []
        for pod in read.pods:
            for container, previous in _restarted(pod):
                if logs_left[0] > 0:
                    logs_left[0] -= 1
                    wanted.append((str((pod.get("metadata") or {}).get("name") or ""), container, previous))
        if not wanted and read.pods and logs_left[0] > 0:  # nothing crashed: what the most troubled Pod says now
            if (chosen := default_container(read.pods[0])) is not None and _may_have_log(read.pods[0]):
                logs_left[0] -= 1
                wanted.append((str((read.pods[0].get("metadata") or {}).get("name") or ""), chosen, False))

        lines = max(self.settings.log_lines, self.settings.scan_lines)
        by_name = {str((p.get("metadata") or {}).get("name") or ""): p for p in read.pods}

        async def log(pod: str, container: str, previous: bool) -> None:
            async with log_slots:
                try:
                    text = await asyncio.wait_for(source.log(namespace or "", pod, container, lines, previous), bound)
                except ContextError as error:
                    if not previous or isinstance(error, (Unavailable, AccessDenied)):  # a slow API: not twice
                        read.problems.append(f"the {'previous ' if previous else ''}log of {pod}/{container}: "
                                             f"{error.message}")
                        return
                    # no previous instance (or its log is gone): the current one holds what it last said
                    first = error
                    try:
                        text = await asyncio.wait_for(source.log(namespace or "", pod, container, lines, False),
                                                      bound)
                    except Exception as second:  # noqa: BLE001
                        read.problems.append(f"the previous log of {pod}/{container}: {first.message}; "
                                             f"the current one: {_reason(second, bound)}")
                        return
                    previous = False
                except Exception as error:  # noqa: BLE001 - a timeout, an unreachable API
                    kind = "previous log" if previous else "log"
                    read.problems.append(f"the {kind} of {pod}/{container}: {_reason(error, bound)}")
                    return
            if text:  # a source that ignores tailLines (a proxy, a stand-in) is still bounded
                whole = len(text.splitlines()) < lines  # the instance's whole log: its start-up is there too
                read.logs.append((pod, container, previous, scan_back(
                    _tail(text, lines), self.settings.log_lines, self.settings.scan_kept,
                    START_LINES if whole else 0, _supporting(by_name.get(pod), container))))

        async def events() -> None:
            found = await self._bounded(source.events(namespace, subjects), read, f"the events of {target.ref}")
            read.events = found or []

        async def neighbours() -> None:
            found = await self._bounded(self._neighbours(source, scope, obj, read.pods, read.problems), read,
                                        f"what is around {target.ref}")
            read.related = found or []

        await asyncio.gather(events(), neighbours(), *(log(*w) for w in wanted))
        if read.logs and read.pods:
            callees = await self._bounded(_policed_targets(source, scope, namespace, read), read,
                                          f"what the logs of {target.ref} connect to")
            read.related += callees or []
        return read

    async def _neighbours(self, source: ClusterSource, scope: ApplicationScope, obj: Obj, pods: list[Obj],
                          problems: list[str]) -> list[Obj]:
        """What decides how traffic reaches `obj`: for its most troubled Pod, the Services selecting it and the
        NetworkPolicies of its namespace that apply; for a Service, the Pods it selects and its Endpoints; for an
        Ingress, its backend Services. Objects outside the Application are left out (`in_scope`), as the tools do."""
        kind, meta = obj.get("kind"), obj.get("metadata") or {}
        namespace = meta.get("namespace")
        out: list[Obj] = []

        async def visible(candidates: list[Obj]) -> list[Obj]:
            flags = await asyncio.gather(*(in_scope(source, scope, c) for c in candidates))
            return [c for c, ok in zip(candidates, flags, strict=True) if ok]

        async def listed(kind: str) -> list[Obj]:
            try:
                return await source.list(kind, namespace)
            except ContextError:  # the credentials may not list it: that part is not shown
                return []

        async def claims(pod: Obj) -> list[Obj]:
            names = sorted({str(name) for v in (pod.get("spec") or {}).get("volumes") or []
                            if (name := (v.get("persistentVolumeClaim") or {}).get("claimName"))})
            found = await asyncio.gather(*(source.get("PersistentVolumeClaim", namespace, n) for n in names[:4]),
                                         return_exceptions=True)
            return [c for c in found if isinstance(c, dict)]

        if kind == "Pod" and not pods:
            pods = [obj]
        for pod in pods[:1]:  # a container that cannot be created for a key a ConfigMap or Secret lacks: what it has
            out += await _key_holders(source, scope, pod)
        if kind in WORKLOAD_KINDS or kind == "Pod":  # each applies to every Pod of the namespace: what admits a
            out += await listed("LimitRange")  # Pod (a workload whose Pods were refused has none) and its defaults
        if pods:
            labels = (pods[0].get("metadata") or {}).get("labels") or {}
            services, policies, mounted = await asyncio.gather(
                listed("Service"), listed("NetworkPolicy"), claims(pods[0]))
            out += await visible([s for s in services
                                  if selects((s.get("spec") or {}).get("selector") or {}, labels)])
            out += [p for p in policies if _applies(p, labels)]  # namespace configuration, as the tools show it
            out += mounted  # a claim the Pod mounts decides where it runs (and, pending, whether it starts)
            out += [v for v in await asyncio.gather(*(_bound_volume(source, c) for c in mounted)) if v]
        elif kind == "PersistentVolumeClaim":
            out += [v for v in [await _bound_volume(source, obj)] if v]
        elif kind == "Service":
            selector = (obj.get("spec") or {}).get("selector") or {}
            listed_pods = await listed("Pod")
            chosen = (await visible([p for p in listed_pods
                                     if selects(selector, (p.get("metadata") or {}).get("labels") or {})]))[:3]
            if selector and not chosen:  # it selects none: the Application's Pods there, with the labels they have
                chosen = (await visible(listed_pods))[:3]
            out += chosen
            try:
                out.append(await fetch_in_scope(source, scope, ResourceRef(kind="Endpoints", name=meta.get("name") or "",
                                                                           namespace=namespace)))
            except ContextError:
                pass
        elif kind == "Ingress":
            names = sorted({str(name) for r in (obj.get("spec") or {}).get("rules") or []
                            for p in (r.get("http") or {}).get("paths") or []
                            if (name := ((p.get("backend") or {}).get("service") or {}).get("name"))})
            backends = await asyncio.gather(*(fetch_in_scope(source, scope, ResourceRef(
                kind="Service", name=name, namespace=namespace)) for name in names[:4]), return_exceptions=True)
            for name, backend in zip(names, backends, strict=False):
                if isinstance(backend, ContextError):  # a backend that does not exist is the evidence itself
                    problems.append(f"backend Service {name} of {obj.get('kind')} {meta.get('name')}: "
                                    f"{backend.message}")
                elif isinstance(backend, dict):
                    out.append(backend)
        if kind == "Rollout":
            runs = owned_by(await listed("AnalysisRun"), obj)
            runs.sort(key=lambda r: str((r.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
            out += runs[:3]  # the newest: the one that aborted the rollout and those before it
        return out

    async def _bounded(self, awaitable: Awaitable[T], read: _Read, what: str) -> T | None:
        bound = self.settings.timeout_seconds
        try:
            return await asyncio.wait_for(awaitable, bound)
        except Exception as error:  # noqa: BLE001 - one failed read leaves the rest of the evidence
            read.problems.append(f"{what}: {_reason(error, bound)}")
            return None

    def render(self, collected: Collected, budget_tokens: int, model: str | None = None,
               attached: Attached | None = None) -> Evidence:
        """Redacted, analysed and fitted within `budget_tokens` (findings first), `attached` merged in; empty when
        nothing was read."""
        key = (collected.key(), budget_tokens, model, attached.key() if attached else "")
        if (kept := self._rendered.get(key)) is not None:
            return kept
        evidence = self._render(collected, budget_tokens, model, attached)
        self._rendered[key] = evidence
        while len(self._rendered) > _RENDERS_KEPT:
            self._rendered.popitem(last=False)
        return evidence

    def _render(self, collected: Collected, budget_tokens: int, model: str | None,
                attached: Attached | None = None) -> Evidence:
        redactor = self.service.redactor()
        app = collected.app
        problems = [*collected.problems, *(p for r in collected.reads for p in r.problems)]
        if collected.application is None:
            text = HEADER.format(app=app) + "\n" + "\n".join(f"- Not read: {p}" for p in problems)
            text = redactor.redact_text(text)
            return Evidence(text, count_tokens(text, model), False, (), (), tuple(problems), redactor.count,
                            _fingerprint(text))
        objects: dict[tuple[str, str, str], Obj] = {}
        events: dict[str, Obj] = {}
        logs: list[dict[str, str]] = []
        read_lines: list[str] = []
        primary: Obj | None = None
        focus = Focus()
        for r in collected.reads:
            if r.obj is None:
                continue
            obj = redactor.redact_obj(_lean(r.obj))
            primary = primary or obj
            if r.target.why == FOCUSED:
                focus |= Focus.of([r.obj, *r.pods])
            for o in [obj, *(redactor.redact_obj(_lean(p)) for p in [*r.pods, *r.related])]:
                meta = o.get("metadata") or {}
                objects.setdefault((str(o.get("kind")), str(meta.get("namespace")), str(meta.get("name"))), o)
            for e in r.events:
                meta = e.get("metadata") or {}
                events.setdefault(str(meta.get("uid") or (meta.get("namespace"), meta.get("name"))),
                                  redactor.redact_obj(e))
            for pod, container, previous, text in r.logs:
                label = f"{pod}/{container}" + (PREVIOUS_INSTANCE if previous else "")
                logs.append({"podName": label, "content": redactor.redact_text(text)})
            detail = f"{r.target.ref} ({r.target.why})" if r.target.why else str(r.target.ref)
            extra = [f"{len(r.pods)} Pods" if r.pods else "", f"{len(r.events)} events" if r.events else "",
                     ", ".join(f"the {'previous ' if p else ''}log of {pod}/{c}" for pod, c, p, _ in r.logs)]
            read_lines.append(detail + "".join(f"; {x}" for x in extra if x))
        application = redactor.redact_obj(_lean(collected.application))
        # The identity of what was read, before the attachments join it: the same reads are the same evidence
        # whatever was attached beside them (a later turn without fresh attachments sends nothing again).
        fingerprint = _fingerprint([application, list(objects.values()), list(events.values()), logs, problems])
        if attached is not None:
            primary = _merge_attached(attached, objects, events, logs, primary)
            focus |= Focus.of([o for o in (attached.manifest, *attached.events) if o is not None])
            focus |= Focus.leading(attached.findings)
        related = [application, *(o for o in objects.values() if o is not primary)]
        lines = [HEADER.format(app=app), _application_line(application)]
        lines += [f"- Read: {line}" for line in read_lines]
        lines += [f"- Not read: {redactor.redact_text(p)}" for p in problems]
        if not read_lines:
            lines.append("- Nothing in the Application is unhealthy, missing, out of sync or failing.")
        head = "\n".join(lines)
        room = max(0, budget_tokens - count_tokens(head, model) - 2)
        digest = build_context(manifest=primary, events=list(events.values()), logs=logs or None,
                               related_objects=related, budget=room, model=model, focus=focus)
        text = head + "\n\n" + digest.text
        return Evidence(text, count_tokens(text, model), digest.truncated, tuple(digest.findings),
                        tuple(read_lines), tuple(problems), redactor.count, fingerprint)

    async def gather(self, app: AppRef, budget_tokens: int, focus: ResourceRef | None = None,
                     question: str | None = None, model: str | None = None) -> Evidence:
        """`collect` then `render`, for callers that know the budget up front."""
        return self.render(await self.collect(app, focus, question), budget_tokens, model)


_MISSING_KEY = re.compile(r"couldn't find key \S+ in (ConfigMap|Secret) ")
MAX_HOLDERS = 6


MAX_TARGETS = 2


async def _policed_targets(source: ClusterSource, scope: ApplicationScope, namespace: str | None,
                           read: _Read) -> list[Obj]:
    """The Services of the namespace that the logs' failed connections go to (by cluster IP or name), with the Pods
    they select, when NetworkPolicies select those Pods: a policy on the callee drops what the caller's log says
    times out, and it is not around the caller. Only what the Application covers (`in_scope`). The Service and
    policy listings are the ones the caller's reads made (the gathering's cache hands them over); the namespace's
    Pods are listed, and the scope checks run, only once a policy and a Service the logs name are there."""
    hosts = [h for _, _, _, text in read.logs for h in connection_targets(text)]
    if not hosts or namespace not in scope.namespaces:
        return []
    try:
        services, policies = await asyncio.gather(source.list("Service", namespace),
                                                  source.list("NetworkPolicy", namespace))
        have = {((o.get("metadata") or {}).get("name"), o.get("kind")) for o in read.related + read.pods}
        named = [svc for svc in services if _named_by(svc, hosts) and (svc.get("spec") or {}).get("selector")
                 and ((svc.get("metadata") or {}).get("name"), "Service") not in have][:MAX_TARGETS]
        if not policies or not named:
            return []
        pods = await source.list("Pod", namespace)
    except ContextError:
        return []

    async def policed(svc: Obj) -> list[Obj]:
        selector = (svc.get("spec") or {}).get("selector") or {}
        backends = [p for p in pods if selects(selector, (p.get("metadata") or {}).get("labels") or {})][:3]
        flags = await asyncio.gather(*(in_scope(source, scope, o) for o in [svc, *backends]))
        if not flags[0]:
            return []
        backends = [p for p, ok in zip(backends, flags[1:], strict=True) if ok]
        labels = (backends[0].get("metadata") or {}).get("labels") or {} if backends else None
        applied = [p for p in policies if labels is not None and _applies(p, labels)]
        if not applied:
            return []
        return [svc, *(p for p in backends if ((p.get("metadata") or {}).get("name"), "Pod") not in have), *applied]

    return [o for found in await asyncio.gather(*(policed(svc) for svc in named)) for o in found]


def _named_by(svc: Obj, hosts: list[str]) -> bool:
    """Whether a failed connection went to this Service: its cluster IP, its name, or a DNS name it starts."""
    spec, name = svc.get("spec") or {}, (svc.get("metadata") or {}).get("name")
    return any(h in (spec.get("clusterIP"), name) or h.split(".")[0] == name for h in hosts)


async def _key_holders(source: ClusterSource, scope: ApplicationScope, pod: Obj) -> list[Obj]:
    """For a Pod whose container waits in CreateContainerConfigError on a key a ConfigMap (or Secret) lacks, every
    object of that kind its spec references, in scope: the keys they have name the fix (a renamed key), and all of
    them or none, so that one not read is never taken for one that is missing. Secret values are redacted later,
    with everything else read."""
    said = " ".join(str(((c.get("state") or {}).get("waiting") or {}).get("message") or "")
                    for c in (pod.get("status") or {}).get("containerStatuses") or []
                    if ((c.get("state") or {}).get("waiting") or {}).get("reason") == "CreateContainerConfigError")
    kinds = {m.group(1) for m in _MISSING_KEY.finditer(said)}
    namespace = (pod.get("metadata") or {}).get("namespace")
    wanted = sorted({(kind, name) for kind, name, _ in references(pod.get("spec") or {}) if kind in kinds and name})
    if not wanted or len(wanted) > MAX_HOLDERS:
        return []
    found = await asyncio.gather(*(fetch_in_scope(source, scope, ResourceRef(kind=kind, name=name,
                                                                             namespace=namespace))
                                   for kind, name in wanted), return_exceptions=True)
    if any(isinstance(f, BaseException) and not isinstance(f, NotFound) for f in found):
        return []  # one not read (out of scope, refused): none, or it would look missing
    return [f for f in found if isinstance(f, dict)]


async def _bound_volume(source: ClusterSource, claim: Obj) -> Obj | None:
    """The PersistentVolume a claim names, only when the volume says it is bound to that very claim (a claim could
    name anyone's volume: the tools' rule, `workloads.bound_volume`)."""
    meta = claim.get("metadata") or {}
    name = (claim.get("spec") or {}).get("volumeName")
    if not name:
        return None
    try:
        pv = await source.get("PersistentVolume", None, name)
    except ContextError:
        return None
    bound = (pv.get("spec") or {}).get("claimRef") or {}
    if bound.get("namespace") != meta.get("namespace") or bound.get("name") != meta.get("name"):
        return None
    if bound.get("uid") and meta.get("uid") and bound.get("uid") != meta.get("uid"):
        return None
    return pv


def _tail(text: str, lines: int) -> str:
    """The last `lines` lines of a log."""
    kept = text.splitlines()[-lines:]
    return "\n".join(kept) + ("\n" if text.endswith("\n") else "")


def _lean(obj: Obj) -> Obj:
    """`obj` without managedFields and the last-applied annotation (a copy of the whole spec): never shown (the
    digest drops them too), and the largest part of what redaction would otherwise walk on the hot path."""
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not ("managedFields" in meta or _LAST_APPLIED in (meta.get("annotations") or {})):
        return obj
    lean_meta = {k: v for k, v in meta.items() if k != "managedFields"}
    if isinstance(annotations := meta.get("annotations"), Mapping):
        lean_meta["annotations"] = {k: v for k, v in annotations.items() if k != _LAST_APPLIED}
    return {**obj, "metadata": lean_meta}


def _merge_attached(attached: Attached, objects: dict[tuple[str, str, str], Obj], events: dict[str, Obj],
                    logs: list[dict[str, str]], primary: Obj | None) -> Obj | None:
    """Add what the extension attached to what was read, each thing once: the live object wins over its attached
    copy, an event already read is not added again, and of the attached log only the lines the logs read do not
    hold (the extension attaches the current container's tail; the agent may have read that one too). Returns the
    primary object: the one read first, else the attached manifest."""
    manifest = attached.manifest
    if isinstance(manifest, Mapping) and manifest.get("kind"):
        meta = manifest.get("metadata") or {}
        key = (str(manifest.get("kind")), str(meta.get("namespace")), str(meta.get("name")))
        if not any(k[0] == key[0] and k[2] == key[2] and key[1] in (k[1], "None") for k in objects):
            objects[key] = dict(manifest)
            primary = primary or objects[key]
    known = {_event_identity(e) for e in events.values()}
    for i, e in enumerate(attached.events):
        if isinstance(e, Mapping) and (identity := _event_identity(e)) not in known:
            known.add(identity)
            events[f"attached {i}"] = dict(e)
    if attached.logs:
        have = {line for entry in logs for line in entry["content"].splitlines()}
        lines = [ln for ln in parse_logs(attached.logs) if ln.text not in have]
        if lines:  # before the logs read: their last words (a crashed instance's) are the ones a cut keeps
            pods = {ln.pod for ln in lines}
            logs[:0] = [{"podName": f"{pod}{ATTACHED}" if pod else ATTACHED.strip(" ()"),
                         "content": "\n".join(ln.text for ln in lines if ln.pod == pod)} for pod in sorted(pods)]
    return primary


def _event_identity(event: Mapping[str, Any]) -> tuple[str, ...]:
    """An event by what it says about what: the same event read live and attached has the same identity."""
    io = event.get("involvedObject") or event.get("regarding") or {}
    return (str(io.get("kind")), str(io.get("name")), str(event.get("reason")),
            str(event.get("message") or event.get("note")))


def _fingerprint(value: Any) -> str:
    body = json.dumps(value, sort_keys=True, default=str)
    return hashlib.sha256(f"evidence\0{body}".encode()).hexdigest()[:32]


def _application_line(application: Mapping[str, Any]) -> str:
    status = application.get("status") or {}
    sync, health = status.get("sync") or {}, status.get("health") or {}
    op = status.get("operationState") or {}
    line = f"- Application: sync {sync.get('status') or 'unknown'}, health {health.get('status') or 'unknown'}"
    if health.get("message"):
        line += f" ({health['message']})"
    if op.get("phase"):
        line += f"; last operation {op['phase']}" + (f": {op['message']}" if op.get("message") else "")
    return line


def _reason(error: BaseException, bound: float) -> str:
    if isinstance(error, ContextError):
        return error.message
    if isinstance(error, TimeoutError):
        return f"no answer within {bound:g}s"
    return f"{type(error).__name__}"

