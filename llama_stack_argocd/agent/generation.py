"""Generation that ends: the output budget of a turn and the deadlines on the model's stream.

A model that never answers, stalls between tokens or talks for ever must not hold a request (or a core) open: each
round's Responses stream is read under three bounds (first model event, gap between events, whole turn), and a
bound passed ends the turn with a `TurnFailure` of status 504; any other model failure is a 502. Every dialect
maps that one failure type onto its own error shape. Whatever ends a round early (a bound, the repetition guard,
a client that went away) closes the model call at once (`ModelRound`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel, Field

from llama_stack_argocd import hosting

# Events the builtin emits before it asks the model anything: the first-token bound starts after them.
_BEFORE_THE_MODEL = {"response.created", "response.in_progress"}


class GenerationSettings(BaseModel):
    """Bounds on what one turn may ask of the model (configuration `agent.generation`)."""

    first_token_seconds: float = Field(default=60.0, gt=0, description="Time to the model's first event of a round.")
    token_gap_seconds: float = Field(default=30.0, gt=0, description="Longest silence between two model events.")
    turn_seconds: float = Field(default=300.0, gt=0, description="Whole turn, tool rounds included.")
    max_output_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="Output tokens per turn by model id (or regex); unset: the context budget's answer reserve.",
    )


class TurnFailure(hosting.renamed("HostError")):  # type: ignore[misc]  # the host's base error (its handler maps it)
    """The turn could not be answered: 504 when a bound on the model passed, 502 for any other model failure."""

    def __init__(self, message: str, status_code: int = httpx.codes.BAD_GATEWAY) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


class ModelTimeout(TurnFailure):
    def __init__(self, message: str) -> None:
        super().__init__(message, httpx.codes.GATEWAY_TIMEOUT)


# Models whose every output token is slow: the embedded SmolLM2 on a few CPU cores writes some 10-30 tokens a second,
# so the budget's reserve (2,048 of its 8k window) would let one answer run for minutes. Its answer starts with the
# diagnosis block the server writes; the model's own text after it is kept short. `max_output_tokens` overrides.
KNOWN_OUTPUT_BOUNDS: dict[str, int] = {r"smollm|argocd-embedded": 192}


def output_allowance(model: str | None, reserve: int, settings: GenerationSettings, caller: int | None) -> int:
    """Tokens the turn's answer may take: the configured one for the model, else a known bound for it
    (`KNOWN_OUTPUT_BOUNDS`), else the budget's reserve; a smaller value the caller set wins."""
    configured = _per_model(model, settings.max_output_tokens)
    if configured is None:
        configured = _per_model(model, KNOWN_OUTPUT_BOUNDS)
    allowance = configured if configured is not None else reserve
    return min(allowance, caller) if caller else allowance


def _per_model(model: str | None, table: Mapping[str, int]) -> int | None:
    if not model:
        return None
    for key, value in table.items():
        if key.lower() == model.lower():
            return int(value)
    for key, value in table.items():
        try:
            if re.search(key, model, re.IGNORECASE):
                return int(value)
        except re.error:
            continue
    return None


class Deadline:
    """The whole-turn bound, shared by the rounds of one turn."""

    def __init__(self, settings: GenerationSettings) -> None:
        self.settings = settings
        self.ends_at = time.monotonic() + settings.turn_seconds

    def left(self) -> float:
        return self.ends_at - time.monotonic()


