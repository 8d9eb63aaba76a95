"""`make demo`: the assistant and a Kubernetes API stand-in holding a few broken Argo CD Applications; no cluster.

    python tools/demo.py [--port 8321] [--config run.yaml] [--state ./state] [--scenarios NAME ...]

The stand-in (tests/support/cluster.py, kmock over real HTTP on 127.0.0.1) serves eval scenarios as Applications
`argocd:<scenario>` (tests/support/scenario_cluster.py); `llama stack run CONFIG` starts with KUBECONFIG pointing at
it and the inference the environment configures (the embedded model when none is, as `make run`). When the server
is healthy the requests to try are printed; Ctrl-C stops both.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests/support holds the stand-in; the demo runs from the checkout

import httpx  # noqa: E402

from tests.support.processes import stop_group  # noqa: E402
from tests.support.scenario_cluster import SeededApp, start_scenario_cluster  # noqa: E402

# One of each: a crash loop (the cause in the crashed instance's log), an image that does not exist, an OOM kill,
# a sync that cannot apply, a claim waiting for a StorageClass that is not there.
SCENARIOS = ("django-migration-duplicate-column", "imagepull-tag-not-found", "oomkilled-java-heap",
             "argocd-sync-failed-immutable", "pvc-pending-storageclass")
QUESTION = "What is wrong with this Application, and how do I fix it?"
READY_PREFIX = "Try:"  # the line before the requests (tests/e2e/test_demo.py follows them)


def requests_to_try(base: str, model: str, app: SeededApp) -> list[str]:
    """curl lines for one Application: Lightspeed's /v1/query and the Responses API, as the extension sends them."""
    header = f"Argocd-Application-Name: {app.header}"
    query = json.dumps({"query": QUESTION})
    responses = json.dumps({"model": model, "input": QUESTION, "stream": False})
    return [
        f"curl -s {base}/v1/query -H 'Content-Type: application/json' -H {shlex.quote(header)} -d {shlex.quote(query)}",
        f"curl -s {base}/v1/responses -H 'Content-Type: application/json' -H {shlex.quote(header)} "
        f"-d {shlex.quote(responses)}",
    ]


def first_model(base: str) -> str:
    """The first language model the server lists (the embedded one, or the one configured)."""
    body = httpx.get(f"{base}/v1/models", timeout=10).json()
    items = body.get("data") or []
    for item in items:
        kind = item.get("custom_metadata", {}).get("model_type") or item.get("model_type") or "llm"
        if kind == "llm":
            return str(item.get("id") or item.get("identifier"))
    return str(items[0].get("id")) if items else "embedded/smollm2"


def wait_healthy(process: subprocess.Popen[bytes], base: str, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-3000:]
            raise SystemExit(f"llama stack run exited ({process.returncode}); the end of {log}:\n{tail}")
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"llama stack run was not healthy within {timeout:g}s; see {log}")


class Demo:
    """The stand-in serving `scenarios` and `llama stack run CONFIG` pointed at it; `stop()` ends both."""

    def __init__(self, scenarios: list[str], config: str, port: int, state: Path) -> None:
        self.cluster, apps = start_scenario_cluster(scenarios)
        self.apps = [a for a in apps if a.scenario.name in scenarios]
        self.process: subprocess.Popen[bytes] | None = None
        self.base = f"http://127.0.0.1:{port}"
        state.mkdir(parents=True, exist_ok=True)
        self.log = state / "demo-server.log"
        self.command = [str(Path(sys.executable).with_name("llama")), "stack", "run", config, "--port", str(port)]
        self.env = {**os.environ, "KUBECONFIG": self.cluster.kubeconfig_path, "SQLITE_STORE_DIR": str(state),
                    "ARGOCD_CONTEXT_SOURCE": "kubernetes", "LLAMA_STACK_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}

    def start(self, timeout: float) -> str:
        """Start the server, wait until it is healthy; the model it answers with."""
        with open(self.log, "wb") as out:  # its own session: Ctrl-C reaches us, and we stop it with its children
            self.process = subprocess.Popen(self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                                            cwd=ROOT, start_new_session=True)
        wait_healthy(self.process, self.base, self.log, timeout)
        return first_model(self.base)

    def stop(self) -> None:
        stop_group(self.process, signal.SIGTERM, 10)
        self.cluster.stop()


def check_scenarios(names: list[str]) -> list[str]:
    """The names with no scenario directory."""
    return [n for n in names if not (ROOT / "evals" / "scenarios" / n / "scenario.yaml").is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8321")))
    parser.add_argument("--config", default=str(ROOT / "run.yaml"))
    parser.add_argument("--state", default=str(ROOT / "state"), help="conversations, files, the server's log")
    parser.add_argument("--scenarios", nargs="*", default=os.environ.get("DEMO_SCENARIOS", "").split() or
                        list(SCENARIOS), help="eval scenarios to serve (default: $DEMO_SCENARIOS or five)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the server")
    args = parser.parse_args(argv)

    if unknown := check_scenarios(args.scenarios):
        print(f"no such scenario: {', '.join(unknown)} (see evals/scenarios/)", file=sys.stderr)
        return 2
    print(f"Kubernetes stand-in: seeding {len(args.scenarios)} Applications from evals/scenarios ...", flush=True)
    demo = Demo(args.scenarios, args.config, args.port, Path(args.state))
    interrupted = False

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        cluster = demo.cluster
        print(f"Kubernetes stand-in: {cluster.url} (kubeconfig {cluster.kubeconfig_path})", flush=True)
        print(f"Assistant: llama stack run {args.config} --port {args.port} (log: {demo.log}) ...", flush=True)
        model = demo.start(args.timeout)
        print(f"\nAssistant for Argo CD on {demo.base}, model {model}. Broken Applications:", flush=True)
        for app in demo.apps:
            status = app.application.get("status") or {}
            state = f"{(status.get('health') or {}).get('status', '?')}/{(status.get('sync') or {}).get('status')}"
            print(f"  {app.header:<48} {state:<20} {app.scenario.description[:60]}")
        print(f"\n{READY_PREFIX}", flush=True)
        for app in demo.apps:
            for line in requests_to_try(demo.base, model, app):
                print(line)
        print("\nCtrl-C stops the assistant and the stand-in.", flush=True)
        assert demo.process is not None
        while demo.process.poll() is None:
            time.sleep(0.5)
        print(f"llama stack run exited ({demo.process.returncode}); see {demo.log}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        interrupted = True
        return 0
    finally:
        demo.stop()
        if interrupted:
            print("\nstopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
