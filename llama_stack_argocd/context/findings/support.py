"""Which log lines support a diagnosed cause, whatever their level: the log compressor keeps them with the errors.

A liveness kill is explained by the GC pauses or the slow start-up before it, an OOM kill by the heap and goroutine
counts before it; those are INFO lines that a level-first compressor would drop.

The finding of such a cause is shown with the most telling of those lines (`with_support`), so the diagnosis block
holds it: the last memory figures before an OOM kill, the longest stall (a GC pause, a start-up step) before a probe
killed the container, where the process listens when the probe's port refused, how far a Job got before its deadline.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from ..logs import ATTACHED, PREVIOUS_INSTANCE
from .base import Cluster, Finding, Obj, clip, meta, name_of, ref


_PROBE = r"\bgc\b|full gc|gc pause|pause young|pause full|stop-the-world|safepoint|deadlock|blocked for|" \
         r"thread pool|exhausted|starting|started \w+ in|startup|listening on|ready to accept|migrat|warm"
SUPPORTING: dict[str, str] = {
    "OOMKilled": r"heap|memory|\bgc\b|garbage|alloc|\brss\b|goroutines?\b|out of memory|metaspace|old gen|"
                 r"buffer|cache size|max-old-space|resident|direct buffer",
    "LivenessProbeFailing": _PROBE,
    "StartupProbeFailing": _PROBE,
    "ReadinessProbeFailing": _PROBE + r"|upstream|dependency|not ready|health",
    "Evicted": r"disk|ephemeral|no space|tmp|cache",
    "DNSResolutionFailed": r"lookup|resolv|dns|host",
    "NetworkPolicyBlocking": r"timeout|timed out|refused|dial|connect",
}


def supporting_patterns(findings: Iterable[Finding]) -> list[re.Pattern[str]]:
    """The patterns of log lines that support these findings' causes."""
    codes = dict.fromkeys(f.code for f in findings if f.code in SUPPORTING)
    return [re.compile(SUPPORTING[c], re.IGNORECASE) for c in codes]


# -- the lines a finding is shown with -------------------------------------------------------------------------------

MAX_SUPPORT = 2  # lines added to one finding: the errors and fields that decide stay first
_SHOWN_AT = 3  # where they go in its evidence: within what the diagnosis block shows of it
_KILLS = ("OOMKilled", "LivenessProbeFailing", "StartupProbeFailing")  # the killed instance's log says why
_PROBES = ("LivenessProbeFailing", "StartupProbeFailing", "ReadinessProbeFailing")
# A memory figure: an amount with its unit (1498M, 2.1 GiB), or a number under a memory-ish key (heapUsedMB: 1942).
_AMOUNT = re.compile(r"\d(?:\.\d+)?\s?(?:[kmgt]i?b?|bytes)\b|(?:heap|mem|rss|alloc|goroutines?|resident|buffer|"
                     r"cache|old|young|metaspace)\w*\W{1,3}\d", re.IGNORECASE)
# A duration: 2750.5ms, 41 s, 12 seconds, 00:41.877s (minutes:seconds, not a time of day).
_DURATION = re.compile(r"(?<![\w.:])(\d+(?:\.\d+)?)\s?(ms|s|secs?|seconds?)\b|(?<![\d:])(\d{1,2}):(\d{2}(?:\.\d+)?)s?"
                       r"(?![\d:])", re.IGNORECASE)
# Where a process listens: the word, then a port (`listening on 0.0.0.0:9191`, `initialized with port 8080`).
_LISTENS = re.compile(r"(?:listen\w*|bound to|\bbind\w*|serving|initiali[sz]ed with|started on)[^\n]{0,80}?"
                      r"(?:\bport\W{0,3}|:)\d{2,5}\b", re.IGNORECASE)
# How far a piece of work got: a percentage, or `n/m things`, `n of m things`.
_PROGRESS = re.compile(r"\b\d+(?:\.\d+)?\s?%|\b\d+\s?(?:/|of)\s?\d+\s+[a-z]", re.IGNORECASE)
_MIN_STALL_SECONDS = 1.0  # a probe times out after a second at the least: a shorter pause explains no kill
# The fields of a structured line that say when and where, not what: left out of the quote.
_META_KEYS = frozenset(("level", "lvl", "severity", "ts", "time", "timestamp", "@timestamp", "t", "pid", "hostname",
                        "caller", "logger", "logger_name", "thread", "thread_name", "v", "msg", "message", "source",
                        "file", "line", "func", "module"))
MAX_FIELDS = 6


def with_support(findings: Iterable[Finding], cluster: Cluster) -> list[Finding]:
    """The findings, those whose cause a log of their Pods can support shown with the line that does (`supporting`),
    unless another finding already quotes it."""
    findings = list(findings)
    quoted = {e for f in findings for e in f.evidence}
    out: list[Finding] = []
    for finding in findings:
        lines = [line for line in supporting(finding, cluster) if line not in quoted]
        if lines:
            at = min(len(finding.evidence), _SHOWN_AT)
            finding = replace(finding, evidence=[*finding.evidence[:at], *lines, *finding.evidence[at:]])
        out.append(finding)
    return out


