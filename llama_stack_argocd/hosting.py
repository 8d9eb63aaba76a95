"""Which server hosts this package, llama-stack 0.7 or OGX 1.5, and every name that differs between the two.

OGX is llama-stack renamed (`llama_stack` -> `ogx`, `llama_stack_api` -> `ogx_api`) with the same module layout for
everything this package uses, so on OGX the two old package names are aliases of the new ones (`install()`, run
when the package is imported): the rest of the package keeps one spelling and imports nothing host-specific.
The few names that moved or were renamed are resolved here and nowhere else (`renamed()`), and the one call
whose convention differs, the plain SQL store factory, is wrapped here (`sql_store()`). Facts that are behaviour,
not names, are here too: how each host's PostgreSQL KV store holds its database (`KV_POSTGRES`, for /liveness) and
the package its loggers are named under (`package()`, for log hygiene).

Private names (the hook points of apis/overlays.py, apis/edge.py, speedups.py, ...) are listed per host in
`PRIVATE_NAMES`; `missing_private_names()` says which of them the installed host lacks: unit tests pin them per host
and start-up refuses (naming them) when one is gone. The host is whichever is installed; `pip install -e '.[ogx]'`
or `'.[llama-stack]'` picks it.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import inspect
import sys
from types import ModuleType
from typing import Any, Final, Literal, NamedTuple

Host = Literal["llama-stack", "ogx"]

LLAMA_STACK: Final = "llama-stack"
OGX: Final = "ogx"

# The old package name -> the host's package name (identity on llama-stack).
_PACKAGES: Final[dict[Host, dict[str, str]]] = {
    "llama-stack": {"llama_stack": "llama_stack", "llama_stack_api": "llama_stack_api"},
    "ogx": {"llama_stack": "ogx", "llama_stack_api": "ogx_api"},
}

# Names that moved between the hosts: (module, attribute) by host, under one key.
_RENAMED: Final[dict[str, dict[Host, tuple[str, str]]]] = {
    "preserve_context_for_sse": {
        "llama-stack": ("llama_stack_api.responses.fastapi_routes", "_preserve_context_for_sse"),
        "ogx": ("ogx_api.common.sse_context", "preserve_context_for_sse"),
    },
    # A plain (not access-controlled) SQL store for a table: synchronous on llama-stack 0.7; a coroutine on OGX 1.5,
    # where `get_system_sqlstore` is the public door to it (the private `_sqlstore_impl` behind it).
    "sql_store": {
        "llama-stack": ("llama_stack.core.storage.sqlstore.sqlstore", "sqlstore_impl"),
        "ogx": ("ogx.core.storage.sqlstore.sqlstore", "get_system_sqlstore"),
    },
    "HostError": {
        "llama-stack": ("llama_stack_api.common.errors", "LlamaStackError"),
        "ogx": ("ogx_api.common.errors", "OGXError"),
    },
}


class KVPostgres(NamedTuple):
    """How the host's PostgreSQL KV store (`PostgresKVStoreImpl`) holds its database, as /liveness must know."""

    attribute: str  # the instance attribute holding the connection or pool
    reconnects: bool  # whether the store opens the database again by itself after a restart or failover


# llama-stack 0.7: one psycopg2 connection, closed for good once the database went away (only a restart re-opens
# it); OGX 1.5: an asyncpg pool whose every call expires the pool's connections and retries once on a lost one.
KV_POSTGRES: Final[dict[Host, KVPostgres]] = {
    "llama-stack": KVPostgres("_conn", reconnects=False),
    "ogx": KVPostgres("_pool", reconnects=True),
}

# Every private or internal name the package hooks into, in the old spelling (aliased on OGX), with its user;
# `Class.attribute` names an attribute of a class or one its `__init__` sets.
PRIVATE_NAMES: Final[dict[Host, tuple[tuple[str, str, str], ...]]] = {
    host: (
        ("llama_stack.core.server.fastapi_router_registry", "_ROUTER_FACTORIES", "apis/overlays.py"),
        ("llama_stack.core.storage.kvstore.kvstore", "_KVSTORE_INSTANCES", "apis/storage_health.py"),
        ("llama_stack.core.storage.kvstore.postgres.postgres", f"PostgresKVStoreImpl.{KV_POSTGRES[host].attribute}",
         "apis/storage_health.py"),
        ("llama_stack.core.routers.inference", "TypeAdapter", "speedups.py"),
        ("llama_stack.core.server.metrics", "RequestMetricsMiddleware", "apis/edge.py"),
        ("llama_stack.core.server.auth_providers", "CustomAuthProvider", "apis/edge.py"),
        ("llama_stack.core.server.server", "global_exception_handler", "logs.py"),
        ("llama_stack.core.providers", "ProviderImpl", "apis/provider_health.py"),
        ("llama_stack.core.admin", "AdminImpl", "apis/provider_health.py"),
        _RENAMED["preserve_context_for_sse"][host] + ("apis/overlays.py",),
        _RENAMED["sql_store"][host] + ("providers/responses/impl.py",),
    )
    for host in ("llama-stack", "ogx")
}


