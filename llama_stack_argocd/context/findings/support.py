"""Which log lines support a diagnosed cause, whatever their level: the log compressor keeps them with the errors.

A liveness kill is explained by the GC pauses or the slow start-up before it, an OOM kill by the heap and goroutine
counts before it; those are INFO lines that a level-first compressor would drop.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import Finding

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
