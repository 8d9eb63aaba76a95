"""Per-request work llama-stack 0.7.x repeats that we can safely do once per process.

llama-stack's inference router validates a chat request's tools with a new pydantic `TypeAdapter` per tool and per
model call (`TypeAdapter(OpenAIChatCompletionToolParam)`): building one generates the whole schema again, about 1 ms
each, and the agent offers every Argo CD tool on every round. There is no setting for it, so the router module's
`TypeAdapter` name is pointed at a cache of adapters per type (an adapter is immutable and safe to share); the
validation itself is unchanged. tests/unit/test_speedups.py fails if the hook point moves.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import TypeAdapter

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}
_LOCK = threading.Lock()


def shared_type_adapter(type_: Any, *args: Any, **kwargs: Any) -> TypeAdapter[Any]:
    """`TypeAdapter(type_)`, built once per type; any other arguments get a fresh one, as before."""
    if args or kwargs:
        return TypeAdapter(type_, *args, **kwargs)
    try:
        return _ADAPTERS[type_]
    except (KeyError, TypeError):  # TypeError: an unhashable type, never kept
        pass
    adapter = TypeAdapter(type_)
    try:
        with _LOCK:
            return _ADAPTERS.setdefault(type_, adapter)
    except TypeError:
        return adapter


def install_speedups() -> None:
    """Idempotent; called where the providers are loaded, before any request."""
    from llama_stack.core.routers import inference

    inference.TypeAdapter = shared_type_adapter  # type: ignore[attr-defined, assignment]
