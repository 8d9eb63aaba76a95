"""The scrape endpoint: a port of its own, off unless the operator sets `ARGOCD_METRICS_PORT`.

Never on the API port: argocd-server's proxy forwards only to that one, so a scraper reaches the metrics
without the proxy secret exactly where the NetworkPolicy lets it, and no Argo CD user ever does.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import start_http_server

from llama_stack_argocd.observability.metrics import REGISTRY

_started: dict[str, Any] = {}
_lock = threading.Lock()


def serve_from_environment(environ: dict[str, str] | os._Environ[str] = os.environ) -> int | None:
    """Start the metrics server once per process when configured; the port it listens on, or None."""
    port = environ.get("ARGOCD_METRICS_PORT", "").strip()
    if not port:
        return None
    host = environ.get("ARGOCD_METRICS_HOST", "").strip() or environ.get("LLAMA_STACK_HOST", "127.0.0.1")
    with _lock:
        if "server" not in _started:
            server, _thread = start_http_server(int(port), addr=host, registry=REGISTRY)
            _started["server"] = server
        return int(_started["server"].server_port)
