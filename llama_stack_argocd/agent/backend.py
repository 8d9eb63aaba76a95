"""What the agent core needs of llama-stack's builtin Responses: one model round, a chain's history, and two
corrections to what the builtin stored.

The provider (`inline::argocd-responses`) implements it over the builtin; the unit tests over a script. Nothing
else of llama-stack is reached from the turn loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from llama_stack_api import CreateResponseRequest


class ResponsesBackend(Protocol):
    async def create(self, request: CreateResponseRequest) -> AsyncIterator[Any]:
        """Start one streamed, stored round; its Responses stream events. Raises when the round cannot start
        (an unknown previous response, a model that is not registered, ...)."""
        ...

    async def history(self, response_id: str) -> list[Any]:
        """The items continuing from a stored response replays (its input, then its output); empty when unknown."""
        ...

    async def settle(self, response_id: str, message: str) -> None:
        """Mark a stored response its stream left behind (abandoned past a bound, or its client gone) as failed."""
        ...

    async def store(self, response: Any) -> None:
        """Store a response the agent changed in place of the builtin's: a round it stopped (a loop), or the last
        round with the diagnosis block before the model's output."""
        ...
