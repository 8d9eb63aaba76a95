"""Bodies the MCP transport must never see: not UTF-8, or JSON nested deeper than any JSON-RPC message needs.

The `mcp` SDK parses a body with pydantic; invalid UTF-8 and very deep nesting (100,000 arrays) end there in an
exception that becomes a 500. A linear scan, which never recurses, answers them first with JSON-RPC's own errors.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 64  # JSON-RPC envelope + tool arguments; the catalog's arguments are flat
PARSE_ERROR, INVALID_REQUEST = -32700, -32600


def problem(body: bytes) -> tuple[int, str] | None:
    """A JSON-RPC (code, message) for a body that must not reach the parser, or None."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        return PARSE_ERROR, f"Parse error: the body is not UTF-8 (byte {error.start})"
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return INVALID_REQUEST, f"Invalid request: JSON nested deeper than {MAX_DEPTH} levels"
        elif char in "]}":
            depth -= 1
    return None


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
