"""Request and response shapes of the llama-stack 0.2/0.3 Agents API, as the extension's client sends and reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llama_stack_argocd.agent.history import content_text


class AgentConfig(BaseModel):
    """Clients send many more fields (sampling, shields, toolgroups...); they are kept but not acted on."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    instructions: str = ""
    name: str | None = None


class CreateAgentRequest(BaseModel):
    agent_config: AgentConfig


class AgentCreated(BaseModel):
    agent_id: str


class Agent(BaseModel):
    agent_id: str
    agent_config: AgentConfig
    created_at: datetime


class CreateSessionRequest(BaseModel):
    session_name: str = Field(min_length=1, max_length=256)


class SessionCreated(BaseModel):
    session_id: str


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["user", "system", "tool", "assistant"]
    content: str | list[dict[str, Any]] | dict[str, Any]

    def text(self) -> str:
        return content_text(self.content)


class Document(BaseModel):
    model_config = ConfigDict(extra="allow")

    content: str | dict[str, Any] | list[dict[str, Any]]
    mime_type: str = "text/plain"

    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        parts = self.content if isinstance(self.content, list) else [self.content]
        return "\n".join(str(p.get("text", p.get("uri", ""))) for p in parts)


class CreateTurnRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    messages: list[Message] = Field(min_length=1)
    stream: bool = False
    documents: list[Document] = Field(default_factory=list)


class CompletionMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    stop_reason: Literal["end_of_turn", "end_of_message", "out_of_tokens"] = "end_of_turn"
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)


class Turn(BaseModel):
    turn_id: str
    session_id: str
    input_messages: list[Message]
    steps: list[dict[str, Any]]
    output_message: CompletionMessage
    output_attachments: list[dict[str, Any]] = Field(default_factory=list)
    started_at: datetime
    completed_at: datetime | None = None


class Session(BaseModel):
    session_id: str
    session_name: str
    turns: list[Turn] = Field(default_factory=list)
    started_at: datetime


class Page(BaseModel):
    data: list[dict[str, Any]]
    has_more: bool = False
