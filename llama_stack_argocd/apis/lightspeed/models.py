"""OpenShift Lightspeed (OLS) request and response shapes, validated as OLS validates them."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

AttachmentType = Literal["alert", "api object", "configuration", "error message", "event", "log", "stack trace"]
ContentType = Literal["text/plain", "application/json", "application/yaml", "application/xml"]


def _uuid(value: str | None) -> str | None:
    if value is not None:
        try:
            uuid.UUID(value)
        except ValueError as error:
            raise ValueError(f"conversation_id {value!r} is not a valid UUID") from error
    return value


class Attachment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attachment_type: AttachmentType
    content_type: ContentType
    content: str = Field(max_length=100_000)


class QueryRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=32_000)
    conversation_id: str | None = None
    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    attachments: list[Attachment] | None = Field(default=None, max_length=10)
    media_type: Literal["text/plain", "application/json"] = "text/plain"
    mcp_headers: dict[str, dict[str, str]] | None = None
    mode: Literal["ask", "troubleshooting"] = "ask"

    @field_validator("conversation_id")
    @classmethod
    def _valid_conversation_id(cls, value: str | None) -> str | None:
        return _uuid(value)

    @model_validator(mode="after")
    def _provider_needs_model(self) -> QueryRequest:
        if self.provider and not self.model:
            raise ValueError("provider is given without model; give both, or model alone")
        return self


class ToolCallSummary(BaseModel):
    id: str
    name: str
    args: dict[str, Any]
    type: Literal["tool_call"] = "tool_call"


class ToolResultSummary(BaseModel):
    id: str
    status: Literal["success", "error"]
    content: str
    type: Literal["tool_result"] = "tool_result"
    round: int


class QueryResponse(BaseModel):
    conversation_id: str
    response: str
    referenced_documents: list[dict[str, str]] = Field(default_factory=list)
    truncated: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    available_quotas: dict[str, int] = Field(default_factory=dict)
    tool_calls: list[ToolCallSummary] = Field(default_factory=list)
    tool_results: list[ToolResultSummary] = Field(default_factory=list)


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    user_question: str = Field(max_length=32_000)
    llm_response: str = Field(max_length=200_000)
    sentiment: Literal[-1, 1] | None = None
    user_feedback: str | None = Field(default=None, max_length=4_096)

    @field_validator("conversation_id")
    @classmethod
    def _valid_conversation_id(cls, value: str | None) -> str | None:
        return _uuid(value)

    @model_validator(mode="after")
    def _something_to_say(self) -> FeedbackRequest:
        if self.sentiment is None and not self.user_feedback:
            raise ValueError("give sentiment or user_feedback")
        return self


class TopicUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_summary: str = Field(min_length=1, max_length=1_000)
