"""What proxy-trust authentication adds to a request: `GET /v1/models` under proxy-trust.yaml minus the same under
run.yaml (no authentication), p50 and p90 over sequential requests on one kept-alive connection.

`python -m benchmarks.auth_latency [ROOT]`: ROOT is the checkout whose distributions are started (default: this
one), so the same script measures a previous revision too. Figures are printed, never asserted.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.support.scripted_llm import ScriptedLLM
from tests.support.stack import running_stack, write_config

SECRET = "bench-proxy-secret-" + "b" * 20
HEADERS = {"Authorization": f"Bearer {SECRET}", "Argocd-Username": "alice", "Argocd-User-Groups": "dev",
           "Argocd-Application-Name": "argocd:guestbook", "Argocd-Project-Name": "default"}
REQUESTS = 300


def _timings(url: str, headers: dict[str, str]) -> list[float]:
    with httpx.Client(headers=headers, timeout=30) as client:
        for _ in range(30):  # warm-up
            client.get(url).raise_for_status()
        out = []
        for _ in range(REQUESTS):
            start = time.perf_counter()
            client.get(url).raise_for_status()
            out.append((time.perf_counter() - start) * 1000)
    return out


def main(root: Path) -> None:
    with ScriptedLLM().serving() as llm:
        env = {"OPENAI_BASE_URL": llm.url, "OPENAI_API_KEY": "sk-test", "ARGOCD_ASSISTANT_PROXY_SECRET": SECRET}
        results = {}
        for name, config, headers in (("run.yaml", root / "run.yaml", {}),
                                      ("proxy-trust", root / "distributions/argocd/proxy-trust.yaml", HEADERS)):
            with running_stack(write_config(config, Path(tempfile.mkdtemp())), env) as stack:
                results[name] = _timings(stack.base_url + "/v1/models", headers)
    base = statistics.median(results["run.yaml"])
    for name, values in results.items():
        ordered = sorted(values)
        print(f"{name:12s} GET /v1/models p50 {statistics.median(values):6.2f} ms  p90 {ordered[int(0.9 * len(ordered))]:6.2f} ms")
    print(f"added by proxy-trust authentication (p50): {statistics.median(results['proxy-trust']) - base:.2f} ms")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
