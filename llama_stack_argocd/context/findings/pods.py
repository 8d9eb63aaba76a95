"""Pods: container states (CrashLoopBackOff, OOMKilled, image pulls, config errors), scheduling, probes, eviction.

Each reads the Pod's status when we have it and the Pod's events either way (a Pod known only from its events is a
stub without status).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from .base import (
    Cluster,
    Finding,
    Obj,
    Severity,
    clip,
    condition,
    containers,
    event_count,
    event_message,
    event_reason,
    format_requirement,
    format_selector,
    name_of,
    namespace_of,
    ref,
)
from .registry import analyzer

IMAGE_REASONS = ("ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull", "RegistryUnavailable")
CANNOT_RUN_REASONS = ("CreateContainerError", "RunContainerError", "ContainerCannotRun", "StartError")

_EXIT_MEANING = {
    1: "the application exited with an error",
    2: "misuse of a shell builtin or a Go panic",
    126: "the command is not executable",
    127: "the command was not found in the image",
    128: "invalid exit argument",
    134: "SIGABRT: the process aborted",
    137: "SIGKILL: killed (out of memory, or by the kubelet after a failed liveness probe)",
    139: "SIGSEGV: segmentation fault",
    143: "SIGTERM: asked to stop",
}
MISSING_REF = re.compile(r'\b(configmaps?|secrets?|persistentvolumeclaims?)\s+"([^"]+)"\s+not found', re.IGNORECASE)
MISSING_KEY = re.compile(r"couldn't find key (\S+) in (ConfigMap|Secret) ([\w.-]+)/([\w.-]+)")
_REF_CODE = {"configmap": "MissingConfigMap", "secret": "MissingSecret", "persistentvolumeclaim": "MissingPVC"}
_REF_KIND = {"configmap": "ConfigMap", "secret": "Secret", "persistentvolumeclaim": "PersistentVolumeClaim"}


def exit_meaning(code: Any) -> str:
    try:
        return _EXIT_MEANING.get(int(code), "")
    except (TypeError, ValueError):
        return ""


_MEMORY_FLAG = re.compile(r"(-Xmx\S+|-XX:MaxRAMPercentage=\S+|--max-old-space-size=\S+|GOMEMLIMIT=\S+)")


def memory_flags(container: Mapping[str, Any]) -> list[str]:
    """Heap and memory settings in a container's command, args and env (-Xmx, MaxRAMPercentage, GOMEMLIMIT...)."""
    texts = [*map(str, container.get("command") or []), *map(str, container.get("args") or [])]
    for env in container.get("env") or []:
        if env.get("name") == "GOMEMLIMIT" and env.get("value"):
            texts.append(f"GOMEMLIMIT={env['value']}")
        elif isinstance(env.get("value"), str):
            texts.append(env["value"])
    found: list[str] = []
    for text in texts:
        for m in _MEMORY_FLAG.finditer(text):
            if m.group(1) not in found:
                found.append(m.group(1))
    return found


def _container_spec(pod: Obj, name: str) -> Mapping[str, Any]:
    for c in containers(pod.get("spec") or {}):
        if c.get("name") == name:
            return c
    return {}


def _statuses(pod: Obj) -> Iterator[tuple[Mapping[str, Any], bool]]:
    status = pod.get("status") or {}
    for cs in status.get("initContainerStatuses") or []:
        yield cs, True
    for cs in status.get("containerStatuses") or []:
        yield cs, False


def missing_refs_in(text: str, resource: str, where: str, cluster: Cluster | None = None, reason: str = ""
                    ) -> Iterator[Finding]:
    """Findings for the `configmap "x" not found` / `couldn't find key` phrases of a status or event message (whose
    `reason`, a container state's or an event's, is quoted first)."""
    said = [reason] if reason else []
    for m in MISSING_REF.finditer(text):
        kind = m.group(1).lower().rstrip("s")
        yield Finding(
            Severity.CRITICAL, f"{_REF_KIND[kind]} \"{m.group(2)}\" not found",
            f"{_REF_KIND[kind]} \"{m.group(2)}\" not found in the namespace, and {where} references it: create "
            "it (or fix the name), or mark the reference optional.",
            list(dict.fromkeys([*said, m.group(0), clip(text)])), resource, _REF_CODE[kind])
    for m in MISSING_KEY.finditer(text):
        detail = f"{where} reads key \"{m.group(1)}\" from {m.group(2)} {m.group(3)}/{m.group(4)}, which has no such key."
        evidence = [*said, m.group(0)]
        holder = cluster.get(m.group(2), m.group(3), m.group(4)) if cluster else None
        if holder is not None and not holder.get("_stub"):
            keys = sorted({*(holder.get("data") or {}), *(holder.get("binaryData") or {}),
                           *(holder.get("stringData") or {})})
            detail += f" It has keys: {', '.join(keys) or '(none)'}."
            evidence.append(f"has keys: {', '.join(keys)}")
        yield Finding(Severity.CRITICAL, f"key \"{m.group(1)}\" missing from {m.group(2)} \"{m.group(4)}\"",
                      detail, evidence, resource, "MissingConfigKey")


