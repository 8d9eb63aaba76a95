"""The errors a container's log shows, quoted: the decisive line of most crashes is in the log, not in any object.

One finding per log read (a container's current or previous instance), quoting the records `logs.distinct_records`
ranks first: the fatal records, then traces (an exception with its cause says why; a lone error line is often a
retry's complaint), then the other errors, each group most recent first, each record by its cause lines (a trace by
its innermost cause, a Node.js error by its code too). A crashed container's previous log with no error-level line is
quoted by its last words, and so is the current log of a container that failed and was not restarted (a Job's Pod
killed at its deadline). The previous log of a crashed container is as severe as the crash it explains, and ranks
right after it.

The finding is for the diagnosis block: the prompt leaves it out, the model reads the log itself (errors first).
Beside the lines, the container's own settings they point at: its security context when the log says a permission
or a read-only file system stopped it, the environment variables that hold the host or port a connection to failed,
the other containers of the Pod that listen on the port a bind found already in use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..logs import ERROR, FATAL, PREVIOUS_INSTANCE, cause_lines, level_of
from .base import Cluster, Finding, Obj, Severity, clip, containers, pod_spec, ref, selector_matches
from .registry import log_analyzer

LOG_ERRORS = "LogErrors"
MAX_QUOTED = 3
MAX_SETTINGS = 2
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
    ended: set[str] = set()  # the logs quoted by their last words
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
        if not quoted.get(source) and (source.endswith(PREVIOUS_INSTANCE) or _failed_run(cluster, source)):
            quoted[source] = words
            ended.add(source)
    for source, lines in quoted.items():
        if not lines:
            continue
        said = "It logged no error; its last words say what it was doing when it stopped." if source in ended else ""
        previous = source.endswith(PREVIOUS_INSTANCE)
        name = source.removesuffix(PREVIOUS_INSTANCE)
        pod = cluster.get("Pod", "", name.split("/")[0]) if name else None
        resource = ref(pod) if pod is not None else (f"Pod {name.split('/')[0]}" if name else
                                                     ref(cluster.focus) if cluster.focus is not None else "")
        what = f"the {'previous ' if previous else ''}log of {name}" if name else "the log"
        settings = _settings(cluster, pod, name.split("/")[1] if "/" in name else "", lines) if pod else []
        head = min(2, max(1, first.get(source, len(lines))))  # the settings right after the first record says why
        lines = [*lines[:head], *settings[:MAX_SETTINGS], *lines[head:]]
        yield Finding(
            Severity.CRITICAL if previous else Severity.ERROR,
            f"What {what} says",
            said or f"{'The errors it ends with' if previous else 'Its errors'}: fatal ones and traces first, each "
            "group most recent first.",
            lines, resource, LOG_ERRORS)


def _failed_run(cluster: Cluster, source: str) -> bool:
    """Whether the log is of a container that ended in failure and was not restarted (a Job's Pod killed at its
    deadline, a Pod with restartPolicy Never): its current log is its last run's, as a crashed one's previous is."""
    pod_name, _, container = source.partition("/")
    pod = cluster.get("Pod", "", pod_name)
    status = (pod or {}).get("status") or {}
    for cs in [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]:
        ended = (cs.get("state") or {}).get("terminated") or {}
        if cs.get("name") == container and ended and ended.get("exitCode", 0) != 0:
            return True
    return False


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
    out += _port_holders(spec, str(chosen.get("name") or ""), lines)
    return list(dict.fromkeys(out))


_IN_USE = re.compile(r"address already in use|eaddrinuse", re.IGNORECASE)
# the port of a bind that failed: after an address (0.0.0.0:80, [::]:80, :::80, a bare :80) or the word port
_BOUND_PORT = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-fA-F:]*\]|localhost|::|^|[\s\"'(=]):(\d{2,5})\b|"
                         r"\bport\s+(\d{2,5})\b")
_LISTEN_NAME = re.compile(r"listen|bind|addr|port", re.IGNORECASE)


def _port_holders(spec: Mapping[str, Any], container: str, lines: list[str]) -> list[str]:
    """When a bind failed with "address already in use", the other containers of the Pod that listen on that port
    (they share one network namespace: a sidecar on the same port is the usual cause), each by the setting that
    says so: a containerPort, a listen/bind/addr/port flag of its command or args, such a variable; or the Pod's
    hostNetwork, where the node's own processes hold the ports."""
    ports = {m[1] or m[2] for line in lines if _IN_USE.search(line) for m in _BOUND_PORT.finditer(line)}
    out: list[str] = []
    for port in sorted(ports):
        for c in containers(spec):
            name = str(c.get("name") or "")
            if name == container or c in (spec.get("initContainers") or []) and c.get("restartPolicy") != "Always":
                continue
            out += [f"{name} containerPort: {port}" for p in c.get("ports") or []
                    if str(p.get("containerPort")) == port]
            for field in ("command", "args"):
                out += [f"{name} {field}: {flag}" for flag in _listen_flags(c.get(field) or [], port)]
            out += [f"{name} env: {e['name']}={e['value']}" for e in _env(c)
                    if _LISTEN_NAME.search(str(e["name"])) and _is_port(str(e["value"]), port)]
    if ports and spec.get("hostNetwork"):
        out.append("hostNetwork: true")
    return out


def _listen_flags(tokens: list[Any], port: str) -> list[str]:
    """The flags of a command line that set a listening address or port to `port` (`--listen=:8080`,
    `--web.listen-address 0.0.0.0:8080`, `--port 8080`), not ones that only name it (`--upstream=...:8080`)."""
    words = [str(t) for t in tokens]
    out = []
    for i, word in enumerate(words):
        if not word.startswith("-"):
            continue
        flag, eq, value = word.partition("=")
        if not eq and i + 1 < len(words) and not words[i + 1].startswith("-"):
            value = words[i + 1]
            word = f"{flag} {value}"
        if _LISTEN_NAME.search(flag) and _is_port(value, port):
            out.append(word)
    return out


def _is_port(value: str, port: str) -> bool:
    """Whether a setting's value is this port or an address on it (8080, :8080, 0.0.0.0:8080), not 18080 nor a URL
    (what a proxy connects to)."""
    return "://" not in value and re.fullmatch(rf"(?:.*:)?{re.escape(port)}", value.strip()) is not None


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
