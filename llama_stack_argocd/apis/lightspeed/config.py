"""Configuration of `inline::argocd-lightspeed`."""

from __future__ import annotations

from typing import Any, Literal

from llama_stack.core.storage.datatypes import KVStoreReference
from pydantic import BaseModel, Field


class LightspeedConfig(BaseModel):
    kvstore: KVStoreReference
    default_model: str | None = Field(default=None, description="Used when a request names no model.")
    client_system_prompt: Literal["use", "ignore"] = Field(
        default="use",
        description="`use`: a request's system_prompt guides the model, under our tool and safety rules. "
        "`ignore`: only our instructions are used (OpenShift Lightspeed's default).",
    )
    feedback_enabled: bool = True

    @classmethod
    def sample_run_config(cls, __distro_dir__: str = "", **kwargs: Any) -> dict[str, Any]:
        return {"kvstore": {"namespace": "lightspeed", "backend": "kv_default"}}
