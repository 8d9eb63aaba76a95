"""Where observability meets llama-stack's server: `RequestObservation` is the outermost layer of the edge
(`apis/edge.py`, the one hook around llama-stack's middleware), so the request id and the route metrics cover every
answer, a 400 from the identity check or a 401 included."""

from __future__ import annotations

from llama_stack_argocd.apis.edge import add_layer, install_edge
from llama_stack_argocd.observability.exposition import serve_from_environment
from llama_stack_argocd.observability.http import RequestObservation


def install_observability() -> None:
    install_edge()
    add_layer(RequestObservation)
    serve_from_environment()