class _End:
    """The pump's last item: the stream ended, by itself or with `error`."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error


# Pumps still closing their model call after the turn let go of them (a task needs a strong reference to live).
_CLOSING: set[asyncio.Task[None]] = set()


class ModelRound:
    """One round's model stream, read in a task of its own and handed over under the deadlines.

    llama-stack's stream is a chain of async generators down to the HTTP response of the model call. Closing the
    outermost one (a bound passed, the repetition guard, a client that went away) leaves the inner ones suspended,
    so the call would run on until garbage collection finds them. Cancelling the task that reads the chain
    delivers the cancellation at the read itself: every layer unwinds and the connection to the model is closed.
    The task copies the request's context (caller, request id, provider data) when it starts.
    """

    def __init__(self, stream: AsyncIterator[Any], deadline: Deadline) -> None:
        self.deadline = deadline
        self._queue: asyncio.Queue[Any] = asyncio.Queue()  # unbounded: the round's output tokens bound it
        self._pump = asyncio.create_task(self._read(aiter(stream)))

    async def _read(self, iterator: AsyncIterator[Any]) -> None:
        # Never suspended outside the stream itself, so a cancellation always lands inside the model call.
        try:
            async for event in iterator:
                self._queue.put_nowait(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - handed to the reader, who raises it as the stream's own
            self._queue.put_nowait(_End(exc))
            return
        self._queue.put_nowait(_End())

    async def events(self) -> AsyncGenerator[Any, None]:
        """The round's events, each within its bound; past one `ModelTimeout` says which bound passed. Leaving
        (for any reason) stops the model call."""
        settings = self.deadline.settings
        waiting_for_model = True
        try:
            while True:
                bound = settings.first_token_seconds if waiting_for_model else settings.token_gap_seconds
                wait = min(bound, self.deadline.left())
                try:
                    event = await asyncio.wait_for(self._queue.get(), timeout=max(0.0, wait))
                except TimeoutError:
                    raise ModelTimeout(_timeout_message(waiting_for_model, bound, wait, settings)) from None
                if isinstance(event, _End):
                    if event.error is not None:
                        raise event.error
                    return
                if getattr(event, "type", "") not in _BEFORE_THE_MODEL:
                    waiting_for_model = False
                yield event
        finally:
            self.stop()

    def stop(self) -> None:
        """Cancel the model call now; it finishes closing on its own (see `closed`)."""
        if not self._pump.done():
            self._pump.cancel()
            _CLOSING.add(self._pump)
            self._pump.add_done_callback(_CLOSING.discard)

    async def closed(self, timeout: float = 5.0) -> None:
        """Stop the model call and wait (bounded) until its connection is closed and its layers have unwound, so
        that nothing the round stores afterwards can be overwritten by it."""
        self.stop()
        await asyncio.wait({self._pump}, timeout=timeout)

    def then(self, follow_up: Callable[[], Awaitable[None]]) -> None:
        """Run `follow_up` once the model call has closed, in a task of its own: for a turn that is being
        cancelled itself and can no longer wait (its client went away)."""
        async def after() -> None:
            await self.closed()
            await follow_up()

        task = asyncio.create_task(after())
        _CLOSING.add(task)
        task.add_done_callback(_CLOSING.discard)


def _timeout_message(waiting_for_model: bool, bound: float, wait: float, settings: GenerationSettings) -> str:
    if wait < bound:
        return f"The turn took longer than its limit of {settings.turn_seconds:g} s; the model call was stopped."
    if waiting_for_model:
        return f"The model did not answer within {bound:g} s; the model call was stopped."
    return f"The model stopped sending for {bound:g} s; the model call was stopped."


REPETITION_MARKER = "\n\n[The answer was stopped here: it kept repeating itself.]"


class RepetitionGuard:
    """Sees a streamed answer word by word and says when its tail is one phrase over and over (an n-gram loop,
    what small models fall into): the same run of `shortest`..`longest` words `times` times in a row."""

    def __init__(self, times: int = 4, shortest: int = 1, longest: int = 40, min_words: int = 24) -> None:
        self.times, self.shortest, self.longest, self.min_words = times, shortest, longest, min_words
        self._words: list[str] = []
        self._partial = ""

    def feed(self, delta: str) -> bool:
        text = self._partial + delta
        parts = text.split()
        self._partial = "" if text[-1:].isspace() or not parts else parts.pop()
        self._words.extend(parts)
        return bool(parts) and self.looping()

    def looping(self) -> bool:
        words = self._words[-self.longest * self.times:]
        for period in range(self.shortest, self.longest + 1):
            span = period * self.times
            if span > len(words):
                break
            if span < self.min_words:  # a short phrase must come back more often than `times` to count
                reps = -(-self.min_words // period)
                tail, unit = words[-reps * period:], words[-period:]
                if len(tail) == reps * period and all(tail[i * period:(i + 1) * period] == unit for i in range(reps)):
                    return True
                continue
            tail = words[-span:]
            unit = tail[-period:]
            if all(tail[i * period:(i + 1) * period] == unit for i in range(self.times)):
                return True
        return False
