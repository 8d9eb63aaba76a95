"""Jobs and CronJobs: failed Jobs (backoff limit, deadline), CronJobs whose last Jobs failed."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, condition, event_message, ref
from .registry import analyzer
from .workloads import _replica_failure as replica_failure


@analyzer("Job")
def job(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    yield from replica_failure(obj, cluster)  # Pods refused at creation (quota, LimitRange, admission)
    status = obj.get("status") or {}
    spec = obj.get("spec") or {}
    failed = condition(obj, "Failed")
    events = cluster.warnings_for(obj, "BackoffLimitExceeded", "DeadlineExceeded")
    if (failed and failed.get("status") == "True") or events:
        reason = (failed or {}).get("reason") or (events[-1].get("reason") if events else "Failed")
        msg = (failed or {}).get("message") or (event_message(events[-1]) if events else "")
        limit = spec.get("backoffLimit", 6)
        detail = f"The Job failed: {reason}" + (f" ({clip(msg)})" if msg else "")
        # the spec field the Job ran into, spelled as the manifest spells it (the line to change)
        hit = ""
        if reason == "BackoffLimitExceeded":
            hit = f"backoffLimit: {limit}"
            detail += f"; {status.get('failed', '?')} Pods failed, {hit}."
        elif reason == "DeadlineExceeded" and spec.get("activeDeadlineSeconds") is not None:
            hit = f"activeDeadlineSeconds: {spec['activeDeadlineSeconds']}"
            detail += f"; it ran longer than {hit} and its Pods were killed."
        detail += " The logs of its last Pod show why."
        yield Finding(Severity.CRITICAL, f"Job failed: {reason}", detail,
                      [str(reason), *([hit] if hit else []), *([clip(msg)] if msg else []),
                       f"failed: {status.get('failed', 0)}"], ref(obj), "JobFailed")
    elif (status.get("failed") or 0) > 0 and not status.get("succeeded"):
        yield Finding(Severity.WARNING, f"Job retrying: {status['failed']} Pod(s) failed",
                      f"{status['failed']} of at most {spec.get('backoffLimit', 6) + 1} attempts failed.",
                      [f"failed: {status['failed']}"], ref(obj), "JobFailed")


@analyzer("CronJob")
def cronjob(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    spec = obj.get("spec") or {}
    if spec.get("suspend"):
        yield Finding(Severity.INFO, "CronJob suspended", "spec.suspend is true: no Job is created.",
                      ["suspend: true"], ref(obj), "WarningEvent")
    for ev in cluster.warnings_for(obj, "FailedNeedsStart", "FailedCreate", "UnexpectedJob"):
        yield Finding(Severity.ERROR, f"CronJob: {ev.get('reason')}", clip(event_message(ev)),
                      [clip(event_message(ev))], ref(obj), "JobFailed")
