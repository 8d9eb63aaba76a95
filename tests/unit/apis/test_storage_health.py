"""/liveness's view of llama-stack's KV stores: the two private names it reads, pinned and checked at start-up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from llama_stack.core.storage.datatypes import PostgresKVStoreConfig, SqliteKVStoreConfig
from llama_stack.core.storage.kvstore import kvstore
from llama_stack.core.storage.kvstore.postgres.postgres import PostgresKVStoreImpl
from llama_stack.core.storage.kvstore.sqlite.sqlite import SqliteKVStoreImpl

from llama_stack_argocd.apis import storage_health
from llama_stack_argocd.apis.storage_health import StorageHookMissing, broken_kv_stores, verify_kv_store_hook


def postgres_store(closed: int) -> PostgresKVStoreImpl:
    store = PostgresKVStoreImpl(PostgresKVStoreConfig(user="assistant"))
    store._conn = SimpleNamespace(closed=closed)  # psycopg2: 0 while open, non-zero once closed
    return store


def test_liveness_still_finds_llama_stacks_kv_store_registry():
    """apis/storage_health.py reads llama-stack 0.7's KV store registry; fail here if that hook point moves."""
    assert isinstance(kvstore._KVSTORE_INSTANCES, dict)
    assert broken_kv_stores() == []


def test_the_installed_llama_stack_passes_the_start_up_check():
    verify_kv_store_hook()


def test_a_closed_postgres_connection_is_named_and_open_or_other_stores_are_not(monkeypatch, tmp_path):
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "lightspeed"), postgres_store(closed=2))
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "agents"), postgres_store(closed=0))
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "registry"),
                        PostgresKVStoreImpl(PostgresKVStoreConfig(user="assistant")))  # never connected
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_default", "quotas"),
                        SqliteKVStoreImpl(SqliteKVStoreConfig(db_path=str(tmp_path / "kv.db"))))
    assert broken_kv_stores() == ["kv_postgres/lightspeed"]


def test_start_up_is_refused_when_the_registry_moved(monkeypatch):
    monkeypatch.delattr(kvstore, "_KVSTORE_INSTANCES")
    with pytest.raises(StorageHookMissing, match="_KVSTORE_INSTANCES"):
        verify_kv_store_hook()
    with pytest.raises(StorageHookMissing):
        broken_kv_stores()


def test_start_up_is_refused_when_the_postgres_store_keeps_its_connection_elsewhere(monkeypatch):
    def init_without_conn(self, config):
        self.config = config

    monkeypatch.setattr(PostgresKVStoreImpl, "__init__", init_without_conn)
    with pytest.raises(StorageHookMissing, match=storage_health._CONNECTION):
        verify_kv_store_hook()


def test_a_postgres_store_with_a_self_healing_pool_passes_the_check(monkeypatch):
    """OGX 1.5's store holds an asyncpg pool that reconnects and retries: no connection is ever closed for good."""
    from llama_stack.core.storage.kvstore.postgres.postgres import PostgresKVStoreImpl

    def init_with_a_pool(self, config):
        self.config, self._pool = config, None

    monkeypatch.setattr(PostgresKVStoreImpl, "__init__", init_with_a_pool)
    verify_kv_store_hook()
