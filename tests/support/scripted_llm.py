"""A scripted OpenAI-compatible model over real HTTP, for end-to-end tests.

llama-stack's `remote::openai` provider points at it (`base_url`), registering its model as `openai/<model>`.
Each chat request takes the next scripted turn:

    Text("...")                                      text, streamed word by word, `chunk_delay` apart
    Text("...", finish="length")                     the same, ended as cut by the output-token limit
    ToolCalls([("argocd_container_logs", {...})])    tool calls, streamed as `tool_calls` deltas: id and name
                                                     first, then the JSON arguments in pieces
    Error(503, "overloaded")                         an HTTP error with an OpenAI-style error body
    Hang()                                           accepts the request and never answers (no headers)
    Stall("some words", after=2)                     streams `after` words, then goes silent for good
    Cut("some words", after=2)                       streams `after` words, then drops the connection
    Garbage()                                        a 200 stream of lines that are not JSON
    a callable (request_json) -> one of the above    rules, e.g. "after a tool result, quote it"

With the script empty it answers from the last tool result, or echoes the question. Every request is recorded
(`requests`: {"body", "headers", "received_at", "closed_at"}), so tests can check what reached the model and what
must not have; `stream_finished_at` holds when each stream sent its last chunk (time.monotonic()). `closed_at` is
when the client closed the request's TCP connection before the answer was complete (None while it has not): seen
by the HTTP server itself, so it holds for a hung request that never sent headers as for a stream cut short.
Like a real serving engine, a request whose client went away stops generating (a `Hang` or `Stall` ends then).

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
from uvicorn.protocols.http.h11_impl import H11Protocol
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

USAGE = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
ARGUMENT_PIECE = 7  # characters of tool-call arguments per chunk


@dataclass
class Text:
    text: str
    finish: str = "stop"  # "length": the answer ran into the output-token limit


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
    models_listed: int = 0  # GET /v1/models calls (a server listing the model's models)
    port: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _serving: Any = field(default=None, repr=False)
    _connections: dict[int, asyncio.Event] = field(default_factory=dict, repr=False)  # client port -> closed

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

    def wait_for_close(self, index: int = -1, timeout: float = 15) -> float:
        """When the client closed the connection of request `index` before its answer was complete."""
        deadline = time.monotonic() + timeout
        while True:
            closed = self.requests[index]["closed_at"] if self.requests else None
            if closed is not None:
                return float(closed)
            if time.monotonic() > deadline:
                raise TimeoutError(f"the connection of request {index} is still open after {timeout} s")
            time.sleep(0.02)

    def open_requests(self) -> list[dict[str, Any]]:
        """Requests whose answer is neither complete nor abandoned by the client: model calls still running."""
        return [r for r in list(self.requests) if r["closed_at"] is None and r["answered_at"] is None]

    def _connection_lost(self, client: tuple[str, int] | None) -> None:
        """The HTTP server saw a client's TCP connection end: every unanswered request on it was abandoned."""
        port = client[1] if client else None
        now = time.monotonic()
        with self._lock:
            for record in self.requests:
                if record["client_port"] == port and record["answered_at"] is None and record["closed_at"] is None:
                    record["closed_at"] = now
        closed = self._connections.pop(port, None) if port is not None else None
        if closed is not None:
            closed.set()

    def _closed(self, request: Request) -> asyncio.Event:
        port = request.client.port if request.client else 0
        return self._connections.setdefault(port, asyncio.Event())

    def _next(self, request: dict[str, Any]) -> Turn:
        with self._lock:
            item = self.script.pop(0) if self.script else default_turn
        return item(request) if callable(item) else item

    # -- HTTP ------------------------------------------------------------------------------------------------

    async def _models(self, _: Request) -> JSONResponse:
        self.models_listed += 1
        return JSONResponse({"object": "list", "data": [
            {"id": self.model, "object": "model", "created": 0, "owned_by": "tests"}]})

    async def _chat(self, request: Request) -> Any:
        body = await request.json()
        record = {"body": body, "headers": dict(request.headers), "received_at": time.monotonic(),
                  "client_port": request.client.port if request.client else None,
                  "closed_at": None, "answered_at": None}
        with self._lock:
            self.requests.append(record)
        closed = self._closed(request)
        turn = self._next(body)
        if isinstance(turn, Hang):
            try:  # no headers, ever: until the client gives up
                await asyncio.wait_for(closed.wait(), turn.seconds)
            except TimeoutError:
                pass
            self.streams_abandoned.append(time.monotonic())
            return JSONResponse({"error": {"message": "hung"}}, status_code=504)
        if isinstance(turn, Error):
            record["answered_at"] = time.monotonic()
            return JSONResponse({"error": {"message": turn.message, "type": "scripted_error", "code": turn.status}},
                                status_code=turn.status)
        if not body.get("stream"):
            record["answered_at"] = time.monotonic()
            return JSONResponse(self._completion(turn))
        return StreamingResponse(self._chunks(turn, body, record, closed), media_type="text/event-stream")

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
        finish = turn.finish if isinstance(turn, Text) else "tool_calls"
        return {**self._base(), "object": "chat.completion",
                "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
                "usage": dict(USAGE)}

    async def _chunks(self, turn: Turn, body: dict[str, Any], record: dict[str, Any], closed: asyncio.Event) -> Any:
        finished = False
        try:
            async for piece in self._pieces(turn, body, closed):
                yield piece
            finished = True
            record["answered_at"] = time.monotonic()
        except _CutConnection:
            record["answered_at"] = time.monotonic()  # the stand-in ended it: not a client that went away
            raise
        finally:
            if not finished:
                self.streams_abandoned.append(time.monotonic())

    async def _pieces(self, turn: Turn, body: dict[str, Any], closed: asyncio.Event) -> Any:
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
            try:
                await asyncio.wait_for(closed.wait(), turn.seconds)
            except TimeoutError:
                pass
            return
        if isinstance(turn, Text):
            for i, word in enumerate(turn.text.split(" ")):
                await asyncio.sleep(self.chunk_delay)
                yield chunk({"content": word if i == 0 else f" {word}"})
            finish = turn.finish
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
        llm = self

        class Protocol(H11Protocol):
            """uvicorn's h11 protocol, telling the stand-in when a client's connection ends."""

            def connection_lost(self, exc: Exception | None) -> None:
                llm._connection_lost(self.client)
                super().connection_lost(exc)

        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                               lifespan="off", http=Protocol))
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


def module_fixture(**options: Any) -> Any:
    """A module-scoped pytest fixture serving `ScriptedLLM(**options)`, named by the attribute it is assigned to
    (`llm = module_fixture(chunk_delay=0.05)`): one way for every test module to have its scripted model."""
    import pytest

    @pytest.fixture(scope="module")
    def scripted_model() -> Iterator[ScriptedLLM]:
        with ScriptedLLM(**options).serving() as server:
            yield server

    return scripted_model
