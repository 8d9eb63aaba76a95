"""The host (llama-stack 0.7 or OGX 1.5) and its private names: `make test-ogx` runs this file in the OGX venv too."""

from __future__ import annotations

import importlib
import sys

import pytest

from llama_stack_argocd import hosting


def test_every_private_name_of_this_host_is_there():
    assert hosting.missing_private_names() == []
    hosting.verify()


def test_the_renamed_names_resolve_on_this_host():
    assert callable(hosting.renamed("preserve_context_for_sse"))
    assert callable(hosting.renamed("sql_store"))
    assert issubclass(hosting.renamed("HostError"), Exception)


def test_the_old_package_names_are_the_hosts_modules():
    api = importlib.import_module("llama_stack_api")
    server = importlib.import_module("llama_stack.core.server.server")
    assert server.__name__.startswith(hosting.package() + ".")  # the prefix of the host's loggers
    if hosting.HOST == hosting.OGX:
        assert api is sys.modules["ogx_api"] and server is sys.modules["ogx.core.server.server"]
        assert api.__spec__.name == "ogx_api"  # the host's module keeps its own spec
    else:
        assert api.__name__ == "llama_stack_api" and server.__name__ == "llama_stack.core.server.server"
        assert not any(isinstance(finder, hosting._Alias) for finder in sys.meta_path)


def test_start_up_is_refused_naming_a_private_name_that_is_gone(monkeypatch):
    gone = (("llama_stack.core.server.fastapi_router_registry", "_ROUTER_FACTORIES_MOVED", "apis/overlays.py"),)
    monkeypatch.setitem(hosting.PRIVATE_NAMES, hosting.HOST, hosting.PRIVATE_NAMES[hosting.HOST] + gone)
    with pytest.raises(hosting.HostMismatch, match="_ROUTER_FACTORIES_MOVED \\(apis/overlays.py\\)"):
        hosting.verify()


def test_the_provider_spec_verifies_the_host(monkeypatch):
    """get_provider_spec() is where the host loads us, before any hook is installed."""
    from llama_stack_argocd import provider

    monkeypatch.setattr(hosting, "missing_private_names", lambda host=None: ["x.y (z)"])
    with pytest.raises(hosting.HostMismatch, match="x.y"):
        provider.get_provider_spec()


def test_the_responses_provider_passes_the_builtins_dependencies_by_its_signature():
    """llama-stack 0.7's builtin takes a safety API, OGX 1.5's takes skills instead: both get what they name."""
    import inspect

    from llama_stack_api import Api

    from llama_stack_argocd.providers.responses import builtin_dependencies
    from llama_stack_argocd.providers.responses.impl import ArgoCDResponsesImpl

    arguments = builtin_dependencies(ArgoCDResponsesImpl, {api: f"impl of {api.value}" for api in Api})
    assert arguments["inference_api"] == "impl of inference" and arguments["tool_groups_api"] == "impl of tool_groups"
    inspect.signature(ArgoCDResponsesImpl).bind(config=None, policy=[], **arguments)  # nothing missing, nothing extra


async def test_a_quota_counts_in_the_hosts_sql_store(tmp_path, monkeypatch):
    """The quota's usage store comes from the host's plain SQL store factory, synchronous on llama-stack 0.7 and a
    coroutine on OGX 1.5: on either, a store that counts (a coroutine in its place failed every turn with a 500)."""
    from llama_stack.core.storage.datatypes import SqliteSqlStoreConfig, SqlStoreReference
    from llama_stack.core.storage.sqlstore import sqlstore

    from llama_stack_argocd.security.quota import TABLE, QuotaExceeded, QuotaKeeper, QuotaSettings

    monkeypatch.setitem(sqlstore._SQLSTORE_BACKENDS, "quota_pin", SqliteSqlStoreConfig(db_path=str(tmp_path / "q.db")))
    store = await hosting.sql_store(SqlStoreReference(table_name=TABLE, backend="quota_pin"))
    try:
        keeper = QuotaKeeper(store, QuotaSettings(requests_per_hour=1))
        await keeper.admit("alice")
        with pytest.raises(QuotaExceeded):
            await keeper.admit("alice")
        assert await keeper.available("bob") == {"UserRequestQuota": 1}
    finally:
        await store.shutdown()
        sqlstore._SQLSTORE_INSTANCES.pop("quota_pin", None)
