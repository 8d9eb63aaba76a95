"""Talking to the server as the extension's clients do, for end-to-end tests."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.support.stack import StackHandle

MODEL = "openai/scripted"
EXTENSION_HEADERS = {
    "Argocd-Application-Name": "argocd:guestbook",
    "Argocd-Project-Name": "default",
    "Argocd-Username": "alice",
    "Argocd-User-Groups": "dev,ops",
}


def sse_events(response: httpx.Response) -> list[dict[str, Any]]:
    """Parse `data: <json>` lines; fail on anything a strict client (the extension's) would choke on."""
    events = []
    for line in response.iter_lines():
        if not line:
            continue
        assert line.startswith("data: "), f"not a data line: {line!r}"
        events.append(json.loads(line[len("data: "):]))
    return events


def stream_response(stack: StackHandle, body: dict[str, Any], path: str = "/v1/openai/v1/responses",
                    headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    with httpx.stream("POST", stack.base_url + path, json={"stream": True, **body},
                      headers=EXTENSION_HEADERS if headers is None else headers, timeout=60) as response:
        assert response.status_code == 200, response.read()
        return sse_events(response)


def completed(events: list[dict[str, Any]]) -> dict[str, Any]:
    done = [e for e in events if e.get("type") == "response.completed"]
    assert len(done) == 1, events[-3:]
    return done[0]["response"]


def tool_outputs(response: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item.get("output") or item.get("error") for item in response["output"]
            if item["type"] == "mcp_call"}
