"""Configuration of `inline::argocd-legacy-agents`: where agents and sessions are kept."""

from __future__ import annotations

from typing import Any

from llama_stack.core.storage.datatypes import KVStoreReference
from pydantic import BaseModel


class LegacyAgentsConfig(BaseModel):
    kvstore: KVStoreReference

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {"kvstore": {"namespace": "legacy_agents", "backend": "kv_default"}}
