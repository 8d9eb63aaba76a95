"""What the evidence read before the first model round adds to first text: a Responses turn about the guestbook
Application (a crashing Pod, a failed sync) through run.yaml with the evidence off, on with the read cache off (every
turn reads the Application, the workload, its Pods, events and the crashed log: the cold path), and on with the
default cache; the Kubernetes stand-in in another process, the same scripted model for all three.

Each run sends one turn to each server back to back, so load from other processes moves the three alike; the figure
is the p50 of the per-run differences. `python -m benchmarks.evidence_latency`; printed, never asserted.
"""

from __future__ import annotations

import statistics
import tempfile
from contextlib import ExitStack
from pathlib import Path

from benchmarks.side_by_side import HEADERS, MODEL, until
from benchmarks.standins import standin
from tests.support.scripted_llm import ScriptedLLM
from tests.support.stack import ROOT, running_stack, write_config

RUNS = 20
QUESTION = "Why is the guestbook failing?"
SERVERS = {"evidence off": {"ARGOCD_AGENT_EVIDENCE": "false"},
           "evidence on, read cache off": {"ARGOCD_READ_CACHE_SECONDS": "0"},
           "evidence on, read cache 3 s": {}}


def evidence_latency(kubeconfig: str, directory: Path) -> dict[str, float]:
    """p50 ms of first text per server, and of each server's difference to the evidence-off one."""
    with ScriptedLLM(chunk_delay=0.01).serving() as llm, ExitStack() as stacks:
        env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-bench", "KUBECONFIG": kubeconfig}
        config = write_config(ROOT / "run.yaml", directory)
        stacks_by_name = {name: stacks.enter_context(running_stack(config, {**env, **extra}))
                          for name, extra in SERVERS.items()}
        times: dict[str, list[float]] = {name: [] for name in SERVERS}
        for run in range(RUNS + 1):  # the first run warms up (client imports, tokenizer)
            for name, stack in stacks_by_name.items():
                body = {"model": MODEL, "input": QUESTION, "stream": True}
                elapsed = until(f"{stack.base_url}/v1/responses", body, b"output_text.delta", HEADERS)
                if run:
                    times[name].append(elapsed * 1000)
        base = times["evidence off"]
        out = {f"first text, {name}": statistics.median(t) for name, t in times.items()}
        for name, samples in times.items():
            if name != "evidence off":
                out[f"added, {name}"] = statistics.median(a - b for a, b in zip(samples, base, strict=True))
        return out


def report(kubeconfig: str, directory: Path) -> None:
    print("\nevidence before the first model round (Responses, guestbook: a crashing Pod and a failed sync),")
    print(f"p50 of {RUNS}, each run alternating the three servers:")
    for label, value in evidence_latency(kubeconfig, directory).items():
        print(f"  {label:42} {value:7.1f} ms")


def main() -> None:
    with standin("cluster") as cluster, tempfile.TemporaryDirectory() as tmp:
        report(cluster["kubeconfig"], Path(tmp))


if __name__ == "__main__":
    main()
