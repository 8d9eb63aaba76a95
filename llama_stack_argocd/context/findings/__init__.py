"""Deterministic analyzers that turn raw Kubernetes / Argo CD state into short findings with their evidence.

Each module holds one family of analyzers; each analyzer is a pure function over plain JSON dicts, registered for the
kinds it reads. `analyze(objects)` runs them all over manifests, related objects and events (lists and EventLists
are flattened) and returns the findings in a deterministic order: severity first, then causes before symptoms.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import (  # noqa: F401  (registers)
    argocd, hpa, jobs, log_errors, network, other_events, pods, references, services, storage, workloads)
from .base import CODE_ORDER, Cluster, Finding, Severity
from .registry import analyzer, registered, run

__all__ = ["CODE_ORDER", "Cluster", "Finding", "Severity", "analyze", "analyzer", "registered", "render_findings"]


def analyze(objects: Iterable[Any], logs: Iterable[tuple[str, str]] = ()) -> list[Finding]:
    """Findings for these objects (dicts, lists, `{"items": [...]}` or JSON strings of them), most severe first.

    `logs`: (Pod name or "", text) of the distinct log records, for the analyzers that read logs (DNS, network)."""
    return run(objects, logs)


def render_findings(findings: Iterable[Finding]) -> str:
    return "\n".join(f.render() for f in findings)
