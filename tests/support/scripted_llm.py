"""A scripted OpenAI-compatible model over real HTTP, for end-to-end tests.

llama-stack's `remote::openai` provider points at it (`base_url`), registering its model as `openai/<model>`.
Each request takes the next scripted turn (text, or tool calls streamed as `tool_calls` deltas in pieces); with
the script empty it answers from the last tool result, or echoes the question. Every request is recorded, so tests
can check what reached the model (and what must not have).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route


@dataclass
class Text:
    text: str


@dataclass
class ToolCalls:
    calls: list[tuple[str, dict[str, Any]]]


Turn = Text | ToolCalls
Rule = Callable[[dict[str, Any]], Turn]


def default_turn(request: dict[str, Any]) -> Turn:
    last = request["messages"][-1]
    if last.get("role") == "tool":
        return Text(f"From the tool result: {str(last.get('content'))[:300]}")
    content = last.get("content")
    text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content or [])
    return Text(f"You asked: {text[:120]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ScriptedLLM:
    model: str = "scripted"
    chunk_delay: float = 0.02
    script: list[Turn | Rule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stream_finished_at: list[float] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def push(self, *turns: Turn | Rule) -> None:
        self.script.extend(turns)

    def prompts_text(self) -> str:
        """Everything every request showed the model, as one string (to search for leaks)."""
        return "\n".join(json.dumps(r) for r in self.requests)

    def _next(self, request: dict[str, Any]) -> Turn:
        item = self.script.pop(0) if self.script else default_turn
        return item(request) if callable(item) else item

    async def _models(self, _: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Any:
        body = await request.json()
        self.requests.append({"body": body, "headers": dict(request.headers)})
        turn = self._next(body)
        if not body.get("stream"):
            return JSONResponse(self._completion(turn))
        return StreamingResponse(self._chunks(turn, body), media_type="text/event-stream")

    def _base(self) -> dict[str, Any]:
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": self.model}

    def _completion(self, turn: Turn) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(turn, Text):
            message["content"] = turn.text
        else:
            message["tool_calls"] = [
                {"id": f"call_{i}_{uuid.uuid4().hex[:8]}", "type": "function",
                 "function": {"name": name, "arguments": json.dumps(args)}}
                for i, (name, args) in enumerate(turn.calls)
            ]
        finish = "stop" if isinstance(turn, Text) else "tool_calls"
        return {**self._base(), "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

    async def _chunks(self, turn: Turn, body: dict[str, Any]) -> Any:
        base = {**self._base(), "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        if isinstance(turn, Text):
            words = turn.text.split(" ")
            for i, word in enumerate(words):
                await asyncio.sleep(self.chunk_delay)
                yield chunk({"content": word if i == 0 else f" {word}"})
            finish = "stop"
        else:
            for index, (name, args) in enumerate(turn.calls):
                call_id = f"call_{index}_{uuid.uuid4().hex[:8]}"
                yield chunk({"tool_calls": [{"index": index, "id": call_id, "type": "function",
                                              "function": {"name": name, "arguments": ""}}]})
                encoded = json.dumps(args)
                for start in range(0, len(encoded), 7):
                    await asyncio.sleep(self.chunk_delay / 4)
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": encoded[start:start + 7]}}]})
            finish = "tool_calls"
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': usage})}\n\n"
        self.stream_finished_at.append(time.monotonic())
        yield "data: [DONE]\n\n"

    @contextmanager
    def serving(self) -> Iterator[ScriptedLLM]:
        app = Starlette(routes=[
            Route("/v1/models", self._models),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
        ])
        self.port = self.port or free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        thread = threading.Thread(target=server.run, name="scripted-llm", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the scripted LLM did not start")
            time.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)
