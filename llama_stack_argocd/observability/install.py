"""The one place observability meets llama-stack's server (a private hook: llama-stack 0.7 has no middleware
setting). `create_app` adds its `RequestMetricsMiddleware` last, so it runs outermost; we swap that name in the
server module for a factory that puts `RequestObservation` around it, so the request id covers every answer,
a 401 included. `tests/unit/test_observability.py` fails if the hook point moves.
"""

from __future__ import annotations

from typing import Any

from llama_stack_argocd.observability.exposition import serve_from_environment
from llama_stack_argocd.observability.http import RequestObservation

_MARK = "_argocd_observed"


def install_observability() -> None:
    from llama_stack.core.server import server

    original = server.RequestMetricsMiddleware
    if not getattr(original, _MARK, False):

        def observed(app: Any, **kwargs: Any) -> RequestObservation:
            return RequestObservation(original(app, **kwargs))

        setattr(observed, _MARK, True)
        server.RequestMetricsMiddleware = observed
    serve_from_environment()
