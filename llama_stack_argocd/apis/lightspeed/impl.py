"""Lightspeed conversations on the Argo CD agent core.

A conversation is keyed by the client's UUID (the extension makes one up on its first turn), remembers its last
response id so the next turn continues that chain, and keeps a readable history for `GET /v1/conversations/{id}`.
It lives in the distribution's KV store (so it survives restarts) and belongs to the user who started it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from llama_stack.core.storage.kvstore import kvstore_impl

from llama_stack_argocd.agent.attachments import Attachment, classify
from llama_stack_argocd.agent.core import AgentRequest, ArgoCDAgent
from llama_stack_argocd.apis.lightspeed.config import LightspeedConfig
from llama_stack_argocd.apis.lightspeed.models import FeedbackRequest, QueryRequest, QueryResponse
from llama_stack_argocd.apis.lightspeed.render import TurnRecord, json_events, plain_text
from llama_stack_argocd.apis.records import OwnedRecords, Record
from llama_stack_argocd.bridge.credentials import token_in_mcp_headers
from llama_stack_argocd.caller import Caller


def ols_error(status: int, response: str, cause: str) -> HTTPException:
    """An error in OLS's shape: `{"detail": {"response": ..., "cause": ...}}`."""
    return HTTPException(status_code=status, detail={"response": response, "cause": cause})


@dataclass
class Answer:
    media_type: str
    body: AsyncIterator[str]


