"""Storage connections llama-stack cannot re-open by itself, reported by /liveness so the kubelet restarts the pod.

llama-stack 0.7's `kv_postgres` store keeps one psycopg2 connection per namespace and never reconnects: after a
PostgreSQL restart or failover, every request touching that store fails until the process restarts. psycopg2 marks
such a connection closed on the first failed statement; nothing is queried here. SQL stores (SQLAlchemy pools with
pre-ping) recover by themselves.

llama-stack offers no public call that lists its KV stores or says whether one's connection is alive (`KVStore` has
get/set/range/delete only), so this module is the one place that reads two private names: the store registry
`kvstore._KVSTORE_INSTANCES` and `PostgresKVStoreImpl._conn`. `verify_kv_store_hook()` refuses the start when either
moved (a liveness probe that silently always answers 200 would never restart a pod with a dead connection), and
`tests/unit/apis/test_storage_health.py` pins both.
"""

from __future__ import annotations

from typing import Any

from llama_stack.core.storage.datatypes import PostgresKVStoreConfig
from llama_stack.core.storage.kvstore import kvstore as _kvstore

_REGISTRY = "_KVSTORE_INSTANCES"
_CONNECTION = "_conn"
_SELF_HEALING_POOL = "_pool"  # OGX 1.5's PostgresKVStoreImpl: an asyncpg pool with retries


class StorageHookMissing(RuntimeError):
    """llama-stack no longer keeps a private name /liveness reads."""


def _registry() -> dict[tuple[str, str], Any]:
    registry = getattr(_kvstore, _REGISTRY, None)
    if not isinstance(registry, dict):
        raise StorageHookMissing(
            f"llama_stack.core.storage.kvstore.kvstore.{_REGISTRY} is gone: /liveness cannot find lost "
            "database connections with this llama-stack version")
    return registry


def verify_kv_store_hook() -> None:
    """Refuse the start when /liveness could no longer see a closed PostgreSQL KV connection."""
    _registry()
    from llama_stack.core.storage.kvstore.postgres.postgres import PostgresKVStoreImpl

    unconnected = PostgresKVStoreImpl(PostgresKVStoreConfig(user="liveness-check"))  # __init__ does not connect
    if hasattr(unconnected, _SELF_HEALING_POOL) and not hasattr(unconnected, _CONNECTION):
        return  # OGX: a pool that reconnects and retries by itself, so no connection is ever closed for good
    if not hasattr(unconnected, _CONNECTION):
        raise StorageHookMissing(
            f"llama-stack's PostgresKVStoreImpl no longer has {_CONNECTION}: /liveness cannot see a lost "
            "database connection with this llama-stack version")


def broken_kv_stores() -> list[str]:
    """`backend/namespace` of every KV store whose database connection is closed for good."""
    broken = []
    for (backend, namespace), store in list(_registry().items()):
        connection = getattr(store, _CONNECTION, None)
        if connection is not None and getattr(connection, "closed", 0):
            broken.append(f"{backend}/{namespace}")
    return sorted(broken)
