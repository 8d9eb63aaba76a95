"""Keeps a long conversation within its share of the model's context.

llama-stack replays a Responses chain whole (its `truncation: "auto"` is not implemented), so a conversation grows
until the model's window overflows and older turns crowd out this turn's evidence. When the replay is over its
share, the agent restarts the chain from the newest exchanges that fit and says, in the conversation itself, what
was left out; later turns chain from the restarted response as usual.

Items are the Responses items a chain replays (a stored response's `input` followed by its `output`), as dicts.
A tool call stays with its output, and items the chat model never sees (tool listings, approvals, search calls) are
not kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from llama_stack_argocd.context.budget import Budget, cut_text

MESSAGE_OVERHEAD = 4  # role and turn markers a chat template adds around each message
# Item types that reach the chat model; the rest are llama-stack's own bookkeeping.
_REPLAYED = {"message", "function_call", "function_call_output", "mcp_call"}


@dataclass(frozen=True)
class Trimmed:
    items: list[dict[str, Any]]  # the history to restart from, with the marker
    tokens: int
    kept: int  # items kept from the original history
    omitted: int  # items left out


def as_items(raw: Iterable[Any]) -> list[dict[str, Any]]:
    """Stored items (pydantic models or dicts) as plain dicts, keeping only what the chat model sees."""
    items = []
    for item in raw:
        data = item.model_dump(mode="json", exclude_none=True) if hasattr(item, "model_dump") else dict(item)
        if data.get("type", "message") in _REPLAYED:
            if data.get("type", "message") != "mcp_call":  # ids of stored items must not repeat in a new response
                data.pop("id", None)
            items.append(data)
    return items


def history_tokens(items: Sequence[dict[str, Any]], budget: Budget) -> int:
    return sum(_tokens(unit, budget) for unit in _units(items))


def trim(items: Sequence[dict[str, Any]], max_tokens: int, budget: Budget) -> Trimmed:
    """The newest exchanges within `max_tokens`, led by a marker naming what was left out.

    Whole units are kept from the newest back, and the kept part is contiguous: a gap in the middle would misstate
    the conversation. If even the newest unit is too long, its text is cut (with the cut marked) rather than dropped.
    """
    total = history_tokens(items, budget)
    if total <= max_tokens:
        return Trimmed(list(items), total, len(items), 0)
    units = _units(items)
    room = max(0, max_tokens - MESSAGE_OVERHEAD - budget.count(marker_text(len(items), max_tokens)))
    kept: list[list[dict[str, Any]]] = []
    used = 0
    for unit in reversed(units):
        size = _tokens(unit, budget)
        if used + size > room:
            if not kept:  # the newest exchange alone is too long: cut its text rather than lose it
                kept.append(_shortened(unit, room, budget))
            break
        kept.append(unit)
        used += size
    kept.reverse()
    kept_items = [item for unit in kept for item in unit]
    omitted = len(items) - sum(len(unit) for unit in kept)
    omitted_tokens = sum(_tokens(unit, budget) for unit in units[: len(units) - len(kept)])
    led = _with_marker(kept_items, omitted, omitted_tokens)
    return Trimmed(led, history_tokens(led, budget), len(kept_items), omitted)


def marker_text(omitted: int, tokens: int) -> str:
    return (
        f"[... {omitted:,} earlier conversation items (about {tokens:,} tokens) omitted to fit the model's context; "
        "ask the user if something from them is needed ...]"
    )


def _units(items: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Items grouped so a function call and its output are kept or dropped together."""
    outputs = {item.get("call_id"): item for item in items if item.get("type") == "function_call_output"}
    calls = {item.get("call_id") for item in items if item.get("type") == "function_call"}
    units: list[list[dict[str, Any]]] = []
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call_output" and item.get("call_id") in calls:
            continue  # travels with its call
        if kind == "function_call" and item.get("call_id") in outputs:
            units.append([item, outputs[item["call_id"]]])
        else:
            units.append([item])
    return units


def _tokens(unit: list[dict[str, Any]], budget: Budget) -> int:
    return sum(budget.count(_text(item)) + MESSAGE_OVERHEAD for item in unit)


def _text(item: dict[str, Any]) -> str:
    kind = item.get("type", "message")
    if kind == "message":
        return content_text(item.get("content"))
    if kind == "function_call":
        return f"{item.get('name', '')}({item.get('arguments', '')})"
    if kind == "function_call_output":
        output = item.get("output", "")
        return output if isinstance(output, str) else json.dumps(output)
    if kind == "mcp_call":
        return f"{item.get('name', '')}({item.get('arguments', '')}) -> {item.get('output') or item.get('error') or ''}"
    return json.dumps(item)


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or parts (dicts or llama-stack's models) with `text`; the one
    reader of message text for every dialect."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):  # one part on its own (the legacy Agents API allows it)
        content = [content]
    texts = (part.get("text") if isinstance(part, dict) else getattr(part, "text", None) for part in content or [])
    return "\n".join(str(text) for text in texts if text)


def _shortened(unit: list[dict[str, Any]], room: int, budget: Budget) -> list[dict[str, Any]]:
    """The unit with its last text cut to fit `room`: a message's content, or a tool's output."""
    *head, last = unit
    spare = max(0, room - _tokens(head, budget) - MESSAGE_OVERHEAD)
    kind = last.get("type", "message")
    if kind == "message":
        cut = cut_text(content_text(last.get("content")), spare, "head", budget.model)
        return [*head, {**last, "content": _replace_text(last.get("content"), cut.text)}]
    if kind == "function_call_output":
        return [*head, {**last, "output": cut_text(_text(last), spare, "head", budget.model).text}]
    if kind == "mcp_call":
        return [*head, {**last, "output": cut_text(str(last.get("output") or ""), spare, "head", budget.model).text}]
    return unit


def _replace_text(content: Any, text: str) -> Any:
    if isinstance(content, str) or not content:
        return text
    first = dict(content[0])
    first["text"] = text
    return [first]


def _with_marker(items: list[dict[str, Any]], omitted: int, omitted_tokens: int) -> list[dict[str, Any]]:
    """Put the marker where the model reads it as part of the conversation, without two user turns in a row."""
    marker = marker_text(omitted, max(0, omitted_tokens))
    if items and items[0].get("type", "message") == "message" and items[0].get("role") == "user":
        first = items[0]
        content = first.get("content")
        if isinstance(content, str):
            merged: Any = f"{marker}\n\n{content}"
        else:
            merged = [{"type": "input_text", "text": marker}, *(content or [])]
        return [{**first, "content": merged}, *items[1:]]
    return [{"type": "message", "role": "user", "content": marker}, *items]
