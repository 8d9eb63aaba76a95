"""Log compression that keeps the evidence.

Input: plain text, or what the extension attaches (`[{"result": {"content": ..., "timeStamp": ..., "podName": ...}}]`),
or the Argo CD log stream (one such JSON object a line).

1. Lines become records: a stack trace (Java `at ...`/`Caused by:`, Python `Traceback ...`, Go `panic:`/goroutines)
   is one record with its header, so it is kept or dropped whole, and long traces are trimmed in the middle.
2. Records are grouped by a signature: the text with timestamps, UUIDs, hex ids, IPs and numbers normalised, so
   "GET /healthz 200 3ms" ten thousand times is one line `[×10,000 ...]`.
3. What is kept, in this order, while the token budget lasts: the last lines (what came right before a crash) and the
   lines right before a fatal one; fatal/panic, error and exception records; warnings; then the rest from the tail.
4. The kept records are printed in their original order, with `[... N lines omitted ...]` where lines were dropped.
"""

from __future__ import annotations

import json
import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from .budget import omission_marker
from .tokens import count_tokens

FATAL, ERROR, WARN, INFO, DEBUG = 5, 4, 3, 1, 0
LEVEL_NAMES = {FATAL: "fatal", ERROR: "error", WARN: "warning", INFO: "info", DEBUG: "debug"}

TAIL_RECORDS = 5  # the last records come early: the last words before a crash
LAST_WORDS = 2  # and the very last ones first of all
BEFORE_FATAL = 3  # as do the records right before a fatal one
TRACE_HEAD_FRAMES = 6  # frames kept after each exception header of a long trace
MAX_LINE_CHARS = 2000  # a single line longer than this is cut in its middle
SHORT_LINE_CHARS = 300  # and to this when the budget is tight
# How a log's source names the killed instance's log and the extension's attached tail (`pod/container (previous
# instance)`, `pod (attached)`): the evidence writes them, the log analyzers read them.
PREVIOUS_INSTANCE = " (previous instance)"
ATTACHED = " (attached)"


@dataclass(frozen=True)
class LogLine:
    text: str
    pod: str = ""
    timestamp: str = ""


# -- parsing ----------------------------------------------------------------------------------------------------------


def parse_logs(raw: str | bytes | Sequence[Any] | None) -> list[LogLine]:
    """Plain text, the extension's JSON array, or Argo CD's newline-delimited `{"result": ...}` stream."""
    if raw is None:
        return []
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        stripped = raw.lstrip()
        if stripped.startswith("["):
            try:
                data = json.loads(stripped)
            except ValueError:
                data = None
            if isinstance(data, list):
                return _from_entries(data)
        if stripped.startswith("{"):
            entries = []
            for line in raw.splitlines():
                try:
                    entries.append(json.loads(line))
                except ValueError:
                    entries = []
                    break
            if entries and all(isinstance(e, dict) and ("result" in e or "content" in e) for e in entries):
                return _from_entries(entries)
        return [LogLine(line) for line in raw.splitlines()]
    return _from_entries(list(raw))


def _from_entries(entries: Iterable[Any]) -> list[LogLine]:
    out: list[LogLine] = []
    for entry in entries:
        if isinstance(entry, str):
            out.extend(LogLine(line) for line in entry.splitlines() or [""])
            continue
        if not isinstance(entry, dict):
            continue
        body = entry.get("result", entry)
        if not isinstance(body, dict):
            continue
        content = body.get("content")
        if content is None or (body.get("last") and not content):
            continue
        pod = str(body.get("podName") or "")
        ts = str(body.get("timeStampStr") or body.get("timeStamp") or "")
        for line in str(content).splitlines() or [""]:
            out.append(LogLine(line, pod, ts))
    return out


# -- levels and signatures --------------------------------------------------------------------------------------------

_LEVEL_WORDS = {
    "fatal": FATAL, "panic": FATAL, "critical": FATAL, "crit": FATAL, "emerg": FATAL, "emergency": FATAL,
    "alert": FATAL, "severe": FATAL, "error": ERROR, "err": ERROR, "eror": ERROR, "warn": WARN, "warning": WARN,
    "wrn": WARN, "info": INFO, "inf": INFO, "notice": INFO, "log": INFO, "debug": DEBUG, "dbg": DEBUG,
    "trace": DEBUG, "fine": DEBUG, "finer": DEBUG, "finest": DEBUG, "statement": INFO, "detail": INFO, "hint": INFO,
}
_LEVEL_KV = re.compile(r"""(?:level|lvl|severity|loglevel)["']?\s*[=:]\s*["']?([A-Za-z]+|\d{2}\b)""", re.IGNORECASE)
# pino and bunyan write the level as a number: 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal
_NUMERIC_LEVELS = (DEBUG, DEBUG, DEBUG, INFO, WARN, ERROR, FATAL)
_LEVEL_UPPER = re.compile(r"(?<![A-Za-z_])(FATAL|PANIC|CRITICAL|CRIT|EMERG|SEVERE|ERROR|ERR|WARN|WARNING|INFO|NOTICE|"
                          r"DEBUG|TRACE|LOG|STATEMENT|DETAIL|HINT)(?![A-Za-z_])")
