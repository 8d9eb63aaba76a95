"""Deterministic analyzers that turn raw Kubernetes / Argo CD state into short findings with their evidence.

Each module holds one family of analyzers; each analyzer is a pure function over plain JSON dicts, registered for the
kinds it reads. `analyze(objects)` runs them all over manifests, related objects and events (lists and EventLists
are flattened) and returns the findings in a deterministic order: severity first, then causes before symptoms.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import argocd, hpa, jobs, other_events, pods, references, services, storage, workloads  # noqa: F401  (registers)
from .base import CODE_ORDER, Cluster, Finding, Severity
from .registry import analyzer, registered, run

__all__ = ["CODE_ORDER", "Cluster", "Finding", "Severity", "analyze", "analyzer", "registered", "render_findings"]


def analyze(objects: Iterable[Any]) -> list[Finding]:
    """Findings for these objects (dicts, lists, `{"items": [...]}` or JSON strings of them), most severe first."""
    return run(objects)


def render_findings(findings: Iterable[Finding]) -> str:
    return "\n".join(f.render() for f in findings)
