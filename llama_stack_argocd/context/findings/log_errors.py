"""The errors a container's log shows, quoted: the decisive line of most crashes is in the log, not in any object.

One finding per log read (a container's current or previous instance), quoting the records `logs.distinct_records`
ranks first: the errors and fatal records, most recent first, each by its cause lines (a trace by its innermost
cause). A crashed container's previous log with no error-level line is quoted by its last words. The previous log of
a crashed container is as severe as the crash it explains, and ranks right after it.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..logs import ERROR, cause_lines, level_of
from .base import Cluster, Finding, Severity, clip, ref
from .registry import log_analyzer

MAX_QUOTED = 3
_PREVIOUS = " (previous instance)"


@log_analyzer
def log_errors(cluster: Cluster) -> Iterator[Finding]:
    quoted: dict[str, list[str]] = {}
    last_words: dict[str, list[str]] = {}
    for source, text in cluster.logs:
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
        yield Finding(
            Severity.CRITICAL if previous else Severity.ERROR,
            f"What {what} says",
            "The errors it ends with, most recent first." if previous else "Its errors, most recent first.",
            lines, resource, "LogErrors")