_LEVEL_BRACKET = re.compile(r"\[(emerg|alert|crit|error|warn|notice|info|debug)\]")
_KLOG = re.compile(r"^([IWEF])\d{4} \d{2}:\d{2}:\d{2}")
# these three run on the lower-cased line, and only when one of their words is in it (a substring test is cheap)
_FATAL_HINTS = ("panic", "fatal", "segmentation", "sigsegv", "sigabrt", "memory", "oomkill", "killed", "core dumped",
                "unrecoverable", "aborting", "shutting down due")
_ERROR_HINTS = ("error", "exception", "traceback", "fail", "refused", "denied", "unauthori", "forbidden", "time",
                "unreachable", "cannot", "can't", "could not", "unable to", "no such", "not found", "invalid", "exit")
_WARN_HINTS = ("warn", "deprecat", "retry", "slow", "backoff", "back-off", "throttl")
_FATAL_WORDS = re.compile(
    r"\b(panic|fatal|segmentation fault|sigsegv|sigabrt|out ?of ?memory\w*|oomkill\w*|killed|core dumped|"
    r"unrecoverable|aborting|shutting down due to)\b")
_ERROR_WORDS = re.compile(
    r"(exception|error)\b|traceback|\bfail(ed|ure|ing)?\b|\brefused\b|\bdenied\b|\bunauthori[sz]ed\b|"
    r"\bforbidden\b|\btimed? ?out\b|\bunreachable\b|\bcannot\b|\bcan't\b|\bcould not\b|\bunable to\b|"
    r"\bno such\b|\bnot found\b|\binvalid\b|\bexit(ed)? (with )?(code|status) [1-9]")
_WARN_WORDS = re.compile(r"\b(warn\w*|deprecat\w*|retry(ing)?|slow|backoff|back-off|throttl\w*)\b")
_HTTP_5XX = re.compile(r'"\s+5\d\d\s|\bstatus[=:]\s*5\d\d\b')


def _has(text: str, hints: tuple[str, ...]) -> bool:
    return any(h in text for h in hints)


