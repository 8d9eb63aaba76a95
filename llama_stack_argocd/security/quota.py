"""Per-user quotas on requests and tokens, counted in the distribution's SQL store (shared by replicas).

Counting is append-only: every admitted turn and every spend is one inserted row, and a window's use is the sum
of its rows. An insert is atomic on SQLite and PostgreSQL alike, so two replicas counting at once never lose an
update (a read-then-write counter would). A turn claims one of the hour's numbered slots, the number being part of
the row's key, so concurrent turns at the limit admit exactly the limit, on any replica.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from llama_stack_argocd.observability.metrics import QUOTA_REFUSALS

TABLE = "argocd_quota_usage"
Kind = Literal["requests", "tokens"]


class QuotaSettings(BaseModel):
    requests_per_hour: int | None = Field(default=None, ge=1, description="Turns one user may start an hour.")
    tokens_per_day: int | None = Field(default=None, ge=1, description="Model tokens (in + out) one user may use a day.")


class QuotaExceeded(Exception):
    """Maps to HTTP 429; the message states what is left and when it refills."""

    status_code = 429

    def __init__(self, message: str, available: dict[str, int]) -> None:
        super().__init__(message)
        self.available = available


class _Rows(Protocol):
    data: list[dict[str, Any]]


class UsageStore(Protocol):
    """The part of llama-stack's `SqlStore` the quota needs (`hosting.sql_store(...)` gives one)."""

    async def create_table(self, table: str, schema: Mapping[str, Any]) -> None: ...

    async def insert(self, table: str, data: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> None: ...

    async def fetch_all(self, table: str, where: Mapping[str, Any] | None = None, **kwargs: Any) -> _Rows: ...

    async def delete(self, table: str, where: Mapping[str, Any]) -> None: ...


def usage_schema() -> dict[str, Any]:
    """The usage table's columns, in llama-stack's column types (imported here so the rest stays store-neutral)."""
    from llama_stack_api.internal.sqlstore import ColumnDefinition, ColumnType

    return {
        "id": ColumnDefinition(type=ColumnType.STRING, primary_key=True),
        "principal": ColumnType.STRING,
        "kind": ColumnType.STRING,
        "period": ColumnType.INTEGER,
        "amount": ColumnType.INTEGER,
        "created_at": ColumnType.FLOAT,
    }


class QuotaKeeper:
    def __init__(self, store: UsageStore, settings: QuotaSettings) -> None:
        self._store = store
        self._settings = settings
        self._ready = False

    async def _table(self) -> None:
        if not self._ready:
            await self._store.create_table(TABLE, usage_schema())
            self._ready = True

    @staticmethod
    def _period(kind: Kind, now: float) -> int:
        return int(now // 3600) if kind == "requests" else int(now // 86400)

    async def _rows(self, principal: str, kind: Kind, period: int) -> list[dict[str, Any]]:
        await self._table()
        where = {"principal": principal, "kind": kind, "period": period}
        return (await self._store.fetch_all(TABLE, where=where)).data

    async def _used(self, principal: str, kind: Kind, now: float) -> int:
        return sum(int(row["amount"]) for row in await self._rows(principal, kind, self._period(kind, now)))

    async def _record(self, principal: str, kind: Kind, amount: int, now: float, row_id: str | None = None) -> None:
        await self._table()
        row_id = row_id or uuid.uuid4().hex
        await self._store.insert(TABLE, {"id": row_id, "principal": principal, "kind": kind,
                                         "period": self._period(kind, now),
                                         "amount": amount, "created_at": now})

    async def available(self, principal: str) -> dict[str, int]:
        """OLS-style `available_quotas`: what is left in the current windows (only the limits that are set)."""
        now = time.time()
        out: dict[str, int] = {}
        if (limit := self._settings.requests_per_hour) is not None:
            out["UserRequestQuota"] = max(0, limit - await self._used(principal, "requests", now))
        if (limit := self._settings.tokens_per_day) is not None:
            out["UserTokenQuota"] = max(0, limit - await self._used(principal, "tokens", now))
        return out

    async def admit(self, principal: str) -> None:
        """Count one turn, or refuse it when a quota is used up."""
        if self._settings.requests_per_hour is None and self._settings.tokens_per_day is None:
            return
        now = time.time()
        tokens_used = await self._used(principal, "tokens", now) if self._settings.tokens_per_day is not None else 0
        if (limit := self._settings.tokens_per_day) is not None and tokens_used >= limit:
            available = await self.available(principal)
            QUOTA_REFUSALS.labels("tokens").inc()
            raise QuotaExceeded(f"Token quota exceeded for today, refilled at 00:00 UTC (available: {available}).",
                                available)
        if (limit := self._settings.requests_per_hour) is None:
            if tokens_used == 0:  # the first turn of a new day
                await self._forget_before(principal, now)
            return
        if not await self._take_slot(principal, limit, now):
            available = await self.available(principal)
            QUOTA_REFUSALS.labels("requests").inc()
            raise QuotaExceeded(f"Request quota exceeded for this hour (available: {available}).", available)

    async def _take_slot(self, principal: str, limit: int, now: float) -> bool:
        """Claim one of the hour's `limit` numbered slots. The slot number is part of the primary key, so of two
        replicas claiming the same slot at once the store lets exactly one in; the other tries the next."""
        from sqlalchemy.exc import IntegrityError

        period = self._period("requests", now)
        taken = len(await self._rows(principal, "requests", period))
        for slot in range(taken, limit):
            try:
                await self._record(principal, "requests", 1, now, row_id=f"{principal}:{period}:{slot}")
            except IntegrityError:
                continue
            if slot == 0:  # the first turn of a new hour: drop what earlier windows left behind
                await self._forget_before(principal, now)
            return True
        return False

    async def spend_tokens(self, principal: str, tokens: int) -> None:
        if self._settings.tokens_per_day is not None and tokens > 0:
            await self._record(principal, "tokens", tokens, time.time())

    async def _forget_before(self, principal: str, now: float) -> None:
        for kind in ("requests", "tokens"):
            await self._store.delete(TABLE, {"principal": principal, "kind": kind,
                                             "period": {"<": self._period(kind, now)}})
