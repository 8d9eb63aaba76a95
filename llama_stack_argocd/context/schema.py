"""JSON schemas without `$defs`: pydantic puts nested models under `$defs` and points at them with `$ref`, which
tool-calling models and several OpenAPI consumers do not follow, so they get each definition written in place."""

from __future__ import annotations

from typing import Any


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A copy of `schema` with every local `$ref` replaced by its definition and `$defs` removed."""
    definitions = schema.get("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(definitions[node["$ref"].rpartition("/")[2]])
        return {key: inline(value) for key, value in node.items() if key != "$defs"}

    inlined: dict[str, Any] = inline(schema)
    return inlined
