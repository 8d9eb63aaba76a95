"""`make bench`: context assembly time, server start-up and memory, the side-by-side table of issue 14 (plain
llama-stack beside ours with run.yaml and proxy-trust: first text, a tool round, 100 concurrent turns; see
side_by_side.py), a Responses turn continued on a second replica over PostgreSQL, and history trimming.

Everything runs on this machine against the Kubernetes stand-in and the scripted model (tests/support); the figures
are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from benchmarks import evidence_latency, observability
from llama_stack_argocd.agent.history import history_tokens, trim
from llama_stack_argocd.context.argocd_api import ArgoCDSource
from llama_stack_argocd.context.budget import HISTORY, Budget
from llama_stack_argocd.context.kube import KubernetesSource
from llama_stack_argocd.context.logs import compress_logs
from llama_stack_argocd.context.refs import AppRef, ResourceRef
from llama_stack_argocd.context.service import ContextService
from llama_stack_argocd.context.settings import ContextSettings
from benchmarks.side_by_side import plain_config, side_by_side
from benchmarks.standins import standin
from tests.support import cluster as fx
from tests.support.argocd_api import start_argocd_api
from tests.support.postgres import start_postgres
from tests.support.scripted_llm import ScriptedLLM
from tests.support.stack import ROOT, StackHandle, running_stack, start_stacks, write_config

RUNS = 30
HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default", "Argocd-Username": "bench"}


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (n={len(ordered)})"


def context_assembly(settings: ContextSettings) -> list[float]:
    """Application + manifest + events + containers + 500 log lines of one workload, read concurrently."""
    source = ArgoCDSource(settings) if settings.source == "argocd" else KubernetesSource(settings)
    service = ContextService(source, settings)
    app = AppRef(namespace=fx.ARGOCD_NS, name=fx.APP)
    deployment = ResourceRef(kind="Deployment", name=fx.DEPLOYMENT)
    pod = ResourceRef(kind="Pod", name=fx.HEALTHY_POD)

    async def once() -> float:
        start = time.perf_counter()
        await asyncio.gather(
            service.application(app), service.manifest(app, deployment), service.events(app, deployment),
            service.containers(app, deployment), service.logs(app, pod, "web", 500, False),
        )
        return time.perf_counter() - start

    async def runs() -> list[float]:
        await once()  # warm-up: client construction, first connections
        return [await once() for _ in range(RUNS)]

    return asyncio.run(runs())


# What plain llama-stack's `llama stack run` imports (its server, the builtin Responses, the remote model, sqlite
# stores), then what our distributions add on top: the provider hooks and every module run.yaml and proxy-trust.yaml
# load.
_IMPORTS = """
import json, sys, time
marks = [time.perf_counter()]
import llama_stack_api
marks.append(time.perf_counter())
import llama_stack.core.server.server, llama_stack.core.stack, llama_stack.cli.llama
import llama_stack.core.routers.inference, llama_stack.providers.inline.responses.builtin
import llama_stack.providers.remote.inference.openai, llama_stack.providers.inline.files.localfs
import llama_stack.core.storage.sqlstore.sqlalchemy_sqlstore, llama_stack.core.storage.kvstore.sqlite.sqlite
marks.append(time.perf_counter())
import llama_stack_argocd.provider
llama_stack_argocd.provider.get_provider_spec()
import llama_stack_argocd.providers.responses, llama_stack_argocd.providers.tool_runtime
import llama_stack_argocd.providers.inference, llama_stack_argocd.apis.legacy_agents, llama_stack_argocd.apis.lightspeed
import llama_stack_argocd.apis.service, llama_stack_argocd.apis.mcp_server
marks.append(time.perf_counter())
print(json.dumps([b - a for a, b in zip(marks, marks[1:])]))
"""


def import_split(runs: int = 3) -> None:
    """Seconds of import in a fresh interpreter: llama_stack_api, the rest of llama-stack's server, ours on top."""
    import subprocess
    import sys

    samples = [json.loads(subprocess.run([sys.executable, "-c", _IMPORTS], cwd=ROOT, check=True, capture_output=True,
                                         text=True).stdout) for _ in range(runs)]
    parts = [statistics.median(column) for column in zip(*samples)]
    print(f"  imports (p50 of {runs}, {side_load()}): llama_stack_api {parts[0]:.2f} s, the rest of plain "
          f"llama-stack's server {parts[1]:.2f} s (the host's: plain llama-stack pays both), ours on top {parts[2]:.2f} s")


def side_load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_delta(send: Callable[[], httpx.Response], marker: bytes) -> float:
    start, elapsed = time.perf_counter(), None
    with send() as response:
        for chunk in response.iter_bytes():  # read to the end, noting when the first word arrived
            if elapsed is None and marker in chunk:
                elapsed = time.perf_counter() - start
    if elapsed is None:
        raise RuntimeError("no text streamed")
    return elapsed


def continued_turns(first: StackHandle, second: StackHandle, headers: dict[str, str]) -> list[float]:
    """Time to first text of a Responses turn on `second` continuing a turn answered on `first` (not timed)."""
    samples = []
    for _ in range(RUNS):
        with httpx.stream("POST", f"{first.base_url}/v1/responses", headers=headers, timeout=60,
                          json={"model": "openai/scripted", "input": "Remember the word fig.", "stream": True}) as r:
            previous = next(line for line in r.iter_lines() if '"response.completed"' in line)
        body = {"model": "openai/scripted", "input": "Which word?", "stream": True,
                "previous_response_id": json.loads(previous[len("data: "):])["response"]["id"]}
        samples.append(first_delta(lambda: httpx.stream("POST", f"{second.base_url}/v1/responses", json=body,
                                                        headers=headers, timeout=60), b"output_text.delta"))
    return samples


