"""`GET /v1/providers` (and the admin API's listing) with the health of every provider, routed APIs included.

llama-stack 0.7 asks the implementations it knew when it built the listing (its internal ones only, none of the
routers), so every provider shows "Not Implemented", even one that serves and has a `health()`: the embedded model
looked broken while it answered. Our providers register themselves here when they are built (`reports_health`),
and the listing asks each of them, within the bound llama-stack uses; a provider behind a routing table the
listing does see is asked too. Pinned to llama-stack 0.7.x; `tests/unit/apis/test_provider_health.py` fails if the
hook point moves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from llama_stack.core.admin import AdminImpl
from llama_stack.core.providers import ProviderImpl
from llama_stack_api import HealthStatus

_MARK = "_argocd_provider_health"
TIMEOUT_SECONDS = 3.0  # llama-stack's own bound for one provider's health check

Health = dict[str, dict[str, Any]]

_REPORTING: list[Any] = []  # our provider instances; llama-stack sets __provider_spec__/__provider_id__ on them


def reports_health(impl: Any) -> Any:
    """Have `impl` (a provider this package built) answer for itself in `GET /v1/providers`."""
    _REPORTING.append(impl)
    return impl


async def _one(provider: Any) -> dict[str, Any]:
    try:
        return dict(await asyncio.wait_for(provider.health(), TIMEOUT_SECONDS))
    except TimeoutError:
        return {"status": HealthStatus.ERROR, "message": f"Health check timed out after {TIMEOUT_SECONDS} seconds"}
    except NotImplementedError:
        return {"status": HealthStatus.NOT_IMPLEMENTED, "message": "Provider does not implement health check"}
    except Exception as error:  # noqa: BLE001 - a failing check is a health answer, not a server error
        return {"status": HealthStatus.ERROR, "message": f"Health check failed: {error}"}


async def routed_providers_health(deps: dict[Any, Any]) -> Health:
    """Health of our providers and of those behind a routing table, by API name and provider id, concurrently."""
    checks: list[tuple[str, str, Any]] = [
        (impl.__provider_spec__.api.value, impl.__provider_id__, impl)
        for impl in _REPORTING
        if getattr(impl, "__provider_spec__", None) is not None and getattr(impl, "__provider_id__", None)
    ]
    for impl in deps.values():
        table = getattr(impl, "routing_table", None)
        for provider_id, provider in (getattr(table, "impls_by_provider_id", None) or {}).items():
            spec = getattr(provider, "__provider_spec__", None)
            if spec is not None and hasattr(provider, "health"):
                checks.append((spec.api.value, provider_id, provider))
    answers = await asyncio.gather(*(_one(provider) for _, _, provider in checks))
    health: Health = {}
    for (api, provider_id, _), answer in zip(checks, answers, strict=True):
        health.setdefault(api, {})[provider_id] = answer
    return health


def _with_routed(original: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    async def get_providers_health(self: Any) -> Any:
        health = await original(self)
        for api, by_provider in (await routed_providers_health(getattr(self, "deps", {}) or {})).items():
            current = health.get(api)
            if not isinstance(current, dict) or "status" in current:  # the router's own answer, not per provider
                health[api] = current = {}
            current.update(by_provider)
        return health

    setattr(get_providers_health, _MARK, True)
    return get_providers_health


def install_provider_health() -> None:
    """Wrap the two listings once per process."""
    for cls in (ProviderImpl, AdminImpl):
        if not getattr(cls.get_providers_health, _MARK, False):
            cls.get_providers_health = _with_routed(cls.get_providers_health)
