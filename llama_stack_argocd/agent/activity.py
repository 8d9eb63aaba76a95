"""The short lines that tell the user what the assistant is reading, worded once for every dialect.

Each front door shows them where the extension renders text (Lightspeed's plain text, an Agents text delta, a
Responses reasoning summary); none stores them as answer text, so the model never reads them in a later turn.
They are Markdown the extension renders well: the only code span holds a tool name (never `"`, `&`, `<`, `>`,
which the extension double-escapes inside backticks), and values from the model are flattened and clipped.
"""

from __future__ import annotations

import json
import re
from typing import Any

from llama_stack_argocd.agent.turn_events import ToolCall, ToolResult

MAX_VALUE_CHARS = 80
MAX_MESSAGE_CHARS = 300
_MARKDOWN = re.compile(r"([\\`*_\[\]~|#])")  # what would open a span, a link or a table: escaped as plain text
_LEADING = re.compile(r"^(\d*)([-+]|(?<=\d)[.)])")  # "- x", "+ x", "---", "1. x" would be a list or a rule
_TOOL_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def plain(text: Any, limit: int) -> str:
    """`text` as one line of Markdown plain text: whitespace flattened, clipped, markup characters escaped, and no
    list, rule or heading where it starts a line. `&`, `<`, `>` and `"` stay as they are: the extension HTML-escapes
    the text before Markdown, so they show as written (a backslash before them would show too)."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 3] + "..."
    return _LEADING.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", flat), count=1)


def _tool(name: str) -> str:
    return f"`{name}`" if _TOOL_NAME.fullmatch(name) else plain(name, MAX_VALUE_CHARS)


def target(arguments: dict[str, Any]) -> str:
    """What a call reads, briefly: `Deployment/guestbook-ui` for kind and name, then the other arguments set."""
    rest = {k: v for k, v in arguments.items() if v not in (None, "", False)}
    parts = []
    if isinstance(rest.get("kind"), str) and isinstance(rest.get("name"), str):
        parts.append(f"{rest.pop('kind')}/{rest.pop('name')}")
    parts += [f"{k}={v}" for k, v in rest.items()]
    return plain(", ".join(parts), MAX_VALUE_CHARS * 2)


def looking_up(call: ToolCall) -> str:
    """The line shown when the agent calls a tool."""
    what = target(call.arguments)
    return f"\n_Looking up {_tool(call.name)}{f' ({what})' if what else ''} ..._\n\n"


def failed(result: ToolResult) -> str:
    """The line shown when a tool call failed: the tool's own message (already redacted, as every tool output)."""
    return f"\n_{_tool(result.name)} failed: {plain(error_message(result.output), MAX_MESSAGE_CHARS)}_\n\n"


def error_message(output: str) -> str:
    try:
        return str(json.loads(output).get("message", output))
    except (ValueError, AttributeError):
        return output[:MAX_MESSAGE_CHARS]


def line_for(event: ToolCall | ToolResult) -> str | None:
    """The activity line of an event, or None when it shows nothing (a tool call that succeeded)."""
    if isinstance(event, ToolCall):
        return looking_up(event)
    return failed(event) if event.is_error else None
