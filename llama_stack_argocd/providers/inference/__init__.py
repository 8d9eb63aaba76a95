"""`inline::argocd-embedded`: SmolLM2 served in-process by llama.cpp (xllamacpp) on loopback.

llama-stack 0.7 has no inline text generation; this provider starts llama.cpp's own OpenAI-compatible server inside
the distribution's process, on 127.0.0.1 and a free port, and lets llama-stack's llama.cpp adapter talk to it. It
starts and stops with the distribution, so one command gives a working assistant, offline.
"""

from typing import Any

from .config import EmbeddedModelConfig


async def get_provider_impl(config: EmbeddedModelConfig, deps: dict[Any, Any]):
    from llama_stack_argocd.apis.provider_health import reports_health

    from .embedded import EmbeddedInferenceAdapter

    adapter = EmbeddedInferenceAdapter(config=config)
    await adapter.initialize()
    return reports_health(adapter)