def level_of(text: str) -> int:
    """The severity a line states (`level=error`, `ERROR`, klog `E0101`, `[error]`), else what its words suggest."""
    stated: int | None = None
    lower = text.lower()
    if m := _KLOG.match(text):
        stated = {"I": INFO, "W": WARN, "E": ERROR, "F": FATAL}[m.group(1)]
    elif ("level" in lower or "lvl" in lower or "severity" in lower) and (m := _LEVEL_KV.search(text)):
        word = m.group(1)
        stated = _NUMERIC_LEVELS[min(6, int(word) // 10)] if word.isdigit() else _LEVEL_WORDS.get(word.lower())
    if stated is None and (m := _LEVEL_BRACKET.search(text)):
        stated = _LEVEL_WORDS.get(m.group(1))
    if stated is None and (m := _LEVEL_UPPER.search(text[:200])):
        stated = _LEVEL_WORDS.get(m.group(1).lower())
    if stated is not None:
        if stated < WARN and _has(lower, _FATAL_HINTS) and _FATAL_WORDS.search(lower):
            return WARN  # an info line that says "panic" or "OOMKilled" is worth a look
        return stated
    if _has(lower, _FATAL_HINTS) and _FATAL_WORDS.search(lower):
        return FATAL
    if (_has(lower, _ERROR_HINTS) and _ERROR_WORDS.search(lower)) or (" 5" in text and _HTTP_5XX.search(text)) or (
            "status" in lower and _HTTP_5XX.search(text)):
        return ERROR
    if _has(lower, _WARN_HINTS) and _WARN_WORDS.search(lower):
        return WARN
    return INFO


# Anything that holds a digit varies between repetitions of one line: timestamps, UUIDs, hex ids, IPs, ports,
# durations, counters, Pod-name hashes. One token of that kind becomes "#" ("/api/orders/83041" -> "/api/orders/#").
_VARYING = re.compile(r"(?<![\w.:+-])[\w.:+-]*\d[\w.:+-]*")  # anchored at a token start: linear time
SIGNATURE_CHARS = 1000  # what follows this in a line does not make it a different line
_POD_SUFFIX = re.compile(r"-[a-z]{5}\b")  # a Pod name's random suffix may hold no digit
_SPACES = re.compile(r"\s+")


# Numbers that can be the diagnosis when a message repeats with different values: a bare integer (exit code 2,
# status 503, `line 12, column 7`), a `key=value` integer, a port after a host, a `file:line[:col]` position. Numbers
# inside names (threads, Pods), times, ids and durations (`853 ms`) are not facts.
_FACT = re.compile(
    r"(?:(?<=\s)|(?<=^)|(?<=[(\[,]))(?!\d{1,2}:\d{2}:\d{2})(?:[\w.-]*[=:])?\d{1,5}(?::\d{1,5})*(?=[\s,;)\].]|$)"
    r"(?!\s?(?:ms|s|sec|seconds?|us|µs|ns|m|"
    r"mins?|minutes?|h|hours?|%|bytes|[KMG]i?B)\b)")
MAX_VARIANTS = 4  # distinct variants of a group shown in full; with more: the first, a count, the last


def facts(text: str) -> list[str]:
    """The numbers of a line that may be facts, with their key (`line 12` keeps `12`, `port=8443` keeps it all)."""
    return _FACT.findall(text[:SIGNATURE_CHARS])


def fact_key(lines: Sequence[LogLine]) -> str:
    return "\n".join(" ".join(facts(ln.text)) for ln in lines[:4])


def signature(text: str) -> str:
    """The line with what varies between repetitions (times, ids, addresses, numbers) replaced by `#`."""
    out = _VARYING.sub("#", text.strip()[:SIGNATURE_CHARS])
    if "-" in out:
        out = _POD_SUFFIX.sub("-#", out)
    return _SPACES.sub(" ", out).lower()


# -- records (lines and stack traces) -------------------------------------------------------------------------------

_JAVA_CONT = re.compile(r"^\s+(at |\.\.\. \d+ (more|common frames omitted))|^(Caused by|Suppressed): ")
_PY_START_TEXT = "Traceback (most recent call last):"
_PY_CHAIN = re.compile(r"^(During handling of the above exception|The above exception was the direct cause)")
_PY_END = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning|Fault)?(: .*)?$")
_GO_START = re.compile(r"^(panic: |fatal error: )")
_GO_CONT = re.compile(r"^(goroutine \d+ \[|\[signal |created by |\s|exit status \d+$|$|[\w./*()-]+\(.*\)$|"
                      r"\[recovered\]|panic: )")
# An exception line without a timestamp of its own (`java.net.ConnectException: ...`, `Error: connect ECONNREFUSED`)
# or a Python `Traceback` that starts a trace right below a log record belongs to that record: one message + trace.
_EXC_HEAD = re.compile(r"^([\w$.]+\.)?\w*(Exception|Error|Throwable|Failure)\b[\w$.]*(: .*)?$|^Traceback \(most recent")
_FRAME = re.compile(r"^\s+(at |File \")")
_NODE_CODE = re.compile(r"^\s+code: '[A-Z][A-Z0-9_]+',?$")
_TS_HEAD = re.compile(r"^(\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}|[IWEF]\d{4} |\{|\[?[A-Z]{4,8}\]? )")
# PostgreSQL writes one message as several lines, each with the prefix again (`... [61] FATAL:  ...`, then
# `... [61] HINT:  ...`): the parts after the first one belong to it. Of those, DETAIL and HINT say why and what to do.
_PG_HEAD = re.compile(r"\[(\d+)\]:?\s+(?:\S+\s+)?(?:LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DEBUG\d?):\s")
_PG_PART = re.compile(r"\[(\d+)\]:?\s+(?:\S+\s+)?(DETAIL|HINT|CONTEXT|STATEMENT|QUERY|LOCATION):\s")
_PG_WORDS = ("DETAIL:", "HINT:", "CONTEXT:", "STATEMENT:", "QUERY:", "LOCATION:")  # a substring test first: cheap


@dataclass
class Record:
    start: int  # index of the first line
    lines: list[LogLine]
    level: int = INFO
    trace: bool = False

    @property
    def end(self) -> int:
        return self.start + len(self.lines) - 1


def to_records(lines: Sequence[LogLine]) -> list[Record]:
    records: list[Record] = []
    mode = ""  # "", "java", "py", "go": the kind of trace the current record is
    for i, line in enumerate(lines):
        text = line.text
        cur = records[-1] if records else None
        if cur is not None and cur.lines[-1].pod == line.pod:
            if mode == "py":
                if text.startswith((" ", "\t")) or not text.strip() or _PY_CHAIN.match(text) or _PY_START_TEXT in text:
                    cur.lines.append(line)
                    continue
                if _PY_END.match(text) and not _TS_HEAD.match(text):
                    cur.lines.append(line)
                    mode = ""
                    continue
                mode = ""
            elif mode == "go":
                if _GO_CONT.match(text) and not _TS_HEAD.match(text):
                    cur.lines.append(line)
                    if text.startswith("exit status"):
                        mode = ""
                    continue
                mode = ""
            elif mode == "node":  # a Node.js error's own properties, `{ code: 'MODULE_NOT_FOUND', ... }`
                if text.startswith((" ", "\t", "}")):
                    cur.lines.append(line)
                    mode = "" if text.startswith("}") else mode
                    continue
                mode = ""
            if text[:1] in (" ", "\t", "C", "S") and _JAVA_CONT.match(text):
                cur.lines.append(line)
                cur.trace = True
                mode = "node" if text.endswith("{") else ""
                continue
        if (cur is not None and cur.lines[-1].pod == line.pod and not cur.trace and len(cur.lines) == 1
                and _EXC_HEAD.match(text) and i + 1 < len(lines) and _FRAME.match(lines[i + 1].text)
                and _TS_HEAD.match(cur.lines[0].text)):
            cur.lines.append(line)
            cur.trace = True
            if text.startswith("Traceback"):
                mode = "py"
            continue
        if cur is not None and cur.lines[-1].pod == line.pod and _has(text, _PG_WORDS) and _pg_part_of(cur, text):
            cur.lines.append(line)
            continue
        rec = Record(i, [line])
        if _PY_START_TEXT in text:
            mode, rec.trace = "py", True
        elif text[:1] in ("p", "f") and _GO_START.match(text):
            mode, rec.trace = "go", True
        else:
            mode = ""
        records.append(rec)
    return records


def _pg_part_of(rec: Record, text: str) -> bool:
    """Whether `text` is a later part (DETAIL, HINT...) of the PostgreSQL message `rec` holds: the same process."""
    part = _PG_PART.search(text[:200])
    if part is None:
        return False
    head = _PG_HEAD.search(rec.lines[0].text[:200])
    return head is not None and head.group(1) == part.group(1)


def record_level(rec: Record) -> int:
    level = max(level_of(ln.text[:MAX_LINE_CHARS]) for ln in rec.lines[:40])
    return max(level, ERROR) if rec.trace else level


def _trim_trace(lines: list[str]) -> list[str]:
    """Header, each exception (`Caused by:`, the Python last line, `goroutine`) with its first frames, the last line."""
    if len(lines) <= 2 * TRACE_HEAD_FRAMES + 4:
        return lines
    keep = {0, len(lines) - 1, len(lines) - 2}
    for i, text in enumerate(lines):
        if (i == 0 or text.startswith(("Caused by", "Suppressed", "goroutine ", "panic: ", "Traceback"))
                or _PY_CHAIN.match(text) or (text and not text[0].isspace() and i > 0 and "Error" in text)):
            keep.update(range(i, min(len(lines), i + TRACE_HEAD_FRAMES + 1)))
    out: list[str] = []
    skipped = 0
    for i, text in enumerate(lines):
        if i in keep:
            if skipped:
                out.append(f"\t[... {skipped:,} frames omitted ...]")
                skipped = 0
            out.append(text)
        else:
            skipped += 1
    if skipped:
        out.append(f"\t[... {skipped:,} frames omitted ...]")
    return out


def _clip(text: str) -> str:
    if len(text) <= MAX_LINE_CHARS:
        return text
    half = MAX_LINE_CHARS // 2
    return f"{text[:half]} [... {len(text) - MAX_LINE_CHARS:,} characters omitted ...] {text[-half:]}"


# -- compression ----------------------------------------------------------------------------------------------------


@dataclass
class _Group:
    key: str
    level: int
    records: list[Record] = field(default_factory=list)
    tier: int = 9
    rank: float = 0.0
    variants: list[Record] = field(default_factory=list)  # the latest record of each distinct set of facts
    rendered: str = ""
    shorter: tuple[str, ...] = ()  # smaller renderings (a trace without most frames...) for when it does not fit

    @property
    def last(self) -> Record:
        return self.records[-1]

    @property
    def lines(self) -> int:
        return sum(len(r.lines) for r in self.records)


@dataclass(frozen=True)
class CompressedLogs:
    text: str
    tokens: int
    total_lines: int
    shown_lines: int  # original lines that are in the text, directly or as a repeat count
    omitted_lines: int  # original lines that are not
    distinct: int  # records after collapsing repeats
    truncated: bool  # something other than repeats was left out

    @property
    def empty(self) -> bool:
        return self.total_lines == 0


@dataclass
class _Analysis:
    lines: list[LogLine]
    records: list[Record]
    groups: list[_Group]  # in order of importance
    pods: list[str]
    multi_pod: bool


_CACHE: dict[str, _Analysis] = {}
_CACHE_SIZE = 8


def _analysis_for(logs: str | bytes | Sequence[Any] | None) -> _Analysis:
    """Parsing and grouping do not depend on the budget: the same log (re-sent every turn) is analysed once."""
    key = logs if isinstance(logs, str) else None
    if key is not None and (hit := _CACHE.get(key)) is not None:
        return hit
    if isinstance(logs, list) and logs and isinstance(logs[0], LogLine):
        lines = list(logs)
    else:
        lines = parse_logs(logs)
    result = _analyse(lines)
    if key is not None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = result
    return result


def _analyse(lines: list[LogLine]) -> _Analysis:
    while lines and not lines[-1].text.strip():
        lines.pop()
    records = to_records(lines)
    pods = sorted({ln.pod for ln in lines if ln.pod})
    multi_pod = len(pods) > 1

    groups: dict[str, _Group] = {}
    for rec in records:
        sig_lines = [rec.lines[0].text, *(ln.text for ln in rec.lines[1:4])]
        key = ("T|" if rec.trace else "") + "\n".join(signature(t) for t in sig_lines)
        if multi_pod:
            key = f"{rec.lines[0].pod}\0{key}"
        grp = groups.get(key)
        if grp is None:
            # repetitions share their level words: the level is read once per group
            rec.level = record_level(rec)
            grp = groups[key] = _Group(key, rec.level)
        else:
            rec.level = grp.level
        grp.records.append(rec)

    n_records = len(records)
    position = {id(r): i for i, r in enumerate(records)}
    first: set[int] = set(range(max(0, n_records - LAST_WORDS), n_records))
    tail: set[int] = set(range(max(0, n_records - TAIL_RECORDS), n_records))
    fatal_at = [i for i, r in enumerate(records) if r.level >= FATAL]
    for i in fatal_at[-3:]:
        first.update(range(max(0, i - BEFORE_FATAL), i + 1))

    for grp in groups.values():
        pos = position[id(grp.last)]
        if pos in first or grp.level >= FATAL:
            grp.tier = 0  # the last words, fatal records and what led to them
        elif grp.level >= ERROR:
            grp.tier = 1
        elif pos in tail:
            grp.tier = 2
        elif grp.level >= WARN:
            grp.tier = 3
        else:
            grp.tier = 4
        grp.rank = -pos  # within a tier: the most recent first
        if len(grp.records) > 1 and (grp.level >= WARN or grp.last.trace):
            grp.variants = _variants(grp.records)
        grp.rendered = _render_group(grp, multi_pod)
        shorter = [_render_group(grp, multi_pod, level) for level in (1, 2)]
        grp.shorter = tuple(dict.fromkeys(v for v in shorter if v != grp.rendered))
    ordered = sorted(groups.values(), key=lambda g: (g.tier, g.rank))
    return _Analysis(lines, records, ordered, pods, multi_pod)


def compress_logs(
    logs: str | bytes | Sequence[Any] | None, max_tokens: int, model: str | None = None, title: str = "Logs",
    pull: Sequence[re.Pattern[str]] = (),
) -> CompressedLogs:
    """The log within `max_tokens`: repeats collapsed, the evidence kept, the rest filled from the tail.

    `pull`: patterns of lines that support a diagnosed cause (GC pauses before a liveness kill, heap sizes before an
    OOM kill); such lines are kept with the errors, whatever their level.
    """
    a = _analysis_for(logs)
    if not a.lines:
        return CompressedLogs("", 0, 0, 0, 0, 0, False)
    total_lines = len(a.lines)
    marker_cost = count_tokens(omission_marker(99_999), model) + 1
    header_cost = count_tokens(_header(title, a.pods, total_lines, len(a.groups), 0), model) + 1

    groups = a.groups
    lifted: set[int] = set()
    if pull:
        lifted = {id(g) for g in groups if g.tier > 1 and _supports(g, pull)}
        if lifted:
            groups = sorted(groups, key=lambda g: (1 if id(g) in lifted else g.tier, g.rank))
    chosen: list[_Group] = []
    used = header_cost
    for grp in groups:
        lift = id(grp) in lifted
        marker = marker_cost if grp.tier > 0 else 0
        cost = count_tokens(grp.rendered + "\n", model) + marker
        for smaller in grp.shorter:
            if used + cost <= max_tokens:
                break
            cost = count_tokens(smaller + "\n", model) + marker
            if used + cost <= max_tokens:
                grp = replace(grp, rendered=smaller)
        if used + cost > max_tokens:
            if grp.tier >= 4 and not lift:
                break  # the tail fill stays contiguous
            continue
        chosen.append(grp)
        used += cost

    text, shown = _render(chosen, a, title)
    tokens = count_tokens(text, model)
    while tokens > max_tokens and chosen:
        chosen.pop()  # the least important one went in last
        text, shown = _render(chosen, a, title)
        tokens = count_tokens(text, model)
    if tokens > max_tokens:
        text, tokens, shown = "", 0, 0
    omitted = total_lines - shown
    return CompressedLogs(text, tokens, total_lines, shown, omitted, len(a.groups), omitted > 0)


def _variants(records: Sequence[Record]) -> list[Record]:
    """One record per distinct set of facts (the latest of each), in order of first appearance."""
    latest: dict[str, Record] = {}
    for rec in records:
        key = fact_key(rec.lines)
        latest.pop(key, None)
        latest[key] = rec
    return list(latest.values()) if len(latest) > 1 else []


def _variant_lines(grp: _Group, shrink: int) -> list[str]:
    """The other distinct values of a repeated message: all when few, else the first and a count. Each as the words
    that differ from the shown record, with the word before them (`also: line 12, column 7`)."""
    others = [r for r in grp.variants if r is not grp.last]
    if not others:
        return []
    if shrink >= 2 or len(others) > MAX_VARIANTS:
        picked, rest = others[:1], len(others) - 1
    else:
        picked, rest = others, 0
    shown = [ln.text.split() for ln in grp.last.lines[:4]]
    out: list[str] = []
    for rec in picked:
        parts: list[str] = []
        for j, ln in enumerate(rec.lines[:4]):
            words, ref_words = ln.text.split(), shown[j] if j < len(shown) else []
            wanted = set(facts(ln.text))
            marked = sorted({i for k, w in enumerate(words) if (k >= len(ref_words) or w != ref_words[k])
                             and w.strip(",;.()[]") in wanted for i in (k - 1, k) if i >= 0})
            spans: list[list[int]] = []
            for k in marked:
                if spans and k - spans[-1][-1] <= 2:
                    spans[-1].extend(range(spans[-1][-1] + 1, k + 1))
                else:
                    spans.append([k])
            parts.extend(" ".join(words[k] for k in span) for span in spans)
        if parts:
            out.append("  also: " + " ... ".join(parts)[:SHORT_LINE_CHARS])
    if rest:
        out.append(f"  [... {rest:,} more distinct values ...]")
    return out


def distinct_records(logs: str | bytes | Sequence[Any] | None, max_lines: int = 6) -> list[tuple[str, str]]:
    """(Pod name, text) of one record per group, the most important first (as `compress_logs` keeps them): what
    log-reading analyzers look at. The text is the record's first lines, and of a longer trace its cause lines too."""
    out = []
    for g in _analysis_for(logs).groups:
        lines = [ln.text[:MAX_LINE_CHARS] for ln in g.last.lines]
        head = lines[:max_lines]
        out.append((g.last.lines[0].pod, "\n".join(head + [c for c in cause_lines(lines) if c not in head])))
    return out


_GO_RUNTIME_FRAME = re.compile(r"/go/src/|/pkg/mod/|\bruntime/")
_GO_FRAME_FILE = re.compile(r"^\s+\S+\.go:\d+")


def cause_lines(lines: Sequence[str]) -> list[str]:
    """What one record says went wrong: its first line and, of a trace, the innermost cause (the last `Caused by:` of a
    Java trace, the exception line that ends a Python one, the first frame of a Go panic in the program's own code)."""
    if not lines:
        return []
    out = [lines[0]] if lines[0].strip() != _PY_START_TEXT else []
    if len(lines) == 1:
        pass
    elif any(_PY_START_TEXT in t for t in lines[:3]):
        out += [next((t for t in reversed(lines) if t.strip() and _PY_END.match(t)), lines[-1])]
    elif _GO_START.match(lines[0].lstrip()):
        out += [t for t in lines if _GO_FRAME_FILE.match(t) and not _GO_RUNTIME_FRAME.search(t)][:1]
    else:  # Java: the innermost `Caused by:`, else the exception line under a logged message; Node: the error code
        causes = [t for t in lines if t.lstrip().startswith("Caused by: ")]
        out += causes[-1:] or [t for t in lines[1:3] if _EXC_HEAD.match(t.strip())][:1]
        out += [t.rstrip(",") for t in lines if _NODE_CODE.match(t)][:1]
        out += [t for t in lines[1:4] if (part := _PG_PART.search(t[:200])) and part.group(2) in ("DETAIL", "HINT")]
    return list(dict.fromkeys(_said(t.strip()) for t in out if t.strip()))


_MESSAGE_KEYS = ("msg", "message", "log", "error", "err", "exception", "reason")


def _said(line: str) -> str:
    """A structured (JSON) log line as its message and error, the words a reader quotes; any other line as it is."""
    if not (line.startswith("{") and line.endswith("}")):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict):
        return line
    parts: list[str] = []
    for key in _MESSAGE_KEYS:
        value = record.get(key)
        if isinstance(value, dict):  # pino/bunyan `err`: its message, else its stack's first line
            value = value.get("message") or str(value.get("stack") or "").split("\n")[0]
        if isinstance(value, str) and value.strip() and value.strip() not in parts:
            parts.append(value.strip())
    return ": ".join(parts) if parts else line


