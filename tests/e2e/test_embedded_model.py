"""With no inference configured, the distribution answers with the embedded SmolLM2 model, streamed; with another
model configured the embedded one stays off. The 135M model's wording is never asserted."""

from __future__ import annotations

import asyncio
import json
import os

import httpx
import pytest
import yaml
from openai import OpenAI

from llama_stack_argocd.providers.inference.config import (
    OTHER_INFERENCE_ENV,
    OTHER_INFERENCE_SUBSTITUTION,
    EmbeddedModelConfig,
)
from tests.support.stack import ROOT, StackHandle

CONFIG = ROOT / "tests/e2e/configs/embedded.yaml"
NO_OTHER_INFERENCE = dict.fromkeys(OTHER_INFERENCE_ENV)  # None: unset, whatever the shell exports


def llms(base_url: str) -> list[str]:
    return [m["id"] for m in httpx.get(f"{base_url}/v1/models").json()["data"] if m.get("model_type") == "llm"]


def embedded_provider(base_url: str) -> dict:
    providers = httpx.get(f"{base_url}/v1/providers").json()["data"]
    return next(p for p in providers if p["provider_type"] == "inline::argocd-embedded")


@pytest.fixture(scope="module")
def embedded(stack_with) -> StackHandle:
    """The default distribution with no inference configured: the embedded model, loaded once for the tests below."""
    return stack_with(model=None, cluster=None, env={**NO_OTHER_INFERENCE, "KUBECONFIG": os.devnull})


def test_default_distribution_streams_an_answer_from_the_embedded_model(embedded):
    stack = embedded
    assert llms(stack.base_url) == ["embedded/smollm2"]
    client = OpenAI(base_url=f"{stack.base_url}/v1", api_key="none", max_retries=0)
    stream = client.chat.completions.create(
        model="embedded/smollm2", stream=True, max_tokens=32,
        messages=[{"role": "user", "content": "What is Argo CD?"}],
    )
    texts = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert len(texts) >= 3, texts
    assert "".join(texts).strip()
    # and through the agent, as the extension's V2 provider asks
    with httpx.stream("POST", f"{stack.base_url}/v1/responses", timeout=120, json={
        "model": "embedded/smollm2", "input": "Say hello.", "stream": True, "max_output_tokens": 24,
    }) as response:
        body = response.read().decode()
    assert '"response.output_text.delta"' in body
    # 24 tokens may cut the answer short: then the stream ends "incomplete" rather than "completed"
    assert '"type":"response.completed"' in body or '"type":"response.incomplete"' in body
    # llama.cpp is inside the distribution's process: no second process to start or stop
    assert "embedded model server started" in stack.log_text()


def test_the_readmes_examples_finish_with_the_embedded_model(embedded):
    """`make run` as a new user tries it: no output limit in the requests, and both answers end (bounded tokens)."""
    stack = embedded
    with httpx.stream("POST", f"{stack.base_url}/v1/responses", timeout=300, json={
        "model": "embedded/smollm2", "input": "What does OutOfSync mean in Argo CD?", "stream": True,
    }) as response:
        body = response.read().decode()
    assert '"type":"response.completed"' in body or '"type":"response.incomplete"' in body, body[-2000:]
    answer = httpx.post(f"{stack.base_url}/v1/query", timeout=300, json={"query": "What is a sync wave?"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["output_tokens"] <= 2048


def test_the_embedded_models_answer_starts_with_what_was_checked(embedded):
    """The 135M model rarely quotes evidence: by default its answers start with the findings and their evidence."""
    events = json.dumps({"apiVersion": "v1", "items": [
        {"reason": "BackOff", "type": "Warning", "message": "Back-off restarting failed container web", "count": 7,
         "involvedObject": {"kind": "Pod", "name": "web-6f9c7d8b5-x2kqz"}}]})
    stack = embedded
    with httpx.stream("POST", f"{stack.base_url}/v1/responses", timeout=120, json={
        "model": "embedded/smollm2", "stream": True, "max_output_tokens": 16,
        "input": f"Why does it restart?\n\n[Attachment:application/json]\n{events}",
    }) as response:
        lines = [json.loads(line[6:]) for line in response.iter_lines() if line.startswith("data: ")]
    shown = "".join(e["delta"] for e in lines if "delta" in e)
    assert shown.startswith("**What I checked**") and "Back-off restarting failed container web" in shown
    final = next(e["response"] for e in lines if e.get("type") in ("response.completed", "response.incomplete"))
    stored = httpx.get(f"{stack.base_url}/v1/responses/{final['id']}").json()
    assert stored["output"][0]["content"][0]["text"].startswith("**What I checked**")


def test_another_model_keeps_the_embedded_one_off(stack_with, scripted_llm):
    with stack_with(CONFIG, model=scripted_llm, cluster=None) as stack:  # the other inference variables unset
        assert llms(stack.base_url) == ["openai/scripted"]
        assert embedded_provider(stack.base_url)["config"]["other_inference"].strip() == "OPENAI_BASE_URL"
        assert "embedded model server started" not in stack.log_text()
        # the launcher restarts on the same port with the same state
        url, state = stack.base_url, stack.state_dir
        stack.restart()
        assert (stack.base_url, stack.state_dir) == (url, state)
        assert llms(stack.base_url) == ["openai/scripted"]


@pytest.mark.parametrize("configured", [(), ("VLLM_URL",), ("OLLAMA_URL",), ("OPENAI_BASE_URL",),
                                        ("LLAMA_CPP_SERVER_URL",), ("VLLM_URL", "OPENAI_BASE_URL")])
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_run_config_block_selects_the_embedded_model_only_without_another(configured, monkeypatch):
    from llama_stack.core.datatypes import StackConfig
    from llama_stack.core.stack import replace_env_vars

    for name in OTHER_INFERENCE_ENV:
        monkeypatch.delenv(name, raising=False)
    for name in configured:
        monkeypatch.setenv(name, "http://127.0.0.1:9/v1")
    raw = yaml.safe_load(CONFIG.read_text())
    assert raw["providers"]["inference"][0]["config"]["other_inference"] == OTHER_INFERENCE_SUBSTITUTION.strip()
    providers = [p for p in StackConfig(**replace_env_vars(raw)).providers["inference"] if p.provider_id]
    embedded = EmbeddedModelConfig(**providers[0].config)
    assert bool(embedded.other_inference) == bool(configured)
    assert len(providers) == 1 + len(configured)


def test_the_server_lives_across_event_loops_and_stops_with_shutdown():
    """llama-stack initializes providers in a temporary loop and serves from another; shutdown() frees the port."""
    from llama_stack_argocd.providers.inference import get_provider_impl

    adapter = asyncio.run(get_provider_impl(EmbeddedModelConfig(other_inference=None, context_size=2048), {}))
    url = adapter.get_base_url()

    async def serve() -> str:
        assert await adapter.list_provider_model_ids() == ["smollm2"]
        assert (await adapter.health())["status"] == "OK"
        reply = await adapter.client.chat.completions.create(
            model="smollm2", max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
        return reply.choices[0].message.content

    try:
        assert asyncio.run(serve()) is not None
        assert httpx.get(f"{url}/models").status_code == 401, "the per-start API key is required"
    finally:
        asyncio.run(adapter.shutdown())
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models", timeout=2)
