"""`make eval-live`: the acceptance check end to end: the assistant (the embedded model unless one is configured)
against the Kubernetes stand-in serving eval scenarios as Applications; each scenario's question asked once over
Lightspeed's /v1/query with its `Argocd-Application-Name` and, as the extension sends them, the attachments of the
resource the user has open (its manifest, its events, its logs when the scenario has them; `--no-attachments` asks
with the question alone), the answer scored by the scenario's evidence strings.

    python tools/eval_live.py [--scenarios NAME ...] [--limit N] [--deadline 60] [--port N] [--no-attachments]

A scenario passes when its answer contains every evidence string (the log line, event or field a diagnosis needs)
and ended within the deadline. Prints one line per scenario and the figures: the share that passed (goal 90%), the
share within the deadline (goal all), answer times p50/max. Not part of `make test`: on 2 shared cores the embedded
model needs tens of seconds per answer.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llama_stack_argocd.cli.eval import NAIVE_LOG_LINES, found  # noqa: E402
from tests.support.scenario_cluster import SeededApp  # noqa: E402
from tools.demo import ROOT, Demo, check_scenarios  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make eval-live", description=__doc__.split("\n")[0])
    parser.add_argument("--scenarios", nargs="*", default=[], help="scenario names (default: every scenario)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N scenarios")
    parser.add_argument("--deadline", type=float, default=60.0, help="seconds an answer may take")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    parser.add_argument("--config", default=str(ROOT / "run.yaml"))
    parser.add_argument("--no-attachments", dest="attachments", action="store_false",
                        help="ask with the question alone (default: with the extension's attachments)")
    args = parser.parse_args(argv)

    names = args.scenarios or sorted(p.name for p in (ROOT / "evals" / "scenarios").iterdir()
                                     if (p / "scenario.yaml").is_file())
    if unknown := check_scenarios(names):
        print(f"no such scenario: {', '.join(unknown)}", file=sys.stderr)
        return 2
    names = names[: args.limit] if args.limit else names
    if not args.port:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            args.port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="eval-live-") as state:
        demo = Demo(names, args.config, args.port, Path(state))
        try:
            model = demo.start(180)
            print(f"{len(demo.apps)} scenarios, model {model}, deadline {args.deadline:g}s, "
                  f"{'with' if args.attachments else 'without'} the extension's attachments\n")
            print(f"{'scenario':<42} {'evidence':>8} {'seconds':>8}  missing")
            passed, in_time, times = 0, 0, []
            for app in demo.apps:
                started = time.perf_counter()
                try:
                    reply = httpx.post(f"{demo.base}/v1/query", headers={"Argocd-Application-Name": app.header},
                                       json={"query": app.scenario.question,
                                             "attachments": attachments(app) if args.attachments else None},
                                       timeout=args.deadline + 120)
                    answer = str(reply.json().get("response") or reply.text) if reply.status_code == 200 else ""
                except httpx.HTTPError as error:
                    answer = ""
                    print(f"  {app.scenario.name}: {type(error).__name__}: {error}", file=sys.stderr)
                took = time.perf_counter() - started
                times.append(took)
                hits = found(answer, app.evidence)
                ok_time = took <= args.deadline
                in_time += ok_time
                passed += all(hits) and ok_time
                missing = [e[0] for e, ok in zip(app.evidence, hits, strict=True) if not ok]
                print(f"{app.scenario.name:<42} {sum(hits):>4}/{len(hits):<3} {took:>8.1f}  {missing}", flush=True)
        finally:
            demo.stop()
    n = len(times) or 1
    print(f"\npassed (every evidence string, within {args.deadline:g}s): {passed}/{len(times)} = "
          f"{passed / n:.0%} (goal 90%)")
    print(f"answers within {args.deadline:g}s: {in_time}/{len(times)}; seconds p50 {statistics.median(times or [0]):.1f}"
          f", max {max(times or [0]):.1f}")
    return 0 if passed / n >= 0.9 and in_time == len(times) else 1


def attachments(app: SeededApp) -> list[dict[str, str]]:
    """What the extension's Lightspeed provider attaches: the open resource's live manifest, its events, its logs."""
    kinds = {"manifest": "api object", "events": "event", "logs": "log"}
    return [{"attachment_type": kinds[kind], "content_type": "application/json", "content": content}
            for kind, content in app.attachments(NAIVE_LOG_LINES) if content]


if __name__ == "__main__":
    sys.exit(main())
