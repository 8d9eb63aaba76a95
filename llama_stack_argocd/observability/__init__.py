"""What operators see: Prometheus metrics, OTLP traces of a turn, the JSON audit event, the request id.

Imports nothing from llama-stack, FastAPI or Starlette (the context domain and the agent both report here);
`install.py` is the one place that touches llama-stack's server, pinned by `tests/unit/observability/test_observability.py`.
"""
