"""/liveness's view of the host's KV stores: the two private names it reads, pinned per host and checked at start-up
(`make test-ogx` runs this file in the OGX venv too)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from llama_stack.core.storage.datatypes import PostgresKVStoreConfig, SqliteKVStoreConfig
from llama_stack.core.storage.kvstore import kvstore
from llama_stack.core.storage.kvstore.postgres.postgres import PostgresKVStoreImpl
from llama_stack.core.storage.kvstore.sqlite.sqlite import SqliteKVStoreImpl

from llama_stack_argocd import hosting
from llama_stack_argocd.apis.storage_health import StorageHookMissing, broken_kv_stores, verify_kv_store_hook

POSTGRES = hosting.KV_POSTGRES[hosting.HOST]


def postgres_store(closed: int) -> PostgresKVStoreImpl:
    store = PostgresKVStoreImpl(PostgresKVStoreConfig(user="assistant"))
    store._conn = SimpleNamespace(closed=closed)  # psycopg2: 0 while open, non-zero once closed
    return store


def test_liveness_still_finds_the_hosts_kv_store_registry():
    """apis/storage_health.py reads the host's KV store registry; fail here if that hook point moves."""
    assert isinstance(kvstore._KVSTORE_INSTANCES, dict)
    assert broken_kv_stores() == []


def test_the_hosts_postgres_store_holds_its_database_where_hosting_says():
    unconnected = PostgresKVStoreImpl(PostgresKVStoreConfig(user="liveness-check"))  # __init__ does not connect
    assert hasattr(unconnected, POSTGRES.attribute)
    other = hosting.KV_POSTGRES[hosting.OGX if hosting.HOST == hosting.LLAMA_STACK else hosting.LLAMA_STACK]
    assert not hasattr(unconnected, other.attribute)  # the fact is per host, not shared


def test_the_installed_host_passes_the_start_up_check():
    verify_kv_store_hook()


@pytest.mark.skipif(POSTGRES.reconnects, reason="the host's PostgreSQL KV store reconnects by itself")
def test_a_closed_postgres_connection_is_named_and_open_or_other_stores_are_not(monkeypatch, tmp_path):
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "lightspeed"), postgres_store(closed=2))
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "agents"), postgres_store(closed=0))
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "registry"),
                        PostgresKVStoreImpl(PostgresKVStoreConfig(user="assistant")))  # never connected
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_default", "quotas"),
                        SqliteKVStoreImpl(SqliteKVStoreConfig(db_path=str(tmp_path / "kv.db"))))
    assert broken_kv_stores() == ["kv_postgres/lightspeed"]


@pytest.mark.skipif(not POSTGRES.reconnects, reason="the host's PostgreSQL KV store stays closed once lost")
def test_a_self_healing_postgres_store_is_never_reported(monkeypatch):
    """OGX 1.5's store holds an asyncpg pool that reconnects and retries: no connection is ever closed for good."""
    lost = PostgresKVStoreImpl(PostgresKVStoreConfig(user="assistant"))
    setattr(lost, POSTGRES.attribute, SimpleNamespace(closed=2))
    monkeypatch.setitem(kvstore._KVSTORE_INSTANCES, ("kv_postgres", "lightspeed"), lost)
    assert broken_kv_stores() == []


def test_start_up_is_refused_when_the_registry_moved(monkeypatch):
    monkeypatch.delattr(kvstore, "_KVSTORE_INSTANCES")
    with pytest.raises(StorageHookMissing, match="_KVSTORE_INSTANCES"):
        verify_kv_store_hook()
    with pytest.raises(StorageHookMissing):
        broken_kv_stores()


def test_start_up_is_refused_naming_the_attribute_when_the_postgres_store_keeps_its_database_elsewhere(monkeypatch):
    def init_elsewhere(self, config):
        self.config, self._database = config, None

    monkeypatch.setattr(PostgresKVStoreImpl, "__init__", init_elsewhere)
    with pytest.raises(hosting.HostMismatch, match=f"PostgresKVStoreImpl.{POSTGRES.attribute} "):
        verify_kv_store_hook()
