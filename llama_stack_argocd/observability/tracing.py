"""OTLP/HTTP traces of agent turns: on only when an endpoint is configured, and then on a provider of our own.

`ARGOCD_OTLP_TRACES_ENDPOINT` (or OpenTelemetry's `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, or
`OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`) turns it on. llama-stack 0.7.3 ships the OpenTelemetry SDK and the
OTLP/HTTP exporter but sets up only a metrics exporter (`llama_stack.telemetry`), so the spans of its own code stay
no-ops unless the process runs under `opentelemetry-instrument`; we build one TracerProvider, not a second stack.
When off, `tracer()` is None and no span object is ever made.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any


def endpoint(environ: dict[str, str] | os._Environ[str] = os.environ) -> str | None:
    if url := environ.get("ARGOCD_OTLP_TRACES_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return url
    if base := environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return base.rstrip("/") + "/v1/traces"
    return None


@cache
def tracer() -> Any | None:
    """The tracer of agent turns, or None when no OTLP endpoint is configured."""
    url = endpoint()
    if not url:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME", "llama-stack-argocd")
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    delay = int(os.environ.get("OTEL_BSP_SCHEDULE_DELAY", "1000"))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url), schedule_delay_millis=delay))
    return provider.get_tracer("llama_stack_argocd.agent")