def _supports(grp: _Group, pull: Sequence[re.Pattern[str]]) -> bool:
    text = "\n".join(ln.text[:MAX_LINE_CHARS] for ln in grp.last.lines[:4])
    return any(p.search(text) for p in pull)


def _render_group(grp: _Group, multi_pod: bool, shrink: int = 0) -> str:
    """The group's last record with its repeat count and the other distinct values it took; `shrink` 1 or 2 gives
    smaller renderings of long records."""
    rec = grp.last
    texts = [_clip(ln.text) for ln in rec.lines]
    if rec.trace:
        texts = _trim_trace(texts) if shrink == 0 else _trace_summary(texts, frames=2 if shrink == 1 else 0)
    elif shrink:
        limit = SHORT_LINE_CHARS if shrink == 1 else SHORT_LINE_CHARS // 2
        texts = [t if len(t) <= limit else t[:limit] + " [...]" for t in texts]
    prefix = f"[{rec.lines[0].pod}] " if multi_pod else ""
    body = "\n".join([prefix + texts[0], *texts[1:]])
    n = len(grp.records)
    if n > 1:
        first = grp.records[0].lines[0].timestamp
        since = f", first at {first}" if first and not shrink else ""
        body += f"  [x{n:,}{since}]"
        if variants := _variant_lines(grp, shrink):
            body += "\n" + "\n".join(variants)
    return body


