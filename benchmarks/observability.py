"""What metrics cost a turn before its first text: the edge middleware's start, the turn's watch, the first
round's start and the first text, plus one round of two tool calls before it (the usual path with tools).

Measured in-process (no network), tracing off as by default; printed by `make bench`, never asserted.
Run alone: `.venv/bin/python -m benchmarks.observability`.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from types import SimpleNamespace

from llama_stack_argocd.observability.http import RequestObservation
from llama_stack_argocd.observability.turns import TurnWatch, tool_call

RUNS = 2000
_RESPONSE = SimpleNamespace(model="openai/scripted", status="completed", error=None,
                            usage=SimpleNamespace(input_tokens=1200, output_tokens=40))
_SCOPE = {"type": "http", "method": "POST", "path": "/v1/responses", "headers": [(b"x-request-id", b"req-bench-0001")],
          "route": SimpleNamespace(path="/v1/responses")}


async def _app(scope, receive, send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def _send(message) -> None:
    pass


def _turn(with_tools: bool) -> None:
    watch = TurnWatch("responses")
    watch.round_started()
    if with_tools:
        watch.round_finished(_RESPONSE)
        with watch.tools():
            for name in ("argocd_application", "argocd_container_logs"):
                with tool_call(name, True) as probe:
                    probe[:] = '{"sync": "OutOfSync"}', False
        watch.round_started()
    watch.first_text()


def measure() -> dict[str, list[float]]:
    edge = RequestObservation(_app)
    loop = asyncio.new_event_loop()
    samples: dict[str, list[float]] = {"edge middleware (per request)": [], "turn, no tools": [],
                                       "turn, one round of two tool calls": []}
    for _ in range(RUNS):
        start = time.perf_counter()
        loop.run_until_complete(edge(dict(_SCOPE), None, _send))
        middle = time.perf_counter()
        loop.run_until_complete(_app(dict(_SCOPE), None, _send))
        samples["edge middleware (per request)"].append((middle - start) - (time.perf_counter() - middle))
        start = time.perf_counter()
        _turn(False)
        samples["turn, no tools"].append(time.perf_counter() - start)
        start = time.perf_counter()
        _turn(True)
        samples["turn, one round of two tool calls"].append(time.perf_counter() - start)
    loop.close()
    return samples


def report() -> None:
    print("\nmetrics overhead on the way to first text (in-process, tracing off):")
    for name, values in measure().items():
        ordered = sorted(values)
        p95 = ordered[round(0.95 * (len(ordered) - 1))]
        print(f"  {name:36} p50 {statistics.median(ordered) * 1e6:6.1f} us   p95 {p95 * 1e6:6.1f} us   (n={RUNS})")


if __name__ == "__main__":
    report()
