"""The turn's output allowance, the deadlines on a model stream, and the embedded model's sampling defaults."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from llama_stack_api import OpenAIChatCompletionRequestWithExtraBody

from llama_stack_argocd.agent.generation import (
    Deadline,
    GenerationSettings,
    ModelRound,
    ModelTimeout,
    output_allowance,
)
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
    model_round = ModelRound(stream, Deadline(settings))
    try:
        return [e.type async for e in model_round.events()]
    finally:
        await model_round.closed()


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


class Connection:
    """What the innermost layer of llama-stack's stream holds: the HTTP response of the model call."""

    def __init__(self) -> None:
        self.open = True


async def http_layer(connection: Connection, words: int, silent: bool):
    try:
        for i in range(words):
            await asyncio.sleep(10 if silent and i else 0.01)  # the read of the next chunk
            yield event("response.output_text.delta")
    finally:
        connection.open = False


async def wrapping_layer(inner):
    """A layer above it (router, orchestrator, builtin): `async for` over the one below, no close of its own."""
    async for item in inner:
        yield item


def layered(connection: Connection, keep: list, silent: bool = False):
    inner = http_layer(connection, 10_000, silent)
    keep.append(inner)  # something in the chain still refers to the inner layer (as llama-stack's objects do)
    return wrapping_layer(wrapping_layer(inner))


@pytest.mark.parametrize("leave", ["stop reading", "cancelled", "deadline"])
def test_leaving_a_round_closes_the_innermost_connection_at_once(leave):
    """Closing the outer generator of a chain does not close the inner ones; stopping the round does, for the
    repetition guard (the reader stops), a client that went away (the reader is cancelled) and a bound."""
    connection, keep = Connection(), []
    settings = GenerationSettings(first_token_seconds=5, token_gap_seconds=0.2 if leave == "deadline" else 5)

    async def turn() -> None:
        model_round = ModelRound(layered(connection, keep, silent=leave == "deadline"), Deadline(settings))
        events = model_round.events()
        await anext(events)
        if leave == "deadline":
            with pytest.raises(ModelTimeout):
                await anext(events)
            await model_round.closed()
            return
        if leave == "stop reading":
            await events.aclose()
            await model_round.closed()
            return
        async def read() -> None:
            async for _ in events:
                pass

        reader = asyncio.ensure_future(read())
        await asyncio.sleep(0.05)
        reader.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reader
        model_round.then(lambda: asyncio.sleep(0))
        for _ in range(50):
            if not connection.open:
                return
            await asyncio.sleep(0.01)

    asyncio.run(turn())
    assert not connection.open, "the model call runs on"


def test_a_failing_stream_fails_the_reader_with_its_own_error():
    async def failing():
        yield event("response.created")
        raise RuntimeError("peer closed connection")

    with pytest.raises(RuntimeError, match="peer closed connection"):
        asyncio.run(drain(failing(), GenerationSettings()))


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


def test_the_embedded_model_gets_a_short_answer_unless_configured_otherwise():
    """Its tokens come slowly on a few CPU cores: the reserve of its 8k window would let one answer run minutes."""
    from llama_stack_argocd.agent.generation import KNOWN_OUTPUT_BOUNDS

    bound = KNOWN_OUTPUT_BOUNDS[r"smollm|argocd-embedded"]
    assert output_allowance("embedded/smollm2", 2048, GenerationSettings(), None) == bound < 2048
    assert output_allowance("local/argocd-embedded", 2048, GenerationSettings(), None) == bound
    assert output_allowance("embedded/smollm2", 2048, GenerationSettings(max_output_tokens={"smollm": 600}), None) == 600
    assert output_allowance("openai/gpt-4o", 2048, GenerationSettings(), None) == 2048