def scale_out(env: dict[str, str], directory: Path) -> None:
    """proxy-trust on sqlite (one replica) against scale-out on PostgreSQL (two replicas, continued on the other)."""
    secret = "bench-proxy-secret-" + "b" * 16
    headers = {**HEADERS, "Authorization": f"Bearer {secret}"}
    env = {**env, "ARGOCD_ASSISTANT_PROXY_SECRET": secret}
    print("\na Responses turn continuing the previous one (previous_response_id), time to first text:")
    with running_stack(write_config(ROOT / "distributions/argocd/proxy-trust.yaml", directory), env) as single:
        print(f"  {'sqlite, one replica':28} {percentiles(continued_turns(single, single, headers))}")
    with start_postgres() as postgres:
        config = write_config(ROOT / "distributions/argocd/scale-out.yaml", directory)
        replicas = start_stacks(*[(config, {**env, **postgres.env()})] * 2)
        try:
            samples = continued_turns(replicas[0], replicas[1], headers)
            print(f"  {'PostgreSQL, other replica':28} {percentiles(samples)}")
        finally:
            for replica in replicas:
                replica.close()


def history_trimming() -> None:
    """Counting and trimming a long conversation's replayed items, as each continued turn does."""
    budget = Budget.for_model("openai/gpt-4o")
    filler = " ".join(f"detail-{i}" for i in range(150))
    items = []
    for n in range(100):
        items += [
            {"type": "message", "role": "user", "content": f"question {n}: {filler}"},
            {"type": "function_call", "call_id": f"c{n}", "name": "argocd_application", "arguments": "{}"},
            {"type": "function_call_output", "call_id": f"c{n}", "output": f"result {n}: {filler}"},
            {"type": "message", "role": "assistant", "content": f"answer {n}: {filler}"},
        ]
    total = history_tokens(items, budget)
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        trim(items, budget.share(HISTORY), budget)
        samples.append(time.perf_counter() - start)
    print(f"\nhistory trimming, 100 turns ({total:,} tokens) to {budget.share(HISTORY):,}: {percentiles(samples)}")


def log_compression() -> None:
    """A 12,000-line noisy log (the extension's JSON shape) compressed to 2,000 tokens, as a log read does."""
    from tests.unit.context.test_logs import as_extension_json, noisy_log

    samples = []
    for seed in range(10):  # a new log each run: the analysis of a text is cached
        raw = as_extension_json(noisy_log(12_000, seed=seed))
        start = time.perf_counter()
        compress_logs(raw, 2000)
        samples.append(time.perf_counter() - start)
    print(f"\nlog compression, 12,000 lines to 2,000 tokens: {percentiles(samples)}")


def main() -> None:
    print("llama-stack-argocd benchmarks (2 cores; stand-ins and the scripted model on loopback)\n")
    with standin("cluster") as cluster, tempfile.TemporaryDirectory() as tmp:
        print("context assembly, one workload (application, manifest, events, containers, 500 log lines),")
        print("against stand-ins in another process:")
        kube = ContextSettings(kubeconfig=cluster["kubeconfig"], max_log_lines=500)
        print(f"  {'Kubernetes API source':28} {percentiles(context_assembly(kube))}")
        with start_argocd_api() as argocd:
            argo = ContextSettings(source="argocd", max_log_lines=500,
                                   argocd={"server_url": argocd.url, "api_token": argocd.token})
            print(f"  {'Argo CD API source':28} {percentiles(context_assembly(argo))}")

        with ScriptedLLM(chunk_delay=0.01).serving() as llm:
            env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-bench", "KUBECONFIG": cluster["kubeconfig"]}
            secret = "bench-proxy-secret-" + "c" * 16
            configs = {"plain llama-stack": (plain_config(Path(tmp)), env),
                       "ours, run.yaml": (write_config(ROOT / "run.yaml", Path(tmp)), env),
                       "ours, proxy-trust": (write_config(ROOT / "distributions/argocd/proxy-trust.yaml", Path(tmp)),
                                             {**env, "ARGOCD_ASSISTANT_PROXY_SECRET": secret})}
            starts: dict[str, list[float]] = {name: [] for name in configs}
            rss: dict[str, list[float]] = {name: [] for name in configs}
            before = side_load()
            for _ in range(3):  # alternated, so all see the same load
                for name, (config, run_env) in configs.items():
                    begin = time.perf_counter()
                    with running_stack(config, run_env) as stack:
                        starts[name].append(time.perf_counter() - begin)
                        time.sleep(1)
                        rss[name].append(rss_mb(stack.process.pid))
            print(f"\nserver ready (llama stack run -> /v1/health 200) and idle RSS after start, remote model "
                  f"({before} -> {side_load()[5:]}):")
            for name in configs:
                print(f"  {name:28} {percentiles(starts[name])}   RSS {statistics.median(rss[name]):.0f} MB")
            import_split()
            side_by_side({"KUBECONFIG": cluster["kubeconfig"]}, Path(tmp))
            evidence_latency.report(cluster["kubeconfig"], Path(tmp))
            scale_out(env, Path(tmp))
    history_trimming()
    log_compression()
    observability.report()


if __name__ == "__main__":
    main()
