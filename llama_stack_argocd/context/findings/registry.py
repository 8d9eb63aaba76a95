"""The analyzer registry: `@analyzer("Pod")` registers a function `(obj, cluster) -> Iterable[Finding]`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .base import Cluster, Finding, Obj, kind_of
from .support import with_support

Analyzer = Callable[[Obj, Cluster], Iterable[Finding]]

_REGISTRY: dict[str, list[Analyzer]] = {}
_LOG_ANALYZERS: list[Callable[[Cluster], Iterable[Finding]]] = []


def log_analyzer(fn: Callable[[Cluster], Iterable[Finding]]) -> Callable[[Cluster], Iterable[Finding]]:
    """Registers an analyzer that reads the logs (`cluster.logs`) once, beside the objects."""
    _LOG_ANALYZERS.append(fn)
    return fn


def analyzer(*kinds: str) -> Callable[[Analyzer], Analyzer]:
    def register(fn: Analyzer) -> Analyzer:
        for kind in kinds:
            _REGISTRY.setdefault(kind, []).append(fn)
        return fn

    return register


def registered() -> dict[str, list[str]]:
    """Kind -> analyzer names, for docs and tests."""
    return {kind: [f"{fn.__module__.rsplit('.', 1)[-1]}.{fn.__name__}" for fn in fns]
            for kind, fns in sorted(_REGISTRY.items())}


def run(objects: Iterable[Any], logs: Iterable[tuple[str, str]] = ()) -> list[Finding]:
    cluster = Cluster(objects, logs)
    merged: dict[tuple[str, str, str], Finding] = {}
    order: list[tuple[str, str, str]] = []
    produced = [f for obj in cluster.objects for fn in _REGISTRY.get(kind_of(obj), []) for f in fn(obj, cluster)]
    produced += [f for fn in _LOG_ANALYZERS for f in fn(cluster)]
    for f in produced:
        key = (f.code or f.title, f.resource, f.title if not f.code else "")
        if key in merged:
            old = merged[key]
            evidence = old.evidence + [e for e in f.evidence if e not in old.evidence]
            merged[key] = Finding(min(old.severity, f.severity, key=lambda s: s.rank), old.title,
                                  old.detail, evidence, old.resource, old.code)
        else:
            merged[key] = f
            order.append(key)
    # a cause the Pod's status names, shown with the log line that supports it (the figures before an OOM kill...)
    supported = with_support((merged[k] for k in order), cluster) if cluster.logs else [merged[k] for k in order]
    return sorted(supported, key=Finding.sort_key)