_GO_FUNC = re.compile(r"^[\w./*()-]+\(.*\)$")


def _trace_summary(lines: list[str], frames: int) -> list[str]:
    """A trace reduced to what it says: its header and exception lines (`Caused by:`, the Python error, the Go
    `goroutine` line) each with its first `frames` frames, and its last line."""
    python = lines[0].lstrip().startswith("Traceback") or "Traceback (most recent call last)" in lines[0]
    keep: set[int] = {0, len(lines) - 1}
    if python:
        keep.update(range(max(0, len(lines) - 1 - 2 * frames), len(lines)))
    for i, text in enumerate(lines):
        if not text.strip() or text.lstrip().startswith("[..."):
            continue
        is_frame = text[:1].isspace() or bool(_GO_FUNC.match(text))
        if i == 0 or not is_frame:
            if not python or i == 0:
                keep.add(i)
            following = [j for j in range(i + 1, min(len(lines), i + 1 + 2 * frames))
                         if lines[j].strip() and (lines[j][:1].isspace() or _GO_FUNC.match(lines[j]))]
            keep.update(following[:frames])
    out: list[str] = []
    skipped = 0
    for i, text in enumerate(lines):
        if i in keep and not text.lstrip().startswith("[..."):
            if skipped:
                out.append(f"\t[... {skipped:,} lines omitted ...]")
                skipped = 0
            out.append(text)
        elif text.strip():
            skipped += 1
    if skipped:
        out.append(f"\t[... {skipped:,} lines omitted ...]")
    return out


