"""Owner-checked records on a real SQLite KV store: another user's record is answered exactly like a missing one,
changes apply to the record as stored now (a change made meanwhile stands), and concurrent changes are not lost."""

from __future__ import annotations

import asyncio

import pytest
from llama_stack.core.storage.kvstore import SqliteKVStoreConfig
from llama_stack.core.storage.kvstore.sqlite import SqliteKVStoreImpl

from llama_stack_argocd.apis.records import OwnedRecords, Record


class NotFound(Exception):
    pass


@pytest.fixture
async def store(tmp_path):
    kv = SqliteKVStoreImpl(SqliteKVStoreConfig(db_path=str(tmp_path / "kv.db"), namespace="test"))
    await kv.initialize()
    yield kv
    await kv.shutdown()


@pytest.fixture
def records(store) -> OwnedRecords:
    return OwnedRecords(store, "thing", lambda thing_id: NotFound(f"No thing {thing_id}"))


async def test_the_owner_gets_the_record_and_the_owner_field_is_the_stores(records):
    stored = await records.create("t1", owner="alice", record={"name": "one", "owner": "mallory"})
    assert stored["owner"] == "alice"
    assert await records.get("t1", owner="alice") == {"name": "one", "owner": "alice"}
    assert await records.find("t1", owner="alice") == stored


async def test_another_users_record_is_answered_like_a_missing_one(records):
    await records.create("t1", owner="alice", record={"name": "one"})
    with pytest.raises(NotFound) as theirs:
        await records.get("t1", owner="mallory")
    with pytest.raises(NotFound) as missing:
        await records.get("t2", owner="mallory")
    assert str(theirs.value) == "No thing t1" and str(missing.value) == "No thing t2"  # the same answer, by id
    assert await records.find("t1", owner="mallory") is None
    # `missing` (create on first use) never hands another user's id over either
    with pytest.raises(NotFound):
        await records.get("t1", owner="mallory", missing={"name": "new"})
    assert await records.get("t3", owner="mallory", missing={"name": "new"}) == {"name": "new", "owner": "mallory"}
    assert await records.find("t3", owner="mallory") is None  # not stored until created or updated


async def test_another_user_can_neither_change_nor_delete_it(records):
    await records.create("t1", owner="alice", record={"name": "one"})
    assert await records.update("t1", owner="mallory", change=lambda r: r.update(name="mine")) is None
    assert await records.update("t1", owner="mallory", change=lambda r: r.update(name="mine"),
                                missing={"name": "mine"}) is None
    with pytest.raises(NotFound):
        await records.delete("t1", owner="mallory")
    assert (await records.get("t1", owner="alice"))["name"] == "one"


async def test_an_update_applies_to_the_record_as_stored_now(records):
    started = await records.create("t1", owner="alice", record={"topic": "", "turns": []})
    await records.update("t1", owner="alice", change=lambda r: r.update(topic="renamed"))  # during a stream
    saved = await records.update("t1", owner="alice", change=lambda r: r["turns"].append("turn 1"))
    assert saved == {"topic": "renamed", "turns": ["turn 1"], "owner": "alice"}
    assert started["turns"] == []  # what was read before is not what is written


async def test_a_record_deleted_meanwhile_stays_deleted_unless_it_is_new(records):
    await records.create("t1", owner="alice", record={"turns": []})
    await records.delete("t1", owner="alice")
    assert await records.update("t1", owner="alice", change=lambda r: r["turns"].append("late")) is None
    assert await records.find("t1", owner="alice") is None
    created = await records.update("t2", owner="alice", change=lambda r: r["turns"].append("first"),
                                   missing={"turns": []})
    assert created == {"turns": ["first"], "owner": "alice"}
    assert await records.get("t2", owner="alice") == created


async def test_concurrent_updates_are_not_lost(records):
    await records.create("t1", owner="alice", record={"turns": []})

    def append(n: int):
        def change(record: Record) -> None:
            record["turns"].append(n)
        return change

    await asyncio.gather(*(records.update("t1", owner="alice", change=append(n)) for n in range(40)))
    assert sorted((await records.get("t1", owner="alice"))["turns"]) == list(range(40))


async def test_records_under_a_parent_are_listed_by_owner_and_purged_alone(store, records):
    sessions = OwnedRecords(store, "session", NotFound)
    for parent, child, owner in [("a", "1", "alice"), ("a", "2", "alice"), ("a", "3", "bob"), ("ab", "1", "alice")]:
        await sessions.create(parent, child, owner=owner, record={"id": f"{parent}/{child}"})
    await records.create("a", owner="alice", record={"id": "thing a"})  # another kind, the same id
    assert [r["id"] for r in await sessions.owned_by("alice", "a")] == ["a/1", "a/2"]
    assert [r["id"] for r in await sessions.owned_by("alice")] == ["a/1", "a/2", "ab/1"]
    await sessions.purge("a")
    assert [r["id"] for r in await sessions.owned_by("alice")] == ["ab/1"]
    assert await sessions.owned_by("bob") == []
    assert (await records.get("a", owner="alice"))["id"] == "thing a"
