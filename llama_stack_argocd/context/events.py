"""Events grouped the way a person reads them: one line per (type, reason, object, message), with counts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel

from llama_stack_argocd.context.findings.base import (
    event_count,
    event_message,
    event_object,
    event_reason,
    event_time,
)


class EventGroup(BaseModel):
    type: str
    reason: str
    message: str
    object: str
    count: int
    first_seen: str
    last_seen: str

    def render(self) -> str:
        seen = f" last {self.last_seen}" if self.last_seen else ""
        return f"- {self.type} {self.reason} x{self.count} ({self.object}){seen}: {self.message}"


def _first_time(event: Mapping[str, Any]) -> str:
    return str(event.get("firstTimestamp") or event.get("eventTime") or event_time(event))


def group_events(items: Iterable[Mapping[str, Any]]) -> list[EventGroup]:
    """Newest first; warnings before normal events seen at the same time."""
    groups: dict[tuple[str, str, str, str], EventGroup] = {}
    for event in items:
        involved = event_object(event)
        obj = f"{involved.get('kind', '')}/{involved.get('name', '')}"
        key = (str(event.get("type") or "Normal"), event_reason(event), obj, event_message(event))
        first, last = _first_time(event), event_time(event)
        group = groups.get(key)
        if group is None:
            groups[key] = EventGroup(
                type=key[0], reason=key[1], object=obj, message=key[3],
                count=event_count(event), first_seen=first, last_seen=last,
            )
        else:
            group.count += event_count(event)
            group.first_seen = min(filter(None, (group.first_seen, first)), default="")
            group.last_seen = max(group.last_seen, last)
    ordered = sorted(groups.values(), key=lambda g: (g.last_seen, g.type == "Warning"), reverse=True)
    return ordered