def supporting(finding: Finding, cluster: Cluster) -> list[str]:
    """The lines of the finding's Pods' logs that support its cause, at most MAX_SUPPORT: of an OOM kill, the memory
    figures the process last logged; of a probe, the longest stall (a GC pause, a start-up step) and, when the probe's
    port refused, where the process listens; of a Job out of time (or a start-up cut short), how far it got."""
    code, said = finding.code, " ".join(finding.evidence).lower()
    deadline = code == "JobFailed" and "deadline" in f"{finding.title} {finding.detail} {said}".lower()
    if code not in SUPPORTING and not deadline:
        return []
    records = _records(finding, cluster)
    if not records:
        return []
    picked: list[str | None] = []
    if code == "OOMKilled":
        picked.append(_first(records, lambda t: _matches(code, t) and _AMOUNT.search(t) is not None))
    if code in _PROBES:
        if "refused" in said:
            picked.append(_first(records, lambda t: _LISTENS.search(t) is not None))
        picked.append(_longest_stall(code, records))
    if deadline or code == "StartupProbeFailing":
        picked.append(_first(records, lambda t: _PROGRESS.search(t) is not None))
    return list(dict.fromkeys(p for p in picked if p))[:MAX_SUPPORT]


def spoken(line: str) -> str:
    """A log line as quoted: a structured (JSON) one as its message and its own fields (`runtime stats: goroutines:
    900, heap_mb: 412`), the figures that make it evidence; any other one as it is."""
    line = line.strip()
    record: Any = None
    if line.startswith("{") and line.endswith("}"):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
    if not isinstance(record, dict):
        return clip(line)
    message = next((str(record[k]) for k in ("msg", "message") if isinstance(record.get(k), str)), "")
    fields = [f"{k}: {v}" for k, v in record.items() if k not in _META_KEYS and isinstance(v, str | int | float)
              and not isinstance(v, bool)][:MAX_FIELDS]
    return clip(": ".join(x for x in (message, ", ".join(fields)) if x) or line)


def _records(finding: Finding, cluster: Cluster) -> list[str]:
    """The spoken first lines of the distinct records of the logs of the finding's Pods, each log in the ranking
    `logs.distinct_records` made; for a kill, the killed (previous) instance's log first."""
    pods = _pods_of(finding, cluster)
    # a log that names no Pod (plain text attached) is the log of what the user has open
    unnamed = cluster.focus is not None and finding.resource == ref(cluster.focus)
    sources = [s for s in dict.fromkeys(s for s, _ in cluster.logs) if _pod_of(s) in pods
               or (unnamed and _pod_of(s) in ("", "attached"))]
    if finding.code in _KILLS:
        sources.sort(key=lambda s: not s.endswith(PREVIOUS_INSTANCE))
    by_source: dict[str, list[str]] = {}
    for source, text in cluster.logs:
        if source in sources and text.strip():
            by_source.setdefault(source, []).append(spoken(text.splitlines()[0]))
    return [line for source in sources for line in by_source.get(source, [])]


def _pods_of(finding: Finding, cluster: Cluster) -> set[str]:
    """The names of the Pods a finding is about: its Pod, or a Job's Pods (owned by it, labelled with its name, or
    named as the Job controller names them, `<job>-<5 characters>`)."""
    kind, _, name = finding.resource.partition(" ")
    name = name.rsplit("/", 1)[-1]
    if kind == "Pod":
        return {name}
    if kind != "Job" or not name:
        return set()
    pods = {name_of(p) for p in cluster.of_kind("Pod") if _owned_by_job(p, name)}
    pods |= {_pod_of(s) for s, _ in cluster.logs if re.fullmatch(rf"{re.escape(name)}-[a-z0-9]{{5}}", _pod_of(s))}
    return pods


def _owned_by_job(pod: Obj, job: str) -> bool:
    labels = meta(pod).get("labels") or {}
    owners = meta(pod).get("ownerReferences") or []
    return job in (labels.get("job-name"), labels.get("batch.kubernetes.io/job-name")) or any(
        o.get("kind") == "Job" and o.get("name") == job for o in owners if isinstance(o, Mapping))


def _pod_of(source: str) -> str:
    """The Pod a log source names: `pod/container (previous instance)`, `pod (attached)`, `pod`."""
    return source.removesuffix(PREVIOUS_INSTANCE).removesuffix(ATTACHED).split("/")[0]


def _matches(code: str, text: str) -> bool:
    return re.search(SUPPORTING[code], text, re.IGNORECASE) is not None


def _first(records: Sequence[str], test: Callable[[str], bool]) -> str | None:
    return next((r for r in records if test(r)), None)


def _longest_stall(code: str, records: Sequence[str]) -> str | None:
    """The line of the longest pause or start-up step the probe's pattern names, a second or more."""
    stalls = [(seconds, r) for r in records if _matches(code, r) and (seconds := _seconds(r)) >= _MIN_STALL_SECONDS]
    return max(stalls, key=lambda s: s[0])[1] if stalls else None


def _seconds(text: str) -> float:
    """The longest duration a line states, in seconds (0 with none)."""
    out = 0.0
    for m in _DURATION.finditer(text):
        if m.group(1):
            out = max(out, float(m.group(1)) / (1000 if m.group(2).lower() == "ms" else 1))
        else:
            out = max(out, int(m.group(3)) * 60 + float(m.group(4)))
    return out
