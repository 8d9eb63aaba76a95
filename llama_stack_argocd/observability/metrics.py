"""The Prometheus series, in a registry of their own (never llama-stack's or the process-wide default).

Every label has a bounded set of values: dialects, registered models, tools the toolbox listed, route templates,
status codes, fixed outcome and error kinds. No label carries content, a user, an Application or a resource name.
GenAI series follow the OpenTelemetry GenAI semantic conventions (`gen_ai.client.token.usage`,
`gen_ai.client.operation.duration`, `gen_ai.execute_tool.duration`), dots written as underscores.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

UPSTREAMS = ("model", "kubernetes", "argocd_api", "mcp")
ERROR_KINDS = ("timeout", "refused", "5xx", "other")

_LATENCY = (0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120)
_TOKENS = (64, 256, 1024, 4096, 16384, 65536, 262144)

TURNS = Counter("argocd_assistant_turns", "Agent turns, by how they ended.", ["dialect", "model", "outcome"],
                registry=REGISTRY)
TURN_DURATION = Histogram("argocd_assistant_turn_duration_seconds", "Agent turn duration, first round to last byte.",
                          ["dialect", "model", "outcome"], buckets=_LATENCY, registry=REGISTRY)
FIRST_TEXT = Histogram("argocd_assistant_time_to_first_text_seconds", "From the turn's start to its first answer text.",
                       ["dialect", "model"], buckets=_LATENCY, registry=REGISTRY)
TOOL_ROUNDS = Histogram("argocd_assistant_tool_rounds", "Rounds of server-side tool calls in one turn.",
                        ["dialect"], buckets=(0, 1, 2, 3, 4, 5, 8, 12, 20), registry=REGISTRY)
TOKENS = Counter("argocd_assistant_tokens", "Model tokens, by model and type (input, output).",
                 ["model", "type"], registry=REGISTRY)
TOKEN_USAGE = Histogram("gen_ai_client_token_usage", "Tokens of one model call (OTel gen_ai.client.token.usage).",
                        ["gen_ai_operation_name", "gen_ai_request_model", "gen_ai_token_type"], buckets=_TOKENS,
                        registry=REGISTRY)
OPERATION_DURATION = Histogram(
    "gen_ai_client_operation_duration_seconds", "One model call (OTel gen_ai.client.operation.duration).",
    ["gen_ai_operation_name", "gen_ai_request_model"], buckets=_LATENCY, registry=REGISTRY)
TOOL_CALLS = Counter("argocd_assistant_tool_calls", "Tool calls run server-side, by tool and outcome.",
                     ["tool", "outcome"], registry=REGISTRY)
TOOL_DURATION = Histogram("gen_ai_execute_tool_duration_seconds", "One tool call (OTel gen_ai.execute_tool.duration).",
                          ["gen_ai_tool_name", "outcome"], buckets=_LATENCY, registry=REGISTRY)
REDACTIONS = Counter("argocd_assistant_redactions", "Secrets redacted from what the model was sent.", ["dialect"],
                     registry=REGISTRY)
SCOPE_REFUSALS = Counter("argocd_assistant_scope_refusals", "Reads refused as outside the caller's Application.",
                         ["tool"], registry=REGISTRY)
QUOTA_REFUSALS = Counter("argocd_assistant_quota_refusals", "Turns refused by a per-user quota.", ["quota"],
                         registry=REGISTRY)
UPSTREAM_ERRORS = Counter("argocd_assistant_upstream_errors", "Failed calls to an upstream, by upstream and kind.",
                          ["upstream", "kind"], registry=REGISTRY)
REQUESTS = Counter("argocd_assistant_http_requests", "HTTP requests, by route template, method and status.",
                   ["route", "method", "status"], registry=REGISTRY)
REQUEST_DURATION = Histogram("argocd_assistant_http_request_duration_seconds", "HTTP request duration to last byte.",
                             ["route", "method"], buckets=_LATENCY, registry=REGISTRY)


def upstream_error(upstream: str, kind: str) -> None:
    """One failed call to an upstream; `kind` is one of ERROR_KINDS (anything else counts as `other`)."""
    UPSTREAM_ERRORS.labels(upstream, kind if kind in ERROR_KINDS else "other").inc()


def status_kind(status: int) -> str | None:
    """The error kind of an HTTP status from an upstream: `5xx`, or None for an answer that is not its fault."""
    return "5xx" if status >= 500 else None


def message_kind(message: str) -> str:
    """The error kind of a failure known only by its message (a failed model round)."""
    lowered = message.lower()
    if "timed out" in lowered or "timeout" in lowered:
        return "timeout"
    if "connect" in lowered:
        return "refused"
    if any(code in lowered for code in ("500", "502", "503", "504", "server error", "overloaded")):
        return "5xx"
    return "other"


def exception_kind(error: BaseException) -> str | None:
    """The error kind of an exception from an HTTP client, or None for an error that is not the upstream's."""
    if isinstance(error, TimeoutError) or "timeout" in type(error).__name__.lower():
        return "timeout"
    if isinstance(error, ConnectionError) or "connect" in type(error).__name__.lower():
        return "refused"
    status = getattr(error, "status_code", None) or getattr(getattr(error, "response", None), "status_code", None)
    return status_kind(status) if isinstance(status, int) else None
