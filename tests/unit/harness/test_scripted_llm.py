"""The scripted LLM speaks OpenAI's chat completions as the openai SDK (and llama-stack's adapter) expects."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI

from tests.support.scripted_llm import Error, ScriptedLLM, Text, ToolCalls


@pytest.fixture(scope="module")
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM(chunk_delay=0.01) as server:
        yield server


@pytest.fixture
def client(llm: ScriptedLLM) -> OpenAI:
    llm.reset()
    return OpenAI(base_url=llm.url, api_key="sk-unit", max_retries=0)


def ask(client: OpenAI, text: str = "hello", **kwargs):
    return client.chat.completions.create(model="scripted", messages=[{"role": "user", "content": text}], **kwargs)


def test_lists_its_model(client, llm):
    assert [m.id for m in client.models.list()] == [llm.model]


def test_streamed_tool_calls_reassemble(client, llm):
    logs = {"kind": "Pod", "name": "web-7d9c", "container": "app", "previous": True, "note": "x" * 40}
    llm.push(ToolCalls([("argocd_container_logs", logs), ("argocd_application", {})]))
    chunks = list(ask(client, stream=True, stream_options={"include_usage": True}))

    calls: dict[int, dict[str, str]] = {}
    pieces: dict[int, int] = {}
    for chunk in chunks:
        for delta in (c.delta.tool_calls or [] for c in chunk.choices):
            for part in delta:
                call = calls.setdefault(part.index, {"id": "", "name": "", "arguments": ""})
                if part.id:
                    assert not call["arguments"], "id and name come before the arguments"
                    call["id"], call["name"] = part.id, part.function.name
                call["arguments"] += part.function.arguments or ""
                pieces[part.index] = pieces.get(part.index, 0) + 1
    assert [calls[i]["name"] for i in sorted(calls)] == ["argocd_container_logs", "argocd_application"]
    assert json.loads(calls[0]["arguments"]) == logs and json.loads(calls[1]["arguments"]) == {}
    assert all(call["id"] for call in calls.values()) and calls[0]["id"] != calls[1]["id"]
    assert pieces[0] > 3, "arguments arrive in several pieces"
    finishes = [c.finish_reason for chunk in chunks for c in chunk.choices if c.finish_reason]
    assert finishes == ["tool_calls"]
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens > 0, "a final usage chunk"


def test_text_streams_in_several_chunks_over_time(client, llm):
    llm.chunk_delay = 0.05
    try:
        llm.push(Text("one two three four five"))
        arrivals, texts = [], []
        for chunk in ask(client, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                arrivals.append(time.monotonic())
                texts.append(chunk.choices[0].delta.content)
    finally:
        llm.chunk_delay = 0.01
    assert "".join(texts) == "one two three four five" and len(texts) == 5
    assert arrivals[-1] - arrivals[0] >= 0.15, "chunks are spread over time, not sent at once"
    assert llm.last_chunk_at is not None and llm.last_chunk_at >= arrivals[0]


def test_no_usage_chunk_unless_asked(client, llm):
    chunks = list(ask(client, stream=True))
    assert all(chunk.usage is None for chunk in chunks)


def test_non_streaming_text_and_tool_calls(client, llm):
    llm.push(Text("plain answer"), ToolCalls([("argocd_application", {"a": 1})]))
    first = ask(client)
    assert first.choices[0].message.content == "plain answer" and first.choices[0].finish_reason == "stop"
    second = ask(client)
    call = second.choices[0].message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == ("argocd_application", {"a": 1})
    assert second.choices[0].finish_reason == "tool_calls" and second.usage.total_tokens > 0


def test_rules_see_the_request_and_default_echoes(client, llm):
    llm.push(lambda request: Text(f"{len(request['messages'])} messages"))
    assert ask(client).choices[0].message.content == "1 messages"
    assert ask(client, "what is Argo CD?").choices[0].message.content == "You asked: what is Argo CD?"
    tool_result = client.chat.completions.create(model="scripted", messages=[
        {"role": "user", "content": "logs?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "logs", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "panic: nil map"},
    ])
    assert "panic: nil map" in tool_result.choices[0].message.content


def test_records_requests_with_headers(client, llm):
    ask(client, "the question", extra_headers={"X-Trace": "t-1"})
    record = llm.wait_for_requests(1)[-1]
    assert record["body"]["messages"][-1]["content"] == "the question"
    assert record["headers"]["authorization"] == "Bearer sk-unit" and record["headers"]["x-trace"] == "t-1"
    assert "the question" in llm.prompts_text()


def test_scripted_errors(client, llm):
    llm.push(Error(503, "overloaded"))
    with pytest.raises(openai.APIStatusError) as raised:
        ask(client)
    assert raised.value.status_code == 503 and "overloaded" in str(raised.value)


def test_stops_with_the_block():
    with ScriptedLLM() as server:
        url = server.url
        assert httpx.get(f"{url}/models").status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/models", timeout=2)
