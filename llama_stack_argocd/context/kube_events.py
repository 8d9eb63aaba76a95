"""Events grouped the way a person reads them: one entry per (type, reason, message), with counts and times.

Works on core/v1 Events and on events.k8s.io/v1 Events (`regarding`, `note`, `series`) as plain dicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

_EPOCH = datetime.min.replace(tzinfo=UTC)


class EventGroup(BaseModel):
    """Events with the same type, reason and message. `object` is the one most recently involved."""

    type: str
    reason: str
    message: str
    object: str
    objects: list[str] = Field(default_factory=list, description="Every involved object, most recent first.")
    count: int
    first_seen: str
    last_seen: str

    def render(self) -> str:
        where = self.object if len(self.objects) <= 1 else f"{self.object} and {len(self.objects) - 1} more"
        seen = f" last {self.last_seen}" if self.last_seen else ""
        return f"- {self.type} {self.reason} x{self.count} ({where}){seen}: {self.message}"


def _involved(event: Mapping[str, Any]) -> str:
    obj = event.get("involvedObject") or event.get("regarding") or {}
    return f"{obj.get('kind', '')}/{obj.get('name', '')}"


def _count(event: Mapping[str, Any]) -> int:
    series = event.get("series") or {}
    for value in (event.get("count"), series.get("count"), event.get("deprecatedCount")):
        if isinstance(value, int) and value > 0:
            return value
    return 1


def last_seen(event: Mapping[str, Any]) -> str:
    """When an event (core/v1 or events.k8s.io/v1) was last observed, as the API wrote it."""
    series = event.get("series") or {}
    candidates = (
        event.get("lastTimestamp"), series.get("lastObservedTime"), event.get("deprecatedLastTimestamp"),
        event.get("eventTime"), event.get("firstTimestamp"), (event.get("metadata") or {}).get("creationTimestamp"),
    )
    return str(next((c for c in candidates if c), ""))


def _first(event: Mapping[str, Any]) -> str:
    first = event.get("firstTimestamp") or event.get("deprecatedFirstTimestamp") or event.get("eventTime")
    return str(first or last_seen(event))


def parse_time(stamp: str) -> datetime:
    """RFC 3339 with or without fractions; text comparison would misorder `...00.5Z` and `...00Z`."""
    try:
        parsed = datetime.fromisoformat(stamp)
    except ValueError:
        return _EPOCH
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def group_events(items: Iterable[Mapping[str, Any]]) -> list[EventGroup]:
    """Groups newest first (by last seen); at the same time, warnings first. Counts add up `count`/`series.count`."""
    groups: dict[tuple[str, str, str], EventGroup] = {}
    latest: dict[tuple[str, str, str], datetime] = {}
    for event in items:
        key = (
            str(event.get("type") or "Normal"),
            str(event.get("reason") or ""),
            str(event.get("message") or event.get("note") or ""),
        )
        obj, first, last = _involved(event), _first(event), last_seen(event)
        group = groups.get(key)
        if group is None:
            groups[key] = EventGroup(
                type=key[0], reason=key[1], message=key[2], object=obj, objects=[obj],
                count=_count(event), first_seen=first, last_seen=last,
            )
            latest[key] = parse_time(last)
            continue
        group.count += _count(event)
        if first and (not group.first_seen or parse_time(first) < parse_time(group.first_seen)):
            group.first_seen = first
        if obj not in group.objects:
            group.objects.append(obj)
        if parse_time(last) > latest[key]:
            latest[key] = parse_time(last)
            group.last_seen, group.object = last, obj
            group.objects.remove(obj)
            group.objects.insert(0, obj)
    return sorted(groups.values(), key=lambda g: (latest[(g.type, g.reason, g.message)], g.type == "Warning"),
                  reverse=True)


def about(event: Mapping[str, Any], subjects: Iterable[Mapping[str, Any]]) -> bool:
    """Whether an event is about one of `subjects` (objects): by uid when both carry one, else by kind and name."""
    involved = event.get("involvedObject") or event.get("regarding") or {}
    subjects = list(subjects)
    metas = [s.get("metadata") or {} for s in subjects]
    uids = {m.get("uid") for m in metas} - {None}
    if involved.get("uid") and uids:
        return involved["uid"] in uids
    return (involved.get("kind"), involved.get("name")) in {(s.get("kind"), m.get("name"))
                                                            for s, m in zip(subjects, metas, strict=True)}
