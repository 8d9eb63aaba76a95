"""With no inference configured, `llama stack run run.yaml` answers with the embedded model, streamed."""

from __future__ import annotations

import os

import httpx
from openai import OpenAI

from tests.support.stack import ROOT, running_stack, write_config

INFERENCE_ENV = ("VLLM_URL", "OLLAMA_URL", "OPENAI_BASE_URL", "LLAMA_CPP_SERVER_URL")


def test_embedded_model_streams_an_answer(tmp_path, monkeypatch):
    for name in INFERENCE_ENV:
        monkeypatch.delenv(name, raising=False)
    config = write_config(ROOT / "run.yaml", tmp_path)
    with running_stack(config, env={"KUBECONFIG": os.devnull}) as stack:
        models = httpx.get(f"{stack.base_url}/v1/models").json()["data"]
        assert [m["id"] for m in models if m["model_type"] == "llm"] == ["embedded/smollm2"]
        client = OpenAI(base_url=f"{stack.base_url}/v1", api_key="none")
        chunks = client.chat.completions.create(
            model="embedded/smollm2", stream=True, max_tokens=24,
            messages=[{"role": "user", "content": "What is Argo CD?"}],
        )
        texts = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        assert len(texts) >= 3 and "".join(texts).strip()
        # and through the agent, as the extension's V2 provider asks
        with httpx.stream("POST", f"{stack.base_url}/v1/responses", timeout=120, json={
            "model": "embedded/smollm2", "input": "Say hello.", "stream": True, "max_output_tokens": 24,
        }) as response:
            body = response.read().decode()
        assert '"response.output_text.delta"' in body
        # 24 tokens may cut the answer short: then the stream ends "incomplete" rather than "completed"
        assert '"type":"response.completed"' in body or '"type":"response.incomplete"' in body