@analyzer("Pod")
def container_states(pod: Obj, cluster: Cluster) -> Iterator[Finding]:
    resource = ref(pod)
    for cs, init in _statuses(pod):
        name = cs.get("name", "?")
        what = f"{'init container' if init else 'container'} \"{name}\""
        state = cs.get("state") or {}
        waiting = state.get("waiting") or {}
        terminated = state.get("terminated") or {}
        last = (cs.get("lastState") or {}).get("terminated") or {}
        restarts = cs.get("restartCount") or 0
        spec = _container_spec(pod, name)
        limits = (spec.get("resources") or {}).get("limits") or {}
        requests = (spec.get("resources") or {}).get("requests") or {}

        for t in (terminated, last):
            if t.get("reason") == "OOMKilled":
                limit = limits.get("memory")
                detail = (f"{what} was killed for using more memory than its limit of {limit}"
                          + (f" (request {requests['memory']})" if requests.get("memory") else "")
                          + f"; it has restarted {restarts} times. Raise limits.memory or reduce the memory the "
                            "process uses (heap flags such as -Xmx or GOMEMLIMIT must stay below the limit)."
                          if limit else
                          f"{what} was OOMKilled with no memory limit set: the node ran out of memory.")
                evidence = ["OOMKilled", f"exit code {t.get('exitCode', 137)}"]
                if limit:
                    evidence.append(f"limits.memory: {limit}")
                if heap := memory_flags(spec):
                    detail += f" Memory settings in the container: {', '.join(heap)}."
                    evidence.extend(heap)
                yield Finding(Severity.CRITICAL, f"{what} OOMKilled", detail, evidence, resource, "OOMKilled")
                break

        reason = waiting.get("reason", "")
        message = waiting.get("message", "")
        if reason in IMAGE_REASONS:
            yield _image_finding(what, cs.get("image") or spec.get("image", ""), reason, message, resource,
                                 _pull_error(pod, cluster))
        elif reason == "CreateContainerConfigError":
            found = list(missing_refs_in(message, resource, what, cluster, reason))
            yield from found
            if not found:
                yield Finding(Severity.CRITICAL, f"{what} cannot be created: CreateContainerConfigError",
                              clip(message), ["CreateContainerConfigError", clip(message)], resource,
                              "ContainerCannotRun")
        elif reason in CANNOT_RUN_REASONS or terminated.get("reason") in CANNOT_RUN_REASONS:
            msg = message or terminated.get("message", "")
            yield Finding(Severity.CRITICAL, f"{what} cannot start: {reason or terminated.get('reason')}",
                          clip(msg), [reason or terminated.get("reason", ""), clip(msg)], resource,
                          "ContainerCannotRun")
        elif reason == "CrashLoopBackOff":
            yield _crashloop(what, init, restarts, last, resource)
        elif terminated and terminated.get("exitCode", 0) != 0 and terminated.get("reason") != "OOMKilled":
            code = terminated.get("exitCode")
            meaning = exit_meaning(code)
            yield Finding(
                Severity.ERROR, f"{what} failed: {terminated.get('reason', 'Error')} (exit code {code})",
                f"{what} terminated with exit code {code}" + (f": {meaning}" if meaning else "") + ".",
                [f"exit code {code}", *([clip(terminated["message"])] if terminated.get("message") else [])],
                resource, "InitContainerFailing" if init else "ContainerFailed")


def _crashloop(what: str, init: bool, restarts: int, last: Mapping[str, Any], resource: str) -> Finding:
    code = last.get("exitCode")
    reason = last.get("reason") or "Error"
    meaning = exit_meaning(code)
    detail = f"{what} keeps crashing: restarted {restarts} times"
    evidence = ["CrashLoopBackOff", f"restartCount: {restarts}"]
    if code is not None:
        detail += f"; last exit: {reason} (exit code {code})" + (f", {meaning}" if meaning else "")
        evidence.append(f"exit code {code}")
        evidence.append(f"reason: {reason}")
    if last.get("finishedAt"):
        detail += f", at {last['finishedAt']}"
    if last.get("message"):
        evidence.append(clip(last["message"]))
    detail += ". The logs of the previous run show why."
    return Finding(Severity.CRITICAL, f"{what} in CrashLoopBackOff", detail, evidence, resource,
                   "InitContainerFailing" if init else "CrashLoopBackOff")


