"""Test stand-ins in a process of their own, so a benchmark's client never shares their interpreter (and GIL).

    python -m benchmarks.standins cluster          # the Kubernetes stand-in (tests/support/cluster.py)
    python -m benchmarks.standins proxy UPSTREAM   # argocd-server's proxy extension in front of UPSTREAM,
                                                   # adding `Authorization: Bearer $BENCH_PROXY_SECRET`

The child prints one JSON line (its addresses) and serves until its stdin closes, so it ends with the benchmark.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.support.processes import stop_group
from tests.support.stack import ROOT

SECRET_ENV = "BENCH_PROXY_SECRET"


@contextmanager
def standin(*args: str, env: dict[str, str] | None = None) -> Iterator[dict[str, Any]]:
    """Start `python -m benchmarks.standins ARGS...` and yield what it printed; stopped when the block ends."""
    process = subprocess.Popen([sys.executable, "-m", "benchmarks.standins", *args], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, cwd=ROOT, env={**os.environ, **(env or {})},
                               start_new_session=True)
    try:
        line = process.stdout.readline() if process.stdout else b""
        if not line:
            raise RuntimeError(f"stand-in {args[0]} did not start (exit {process.wait(10)})")
        yield {**json.loads(line), "pid": process.pid}
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            stop_group(process, signal.SIGTERM, 5)


def main(argv: list[str]) -> None:
    if argv[0] == "cluster":
        from tests.support.cluster import start_cluster

        with start_cluster(keep_requests=False) as cluster:  # as a real API server: no request history
            print(json.dumps({"url": cluster.url, "kubeconfig": cluster.kubeconfig_path}), flush=True)
            sys.stdin.read()
    elif argv[0] == "proxy":
        from tests.support.argocd_proxy import ArgoCDProxy

        headers = {"Authorization": f"Bearer {os.environ[SECRET_ENV]}"}
        with ArgoCDProxy(argv[1], service_headers=headers, username="bench") as proxy:
            print(json.dumps({"url": proxy.url}), flush=True)
            sys.stdin.read()
    else:
        raise SystemExit(f"unknown stand-in {argv[0]!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
