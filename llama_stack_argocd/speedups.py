"""Per-request work llama-stack 0.7.x repeats that we can safely do once per process, or not at all.

- The inference router validates a chat request's tools with a new pydantic `TypeAdapter` per tool and per model
  call (`TypeAdapter(OpenAIChatCompletionToolParam)`): building one generates the whole schema again, about 1 ms
  each, and the agent offers every Argo CD tool on every round. The router module's `TypeAdapter` name is pointed
  at a cache of adapters per type (an adapter is immutable and safe to share); the validation is unchanged.
- The models routing table adds "dynamic" models, listed live from every provider whose provider-data validator
  accepts the request's provider data (per-request credentials from `X-LlamaStack-Provider-Data`). With
  authentication on, llama-stack puts the authenticated user into that same provider data, so every validator
  accepts it and every model listing (each Lightspeed turn, `GET /v1/models`) called the model server's
  `/v1/models`. Dynamic models are now listed only when the request carried provider data of its own.
There is no setting for either; tests/unit/test_speedups.py fails if a hook point moves.
"""

from __future__ import annotations

import threading
from typing import Any

from pydantic import TypeAdapter

_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}
_LOCK = threading.Lock()
_MARK = "_argocd_speedup"
# The key llama-stack's RequestProviderDataContext adds for the authenticated user (not a provider credential).
AUTHENTICATED_USER_KEY = "__authenticated_user"


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


def has_own_provider_data(provider_data: dict[str, Any] | None) -> bool:
    """Whether a request's provider data holds anything but the authenticated user llama-stack put there."""
    return bool(provider_data) and any(key != AUTHENTICATED_USER_KEY for key in provider_data or {})


def install_speedups() -> None:
    """Idempotent; called where the providers are loaded, before any request."""
    from llama_stack.core.request_headers import PROVIDER_DATA_VAR
    from llama_stack.core.routers import inference
    from llama_stack.core.routing_tables.models import ModelsRoutingTable

    inference.TypeAdapter = shared_type_adapter  # type: ignore[attr-defined, assignment]

    original = ModelsRoutingTable._get_dynamic_models_from_provider_data
    if not getattr(original, _MARK, False):

        async def dynamic_models_of_own_provider_data(self: Any) -> Any:
            if not has_own_provider_data(PROVIDER_DATA_VAR.get()):
                return []
            return await original(self)

        setattr(dynamic_models_of_own_provider_data, _MARK, True)
        ModelsRoutingTable._get_dynamic_models_from_provider_data = dynamic_models_of_own_provider_data  # type: ignore[method-assign]
