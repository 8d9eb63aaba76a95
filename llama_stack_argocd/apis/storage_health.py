"""Storage connections llama-stack cannot re-open by itself, reported by /liveness so the kubelet restarts the pod.

llama-stack 0.7's `kv_postgres` store keeps one psycopg2 connection per namespace and never reconnects: after a
PostgreSQL restart or failover, every request touching that store fails until the process restarts. psycopg2 marks
such a connection closed on the first failed statement; nothing is queried here. SQL stores (SQLAlchemy pools with
pre-ping) recover by themselves. Tied to llama-stack 0.7.x's store registry (a unit test fails if it moves).
"""

from __future__ import annotations

from llama_stack.core.storage.kvstore import kvstore as _kvstore


def broken_kv_stores() -> list[str]:
    """`backend/namespace` of every KV store whose database connection is closed for good."""
    broken = []
    for (backend, namespace), store in list(_kvstore._KVSTORE_INSTANCES.items()):
        connection = getattr(store, "_conn", None)
        if connection is not None and getattr(connection, "closed", 0):
            broken.append(f"{backend}/{namespace}")
    return sorted(broken)