def _header(title: str, pods: list[str], total: int, distinct: int, shown: int) -> str:
    where = f" from {', '.join(pods[:3])}{' and more' if len(pods) > 3 else ''}" if pods else ""
    kept = "all shown" if shown >= total else f"{shown:,} shown, {total - shown:,} omitted"
    return (f"## {title}{where}: {total:,} lines, {distinct:,} distinct after collapsing repeats ({kept}; "
            "errors, warnings and the last lines kept first)")


def _render(chosen: list[_Group], a: _Analysis, title: str) -> tuple[str, int]:
    represented = {r.start for g in chosen for r in g.records}
    index_of = {r.start: i for i, r in enumerate(a.records)}
    out: list[str] = []
    cursor = 0  # the next record not yet accounted for

    def gap_until(stop: int) -> None:
        gap = sum(len(a.records[i].lines) for i in range(cursor, stop) if a.records[i].start not in represented)
        if gap:
            out.append(omission_marker(gap))

    for g in sorted(chosen, key=lambda g: g.last.start):
        target = index_of[g.last.start]
        gap_until(target)
        out.append(g.rendered)
        cursor = target + 1
    gap_until(len(a.records))
    shown = sum(g.lines for g in chosen)
    head = _header(title, a.pods, len(a.lines), len(a.groups), shown)
    return "\n".join([head, *out]), shown


