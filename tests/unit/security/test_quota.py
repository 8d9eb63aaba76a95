"""Quota counting shared by replicas: two keepers on two store connections (as two replicas have), counting at once,
on SQLite and on a real PostgreSQL, never lose a turn or a token and admit exactly the limit."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from llama_stack.core.storage.datatypes import PostgresSqlStoreConfig, SqliteSqlStoreConfig
from llama_stack.core.storage.sqlstore.sqlalchemy_sqlstore import SqlAlchemySqlStoreImpl

from llama_stack_argocd.security.quota import TABLE, QuotaExceeded, QuotaKeeper, QuotaSettings
from tests.support.postgres import PostgresHandle, start_postgres

LIMIT = 7
TURNS = 20


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresHandle]:
    with start_postgres() as handle:
        yield handle


@pytest.fixture(params=["sqlite", "postgres"])
def replica_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], SqlAlchemySqlStoreImpl]:
    """A factory of independent store connections to one database, one per replica."""
    if request.param == "sqlite":
        config = SqliteSqlStoreConfig(db_path=str(tmp_path / "sql_store.db"))
    else:
        pg: PostgresHandle = request.getfixturevalue("postgres")
        pg.query(f"DROP TABLE IF EXISTS {TABLE}")
        config = PostgresSqlStoreConfig(host="127.0.0.1", port=pg.port, db=pg.database, user=pg.user,
                                        password=pg.password)
    return lambda: SqlAlchemySqlStoreImpl(config.model_copy())


@pytest.fixture
async def replicas(replica_stores) -> AsyncIterator[tuple[QuotaKeeper, QuotaKeeper]]:
    stores = [replica_stores(), replica_stores()]
    settings = QuotaSettings(requests_per_hour=LIMIT, tokens_per_day=10_000)
    try:
        yield QuotaKeeper(stores[0], settings), QuotaKeeper(stores[1], settings)
    finally:
        for store in stores:
            await store.shutdown()


async def _admitted(keeper: QuotaKeeper, principal: str) -> bool:
    try:
        await keeper.admit(principal)
    except QuotaExceeded:
        return False
    return True


async def test_concurrent_turns_on_two_replicas_admit_exactly_the_limit(replicas):
    a, b = replicas
    await a.available("warm-up")  # both tables exist before the race, as after a replica's first turn
    await b.available("warm-up")
    results = await asyncio.gather(*(_admitted(a if i % 2 else b, "alice") for i in range(TURNS)))
    assert sum(results) == LIMIT
    assert await a.available("alice") == await b.available("alice")
    assert (await b.available("alice"))["UserRequestQuota"] == 0
    assert await _admitted(a, "bob")  # another user's count is their own


async def test_concurrent_token_spends_on_two_replicas_all_count(replicas):
    a, b = replicas
    await a.available("warm-up")
    await b.available("warm-up")
    await asyncio.gather(*(( a if i % 2 else b).spend_tokens("carol", 37) for i in range(30)))
    assert (await a.available("carol"))["UserTokenQuota"] == 10_000 - 30 * 37


async def test_a_day_used_up_refuses_the_next_turn_with_what_is_left(replicas):
    a, _ = replicas
    await a.spend_tokens("dave", 10_000)
    with pytest.raises(QuotaExceeded) as refused:
        await a.admit("dave")
    assert refused.value.available == {"UserRequestQuota": LIMIT, "UserTokenQuota": 0}
    assert "Token quota exceeded" in str(refused.value)


async def test_usage_of_earlier_windows_is_dropped_on_the_first_turn_of_a_new_one(replicas, monkeypatch):
    a, _ = replicas
    start = time.time()
    monkeypatch.setattr(time, "time", lambda: start - 2 * 86400)
    for _ in range(3):
        await a.admit("erin")
    await a.spend_tokens("erin", 500)
    monkeypatch.setattr(time, "time", lambda: start)
    await a.admit("erin")
    rows = (await a._store.fetch_all(TABLE, where={"principal": "erin"})).data
    assert [(row["kind"], row["amount"]) for row in rows] == [("requests", 1)]
    assert await a.available("erin") == {"UserRequestQuota": LIMIT - 1, "UserTokenQuota": 10_000}
