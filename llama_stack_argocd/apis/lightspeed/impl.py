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
        self.store = await kvstore_impl(self.config.kvstore)

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
    def _key(conversation_id: str) -> str:
        return f"conversation:{conversation_id}"

    @staticmethod
    def _new(conversation_id: str, caller: Caller) -> dict[str, Any]:
        return {
            "conversation_id": conversation_id,
            "owner": caller.principal,
            "last_response_id": None,
            "topic_summary": "",
            "created_at": time.time(),
            "last_message_timestamp": time.time(),
            "chat_history": [],
        }

    async def _conversation(self, conversation_id: str, caller: Caller, create: bool = False) -> dict[str, Any]:
        raw = await self.store.get(self._key(conversation_id))
        if raw is None and create:
            return self._new(conversation_id, caller)
        record = json.loads(raw) if raw else None
        if record is None or record["owner"] != caller.principal:
            raise ols_error(404, "Conversation not found", f"No conversation {conversation_id} for this user.")
        return record

    async def list_conversations(self, caller: Caller) -> dict[str, Any]:
        records = [json.loads(v) for v in await self.store.values_in_range("conversation:", "conversation:\xff")]
        mine = sorted(
            (r for r in records if r["owner"] == caller.principal),
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
        await self._conversation(conversation_id, caller)
        await self.store.delete(self._key(conversation_id))
        return {"conversation_id": conversation_id, "response": "Conversation deleted successfully", "success": True}

    async def update_conversation(self, conversation_id: str, topic: str, caller: Caller) -> dict[str, Any]:
        record = await self._conversation(conversation_id, caller)
        record["topic_summary"] = topic
        await self.store.set(self._key(conversation_id), json.dumps(record))
        return {"conversation_id": conversation_id, "success": True, "message": "Topic summary updated"}

    # -- questions -------------------------------------------------------------------------------------------

    async def _start(self, body: QueryRequest, caller: Caller) -> tuple[dict[str, Any], AsyncIterator[Any]]:
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
        return conversation, await self.agent.start(request)

    async def _save(self, started: dict[str, Any], question: str, record: TurnRecord) -> None:
        """Append the turn to the conversation as it is now, not as it was when the turn started: a topic set or a
        deletion made while the answer streamed stands (a deleted conversation is not brought back)."""
        if record.error or not record.response_id:
            return
        raw = await self.store.get(self._key(started["conversation_id"]))
        if raw is None and started["chat_history"]:
            return
        conversation = json.loads(raw) if raw else started
        if conversation["owner"] != started["owner"]:
            return
        conversation["last_response_id"] = record.response_id
        conversation["last_message_timestamp"] = time.time()
        conversation["topic_summary"] = conversation["topic_summary"] or question[:80]
        conversation["chat_history"].append(
            {
                "messages": [{"type": "user", "content": question}, {"type": "assistant", "content": "".join(record.text)}],
                "tool_calls": [c.model_dump() for c in record.tool_calls],
                "tool_results": [r.model_dump() for r in record.tool_results],
            }
        )
        await self.store.set(self._key(conversation["conversation_id"]), json.dumps(conversation))

    async def query(self, body: QueryRequest, caller: Caller) -> QueryResponse:
        conversation, events = await self._start(body, caller)
        record = TurnRecord()
        async for event in events:
            record.observe(event)
        if record.error:
            raise ols_error(502, "The assistant could not answer", record.error)
        await self._save(conversation, body.query, record)
        return record.answer(conversation["conversation_id"], await self.quotas(caller))

    async def streaming_query(self, body: QueryRequest, caller: Caller) -> Answer:
        conversation, events = await self._start(body, caller)
        record = TurnRecord()
        if body.media_type == "application/json":
            rendered = json_events(events, record, conversation["conversation_id"], await self.quotas(caller))
        else:
            rendered = plain_text(events, record)

        async def body_then_save() -> AsyncIterator[str]:
            async for chunk in rendered:
                yield chunk
            await self._save(conversation, body.query, record)

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
