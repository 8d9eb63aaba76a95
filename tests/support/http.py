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


def agents_session(client: Any, base: str, headers: dict[str, str], instructions: str = "", session_name: str = "s",
                   timeout: float = 30, **agent_config: Any) -> tuple[str, str]:
    """A legacy agent and one session on it, opened as the extension opens them: `(agent_id, session_id)`.
    `client` is an `httpx.Client` or the `httpx` module; both calls must succeed."""
    agent = client.post(f"{base}/v1/agents", headers=headers, timeout=timeout,
                        json={"agent_config": {"model": MODEL, "instructions": instructions, **agent_config}})
    assert agent.status_code == 200, agent.text
    agent_id = agent.json()["agent_id"]
    session = client.post(f"{base}/v1/agents/{agent_id}/session", headers=headers, timeout=timeout,
                          json={"session_name": session_name})
    assert session.status_code == 200, session.text
    return agent_id, session.json()["session_id"]


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
