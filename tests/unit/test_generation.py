"""The turn's output allowance, the deadlines on a model stream, and the embedded model's sampling defaults."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from llama_stack_api import OpenAIChatCompletionRequestWithExtraBody

from llama_stack_argocd.agent.generation import Deadline, GenerationSettings, ModelTimeout, bounded, output_allowance
from llama_stack_argocd.providers.inference.config import EmbeddedSampling
from llama_stack_argocd.providers.inference.embedded import with_sampling_defaults


def test_the_allowance_is_the_reserve_the_configured_value_or_the_callers_smaller_one():
    settings = GenerationSettings(max_output_tokens={"openai/small": 300, "^embedded/": 200})
    assert output_allowance("openai/big", 2048, settings, None) == 2048
    assert output_allowance("openai/small", 2048, settings, None) == 300
    assert output_allowance("embedded/smollm2", 2048, settings, None) == 200
    assert output_allowance("openai/big", 2048, settings, 64) == 64
    assert output_allowance("openai/small", 2048, settings, 9000) == 300


def event(kind: str) -> SimpleNamespace:
    return SimpleNamespace(type=kind)


async def model(first_after: float, gap: float, count: int, closed: list[bool]):
    try:
        yield event("response.created")
        yield event("response.in_progress")
        await asyncio.sleep(first_after)
        for _ in range(count):
            yield event("response.output_text.delta")
            await asyncio.sleep(gap)
    finally:
        closed.append(True)


async def drain(stream, settings: GenerationSettings) -> list[str]:
    return [e.type async for e in bounded(stream, Deadline(settings))]


@pytest.mark.parametrize("first_after, gap, words", [(5, 0, "did not answer"), (0, 5, "stopped sending")])
def test_a_silent_model_passes_a_bound_and_its_stream_is_closed(first_after, gap, words):
    closed: list[bool] = []
    settings = GenerationSettings(first_token_seconds=0.2, token_gap_seconds=0.2, turn_seconds=30)
    with pytest.raises(ModelTimeout, match=words) as raised:
        asyncio.run(drain(model(first_after, gap, 3, closed), settings))
    assert raised.value.status_code == 504
    assert closed == [True]


def test_the_whole_turn_is_bounded_even_when_every_gap_is_short():
    closed: list[bool] = []
    settings = GenerationSettings(first_token_seconds=1, token_gap_seconds=1, turn_seconds=0.5)
    with pytest.raises(ModelTimeout, match="longer than its limit"):
        asyncio.run(drain(model(0, 0.05, 1000, closed), settings))
    assert closed == [True]


def test_a_model_within_its_bounds_streams_to_the_end():
    closed: list[bool] = []
    settings = GenerationSettings(first_token_seconds=5, token_gap_seconds=5, turn_seconds=30)
    assert asyncio.run(drain(model(0, 0, 3, closed), settings)).count("response.output_text.delta") == 3


def test_the_embedded_model_gets_small_model_sampling_unless_the_caller_chose():
    unset = OpenAIChatCompletionRequestWithExtraBody(model="m", messages=[{"role": "user", "content": "hi"}])
    filled = with_sampling_defaults(unset, EmbeddedSampling())
    assert (filled.temperature, filled.top_p, filled.max_tokens) == (0.3, 0.9, 512)
    assert filled.model_extra["repeat_penalty"] == 1.15
    chosen = OpenAIChatCompletionRequestWithExtraBody(model="m", messages=[{"role": "user", "content": "hi"}],
                                                      temperature=1.0, max_completion_tokens=40, repeat_penalty=1.0)
    kept = with_sampling_defaults(chosen, EmbeddedSampling())
    assert (kept.temperature, kept.max_tokens, kept.max_completion_tokens) == (1.0, None, 40)
    assert kept.model_extra["repeat_penalty"] == 1.0


def fed(text: str, piece: int = 3) -> bool:
    from llama_stack_argocd.agent.generation import RepetitionGuard

    guard = RepetitionGuard()
    return any(guard.feed(text[i:i + piece]) for i in range(0, len(text), piece))


@pytest.mark.parametrize("text", [
    "The pod is crashing: The user is: " * 20,
    "ok " * 40,
    "Intro. " + "Check the events, then the logs of the previous container. " * 6,
])
def test_a_phrase_over_and_over_is_a_loop(text):
    assert fed(text)


@pytest.mark.parametrize("text", [
    "Argo CD compares the desired state in Git with the live state and reports OutOfSync when they differ. "
    "A sync applies the manifests; waves order it, lower waves first, each waiting for health before the next.",
    " ".join(f"step {i}: restart pod-{i}" for i in range(60)),
    "- a\n- b\n- c\n- d\n",
])
def test_an_ordinary_answer_is_not(text):
    assert not fed(text)
