"""Records that belong to the user who created them (Agents' agents and sessions, Lightspeed's conversations).

One kind of record per `OwnedRecords`, kept as JSON in the distribution's KV store under `kind:id[:id...]`. A record
of another user is answered exactly like a missing one (the dialect's own 404), so its existence never shows.
Changes are applied to the record as it is stored now, not to a copy read before a turn streamed, so a topic set
or a deletion made meanwhile stands; within one process they are serialized.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from llama_stack.core.storage.kvstore import KVStore

Record = dict[str, Any]
OWNER = "owner"  # the field holding the creating user's principal


class OwnedRecords:
    """`kind` records in `store`; `not_found(id)` is the dialect's error for a record missing or not the caller's."""

    def __init__(self, store: KVStore, kind: str, not_found: Callable[[str], Exception]) -> None:
        self._store = store
        self._kind = kind
        self.not_found = not_found
        self._lock = asyncio.Lock()

    def _key(self, ids: tuple[str, ...]) -> str:
        return ":".join((self._kind, *ids))

    async def _read(self, ids: tuple[str, ...]) -> Record | None:
        raw = await self._store.get(self._key(ids))
        return json.loads(raw) if raw else None

    async def _write(self, ids: tuple[str, ...], record: Record) -> None:
        await self._store.set(self._key(ids), json.dumps(record, default=str))

    async def find(self, *ids: str, owner: str) -> Record | None:
        """The record if it exists and is `owner`'s, else None."""
        record = await self._read(ids)
        return record if record is not None and record.get(OWNER) == owner else None

    async def get(self, *ids: str, owner: str, missing: Record | None = None) -> Record:
        """The record, or the dialect's not-found error (named by the last id) when it is another's or missing
        (given `missing`, a record that does not exist yet is that one, not stored)."""
        record = await self._read(ids)
        if record is None and missing is not None:
            return {**missing, OWNER: owner}
        if record is None or record.get(OWNER) != owner:
            raise self.not_found(ids[-1])
        return record

    async def create(self, *ids: str, owner: str, record: Record) -> Record:
        """Store a new record of `owner` (the owner field is set here, never taken from the caller's data)."""
        stored = {**record, OWNER: owner}
        async with self._lock:
            await self._write(ids, stored)
        return stored

    async def update(self, *ids: str, owner: str, change: Callable[[Record], None],
                     missing: Record | None = None) -> Record | None:
        """Apply `change` to the record as stored now and save it. A record that is gone is left gone (or, given
        `missing`, created from it); another user's is not touched. Returns what was saved, or None."""
        async with self._lock:
            record = await self._read(ids)
            if record is None and missing is not None:
                record = {**missing, OWNER: owner}
            if record is None or record.get(OWNER) != owner:
                return None
            change(record)
            await self._write(ids, record)
            return record

    async def delete(self, *ids: str, owner: str) -> None:
        """Delete `owner`'s record; the dialect's not-found error when it is missing or another's."""
        async with self._lock:
            if await self.find(*ids, owner=owner) is None:
                raise self.not_found(ids[-1])
            await self._store.delete(self._key(ids))

    async def purge(self, *under: str) -> None:
        """Delete every record filed under `under` (the sessions of an agent whose owner was checked)."""
        prefix = self._key(under) + ":"
        async with self._lock:
            for key in await self._store.keys_in_range(prefix, prefix + "\xff"):
                await self._store.delete(key)

    async def owned_by(self, owner: str, *under: str) -> list[Record]:
        """`owner`'s records (under the given ids, if any), in key order."""
        prefix = self._key(under) + ":"
        records = [json.loads(v) for v in await self._store.values_in_range(prefix, prefix + "\xff")]
        return [r for r in records if r.get(OWNER) == owner]
