"""Per-user quotas on requests and tokens, counted in the distribution's KV store (shared by replicas)."""

from __future__ import annotations

import json
import time
from typing import Protocol

from pydantic import BaseModel, Field

from llama_stack_argocd.observability.metrics import QUOTA_REFUSALS


class QuotaSettings(BaseModel):
    requests_per_hour: int | None = Field(default=None, ge=1, description="Turns one user may start an hour.")
    tokens_per_day: int | None = Field(default=None, ge=1, description="Model tokens (in + out) one user may use a day.")


class QuotaExceeded(Exception):
    """Maps to HTTP 429; the message states what is left and when it refills."""

    status_code = 429

    def __init__(self, message: str, available: dict[str, int]) -> None:
        super().__init__(message)
        self.available = available


class _Store(Protocol):
    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class QuotaKeeper:
    def __init__(self, store: _Store, settings: QuotaSettings) -> None:
        self._store = store
        self._settings = settings

    @staticmethod
    def _windows(now: float) -> tuple[int, int]:
        return int(now // 3600), int(now // 86400)

    async def _counter(self, key: str) -> int:
        return int(json.loads(await self._store.get(key) or "0"))

    async def available(self, principal: str) -> dict[str, int]:
        """OLS-style `available_quotas`: what is left in the current windows (only the limits that are set)."""
        hour, day = self._windows(time.time())
        out: dict[str, int] = {}
        if (limit := self._settings.requests_per_hour) is not None:
            out["UserRequestQuota"] = max(0, limit - await self._counter(f"quota:req:{principal}:{hour}"))
        if (limit := self._settings.tokens_per_day) is not None:
            out["UserTokenQuota"] = max(0, limit - await self._counter(f"quota:tok:{principal}:{day}"))
        return out

    async def admit(self, principal: str) -> None:
        """Count one turn, or refuse it when a quota is used up."""
        available = await self.available(principal)
        if available.get("UserRequestQuota") == 0:
            QUOTA_REFUSALS.labels("requests").inc()
            raise QuotaExceeded(f"Request quota exceeded for this hour (available: {available}).", available)
        if available.get("UserTokenQuota") == 0:
            QUOTA_REFUSALS.labels("tokens").inc()
            raise QuotaExceeded(f"Token quota exceeded for today, refilled at 00:00 UTC (available: {available}).",
                                available)
        if self._settings.requests_per_hour is not None:
            hour, _ = self._windows(time.time())
            key = f"quota:req:{principal}:{hour}"
            await self._store.set(key, json.dumps(await self._counter(key) + 1))

    async def spend_tokens(self, principal: str, tokens: int) -> None:
        if self._settings.tokens_per_day is not None and tokens > 0:
            _, day = self._windows(time.time())
            key = f"quota:tok:{principal}:{day}"
            await self._store.set(key, json.dumps(await self._counter(key) + tokens))
