"""What the agent reports about one turn: metrics as it goes, a trace when enabled, the audit event at the end.

The agent core calls one method per moment (round started/finished, first text, tools running, end); everything
else lives here, so the core stays about the conversation.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from llama_stack_argocd.observability import audit, metrics, request_id, tracing

# The span tool calls of this task hang under (the turn's), set by `TurnWatch.tools()` around a round's calls.
_parent: ContextVar[Any | None] = ContextVar("argocd_turn_span", default=None)
_OUTCOMES = {"completed", "incomplete", "failed", "cancelled", "awaiting_approval", "interrupted"}


class TurnWatch:
    def __init__(self, dialect: str, requested_model: str = "", traced: bool = True) -> None:
        self.started = time.perf_counter()
        self.dialect = dialect
        self.requested_model = requested_model[:200]  # for the audit event only, never a label
        self.model = "unknown"  # the label: a model that answered, never the request's free text
        self.scope_refusals = 0
        self._first_text: float | None = None
        self._round_started = 0.0
        self._round_span: Any = None
        self._tracer = tracing.tracer() if traced else None
        self._span = None
        if self._tracer is not None:
            self._span = self._tracer.start_span("argocd.turn", attributes={"argocd.dialect": dialect})

    def round_started(self) -> None:
        self._round_started = time.perf_counter()
        if self._span is not None:
            self._round_span = self._tracer.start_span("gen_ai.chat", context=_in(self._span))

    def round_finished(self, response: Any) -> None:
        """A model round ended with `response` (a Responses object): its tokens and duration, by model."""
        status = getattr(response, "status", None) or "unknown"
        if status != "failed":  # a failed round may echo a model id nobody registered
            self.model = getattr(response, "model", None) or self.model
        usage = getattr(response, "usage", None)
        tokens = {"input": getattr(usage, "input_tokens", 0) or 0, "output": getattr(usage, "output_tokens", 0) or 0}
        metrics.OPERATION_DURATION.labels("chat", self.model).observe(time.perf_counter() - self._round_started)
        for kind, count in tokens.items():
            metrics.TOKENS.labels(self.model, kind).inc(count)
            metrics.TOKEN_USAGE.labels("chat", self.model, kind).observe(count)
        if status == "failed":
            error = getattr(response, "error", None)
            metrics.upstream_error("model", metrics.message_kind(str(getattr(error, "message", "") or "")))
        if self._round_span is not None:
            self._round_span.set_attributes({
                "gen_ai.operation.name": "chat", "gen_ai.request.model": self.model, "argocd.outcome": status,
                "gen_ai.usage.input_tokens": tokens["input"], "gen_ai.usage.output_tokens": tokens["output"],
            })
            self._round_span.end()
            self._round_span = None

    def round_failed(self, error: BaseException) -> None:
        """A model round that could not start: an upstream error when the model server is at fault."""
        if kind := metrics.exception_kind(error):
            metrics.upstream_error("model", kind)
        if self._round_span is not None:
            self._round_span.set_attribute("argocd.outcome", "error")
            self._round_span.end()
            self._round_span = None
        if self._span is not None:  # the turn ends here: the dialect answers with the error
            self._span.set_attribute("argocd.outcome", "error")
            self._span.end()
            self._span = None

    def first_text(self) -> None:
        if self._first_text is None:
            self._first_text = time.perf_counter() - self.started

    @contextmanager
    def tools(self) -> Iterator[None]:
        """Tool calls made inside hang under this turn's span (and count toward its scope refusals)."""
        token = _parent.set(self)
        try:
            yield
        finally:
            _parent.reset(token)

    def finish(self, status: str, report: Any, caller: Any) -> None:
        """Record the turn's metrics, end its trace and write its audit event (never any content)."""
        outcome = status if status in _OUTCOMES else "other"
        duration = time.perf_counter() - self.started
        if self._round_span is not None:  # the stream was cut mid-round
            self._round_span.end()
        metrics.TURNS.labels(self.dialect, self.model, outcome).inc()
        metrics.TURN_DURATION.labels(self.dialect, self.model, outcome).observe(duration)
        if self._first_text is not None:
            metrics.FIRST_TEXT.labels(self.dialect, self.model).observe(self._first_text)
        metrics.TOOL_ROUNDS.labels(self.dialect).observe(report.tool_rounds)
        if report.redactions:
            metrics.REDACTIONS.labels(self.dialect).inc(report.redactions)
        if self._span is not None:
            self._span.set_attributes({
                "argocd.outcome": outcome, "gen_ai.request.model": self.model, "argocd.tool_rounds": report.tool_rounds,
                "gen_ai.usage.input_tokens": report.input_tokens, "gen_ai.usage.output_tokens": report.output_tokens,
                "argocd.redactions": report.redactions, "argocd.request_id": request_id.current() or "",
            })
            self._span.end()
        audit.write(audit.AuditEvent(
            request_id=request_id.current(),
            user_id=caller.user_id if caller else None,
            user_name=caller.username if caller else None,
            groups_count=len(caller.groups) if caller else 0,
            application=str(caller.application) if caller and caller.application else None,
            project=caller.project if caller else None,
            dialect=self.dialect, model=self.model if self.model != "unknown" else self.requested_model, tools=list(report.tools_called), tool_rounds=report.tool_rounds,
            input_tokens=report.input_tokens, output_tokens=report.output_tokens, redactions=report.redactions,
            scope_refusals=self.scope_refusals, status=outcome, duration_ms=round(duration * 1000, 1),
        ))


_KNOWN_ERRORS = {"timeout", "out_of_scope", "not_found", "invalid_argument", "access_denied", "unavailable",
                 "not_approved", "tool_failed"}


@contextmanager
def tool_call(name: str, known: bool) -> Iterator[list[Any]]:
    """Time one tool call; the caller sets the probe to its `[output, is_error]`.

    `known` is whether the toolbox listed the tool: an unknown name (an MCP client's typo) is counted as
    `unknown`, so no label takes a caller's free text.
    """
    probe: list[Any] = ["", True]  # an exception is an error
    started = time.perf_counter()
    watch = _parent.get()
    span = None
    if watch is not None and watch._span is not None:
        span = watch._tracer.start_span(f"execute_tool {name}" if known else "execute_tool", context=_in(watch._span))
    try:
        yield probe
    finally:
        outcome = _outcome(bool(probe[1]), str(probe[0]))
        label = name if known else "unknown"
        metrics.TOOL_CALLS.labels(label, outcome).inc()
        metrics.TOOL_DURATION.labels(label, outcome).observe(time.perf_counter() - started)
        if outcome == "out_of_scope":
            metrics.SCOPE_REFUSALS.labels(label).inc()
            if watch is not None:
                watch.scope_refusals += 1
        if span is not None:
            span.set_attributes({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": label,
                                 "argocd.outcome": outcome})
            span.end()


def _outcome(is_error: bool, output: str) -> str:
    if not is_error:
        return "ok"
    head = output[:200]
    for code in _KNOWN_ERRORS:
        if f'"error": "{code}"' in head or f'"error":"{code}"' in head:
            return code
    return "error"


def _in(span: Any) -> Any:
    from opentelemetry import trace

    return trace.set_span_in_context(span)
