"""distributions/argocd/scale-out.yaml: proxy-trust's settings exactly, with every store in PostgreSQL."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from llama_stack.core.datatypes import StackConfig
from llama_stack.core.stack import EnvVarError, replace_env_vars

REPO = Path(__file__).resolve().parents[3]
SCALE_OUT = REPO / "distributions/argocd/scale-out.yaml"
PROXY_TRUST = REPO / "distributions/argocd/proxy-trust.yaml"
FILES_DIR = ("providers", "files", 0, "config", "storage_dir")
POSTGRES_ENV = {"POSTGRES_HOST": "db.example.test", "POSTGRES_PORT": "5433", "POSTGRES_DB": "assistant",
                "POSTGRES_USER": "assistant", "POSTGRES_PASSWORD": "pw:/?#-x"}


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def without(config: dict[str, Any], *paths: tuple[Any, ...]) -> dict[str, Any]:
    config = copy.deepcopy(config)
    for path in paths:
        node = config
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]
    return config


def references(node: Any, where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every store reference (a mapping with `backend`) anywhere in the config."""
    found = []
    if isinstance(node, dict):
        if "backend" in node and isinstance(node["backend"], str):
            found.append((where, node))
        for key, value in node.items():
            found += references(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += references(value, f"{where}[{index}]")
    return found


def test_everything_but_storage_is_proxy_trust():
    """Trust (proxy secret, authentication hook, identity), providers and APIs: one set of settings, two storages."""
    scale_out, proxy_trust = load(SCALE_OUT), load(PROXY_TRUST)
    assert without(scale_out, ("storage", "backends"), FILES_DIR) == without(proxy_trust, ("storage", "backends"),
                                                                              FILES_DIR)
    assert scale_out["server"]["auth"] == proxy_trust["server"]["auth"]


def test_every_store_reference_resolves_to_postgres():
    config = load(SCALE_OUT)
    backends = config["storage"]["backends"]
    assert {b["type"] for b in backends.values()} == {"kv_postgres", "sql_postgres"}
    found = references(config)
    assert {where for where, _ in found} >= {
        ".storage.stores.metadata", ".storage.stores.conversations", ".storage.stores.inference",
        ".providers.responses[0].config.persistence.agent_state", ".providers.responses[0].config.persistence.responses",
        ".providers.files[0].config.metadata_store", ".providers.legacy_agents[0].config.kvstore",
        ".providers.lightspeed[0].config.kvstore",
    }
    for where, reference in found:
        kind = backends[reference["backend"]]["type"]
        assert kind == ("kv_postgres" if "namespace" in reference else "sql_postgres"), (where, kind)


def test_it_validates_as_a_llama_stack_config_with_the_settings_from_the_environment(monkeypatch):
    for name, value in POSTGRES_ENV.items():
        monkeypatch.setenv(name, value)
    config = StackConfig(**replace_env_vars(load(SCALE_OUT)))
    for backend in config.storage.backends.values():
        assert (backend.host, str(backend.port), backend.db, backend.user, backend.password) == (
            "db.example.test", "5433", "assistant", "assistant", "pw:/?#-x")
    sql = config.storage.backends["sql_default"]
    assert sql.engine_str == "postgresql+asyncpg://assistant:pw:/?#-x@db.example.test:5433/assistant"


def test_a_missing_password_is_a_clear_start_up_error(monkeypatch):
    for name, value in POSTGRES_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("POSTGRES_PASSWORD")
    with pytest.raises(EnvVarError, match="POSTGRES_PASSWORD"):
        replace_env_vars(load(SCALE_OUT))