_BARE_REASON = re.compile(r"(?:Error: )?\w+")


def _pull_error(pod: Obj, cluster: Cluster) -> str:
    """The latest pull error of the Pod's events that says why (`Failed to pull image "x": ... not found`), not the
    back-off or the bare `Error: ErrImagePull` that only say that it failed."""
    pulls = [event_message(e) for e in cluster.warnings_for(pod, "Failed", "ErrImagePull", "BackOff")
             if "image" in event_message(e).lower() and "pull" in event_message(e).lower()]
    return next((m for m in reversed(pulls) if ":" in m and not m.lower().startswith("back-off")
                 and not _BARE_REASON.fullmatch(m.strip())),
                pulls[-1] if pulls else "")


def _image_finding(what: str, image: str, reason: str, message: str, resource: str, why: str = "") -> Finding:
    """A pull that fails, by its cause; `why`, the pull error of the events, goes first when the status only says
    it backs off."""
    if why and why != message:
        message, said = why, [clip(why), *([clip(message)] if message else [])]
    else:
        said = [clip(message)] if message else []
    low = message.lower()
    if "not found" in low or "manifest unknown" in low or "does not exist" in low:
        cause = "the image or tag does not exist in the registry"
    elif any(s in low for s in ("unauthorized", "denied", "authentication required", "forbidden", "401", "403")):
        cause = "the registry refused the credentials: check imagePullSecrets"
    elif any(s in low for s in ("no such host", "i/o timeout", "connection refused", "dial tcp", "tls")):
        cause = "the registry cannot be reached from the node"
    elif reason == "InvalidImageName":
        cause = "the image reference is not valid"
    else:
        cause = "the image cannot be pulled"
    evidence = [reason, f"image: {image}", *said]
    return Finding(Severity.CRITICAL, f"{what} cannot pull image {image}", f"{reason}: {cause}.", evidence,
                   resource, "ImagePullBackOff")


_PROBE_NAMED = re.compile(r"\b(liveness|readiness|startup) probe\b", re.IGNORECASE)


@analyzer("Pod")
def pod_events(pod: Obj, cluster: Cluster) -> Iterator[Finding]:
    """What the Pod's events say, also when we have no status: pulls, probes, mounts, scheduling, back-offs."""
    resource = ref(pod)
    stub = bool(pod.get("_stub"))
    msg = _pull_error(pod, cluster)
    if msg and (stub or not _has_status_reason(pod, IMAGE_REASONS)):
        image = m.group(1) if (m := re.search(r'image \\?"([^"\\]+)\\?"', msg)) else ""
        yield _image_finding("container", image, "ErrImagePull", msg, resource)

    yield from _probe_findings(pod, cluster)

    for ev in cluster.warnings_for(pod, "FailedMount", "FailedAttachVolume", "FailedMapVolume"):
        msg = event_message(ev)
        found = list(missing_refs_in(msg, resource, "a volume of the Pod", reason=event_reason(ev)))
        yield from found
        if not found:
            claim = _claim_of(pod, msg, cluster)
            said = _claim_text(claim, msg) if claim is not None else ""
            yield Finding(Severity.ERROR, f"volume cannot be mounted ({event_reason(ev)})", clip(msg),
                          [event_reason(ev), *([said] if said else []), clip(msg)], resource, "VolumeMountFailed")

    for ev in cluster.warnings_for(pod, "FailedCreatePodSandBox"):
        yield Finding(Severity.ERROR, "Pod sandbox cannot be created (network/runtime)", clip(event_message(ev)),
                      ["FailedCreatePodSandBox", clip(event_message(ev))], resource, "SandboxFailed")

    if stub:
        for ev in cluster.warnings_for(pod, "BackOff"):
            msg = event_message(ev)
            if "restarting failed container" in msg.lower():
                yield Finding(Severity.CRITICAL, "container in CrashLoopBackOff",
                              f"Back-off restarting a failed container ({event_count(ev)} times).",
                              ["CrashLoopBackOff", clip(msg)], resource, "CrashLoopBackOff")
        for ev in cluster.warnings_for(pod, "Failed"):
            yield from missing_refs_in(event_message(ev), resource, "a container of the Pod", cluster,
                                       event_reason(ev))


