"""HorizontalPodAutoscalers: unable to scale, metrics unavailable (often: no resource requests), pinned at max."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Cluster, Finding, Obj, Severity, clip, condition, event_message, ref
from .registry import analyzer

_METRIC_EVENTS = ("FailedGetResourceMetric", "FailedComputeMetricsReplicas", "FailedGetPodsMetric",
                  "FailedGetExternalMetric", "FailedGetObjectMetric", "FailedGetContainerResourceMetric")


@analyzer("HorizontalPodAutoscaler")
def hpa(obj: Obj, cluster: Cluster) -> Iterator[Finding]:
    spec = obj.get("spec") or {}
    target = spec.get("scaleTargetRef") or {}
    target_ref = f"{target.get('kind', '?')}/{target.get('name', '?')}"
    able = condition(obj, "AbleToScale")
    active = condition(obj, "ScalingActive")
    limited = condition(obj, "ScalingLimited")
    if able and able.get("status") == "False":
        msg = str(able.get("message") or "")
        yield Finding(Severity.ERROR, f"HPA unable to scale {target_ref}: {able.get('reason')}", clip(msg),
                      [str(able.get("reason")), clip(msg)], ref(obj), "HPAUnableToScale")
    events = cluster.warnings_for(obj, *_METRIC_EVENTS)
    if (active and active.get("status") == "False") or events:
        msg = str((active or {}).get("message") or (event_message(events[-1]) if events else ""))
        reason = (active or {}).get("reason") or (events[-1].get("reason") if events else "")
        hint = (" The target's containers set no resource request for that metric: utilization needs a request."
                if "missing request" in msg.lower() else
                " The metrics API (metrics-server or an adapter) returns nothing for the target." if msg else "")
        yield Finding(Severity.ERROR, f"HPA cannot read its metrics ({reason})", clip(msg) + hint,
                      [str(reason), clip(msg)], ref(obj), "HPAMetricsUnavailable")
    if limited and limited.get("status") == "True" and limited.get("reason") == "TooManyReplicas":
        yield Finding(Severity.WARNING, f"HPA at maxReplicas ({spec.get('maxReplicas')})",
                      clip(limited.get("message") or "") + " The load needs more than the HPA may give.",
                      ["TooManyReplicas", f"maxReplicas: {spec.get('maxReplicas')}"], ref(obj), "HPAAtMaxReplicas")
