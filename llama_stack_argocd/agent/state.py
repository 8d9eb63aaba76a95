"""What the agent remembers between turns: which attachments a conversation has already seen, and tool calls
waiting for the user's approval.

The extension re-sends the manifest, events and logs with every turn; the model needs each of them once per
conversation, and again only when it changed. Stored per response id (and per llama-stack conversation id), so it
follows `previous_response_id` chains and `conversation`s, and lives in whatever KV store the distribution
configures (surviving restarts, shared by replicas on PostgreSQL).
"""

from __future__ import annotations

import json
from typing import Any, Protocol


class KeyValueStore(Protocol):
    """The subset of llama-stack's KVStore the agent uses."""

    async def get(self, key: str) -> str | None: ...

    async def set(self, key: str, value: str) -> None: ...


class ConversationMemory:
    _PREFIX = "argocd-agent:seen:"
    _PENDING = "argocd-agent:pending:"

    def __init__(self, store: KeyValueStore) -> None:
        self._store = store

    async def seen(self, response_id: str | None) -> set[str]:
        if not response_id:
            return set()
        raw = await self._store.get(self._PREFIX + response_id)
        return set(json.loads(raw)) if raw else set()

    async def remember(self, response_id: str, fingerprints: set[str]) -> None:
        await self._store.set(self._PREFIX + response_id, json.dumps(sorted(fingerprints)))

    async def pending_calls(self, response_id: str | None) -> list[dict[str, Any]]:
        """The tool calls a response ended with, waiting for approval (empty once they were answered)."""
        if not response_id:
            return []
        raw = await self._store.get(self._PENDING + response_id)
        return json.loads(raw) if raw else []

    async def hold_calls(self, response_id: str, calls: list[dict[str, Any]]) -> None:
        await self._store.set(self._PENDING + response_id, json.dumps(calls))