# -- a long log, read for its errors ------------------------------------------------------------------------------

SCAN_FOLLOW = 30  # lines of a trace kept after the line that starts it
_SCAN_CONT = re.compile(rf"{_JAVA_CONT.pattern}|{_GO_CONT.pattern}|^\s|^{re.escape(_PY_START_TEXT)}|"
                        rf"{_PY_END.pattern}")


_SCAN_HINTS = ("error", "exception", "traceback", "fail", "fatal", "panic", "refused", "denied", "unauthori",
               "forbidden", "timed out", "timeout", "unreachable", "cannot", "can't", "could not", "unable to",
               "no such", "not found", "invalid", "killed", "out of memory", "segmentation", "sigsegv", "warn",
               "deprecat", "retry", "backoff", "back-off", "throttl", "exit")


def _lines_matching(low: str, starts: Sequence[int], patterns: Sequence[re.Pattern[str]]) -> set[int]:
    """The indexes of the lines of `low` (lines joined and lower-cased, starting at `starts`) a pattern matches.
    Each alternative's leading literal is found by substring search (memory speed), and only the lines found are
    given to the regex: a case-insensitive regex over a 10,000-line log costs hundreds of ms."""
    found: set[int] = set()

    def line(i: int) -> str:
        return low[starts[i]:starts[i + 1] - 1] if i + 1 < len(starts) else low[starts[i]:]

    for pattern in patterns:
        hints = [_literal_head(alt) for alt in pattern.pattern.split("|")]
        if not all(hints):  # an alternative without a literal head: one regex pass over the whole text
            plain = re.compile(pattern.pattern)
            found |= {bisect.bisect_right(starts, m.start()) - 1 for m in plain.finditer(low)}
            continue
        candidates: set[int] = set()
        for hint in dict.fromkeys(hints):
            position = low.find(hint)
            while position != -1:
                index = bisect.bisect_right(starts, position) - 1
                candidates.add(index)
                if index + 1 >= len(starts):
                    break
                position = low.find(hint, starts[index + 1])
        found |= {i for i in candidates if pattern.search(line(i))}
    return found


