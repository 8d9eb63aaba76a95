"""The agent core's backend (agent/backend.py) playing scripted rounds as llama-stack's builtin Responses streams
them, and the agent built on it with an in-memory store, tool groups and tool runtime: no HTTP, no server."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from llama_stack_api import (
    CreateResponseRequest,
    OpenAIResponseError,
    OpenAIResponseMessage,
    OpenAIResponseObject,
    OpenAIResponseObjectStreamResponseCompleted,
    OpenAIResponseObjectStreamResponseCreated,
    OpenAIResponseObjectStreamResponseFailed,
    OpenAIResponseObjectStreamResponseInProgress,
    OpenAIResponseObjectStreamResponseOutputItemAdded,
    OpenAIResponseObjectStreamResponseOutputTextDelta,
    OpenAIResponseOutputMessageContentOutputText,
    OpenAIResponseOutputMessageFunctionToolCall,
    OpenAIResponseUsage,
    OpenAIResponseUsageInputTokensDetails,
    OpenAIResponseUsageOutputTokensDetails,
    ToolDef,
)

from llama_stack_argocd.agent.composer import ContextComposer
from llama_stack_argocd.agent.core import AgentRequest, AgentSettings, ArgoCDAgent
from llama_stack_argocd.agent.turn_events import AgentEvent
from llama_stack_argocd.agent.state import ConversationMemory
from llama_stack_argocd.agent.toolbox import Toolbox
from llama_stack_argocd.context.redaction import Redactor
from llama_stack_argocd.security.quota import QuotaKeeper, QuotaSettings

READ_TOOL = "argocd_application"
WRITE_TOOL = "argocd_sync"


@dataclass
class Round:
    """One scripted round: the text the model streams, the tool calls it ends with, how it ends.

    `fail` ends it as a failed response with that message; `raises` breaks its stream after the text with that
    exception; `hang` leaves it waiting after the text until its reader lets go."""

    text: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: str = "completed"
    fail: str | None = None
    raises: Exception | None = None
    hang: bool = False


class ScriptedBackend:
    def __init__(self, *rounds: Round | Exception) -> None:
        self.rounds = list(rounds)
        self.requests: list[CreateResponseRequest] = []
        self.histories: dict[str, list[Any]] = {}
        self.settled: list[tuple[str, str]] = []
        self.stored: list[Any] = []
        self.closed: list[str] = []  # rounds whose stream was closed before it ended
        self.was_settled = asyncio.Event()
        self._ids = itertools.count(1)

    async def create(self, request: CreateResponseRequest) -> AsyncIterator[Any]:
        self.requests.append(request)
        step = self.rounds.pop(0)
        if isinstance(step, Exception):
            raise step
        return self._stream(step, f"resp_{next(self._ids)}", request.model)

    async def history(self, response_id: str) -> list[Any]:
        return self.histories.get(response_id, [])

    async def settle(self, response_id: str, message: str) -> None:
        self.settled.append((response_id, message))
        self.was_settled.set()

    async def store(self, response: Any) -> None:
        self.stored.append(response)

    async def _stream(self, step: Round, response_id: str, model: str) -> AsyncIterator[Any]:
        def response(status: str, output: list[Any], **extra: Any) -> OpenAIResponseObject:
            return OpenAIResponseObject(id=response_id, created_at=0, model=model, output=output, status=status,
                                        store=True, **extra)

        message_id = f"msg_{response_id}"
        yield OpenAIResponseObjectStreamResponseCreated(response=response("in_progress", []), sequence_number=0)
        yield OpenAIResponseObjectStreamResponseInProgress(response=response("in_progress", []), sequence_number=1)
        output: list[Any] = []
        if step.text:
            opened = OpenAIResponseMessage(id=message_id, role="assistant", status="in_progress", content=[])
            yield OpenAIResponseObjectStreamResponseOutputItemAdded(
                response_id=response_id, item=opened, output_index=0, sequence_number=2)
            for word in step.text.split(" "):
                yield OpenAIResponseObjectStreamResponseOutputTextDelta(
                    content_index=0, delta=word + " ", item_id=message_id, logprobs=[], output_index=0,
                    sequence_number=3)
            output.append(OpenAIResponseMessage(
                id=message_id, role="assistant", status="completed",
                content=[OpenAIResponseOutputMessageContentOutputText(text=step.text)]))
        try:
            if step.hang:
                await asyncio.Event().wait()
        finally:
            if step.hang:
                self.closed.append(response_id)
        if step.raises is not None:
            raise step.raises
        for n, (name, arguments) in enumerate(step.calls):
            call = OpenAIResponseOutputMessageFunctionToolCall(
                id=f"fc_{response_id}_{n}", call_id=f"call_{response_id}_{n}", name=name,
                arguments=json.dumps(arguments), status="completed")
            yield OpenAIResponseObjectStreamResponseOutputItemAdded(
                response_id=response_id, item=call, output_index=len(output), sequence_number=4)
            output.append(call)
        usage = OpenAIResponseUsage(
            input_tokens=100, output_tokens=10, total_tokens=110,
            input_tokens_details=OpenAIResponseUsageInputTokensDetails(cached_tokens=0),
            output_tokens_details=OpenAIResponseUsageOutputTokensDetails(reasoning_tokens=0))
        if step.fail is not None:
            error = OpenAIResponseError(code="server_error", message=step.fail)
            yield OpenAIResponseObjectStreamResponseFailed(
                response=response("failed", output, error=error, usage=usage), sequence_number=5)
            return
        yield OpenAIResponseObjectStreamResponseCompleted(
            response=response(step.status, output, usage=usage), sequence_number=5)


def long_history(exchanges: int, length: int = 120) -> list[dict[str, Any]]:
    """A stored chain's items: `exchanges` questions and answers of `length` words each."""
    words = " ".join(f"word{i}" for i in range(length))
    return [item for n in range(exchanges) for item in (
        {"type": "message", "role": "user", "content": f"question {n}: {words}"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": f"answer {n}: {words}"}]},
    )]


class Store:
    """The KV store the agent's memory keeps its state in."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value


class ToolGroups:
    """llama-stack's tool groups: one group with a read tool and a write tool (one that needs approval)."""

    async def list_tools(self, request: Any) -> Any:
        return SimpleNamespace(data=[
            ToolDef(toolgroup_id=request.toolgroup_id, name=READ_TOOL, description="read an Application"),
            ToolDef(toolgroup_id=request.toolgroup_id, name=WRITE_TOOL, description="sync an Application",
                    metadata={"requires_approval": True}),
        ])


class ToolRuntime:
    """llama-stack's tool runtime: answers every call with its name and arguments, and keeps what it ran."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []

    async def invoke_tool(self, tool_name: str, kwargs: dict[str, Any]) -> Any:
        self.ran.append((tool_name, kwargs))
        return SimpleNamespace(content=json.dumps({"tool": tool_name, **kwargs}), error_message=None, error_code=0)


@dataclass
class Rig:
    agent: ArgoCDAgent
    backend: ScriptedBackend
    runtime: ToolRuntime
    store: Store

    async def turn(self, **request: Any) -> list[AgentEvent]:
        """One whole turn's events."""
        events = await self.agent.start(ask(**request))
        return [event async for event in events]


def ask(**fields: Any) -> AgentRequest:
    return AgentRequest(**{"model": "scripted", "question": "Why is guestbook degraded?", **fields})


def rig(*rounds: Round | Exception, context_window: int = 8192, **settings: Any) -> Rig:
    backend, runtime, store = ScriptedBackend(*rounds), ToolRuntime(), Store()
    agent = ArgoCDAgent(
        backend=backend,
        toolbox=Toolbox(ToolGroups(), runtime, ["argocd::context"]),
        memory=ConversationMemory(store),
        composer=ContextComposer(lambda: Redactor(), default_context_window=context_window),
        settings=AgentSettings(**settings),
        quota=QuotaKeeper(store, QuotaSettings()),  # no quota set: the store is never asked
    )
    return Rig(agent, backend, runtime, store)