def _probe_findings(pod: Obj, cluster: Cluster) -> Iterator[Finding]:
    """One finding per failing probe: its latest failure, then the kubelet's decision to restart the container (a
    Normal `Killing` event: "failed liveness probe, will be restarted", which says the probe is what kills it),
    then the probe's spec, then its earlier failures."""
    failures: dict[str, list[Obj]] = {}
    kills: dict[str, list[Obj]] = {}
    for ev in cluster.events_for(pod):
        reason = event_reason(ev)
        if reason == "Unhealthy" and (ev.get("type") or "Warning") != "Normal" or reason == "Killing":
            # the probe the message names ("Startup probe failed: ...", "failed startup probe"), not a word of the
            # probed URL (a startup probe on /health/liveness is still the startup probe)
            if named := _PROBE_NAMED.search(event_message(ev)):
                (failures if reason == "Unhealthy" else kills).setdefault(named.group(1).capitalize(), []).append(ev)
    resource = ref(pod)
    for kind in dict.fromkeys([*failures, *kills]):
        failed, killed = failures.get(kind, [])[::-1], kills.get(kind, [])[::-1]
        spec_txt = _probe_text(pod, f"{kind.lower()}Probe")
        restarts = " and the kubelet restarts the container" if kind in ("Liveness", "Startup") else \
            " so the Pod gets no Service traffic"
        detail = f"{kind} probe failed {sum(event_count(e) for e in failed or killed)} times{restarts}"
        if failed and killed:
            detail += f" (killed {sum(event_count(e) for e in killed)} times)"
        evidence = [clip(event_message(e)) for e in (failed[:1] + killed[:1])]
        evidence += [spec_txt] if spec_txt else []
        evidence += [clip(event_message(e)) for e in failed[1:] + killed[1:]]
        yield Finding(Severity.ERROR if kind != "Readiness" else Severity.WARNING, f"{kind} probe failing",
                      detail + "." + (f" Probe: {spec_txt}." if spec_txt else ""),
                      list(dict.fromkeys(evidence)), resource, f"{kind}ProbeFailing")


_VOLUME_NAMED = re.compile(r'volume \\?"([^"\\]+)\\?"')


def _claim_of(pod: Obj, message: str, cluster: Cluster) -> Obj | None:
    """The claim a volume error is about: the one bound to the volume the message names (`volume "pvc-..."`), else
    the only claim the Pod mounts."""
    ns = namespace_of(pod)
    claims = [c for c in cluster.of_kind("PersistentVolumeClaim") if namespace_of(c) == ns and not c.get("_stub")]
    if m := _VOLUME_NAMED.search(message):
        for c in claims:
            if (c.get("spec") or {}).get("volumeName") == m.group(1) or name_of(c) == m.group(1):
                return c
    mounted = {str((v.get("persistentVolumeClaim") or {}).get("claimName"))
               for v in (pod.get("spec") or {}).get("volumes") or [] if v.get("persistentVolumeClaim")}
    named = [c for c in claims if name_of(c) in mounted]
    return named[0] if len(named) == 1 else None


def _claim_text(claim: Obj, message: str) -> str:
    """The claim and its access modes; for a Multi-Attach error, what ReadWriteOnce means for it."""
    modes = ",".join((claim.get("spec") or {}).get("accessModes") or []) or "<none>"
    said = f"{ref(claim)} accessModes: {modes}"
    if "multi-attach" in message.lower() and ("ReadWriteOnce" in modes or "ReadWriteOncePod" in modes):
        said += (" (one node at a time: the Pod on the old node, or a node that went away, still holds it until it "
                 "is detached)")
    return said


def _has_status_reason(pod: Obj, reasons: tuple[str, ...]) -> bool:
    return any(((cs.get("state") or {}).get("waiting") or {}).get("reason") in reasons for cs, _ in _statuses(pod))


def _probe_text(pod: Obj, probe: str) -> str:
    for c in containers(pod.get("spec") or {}, init=False):
        p = c.get(probe)
        if not p:
            continue
        if http := p.get("httpGet"):
            how = f"httpGet {http.get('path', '/')} port {http.get('port')}"
        elif tcp := p.get("tcpSocket"):
            how = f"tcpSocket port {tcp.get('port')}"
        elif ex := p.get("exec"):
            how = "exec " + " ".join(map(str, ex.get("command") or []))
        elif grpc := p.get("grpc"):
            how = f"grpc port {grpc.get('port')}"
        else:
            how = "probe"
        timing = ", ".join(f"{k}: {p[k]}" for k in ("initialDelaySeconds", "timeoutSeconds", "periodSeconds",
                                                    "failureThreshold") if k in p)
        return f"{probe} {how}" + (f" ({timing})" if timing else "")
    return ""


