"""Storage connections the host cannot re-open by itself, reported by /liveness so the kubelet restarts the pod.

llama-stack 0.7's `kv_postgres` store keeps one psycopg2 connection per namespace and never reconnects: after a
PostgreSQL restart or failover, every request touching that store fails until the process restarts. psycopg2 marks
such a connection closed on the first failed statement; nothing is queried here. OGX 1.5's store holds a pool that
reconnects and retries, and SQL stores (SQLAlchemy pools with pre-ping) recover by themselves on both hosts: there
/liveness has nothing to report. Which host does what is `hosting.KV_POSTGRES`.

The host offers no public call that lists its KV stores or says whether one's connection is alive (`KVStore` has
get/set/range/delete only), so this module reads two private names: the store registry
`kvstore._KVSTORE_INSTANCES` and the store's connection attribute. Both are in `hosting.PRIVATE_NAMES`: start-up
refuses when either moved (a liveness probe that silently always answers 200 would never restart a pod with a dead
connection), and `tests/unit/apis/test_storage_health.py` pins them per host.
"""

from __future__ import annotations

from typing import Any

from llama_stack.core.storage.kvstore import kvstore as _kvstore

from llama_stack_argocd import hosting

_REGISTRY = "_KVSTORE_INSTANCES"
_POSTGRES = hosting.KV_POSTGRES[hosting.HOST]


class StorageHookMissing(RuntimeError):
    """The host no longer keeps a private name /liveness reads."""


def _registry() -> dict[tuple[str, str], Any]:
    registry = getattr(_kvstore, _REGISTRY, None)
    if not isinstance(registry, dict):
        raise StorageHookMissing(
            f"llama_stack.core.storage.kvstore.kvstore.{_REGISTRY} is gone: /liveness cannot find lost "
            f"database connections with this {hosting.HOST} version")
    return registry


def verify_kv_store_hook() -> None:
    """Refuse the start when /liveness could no longer see a closed PostgreSQL KV connection (the store's
    connection attribute is one of the host's pinned names: `hosting.verify()` names it when it is gone)."""
    _registry()
    hosting.verify()


def broken_kv_stores() -> list[str]:
    """`backend/namespace` of every KV store whose database connection is closed for good."""
    registry = _registry()
    if _POSTGRES.reconnects:
        return []
    broken = []
    for (backend, namespace), store in list(registry.items()):
        connection = getattr(store, _POSTGRES.attribute, None)
        if connection is not None and getattr(connection, "closed", 0):
            broken.append(f"{backend}/{namespace}")
    return sorted(broken)
