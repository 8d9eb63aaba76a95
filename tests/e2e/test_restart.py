"""Conversations survive a server restart: a Lightspeed UUID, an Agents session and a Responses chain."""

from __future__ import annotations

import uuid

import httpx

from tests.support.http import EXTENSION_HEADERS, MODEL, completed, stream_response


def test_conversations_continue_after_a_restart(stack, llm):
    conversation = str(uuid.uuid4())
    first = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                       json={"query": "Remember the word pineapple.", "conversation_id": conversation})
    assert first.status_code == 200
    chain = completed(stream_response(stack, {"model": MODEL, "input": "Remember the word mango."}))["id"]

    stack.restart()

    again = httpx.post(f"{stack.base_url}/v1/query", headers=EXTENSION_HEADERS, timeout=60,
                       json={"query": "Which word?", "conversation_id": conversation})
    assert again.status_code == 200
    assert "pineapple" in str(llm.requests[-1]["body"]["messages"])
    stream_response(stack, {"model": MODEL, "input": "Which fruit?", "previous_response_id": chain})
    last_prompt = str(llm.requests[-1]["body"]["messages"])
    assert "mango" in last_prompt