class LightspeedImpl:
    def __init__(self, config: LightspeedConfig, agent: ArgoCDAgent, models: Any) -> None:
        self.config = config
        self.agent = agent
        self.models = models

    async def initialize(self) -> None:
        self.store = await kvstore_impl(self.config.kvstore)  # feedback records
        self.conversations = OwnedRecords(self.store, "conversation", lambda conversation_id: ols_error(
            404, "Conversation not found", f"No conversation {conversation_id} for this user."))

    async def shutdown(self) -> None:
        return None

    # -- models ----------------------------------------------------------------------------------------------

    async def resolve_model(self, provider: str | None, model: str | None) -> str:
        """OLS needs provider and model together; the extension may send the model alone, which is fine when
        exactly one registered model answers to that name."""
        llms = [m for m in (await self.models.list_models()).data if str(m.model_type.value) == "llm"]
        if not model:
            chosen = self.config.default_model or (llms[0].identifier if llms else None)
            if not chosen:
                raise ols_error(503, "No model is available", "The distribution has no LLM registered.")
            return chosen
        if provider:
            matches = [m for m in llms if m.provider_id == provider and model in (m.provider_resource_id, m.identifier)]
        else:
            matches = [m for m in llms if model in (m.identifier, m.provider_resource_id)]
        if len(matches) == 1:
            return matches[0].identifier
        known = ", ".join(sorted(m.identifier for m in llms)) or "none"
        if not matches:
            where = f" of provider {provider!r}" if provider else ""
            raise ols_error(422, "Unknown model", f"No model {model!r}{where}. Known models: {known}.")
        raise ols_error(422, "Ambiguous model", f"{model!r} names several models ({known}); give provider too.")

    # -- conversations ---------------------------------------------------------------------------------------

    @staticmethod
    def _new(conversation_id: str) -> Record:
        return {
            "conversation_id": conversation_id,
            "last_response_id": None,
            "topic_summary": "",
            "created_at": time.time(),
            "last_message_timestamp": time.time(),
            "chat_history": [],
        }

    async def _conversation(self, conversation_id: str, caller: Caller, create: bool = False) -> Record:
        """The caller's conversation; with `create`, a new one (stored with its first turn) when there is none by
        that id. An id another user holds is not found either way: never continued, overwritten or revealed."""
        return await self.conversations.get(conversation_id, owner=caller.principal,
                                            missing=self._new(conversation_id) if create else None)

    async def list_conversations(self, caller: Caller) -> dict[str, Any]:
        mine = sorted(
            await self.conversations.owned_by(caller.principal),
            key=lambda r: r["last_message_timestamp"],
            reverse=True,
        )
        return {
            "conversations": [
                {
                    "conversation_id": r["conversation_id"],
                    "topic_summary": r["topic_summary"],
                    "last_message_timestamp": r["last_message_timestamp"],
                    "message_count": len(r["chat_history"]),
                }
                for r in mine
            ]
        }

    async def get_conversation(self, conversation_id: str, caller: Caller) -> dict[str, Any]:
        record = await self._conversation(conversation_id, caller)
        return {"conversation_id": conversation_id, "chat_history": record["chat_history"]}

    async def delete_conversation(self, conversation_id: str, caller: Caller) -> dict[str, Any]:
        await self.conversations.delete(conversation_id, owner=caller.principal)
        return {"conversation_id": conversation_id, "response": "Conversation deleted successfully", "success": True}

    async def update_conversation(self, conversation_id: str, topic: str, caller: Caller) -> dict[str, Any]:
        def retitle(record: Record) -> None:
            record["topic_summary"] = topic

        if await self.conversations.update(conversation_id, owner=caller.principal, change=retitle) is None:
            raise self.conversations.not_found(conversation_id)
        return {"conversation_id": conversation_id, "success": True, "message": "Topic summary updated"}

    # -- questions -------------------------------------------------------------------------------------------

    async def _start(
        self, body: QueryRequest, caller: Caller
    ) -> tuple[Record, AgentRequest, AsyncIterator[Any]]:
        model = await self.resolve_model(body.provider, body.model)
        conversation = await self._conversation(body.conversation_id or str(uuid.uuid4()), caller, create=True)
        request = AgentRequest(
            model=model,
            question=body.query,
            attachments=[
                Attachment(kind=classify(a.content, a.attachment_type), content=a.content, mime_type=a.content_type)
                for a in body.attachments or []
            ],
            instructions=body.system_prompt if self.config.client_system_prompt == "use" else None,
            previous_response_id=conversation["last_response_id"],
            caller=caller.with_argocd_token(token_in_mcp_headers(body.mcp_headers)),
            entrypoint="lightspeed",
        )
        events = await self.agent.start(request)  # redacts the request: what is saved is what the model got
        return conversation, request, events

    async def _save(self, started: Record, question: str, record: TurnRecord) -> None:
        """Append the turn to the conversation as it is now, not as it was when the turn started: a topic set or a
        deletion made while the answer streamed stands (a deleted conversation is not brought back; a new one is
        stored with its first turn)."""
        if record.error or not record.response_id:
            return
        response_id = record.response_id

        def append(conversation: Record) -> None:
            conversation["last_response_id"] = response_id
            conversation["last_message_timestamp"] = time.time()
            conversation["topic_summary"] = conversation["topic_summary"] or question[:80]
            conversation["chat_history"].append(
                {
                    "messages": [{"type": "user", "content": question},
                                 {"type": "assistant", "content": "".join(record.text)}],
                    "tool_calls": [c.model_dump() for c in record.tool_calls],
                    "tool_results": [r.model_dump() for r in record.tool_results],
                }
            )

        await self.conversations.update(started["conversation_id"], owner=started["owner"], change=append,
                                        missing=None if started["chat_history"] else started)

    async def query(self, body: QueryRequest, caller: Caller) -> QueryResponse:
        conversation, request, events = await self._start(body, caller)
        record = TurnRecord()
        async for event in events:
            record.observe(event)
        if record.error:
            raise ols_error(record.error_status, "The assistant could not answer", record.error)
        await self._save(conversation, request.question or "", record)
        return record.answer(conversation["conversation_id"], await self.quotas(caller))

    async def streaming_query(self, body: QueryRequest, caller: Caller) -> Answer:
        conversation, request, events = await self._start(body, caller)
        record = TurnRecord()
        if body.media_type == "application/json":
            rendered = json_events(events, record, conversation["conversation_id"], await self.quotas(caller))
        else:
            rendered = plain_text(events, record)

        async def body_then_save() -> AsyncIterator[str]:
            async for chunk in rendered:
                yield chunk
            await self._save(conversation, request.question or "", record)

        return Answer(media_type=body.media_type, body=body_then_save())

    async def quotas(self, caller: Caller) -> dict[str, int]:
        return await self.agent.quota.available(caller.principal)

    # -- feedback --------------------------------------------------------------------------------------------

    async def feedback(self, body: FeedbackRequest, caller: Caller) -> dict[str, str]:
        if not self.config.feedback_enabled:
            raise ols_error(403, "Feedback is disabled", "Enable feedback in the lightspeed provider's config.")
        await self._conversation(body.conversation_id, caller)
        record = {**body.model_dump(), "user": caller.principal, "timestamp": time.time()}
        await self.store.set(f"feedback:{uuid.uuid4()}", json.dumps(record))
        return {"response": "feedback received"}