def _literal_head(alternative: str) -> str:
    """The plain text an alternative of a pattern starts with (`\\bgc\\b` -> `gc`, `started \\w+ in` -> `started `)."""
    head = re.match(r"(?:\\b)?([a-z0-9][a-z0-9 -]*)", alternative)
    if not head:
        return ""
    optional = alternative[head.end():head.end() + 1] in ("?", "*", "{")  # `goroutines?`: the last one may be absent
    return head.group(1)[:-1] if optional else head.group(1)


# What a start-up line says about how the instance runs: where it listens, what it read.
_START_WORDS = re.compile(r"listen|start|serving|bound to|\bbind\b|\bport\b|\baddr|config|version|profile",
                          re.IGNORECASE)


def scan_back(text: str, keep_last: int, max_kept: int, keep_first: int = 0,
              support: Sequence[re.Pattern[str]] = ()) -> str:
    """The last `keep_last` lines of a log, after the earlier lines that look like errors or warnings (and the
    trace lines right after them): at most `max_kept` of those, errors before warnings, then the lines matching
    `support` (what supports a cause the container's state suggests, whatever their level), the newest first,
    shown in their order, with the cut marked. `keep_first`: of the first lines, those that say how the instance
    started (when `text` is the whole log of an instance: the address it listens on, the configuration it read).

    The line that explains a failure is often far back (a worker's DNS error an hour before the log's tail); the
    whole log is too much to analyse on the hot path, so one regex pass over the earlier part picks the lines worth
    it (substring search, then the regex on the lines found).
    """
    lines = text.splitlines()
    if len(lines) <= keep_last:
        return text
    earlier, tail = lines[:-keep_last], lines[-keep_last:]
    low = "\n".join(earlier).lower()
    starts = list(itertools.accumulate((len(line) + 1 for line in earlier[:-1]), initial=0))
    candidates: set[int] = set()
    for hint in _SCAN_HINTS:  # str.find runs at memory speed; the regex then only sees the lines it found
        position = low.find(hint)
        while position != -1:
            index = bisect.bisect_right(starts, position) - 1
            candidates.add(index)
            position = low.find(hint, starts[index + 1] if index + 1 < len(starts) else len(low))
    errors = sorted(i for i in candidates if _ERROR_WORDS.search(line := earlier[i].lower())
                    or _FATAL_WORDS.search(line))
    warnings = sorted(i for i in candidates.difference(errors) if _WARN_WORDS.search(earlier[i].lower()))
    taken = set(errors) | set(warnings)
    supporting = sorted(_lines_matching(low, starts, support) - taken)
    chosen: set[int] = {i for i in range(min(keep_first, len(earlier))) if _START_WORDS.search(earlier[i])}
    reserve = min(len(supporting), max_kept // 4)  # the supporting lines keep a share: errors repeat by the hundred
    order = [(i, max_kept - reserve) for i in reversed(errors)] + [(i, -1) for i in reversed(supporting)] + [
        (i, max_kept) for i in reversed(warnings)]  # errors, then what supports a cause, then warnings; newest first
    supported = 0
    for index, most in order:
        if most == -1:  # a supporting line: within its share only
            if supported >= reserve or len(chosen) >= max_kept:
                continue
            supported += 1
        elif len(chosen) >= most:
            continue
        chosen.add(index)
        for follower in range(index + 1, min(index + 1 + SCAN_FOLLOW, len(earlier))):
            line = earlier[follower]
            if follower in chosen or not _SCAN_CONT.match(line) or _TS_HEAD.match(line):
                break
            chosen.add(follower)
    first = [i for i in sorted(chosen) if i < keep_first]
    later = [i for i in sorted(chosen) if i >= keep_first][-max_kept:] if max_kept else []
    kept = [earlier[i] for i in [*first, *later]]
    dropped = len(earlier) - len(kept)
    marker = [f"[... {dropped:,} earlier lines omitted: of the first {len(earlier):,}, only those that look like "
              "errors or warnings" + (" or support the container's state" if support else "")
              + (", and its start-up lines," if keep_first else "") + " are kept ...]"] if dropped else []
    return "\n".join([*kept, *marker, *tail]) + ("\n" if text.endswith("\n") else "")
