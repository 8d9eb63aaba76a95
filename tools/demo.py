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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8321")))
    parser.add_argument("--config", default=str(ROOT / "run.yaml"))
    parser.add_argument("--state", default=str(ROOT / "state"), help="conversations, files, the server's log")
    parser.add_argument("--scenarios", nargs="*", default=os.environ.get("DEMO_SCENARIOS", "").split() or
                        list(SCENARIOS), help="eval scenarios to serve (default: $DEMO_SCENARIOS or five)")
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for the server")
    args = parser.parse_args(argv)

    unknown = [n for n in args.scenarios if not (ROOT / "evals" / "scenarios" / n / "scenario.yaml").is_file()]
    if unknown:
        print(f"no such scenario: {', '.join(unknown)} (see evals/scenarios/)", file=sys.stderr)
        return 2
    print(f"Kubernetes stand-in: seeding {len(args.scenarios)} Applications from evals/scenarios ...", flush=True)
    cluster, apps = start_scenario_cluster(args.scenarios)
    apps = [a for a in apps if a.scenario.name in args.scenarios]
    state = Path(args.state)
    state.mkdir(parents=True, exist_ok=True)
    log = state / "demo-server.log"
    base = f"http://127.0.0.1:{args.port}"
    env = {**os.environ, "KUBECONFIG": cluster.kubeconfig_path, "SQLITE_STORE_DIR": str(state),
           "ARGOCD_CONTEXT_SOURCE": "kubernetes", "LLAMA_STACK_HOST": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    llama = Path(sys.executable).with_name("llama")
    process: subprocess.Popen[bytes] | None = None
    interrupted = False

    def on_term(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        print(f"Kubernetes stand-in: {cluster.url} (kubeconfig {cluster.kubeconfig_path})", flush=True)
        print(f"Assistant: llama stack run {args.config} --port {args.port} (log: {log}) ...", flush=True)
        with open(log, "wb") as out:  # its own session: Ctrl-C reaches us, and we stop it with its children
            process = subprocess.Popen([str(llama), "stack", "run", args.config, "--port", str(args.port)],
                                       stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                       start_new_session=True)
        wait_healthy(process, base, log, args.timeout)
        model = first_model(base)
        print(f"\nAssistant for Argo CD on {base}, model {model}. Broken Applications:", flush=True)
        for app in apps:
            health = (app.application.get("status") or {}).get("health") or {}
            sync = ((app.application.get("status") or {}).get("sync") or {}).get("status")
            print(f"  {app.header:<48} {health.get('status', '?')}/{sync}  {app.scenario.description[:70]}")
        print(f"\n{READY_PREFIX}", flush=True)
        for app in apps:
            for line in requests_to_try(base, model, app):
                print(line)
        print("\nCtrl-C stops the assistant and the stand-in.", flush=True)
        while process.poll() is None:
            time.sleep(0.5)
        print(f"llama stack run exited ({process.returncode}); see {log}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        interrupted = True
        return 0
    finally:
        stop_group(process, signal.SIGTERM, 10)
        cluster.stop()
        if interrupted:
            print("\nstopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
