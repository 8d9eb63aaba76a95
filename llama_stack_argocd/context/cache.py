"""A short-lived cache of reads, per Application and per credentials, at the source layer.

One turn reads the same objects several times: the evidence gathered before the model's first round, then the tools
the model calls (each reads the Application for its scope check, most read the same workload's Pods and the
namespace's Events); the extension's next turn, or a colleague's question about the same Application, asks again
seconds later. `ReadCache.bind(source, app, credentials)` returns a `ClusterSource` that answers a read it answered
less than `ttl_seconds` ago from memory and shares identical reads in flight, so each object is read once.

It sits under the scope checks, never beside them: `load_scope` and `fetch_in_scope` still run on every request,
on the cached Application and objects. Entries are keyed by the Application *and* a fingerprint of the credentials
the source reads with, so an answer read for one Application (or with one account's rights) is never served to
another. Errors are never kept (the next read tries again); every answer is a deep copy, so no caller can change
what the next one gets (answers are kept as JSON, decoded for each asker). Bounded: at most `max_entries` answers, the oldest evicted first.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

from llama_stack_argocd.context.kube_events import about
from llama_stack_argocd.context.refs import AppRef
from llama_stack_argocd.context.source import ClusterSource

T = TypeVar("T")
Obj = dict[str, Any]
Clock = Callable[[], float]


class ReadCache:
    """Answers of recent reads, by (Application, credentials, read). `ttl_seconds` 0 keeps nothing."""

    def __init__(self, ttl_seconds: float, max_entries: int = 2048, clock: Clock = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._answers: OrderedDict[Hashable, tuple[float, str]] = OrderedDict()
        self._in_flight: dict[Hashable, asyncio.Future[str]] = {}
        self._tails: dict[Hashable, set[int]] = {}  # a log read's key without its tail -> the tails read
        self.hits = 0
        self.misses = 0

    @property
    def enabled(self) -> bool:
        return self.ttl_seconds > 0 and self.max_entries > 0

    def __len__(self) -> int:
        return len(self._answers)

    def bind(self, source: ClusterSource, app: AppRef, credentials: str) -> ClusterSource:
        """`source` (already bound to `app`) with its reads kept for this Application and these credentials."""
        if not self.enabled:
            return source
        return CachedSource(self, source, (app.namespace, app.name, credentials))

    async def read(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> T:
        """The kept answer for `key`, else `load()` once (concurrent askers share it); a copy either way."""
        now = self._clock()
        kept = self._answers.get(key)
        if kept is not None:
            if kept[0] > now:
                self.hits += 1
                return json.loads(kept[1])  # type: ignore[no-any-return]
            del self._answers[key]
        future = self._in_flight.get(key)
        if future is None or future.get_loop() is not asyncio.get_running_loop():
            self.misses += 1
            future = asyncio.ensure_future(self._load(key, load))
            self._in_flight[key] = future
            future.add_done_callback(lambda done: self._settle(key, done))
        else:
            self.hits += 1
        encoded = await asyncio.shield(future)  # one asker giving up does not cancel the others' read
        return json.loads(encoded)  # type: ignore[no-any-return]

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> str:
        encoded = json.dumps(await load())  # kept encoded: decoding a copy is cheaper than a deep copy
        self._keep(key, encoded)
        return encoded

    def _keep(self, key: Hashable, encoded: str) -> None:
        self._answers[key] = (self._clock() + self.ttl_seconds, encoded)
        self._answers.move_to_end(key)
        while len(self._answers) > self.max_entries:
            self._answers.popitem(last=False)

    def covering_tail(self, base: tuple[Hashable, ...], tail: int) -> str | None:
        """The kept text of a read of the same log with at least `tail` lines (the evidence reads a long tail, a
        tool then asks the last 100): its last `tail` lines, as the API would have answered."""
        for wider in sorted(t for t in self._tails.get(base, ()) if t >= tail):
            kept = self._answers.get((*base, wider))
            if kept is not None and kept[0] > self._clock():
                self.hits += 1
                text: str = json.loads(kept[1])
                lines = text.splitlines()[-tail:]
                return "\n".join(lines) + ("\n" if lines and text.endswith("\n") else "")
        return None

    def note_tail(self, base: tuple[Hashable, ...], tail: int) -> None:
        tails = self._tails.setdefault(base, set())
        tails.add(tail)
        if len(self._tails) > self.max_entries:  # bounded like the answers
            self._tails.pop(next(iter(self._tails)))

    def prime(self, key: Hashable, value: Any) -> None:
        """Keep `value` for `key` unless a fresher answer is kept already (an object seen in a listing)."""
        kept = self._answers.get(key)
        if kept is None or kept[0] <= self._clock():
            self._keep(key, json.dumps(value))

    def _settle(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        if self._in_flight.get(key) is done:
            del self._in_flight[key]
        if not done.cancelled():
            done.exception()  # retrieved here, so an error nobody awaited any more is not logged as lost


class CachedSource:
    """A `ClusterSource` bound to one Application whose reads go through a `ReadCache`."""

    def __init__(self, cache: ReadCache, source: ClusterSource, scope_key: tuple[str, str, str]) -> None:
        self._cache = cache
        self._source = source
        self._scope_key = scope_key
        # Kubernetes serves Events per namespace: one cached listing answers every subject. Argo CD per object.
        self.events_by_namespace = bool(getattr(source, "events_by_namespace", False))

    def _key(self, *parts: Hashable) -> tuple[Hashable, ...]:
        return (*self._scope_key, *parts)

    def for_application(self, app: AppRef) -> ClusterSource:
        if (app.namespace, app.name) == self._scope_key[:2]:
            return self
        return self._cache.bind(self._source.for_application(app), app, self._scope_key[2])

    def credentials_key(self) -> str:
        return self._scope_key[2]

    async def get_application(self, namespace: str, name: str) -> Obj:
        return await self._cache.read(self._key("application", namespace, name),
                                      lambda: self._source.get_application(namespace, name))

    async def get(self, kind: str, namespace: str | None, name: str, group: str | None = None) -> Obj:
        async def whole() -> Obj:  # an object read whole answers a later metadata read of it (scope checks)
            obj = await self._source.get(kind, namespace, name, group)
            if group is None:
                self._prime_metadata(kind, namespace, name, obj)
            return obj

        return await self._cache.read(self._key("get", kind, namespace, name, group), whole)

    def _prime_metadata(self, kind: str, namespace: str | None, name: str, obj: Obj) -> None:
        self._cache.prime(self._key("metadata", kind, namespace, name),
                          {"kind": obj.get("kind") or kind, "apiVersion": obj.get("apiVersion"),
                           "metadata": obj.get("metadata") or {}})

    async def get_metadata(self, kind: str, namespace: str | None, name: str) -> Obj:
        return await self._cache.read(self._key("metadata", kind, namespace, name),
                                      lambda: self._source.get_metadata(kind, namespace, name))

    async def list(self, kind: str, namespace: str | None) -> builtins.list[Obj]:
        async def listing() -> builtins.list[Obj]:
            items = await self._source.list(kind, namespace)
            for item in items:  # a listing holds each object whole: a later get of one is answered from it
                meta = item.get("metadata") or {}
                name, where = meta.get("name"), meta.get("namespace")
                if name:
                    self._cache.prime(self._key("get", kind, where, name, None), item)
                    self._prime_metadata(kind, where, name, item)
            return items

        return await self._cache.read(self._key("list", kind, namespace), listing)

    async def events(self, namespace: str | None, subjects: builtins.list[Obj]) -> builtins.list[Obj]:
        if self.events_by_namespace:
            return [e for e in await self.list("Event", namespace) if about(e, subjects)]

        async def one(subject: Obj) -> builtins.list[Obj]:
            meta = subject.get("metadata") or {}
            key = self._key("events", namespace, subject.get("kind"), meta.get("namespace"), meta.get("name"),
                            meta.get("uid"))
            return await self._cache.read(key, lambda: self._source.events(namespace, [subject]))

        seen: set[Any] = set()
        out: builtins.list[Obj] = []
        for batch in await asyncio.gather(*(one(s) for s in subjects)):
            for event in batch:
                meta = event.get("metadata") or {}
                ident = meta.get("uid") or (meta.get("namespace"), meta.get("name"))
                if ident not in seen:
                    seen.add(ident)
                    out.append(event)
        return out

    async def log(self, namespace: str, pod: str, container: str | None, tail_lines: int, previous: bool) -> str:
        base = self._key("log", namespace, pod, container, previous)
        if (covered := self._cache.covering_tail(base, tail_lines)) is not None:
            return covered
        self._cache.note_tail(base, tail_lines)
        return await self._cache.read((*base, tail_lines),
                                      lambda: self._source.log(namespace, pod, container, tail_lines, previous))

    async def ping(self) -> None:
        await self._source.ping()
