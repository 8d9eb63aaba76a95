"""The errors a container's log shows, quoted: the decisive line of most crashes is in the log, not in any object.

One finding per log read (a container's current or previous instance), quoting the records `logs.distinct_records`
ranks first: the fatal records, then traces (an exception with its cause says why; a lone error line is often a
retry's complaint), then the other errors, each group most recent first, each record by its cause lines (a trace by
its innermost cause, a Node.js error by its code too). A crashed container's previous log with no error-level line is
quoted by its last words. The previous log of a crashed container is as severe as the crash it explains, and ranks
right after it.

The finding is for the diagnosis block: the prompt leaves it out, the model reads the log itself (errors first).
Beside the lines, the container's own settings they point at: its security context when the log says a permission
or a read-only file system stopped it, the environment variables that hold the host or port a connection to failed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..logs import ERROR, FATAL, cause_lines, level_of
from .base import Cluster, Finding, Obj, Severity, clip, containers, pod_spec, ref, selector_matches
from .registry import log_analyzer

LOG_ERRORS = "LogErrors"
MAX_QUOTED = 3
MAX_SETTINGS = 2
_PREVIOUS = " (previous instance)"
_PERMISSION = re.compile(r"permission denied|read-only file system|operation not permitted|wrong ownership|"
                         r"must be (?:started|run) by|eacces|erofs", re.IGNORECASE)
_SECURITY_FIELDS = ("readOnlyRootFilesystem", "runAsUser", "runAsNonRoot", "runAsGroup", "fsGroup")
# What a failed connection went to (host:port, :port, an IP) and the name a failed lookup asked for.
_CONNECTION = re.compile(r"(?:refused|timed? ?out|timeout|unreachable|dial tcp|connect(?:ing)? to)\D{0,40}?"
                         r"(?P<target>[\w.-]*:\d{2,5}\b|\d+\.\d+\.\d+\.\d+)", re.IGNORECASE)
_LOOKUP = re.compile(r"(?:lookup|enotfound|unknown ?host(?:exception)?:?|resolve|no such host:?)\W{0,3}"
                     r"(?P<target>[A-Za-z0-9][\w.-]*[A-Za-z0-9])", re.IGNORECASE)


@log_analyzer
def log_errors(cluster: Cluster) -> Iterator[Finding]:
    quoted: dict[str, list[str]] = {}
    last_words: dict[str, list[str]] = {}
    first: dict[str, int] = {}  # how many of a log's quoted lines its first record says (a message and its hint)
    for source, text in sorted(cluster.logs, key=_weight):
        lines = text.splitlines()
        if not lines:
            continue
        target = quoted if max(level_of(line) for line in lines) >= ERROR else last_words
        kept = target.setdefault(source, [])
        if target is last_words and kept:
            continue  # only the record the ranking puts first: the very last words
        for line in cause_lines(lines):
            if len(kept) < MAX_QUOTED and clip(line) not in kept:
                kept.append(clip(line))
        if target is quoted:
            first.setdefault(source, len(kept))
    for source, words in last_words.items():
        if source.endswith(_PREVIOUS) and not quoted.get(source):
            quoted[source] = words
    for source, lines in quoted.items():
        if not lines:
            continue
        previous = source.endswith(_PREVIOUS)
        name = source.removesuffix(_PREVIOUS)
        pod = cluster.get("Pod", "", name.split("/")[0]) if name else None
        resource = ref(pod) if pod is not None else (f"Pod {name.split('/')[0]}" if name else
                                                     ref(cluster.focus) if cluster.focus is not None else "")
        what = f"the {'previous ' if previous else ''}log of {name}" if name else "the log"
        settings = _settings(cluster, pod, name.split("/")[1] if "/" in name else "", lines) if pod else []
        said = min(2, max(1, first.get(source, len(lines))))  # the settings right after the first record says why
        lines = [*lines[:said], *settings[:MAX_SETTINGS], *lines[said:]]
        yield Finding(
            Severity.CRITICAL if previous else Severity.ERROR,
            f"What {what} says",
            f"{'The errors it ends with' if previous else 'Its errors'}: fatal ones and traces first, each group "
            "most recent first.",
            lines, resource, LOG_ERRORS)


def _weight(record: tuple[str, str]) -> int:
    """Which records are quoted first (the sort is stable: within a weight, the ranking `distinct_records` made):
    fatal ones, then traces (an exception with its cause says why; a lone error line often only that a retry
    failed), then the rest."""
    lines = record[1].splitlines()
    if any(level_of(line) >= FATAL for line in lines[:2]):
        return 0
    return 1 if len(lines) > 1 else 2


def _settings(cluster: Cluster, pod: Obj, container: str, lines: list[str]) -> list[str]:
    """`field: value` of the container's settings the quoted lines point at (see the module's docstring): the Pod's
    own, else its workload's template (a Pod read from a summary may lack them)."""
    found = [(spec, c) for spec in _specs(cluster, pod) for c in containers(spec)
             if c.get("name") == container or not container]
    if not found:
        return []
    spec, chosen = next(((s, c) for s, c in found if c.get("env") or c.get("securityContext")), found[0])
    text = "\n".join(lines)
    out: list[str] = []
    if _PERMISSION.search(text):
        context: dict[str, Any] = {**(spec.get("securityContext") or {}), **(chosen.get("securityContext") or {})}
        out += [f"{key}: {str(context[key]).lower() if isinstance(context[key], bool) else context[key]}"
                for key in _SECURITY_FIELDS if key in context]
    targets = {part for pattern in (_CONNECTION, _LOOKUP) for m in pattern.finditer(text)
               for part in m["target"].split(":") if part}
    out += [f"{env['name']}={env['value']}" for env in _env(chosen)
            if any(_holds(str(env["value"]), target) for target in targets)]
    return list(dict.fromkeys(out))


def _env(container: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [e for e in container.get("env") or [] if e.get("name") and isinstance(e.get("value"), str | int)]


def _holds(value: str, target: str) -> bool:
    """Whether an env value names this host or port (as a word: port 80 is not in 8080)."""
    return re.search(rf"(?<![\w.-]){re.escape(target)}(?![\w-])", value) is not None


def _specs(cluster: Cluster, pod: Obj) -> list[Mapping[str, Any]]:
    """The Pod's spec, then the templates of the workloads in its namespace whose selector matches it."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    namespace = (pod.get("metadata") or {}).get("namespace") or ""
    specs = [pod_spec(pod)] if not pod.get("_stub") else []
    for workload in cluster.of_kind("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout"):
        if (workload.get("metadata") or {}).get("namespace", namespace) == namespace and selector_matches(
                (workload.get("spec") or {}).get("selector"), labels):
            specs.append(pod_spec(workload))
    return specs
