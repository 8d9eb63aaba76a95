"""A scripted OpenAI-compatible model over real HTTP, for end-to-end tests.

llama-stack's `remote::openai` provider points at it (`base_url`), registering its model as `openai/<model>`.
Each chat request takes the next scripted turn:

    Text("...")                                      text, streamed word by word, `chunk_delay` apart
    ToolCalls([("argocd_container_logs", {...})])    tool calls, streamed as `tool_calls` deltas: id and name
                                                     first, then the JSON arguments in pieces
    Error(503, "overloaded")                         an HTTP error with an OpenAI-style error body
    Hang()                                           accepts the request and never answers (no headers)
    Stall("some words", after=2)                     streams `after` words, then goes silent for good
    Cut("some words", after=2)                       streams `after` words, then drops the connection
    Garbage()                                        a 200 stream of lines that are not JSON
    a callable (request_json) -> one of the above    rules, e.g. "after a tool result, quote it"

With the script empty it answers from the last tool result, or echoes the question. Every request is recorded
(`requests`: {"body", "headers", "received_at"}), so tests can check what reached the model and what must not have;
`stream_finished_at` holds when each stream sent its last chunk (time.monotonic()).

    with ScriptedLLM(chunk_delay=0.05) as llm:        # 127.0.0.1, a free port, a daemon thread
        llm.push(ToolCalls([("argocd_application", {})]), Text("Out of sync."))
        ... llm.url ...                               # http://127.0.0.1:<port>/v1
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
from typing import Any, Self

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
ARGUMENT_PIECE = 7  # characters of tool-call arguments per chunk


@dataclass
class Text:
    text: str


@dataclass
class ToolCalls:
    calls: list[tuple[str, dict[str, Any]]]


@dataclass
class Error:
    status: int = 500
    message: str = "scripted failure"


@dataclass
class Hang:
    seconds: float = 3600.0


@dataclass
class Stall:
    text: str
    after: int = 2
    seconds: float = 3600.0


@dataclass
class Cut:
    text: str
    after: int = 2


@dataclass
class Garbage:
    lines: int = 3


class _CutConnection(Exception):
    """Raised inside a stream to make uvicorn drop the connection mid-body."""


Turn = Text | ToolCalls | Error | Hang | Stall | Cut | Garbage
Rule = Callable[[dict[str, Any]], Turn]


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def default_turn(request: dict[str, Any]) -> Turn:
    """Quote the last tool result, or echo the last user text."""
    last = request["messages"][-1]
    if last.get("role") == "tool":
        return Text(f"From the tool result: {message_text(last)[:300]}")
    return Text(f"You asked: {message_text(last)[:120]}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)
class ScriptedLLM:
    model: str = "scripted"
    chunk_delay: float = 0.02
    script: list[Turn | Rule] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    stream_finished_at: list[float] = field(default_factory=list)
    streams_abandoned: list[float] = field(default_factory=list)  # streams the client closed before their end
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _serving: Any = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def last_chunk_at(self) -> float | None:
        """When the most recent stream sent its last chunk (time.monotonic()), or None."""
        return self.stream_finished_at[-1] if self.stream_finished_at else None

    def push(self, *turns: Turn | Rule) -> None:
        with self._lock:
            self.script.extend(turns)

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.stream_finished_at.clear()
            self.streams_abandoned.clear()

    def prompts_text(self) -> str:
        """Everything every request showed the model (bodies and headers), as one string (to search for leaks)."""
        return "\n".join(json.dumps(r) for r in list(self.requests))

    def wait_for_requests(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.requests)} of {count} requests reached the scripted LLM")
            time.sleep(0.02)
        return self.requests

    def _next(self, request: dict[str, Any]) -> Turn:
        with self._lock:
            item = self.script.pop(0) if self.script else default_turn
        return item(request) if callable(item) else item

    # -- HTTP ------------------------------------------------------------------------------------------------

    async def _models(self, _: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Any:
        body = await request.json()
        with self._lock:
            self.requests.append({"body": body, "headers": dict(request.headers), "received_at": time.monotonic()})
        turn = self._next(body)
        if isinstance(turn, Hang):
            try:
                await asyncio.sleep(turn.seconds)
            finally:
                self.streams_abandoned.append(time.monotonic())
        if isinstance(turn, Error):
            return JSONResponse({"error": {"message": turn.message, "type": "scripted_error", "code": turn.status}},
                                status_code=turn.status)
        if not body.get("stream"):
            return JSONResponse(self._completion(turn))
        return StreamingResponse(self._chunks(turn, body), media_type="text/event-stream")

    def _base(self) -> dict[str, Any]:
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "created": int(time.time()), "model": self.model,
                "system_fingerprint": "scripted"}

    @staticmethod
    def _call_id(index: int) -> str:
        return f"call_{index}_{uuid.uuid4().hex[:8]}"

    def _completion(self, turn: Turn) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if isinstance(turn, Text):
            message["content"] = turn.text
        else:
            message["tool_calls"] = [
                {"id": self._call_id(i), "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for i, (name, args) in enumerate(turn.calls)
            ]
        finish = "stop" if isinstance(turn, Text) else "tool_calls"
        return {**self._base(), "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": dict(USAGE)}

    async def _chunks(self, turn: Turn, body: dict[str, Any]) -> Any:
        finished = False
        try:
            async for piece in self._pieces(turn, body):
                yield piece
            finished = True
        finally:
            if not finished:
                self.streams_abandoned.append(time.monotonic())

    async def _pieces(self, turn: Turn, body: dict[str, Any]) -> Any:
        base = {**self._base(), "object": "chat.completion.chunk"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            return f"data: {json.dumps({**base, 'choices': [choice]})}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        if isinstance(turn, Garbage):
            for i in range(turn.lines):
                yield f"data: <not json {i}>\n\n"
            return
        if isinstance(turn, Stall | Cut):
            for i, word in enumerate(turn.text.split(" ")[:turn.after]):
                await asyncio.sleep(self.chunk_delay)
                yield chunk({"content": word if i == 0 else f" {word}"})
            if isinstance(turn, Cut):
                raise _CutConnection("scripted cut")
            await asyncio.sleep(turn.seconds)
            return
        if isinstance(turn, Text):
            for i, word in enumerate(turn.text.split(" ")):
                await asyncio.sleep(self.chunk_delay)
                yield chunk({"content": word if i == 0 else f" {word}"})
            finish = "stop"
        else:
            for index, (name, args) in enumerate(turn.calls):
                yield chunk({"tool_calls": [{"index": index, "id": self._call_id(index), "type": "function",
                                              "function": {"name": name, "arguments": ""}}]})
                encoded = json.dumps(args)
                for start in range(0, len(encoded), ARGUMENT_PIECE):
                    await asyncio.sleep(self.chunk_delay / 4)
                    piece = encoded[start:start + ARGUMENT_PIECE]
                    yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            finish = "tool_calls"
        yield chunk({}, finish)
        if (body.get("stream_options") or {}).get("include_usage"):
            yield f"data: {json.dumps({**base, 'choices': [], 'usage': dict(USAGE)})}\n\n"
        self.stream_finished_at.append(time.monotonic())
        yield "data: [DONE]\n\n"

    # -- life ------------------------------------------------------------------------------------------------

    @contextmanager
    def serving(self) -> Iterator[ScriptedLLM]:
        """Serve on 127.0.0.1 (a free port unless `port` is set) from a daemon thread until the block ends."""
        app = Starlette(routes=[
            Route("/v1/models", self._models),
            Route("/v1/chat/completions", self._chat, methods=["POST"]),
        ])
        self.port = self.port or free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                               lifespan="off"))
        thread = threading.Thread(target=server.run, name=f"scripted-llm-{self.port}", daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                server.should_exit = True
                raise RuntimeError(f"the scripted LLM did not start on port {self.port}")
            time.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            thread.join(10)

    def __enter__(self) -> Self:
        self._serving = self.serving()
        self._serving.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        serving, self._serving = self._serving, None
        if serving is not None:
            serving.__exit__(*exc)