@analyzer("Pod")
def scheduling(pod: Obj, cluster: Cluster) -> Iterator[Finding]:
    resource = ref(pod)
    cond = condition(pod, "PodScheduled")
    messages = []
    if cond and cond.get("status") == "False" and cond.get("reason") == "Unschedulable":
        messages.append(str(cond.get("message") or ""))
    events = cluster.warnings_for(pod, "FailedScheduling")
    if events:
        messages.append(event_message(events[-1]))
    if not messages:
        return
    msg = messages[-1]
    requests = []
    for c in containers(pod.get("spec") or {}, init=False):
        req = (c.get("resources") or {}).get("requests") or {}
        if req:
            requests.append(f"{c.get('name')}: " + ", ".join(f"{k}={v}" for k, v in sorted(req.items())))
    pvc_missing = list(missing_refs_in(msg, resource, "the Pod"))
    yield from pvc_missing
    if "unbound" in msg.lower() and "persistentvolumeclaim" in msg.lower():
        claims = [v["persistentVolumeClaim"]["claimName"] for v in (pod.get("spec") or {}).get("volumes") or []
                  if v.get("persistentVolumeClaim")]
        yield Finding(Severity.CRITICAL, "PersistentVolumeClaim not bound",
                      "The Pod waits for its PersistentVolumeClaim(s) to be bound"
                      + (f": {', '.join(claims)}" if claims else "") + ".",
                      [clip(msg)] + claims, resource, "PVCPending")
    yield Finding(Severity.CRITICAL, "Pod cannot be scheduled",
                  "The scheduler found no node for the Pod: " + clip(msg, 400)
                  + (f" Requests: {'; '.join(requests)}." if requests else ""),
                  ["FailedScheduling" if events else "Unschedulable", *_placement(pod, msg), clip(msg)]
                  + requests[:2], resource, "Unschedulable")


# tolerations the admission controllers add to every Pod: they say nothing about the Pod's own placement
_DEFAULT_TOLERATIONS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _placement(pod: Obj, msg: str) -> list[str]:
    """The Pod's placement rules the scheduler's message says nodes failed, as `field: value`: its nodeSelector and
    required node affinity ("didn't match Pod's node affinity/selector"), its pod (anti-)affinity, its tolerations
    ("untolerated taint"). The nodes' side is in the message; this is the side the manifest changes."""
    spec = pod.get("spec") or {}
    low = msg.lower()
    affinity = spec.get("affinity") or {}
    out: list[str] = []
    if "node affinity" in low or "selector" in low:
        if selector := spec.get("nodeSelector"):
            out.append("nodeSelector: {" + ", ".join(f"{k}: {v}" for k, v in sorted(selector.items())) + "}")
        required = ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
                    or {}).get("nodeSelectorTerms") or []
        terms = [", ".join(format_requirement(r) for r in [*(t.get("matchExpressions") or []),
                                                     *(t.get("matchFields") or [])]) for t in required]
        if any(terms):
            out.append("nodeAffinity: " + " or ".join(t for t in terms if t))
    if "pod affinity" in low or "anti-affinity" in low:
        for kind in ("podAffinity", "podAntiAffinity"):
            for term in (affinity.get(kind) or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []:
                labels = format_selector(term.get("labelSelector")) or ", ".join(
                    format_requirement(r) for r in (term.get("labelSelector") or {}).get("matchExpressions") or [])
                out.append(f"{kind}: {labels} per {term.get('topologyKey', '?')}")
    if "taint" in low:
        own = [t for t in spec.get("tolerations") or [] if t.get("key") not in _DEFAULT_TOLERATIONS]
        if own:
            out.append("tolerations: " + ", ".join(_toleration(t) for t in own))
    return [clip(line) for line in out]


def _toleration(t: Mapping[str, Any]) -> str:
    key = str(t.get("key") or "*")
    what = f"{key}={t['value']}" if t.get("value") else key
    return f"{what}:{t['effect']}" if t.get("effect") else what


@analyzer("Pod")
def eviction(pod: Obj, cluster: Cluster) -> Iterator[Finding]:
    status = pod.get("status") or {}
    evicted = cluster.warnings_for(pod, "Evicted")
    if status.get("reason") == "Evicted" or evicted:
        msg = status.get("message") or (event_message(evicted[-1]) if evicted else "")
        yield Finding(Severity.ERROR, "Pod evicted", clip(msg, 400), ["Evicted", clip(msg)], ref(pod), "Evicted")