def _detect() -> Host:
    if importlib.util.find_spec("llama_stack_api") is not None and importlib.util.find_spec("ogx_api") is None:
        return "llama-stack"
    if importlib.util.find_spec("ogx_api") is not None:
        return "ogx"
    raise ImportError(
        "llama-stack-argocd needs a host server: install llama-stack 0.7 (`pip install 'llama_stack_argocd[llama-stack]'`)"
        " or OGX 1.5 (`pip install 'llama_stack_argocd[ogx]'`)."
    )


HOST: Final[Host] = _detect()


def package(old: str = "llama_stack") -> str:
    """The host's name for one of the old package names (`llama_stack` is `ogx` on OGX): its loggers' prefix."""
    return _PACKAGES[HOST][old]


def cli() -> list[str]:
    """The command that starts a server with a config on this host (before the config path)."""
    return ["llama", "stack", "run"] if HOST == "llama-stack" else ["ogx", "run", "--insecure"]


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports `llama_stack[...]` / `llama_stack_api[...]` as the host's module of the same path (one object)."""

    def __init__(self, packages: dict[str, str]) -> None:
        self.packages = {old: new for old, new in packages.items() if old != new}

    def _target(self, fullname: str) -> str | None:
        head, _, rest = fullname.partition(".")
        new = self.packages.get(head)
        if new is None:
            return None
        return f"{new}.{rest}" if rest else new

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if self._target(fullname) is None:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        target = self._target(spec.name)
        assert target is not None
        module = importlib.import_module(target)
        spec.loader_state = module.__spec__  # importlib overwrites it with the alias's spec; put back below
        return module

    def exec_module(self, module: ModuleType) -> None:
        # The host's module is already executed; it keeps its own spec (its name, its submodule search).
        if module.__spec__ is not None and module.__spec__.loader_state is not None:
            module.__spec__ = module.__spec__.loader_state


def install() -> None:
    """On OGX, make the old package names aliases of the new ones; idempotent, nothing to do on llama-stack."""
    if HOST == "ogx" and not any(isinstance(finder, _Alias) for finder in sys.meta_path):
        sys.meta_path.insert(0, _Alias(_PACKAGES["ogx"]))


def renamed(key: str) -> Any:
    """The host's object for a name that moved between the hosts (a key of `_RENAMED`)."""
    module, attribute = _RENAMED[key][HOST]
    return getattr(importlib.import_module(module), attribute)


async def sql_store(reference: Any) -> Any:
    """The host's plain SQL store for a `SqlStoreReference` (the host's factory is awaited where it is a coroutine)."""
    store = renamed("sql_store")(reference)
    return await store if inspect.isawaitable(store) else store


def missing_private_names(host: Host | None = None) -> list[str]:
    """`module.attribute (user)` for every private name of the installed host that is not there."""
    return [f"{module}.{attribute} ({user})" for module, attribute, user in PRIVATE_NAMES[host or HOST]
            if not _present(module, attribute)]


def _present(module: str, attribute: str) -> bool:
    try:
        owner: Any = importlib.import_module(module)
    except ImportError:
        return False
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part, None)
    if owner is None:
        return False
    if hasattr(owner, name):
        return True
    # An instance attribute exists only once an instance is built: the class's __init__ must assign it.
    init = getattr(owner, "__init__", None) if isinstance(owner, type) else None
    return name in getattr(getattr(init, "__code__", None), "co_names", ())


class HostMismatch(RuntimeError):
    """The installed host lacks a name this package hooks into: serving on would silently lose a guarantee."""


def verify() -> None:
    """Refuse to start when a private name is gone (called while the providers load)."""
    missing = missing_private_names()
    if missing:
        raise HostMismatch(
            f"llama-stack-argocd cannot run on this {HOST} version: {', '.join(missing)} is gone. "
            "Use llama-stack 0.7.x or OGX 1.5.x."
        )
