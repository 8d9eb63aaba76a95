"""The issue-14 table in one run: plain llama-stack 0.7.3's builtin Responses beside ours (run.yaml, and
proxy-trust behind the argocd-server proxy stand-in with the secret), on the same scripted model.

Every figure is "added over the model": the scripted model's own time for the same work, measured in the same run,
is subtracted, so a noisy shared machine moves both sides alike. Printed, never asserted.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from benchmarks.standins import SECRET_ENV, standin
from tests.support.scripted_llm import ScriptedLLM, Text, ToolCalls
from tests.support.stack import ROOT, StackHandle, start_stacks, write_config

RUNS = 20
CONCURRENT = 100
MODEL = "openai/scripted"
HEADERS = {"Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default", "Argocd-Username": "bench"}
SECRET = "bench-proxy-secret-" + "s" * 24
# The first answer text as each stream shows it (the scripted model echoes "You asked: ..." a word per chunk).
FIRST = {"Responses": b"output_text.delta", "Lightspeed": b"You", "Agents": b'"type": "text"',
         "model": b'"content": "You"'}
ANSWER = "Zanzibar: the Application is synced."  # a word no tool result carries
DIALECTS = ("Responses", "Lightspeed", "Agents")


def p50(samples: list[float]) -> float:
    return statistics.median(samples)


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values


def until(url: str, body: dict, marker: bytes, headers: dict[str, str]) -> float:
    """Seconds from sending to the first chunk holding `marker`; the stream is read to its end."""
    start, elapsed, tail = time.perf_counter(), None, b""
    with httpx.stream("POST", url, json=body, headers=headers, timeout=60) as response:
        response.raise_for_status()
        for chunk in response.iter_bytes():
            if elapsed is None:
                tail = tail[-len(marker):] + chunk  # a marker may span two chunks (one word per chunk)
                if marker in tail:
                    elapsed = time.perf_counter() - start
    if elapsed is None:
        raise RuntimeError(f"{url}: no {marker!r} streamed")
    return elapsed


@dataclass
class Target:
    """One server as a client sees it: where to send and with which headers, and which dialects it speaks."""

    name: str
    stack: StackHandle
    base: str
    headers: dict[str, str]
    dialects: tuple[str, ...]
    runs_tools: bool = True  # the agent runs our tools server-side (plain llama-stack leaves them to the client)
    agent_id: str | None = None
    results: dict[str, float | str] = field(default_factory=dict)

    def request(self, dialect: str) -> tuple[str, dict]:
        """URL and body of one streamed turn in `dialect` (the Agents session is created here, untimed)."""
        if dialect == "Responses":
            return f"{self.base}/v1/responses", {"model": MODEL, "input": "hi", "stream": True}
        if dialect == "Lightspeed":
            return f"{self.base}/v1/streaming_query", {"query": "hi", "conversation_id": str(uuid.uuid4()),
                                                       "model": "scripted"}
        if self.agent_id is None:
            created = httpx.post(f"{self.base}/v1/agents", headers=self.headers,
                                 json={"agent_config": {"model": MODEL, "instructions": "x"}})
            self.agent_id = created.raise_for_status().json()["agent_id"]
        session = httpx.post(f"{self.base}/v1/agents/{self.agent_id}/session", headers=self.headers,
                             json={"session_name": "bench"}).raise_for_status().json()["session_id"]
        return (f"{self.base}/v1/agents/{self.agent_id}/session/{session}/turn",
                {"stream": True, "messages": [{"role": "user", "content": "hi"}]})


def own_first(llm: ScriptedLLM) -> float:
    """The scripted model's own time to its first text, asked directly."""
    body = {"model": "scripted", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    return until(f"{llm.url}/chat/completions", body, FIRST["model"], {})


def own_round(llm: ScriptedLLM) -> float:
    """The model's own two calls of a tool round: the tool call streamed to its end, then the answer's first text."""
    url, body = f"{llm.url}/chat/completions", {"model": "scripted", "stream": True,
                                                 "messages": [{"role": "user", "content": "hi"}]}
    llm.push(ToolCalls([("argocd_application", {})]), Text(ANSWER))
    return until(url, body, b"[DONE]", {}) + until(url, body, b"Zanzibar", {})


def load() -> str:
    """The 1-minute load average, printed beside every figure (the machine is shared)."""
    return f"load {os.getloadavg()[0]:.1f}"


def pair(target: Target, dialect: str, own: Callable[[], float], marker: bytes, script: Callable[[], None]) -> float:
    """One turn through the target minus the model's own time for the same work, measured back to back."""
    url, body = target.request(dialect)
    model = own()
    script()
    return until(url, body, marker, target.headers) - model


def alternated(targets: list[Target], key: str, own: Callable[[], float], marker: Callable[[str], bytes],
               script: Callable[[], None], tools_only: bool = False) -> None:
    """p50 of `pair` for every target and dialect, RUNS each, taken in turn (target after target, dialect after
    dialect, then again), so load from other processes falls on every column alike. The first round warms up."""
    jobs = [(t, d) for t in targets for d in t.dialects if t.runs_tools or not tools_only]
    samples: dict[tuple[str, str], list[float]] = {(t.name, d): [] for t, d in jobs}
    for run in range(RUNS + 1):
        for target, dialect in jobs:
            value = pair(target, dialect, own, marker(dialect), script)
            if run:
                samples[(target.name, dialect)].append(value)
    for target, dialect in jobs:
        target.results[f"{key}:{dialect}"] = p50(samples[(target.name, dialect)])


def concurrent(target: Target, llm: ScriptedLLM) -> None:
    """CONCURRENT streamed turns at once, half Responses and half Lightspeed (all Responses if that is all)."""
    mix = [d for d in ("Responses", "Lightspeed") if d in target.dialects]
    requests = [(mix[i % len(mix)], *target.request(mix[i % len(mix)])) for i in range(CONCURRENT)]
    own = p50([own_first(llm) for _ in range(RUNS)])

    async def one(client: httpx.AsyncClient, dialect: str, url: str, body: dict) -> float | str:
        """Seconds to the first text, or what went wrong (a status, an exception's name)."""
        marker = FIRST[dialect]
        start, elapsed, tail = time.perf_counter(), None, b""
        try:
            async with client.stream("POST", url, json=body, headers=target.headers) as response:
                if response.status_code != 200:
                    return f"HTTP {response.status_code}"
                async for chunk in response.aiter_bytes():
                    if elapsed is None:
                        tail = tail[-len(marker):] + chunk
                        if marker in tail:
                            elapsed = time.perf_counter() - start
        except httpx.HTTPError as error:
            return type(error).__name__
        return "no text" if elapsed is None else elapsed

    async def run() -> list[float | str]:
        limits = httpx.Limits(max_connections=CONCURRENT * 2, max_keepalive_connections=CONCURRENT * 2)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            return await asyncio.gather(*(one(client, *request) for request in requests))

    before = load()
    outcomes = asyncio.run(run())
    times = [o for o in outcomes if isinstance(o, float)]
    errors = Counter(o for o in outcomes if isinstance(o, str))
    target.results["load:p95"] = (p95(times) - own) if times else None
    target.results["load:errors"] = f"{sum(errors.values())}" + (
        f" ({', '.join(f'{n}x {what}' for what, n in errors.most_common(2))})" if errors else "")
    memory = memory_mb(target.stack.process.pid)
    target.results["load:rss"] = f"{memory['VmRSS']:.0f} MB (peak {memory['VmHWM']:.0f})"
    target.results["load:load"] = f"{before} -> {load()[5:]}"


def plain_config(directory: Path) -> Path:
    """A plain llama-stack 0.7.3 run config: the builtin `inline::builtin` Responses provider, the same remote
    model, and none of our providers or APIs."""
    config = yaml.safe_load((ROOT / "run.yaml").read_text())
    config["apis"] = ["inference", "responses", "tool_runtime", "files", "vector_io"]
    config.pop("external_apis_dir", None)
    for name in list(config["providers"]):
        if name not in config["apis"]:
            config["providers"].pop(name)
    config["providers"]["inference"] = [p for p in config["providers"]["inference"]
                                        if p.get("provider_type", "").startswith("remote::")]
    config["providers"]["responses"] = [{
        "provider_id": "builtin", "provider_type": "inline::builtin",
        "config": {"persistence": config["providers"]["responses"][0]["config"]["persistence"]},
    }]
    config["providers"]["tool_runtime"] = []
    path = directory / "plain.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return write_config(path, directory)


def cell(value: float | str | None) -> str:
    if value is None:
        return "–"
    return value if isinstance(value, str) else f"{value * 1000:.0f} ms"


def print_table(targets: list[Target], model_first: float, model_round: float, loads: dict[str, str]) -> None:
    rows = [("first text, added over the model (p50)", "first"),
            ("one tool round, added over the model's two calls (p50)", "tool")]
    width = 27
    print(f"\nside by side (scripted model: first text {model_first * 1000:.0f} ms, tool round's two calls "
          f"{model_round * 1000:.0f} ms; {RUNS} turns per cell, alternated; ours without the evidence reads, which "
          f"plain has no counterpart of: see the evidence figures below):")
    print(f"  {'measure':58}" + "".join(f"{t.name:>{width}}" for t in targets))
    for label, key in rows:
        for dialect in DIALECTS:
            line = f"  {label + ', ' + dialect:58}"
            print(line + "".join(f"{cell(t.results.get(f'{key}:{dialect}')):>{width}}" for t in targets))
        print(f"  {'  (' + loads[key] + ')':58}")
    label = f"{CONCURRENT} concurrent streaming turns"
    for what, key in (("p95 added first text", "load:p95"), ("errors", "load:errors"),
                      ("server RSS after", "load:rss"), ("load average before -> after", "load:load")):
        print(f"  {label + ', ' + what:58}" + "".join(f"{cell(t.results.get(key)):>{width}}" for t in targets))
    print("  (through the proxy: the proxy stand-in in front, adding the secret and identity headers; the hop costs "
          "the same on both sides)")


def side_by_side(env: dict[str, str], directory: Path, chunk_delay: float = 0.03) -> None:
    """Start every server at once (plain llama-stack with and without the proxy stand-in in front, ours with
    run.yaml, ours with proxy-trust behind the proxy stand-in), measure them in turn, and print the table."""
    with ScriptedLLM(chunk_delay=chunk_delay).serving() as llm, ExitStack() as running:
        env = {**env, "OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-bench"}
        ours = {**env, "ARGOCD_AGENT_EVIDENCE": "false"}
        model_first = p50([own_first(llm) for _ in range(RUNS)])
        model_round = p50([own_round(llm) for _ in range(RUNS)])
        plain, run_yaml, trusted = start_stacks(
            (plain_config(directory), env), (write_config(ROOT / "run.yaml", directory), ours),
            (write_config(ROOT / "distributions/argocd/proxy-trust.yaml", directory),
             {**ours, "ARGOCD_ASSISTANT_PROXY_SECRET": SECRET}))
        for stack in (plain, run_yaml, trusted):
            running.callback(stack.close)
        proxies = [running.enter_context(standin("proxy", stack.base_url, env={SECRET_ENV: SECRET}))
                   for stack in (plain, trusted)]
        targets = [
            Target("plain llama-stack", plain, plain.base_url, dict(HEADERS), ("Responses",), runs_tools=False),
            Target("plain, through the proxy", plain, proxies[0]["url"], dict(HEADERS), ("Responses",),
                   runs_tools=False),
            Target("ours, run.yaml", run_yaml, run_yaml.base_url, dict(HEADERS), DIALECTS),
            Target("ours, proxy-trust (proxy)", trusted, proxies[1]["url"], dict(HEADERS), DIALECTS),
        ]
        loads = {}
        before = load()
        alternated(targets, "first", lambda: own_first(llm), FIRST.__getitem__, lambda: None)
        loads["first"] = f"{before} -> {load()[5:]}"
        before = load()
        alternated(targets, "tool", lambda: own_round(llm), lambda _: b"Zanzibar",
                   lambda: llm.push(ToolCalls([("argocd_application", {})]), Text(ANSWER)), tools_only=True)
        loads["tool"] = f"{before} -> {load()[5:]}"
        for target in (targets[0], targets[1], targets[3], targets[2]):  # one at a time: each run loads both cores
            llm.reset()
            concurrent(target, llm)
        print_table(targets, model_first, model_round, loads)
